/**
 * Public keys: what a SubjectPublicKeyInfo holds (RSA modulus size and exponent, EC curve,
 * Ed25519), and the one rule on which keys certgate accepts. The rule sits below the signature
 * code so a key is judged before Web Crypto ever imports it: a huge RSA exponent or modulus costs
 * milliseconds per verify, so it is refused unread rather than verified slowly.
 * @module
 */
import { DerReader, TAG_BIT_STRING, TAG_INTEGER, TAG_OID, TAG_SEQUENCE } from './der.ts'
import { readBitString, readIntegerBytes, readNull, readOid } from './der-values.ts'
import { toHex } from '../bytes.ts'

/** The named curves certgate accepts, by OID: Web Crypto's name and the field size in octets. */
export const CURVES: Readonly<Record<string, { readonly name: string; readonly size: number }>> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', size: 32 },
  '1.3.132.0.34': { name: 'P-384', size: 48 },
  '1.3.132.0.35': { name: 'P-521', size: 66 },
}

export const OID_RSA = '1.2.840.113549.1.1.1'
export const OID_EC = '1.2.840.10045.2.1'
export const OID_ED25519 = '1.3.101.112'
// The same OIDs' content octets, and the curves' (P-256, P-384, P-521), as hex.
const OID_RSA_HEX = '2A864886F70D010101'
const OID_EC_HEX = '2A8648CE3D0201'
const OID_ED25519_HEX = '2B6570'
const CURVES_BY_HEX = new Map([
  ['2A8648CE3D030107', CURVES['1.2.840.10045.3.1.7']!],
  ['2B81040022', CURVES['1.3.132.0.34']!],
  ['2B81040023', CURVES['1.3.132.0.35']!],
])

/** What a SubjectPublicKeyInfo holds, as far as the key rule needs. */
export type PublicKeyDescription =
  /** `exponent` is Infinity when it has more than five significant octets (well past 2^32). */
  | { readonly kind: 'RSA'; readonly modulusBits: number; readonly exponent: number }
  /** `curve` is null for a curve certgate does not accept or explicit curve parameters. */
  | { readonly kind: 'EC'; readonly curve: string | null }
  | { readonly kind: 'Ed25519' }
  /** Any other algorithm (DSA, RSA-PSS-only keys, Ed448, …), by OID. */
  | { readonly kind: 'other'; readonly algorithm: string }
  | { readonly kind: 'malformed' }

/** The bounds on keys; `minRsaBits` is the only one a caller may move (upward). */
export interface KeyRule {
  readonly minRsaBits: number
}

/** RSA moduli below this are refused everywhere; `minRsaBits` may only raise it. */
export const MIN_RSA_BITS = 2048
/** Larger moduli cost more to verify than any real CA key needs. */
export const MAX_RSA_BITS = 8192
// The largest exponent allowed is below 2^32; anything with more octets is past it.
const MAX_RSA_EXPONENT = 2 ** 32
const SPKI_LIMITS = { maxLength: 4096, maxDepth: 4, maxTlvs: 16 }

/** Reads a DER SubjectPublicKeyInfo; never throws (unreadable → `malformed`). */
export function describePublicKey(spki: Uint8Array): PublicKeyDescription {
  try {
    const r = new DerReader(spki, SPKI_LIMITS)
    const info = r.children(r.root(TAG_SEQUENCE))
    const algorithm = r.children(info.expect(TAG_SEQUENCE))
    const oidTlv = algorithm.expect(TAG_OID)
    const parameters = algorithm.more() ? algorithm.next() : null
    algorithm.finish()
    const key = readBitString(spki, info.expect(TAG_BIT_STRING))
    info.finish()
    if (key.unusedBits !== 0) return { kind: 'malformed' }
    // Known OIDs are matched by their content octets: this runs for every certificate on a path.
    const oid = toHex(r.content(oidTlv))
    if (oid === OID_RSA_HEX) {
      // RFC 3279 asks for NULL parameters; some encoders leave them out.
      if (parameters !== null) readNull(parameters)
      return describeRsa(key.data)
    }
    if (oid === OID_EC_HEX) {
      const curveHex = parameters?.tag === TAG_OID ? toHex(r.content(parameters)) : null
      const curve = curveHex === null ? undefined : CURVES_BY_HEX.get(curveHex)
      if (curve === undefined) return { kind: 'EC', curve: null }
      if (!isEcPoint(key.data, curve.size)) return { kind: 'malformed' }
      return { kind: 'EC', curve: curve.name }
    }
    if (oid === OID_ED25519_HEX) {
      if (parameters !== null || key.data.length !== 32) return { kind: 'malformed' }
      return { kind: 'Ed25519' }
    }
    return { kind: 'other', algorithm: readOid(spki, oidTlv) }
  } catch {
    return { kind: 'malformed' }
  }
}

/** RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, both positive. */
function describeRsa(der: Uint8Array): PublicKeyDescription {
  const r = new DerReader(der, SPKI_LIMITS)
  const key = r.children(r.root(TAG_SEQUENCE))
  const modulus = readIntegerBytes(der, key.expect(TAG_INTEGER))
  const exponent = readIntegerBytes(der, key.expect(TAG_INTEGER))
  key.finish()
  if (modulus[0]! >= 0x80 || exponent[0]! >= 0x80) return { kind: 'malformed' }
  const n = modulus[0] === 0 ? modulus.subarray(1) : modulus
  const e = exponent[0] === 0 ? exponent.subarray(1) : exponent
  if (n.length === 0 || e.length === 0) return { kind: 'malformed' }
  const modulusBits = n.length * 8 - Math.clz32(n[0]!) + 24
  let value = 0
  for (const octet of e) value = value * 256 + octet
  return { kind: 'RSA', modulusBits, exponent: e.length > 5 ? Infinity : value }
}

/** An uncompressed (04‖x‖y) or compressed (02/03‖x) point of the curve's size. */
function isEcPoint(point: Uint8Array, size: number): boolean {
  if (point[0] === 0x04) return point.length === 1 + 2 * size
  return (point[0] === 0x02 || point[0] === 0x03) && point.length === 1 + size
}

/**
 * Why certgate refuses this key, or null when it accepts it: RSA from `minRsaBits` to 8192 bits
 * with an odd exponent from 3 below 2^32; ECDSA on P-256, P-384 or P-521 by name; Ed25519.
 * The reason is short, safe to show, and never carries key bytes.
 */
export function keyRefusal(key: PublicKeyDescription, rule: KeyRule): string | null {
  switch (key.kind) {
    case 'RSA':
      if (key.modulusBits < rule.minRsaBits) {
        return `an RSA key of ${key.modulusBits} bits, under the ${rule.minRsaBits} required`
      }
      if (key.modulusBits > MAX_RSA_BITS) {
        return `an RSA key of ${key.modulusBits} bits, over the ${MAX_RSA_BITS} allowed`
      }
      if (key.exponent < 3 || key.exponent >= MAX_RSA_EXPONENT || key.exponent % 2 === 0) {
        return 'an RSA key whose public exponent is not an odd number from 3 below 2^32'
      }
      return null
    case 'EC':
      return key.curve === null ? 'an EC key on a curve other than P-256, P-384 or P-521' : null
    case 'Ed25519':
      return null
    case 'other':
      return `a key of a type certgate does not accept (${key.algorithm})`
    case 'malformed':
      return 'a key that cannot be read'
  }
}

// Web Crypto's Ed25519 arrived late in some runtimes: probed once, with RFC 8032's first test key.
const ED25519_PROBE_KEY = new Uint8Array([
  0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
  0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
])
let ed25519Probe: Promise<boolean> | null = null

/** Whether this runtime's Web Crypto verifies Ed25519; probed on first call, then remembered. */
export function ed25519Supported(): Promise<boolean> {
  ed25519Probe ??= crypto.subtle
    .importKey('raw', ED25519_PROBE_KEY, { name: 'Ed25519' }, false, ['verify'])
    .then(
      () => true,
      () => false
    )
  return ed25519Probe
}
