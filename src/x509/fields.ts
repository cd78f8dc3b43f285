/**
 * Reads the few X.509 fields certgate decides on from a certificate's DER bytes, with the lean
 * bounded reader in `der.ts` (a few µs, where @peculiar/x509 takes milliseconds).
 *
 * The output matches what @peculiar/x509 2.x gives for the same certificate, RFC 4514 formatting
 * included (`test/support/reference-fields.ts` is that reference; a differential test holds the
 * two together). Where the reference is lenient (BER, odd times, non-minimal integers, …) this
 * reader refuses instead, so whenever both accept a certificate they agree.
 * @module
 */
import {
  checkOid,
  DerReader,
  isConstructedStringTag,
  isStringTag,
  derMalformed,
  readBitString,
  readBoolean,
  readIa5String,
  readIntegerBytes,
  readNull,
  readOctetString,
  readOid,
  readSmallInteger,
  readString,
  readTime,
  sameEncoding,
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_NULL,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_SET,
  type Tlv,
} from './der.ts'
import { toHex, toHexLower } from '../bytes.ts'

/** The fields certgate reads from one certificate. Names are RFC 4514 strings. */
export interface CertificateFields {
  /** Serial number, uppercase hex, without the sign octet DER adds (`00` before a high bit). */
  serialNumber: string
  /** Subject DN in RFC 4514 form (most specific RDN first, `,` between RDNs, `+` inside one). */
  subject: string
  /** Issuer DN in RFC 4514 form. */
  issuer: string
  /** The most specific CN of the subject, or null when it has none. */
  commonName: string | null
  notBefore: Date
  notAfter: Date
  dnsNames: string[]
  uris: string[]
  emails: string[]
  /** IP SANs as text: dotted IPv4, or IPv6 in RFC 5952 form. */
  ips: string[]
  /** Extended key usage OIDs, or null when the extension is absent. */
  extendedKeyUsages: string[] | null
  /** KeyUsage bits (bit 0 = digitalSignature … bit 8 = decipherOnly as x509.KeyUsageFlags), or null when absent. */
  keyUsage: number | null
  /** basicConstraints, or null when absent. */
  basicConstraints: { ca: boolean; pathLength: number | null } | null
  /** Subject key identifier, uppercase hex, or null. */
  subjectKeyIdentifier: string | null
  /** Authority key identifier (keyIdentifier), uppercase hex, or null. */
  authorityKeyIdentifier: string | null
}

/**
 * What verifying a certificate's signature needs. Byte fields are copies (detached from the
 * input, and `ArrayBuffer`-backed so Web Crypto takes them as they are).
 */
export interface CertificateSignatureParts {
  /** The exact DER bytes of tbsCertificate: what the issuer signed. */
  tbsCertificate: Uint8Array<ArrayBuffer>
  /** signatureAlgorithm OID (checked equal, parameters included, to the one inside the TBS). */
  signatureAlgorithm: string
  /** The signature BIT STRING's octets. For ECDSA this is a DER Ecdsa-Sig-Value, not r‖s. */
  signatureValue: Uint8Array<ArrayBuffer>
  /** The whole SubjectPublicKeyInfo DER, ready for `crypto.subtle.importKey('spki', …)`. */
  subjectPublicKeyInfo: Uint8Array<ArrayBuffer>
  /** The subject public key's algorithm OID (1.2.840.10045.2.1 EC, 1.2.840.113549.1.1.1 RSA, …). */
  publicKeyAlgorithm: string
  /** For EC keys, the named curve's OID (e.g. 1.2.840.10045.3.1.7 for P-256); otherwise null. */
  namedCurve: string | null
}

const LIMITS = {
  maxLength: 64 * 1024,
  // A certificate nests about 9 deep (SAN directoryName); room to spare, none for bombs.
  maxDepth: 16,
  maxTlvs: 8192,
}
const MAX_SAN_ENTRIES = 1024
const MAX_NAME_ATTRIBUTES = 64
const MAX_EXTENSIONS = 64
const MAX_SERIAL_OCTETS = 64
// @peculiar/x509 gives pathLength as a string from four content octets on; nothing real gets close.
const MAX_PATH_LENGTH_OCTETS = 3

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1'

/**
 * Short names for attribute types: RFC 4514's, plus the ones @peculiar/x509's `Name.toJSON()`
 * uses (E, G, I, SN = surname, T). Other types print as dotted OIDs.
 */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.42': 'G',
  '2.5.4.43': 'I',
  '2.5.4.4': 'SN',
  '2.5.4.12': 'T',
}

// Third content octet of the id-ce (2.5.29.x) extension OIDs read here.
const EXT_SUBJECT_KEY_IDENTIFIER = 14
const EXT_KEY_USAGE = 15
const EXT_SUBJECT_ALT_NAME = 17
const EXT_BASIC_CONSTRAINTS = 19
const EXT_AUTHORITY_KEY_IDENTIFIER = 35
const EXT_EXTENDED_KEY_USAGE = 37

