/**
 * Signature checks along a candidate path, from the trust anchor down: an edge (child signed by
 * parent) is checked only once the parent is known good — a configured CA, or a certificate
 * whose own edge above already verified — so a key the request carries is used only after its
 * certificate verified. Each check is charged to the request's budget (`budget.ts`) before it
 * runs; an edge is checked at most once per request, and a CA certificate's verified signature
 * by a configured issuer is remembered across requests.
 *
 * Costs, measured on Node 20: an import costs more than a verify (≈130 µs vs ≈45 µs RSA-2048,
 * ≈95 µs P-256), so keys are imported once per CA (configured ones for the life of the verifier,
 * request ones in a bounded pool), leaving one verify per request for a leaf from a known
 * intermediate.
 * @module
 */
import type { SignatureBudget } from './budget.ts'
import type { PathCert } from './store.ts'
import { equalBytes, toHex } from '../bytes.ts'
import {
  certificateSignedObject,
  type SignatureVerdict,
  type SignerKey,
  SignerKeyPool,
  verifySignature,
} from '../x509/signature.ts'

/** A path edge: `parent` signed `child`. */
export type Edge = readonly [child: PathCert, parent: PathCert]

/** A path's signatures: all valid, or the first edge from the top that is not. */
export type PathSignatures =
  | { readonly verdict: 'valid' }
  | { readonly verdict: 'invalid' | 'unsupported'; readonly edge: Edge }

const SIGNER_POOL_SIZE = 256
const EDGE_MEMO_SIZE = 1024

/** The edges of a path, leaf first: `[path[i], path[i + 1]]`. */
export function edgesOf(path: readonly PathCert[]): Edge[] {
  return path.slice(0, -1).map((child, i): Edge => [child, path[i + 1]!])
}

/**
 * A verifier's signature checks: request keys from a bounded pool, and a CA certificate's
 * signature by a configured issuer remembered once it verified.
 */
export class EdgeSignatures {
  readonly #pool = new SignerKeyPool(SIGNER_POOL_SIZE)
  // `${issuer id}:${signature length}:${hex of its last octets}` → the CA certificate whose
  // signature that issuer verified; a hit counts only when the whole certificate is the same.
  readonly #memo = new Map<string, Uint8Array>()

  /** One request's checks, charged to `budget`. */
  forRequest(leaf: PathCert, budget: SignatureBudget): RequestSignatures {
    return new RequestSignatures(this, leaf, budget)
  }

  /** The verdict on `parent` having signed `child`: remembered, or charged and checked. */
  async check([child, parent]: Edge, leaf: PathCert, budget: SignatureBudget): Promise<SignatureVerdict> {
    const memoKey = child !== leaf && parent.configured ? memoKeyOf(child, parent) : null
    if (memoKey !== null) {
      const known = this.#memo.get(memoKey)
      if (known !== undefined && equalBytes(known, child.der)) return 'valid'
    }
    const verdict = await this.verify(child, parent, budget)
    if (verdict === 'valid' && memoKey !== null) {
      if (this.#memo.size >= EDGE_MEMO_SIZE) this.#memo.delete(this.#memo.keys().next().value!)
      this.#memo.set(memoKey, child.der.slice())
    }
    return verdict
  }

  /** Checks `child`'s signature with `parent`'s key, charged to `budget` first. */
  verify(child: PathCert, parent: PathCert, budget: SignatureBudget): Promise<SignatureVerdict> {
    const signer = this.signerOf(parent)
    budget.charge(signer)
    return verifySignature(certificateSignedObject(child.parsed.signatureParts()), signer)
  }

  /** A certificate's key: its own for a configured CA, else the pooled one. */
  signerOf(node: PathCert): SignerKey {
    if (node.signer === null) {
      const { subjectPublicKeyInfo, publicKeyAlgorithm, namedCurve } = node.parsed.signatureParts()
      node.signer = this.#pool.get(subjectPublicKeyInfo, publicKeyAlgorithm, namedCurve)
    }
    return node.signer
  }
}

// Octets of the signature in the memo's key: enough to tell real signatures apart, and cheaper
// than hex of all of it (256 octets for RSA-2048).
const MEMO_KEY_TAIL = 24

function memoKeyOf(child: PathCert, parent: PathCert): string {
  const signature = child.parsed.signatureParts().signatureValue
  return `${parent.id}:${signature.length}:${toHex(signature.subarray(-MEMO_KEY_TAIL))}`
}

/** One request's signature checks: each edge at most once, from the anchor down. */
export class RequestSignatures {
  readonly #signatures: EdgeSignatures
  readonly #leaf: PathCert
  readonly #budget: SignatureBudget
  readonly #verdicts = new Map<string, SignatureVerdict>()

  constructor(signatures: EdgeSignatures, leaf: PathCert, budget: SignatureBudget) {
    this.#signatures = signatures
    this.#leaf = leaf
    this.#budget = budget
  }

  /**
   * Checks a path's edges from the root down, stopping at the first that does not verify: a key
   * below it is never used. Throws ERR_CHAIN_BUDGET when the next check would pass the budget.
   */
  async verifyDown(path: readonly PathCert[]): Promise<PathSignatures> {
    const edges = edgesOf(path)
    for (let i = edges.length - 1; i >= 0; i--) {
      const edge = edges[i]!
      const key = `${edge[0].id}>${edge[1].id}`
      let verdict = this.#verdicts.get(key)
      if (verdict === undefined) {
        verdict = await this.#signatures.check(edge, this.#leaf, this.#budget)
        this.#verdicts.set(key, verdict)
      }
      if (verdict !== 'valid') return { verdict, edge }
    }
    return { verdict: 'valid' }
  }
}
