/**
 * SPIFFE IDs as the SPIFFE ID specification defines them: `spiffe://` a trust domain of
 * letters, digits, `.`, `-` and `_`, then path segments of the same characters. No percent
 * encoding, no empty, `.` or `..` segment, no trailing `/`, no port, user, query or fragment: a
 * URI that needs any of them is not a SPIFFE ID, so `spiffe://d/app/%2e%2e/admin` can never
 * fall under a `spiffe://d/app/` prefix.
 * @module
 */

const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]{1,255})((?:\/[a-z0-9._-]+)*)$/i
const MAX_LENGTH = 2048

/**
 * The ID in the form IDs are compared in (scheme and trust domain lowercase, the path as is),
 * or null when `text` is not a SPIFFE ID.
 */
export function parseSpiffeId(text: string): string | null {
  if (text.length > MAX_LENGTH) return null
  const match = SPIFFE_ID.exec(text)
  if (match === null) return null
  const path = match[2]!
  if (/\/\.\.?(?=\/|$)/.test(path)) return null
  return `spiffe://${match[1]!.toLowerCase()}${path}`
}
