/**
 * Parses the `X-Forwarded-Client-Cert` (XFCC) header in Envoy's text format: the certificate
 * details a TLS-terminating Envoy (e.g. the Azure Container Apps ingress) forwards. Pure and
 * synchronous; it runs on every request, so parsing is one linear pass over the header.
 * @module
 */
import { decodePercent } from '../bytes.ts'
import { CertgateError, malformed } from '../errors.ts'
import { BACKSLASH, COMMA, EQUALS, isWhitespace, QUOTE, SEMICOLON } from './syntax.ts'

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

/**
 * Which SAN keys an element carried, a bare `URI=` or `DNS=` included (it leaves no value in
 * {@link XfccElement}, but says "the certificate has none").
 */
export interface XfccSanKeys {
  uri: boolean
  dns: boolean
}

/** A parsed header: its elements, and the SAN keys each carried. */
export interface ParsedXfccHeader {
  elements: XfccElement[]
  /** One entry per element, in the same order. */
  sanKeys: XfccSanKeys[]
}

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
// Repeatable keys are recorded too, to tell "no URI key" from "URI= with no value".
const URI_SEEN = 16
const DNS_SEEN = 32

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
 * parser does; every other backslash stays, because Envoy inserts the RFC 2253 Subject raw and
 * its `\,` `\+` `\<` escapes belong to the DN.
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
  return parseXfccHeader(value).elements
}

/**
 * {@link parseXfcc}, with the SAN keys each element carried. Throws as parseXfcc does. With
 * `keepEscapes`, `cert` and `chain` stay URL-encoded as the header has them (their escapes are
 * still checked, with the same error), for x509/pem's decodeEscapedCertificates to decode
 * straight to DER.
 */
export function parseXfccHeader(value: string, options: { keepEscapes?: boolean } = {}): ParsedXfccHeader {
  const parser = new XfccParser(value, options.keepEscapes === true)
  return { elements: parser.elements(), sanKeys: parser.sanKeys }
}

/** One pass over one header: `i` only moves forward. */
class XfccParser {
  private readonly s: string
  private readonly n: number
  private readonly keepEscapes: boolean
  private i = 0
  /** Filled as elements are read, one entry each. */
  readonly sanKeys: XfccSanKeys[] = []

  constructor(s: string, keepEscapes: boolean) {
    this.s = s
    this.n = s.length
    this.keepEscapes = keepEscapes
  }

  elements(): XfccElement[] {
    this.i = skipWhitespace(this.s, 0, this.n)
    if (this.i === this.n) throw malformed('ERR_HEADER_MALFORMED', 'The XFCC header is empty.')
    const first = this.s.charCodeAt(this.i)
    if (first === OPEN_BRACE || first === OPEN_BRACKET) {
      throw new CertgateError(
        'ERR_XFCC_UNSUPPORTED_FORMAT',
        'The XFCC header uses the JSON format, which is not supported.'
      )
    }
    const elements: XfccElement[] = []
    for (;;) {
      const element = this.element(elements.length === 0)
      if (element === null) return elements
      elements.push(element)
      if (this.i === this.n) return elements
      this.i++ // past `,`
    }
  }

  /**
   * The pairs up to the `,` that ends the element (left at `i`) or the end of the header; null
   * at the end after a trailing `,`.
   */
  private element(first: boolean): XfccElement | null {
    const { s, n } = this
    const element: XfccElement = { by: [], uri: [], dns: [] }
    let seen = 0
    let pairs = 0
    for (;;) {
      this.i = skipWhitespace(s, this.i, n)
      const c = this.i < n ? s.charCodeAt(this.i) : -1
      if (c === -1 || c === COMMA || c === SEMICOLON) {
        // Only reached at the start of an element, or after a `;`: one trailing `;` (as ACA
        // sends) and one trailing `,` are fine, any other empty pair or element is not.
        if (c === SEMICOLON) throw malformed('ERR_HEADER_MALFORMED', 'Empty pair in an XFCC element.')
        if (pairs > 0) return this.done(element, seen)
        if (c === -1 && !first) return null
        throw malformed('ERR_HEADER_MALFORMED', 'Empty element in the XFCC header.')
      }
      seen = this.pair(element, seen)
      pairs++
      if (this.i === n || s.charCodeAt(this.i) === COMMA) return this.done(element, seen)
      this.i++ // past `;`
    }
  }

  private done(element: XfccElement, seen: number): XfccElement {
    this.sanKeys.push({ uri: (seen & URI_SEEN) !== 0, dns: (seen & DNS_SEEN) !== 0 })
    return element
  }

  /** One `key=value` into `element`; returns the keys seen so far, as SEEN_BIT bits. */
  private pair(element: XfccElement, seen: number): number {
    const key = this.key()
    this.i = skipWhitespace(this.s, this.i + 1, this.n)
    if (this.i < this.n && this.s.charCodeAt(this.i) === QUOTE) {
      return storeValue(element, seen, key, this.quotedValue(key !== undefined), true, this.keepEscapes)
    }
    return storeValue(element, seen, key, this.unquotedValue(), false, this.keepEscapes)
  }

