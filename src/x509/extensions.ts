/**
 * Readers for the X.509 extensions certgate decides on (subjectAltName, extendedKeyUsage,
 * keyUsage, basicConstraints, key identifiers, CRL distribution points), and the one walk over an
 * Extensions SEQUENCE that certificates, CRLs and CRL entries share.
 * @module
 */
import { toHex } from '../bytes.ts'
import {
  type DerReader,
  derMalformed,
  sameEncoding,
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  type Tlv,
} from './der.ts'
import {
  checkOid,
  readBitString,
  readBoolean,
  readIa5String,
  readIntegerBytes,
  readOctetString,
  readOid,
  readSmallInteger,
} from './der-values.ts'
import type { CertificateFields } from './fields.ts'

const MAX_EXTENSIONS = 64
const MAX_SAN_ENTRIES = 1024
// @peculiar/x509 gives pathLength as a string from four content octets on; nothing real gets close.
const MAX_PATH_LENGTH_OCTETS = 3
const MAX_DISTRIBUTION_POINTS = 4
const MAX_URL_LENGTH = 2048

// Third content octet of the id-ce (2.5.29.x) extension OIDs read here (and, for policy
// constraints and inhibitAnyPolicy, whose criticality the trust profile checks).
export const EXT_SUBJECT_KEY_IDENTIFIER = 14
const EXT_KEY_USAGE = 15
const EXT_SUBJECT_ALT_NAME = 17
export const EXT_BASIC_CONSTRAINTS = 19
const EXT_NAME_CONSTRAINTS = 30
const EXT_CRL_DISTRIBUTION_POINTS = 31
export const EXT_AUTHORITY_KEY_IDENTIFIER = 35
export const EXT_POLICY_CONSTRAINTS = 36
const EXT_EXTENDED_KEY_USAGE = 37
export const EXT_INHIBIT_ANY_POLICY = 54

// id-ce arcs of the certificate extensions certgate processes or may safely ignore: SKI,
// keyUsage, SAN, basicConstraints, nameConstraints, CDP, certificatePolicies (no policy
// processing: as with an initial policy set of anyPolicy), AKI, EKU.
const HANDLED_EXTENSIONS = new Set([14, 15, 17, 19, 30, 31, 32, 35, 37])

// GeneralName CHOICE tags (RFC 5280 §4.2.1.6), as whole identifier octets.
export const GN_OTHER_NAME = 0xa0
export const GN_RFC822_NAME = 0x81
export const GN_DNS_NAME = 0x82
export const GN_X400_ADDRESS = 0xa3
export const GN_DIRECTORY_NAME = 0xa4
export const GN_EDI_PARTY_NAME = 0xa5
export const GN_URI = 0x86
export const GN_IP_ADDRESS = 0x87
export const GN_REGISTERED_ID = 0x88

/** One entry of an Extensions SEQUENCE. */
export interface Extension {
  /** The OID's TLV. */
  readonly id: Tlv
  /** The id-ce (2.5.29.x) arc when the OID is one with a one-octet arc, else -1. */
  readonly idCeArc: number
  readonly critical: boolean
  /** The OCTET STRING that wraps the value. */
  readonly value: Tlv
}

/** The entries of an Extensions SEQUENCE, each checked: OID, BOOLEAN, OCTET STRING, no repeats. */
export function readExtensionList(r: DerReader, list: Tlv): Extension[] {
  const bytes = r.bytes
  const entries = r.children(list)
  const found: Extension[] = []
  while (entries.more()) {
    if (found.length >= MAX_EXTENSIONS) derMalformed('too many extensions')
    const extension = r.children(entries.expect(TAG_SEQUENCE))
    const id = extension.expect(TAG_OID)
    checkOid(bytes, id)
    const criticalTlv = extension.optional(TAG_BOOLEAN)
    const critical = criticalTlv ? readBoolean(bytes, criticalTlv) : false
    const value = extension.expect(TAG_OCTET_STRING)
    extension.finish()
    for (const other of found) {
      if (sameEncoding(bytes, id, other.id)) derMalformed('duplicate extension')
    }
    // id-ce is 2.5.29, encoded 55 1D; every extension read here is id-ce with a one-octet arc.
    const s = id.contentStart
    const idCe = id.end - s === 3 && bytes[s] === 0x55 && bytes[s + 1] === 0x1d
    found.push({ id, idCeArc: idCe ? bytes[s + 2]! : -1, critical, value })
  }
  return found
}

