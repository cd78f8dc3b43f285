/**
 * Certificate revocation lists: a strict, bounded parser for CertificateList (RFC 5280 §5) on the
 * DER reader certificates use, and the reading of CRL input (PEM `X509 CRL` or `CRL` blocks, or
 * DER). A CRL with any critical extension is refused: delta CRLs, partitioned and indirect CRLs
 * change what a CRL covers, which certgate does not model. A CRL without a CRLNumber is refused
 * too: RFC 5280 has every conforming CRL issuer include one (so every CRL is a v2 CRL).
 * @module
 */
import { CertgateError, isCertgateError, malformed } from '../errors.ts'
import {
  DerReader,
  sameEncoding,
  TAG_BIT_STRING,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_UTC_TIME,
  type Tlv,
} from './der.ts'
import {
  readBitString,
  readIntegerBytes,
  readOid,
  readSmallInteger,
  readTime,
  serialNumberHex,
} from './der-values.ts'
import {
  EXT_AUTHORITY_KEY_IDENTIFIER,
  readAuthorityKeyIdentifier,
  readExtensionList,
} from './extensions.ts'
import { decodePem } from './pem.ts'
import { toHex } from '../bytes.ts'
import type { SignedObject } from './signature.ts'

/** One parsed CRL. */
export interface CertificateList {
  /** The CRL's DER (a copy of the input). */
  readonly der: Uint8Array<ArrayBuffer>
  /** The issuer Name's DER as hex: CRLs are matched to CAs by exact Name bytes. */
  readonly issuerNameKey: string
  /** authorityKeyIdentifier keyIdentifier, uppercase hex, or null. */
  readonly authorityKeyIdentifier: string | null
  readonly thisUpdate: number
  /** null when the CRL has none (RFC 5280 requires one; such a CRL never goes stale here). */
  readonly nextUpdate: number | null
  /** Revoked serials, formatted as `CertificateFields.serialNumber`. */
  readonly revoked: ReadonlySet<string>
  readonly signedObject: SignedObject
}

/** Bounds for one CRL: far larger than a certificate's, as a CRL lists one entry per revocation. */
export const CRL_LIMITS = { maxLength: 64 * 1024 * 1024, maxDepth: 10, maxTlvs: 32 * 1024 * 1024 }

// RFC 7468's label, and the one @peculiar/x509 writes.
const CRL_LABELS = ['X509 CRL', 'CRL']
// id-ce-cRLNumber, 2.5.29.20.
const EXT_CRL_NUMBER = 20

const INVALID_MESSAGE = 'The revocation status of a certificate could not be established.'

/** The error every unusable CRL becomes: ERR_CRL_INVALID, `reason` as its cause. */
export function invalidCrl(reason: string): CertgateError {
  return malformed('ERR_CRL_INVALID', INVALID_MESSAGE, reason)
}

/**
 * PEM text (`X509 CRL` or `CRL` blocks, text around them skipped) or DER → the parsed CRLs.
 * Throws ERR_CRL_INVALID (cause: a short reason) when there is none, or one does not parse.
 */
export function readCrls(input: string | Uint8Array): CertificateList[] {
  if (typeof input !== 'string') return [parseCrl(input)]
  let ders: Uint8Array[]
  try {
    ders = decodePem(input, { labels: CRL_LABELS })
  } catch (error) {
    throw invalidCrl(`unreadable PEM: ${reasonOf(error)}`)
  }
  if (ders.length === 0) throw invalidCrl('no X509 CRL PEM block')
  return ders.map(parseCrl)
}

/**
 * The DER of each CRL in PEM text or DER bytes, each checked to parse. Throws ERR_CRL_INVALID
 * as {@link readCrls} does.
 */
export function decodeCrls(input: string | Uint8Array): Uint8Array[] {
  return readCrls(input).map((crl) => crl.der)
}

/**
 * Parses one DER CRL. Throws ERR_CRL_INVALID (cause: a short reason) for anything that is not a
 * strictly encoded v1/v2 CRL, or that has a critical CRL or entry extension.
 */
export function parseCrl(der: Uint8Array): CertificateList {
  try {
    return decodeCrl(der)
  } catch (error) {
    if (isCertgateError(error) && error.code === 'ERR_CERT_MALFORMED') {
      throw invalidCrl(`malformed CRL: ${reasonOf(error)}`)
    }
    throw error
  }
}

function reasonOf(error: unknown): string {
  return error instanceof Error && error.cause instanceof Error ? error.cause.message : 'unknown'
}

