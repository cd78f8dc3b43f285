/**
 * The Express and Fastify adapters' shared half: verifies a Node `IncomingMessage` with a compiled
 * verifier, reading its headers without building a Web `Request` unless an observer hook needs one
 * for its event (`authorize` gets the framework's own request), and turns a refusal into the
 * problem document both frameworks send.
 * @module
 */
import { CertgateError, type ProblemDetails } from '../errors.ts'
import { type AdapterOptions, createAdapterVerifier, type VerifyResult } from '../verify.ts'
import { reportServerFault } from './refusal.ts'

/** What the adapters read of Node's `IncomingMessage` (structural: no `node:` import here). */
export interface IncomingRequest {
  /** Names and values in arrival order, repeated headers kept apart. */
  rawHeaders: string[]
  url?: string | undefined
  /** Express's own: the URL before a mount path (`app.use('/api', …)`) was cut from `url`. */
  originalUrl?: string | undefined
  method?: string | undefined
  socket: { remoteAddress?: string | undefined; encrypted?: boolean }
}

/**
 * Verifies one Node request; never throws, never rejects. `handle` is what `authorize` and the
 * hooks get as second argument: the framework's own request (Express's req, Fastify's request).
 */
export type IncomingVerifier<H> = (req: IncomingRequest, handle: H) => Promise<VerifyResult>

/** Compiles the options once (a TypeError for bad ones, at startup) into a Node-request verifier. */
export function createIncomingVerifier<H>(options: AdapterOptions<H>): IncomingVerifier<H> {
  const verify = createAdapterVerifier<H>(options)
  // Building a Request costs more than the cached verification itself: only an observer hook's
  // event carries one; authorize reads the framework's own request.
  const needsRequest = options.onVerified !== undefined || options.onRefused !== undefined
  return function verifyIncoming(req, handle) {
    let headers: Headers
    try {
      headers = headersOf(req.rawHeaders)
    } catch (error) {
      const malformed = new CertgateError('ERR_HEADER_MALFORMED', 'A request header could not be read.', { cause: error })
      return Promise.resolve({ ok: false, error: malformed })
    }
    const request = needsRequest ? webRequest(req, headers) : headersOnly(headers)
    // The request itself is the connection handle: peerCertificateSource() reads its TLS socket.
    return verify(request, { remoteAddress: req.socket.remoteAddress, connection: req }, handle)
  }
}

/** The problem document and status for a refusal; a server fault (5xx) is logged as well. */
export function refusalBody(error: CertgateError): { status: number; problem: ProblemDetails } {
  reportServerFault(error)
  return { status: error.status, problem: error.toProblem() }
}

/** The headers the problem response carries, as `problemResponse` sets them. */
export const PROBLEM_HEADERS = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' } as const

function headersOf(raw: readonly string[]): Headers {
  const headers = new Headers()
  // rawHeaders keeps a repeated header as separate entries, so the sources see the same
  // combined value a fetch Request would give them.
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!)
  return headers
}

/** The Request a hook's event carries: method, URL and headers, without the body. */
function webRequest(req: IncomingRequest, headers: Headers): Request {
  const scheme = req.socket.encrypted === true ? 'https' : 'http'
  const target = req.originalUrl ?? req.url ?? '/'
  let url: URL
  try {
    url = new URL(target, `${scheme}://${headers.get('host') ?? 'localhost'}`)
  } catch {
    // A Host header or target no URL can hold still must not crash the request.
    url = new URL(`${scheme}://localhost/`)
  }
  try {
    return new Request(url, { method: req.method ?? 'GET', headers })
  } catch {
    // CONNECT, TRACE and TRACK are methods a Request refuses to carry.
    return new Request(url, { headers })
  }
}

/**
 * Without an observer hook the verifier reads nothing of the request but its headers, so it
 * gets only those: a Request costs about twice the cached verification (see the README).
 */
function headersOnly(headers: Headers): Request {
  return { headers } as unknown as Request
}