// GeneralName CHOICE tags (RFC 5280 §4.2.1.6), as whole identifier octets.
const GN_OTHER_NAME = 0xa0
const GN_RFC822_NAME = 0x81
const GN_DNS_NAME = 0x82
const GN_X400_ADDRESS = 0xa3
const GN_DIRECTORY_NAME = 0xa4
const GN_EDI_PARTY_NAME = 0xa5
const GN_URI = 0x86
const GN_IP_ADDRESS = 0x87
const GN_REGISTERED_ID = 0x88

interface Decoded {
  fields: CertificateFields
  tbs: Tlv
  signatureAlgorithm: string
  signatureValue: Uint8Array
  spki: Tlv
  publicKeyAlgorithm: string
  namedCurve: string | null
}

/** Reads the fields; throws ERR_CERT_MALFORMED when the bytes are not one X.509 certificate. */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  return decode(der).fields
}

/**
 * Reads what signature verification needs. Validates the whole certificate exactly as
 * `readCertificateFields` does; throws ERR_CERT_MALFORMED the same way.
 */
export function readSignatureParts(der: Uint8Array): CertificateSignatureParts {
  const decoded = decode(der)
  return {
    tbsCertificate: der.slice(decoded.tbs.start, decoded.tbs.end),
    signatureAlgorithm: decoded.signatureAlgorithm,
    signatureValue: decoded.signatureValue.slice(),
    subjectPublicKeyInfo: der.slice(decoded.spki.start, decoded.spki.end),
    publicKeyAlgorithm: decoded.publicKeyAlgorithm,
    namedCurve: decoded.namedCurve,
  }
}

function decode(der: Uint8Array): Decoded {
  const r = new DerReader(der, LIMITS)
  const certificate = r.children(r.root(TAG_SEQUENCE))
  const tbs = certificate.expect(TAG_SEQUENCE)
  const outerAlgorithm = certificate.expect(TAG_SEQUENCE)
  const signature = readBitString(der, certificate.expect(TAG_BIT_STRING))
  certificate.finish()
  if (signature.unusedBits !== 0) derMalformed('signature is not whole octets')

  const t = r.children(tbs)
  let version = 0
  const versionTlv = t.optional(0xa0)
  if (versionTlv) {
    const v = r.children(versionTlv)
    version = readSmallInteger(der, v.expect(TAG_INTEGER), 1)
    v.finish()
    if (version < 0 || version > 2) derMalformed('unknown version')
  }
  const serial = readIntegerBytes(der, t.expect(TAG_INTEGER))
  if (serial.length > MAX_SERIAL_OCTETS) derMalformed('serial number too long')
  const innerAlgorithm = t.expect(TAG_SEQUENCE)
  const issuer = readName(r, t.expect(TAG_SEQUENCE))
  const validity = r.children(t.expect(TAG_SEQUENCE))
  const notBefore = readTime(der, validity.next())
  const notAfter = readTime(der, validity.next())
  validity.finish()
  const subject = readName(r, t.expect(TAG_SEQUENCE))
  const spki = t.expect(TAG_SEQUENCE)
  // issuerUniqueID and subjectUniqueID: v2 and v3 only; skipped, but checked to be BIT STRINGs.
  const issuerUid = t.optional(0x81)
  const subjectUid = t.optional(0x82)
  if ((issuerUid || subjectUid) && version < 1) derMalformed('unique ID before v2')
  if (issuerUid) readBitString(der, { ...issuerUid, tag: TAG_BIT_STRING })
  if (subjectUid) readBitString(der, { ...subjectUid, tag: TAG_BIT_STRING })
  const extensions = t.optional(0xa3)
  t.finish()
  if (extensions && version !== 2) derMalformed('extensions before v3')

  if (!sameEncoding(der, innerAlgorithm, outerAlgorithm)) derMalformed('signature algorithms differ')
  const signatureAlgorithm = readAlgorithm(r, outerAlgorithm).oid

  const key = r.children(spki)
  const keyAlgorithm = readAlgorithm(r, key.expect(TAG_SEQUENCE))
  // Every key type in use (RSA, EC, EdDSA) is whole octets; also keeps SPKI bytes unambiguous.
  if (readBitString(der, key.expect(TAG_BIT_STRING)).unusedBits !== 0) derMalformed('odd key bits')
  key.finish()
  const namedCurve =
    keyAlgorithm.oid === OID_EC_PUBLIC_KEY && keyAlgorithm.parameters?.tag === TAG_OID
      ? readOid(der, keyAlgorithm.parameters)
      : null

  const fields: CertificateFields = {
    serialNumber: toHex(serial.length > 1 && serial[0] === 0 ? serial.subarray(1) : serial),
    subject: subject.dn,
    issuer: issuer.dn,
    commonName: subject.commonName,
    notBefore,
    notAfter,
    dnsNames: [],
    uris: [],
    emails: [],
    ips: [],
    extendedKeyUsages: null,
    keyUsage: null,
    basicConstraints: null,
    subjectKeyIdentifier: null,
    authorityKeyIdentifier: null,
  }
  if (extensions) readExtensions(r, extensions, fields)
  return {
    fields,
    tbs,
    signatureAlgorithm,
    signatureValue: signature.data,
    spki,
    publicKeyAlgorithm: keyAlgorithm.oid,
    namedCurve,
  }
}

