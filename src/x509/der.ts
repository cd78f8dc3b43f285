/**
 * A minimal, bounded reader for DER (ITU-T X.690 Distinguished Encoding Rules) over a
 * `Uint8Array`, for the few X.509 fields certgate reads.
 *
 * Strict on purpose: a certificate has exactly one valid DER encoding, so any leniency would only
 * let two parsers disagree about what the bytes mean. Refused: indefinite lengths, non-minimal
 * length octets, lengths running past their parent, high tag numbers, constructed strings,
 * non-minimal INTEGERs and OID subidentifiers, non-zero unused bits in BIT STRINGs, malformed
 * times. Work is bounded by input length, nesting depth and a budget of TLVs read. Every violation
 * throws `CertgateError('ERR_CERT_MALFORMED')`; the `cause` is a short reason, never input bytes.
 *
 * Nothing is copied: a TLV is four offsets into the input, and contents are `subarray` views.
 * @module
 */
import { malformed } from '../errors.ts'

export const TAG_BOOLEAN = 0x01
export const TAG_INTEGER = 0x02
export const TAG_BIT_STRING = 0x03
export const TAG_OCTET_STRING = 0x04
export const TAG_NULL = 0x05
export const TAG_OID = 0x06
export const TAG_UTF8_STRING = 0x0c
export const TAG_PRINTABLE_STRING = 0x13
export const TAG_TELETEX_STRING = 0x14
export const TAG_IA5_STRING = 0x16
export const TAG_UTC_TIME = 0x17
export const TAG_GENERALIZED_TIME = 0x18
export const TAG_UNIVERSAL_STRING = 0x1c
export const TAG_BMP_STRING = 0x1e
export const TAG_SEQUENCE = 0x30
export const TAG_SET = 0x31

/** One TLV: offsets into the reader's bytes. `tag` is the whole identifier octet. */
export interface Tlv {
  readonly tag: number
  /** Offset of the identifier octet. */
  readonly start: number
  /** Offset of the first content octet. */
  readonly contentStart: number
  /** Offset just past the last content octet. */
  readonly end: number
  /** 0 for the outermost TLV. */
  readonly depth: number
}

/** Hard bounds on the work one input may cause. */
export interface DerLimits {
  /** Largest accepted input, in bytes. */
  readonly maxLength: number
  /** Deepest accepted nesting; the outermost TLV is depth 0. */
  readonly maxDepth: number
  /** Most TLVs one reader will read, over all calls. */
  readonly maxTlvs: number
}

const MALFORMED_MESSAGE = 'The client certificate could not be parsed.'

/** Throws the one error every DER violation becomes. `reason` must not contain input bytes. */
export function derMalformed(reason: string): never {
  throw malformed('ERR_CERT_MALFORMED', MALFORMED_MESSAGE, reason)
}

/** Reads TLVs out of one input, within fixed limits shared by every cursor made from it. */
export class DerReader {
  readonly bytes: Uint8Array
  private readonly maxDepth: number
  private tlvBudget: number

  constructor(bytes: Uint8Array, limits: DerLimits) {
    if (bytes.length > limits.maxLength) derMalformed('input too long')
    this.bytes = bytes
    this.maxDepth = limits.maxDepth
    this.tlvBudget = limits.maxTlvs
  }

  /** Reads the one TLV that must make up the whole input, with the given tag. */
  root(tag: number): Tlv {
    const tlv = this.readAt(0, this.bytes.length, 0)
    if (tlv.tag !== tag) derMalformed('unexpected tag')
    if (tlv.end !== this.bytes.length) derMalformed('trailing bytes')
    return tlv
  }

  /** A cursor over the children of a constructed TLV. */
  children(parent: Tlv): DerCursor {
    if ((parent.tag & 0x20) === 0) derMalformed('not constructed')
    return new DerCursor(this, parent.contentStart, parent.end, parent.depth + 1)
  }

  /** Reads the one TLV an OCTET STRING (e.g. an extension value) wraps, with the given tag. */
  encapsulated(octets: Tlv, tag: number): Tlv {
    const tlv = this.readAt(octets.contentStart, octets.end, octets.depth + 1)
    if (tlv.tag !== tag) derMalformed('unexpected tag')
    if (tlv.end !== octets.end) derMalformed('trailing bytes')
    return tlv
  }

  /** The content octets of a TLV, as a view. */
  content(tlv: Tlv): Uint8Array {
    return this.bytes.subarray(tlv.contentStart, tlv.end)
  }

  /** The whole encoding (identifier, length, content) of a TLV, as a view. */
  encoding(tlv: Tlv): Uint8Array {
    return this.bytes.subarray(tlv.start, tlv.end)
  }

  /** Reads the TLV at `offset`, which must end by `limit` (the end of its parent). */
  readAt(offset: number, limit: number, depth: number): Tlv {
    if (--this.tlvBudget < 0) derMalformed('too many TLVs')
    if (depth > this.maxDepth) derMalformed('nested too deeply')
    const b = this.bytes
    if (limit - offset < 2) derMalformed('truncated header')
    const tag = b[offset]
    // X.509 uses only low tag numbers; 0 would be BER's end-of-contents marker.
    if ((tag & 0x1f) === 0x1f || tag === 0) derMalformed('unsupported tag')
    let length = b[offset + 1]
    let p = offset + 2
    if (length >= 0x80) {
      const count = length & 0x7f
      if (count === 0) derMalformed('indefinite length')
      // Four length octets already exceed any input this reader accepts.
      if (count > 4) derMalformed('length too large')
      if (limit - p < count) derMalformed('truncated length')
      if (b[p] === 0) derMalformed('non-minimal length')
      length = 0
      for (let i = 0; i < count; i++) length = length * 256 + b[p++]
      if (length < 0x80) derMalformed('non-minimal length')
    }
    if (length > limit - p) derMalformed('length exceeds parent')
    return { tag, start: offset, contentStart: p, end: p + length, depth }
  }
}

/** Walks the children of one constructed TLV, in order. */
export class DerCursor {
  private readonly reader: DerReader
  private position: number
  private readonly limit: number
  private readonly depth: number

  constructor(reader: DerReader, start: number, limit: number, depth: number) {
    this.reader = reader
    this.position = start
    this.limit = limit
    this.depth = depth
  }

  /** True while children remain. */
  more(): boolean {
    return this.position < this.limit
  }

  /** The next child, whatever its tag. */
  next(): Tlv {
    if (this.position >= this.limit) derMalformed('missing element')
    const tlv = this.reader.readAt(this.position, this.limit, this.depth)
    this.position = tlv.end
    return tlv
  }

  /** The next child, which must have the given tag. */
  expect(tag: number): Tlv {
    const tlv = this.next()
    if (tlv.tag !== tag) derMalformed('unexpected tag')
    return tlv
  }

  /** The next child if it has the given tag (an OPTIONAL or DEFAULT field), else null. */
  optional(tag: number): Tlv | null {
    if (this.position >= this.limit || this.reader.bytes[this.position] !== tag) return null
    return this.next()
  }

  /** Asserts no children remain. */
  finish(): void {
    if (this.position !== this.limit) derMalformed('unexpected trailing element')
  }
}

/** True when two TLVs have byte-identical encodings. */
export function sameEncoding(bytes: Uint8Array, a: Tlv, b: Tlv): boolean {
  const length = a.end - a.start
  if (length !== b.end - b.start) return false
  for (let i = 0; i < length; i++) {
    if (bytes[a.start + i] !== bytes[b.start + i]) return false
  }
  return true
}
