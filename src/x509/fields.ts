/**
 * Reads the few X.509 fields certgate decides on from a certificate's DER bytes, with the lean
 * bounded reader in `der.ts` (a few µs, where @peculiar/x509 takes milliseconds).
 *
 * The output matches what @peculiar/x509 2.x gives for the same certificate, RFC 4514 formatting
 * included (`test/support/reference-fields.ts` is that reference; a differential test holds the
 * two together). Where the reference is lenient (BER, odd times, non-minimal integers, …) this
 * reader refuses instead, so whenever both accept a certificate they agree.
 *
 * One walk per certificate: {@link parseCertificate} gives the fields and, from the same walk,
 * what signature, path and revocation checks need.
 * @module
 */
import {
  DerReader,
  derMalformed,
  sameEncoding,
  TAG_BIT_STRING,
  TAG_INTEGER,
  TAG_NULL,
  TAG_OID,
  TAG_SEQUENCE,
  type Tlv,
} from './der.ts'
import {
  checkOid,
  readBitString,
  readIntegerBytes,
  readNull,
  readOid,
  readSmallInteger,
  readTime,
  serialNumberHex,
} from './der-values.ts'
import {
  type Extension,
  NO_EXTENSIONS_BEYOND_FIELDS,
  readCertificateExtensions,
  readDistributionPoints,
} from './extensions.ts'
import { readName } from './name.ts'
import {
  type CertificateNames,
  type NameConstraints,
  readCertificateNames,
  readNameConstraints,
} from './name-constraints.ts'
import { toHex } from '../bytes.ts'

/** The fields certgate reads from one certificate. Names are RFC 4514 strings. */
export interface CertificateFields {
  /**
   * Serial number, uppercase hex, without the sign octet DER adds (`00` before a high bit); a
   * negative one is `-` and its magnitude's hex (−128 is `-80`).
   */
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
  /** The DER of signatureAlgorithm's parameters (RSA-PSS's SEQUENCE), or null when absent or NULL. */
  signatureParameters: Uint8Array<ArrayBuffer> | null
}

/** What path and revocation checks need from a certificate beyond `CertificateFields`. */
export interface CertificateExtras {
  /** The issuer Name's DER as hex: CRLs are matched to certificates by exact Name bytes. */
  readonly issuerNameKey: string
  /** http(s) URIs of complete CRLs for this certificate's issuer (at most 4). */
  readonly distributionPoints: readonly string[]
  /** OID of the first critical extension certgate does not process, or null. */
  readonly unhandledCriticalExtension: string | null
  /** The id-ce (2.5.29.n) extensions present, by n, each with whether it is marked critical. */
  readonly idCeCritical: ReadonlyMap<number, boolean>
}

const LIMITS = {
  maxLength: 64 * 1024,
  // A certificate nests about 9 deep (SAN directoryName); room to spare, none for bombs.
  maxDepth: 16,
  maxTlvs: 8192,
}
const MAX_SERIAL_OCTETS = 64

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1'

/** Where the parts of one certificate sit, from its one walk. */
interface Walk {
  readonly fields: CertificateFields
  readonly tbs: Tlv
  readonly issuer: Tlv
  readonly subject: Tlv
  readonly spki: Tlv
  readonly signatureAlgorithm: string
  readonly signatureParameters: Tlv | null
  readonly signatureValue: Uint8Array
  readonly publicKeyAlgorithm: string
  readonly namedCurve: string | null
  readonly crlDistributionPoints: Tlv | null
  readonly unhandledCriticalExtension: string | null
  readonly idCeCritical: ReadonlyMap<number, boolean>
  readonly subjectAltName: Extension | null
  readonly nameConstraints: Extension | null
}

/**
 * One certificate, walked once: its fields at once, and what signature and path checks need
 * taken from the same walk on first use.
 */
export class ParsedCertificate {
  readonly fields: CertificateFields
  readonly #reader: DerReader
  readonly #walk: Walk
  #parts: CertificateSignatureParts | null = null
  #extras: CertificateExtras | null = null
  #names: CertificateNames | null = null
  #nameConstraints: NameConstraints | null | undefined

  constructor(reader: DerReader, walk: Walk) {
    this.fields = walk.fields
    this.#reader = reader
    this.#walk = walk
  }

