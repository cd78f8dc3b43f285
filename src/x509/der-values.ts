/**
 * Decoders for DER values the X.509 readers use: BOOLEAN, NULL, INTEGER, OBJECT IDENTIFIER,
 * BIT STRING, OCTET STRING, the two time types and the string types, each checked to be the one
 * DER encoding of its value. Every violation throws through `derMalformed` (ERR_CERT_MALFORMED).
 * @module
 */
import { toHex } from '../bytes.ts'
import {
  derMalformed,
  TAG_BIT_STRING,
  TAG_BMP_STRING,
  TAG_BOOLEAN,
  TAG_GENERALIZED_TIME,
  TAG_IA5_STRING,
  TAG_INTEGER,
  TAG_NULL,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_PRINTABLE_STRING,
  TAG_TELETEX_STRING,
  TAG_UNIVERSAL_STRING,
  TAG_UTC_TIME,
  TAG_UTF8_STRING,
  type Tlv,
} from './der.ts'

function expectTag(tlv: Tlv, tag: number): void {
  if (tlv.tag !== tag) derMalformed('unexpected tag')
}

/** BOOLEAN: DER allows only 0x00 and 0xFF. */
export function readBoolean(bytes: Uint8Array, tlv: Tlv): boolean {
  expectTag(tlv, TAG_BOOLEAN)
  if (tlv.end - tlv.contentStart !== 1) derMalformed('bad BOOLEAN')
  const value = bytes[tlv.contentStart]
  if (value === 0xff) return true
  if (value === 0x00) return false
  return derMalformed('bad BOOLEAN')
}

/** NULL: empty content. */
export function readNull(tlv: Tlv): null {
  expectTag(tlv, TAG_NULL)
  if (tlv.end !== tlv.contentStart) derMalformed('bad NULL')
  return null
}

/** INTEGER content octets (two's complement, big-endian), checked to be minimal. */
export function readIntegerBytes(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  expectTag(tlv, TAG_INTEGER)
  const s = tlv.contentStart
  const length = tlv.end - s
  if (length === 0) derMalformed('empty INTEGER')
  if (length > 1) {
    const first = bytes[s]
    const second = bytes[s + 1]
    if ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80)) {
      derMalformed('non-minimal INTEGER')
    }
  }
  return bytes.subarray(s, tlv.end)
}

/**
 * A serial number's INTEGER content as uppercase hex, without the sign octet DER adds (`00`
 * before a high bit): the form certificates and CRLs are matched by. A negative serial (RFC 5280
 * forbids them, yet CAs have issued them) is `-` and the hex of its magnitude, so −128 (`80`)
 * reads `-80` and never as +128 (`00 80`, read `80`).
 */
export function serialNumberHex(content: Uint8Array): string {
  if (content[0]! < 0x80) return toHex(content.length > 1 && content[0] === 0 ? content.subarray(1) : content)
  // Two's complement: the magnitude is the bitwise NOT plus one, carried from the last octet.
  const magnitude = new Uint8Array(content.length)
  let carry = 1
  for (let i = content.length - 1; i >= 0; i--) {
    const sum = (~content[i]! & 0xff) + carry
    magnitude[i] = sum & 0xff
    carry = sum >> 8
  }
  // −2^(8n−1) needs all n octets (`80` → 128); anything smaller has a leading zero octet to drop.
  const start = magnitude.length > 1 && magnitude[0] === 0 ? 1 : 0
  return `-${toHex(magnitude.subarray(start))}`
}

/** A small INTEGER as a number; more than `maxBytes` content octets is malformed (max 6). */
export function readSmallInteger(bytes: Uint8Array, tlv: Tlv, maxBytes: number): number {
  const content = readIntegerBytes(bytes, tlv)
  if (content.length > Math.min(maxBytes, 6)) derMalformed('INTEGER too large')
  let value = content[0] >= 0x80 ? content[0] - 0x100 : content[0]
  for (let i = 1; i < content.length; i++) value = value * 256 + content[i]
  return value
}

// Keeps every arc an exact double: checked before the multiply by 128 that could pass 2^53.
const MAX_ARC_BEFORE_SHIFT = 2 ** 46

/**
 * Walks an OBJECT IDENTIFIER's subidentifiers, refusing a bad encoding, and hands each to
 * `onArc` (the first one still packs two arcs). Arcs above 2^53 − 1 are refused rather than
 * rounded (no field certgate reads uses them).
 */
