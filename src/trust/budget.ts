/**
 * The signature work one request may cause, priced by the key that does it. A key's cost is in
 * units of one RSA-2048 verification with exponent 65537 (about 35 µs of CPU with Node 20's
 * OpenSSL 3, where the relative costs below were measured):
 *
 * - RSA: (modulus bits / 2048)² × max(1, m / 17), where m = bit length + set bits − 2 of the
 *   public exponent (the multiplications of a square-and-multiply; 17 for 65537). Squared, not
 *   the ~1.6 power measured, so a large modulus is never underpriced: 3072 bits cost 3 units,
 *   4096 bits 4, 8192 bits 16; an exponent near 2^32 costs 3.6 times more.
 * - ECDSA, by curve, as measured: P-256 2, P-384 16, P-521 40 (OpenSSL has no fast P-384 or
 *   P-521 code, so these are far dearer than their size suggests).
 * - Ed25519 2. A key that verifies nothing — refused by the key rules (`x509/keys.ts`: never
 *   imported), unknown or malformed — 1.
 *
 * A verification is charged before it runs, so a key too expensive for what is left is never
 * used. Past the budget, or past {@link MAX_VERIFICATIONS}, the request is refused with
 * ERR_CHAIN_BUDGET.
 * @module
 */
import { CertgateError } from '../errors.ts'
import type { PublicKeyDescription } from '../x509/keys.ts'
import type { SignerKey } from '../x509/signature.ts'

/** Default budget: a 5-deep RSA-4096 chain costs 20, a 5-deep P-384 chain 80. */
export const DEFAULT_SIGNATURE_BUDGET = 128
/** Most signature verifications per request, whatever they cost. */
export const MAX_VERIFICATIONS = 16

const EC_UNITS: Readonly<Record<string, number>> = { 'P-256': 2, 'P-384': 16, 'P-521': 40 }
const ED25519_UNITS = 2
const UNUSABLE_UNITS = 1
// Multiplications in a square-and-multiply by 65537.
const F4_MULTIPLICATIONS = 17

/** Counts the signature work a verifier does: for tests, which assert counts, not timings. */
export interface SignatureMeter {
  /** Signature verifications run. */
  verifications: number
  /** Their cost, in budget units. */
  units: number
}

const unitsByKey = new WeakMap<SignerKey, number>()

/** The cost of one verification with `key`, in budget units (Infinity: never affordable). */
export function signatureUnits(key: SignerKey): number {
  let units = unitsByKey.get(key)
  if (units === undefined) {
    units = key.refused ? UNUSABLE_UNITS : unitsOf(key.description)
    unitsByKey.set(key, units)
  }
  return units
}

function unitsOf(key: PublicKeyDescription): number {
  switch (key.kind) {
    case 'RSA': {
      const { exponent } = key
      if (!Number.isFinite(exponent)) return Infinity
      const multiplications = exponent.toString(2).length + popCount(exponent) - 2
      const size = (key.modulusBits / 2048) ** 2
      return Math.ceil(size * Math.max(1, multiplications / F4_MULTIPLICATIONS))
    }
    case 'EC':
      return key.curve === null ? UNUSABLE_UNITS : (EC_UNITS[key.curve] ?? UNUSABLE_UNITS)
    case 'Ed25519':
      return ED25519_UNITS
    default:
      return UNUSABLE_UNITS
  }
}

function popCount(value: number): number {
  let count = 0
  for (const bit of value.toString(2)) if (bit === '1') count++
  return count
}

/** One request's allowance of signature work. */
export class SignatureBudget {
  readonly #limit: number
  readonly #meter: SignatureMeter | null
  #units = 0
  #verifications = 0

  constructor(limit: number, meter: SignatureMeter | null) {
    this.#limit = limit
    this.#meter = meter
  }

  /** Books one verification with `key`; throws ERR_CHAIN_BUDGET, before it runs, past the budget. */
  charge(key: SignerKey): void {
    const units = signatureUnits(key)
    if (this.#verifications >= MAX_VERIFICATIONS || this.#units + units > this.#limit) {
      throw new CertgateError(
        'ERR_CHAIN_BUDGET',
        'Validating the client certificate chain would take more work than allowed.'
      )
    }
    this.#units += units
    this.#verifications++
    if (this.#meter !== null) {
      this.#meter.units += units
      this.#meter.verifications++
    }
  }
}