function decodeCrl(der: Uint8Array): CertificateList {
  const r = new DerReader(der, CRL_LIMITS)
  const list = r.children(r.root(TAG_SEQUENCE))
  const tbs = list.expect(TAG_SEQUENCE)
  const outerAlgorithm = list.expect(TAG_SEQUENCE)
  const signature = list.expect(TAG_BIT_STRING)
  list.finish()
  if (readBitString(der, signature).unusedBits !== 0) {
    throw invalidCrl('signature is not whole octets')
  }

  const t = r.children(tbs)
  const versionTlv = t.optional(TAG_INTEGER)
  const version = versionTlv ? readSmallInteger(der, versionTlv, 1) : 0
  if (versionTlv && version !== 1) throw invalidCrl('unknown CRL version')
  const innerAlgorithm = t.expect(TAG_SEQUENCE)
  if (!sameEncoding(der, innerAlgorithm, outerAlgorithm)) throw invalidCrl('algorithms differ')
  const issuer = t.expect(TAG_SEQUENCE)
  const thisUpdate = readTime(der, t.next()).getTime()
  const nextTlv = t.optional(TAG_UTC_TIME) ?? t.optional(TAG_GENERALIZED_TIME)
  const nextUpdate = nextTlv ? readTime(der, nextTlv).getTime() : null
  const entries = t.optional(TAG_SEQUENCE)
  const revoked = entries ? readRevoked(r, entries, version) : new Set<string>()
  const extensions = t.optional(0xa0)
  t.finish()
  if (!extensions) throw invalidCrl('no CRLNumber')
  if (version !== 1) throw invalidCrl('extensions in a v1 CRL')
  const wrapper = r.children(extensions)
  const extensionList = wrapper.expect(TAG_SEQUENCE)
  wrapper.finish()
  const { authorityKeyIdentifier, hasCrlNumber } = readCrlExtensions(r, extensionList)
  if (!hasCrlNumber) throw invalidCrl('no CRLNumber')
  const algorithm = r.children(outerAlgorithm)
  // One copy, detached from the input, that the signed parts are views of.
  const own = new Uint8Array(der)
  return {
    der: own,
    issuerNameKey: toHex(r.encoding(issuer)),
    authorityKeyIdentifier,
    thisUpdate,
    nextUpdate,
    revoked,
    signedObject: {
      signed: own.subarray(tbs.start, tbs.end),
      algorithm: readOid(der, algorithm.expect(TAG_OID)),
      signature: own.subarray(signature.contentStart + 1, signature.end),
    },
  }
}

/** revokedCertificates → the serials, formatted as certificates' serial numbers are. */
function readRevoked(r: DerReader, entries: Tlv, version: number): Set<string> {
  const revoked = new Set<string>()
  const e = r.children(entries)
  while (e.more()) {
    const entry = r.children(e.expect(TAG_SEQUENCE))
    const serial = readIntegerBytes(r.bytes, entry.expect(TAG_INTEGER))
    readTime(r.bytes, entry.next())
    const entryExtensions = entry.optional(TAG_SEQUENCE)
    entry.finish()
    if (entryExtensions) {
      if (version !== 1) throw invalidCrl('entry extensions in a v1 CRL')
      readCrlExtensions(r, entryExtensions)
    }
    revoked.add(serialNumberHex(serial))
  }
  return revoked
}

/** What a CRL's (or an entry's) extensions tell. */
interface CrlExtensions {
  readonly authorityKeyIdentifier: string | null
  readonly hasCrlNumber: boolean
}

/** Refuses any critical extension; reads the authority key identifier and the CRLNumber. */
function readCrlExtensions(r: DerReader, list: Tlv): CrlExtensions {
  let authorityKeyIdentifier: string | null = null
  let hasCrlNumber = false
  for (const extension of readExtensionList(r, list)) {
    // Every critical CRL extension in use (delta CRL indicator, issuing distribution point,
    // certificate issuer) changes what the CRL covers, which this checker does not model.
    if (extension.critical) throw invalidCrl(`critical extension ${readOid(r.bytes, extension.id)}`)
    if (extension.idCeArc === EXT_AUTHORITY_KEY_IDENTIFIER) {
      authorityKeyIdentifier = readAuthorityKeyIdentifier(r, extension.value)
    } else if (extension.idCeArc === EXT_CRL_NUMBER) {
      readCrlNumber(r, extension.value)
      hasCrlNumber = true
    }
  }
  return { authorityKeyIdentifier, hasCrlNumber }
}

/** CRLNumber ::= INTEGER (0..MAX), at most 20 octets. */
function readCrlNumber(r: DerReader, value: Tlv): void {
  const number = readIntegerBytes(r.bytes, r.encapsulated(value, TAG_INTEGER))
  if (number[0]! >= 0x80) throw invalidCrl('negative CRLNumber')
  if (number.length > (number[0] === 0 ? 21 : 20)) throw invalidCrl('CRLNumber over 20 octets')
}