function walkOid(bytes: Uint8Array, tlv: Tlv, onArc: ((value: number) => void) | null): void {
  expectTag(tlv, TAG_OID)
  const s = tlv.contentStart
  const e = tlv.end
  if (s === e) derMalformed('empty OID')
  if (bytes[e - 1] & 0x80) derMalformed('truncated OID')
  let value = 0
  let atStart = true
  for (let i = s; i < e; i++) {
    const octet = bytes[i]
    if (atStart && octet === 0x80) derMalformed('non-minimal OID')
    if (value >= MAX_ARC_BEFORE_SHIFT) derMalformed('OID arc too large')
    value = value * 128 + (octet & 0x7f)
    atStart = (octet & 0x80) === 0
    if (!atStart) continue
    onArc?.(value)
    value = 0
  }
}

/** Checks an OBJECT IDENTIFIER's encoding without building its string. */
export function checkOid(bytes: Uint8Array, tlv: Tlv): void {
  walkOid(bytes, tlv, null)
}

/** OBJECT IDENTIFIER as a dotted string. */
export function readOid(bytes: Uint8Array, tlv: Tlv): string {
  let text = ''
  walkOid(bytes, tlv, (value) => {
    if (text !== '') {
      text += `.${value}`
      return
    }
    // The first subidentifier packs two arcs: 40 * X + Y, with X in 0..2.
    text = value < 40 ? `0.${value}` : value < 80 ? `1.${value - 40}` : `2.${value - 80}`
  })
  return text
}

/** A BIT STRING: its data octets (a view) and the count of unused bits in the last one. */
export interface BitString {
  readonly unusedBits: number
  readonly data: Uint8Array
}

/** BIT STRING, checked: unused-bit count 0..7, 0 when empty, and the unused bits zero. */
export function readBitString(bytes: Uint8Array, tlv: Tlv): BitString {
  expectTag(tlv, TAG_BIT_STRING)
  const s = tlv.contentStart
  const e = tlv.end
  if (s === e) derMalformed('empty BIT STRING')
  const unusedBits = bytes[s]
  if (unusedBits > 7) derMalformed('bad BIT STRING')
  if (s + 1 === e) {
    if (unusedBits !== 0) derMalformed('bad BIT STRING')
  } else if ((bytes[e - 1] & ((1 << unusedBits) - 1)) !== 0) {
    derMalformed('bad BIT STRING')
  }
  return { unusedBits, data: bytes.subarray(s + 1, e) }
}

/** OCTET STRING content, as a view. */
export function readOctetString(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  expectTag(tlv, TAG_OCTET_STRING)
  return bytes.subarray(tlv.contentStart, tlv.end)
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function digits(bytes: Uint8Array, at: number, count: number): number {
  let value = 0
  for (let i = at; i < at + count; i++) {
    const d = bytes[i] - 0x30
    if (d < 0 || d > 9) derMalformed('bad time')
    value = value * 10 + d
  }
  return value
}

/**
 * UTCTime or GeneralizedTime as a Date, in the only forms RFC 5280 §4.1.2.5 allows:
 * `YYMMDDHHMMSSZ` (YY ≥ 50 → 19YY, else 20YY) and `YYYYMMDDHHMMSSZ`, no fractions, no offsets.
 * GeneralizedTime years before 1950 are refused: RFC 5280 puts them in UTCTime, and it avoids
 * `Date.UTC` reading years 0–99 as 1900–1999.
 */
export function readTime(bytes: Uint8Array, tlv: Tlv): Date {
  const s = tlv.contentStart
  const length = tlv.end - s
  let year: number
  let p: number
  if (tlv.tag === TAG_UTC_TIME) {
    if (length !== 13) derMalformed('bad time')
    const yy = digits(bytes, s, 2)
    year = yy >= 50 ? 1900 + yy : 2000 + yy
    p = s + 2
  } else if (tlv.tag === TAG_GENERALIZED_TIME) {
    if (length !== 15) derMalformed('bad time')
    year = digits(bytes, s, 4)
    if (year < 1950) derMalformed('bad time')
    p = s + 4
  } else {
    return derMalformed('unexpected tag')
  }
  if (bytes[tlv.end - 1] !== 0x5a) derMalformed('bad time')
  const month = digits(bytes, p, 2)
  const day = digits(bytes, p + 2, 2)
  const hour = digits(bytes, p + 4, 2)
  const minute = digits(bytes, p + 6, 2)
  const second = digits(bytes, p + 8, 2)
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    derMalformed('bad time')
  }
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  if (day > DAYS_IN_MONTH[month - 1] + (leap ? 1 : 0)) derMalformed('bad time')
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second))
}

