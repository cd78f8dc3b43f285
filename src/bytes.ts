/**
 * Byte helpers the other modules share: hex text and joining chunks.
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