  /** What verifying the certificate's signature needs. */
  signatureParts(): CertificateSignatureParts {
    const der = this.#reader.bytes
    const w = this.#walk
    this.#parts ??= {
      tbsCertificate: der.slice(w.tbs.start, w.tbs.end),
      signatureAlgorithm: w.signatureAlgorithm,
      signatureValue: w.signatureValue.slice(),
      subjectPublicKeyInfo: der.slice(w.spki.start, w.spki.end),
      publicKeyAlgorithm: w.publicKeyAlgorithm,
      namedCurve: w.namedCurve,
      signatureParameters:
        w.signatureParameters === null
          ? null
          : der.slice(w.signatureParameters.start, w.signatureParameters.end),
    }
    return this.#parts
  }

  /**
   * The issuer's raw Name, CRL distribution points and the first unhandled critical extension.
   * Throws ERR_CERT_MALFORMED when the distribution points extension is malformed: it is decoded
   * here, not in the walk, so a certificate no path check looks at is not refused for it.
   */
  extras(): CertificateExtras {
    const r = this.#reader
    const w = this.#walk
    this.#extras ??= {
      issuerNameKey: toHex(r.encoding(w.issuer)),
      distributionPoints:
        w.crlDistributionPoints === null ? [] : readDistributionPoints(r, w.crlDistributionPoints),
      unhandledCriticalExtension: w.unhandledCriticalExtension,
      idCeCritical: w.idCeCritical,
    }
    return this.#extras
  }

  /** The names name constraints apply to. Decoded on first use; throws ERR_CERT_MALFORMED. */
  names(): CertificateNames {
    this.#names ??= readCertificateNames(this.#reader, this.#walk.subject, this.#walk.subjectAltName)
    return this.#names
  }

  /** The nameConstraints extension, or null. Decoded on first use; throws ERR_CERT_MALFORMED. */
  nameConstraints(): NameConstraints | null {
    const extension = this.#walk.nameConstraints
    if (this.#nameConstraints === undefined) {
      this.#nameConstraints = extension && readNameConstraints(this.#reader, extension)
    }
    return this.#nameConstraints
  }
}

/** Walks a certificate; throws ERR_CERT_MALFORMED when the bytes are not one X.509 certificate. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const r = new DerReader(der, LIMITS)
  return new ParsedCertificate(r, walk(r))
}

/** Reads the fields; throws ERR_CERT_MALFORMED when the bytes are not one X.509 certificate. */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  return parseCertificate(der).fields
}

/**
 * Reads what signature verification needs. Validates the whole certificate exactly as
 * `readCertificateFields` does; throws ERR_CERT_MALFORMED the same way.
 */
export function readSignatureParts(der: Uint8Array): CertificateSignatureParts {
  return parseCertificate(der).signatureParts()
}

/** Reads what path and revocation checks need beyond the fields; throws as `extras()` does. */
export function readCertificateExtras(der: Uint8Array): CertificateExtras {
  return parseCertificate(der).extras()
}

function walk(r: DerReader): Walk {
  const der = r.bytes
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
  const issuer = t.expect(TAG_SEQUENCE)
  const issuerName = readName(r, issuer)
  const validity = r.children(t.expect(TAG_SEQUENCE))
  const notBefore = readTime(der, validity.next())
  const notAfter = readTime(der, validity.next())
  validity.finish()
  const subject = t.expect(TAG_SEQUENCE)
  const subjectName = readName(r, subject)
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

  if (!sameEncoding(der, innerAlgorithm, outerAlgorithm)) {
    derMalformed('signature algorithms differ')
  }
  const signatureAlgorithm = readAlgorithm(r, outerAlgorithm)
  const key = readPublicKey(r, spki)

  const fields: CertificateFields = {
    serialNumber: serialNumberHex(serial),
    subject: subjectName.dn,
    issuer: issuerName.dn,
    commonName: subjectName.commonName,
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
  const beyond = extensions ? readCertificateExtensions(r, extensions, fields) : NO_EXTENSIONS_BEYOND_FIELDS
  return {
    fields,
    tbs,
    issuer,
    subject,
    spki,
    signatureAlgorithm: signatureAlgorithm.oid,
    signatureParameters:
      signatureAlgorithm.parameters?.tag === TAG_NULL ? null : signatureAlgorithm.parameters,
    signatureValue: signature.data,
    publicKeyAlgorithm: key.algorithm,
    namedCurve: key.namedCurve,
    ...beyond,
  }
}

/** SubjectPublicKeyInfo → its algorithm OID and, for EC keys, the named curve's OID. */
function readPublicKey(r: DerReader, spki: Tlv): { algorithm: string; namedCurve: string | null } {
  const key = r.children(spki)
  const algorithm = readAlgorithm(r, key.expect(TAG_SEQUENCE))
  // Every key type in use (RSA, EC, EdDSA) is whole octets; also keeps SPKI bytes unambiguous.
  if (readBitString(r.bytes, key.expect(TAG_BIT_STRING)).unusedBits !== 0) {
    derMalformed('odd key bits')
  }
  key.finish()
  const namedCurve =
    algorithm.oid === OID_EC_PUBLIC_KEY && algorithm.parameters?.tag === TAG_OID
      ? readOid(r.bytes, algorithm.parameters)
      : null
  return { algorithm: algorithm.oid, namedCurve }
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
