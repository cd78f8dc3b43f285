/**
 * Writes the `X-Forwarded-Client-Cert` header as Envoy does: whole headers for tests and the CLI,
 * and the percent-encoding Envoy applies to Cert and Chain.
 * @module
 */
import type { XfccElement } from './parse.ts'
import { BACKSLASH, COMMA, EQUALS, isWhitespace, LF, QUOTE, SEMICOLON, SPACE } from './syntax.ts'

// Envoy's five, plus `%` (so decodeURIComponent restores any string) and the XFCC delimiters.
const PEM_ESCAPES: Readonly<Record<number, string>> = {
  [LF]: '%0A',
  [SPACE]: '%20',
  [QUOTE]: '%22',
  0x25: '%25',
  0x2b: '%2B',
  [COMMA]: '%2C',
  0x2f: '%2F',
  [SEMICOLON]: '%3B',
  [EQUALS]: '%3D',
  [BACKSLASH]: '%5C',
}

/**
 * A PEM text encoded as Envoy encodes Cert and Chain: `\n` `space` `+` `/` `=` percent-escaped.
 * `%` `"` `,` `;` `\` are escaped too, so any string survives a round trip through parseXfcc;
 * real PEM has none of them, so for real PEM the output is byte-for-byte Envoy's.
 */
export function encodeXfccPem(pem: string): string {
  let out = ''
  let last = 0
  for (let i = 0; i < pem.length; i++) {
    const escape = PEM_ESCAPES[pem.charCodeAt(i)]
    if (escape !== undefined) {
      out += pem.slice(last, i) + escape
      last = i + 1
    }
  }
  return out + pem.slice(last)
}

function escapeQuoted(value: string): string {
  if (value.indexOf('\\') === -1 && value.indexOf('"') === -1) return value
  let out = ''
  let last = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === BACKSLASH || c === QUOTE) {
      out += value.slice(last, i) + '\\'
      last = i
    }
  }
  return out + value.slice(last)
}

function needsQuotes(value: string): boolean {
  if (value === '') return true
  if (isWhitespace(value.charCodeAt(0)) || isWhitespace(value.charCodeAt(value.length - 1))) {
    return true
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === COMMA || c === SEMICOLON || c === EQUALS || c === QUOTE || c === BACKSLASH) {
      return true
    }
  }
  return false
}

/** Unquoted as Envoy writes it when safe; quoted (so `""` for an empty string) otherwise. */
function formatToken(value: string): string {
  return needsQuotes(value) ? `"${escapeQuoted(value)}"` : value
}

function formatElement(element: XfccElement): string {
  const pairs: string[] = []
  for (const by of element.by) pairs.push(`By=${formatToken(by)}`)
  // Empty Hash/Cert/Chain mean absent, as parseXfcc reads them. A hex hash is never quoted.
  if (element.hash) pairs.push(`Hash=${formatToken(element.hash)}`)
  if (element.cert) pairs.push(`Cert="${encodeXfccPem(element.cert)}"`)
  if (element.chain) pairs.push(`Chain="${encodeXfccPem(element.chain)}"`)
  if (element.subject !== undefined) pairs.push(`Subject="${escapeQuoted(element.subject)}"`)
  for (const uri of element.uri) pairs.push(`URI=${formatToken(uri)}`)
  for (const dns of element.dns) pairs.push(`DNS=${formatToken(dns)}`)
  if (pairs.length === 0) throw new RangeError('An XFCC element needs at least one value.')
  return pairs.join(';')
}

/**
 * The XFCC header Envoy would write for these elements (key order By, Hash, Cert, Chain,
 * Subject, URI, DNS). Values Envoy leaves raw are quoted when they would not parse back, so
 * `parseXfcc(formatXfcc(x))` equals `x`. Throws a RangeError for no elements or an empty one,
 * which no header can express.
 */
export function formatXfcc(elements: readonly XfccElement[]): string {
  if (elements.length === 0) throw new RangeError('An XFCC header needs at least one element.')
  return elements.map(formatElement).join(',')
}
