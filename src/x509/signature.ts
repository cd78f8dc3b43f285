/**
 * Signature verification with Web Crypto for certificates and CRLs: maps X.509 algorithm OIDs to
 * Web Crypto parameters, turns DER ECDSA signatures into the raw `r‖s` Web Crypto expects, and
 * imports each public key at most once per signer (an import costs more than a verify on Node).
 *
 * Accepted: RSASSA-PKCS1-v1_5, RSASSA-PSS (parameters as `pss.ts` reads them) and ECDSA (P-256,
 * P-384, P-521) with SHA-256/384/512, and Ed25519 where the runtime has it. SHA-1, MD5, DSA,
 * anything else, and a key outside the bounds of `keys.ts` are `'unsupported'`: callers refuse
 * them rather than skip the check. A refused key is never imported.
 * @module
 */
import { equalBytes, toHex } from '../bytes.ts'
import { DerReader, TAG_INTEGER, TAG_SEQUENCE } from './der.ts'
import { readIntegerBytes } from './der-values.ts'
import type { CertificateSignatureParts } from './fields.ts'
import {
  CURVES,
  describePublicKey,
  keyRefusal,
  MIN_RSA_BITS,
  OID_EC,
  OID_ED25519,
  OID_RSA,
  type PublicKeyDescription,
} from './keys.ts'
import { OID_RSA_PSS, readPssParameters } from './pss.ts'

/** The outcome of one signature check. */
export type SignatureVerdict = 'valid' | 'invalid' | 'unsupported'

/** Bytes signed, with the algorithm and signature that cover them (a certificate or a CRL). */
export interface SignedObject {
  /** The exact DER that was signed (tbsCertificate, tbsCertList). */
  readonly signed: Uint8Array<ArrayBuffer>
  /** signatureAlgorithm OID. */
  readonly algorithm: string
  /** The signature BIT STRING's octets (DER Ecdsa-Sig-Value for ECDSA). */
  readonly signature: Uint8Array<ArrayBuffer>
  /** The DER of the signature algorithm's parameters, when it has any (RSA-PSS needs them). */
  readonly parameters?: Uint8Array | null
}

/** How one signature algorithm maps onto Web Crypto. */
export interface Scheme {
  readonly family: 'RSA' | 'RSA-PSS' | 'EC' | 'Ed25519'
  readonly hash: string | null
  /** RSA-PSS only: the salt length in octets. */
  readonly saltLength?: number
}