/** What a certificate's extensions give beyond `CertificateFields`, kept for later decoding. */
export interface ExtensionsBeyondFields {
  /** The CRL distribution points extension's value, decoded on demand. */
  crlDistributionPoints: Tlv | null
  /** OID of the first critical extension certgate does not process, or null. */
  unhandledCriticalExtension: string | null
  /** subjectAltName, kept for name constraints to decode on demand. */
  subjectAltName: Extension | null
  /** nameConstraints, decoded on demand. */
  nameConstraints: Extension | null
  /** The id-ce (2.5.29.n) extensions present, by n, each with whether it is marked critical. */
  idCeCritical: ReadonlyMap<number, boolean>
}

/** What a certificate without extensions has beyond its fields. */
export const NO_EXTENSIONS_BEYOND_FIELDS: Readonly<ExtensionsBeyondFields> = {
  crlDistributionPoints: null,
  unhandledCriticalExtension: null,
  subjectAltName: null,
  nameConstraints: null,
  idCeCritical: new Map(),
}

/** Reads a certificate's `[3] Extensions` into `fields`; returns what the fields do not hold. */
export function readCertificateExtensions(
  r: DerReader,
  wrapper: Tlv,
  fields: CertificateFields
): ExtensionsBeyondFields {
  const outer = r.children(wrapper)
  const list = outer.expect(TAG_SEQUENCE)
  outer.finish()
  const idCeCritical = new Map<number, boolean>()
  const beyond: ExtensionsBeyondFields = { ...NO_EXTENSIONS_BEYOND_FIELDS, idCeCritical }
  for (const extension of readExtensionList(r, list)) {
    const { id, idCeArc, critical, value } = extension
    if (idCeArc !== -1) idCeCritical.set(idCeArc, critical)
    if (critical && !HANDLED_EXTENSIONS.has(idCeArc)) {
      beyond.unhandledCriticalExtension ??= readOid(r.bytes, id)
    }
    switch (idCeArc) {
      case EXT_SUBJECT_ALT_NAME:
        readSubjectAltName(r, value, fields)
        beyond.subjectAltName = extension
        break
      case EXT_NAME_CONSTRAINTS:
        beyond.nameConstraints = extension
        break
      case EXT_EXTENDED_KEY_USAGE:
        fields.extendedKeyUsages = readExtendedKeyUsage(r, value)
        break
      case EXT_KEY_USAGE:
        fields.keyUsage = readKeyUsage(r, value)
        break
      case EXT_BASIC_CONSTRAINTS:
        fields.basicConstraints = readBasicConstraints(r, value)
        break
      case EXT_SUBJECT_KEY_IDENTIFIER:
        fields.subjectKeyIdentifier = toHex(
          readOctetString(r.bytes, r.encapsulated(value, TAG_OCTET_STRING))
        )
        break
      case EXT_AUTHORITY_KEY_IDENTIFIER:
        fields.authorityKeyIdentifier = readAuthorityKeyIdentifier(r, value)
        break
      case EXT_CRL_DISTRIBUTION_POINTS:
        beyond.crlDistributionPoints = value
        break
    }
  }
  return beyond
}

function readSubjectAltName(r: DerReader, value: Tlv, fields: CertificateFields): void {
  const bytes = r.bytes
  const names = r.children(r.encapsulated(value, TAG_SEQUENCE))
  let count = 0
  while (names.more()) {
    if (++count > MAX_SAN_ENTRIES) derMalformed('too many subject alternative names')
    const name = names.next()
    switch (name.tag) {
      case GN_DNS_NAME:
        fields.dnsNames.push(readIa5String(bytes, name))
        break
      case GN_URI:
        fields.uris.push(readIa5String(bytes, name))
        break
      case GN_RFC822_NAME:
        fields.emails.push(readIa5String(bytes, name))
        break
      case GN_IP_ADDRESS:
        fields.ips.push(formatIp(bytes.subarray(name.contentStart, name.end)))
        break
      case GN_REGISTERED_ID:
        checkOid(bytes, { ...name, tag: TAG_OID })
        break
      case GN_OTHER_NAME:
      case GN_X400_ADDRESS:
      case GN_DIRECTORY_NAME:
      case GN_EDI_PARTY_NAME:
        // Not read by certgate; its TLV framing was checked, its content is not looked at.
        break
      default:
        derMalformed('unknown GeneralName')
    }
  }
}

