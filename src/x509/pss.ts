/**
 * RSASSA-PSS parameters, read strictly: the hash is SHA-256, SHA-384 or SHA-512, the mask is
 * MGF1 with that same hash, the salt is as long as the hash, and the trailer is the standard one.
 * Anything else (the SHA-1 defaults included) is refused, so one signature has one meaning.
 * @module
 */
import { DerReader, TAG_INTEGER, TAG_OID, TAG_SEQUENCE, type Tlv } from './der.ts'
import { readNull, readOid, readSmallInteger } from './der-values.ts'

/** The PSS parameters certgate verifies with. */
export interface PssParameters {
  /** Web Crypto hash name. */
  readonly hash: string
  /** Salt length in octets (the hash's length). */
  readonly saltLength: number
}

export const OID_RSA_PSS = '1.2.840.113549.1.1.10'
const OID_MGF1 = '1.2.840.113549.1.1.8'
interface Hash {
  readonly name: string
  readonly length: number
}

const HASHES: Readonly<Record<string, Hash>> = {
  '2.16.840.1.101.3.4.2.1': { name: 'SHA-256', length: 32 },
  '2.16.840.1.101.3.4.2.2': { name: 'SHA-384', length: 48 },
  '2.16.840.1.101.3.4.2.3': { name: 'SHA-512', length: 64 },
}
const PSS_LIMITS = { maxLength: 256, maxDepth: 6, maxTlvs: 24 }

/**
 * Reads RSASSA-PSS-params from the DER of an AlgorithmIdentifier's parameters; null when absent,
 * malformed or not one of the accepted forms. Never throws.
 */
export function readPssParameters(der: Uint8Array | null): PssParameters | null {
  if (der === null) return null
  try {
    const r = new DerReader(der, PSS_LIMITS)
    const params = r.children(r.root(TAG_SEQUENCE))
    const hashTlv = params.optional(0xa0)
    const maskTlv = params.optional(0xa1)
    const saltTlv = params.optional(0xa2)
    const trailerTlv = params.optional(0xa3)
    params.finish()
    // Every default is SHA-1 based, so each field must be there (the trailer excepted).
    if (hashTlv === null || maskTlv === null || saltTlv === null) return null
    const hash = readHash(r, only(r, hashTlv))
    const mask = r.children(only(r, maskTlv))
    const maskOid = readOid(der, mask.expect(TAG_OID))
    const maskHash = readHash(r, mask.expect(TAG_SEQUENCE))
    mask.finish()
    const saltLength = readSmallInteger(der, only(r, saltTlv, TAG_INTEGER), 2)
    const trailer =
      trailerTlv === null ? 1 : readSmallInteger(der, only(r, trailerTlv, TAG_INTEGER), 1)
    if (hash === null || maskOid !== OID_MGF1 || maskHash !== hash) return null
    if (saltLength !== hash.length || trailer !== 1) return null
    return { hash: hash.name, saltLength }
  } catch {
    return null
  }
}

/** The one element an EXPLICIT tag wraps. */
function only(r: DerReader, wrapper: Tlv, tag: number = TAG_SEQUENCE): Tlv {
  const c = r.children(wrapper)
  const inner = c.expect(tag)
  c.finish()
  return inner
}

/** A hash AlgorithmIdentifier (parameters absent or NULL) → the accepted hash, or null. */
function readHash(r: DerReader, tlv: Tlv): Hash | null {
  const c = r.children(tlv)
  const oid = readOid(r.bytes, c.expect(TAG_OID))
  const parameters = c.more() ? c.next() : null
  c.finish()
  if (parameters !== null) readNull(parameters)
  return Object.hasOwn(HASHES, oid) ? HASHES[oid]! : null
}
