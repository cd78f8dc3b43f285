/**
 * The one log line of a request that failed: refused (warn), or failed on the service's side
 * (error): its code, status, method, path, the certificate's thumbprint when one was read, the
 * proxy's or the CRL's reason when there is one, and the W3C trace id. Never the query string
 * (it may carry secrets), a header's value, certificate bytes or anything the client sent beyond
 * the method, the path and a short reason. Web APIs only.
 * @module
 */
import type { CertgateError } from '../index.ts'
import type { Logger, LogFields } from './log.ts'
import { traceId } from './trace-context.ts'

const MAX_PATH_CHARS = 256
const MAX_REASON_CHARS = 200

// The codes whose cause is a short reason an operator needs (the proxy's FAILED:<reason>, why a
// CRL was unusable, which certificate was revoked); other causes are internals that may quote
// what the client sent.
const REASON_CODES: ReadonlySet<string> = new Set([
  'ERR_PROXY_VERIFY_FAILED',
  'ERR_CRL_INVALID',
  'ERR_CERT_REVOKED',
])
const PROXY_VERDICT_PREFIX = 'proxy verdict: '

/** What every request line carries about the request: method, path, trace id. */
export function requestFields(request: Request): LogFields {
  let path: string
  try {
    path = new URL(request.url).pathname
  } catch {
    path = '(unparsable)'
  }
  return {
    method: request.method,
    path: clip(path, MAX_PATH_CHARS),
    trace_id: traceId(request.headers) ?? undefined,
  }
}

/** The refusal's reason, for the codes that have one worth logging; cleaned and capped. */
export function refusalReason(error: CertgateError): string | undefined {
  if (!REASON_CODES.has(error.code)) return undefined
  const cause = error.cause
  const text = cause instanceof Error ? cause.message : error.code === 'ERR_CERT_REVOKED' ? error.message : null
  if (text === null) return undefined
  const reason = text.startsWith(PROXY_VERDICT_PREFIX) ? text.slice(PROXY_VERDICT_PREFIX.length) : text
  // Printable ASCII only: the proxy's reason is a header's text, and a control character or a
  // stray byte is not worth a column.
  return clip(reason.replace(/[^\x20-\x7E]+/g, ' ').trim(), MAX_REASON_CHARS)
}

/**
 * Logs the one line of a refused request: warn for a refusal (4xx), error when the refusal is
 * the service's own fault (an `ERR_AUTHORIZE_FAILED` 500).
 */
export function logRefusal(
  log: Logger,
  error: CertgateError,
  request: Request,
  thumbprint: string | null
): void {
  const fields: LogFields = {
    code: error.code,
    status: error.status,
    ...requestFields(request),
    thumbprint: thumbprint ?? undefined,
    reason: refusalReason(error),
  }
  if (error.status >= 500) log.error('request failed', fields)
  else log.warn('request refused', fields)
}

/**
 * Logs the one line of a request that failed after it was admitted: an outbound call (502/504:
 * the upstream status when it answered; never the URL, which may carry credentials), or a route
 * that does not exist (404, at info: a client's mistake, not the service's).
 */
export function logFailure(log: Logger, error: CertgateError, request: Request): void {
  const fields: LogFields = { code: error.code, status: error.status, ...requestFields(request) }
  const upstream = error.extensions.upstreamStatus
  if (typeof upstream === 'number') fields.upstream_status = upstream
  if (error.status < 500) log.info('no route', fields)
  else log.error('upstream call failed', fields)
}

/** Logs a request that failed on an error nobody expected (500), with the error for the operator. */
export function logUnexpected(log: Logger, error: unknown, request: Request): void {
  log.error('unexpected error', {
    code: 'ERR_INTERNAL',
    status: 500,
    ...requestFields(request),
    error: error instanceof Error ? error : String(error),
  })
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}
