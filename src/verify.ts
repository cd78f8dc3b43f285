/**
 * The pipeline for one request: read the forwarded header, pick the element the nearest proxy
 * wrote, decode its certificate, and run the checks. Options are compiled once by
 * {@link createClientCertVerifier}; a request never re-reads them.
 * @module
 */
import { type ClientCertificate, readClientCertificate } from './certificate.ts'
import { CertgateError, isCertgateError } from './errors.ts'
import { decodeCertificates } from './pem.ts'
import {
  type AllowList,
  type CompiledAllowList,
  checkForwardedHash,
  checkValidity,
  compileAllowList,
  matchAllowList,
} from './policy.ts'
import { parseXfcc, type XfccElement } from './xfcc.ts'

/** ACA's `clientCertificateMode` values that reach the app. */
export type ClientCertMode = 'require' | 'accept'

/** Which XFCC element carries the certificate to check. */
export type XfccElementChoice = 'rightmost' | 'leftmost' | { fromRight: number }

/** Options shared by every way in (`verifyClientCert`, `withClientCert`, `clientCert`). */
export interface ClientCertOptions {
  /**
   * Who may in: lists of which any may match, or `'any-valid'` to admit every certificate that
   * passes the checks. Required unless `authorize` is given.
   */
  allow?: AllowList | 'any-valid'
  /** Your own decision, after the checks and the allowlist; return false to refuse. */
  authorize?: (cert: ClientCertificate, request: Request) => boolean | Promise<boolean>
  /** `require` (default) refuses a request without a certificate; `accept` lets it through with none. */
  mode?: ClientCertMode
  /** The header the proxy writes. Default `x-forwarded-client-cert`. */
  header?: string
  /**
   * Which element to read. Default `'rightmost'`: the one the nearest proxy appended. Anything
   * to its left may have been sent by the client itself.
   */
  element?: XfccElementChoice
  /** Refuse a longer header value with ERR_HEADER_TOO_LARGE. Default 16384. */
  maxHeaderBytes?: number
  /** Refuse a `Chain` with more certificates with ERR_CHAIN_TOO_LONG. Default 8. */
  maxChainLength?: number
  /** Slack for clock skew when checking validity, in seconds. Default 0. */
  clockToleranceSeconds?: number
  /** The clock, in ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** What verification found: a certificate (or none, in `accept` mode), or a refusal. */
export type VerifyResult =
  | { ok: true; certificate: ClientCertificate | null }
  | { ok: false; error: CertgateError }

/** A compiled verifier: one request in, one result out. Never throws, never rejects. */
export type ClientCertVerifier = (request: Request) => Promise<VerifyResult>

interface CompiledOptions {
  readonly allow: CompiledAllowList | 'any-valid' | null
  readonly authorize: NonNullable<ClientCertOptions['authorize']> | null
  readonly mode: ClientCertMode
  readonly header: string
  readonly element: XfccElementChoice
  readonly maxHeaderBytes: number
  readonly maxChainLength: number
  readonly toleranceMs: number
  readonly now: () => number
}

/**
 * Compiles options into a verifier. Bad options throw a TypeError here, at startup, never
 * per request.
 * @example
 * const verify = createClientCertVerifier({ allow: { commonNames: ['api-client.contoso.com'] } })
 * const result = await verify(request)
 * if (!result.ok) return problemResponse(result.error)
 */
export function createClientCertVerifier(options: ClientCertOptions): ClientCertVerifier {
  const compiled = compileOptions(options)
  return async function verifyRequest(request: Request): Promise<VerifyResult> {
    try {
      return { ok: true, certificate: await verifyOrThrow(request, compiled) }
    } catch (error) {
      if (isCertgateError(error)) return { ok: false, error }
      // Whatever else went wrong (a bug, a hook that threw), the request is refused, not crashed.
      return {
        ok: false,
        error: new CertgateError('ERR_CERT_NOT_ALLOWED', 'The client certificate was refused.', {
          cause: error,
        }),
      }
    }
  }
}

const verifiers = new WeakMap<ClientCertOptions, ClientCertVerifier>()

/**
 * Verifies one request. Options are compiled on first use and remembered per options object,
 * so pass the same object each time.
 */
export function verifyClientCert(request: Request, options: ClientCertOptions): Promise<VerifyResult> {
  let verify = verifiers.get(options)
  if (verify === undefined) {
    verify = createClientCertVerifier(options)
    verifiers.set(options, verify)
  }
  return verify(request)
}

function compileOptions(options: ClientCertOptions): CompiledOptions {
  const {
    allow,
    authorize,
    mode = 'require',
    header = 'x-forwarded-client-cert',
    element = 'rightmost',
    maxHeaderBytes = 16384,
    maxChainLength = 8,
    clockToleranceSeconds = 0,
    now = Date.now,
  } = options
  if (mode !== 'require' && mode !== 'accept') {
    throw new TypeError(`certgate: mode must be 'require' or 'accept', not ${JSON.stringify(mode)}`)
  }
  if (allow !== undefined && allow !== 'any-valid' && (typeof allow !== 'object' || allow === null)) {
    throw new TypeError("certgate: allow must be an allowlist object or 'any-valid'")
  }
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new TypeError('certgate: authorize must be a function')
  }
  const compiledAllow = allow === undefined || allow === 'any-valid' ? (allow ?? null) : compileAllowList(allow)
  if (compiledAllow === null || (compiledAllow !== 'any-valid' && compiledAllow.size === 0)) {
    if (authorize === undefined) {
      throw new TypeError(
        "certgate: no allowlist entries and no authorize hook would admit nobody; to admit every valid certificate, say allow: 'any-valid'"
      )
    }
  }
  assertPositiveInteger('maxHeaderBytes', maxHeaderBytes)
  assertPositiveInteger('maxChainLength', maxChainLength)
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0) {
    throw new TypeError('certgate: clockToleranceSeconds must be a non-negative number')
  }
  if (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) {
    throw new TypeError('certgate: header must be an HTTP header name')
  }
  if (
    typeof element === 'object' &&
    (element === null || !Number.isInteger(element.fromRight) || element.fromRight < 0)
  ) {
    throw new TypeError('certgate: element.fromRight must be a non-negative integer')
  }
  if (typeof element === 'string' && element !== 'rightmost' && element !== 'leftmost') {
    throw new TypeError("certgate: element must be 'rightmost', 'leftmost' or { fromRight: n }")
  }
  return {
    allow: compiledAllow,
    authorize: authorize ?? null,
    mode,
    header,
    element,
    maxHeaderBytes,
    maxChainLength,
    toleranceMs: clockToleranceSeconds * 1000,
    now,
  }
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`certgate: ${name} must be a positive integer`)
  }
}