/** True for the primitive string tags `readString` decodes. */
export function isStringTag(tag: number): boolean {
  return (
    tag === TAG_UTF8_STRING ||
    tag === TAG_PRINTABLE_STRING ||
    tag === TAG_IA5_STRING ||
    tag === TAG_TELETEX_STRING ||
    tag === TAG_BMP_STRING ||
    tag === TAG_UNIVERSAL_STRING
  )
}

/** True for the constructed forms of those string tags, which DER forbids. */
export function isConstructedStringTag(tag: number): boolean {
  return (tag & 0xe0) === 0x20 && isStringTag(tag & 0x1f)
}

/**
 * A string of any of: UTF8String (well-formed UTF-8 only), PrintableString and IA5String
 * (7-bit only; PrintableString's narrower alphabet is not enforced, as real CAs break it),
 * TeletexString (as latin1), BMPString (UTF-16BE, no lone surrogates), UniversalString (UTF-32BE,
 * Basic Multilingual Plane only).
 */
export function readString(bytes: Uint8Array, tlv: Tlv): string {
  const s = tlv.contentStart
  const e = tlv.end
  switch (tlv.tag) {
    case TAG_UTF8_STRING:
      return utf8(bytes, s, e)
    case TAG_PRINTABLE_STRING:
    case TAG_IA5_STRING:
      return ascii(bytes, s, e)
    case TAG_TELETEX_STRING:
      return latin1(bytes, s, e)
    case TAG_BMP_STRING:
      return bmp(bytes, s, e)
    case TAG_UNIVERSAL_STRING:
      return universal(bytes, s, e)
    default:
      return derMalformed('not a string')
  }
}

/** IA5String only (e.g. dNSName, rfc822Name, URI). */
export function readIa5String(bytes: Uint8Array, tlv: Tlv): string {
  return ascii(bytes, tlv.contentStart, tlv.end)
}

function latin1(bytes: Uint8Array, s: number, e: number): string {
  let text = ''
  for (let i = s; i < e; i++) text += String.fromCharCode(bytes[i])
  return text
}

function ascii(bytes: Uint8Array, s: number, e: number): string {
  let text = ''
  for (let i = s; i < e; i++) {
    const c = bytes[i]
    if (c >= 0x80) derMalformed('non-ASCII in ASCII string')
    text += String.fromCharCode(c)
  }
  return text
}

// fatal: refuse invalid UTF-8 instead of mapping it to U+FFFD (two names must not collide);
// ignoreBOM: keep a leading U+FEFF as a character, as it is in the bytes.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function utf8(bytes: Uint8Array, s: number, e: number): string {
  let i = s
  while (i < e && bytes[i] < 0x80) i++
  if (i === e) return latin1(bytes, s, e)
  try {
    return UTF8.decode(bytes.subarray(s, e))
  } catch {
    return derMalformed('invalid UTF-8')
  }
}

function bmp(bytes: Uint8Array, s: number, e: number): string {
  if ((e - s) % 2 !== 0) derMalformed('bad BMPString')
  let text = ''
  let highSurrogate = false
  for (let i = s; i < e; i += 2) {
    const unit = (bytes[i] << 8) | bytes[i + 1]
    const isHigh = unit >= 0xd800 && unit <= 0xdbff
    const isLow = unit >= 0xdc00 && unit <= 0xdfff
    if (highSurrogate !== isLow) derMalformed('lone surrogate')
    highSurrogate = isHigh
    text += String.fromCharCode(unit)
  }
  if (highSurrogate) derMalformed('lone surrogate')
  return text
}

function universal(bytes: Uint8Array, s: number, e: number): string {
  if ((e - s) % 4 !== 0) derMalformed('bad UniversalString')
  let text = ''
  for (let i = s; i < e; i += 4) {
    if (bytes[i] !== 0 || bytes[i + 1] !== 0) derMalformed('UniversalString beyond the BMP')
    const unit = (bytes[i + 2] << 8) | bytes[i + 3]
    if (unit >= 0xd800 && unit <= 0xdfff) derMalformed('surrogate in UniversalString')
    text += String.fromCharCode(unit)
  }
  return text
}