  /** The key, leaving `i` at its `=`; undefined for a key certgate does not read. */
  private key(): Key | undefined {
    const { s, n } = this
    const start = this.i
    let i = start
    let k = s.charCodeAt(i)
    while (k !== EQUALS && k !== SEMICOLON && k !== COMMA && k !== QUOTE && ++i < n) {
      k = s.charCodeAt(i)
    }
    if (i === n || k !== EQUALS) {
      if (i < n && k === QUOTE) throw malformed('ERR_HEADER_MALFORMED', 'Unexpected quote in an XFCC key.')
      throw malformed('ERR_HEADER_MALFORMED', 'An XFCC pair has no "=".')
    }
    this.i = i
    const end = trimEnd(s, start, i)
    if (end === start) throw malformed('ERR_HEADER_MALFORMED', 'An XFCC pair has an empty key.')
    return keyOf(s, start, end)
  }

  /** A quoted value from its opening quote at `i`, unescaped when `keep`, else ''. */
  private quotedValue(keep: boolean): string {
    const { s, n } = this
    const close = findClosingQuote(s, this.i + 1)
    if (close === -1) throw malformed('ERR_HEADER_MALFORMED', 'Unmatched quote in the XFCC header.')
    const raw = keep ? unescapeQuoted(s, this.i + 1, close) : ''
    this.i = skipWhitespace(s, close + 1, n)
    const after = this.i < n ? s.charCodeAt(this.i) : -1
    if (after !== -1 && after !== SEMICOLON && after !== COMMA) {
      throw malformed('ERR_HEADER_MALFORMED', 'Unexpected text after a quoted XFCC value.')
    }
    return raw
  }

  /** An unquoted value from `i`: Envoy's raw By/URI/DNS SANs, nothing to unescape. */
  private unquotedValue(): string {
    const { s, n } = this
    const start = this.i
    let i = start
    while (i < n) {
      const v = s.charCodeAt(i)
      if (v === SEMICOLON || v === COMMA) break
      // A quote inside an unquoted value (`a"b"`) is rejected. Envoy's parser would toggle
      // its quote state there and shift pair boundaries; only a By/URI/DNS SAN, which Envoy
      // copies in raw, can produce one, so failing closed costs nothing real.
      if (v === QUOTE) throw malformed('ERR_HEADER_MALFORMED', 'Unexpected quote in an unquoted XFCC value.')
      i++
    }
    this.i = i
    return s.slice(start, trimEnd(s, start, i))
  }
}

/** Stores one value under its key; returns `seen` with the key's bit added. */
function storeValue(
  element: XfccElement,
  seen: number,
  key: Key | undefined,
  raw: string,
  quoted: boolean,
  keepEscapes: boolean
): number {
  if (key === undefined) return seen
  if (key === 'by' || key === 'uri' || key === 'dns') {
    // Envoy writes a bare `URI=` when the certificate has no URI SAN.
    if (quoted || raw !== '') element[key].push(raw)
    return key === 'uri' ? seen | URI_SEEN : key === 'dns' ? seen | DNS_SEEN : seen
  }
  const bit = SEEN_BIT[key]
  if ((seen & bit) !== 0) {
    throw malformed('ERR_HEADER_MALFORMED', `Duplicate ${KEY_NAMES[key]} key in an XFCC element.`)
  }
  if (key === 'subject') element.subject = raw
  else if (raw === '') return seen | bit
  else if (key === 'hash') element.hash = raw
  else element[key] = keepEscapes ? checkedEscapes(raw, KEY_NAMES[key]) : decodePem(raw, KEY_NAMES[key])
  return seen | bit
}

/**
 * The URL-encoded value as it is, once its escapes are known to decode (as decodePem would
 * refuse them): every `%` starts two hex digits of an ASCII character, else decodePem decides.
 */
function checkedEscapes(raw: string, keyName: string): string {
  for (let at = raw.indexOf('%'); at !== -1; at = raw.indexOf('%', at + 3)) {
    if (at + 2 >= raw.length || !isAsciiEscape(raw.charCodeAt(at + 1), raw.charCodeAt(at + 2))) {
      decodePem(raw, keyName)
      break
    }
  }
  return raw
}

function isAsciiEscape(high: number, low: number): boolean {
  const lower = low | 0x20
  return high >= 0x30 && high <= 0x37 && ((low >= 0x30 && low <= 0x39) || (lower >= 0x61 && lower <= 0x66))
}

/** Cert and Chain are URL-encoded PEM. */
function decodePem(raw: string, keyName: string): string {
  const text = decodePercent(raw)
  if (text === null) {
    throw malformed('ERR_HEADER_MALFORMED', `Invalid percent-encoding in the ${keyName} value of an XFCC element.`)
  }
  return text
}
