/**
 * RFC 8941 structured-field byte sequences (`:base64:`), alone or as a list: the encoding of
 * RFC 9440's Client-Cert and Client-Cert-Chain. Strict: no parameters, no whitespace inside a
 * sequence; padding may be left out, as RFC 8941 asks parsers to allow.
 * @module
 */
import { malformed } from '../errors.ts'
import { decodeBase64 } from '../x509/pem.ts'
import { chainTooLong, type SourceLimits } from './source.ts'

const COLON = 0x3a
const COMMA = 0x2c

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09
}

function isSfBase64(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2b || // +
    code === 0x2f || // /
    code === 0x3d // =
  )
}

/** One byte sequence from `start`: the bytes and the index after the closing `:`. */
function parseByteSequence(s: string, start: number): [Uint8Array, number] {
  if (s.charCodeAt(start) !== COLON) {
    throw malformed('ERR_HEADER_MALFORMED', 'An RFC 9440 value is not a byte sequence.')
  }
  let i = start + 1
  while (i < s.length && isSfBase64(s.charCodeAt(i))) i++
  if (i >= s.length || s.charCodeAt(i) !== COLON) {
    throw malformed('ERR_HEADER_MALFORMED', 'An RFC 9440 byte sequence is not closed, or holds non-base64 text.')
  }
  return [decodeBase64(s.slice(start + 1, i)), i + 1]
}

/** A field that is exactly one byte sequence; `field` names it in errors. */
export function parseByteSequenceItem(value: string, field: string): Uint8Array {
  const s = value.trim()
  const [bytes, end] = parseByteSequence(s, 0)
  if (end !== s.length) throw malformed('ERR_HEADER_MALFORMED', `${field} holds more than one byte sequence.`)
  return bytes
}

/** A field that is a list of byte sequences, at most maxChainLength; `field` names it in errors. */
export function parseByteSequenceList(value: string, field: string, limits: SourceLimits): Uint8Array[] {
  const s = value.trim()
  const members: Uint8Array[] = []
  let i = 0
  while (i < s.length) {
    if (members.length === limits.maxChainLength) throw chainTooLong(limits)
    const [bytes, end] = parseByteSequence(s, i)
    members.push(bytes)
    i = end
    while (i < s.length && isOws(s.charCodeAt(i))) i++
    if (i === s.length) break
    if (s.charCodeAt(i) !== COMMA) throw malformed('ERR_HEADER_MALFORMED', `${field} is not a list.`)
    i++
    while (i < s.length && isOws(s.charCodeAt(i))) i++
    if (i === s.length) throw malformed('ERR_HEADER_MALFORMED', `${field} ends with a comma.`)
  }
  return members
}