/** Dotted IPv4, or IPv6 as the reference prints it: lowercase, longest zero run (≥ 2) as `::`. */
function formatIp(octets: Uint8Array): string {
  if (octets.length === 4) return `${octets[0]}.${octets[1]}.${octets[2]}.${octets[3]}`
  // Address-and-mask forms (8 and 32 octets) belong to name constraints, not to a SAN.
  if (octets.length !== 16) return derMalformed('bad iPAddress')
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((octets[i] << 8) | octets[i + 1])
  let bestStart = -1
  let bestLength = 0
  let runStart = -1
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && groups[i] === 0) {
      if (runStart === -1) runStart = i
    } else if (runStart !== -1) {
      if (i - runStart > bestLength) {
        bestStart = runStart
        bestLength = i - runStart
      }
      runStart = -1
    }
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestLength < 2) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

function readExtendedKeyUsage(r: DerReader, value: Tlv): string[] {
  const purposes = r.children(r.encapsulated(value, TAG_SEQUENCE))
  const usages: string[] = []
  while (purposes.more()) usages.push(readOid(r.bytes, purposes.expect(TAG_OID)))
  return usages
}

/** KeyUsage as @peculiar/x509's KeyUsageFlags: named bit n (first octet's MSB is 0) → 2^n. */
function readKeyUsage(r: DerReader, value: Tlv): number {
  const bits = readBitString(r.bytes, r.encapsulated(value, TAG_BIT_STRING))
  if (bits.data.length === 0) derMalformed('empty KeyUsage')
  if (bits.data.length > 4) derMalformed('KeyUsage too long')
  let flags = 0
  for (let i = bits.data.length - 1; i >= 0; i--) flags = flags * 256 + reverseBits(bits.data[i])
  return flags
}

function reverseBits(octet: number): number {
  let reversed = 0
  for (let i = 0; i < 8; i++) reversed |= ((octet >> i) & 1) << (7 - i)
  return reversed
}

function readBasicConstraints(
  r: DerReader,
  value: Tlv
): { ca: boolean; pathLength: number | null } {
  const c = r.children(r.encapsulated(value, TAG_SEQUENCE))
  const caTlv = c.optional(TAG_BOOLEAN)
  const ca = caTlv ? readBoolean(r.bytes, caTlv) : false
  const pathTlv = c.optional(TAG_INTEGER)
  c.finish()
  if (!pathTlv) return { ca, pathLength: null }
  const pathLength = readSmallInteger(r.bytes, pathTlv, MAX_PATH_LENGTH_OCTETS)
  if (pathLength < 0) derMalformed('negative pathLenConstraint')
  return { ca, pathLength }
}

/** authorityKeyIdentifier's keyIdentifier, uppercase hex, or null (for certificates and CRLs). */
export function readAuthorityKeyIdentifier(r: DerReader, value: Tlv): string | null {
  const c = r.children(r.encapsulated(value, TAG_SEQUENCE))
  const keyId = c.optional(0x80)
  c.optional(0xa1)
  const serial = c.optional(0x82)
  c.finish()
  if (serial) readIntegerBytes(r.bytes, { ...serial, tag: TAG_INTEGER })
  // The reference treats an empty keyIdentifier as absent.
  if (!keyId || keyId.end === keyId.contentStart) return null
  return toHex(r.content(keyId))
}

/**
 * CRLDistributionPoints → http(s) URIs of the points that give a complete CRL from the
 * certificate's own issuer: points with `reasons` (partitioned) or `cRLIssuer` (indirect) are
 * skipped, as are relative names and non-URI names.
 */
export function readDistributionPoints(r: DerReader, value: Tlv): string[] {
  const urls: string[] = []
  const points = r.children(r.encapsulated(value, TAG_SEQUENCE))
  while (points.more()) {
    const point = r.children(points.expect(TAG_SEQUENCE))
    const name = point.optional(0xa0)
    const reasons = point.optional(0x81)
    const crlIssuer = point.optional(0xa2)
    point.finish()
    if (!name || reasons || crlIssuer) continue
    const fullName = r.children(name).optional(0xa0)
    if (!fullName) continue
    const names = r.children(fullName)
    while (names.more()) {
      const general = names.next()
      if (general.tag !== GN_URI) continue
      const url = readIa5String(r.bytes, general)
      if (url.length > MAX_URL_LENGTH || !/^https?:\/\//i.test(url)) continue
      if (urls.length < MAX_DISTRIBUTION_POINTS) urls.push(url)
    }
  }
  return urls
}