async function verifyOrThrow(request: Request, options: CompiledOptions): Promise<ClientCertificate | null> {
  const value = request.headers.get(options.header)
  if (value === null || value.trim() === '') {
    if (options.mode === 'accept') return null
    throw new CertgateError('ERR_CERT_MISSING', 'A client certificate is required.')
  }
  // Header values are byte strings, so length is the size in bytes.
  if (value.length > options.maxHeaderBytes) {
    throw new CertgateError('ERR_HEADER_TOO_LARGE', 'The forwarded client certificate header is too large.')
  }
  const element = pickElement(parseXfcc(value), options.element)
  const leafText = element.cert ?? element.chain
  if (leafText === undefined) {
    // Envoy forwards a Hash alone unless told to forward the Cert: there was a certificate,
    // but nothing here can check it, so even `accept` mode refuses.
    throw new CertgateError(
      'ERR_CERT_MISSING',
      'The forwarded client certificate header carries no certificate (configure the proxy to forward Cert).'
    )
  }
  const [leafDer] = decodeCertificates(leafText, { maxCertificates: options.maxChainLength })
  if (element.cert !== undefined && element.chain !== undefined) {
    decodeCertificates(element.chain, { maxCertificates: options.maxChainLength })
  }
  const cert = await readClientCertificate(leafDer!)
  checkForwardedHash(cert, element.hash)
  checkValidity(cert, options.now(), options.toleranceMs)
  await checkAdmission(cert, request, options)
  return cert
}

function pickElement(elements: XfccElement[], choice: XfccElementChoice): XfccElement {
  const index =
    choice === 'rightmost' ? elements.length - 1 : choice === 'leftmost' ? 0 : elements.length - 1 - choice.fromRight
  const element = elements[index]
  if (element === undefined) {
    throw new CertgateError('ERR_XFCC_MALFORMED', 'The XFCC header has fewer elements than configured.')
  }
  return element
}

async function checkAdmission(cert: ClientCertificate, request: Request, options: CompiledOptions): Promise<void> {
  const { allow, authorize } = options
  if (allow !== null && allow !== 'any-valid' && allow.size > 0 && matchAllowList(allow, cert) === null) {
    throw new CertgateError('ERR_CERT_NOT_ALLOWED', 'The client certificate is not allowed.')
  }
  if (authorize !== null && (await authorize(cert, request)) !== true) {
    throw new CertgateError('ERR_CERT_NOT_ALLOWED', 'The client certificate is not allowed.')
  }
}
