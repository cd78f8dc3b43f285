/**
 * The base layer's bytes and text helpers the other modules share: hex text, joining chunks,
 * percent-decoding, and the check of a configured HTTP header name.
 * @module
 */

const HEX_UPPER: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, '0').toUpperCase()
)
const HEX_LOWER: readonly string[] = HEX_UPPER.map((h) => h.toLowerCase())

/** Uppercase hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  let text = ''
  for (let i = 0; i < bytes.length; i++) text += HEX_UPPER[bytes[i]!]
  return text
}

/** Lowercase hex of the bytes. */
export function toHexLower(bytes: Uint8Array): string {
  let text = ''
  for (let i = 0; i < bytes.length; i++) text += HEX_LOWER[bytes[i]!]
  return text
}

/** True when both hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The chunks, one after another, in one new array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let total = 0
  for (const chunk of chunks) total += chunk.length
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/**
 * URL-decoded text, for PEM as proxies forward it; null when an escape is not valid
 * percent-encoded UTF-8. `decodeURIComponent`, not form decoding: in every proxy's encoding a
 * literal `+` is base64's own, never a space.
 */
export function decodePercent(value: string): string | null {
  if (value.indexOf('%') === -1) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return null
  }
}

/**
 * A configured header name, lowercased; throws a TypeError naming `option` unless it is an HTTP
 * token without `_`. Underscore spellings are never read: servers that fold `-` and `_` together
 * (CGI, nginx with underscores_in_headers) let a client's `X_Foo` stand in for the proxy's
 * `X-Foo`, and the proxy only strips the spelling it writes.
 */
export function headerNameOption(option: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[!#$%&'*+.^`|~0-9A-Za-z-]+$/.test(value)) {
    throw new TypeError(`${option} must be an HTTP header name without underscores.`)
  }
  return value.toLowerCase()
}
