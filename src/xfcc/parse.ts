/**
 * Parses and writes the `X-Forwarded-Client-Cert` (XFCC) header in Envoy's text format: the
 * certificate details a TLS-terminating Envoy (e.g. the Azure Container Apps ingress) forwards.
 * Pure and synchronous; it runs on every request, so parsing is one linear pass over the header.
 * @module
 */
import { CertgateError, malformed } from '../errors.ts'
import { decodePercent } from '../x509/pem.ts'

/**
 * One XFCC element: what one proxy wrote about the client certificate it saw.
 * `cert` and `chain` are URL-decoded PEM text; an empty `Hash`, `Cert` or `Chain` counts as absent.
 */
export interface XfccElement {
  by: string[]
  hash?: string
  cert?: string
  chain?: string
  subject?: string
  uri: string[]
  dns: string[]
}

const TAB = 0x09
const LF = 0x0a
const VT = 0x0b
const FF = 0x0c
const CR = 0x0d
const SPACE = 0x20
const QUOTE = 0x22
const COMMA = 0x2c
const SEMICOLON = 0x3b
const EQUALS = 0x3d
const BACKSLASH = 0x5c
const OPEN_BRACKET = 0x5b
const OPEN_BRACE = 0x7b

type SingleKey = 'hash' | 'cert' | 'chain' | 'subject'
type Key = 'by' | 'uri' | 'dns' | SingleKey

const KEY_NAMES: Readonly<Record<SingleKey, string>> = {
  hash: 'Hash',
  cert: 'Cert',
  chain: 'Chain',
  subject: 'Subject',
}

const SEEN_BIT: Readonly<Record<SingleKey, number>> = { hash: 1, cert: 2, chain: 4, subject: 8 }


// The same set absl::StripAsciiWhitespace trims in Envoy's own XFCC parser.
function isWhitespace(c: number): boolean {
  return c === SPACE || c === TAB || c === LF || c === VT || c === FF || c === CR
}

function skipWhitespace(s: string, i: number, end: number): number {
  while (i < end && isWhitespace(s.charCodeAt(i))) i++
  return i
}

function trimEnd(s: string, start: number, end: number): number {
  while (end > start && isWhitespace(s.charCodeAt(end - 1))) end--
  return end
}

/** ASCII-only case-insensitive match, so no Unicode case mapping can forge a key. */
function keyEquals(s: string, start: number, lower: string): boolean {
  for (let j = 0; j < lower.length; j++) {
    // `c | 0x20` equals a lowercase ASCII letter only for that letter in either case.
    if ((s.charCodeAt(start + j) | 0x20) !== lower.charCodeAt(j)) return false
  }
  return true
}

function keyOf(s: string, start: number, end: number): Key | undefined {
  switch (end - start) {
    case 2:
      return keyEquals(s, start, 'by') ? 'by' : undefined
    case 3:
      if (keyEquals(s, start, 'uri')) return 'uri'
      return keyEquals(s, start, 'dns') ? 'dns' : undefined
    case 4:
      if (keyEquals(s, start, 'hash')) return 'hash'
      return keyEquals(s, start, 'cert') ? 'cert' : undefined
    case 5:
      return keyEquals(s, start, 'chain') ? 'chain' : undefined
    case 7:
      return keyEquals(s, start, 'subject') ? 'subject' : undefined
    default:
      return undefined
  }
}

/** Index of the quote closing a value opened just before `from`, or -1. */
function findClosingQuote(s: string, from: number): number {
  let q = s.indexOf('"', from)
  while (q !== -1) {
    // A quote closes only after an even run of backslashes: `\\"` closes, `\"` does not.
    let k = q - 1
    while (k >= from && s.charCodeAt(k) === BACKSLASH) k--
    if (((q - 1 - k) & 1) === 0) return q
    q = s.indexOf('"', q + 1)
  }
  return -1
}

/**
 * The content of a quoted value with only `\"` and `\\` unescaped. That is what Envoy's own
 * parser (source/extensions/formatter/xfcc_value) does; every other backslash stays, because
 * Envoy inserts the RFC 2253 Subject raw and its `\,` `\+` `\<` escapes belong to the DN.
 */
function unescapeQuoted(s: string, start: number, end: number): string {
  let b = s.indexOf('\\', start)
  if (b === -1 || b >= end) return s.slice(start, end)
  let out = ''
  let last = start
  while (b !== -1 && b + 1 < end) {
    const next = s.charCodeAt(b + 1)
    if (next === QUOTE || next === BACKSLASH) {
      out += s.slice(last, b)
      last = b + 1
      b = s.indexOf('\\', b + 2)
    } else {
      b = s.indexOf('\\', b + 1)
    }
  }
  return out + s.slice(last, end)
}

