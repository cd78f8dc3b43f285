/**
 * Errors as values: one class, a stable `code` per failure, and the one place that turns an
 * error into an RFC 9457 `application/problem+json` response.
 * @module
 */

/** Every failure certgate reports, by stable code. Switch on these, not on messages. */
export type CertgateErrorCode =
  | 'ERR_CERT_MISSING'
  | 'ERR_HEADER_MALFORMED'
  | 'ERR_HEADER_INCONSISTENT'
  | 'ERR_XFCC_UNSUPPORTED_FORMAT'
  | 'ERR_HEADER_TOO_LARGE'
  | 'ERR_CERT_MALFORMED'
  | 'ERR_CHAIN_TOO_LONG'
  | 'ERR_CERT_HASH_MISMATCH'
  | 'ERR_CERT_EXPIRED'
  | 'ERR_CERT_NOT_YET_VALID'
  | 'ERR_CERT_NOT_ALLOWED'
  | 'ERR_AUTHORIZE_FAILED'
  | 'ERR_PROXY_UNTRUSTED'
  | 'ERR_PROXY_VERIFY_FAILED'
  | 'ERR_CERT_UNTRUSTED'
  | 'ERR_CERT_USAGE'
  | 'ERR_CHAIN_INVALID'
  | 'ERR_CERT_KEY_REFUSED'
  | 'ERR_CHAIN_BUDGET'
  | 'ERR_NAME_CONSTRAINTS'
  | 'ERR_CERT_REVOKED'
  | 'ERR_CRL_INVALID'
  | 'ERR_UPSTREAM_UNREACHABLE'
  | 'ERR_UPSTREAM_TIMEOUT'
  | 'ERR_UPSTREAM_STATUS'
  | 'ERR_UPSTREAM_BODY'
  | 'ERR_NOT_FOUND'
  | 'ERR_INTERNAL'

interface CodeInfo {
  readonly status: number
  readonly title: string
}

const CODES: Readonly<Record<CertgateErrorCode, CodeInfo>> = {
  ERR_CERT_MISSING: { status: 403, title: 'Client certificate required' },
  ERR_HEADER_MALFORMED: { status: 403, title: 'Malformed forwarded client certificate header' },
  ERR_HEADER_INCONSISTENT: { status: 403, title: 'Forwarded client certificate header disagrees with its certificates' },
  ERR_XFCC_UNSUPPORTED_FORMAT: { status: 403, title: 'Unsupported forwarded client certificate header format' },
  ERR_HEADER_TOO_LARGE: { status: 403, title: 'Forwarded client certificate header too large' },
  ERR_CERT_MALFORMED: { status: 403, title: 'Malformed client certificate' },
  ERR_CHAIN_TOO_LONG: { status: 403, title: 'Client certificate chain too long' },
  ERR_CERT_HASH_MISMATCH: { status: 403, title: 'Client certificate does not match its forwarded hash' },
  ERR_CERT_EXPIRED: { status: 403, title: 'Client certificate expired' },
  ERR_CERT_NOT_YET_VALID: { status: 403, title: 'Client certificate not yet valid' },
  ERR_CERT_NOT_ALLOWED: { status: 403, title: 'Client certificate not allowed' },
  // The operator's own hook failed: a server fault (5xx, which monitoring counts), not a refusal.
  ERR_AUTHORIZE_FAILED: { status: 500, title: 'Authorization hook failed' },
  ERR_PROXY_UNTRUSTED: { status: 403, title: 'Request did not come through a trusted proxy' },
  ERR_PROXY_VERIFY_FAILED: { status: 403, title: 'Proxy reports client certificate verification failed' },
  ERR_CERT_UNTRUSTED: { status: 403, title: 'Client certificate not trusted' },
  ERR_CERT_USAGE: { status: 403, title: 'Client certificate not meant for client authentication' },
  ERR_CHAIN_INVALID: { status: 403, title: 'Client certificate chain invalid' },
  ERR_CERT_KEY_REFUSED: { status: 403, title: 'Certificate key refused' },
  ERR_CHAIN_BUDGET: { status: 403, title: 'Client certificate chain too costly to validate' },
  ERR_NAME_CONSTRAINTS: { status: 403, title: "Client certificate outside its CA's name constraints" },
  ERR_CERT_REVOKED: { status: 403, title: 'Client certificate revoked' },
  ERR_CRL_INVALID: { status: 403, title: 'Certificate revocation status unavailable' },
  ERR_UPSTREAM_UNREACHABLE: { status: 502, title: 'Upstream unreachable' },
  ERR_UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream timed out' },
  ERR_UPSTREAM_STATUS: { status: 502, title: 'Upstream answered with an error status' },
  ERR_UPSTREAM_BODY: { status: 502, title: 'Upstream answered with an unusable body' },
  ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_INTERNAL: { status: 500, title: 'Internal error' },
}

/** The RFC 9457 problem document certgate answers with. */
export interface ProblemDetails {
  type: string
  title: string
  status: number
  detail: string
  code: CertgateErrorCode
  [extension: string]: unknown
}

/**
 * The one error class. `message` is safe to show to the client: it never carries header values,
 * certificate bytes or stack traces. Internals go in `cause`, which is never serialised.
 */
export class CertgateError extends Error {
  readonly code: CertgateErrorCode
  readonly status: number
  /** Extra problem members (e.g. the upstream status); must be safe to show to the client. */
  readonly extensions: Readonly<Record<string, unknown>>

  constructor(
    code: CertgateErrorCode,
    message: string,
    options: { cause?: unknown; extensions?: Record<string, unknown> } = {}
  ) {
    // A string cause (a short internal reason) becomes an Error, so `cause` is always one.
    const cause = typeof options.cause === 'string' ? new Error(options.cause) : options.cause
    super(message, cause === undefined ? {} : { cause })
    this.name = 'CertgateError'
    this.code = code
    this.status = CODES[code].status
    this.extensions = options.extensions ?? {}
  }

  /** The problem document for this error. */
  toProblem(): ProblemDetails {
    return {
      ...this.extensions,
      type: problemType(this.code),
      title: CODES[this.code].title,
      status: this.status,
      detail: this.message,
      code: this.code,
    }
  }
}

/**
 * The error for input that breaks its format (a header, a certificate, a CRL). `message` is what
 * the client sees; `reason` is the internal detail, kept as an Error in `cause`, never shown.
 */
export function malformed(code: CertgateErrorCode, message: string, reason?: string): CertgateError {
  return new CertgateError(code, message, { cause: reason })
}

/** True for a CertgateError, also across realms and duplicate installs of the package. */
export function isCertgateError(value: unknown): value is CertgateError {
  return (
    value instanceof CertgateError ||
    (value instanceof Error && value.name === 'CertgateError' && typeof (value as { code?: unknown }).code === 'string')
  )
}

/** A stable URI per code, so clients can dispatch on `type` as RFC 9457 intends. */
export function problemType(code: CertgateErrorCode): string {
  return `urn:certgate:error:${code}`
}

/** The `application/problem+json` response for an error. */
export function problemResponse(error: CertgateError): Response {
  return new Response(JSON.stringify(error.toProblem()), {
    status: error.status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
  })
}
