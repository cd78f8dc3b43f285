/**
 * What a certificate source is, and the reading steps every source shares: a header value held
 * to the size limit, the chain-length and size refusals, a leaf-only decode, a forwarded SHA-256.
 * @module
 */
import { decodePercent, toHex } from '../bytes.ts'
import { CertgateError, malformed } from '../errors.ts'
import { decodeBase64, decodeCertificates } from '../x509/pem.ts'

/** What a proxy forwarded about the client certificate. */
export interface ForwardedCertificate {
  /** The client's certificate, DER. */
  leaf: Uint8Array
  /** DER, the extra certificates forwarded, in the order forwarded; may repeat the leaf. */
  chain: Uint8Array[]
  /** A forwarded SHA-256 of the leaf, uppercase hex, for the verifier to check against the DER. */
  hash?: string
  /**
   * True when nothing vouched for the certificate on its way in (a TLS server that did not verify
   * it against its CAs): only the verifier's own `trust` may then admit it, else ERR_CERT_UNTRUSTED.
   */
  requiresTrust?: boolean
}

/** Per-verifier bounds every source enforces on what it reads. */
export interface SourceLimits {
  /** A longer header value is refused with ERR_HEADER_TOO_LARGE. */
  maxHeaderBytes: number
  /** A forwarded chain with more certificates is refused with ERR_CHAIN_TOO_LONG. */
  maxChainLength: number
}

/**
 * One read of a request: `key` is the exact text that determines `decode()`'s result (used as a
 * memo key), null when no certificate was presented.
 */
export interface SourceRead {
  key: string
  decode(): ForwardedCertificate
}

/**
 * A way the client certificate reaches the app. It does two things, split so the verifier can
 * memoise the costly half: `read()` is header lookups only and returns the `key`; `decode()`
 * parses and base64-decodes.
 */
export interface CertificateSource {
  readonly name: string
  /**
   * Sync and cheap (header lookups only). Returns null for "no certificate presented"; throws
   * CertgateError for a proxy verdict of failure or an oversized header. `connection` is the
   * adapter's opaque handle on the connection (see `VerifyContext.connection`), for a source that
   * reads the TLS session rather than headers; header sources ignore it.
   */
  read(headers: Headers, limits: SourceLimits, connection?: unknown): SourceRead | null
}

export function tooLarge(): CertgateError {
  return new CertgateError(
    'ERR_HEADER_TOO_LARGE',
    'The forwarded client certificate header is too large.'
  )
}

export function chainTooLong(limits: SourceLimits): CertgateError {
  return new CertgateError(
    'ERR_CHAIN_TOO_LONG',
    `The forwarded chain holds more than ${limits.maxChainLength} certificates.`
  )
}

/**
 * A header value, size-checked; null when absent or blank (a proxy with nothing to say may
 * still send the header empty). Header values are byte strings, so length is bytes.
 */
export function readHeader(headers: Headers, name: string, limits: SourceLimits): string | null {
  const value = headers.get(name)
  if (value === null) return null
  if (value.length > limits.maxHeaderBytes) throw tooLarge()
  // Headers already strips HTTP whitespace (space, tab); JS trim() would also eat NBSP (0xA0).
  return value === '' ? null : value
}

/** A source reading one header, whose whole value is the memo key. */
export function singleHeaderSource(
  name: string,
  header: string,
  decode: (value: string, limits: SourceLimits) => ForwardedCertificate
): CertificateSource {
  return {
    name,
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      const value = readHeader(headers, header, limits)
      return value === null ? null : new HeaderRead(value, limits, decode)
    },
  }
}

/**
 * One read of one header: a class, so that a request read from the cache allocates one object
 * (an object literal with a `decode` closure is three: the object, the closure and its scope).
 */
class HeaderRead implements SourceRead {
  readonly key: string
  readonly #limits: SourceLimits
  readonly #decode: (value: string, limits: SourceLimits) => ForwardedCertificate

  constructor(key: string, limits: SourceLimits, decode: (value: string, limits: SourceLimits) => ForwardedCertificate) {
    this.key = key
    this.#limits = limits
    this.#decode = decode
  }

  decode(): ForwardedCertificate {
    return this.#decode(this.key, this.#limits)
  }
}

/** A URL-encoded header value; a bad escape is ERR_HEADER_MALFORMED naming the header. */
export function decodeHeaderPercent(value: string, header: string): string {
  const text = decodePercent(value)
  if (text === null) throw malformed('ERR_HEADER_MALFORMED', `Invalid percent-encoding in the ${header} header.`)
  return text
}

/** Exactly one certificate: proxies that forward the leaf alone never send more. */
export function decodeLeafOnly(text: string, limits: SourceLimits): Uint8Array {
  const blocks = decodeCertificates(text, { maxCertificates: limits.maxChainLength })
  if (blocks.length !== 1) {
    throw new CertgateError(
      'ERR_CERT_MALFORMED',
      'The forwarded client certificate header carries more than one certificate.'
    )
  }
  return blocks[0]!
}

/** `ab:CD…` → `ABCD…`; with `base64`, also the 44-character base64 of 32 bytes. */
export function normaliseSha256(text: string, what: string, base64: boolean): string {
  // Envoy's form, 64 hex digits and nothing else, without the trim, replace and regex below.
  if (text.length === 64 && isHex(text)) return text.toUpperCase()
  const hex = text.trim().replace(/:/g, '').toUpperCase()
  if (/^[0-9A-F]{64}$/.test(hex)) return hex
  if (base64 && /^[A-Za-z0-9+/]{43}=?$/.test(text.trim())) {
    const bytes = decodeBase64(text.trim())
    if (bytes.length === 32) return toHex(bytes)
  }
  throw malformed('ERR_HEADER_MALFORMED', `The ${what} is not a SHA-256 hex digest.`)
}

function isHex(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // `| 0x20` folds A-F onto a-f and nothing else onto them; digits are compared as they are.
    const letter = c | 0x20
    if (!((c >= 0x30 && c <= 0x39) || (letter >= 0x61 && letter <= 0x66))) return false
  }
  return true
}