/**
 * Every element of an XFCC header, left to right (the rightmost is the nearest proxy's).
 *
 * Throws ERR_HEADER_MALFORMED for anything Envoy would not write: an unmatched quote, a pair
 * without `=` or key, an empty element, a second Hash/Cert/Chain/Subject in one element (a value
 * could otherwise shadow the real one), a bad percent escape in Cert/Chain. Throws
 * ERR_XFCC_UNSUPPORTED_FORMAT for Envoy's JSON XFCC format. Messages never echo the header.
 */
export function parseXfcc(value: string): XfccElement[] {
  const s = value
  const n = s.length
  let i = skipWhitespace(s, 0, n)
  if (i === n) throw malformed('ERR_HEADER_MALFORMED', 'The XFCC header is empty.')
  const first = s.charCodeAt(i)
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    throw new CertgateError(
      'ERR_XFCC_UNSUPPORTED_FORMAT',
      'The XFCC header uses the JSON format, which is not supported.'
    )
  }

  const elements: XfccElement[] = []
  for (;;) {
    const element: XfccElement = { by: [], uri: [], dns: [] }
    let seen = 0
    let pairs = 0
    for (;;) {
      i = skipWhitespace(s, i, n)
      const c = i < n ? s.charCodeAt(i) : -1
      if (c === -1 || c === COMMA || c === SEMICOLON) {
        // Only reached at the start of an element, or after a `;`: one trailing `;` (as ACA
        // sends) and one trailing `,` are fine, any other empty pair or element is not.
        if (c === SEMICOLON) throw malformed('ERR_HEADER_MALFORMED', 'Empty pair in an XFCC element.')
        if (pairs > 0) break
        if (c === -1 && elements.length > 0) return elements
        throw malformed('ERR_HEADER_MALFORMED', 'Empty element in the XFCC header.')
      }

      const keyStart = i
      let k = s.charCodeAt(i)
      while (k !== EQUALS && k !== SEMICOLON && k !== COMMA && k !== QUOTE && ++i < n) {
        k = s.charCodeAt(i)
      }
      if (i === n || k !== EQUALS) {
        if (i < n && k === QUOTE) throw malformed('ERR_HEADER_MALFORMED', 'Unexpected quote in an XFCC key.')
        throw malformed('ERR_HEADER_MALFORMED', 'An XFCC pair has no "=".')
      }
      const keyEnd = trimEnd(s, keyStart, i)
      if (keyEnd === keyStart) throw malformed('ERR_HEADER_MALFORMED', 'An XFCC pair has an empty key.')
      const key = keyOf(s, keyStart, keyEnd)

      i = skipWhitespace(s, i + 1, n)
      let raw: string
      let quoted = false
      if (i < n && s.charCodeAt(i) === QUOTE) {
        const close = findClosingQuote(s, i + 1)
        if (close === -1) throw malformed('ERR_HEADER_MALFORMED', 'Unmatched quote in the XFCC header.')
        raw = key === undefined ? '' : unescapeQuoted(s, i + 1, close)
        quoted = true
        i = skipWhitespace(s, close + 1, n)
        const after = i < n ? s.charCodeAt(i) : -1
        if (after !== -1 && after !== SEMICOLON && after !== COMMA) {
          throw malformed('ERR_HEADER_MALFORMED', 'Unexpected text after a quoted XFCC value.')
        }
      } else {
        const valueStart = i
        while (i < n) {
          const v = s.charCodeAt(i)
          if (v === SEMICOLON || v === COMMA) break
          // Decision: a quote inside an unquoted value (`a"b"`) is rejected. Envoy's parser
          // would toggle its quote state there and shift pair boundaries; only an unescaped
          // By/URI/DNS SAN (envoy#32945) can produce one, so failing closed costs nothing real.
          if (v === QUOTE) throw malformed('ERR_HEADER_MALFORMED', 'Unexpected quote in an unquoted XFCC value.')
          i++
        }
        // Unquoted values are Envoy's raw By/URI/DNS SANs: nothing to unescape.
        raw = s.slice(valueStart, trimEnd(s, valueStart, i))
      }

      if (key === 'by' || key === 'uri' || key === 'dns') {
        // Envoy writes a bare `URI=` when the certificate has no URI SAN.
        if (quoted || raw !== '') element[key].push(raw)
      } else if (key !== undefined) {
        const bit = SEEN_BIT[key]
        if ((seen & bit) !== 0) {
          throw malformed('ERR_HEADER_MALFORMED', `Duplicate ${KEY_NAMES[key]} key in an XFCC element.`)
        }
        seen |= bit
        if (key === 'subject') element.subject = raw
        else if (raw !== '') element[key] = key === 'hash' ? raw : decodePercent(raw, `the ${KEY_NAMES[key]} value of an XFCC element`)
      }
      pairs++

      if (i === n) {
        elements.push(element)
        return elements
      }
      if (s.charCodeAt(i) === COMMA) break
      i++ // past `;`
    }
    elements.push(element)
    // Here s[i] is the `,` ending this element (or, after a trailing `;`, i may be at the end).
    if (i === n) return elements
    i++
  }
}

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
