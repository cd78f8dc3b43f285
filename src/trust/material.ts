/**
 * Trust material: the roots, intermediates and CRLs a verifier validates with, and everything
 * built from them (the store with its imported keys, the remembered CA signatures, the configured
 * CRLs). One version is immutable: replacing the material builds a new version whole, so a request
 * that started on one version finishes on it while later requests use the next.
 * @module
 */
import { EdgeSignatures } from './edge-signatures.ts'
import { RevocationChecker, type RevocationOptions } from './revocation.ts'
import { TrustStore } from './store.ts'

/** Material to validate with; in an update, a field left out keeps its current value. */
export interface TrustMaterial {
  /** Trust anchors: PEM text (CERTIFICATE blocks) or DER, as `TrustOptions.roots`. */
  roots?: ReadonlyArray<string | Uint8Array>
  /** Intermediate CAs to complete paths with, as `TrustOptions.intermediates`. */
  intermediates?: ReadonlyArray<string | Uint8Array>
  /** CRLs, PEM (`X509 CRL` blocks) or DER, as `TrustOptions.crls`. */
  crls?: ReadonlyArray<string | Uint8Array>
}

/** One version of the material and what was built from it. */
export interface Material {
  /** 0 for the material the verifier was created with, then one more per update. */
  readonly version: number
  readonly inputs: Readonly<Required<TrustMaterial>>
  readonly store: TrustStore
  // Ids of configured certificates are numbered per store, so the signature memo goes with it.
  readonly signatures: EdgeSignatures
  readonly revocation: RevocationChecker
}

/** The first material, from a verifier's options. Throws TypeError naming a bad option. */
export function firstMaterial(options: TrustMaterial & RevocationOptions): Material {
  const inputs = checkedInputs(options, { roots: undefined, intermediates: [], crls: [] })
  return {
    version: 0,
    inputs,
    store: new TrustStore(inputs),
    signatures: new EdgeSignatures(),
    revocation: new RevocationChecker({ ...options, crls: inputs.crls }),
  }
}

/**
 * The next material: `change` over `current`, everything parsed and checked before anything is
 * returned (TypeError naming the problem, as at creation). Fetched CRLs stay cached: each is
 * bound to the issuer key that verified it, so new CAs do not make an old download count.
 */
export function nextMaterial(current: Material, change: TrustMaterial): Material {
  if (typeof change !== 'object' || change === null) {
    throw new TypeError('trust material must be an object.')
  }
  const inputs = checkedInputs(change, current.inputs)
  const sameCas = change.roots === undefined && change.intermediates === undefined
  // Built first, in this order, so that a bad entry throws before anything is kept.
  const store = sameCas ? current.store : new TrustStore(inputs)
  const revocation = change.crls === undefined ? current.revocation : current.revocation.withCrls(inputs.crls)
  return {
    version: current.version + 1,
    inputs,
    store,
    signatures: sameCas ? current.signatures : new EdgeSignatures(),
    revocation,
  }
}

type Inputs = Readonly<Required<TrustMaterial>>

/** The fields of `change`, or of `current` where it has none, checked to be arrays and copied. */
function checkedInputs(
  change: TrustMaterial,
  current: { roots: Inputs['roots'] | undefined; intermediates: Inputs['intermediates']; crls: Inputs['crls'] }
): Inputs {
  const { roots = current.roots, intermediates = current.intermediates, crls = current.crls } = change
  if (!Array.isArray(roots) || roots.length === 0) {
    throw new TypeError('trust.roots must be a non-empty array of PEM text or DER bytes.')
  }
  if (!Array.isArray(intermediates)) throw new TypeError('trust.intermediates must be an array.')
  if (!Array.isArray(crls)) throw new TypeError('trust.crls must be an array.')
  // Copies: a caller that later changes its array does not change the material.
  return { roots: [...roots], intermediates: [...intermediates], crls: [...crls] }
}