interface Algorithm {
  oid: string
  parameters: Tlv | null
}

function readAlgorithm(r: DerReader, tlv: Tlv): Algorithm {
  const c = r.children(tlv)
  const oid = readOid(r.bytes, c.expect(TAG_OID))
  const parameters = c.more() ? c.next() : null
  c.finish()
  // Algorithms in use take no parameters, NULL, a curve OID or a SEQUENCE (RSA-PSS, explicit
  // curves); anything else is refused rather than carried along unread.
  if (parameters?.tag === TAG_NULL) readNull(parameters)
  else if (parameters?.tag === TAG_OID) checkOid(r.bytes, parameters)
  else if (parameters && parameters.tag !== TAG_SEQUENCE) derMalformed('odd algorithm parameters')
  return { oid, parameters }
}

interface ReadName {
  dn: string
  commonName: string | null
}

/**
 * Name → RFC 4514 string, formatted as the reference does: RDNs reversed; inside a multi-valued
 * RDN, values grouped by attribute type in order of each type's first appearance.
 */
function readName(r: DerReader, name: Tlv): ReadName {
  const bytes = r.bytes
  const rdns = r.children(name)
  let dn = ''
  let commonName: string | null = null
  let attributes = 0
  while (rdns.more()) {
    const set = r.children(rdns.expect(TAG_SET))
    const types: string[] = []
    const values: string[] = []
    do {
      if (++attributes > MAX_NAME_ATTRIBUTES) derMalformed('too many name attributes')
      const atv = r.children(set.expect(TAG_SEQUENCE))
      const oid = readOid(bytes, atv.expect(TAG_OID))
      const value = atv.next()
      atv.finish()
      let text: string
      if (isStringTag(value.tag)) {
        text = readString(bytes, value)
        if (oid === '2.5.4.3') commonName = text
      } else {
        if (isConstructedStringTag(value.tag)) derMalformed('constructed string')
        const hex = toHexLower(r.encoding(value))
        if (oid === '2.5.4.3') commonName = hex
        text = `#${hex}`
      }
      types.push(SHORT_NAMES[oid] ?? oid)
      values.push(escapeValue(text))
    } while (set.more())
    const rdn = types.length === 1 ? `${types[0]}=${values[0]}` : groupByType(types, values)
    dn = dn === '' ? rdn : `${rdn},${dn}`
  }
  return { dn, commonName }
}

function groupByType(types: string[], values: string[]): string {
  let text = ''
  const done: boolean[] = []
  for (let i = 0; i < types.length; i++) {
    if (done[i]) continue
    for (let j = i; j < types.length; j++) {
      if (types[j] !== types[i]) continue
      done[j] = true
      text += `${text === '' ? '' : '+'}${types[j]}=${values[j]}`
    }
  }
  return text
}

const NEEDS_ESCAPE = /[\\,+"<>;=]|^[ #]| $/

// Exactly the reference's escaping (it is applied to '#hex' values too, as the reference does).
function escapeValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
}

function readExtensions(r: DerReader, wrapper: Tlv, fields: CertificateFields): void {
  const bytes = r.bytes
  const outer = r.children(wrapper)
  const list = r.children(outer.expect(TAG_SEQUENCE))
  outer.finish()
  const seen: Tlv[] = []
  while (list.more()) {
    if (seen.length >= MAX_EXTENSIONS) derMalformed('too many extensions')
    const extension = r.children(list.expect(TAG_SEQUENCE))
    const id = extension.expect(TAG_OID)
    checkOid(bytes, id)
    const critical = extension.optional(TAG_BOOLEAN)
    if (critical) readBoolean(bytes, critical)
    const value = extension.expect(TAG_OCTET_STRING)
    extension.finish()
    for (const other of seen) {
      if (sameEncoding(bytes, id, other)) derMalformed('duplicate extension')
    }
    seen.push(id)
    // id-ce is 2.5.29, encoded 55 1D; every extension read here is id-ce with a one-octet arc.
    const s = id.contentStart
    if (id.end - s !== 3 || bytes[s] !== 0x55 || bytes[s + 1] !== 0x1d) continue
    switch (bytes[s + 2]) {
      case EXT_SUBJECT_ALT_NAME:
        readSubjectAltName(r, value, fields)
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
          readOctetString(bytes, r.encapsulated(value, TAG_OCTET_STRING))
        )
        break
      case EXT_AUTHORITY_KEY_IDENTIFIER:
        fields.authorityKeyIdentifier = readAuthorityKeyIdentifier(r, value)
        break
    }
  }
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

function readAuthorityKeyIdentifier(r: DerReader, value: Tlv): string | null {
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