const SCHEMES: Readonly<Record<string, Scheme>> = {
  '1.2.840.113549.1.1.11': { family: 'RSA', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { family: 'RSA', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { family: 'RSA', hash: 'SHA-512' },
  '1.2.840.10045.4.3.2': { family: 'EC', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { family: 'EC', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { family: 'EC', hash: 'SHA-512' },
  [OID_ED25519]: { family: 'Ed25519', hash: null },
}

const ECDSA_SIG_LIMITS = { maxLength: 256, maxDepth: 2, maxTlvs: 8 }

/** A public key that signs things, with its Web Crypto imports memoised per algorithm. */
export class SignerKey {
  readonly spki: Uint8Array<ArrayBuffer>
  readonly algorithm: string
  readonly namedCurve: string | null
  readonly #imports = new Map<string, Promise<CryptoKey | null>>()
  #description: PublicKeyDescription | null = null
  #refused: boolean | null = null

  constructor(spki: Uint8Array<ArrayBuffer>, algorithm: string, namedCurve: string | null) {
    this.spki = spki
    this.algorithm = algorithm
    this.namedCurve = namedCurve
  }

  /** What the key holds (`describePublicKey`), read once: the key rule and the budget both need it. */
  get description(): PublicKeyDescription {
    this.#description ??= describePublicKey(this.spki)
    return this.#description
  }

  /**
   * True when the key is readable but outside the fixed bounds (`keyRefusal` at its defaults):
   * it is never imported. An unreadable key simply verifies nothing.
   */
  get refused(): boolean {
    if (this.#refused === null) {
      const key = this.description
      const refusal = keyRefusal(key, { minRsaBits: MIN_RSA_BITS })
      this.#refused = key.kind !== 'malformed' && refusal !== null
    }
    return this.#refused
  }

  /** The imported key for this scheme, or null when the key cannot serve it. */
  importFor(scheme: Scheme): Promise<CryptoKey | null> {
    const id = scheme.hash === null ? scheme.family : `${scheme.family}:${scheme.hash}`
    let promise = this.#imports.get(id)
    if (promise === undefined) {
      promise = this.#import(scheme)
      this.#imports.set(id, promise)
    }
    return promise
  }

  async #import(scheme: Scheme): Promise<CryptoKey | null> {
    let params: RsaHashedImportParams | EcKeyImportParams | Algorithm
    if (scheme.family === 'RSA' || scheme.family === 'RSA-PSS') {
      if (this.algorithm !== OID_RSA) return null
      const name = scheme.family === 'RSA' ? 'RSASSA-PKCS1-v1_5' : 'RSA-PSS'
      params = { name, hash: scheme.hash! }
    } else if (scheme.family === 'EC') {
      const curve = this.namedCurve === null ? undefined : CURVES[this.namedCurve]
      if (this.algorithm !== OID_EC || curve === undefined) return null
      params = { name: 'ECDSA', namedCurve: curve.name }
    } else {
      if (this.algorithm !== OID_ED25519) return null
      params = { name: 'Ed25519' }
    }
    try {
      return await crypto.subtle.importKey('spki', this.spki, params, false, ['verify'])
    } catch {
      // A malformed key, or Ed25519 on a runtime without it: the signature cannot verify.
      return null
    }
  }
}

// The pool is keyed by the SPKI's length and last octets (an RSA modulus's or EC point's tail),
// the whole SPKI compared on a hit: hex of every octet cost more than the lookup saves.
const POOL_KEY_TAIL = 24

/** A bounded pool of {@link SignerKey}s keyed by SPKI bytes, for keys that arrive in requests. */
export class SignerKeyPool {
  readonly #keys = new Map<string, SignerKey>()
  readonly #maxEntries: number

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries
  }

  /**
   * The pooled key for these SPKI bytes (a new one when absent), most recently used last. Two
   * keys sharing an id replace each other: a key is only ever used for its own SPKI.
   */
  get(spki: Uint8Array<ArrayBuffer>, algorithm: string, namedCurve: string | null): SignerKey {
    const id = `${spki.length}:${toHex(spki.subarray(-POOL_KEY_TAIL))}`
    let key = this.#keys.get(id)
    if (key !== undefined) this.#keys.delete(id)
    if (key !== undefined && equalBytes(key.spki, spki)) {
      // Found: moved to the most recently used end below.
    } else {
      key = new SignerKey(spki, algorithm, namedCurve)
      if (this.#keys.size >= this.#maxEntries) {
        this.#keys.delete(this.#keys.keys().next().value as string)
      }
    }
    this.#keys.set(id, key)
    return key
  }
}

/** A certificate's signed bytes, algorithm (with its parameters) and signature, to verify. */
export function certificateSignedObject(parts: CertificateSignatureParts): SignedObject {
  return {
    signed: parts.tbsCertificate,
    algorithm: parts.signatureAlgorithm,
    signature: parts.signatureValue,
    parameters: parts.signatureParameters,
  }
}

/** Checks `object`'s signature with `signer`'s key. Never throws. */
export async function verifySignature(
  object: SignedObject,
  signer: SignerKey
): Promise<SignatureVerdict> {
  const scheme = schemeOf(object)
  if (scheme === null || signer.refused) return 'unsupported'
  const key = await signer.importFor(scheme)
  if (key === null) {
    // Ed25519 signatures on a runtime without Ed25519 cannot be judged either way.
    return scheme.family === 'Ed25519' && signer.algorithm === OID_ED25519
      ? 'unsupported'
      : 'invalid'
  }
  let signature: Uint8Array<ArrayBuffer> | null = object.signature
  let params: Algorithm | EcdsaParams | RsaPssParams = { name: key.algorithm.name }
  if (scheme.family === 'EC') {
    signature = ecdsaRaw(object.signature, CURVES[signer.namedCurve!]!.size)
    params = { name: 'ECDSA', hash: scheme.hash! }
  } else if (scheme.family === 'RSA-PSS') {
    params = { name: 'RSA-PSS', saltLength: scheme.saltLength! }
  }
  if (signature === null) return 'invalid'
  try {
    return (await crypto.subtle.verify(params, key, signature, object.signed)) ? 'valid' : 'invalid'
  } catch {
    return 'invalid'
  }
}

/** The scheme of a signed object's algorithm (with its parameters, for RSA-PSS), or null. */
function schemeOf(object: SignedObject): Scheme | null {
  if (object.algorithm === OID_RSA_PSS) {
    const pss = readPssParameters(object.parameters ?? null)
    return pss === null ? null : { family: 'RSA-PSS', hash: pss.hash, saltLength: pss.saltLength }
  }
  return Object.hasOwn(SCHEMES, object.algorithm) ? SCHEMES[object.algorithm]! : null
}

/** DER Ecdsa-Sig-Value → r‖s, each left-padded to the curve size; null when malformed. */
function ecdsaRaw(der: Uint8Array, size: number): Uint8Array<ArrayBuffer> | null {
  try {
    const r = new DerReader(der, ECDSA_SIG_LIMITS)
    const c = r.children(r.root(TAG_SEQUENCE))
    const out = new Uint8Array(size * 2)
    for (let half = 0; half < 2; half++) {
      let value = readIntegerBytes(der, c.expect(TAG_INTEGER))
      if (value[0]! >= 0x80) return null
      if (value.length > 1 && value[0] === 0) value = value.subarray(1)
      if (value.length > size) return null
      out.set(value, half * size + size - value.length)
    }
    c.finish()
    return out
  } catch {
    return null
  }
}
