/**
 * Chain validation: from the client's leaf to one configured root (trust anchor), through
 * certificates the request carries and intermediates you configure, with every signature checked
 * by Web Crypto, the path's rules checked (`path-checks.ts`), then revocation by CRL
 * (`revocation.ts`). This module composes the store (`store.ts`), the candidate paths
 * (`candidates.ts`) and those checks.
 *
 * Signatures are checked from the root down (`edge-signatures.ts`), so a key the request carries
 * is used only once its own certificate verified. A failed signature excludes that edge and the
 * search resumes; a path that fails its rules is set aside for the next. Work is capped (search
 * steps, paths, and a budget of signature work priced by key size, `budget.ts`), so a request
 * stuffed with look-alike certificates or expensive keys costs a bounded amount.
 * @module
 */
import { DEFAULT_SIGNATURE_BUDGET, SignatureBudget, type SignatureMeter } from './budget.ts'
import { PathCandidates } from './candidates.ts'
import { type Edge, edgesOf, type PathSignatures } from './edge-signatures.ts'
import { firstMaterial, type Material, nextMaterial, type TrustMaterial } from './material.ts'
import { checkPath, checkPinnedLeaf } from './path-checks.ts'
import { anchorMayOmitAki, profileOptions, type ProfileOptions, type Purpose } from './profile.ts'
import type { FetchCrlsOptions } from './crl-fetcher.ts'
import { type RevocationLink, refusalRetryAt } from './revocation.ts'
import { type PathCert, requestCert } from './store.ts'
import { CertgateError, isCertgateError } from '../errors.ts'
import { parseCertificate } from '../x509/fields.ts'
import { ed25519Supported } from '../x509/keys.ts'
import { distinguishedNameKey } from '../x509/name.ts'

/** What to trust, and how strictly. */
export interface TrustOptions {
  /**
   * PEM text (CERTIFICATE blocks, text around them skipped, as OpenSSL reads a bundle) or DER
   * of the trust anchors. Each must be a CA.
   */
  roots: ReadonlyArray<string | Uint8Array>
  /** Intermediate CAs to complete paths with, when clients do not send them. */
  intermediates?: ReadonlyArray<string | Uint8Array>
  /**
   * What the leaf must be meant for: `'clientAuth'` (default) or `'serverAuth'`. A leaf with an
   * extendedKeyUsage extension must list it; a CA with one must list it or anyExtendedKeyUsage.
   */
  purpose?: Purpose
  /**
   * Default true: a leaf with an extendedKeyUsage extension must list the `purpose`
   * (clientAuth, 1.3.6.1.5.5.7.3.2, by default). anyExtendedKeyUsage alone does not count (as
   * OpenSSL). A leaf without the extension passes. false skips the leaf's check only: a CA's
   * extendedKeyUsage is always checked.
   */
  requireClientAuthEku?: boolean
  /** RSA keys on the path (leaf, CAs, root) shorter than this are refused. Default 2048, the least. */
  minRsaBits?: number
  /**
   * Most certificates above the leaf, root included; self-issued CAs (a CA's certificate for its
   * own new key) do not count. Default 5.
   */
  maxDepth?: number
  /**
   * Most signature work one request may cause, in units of one RSA-2048 verification: RSA
   * grows with the square of the modulus size (4096 bits: 4) and with a large exponent; P-256
   * and Ed25519 cost 2, P-384 16, P-521 40 (see `budget.ts`). Past it, or past 16
   * verifications: ERR_CHAIN_BUDGET. Default 128 (a 5-deep RSA-4096 chain costs 20, P-384 80);
   * raise it only for deep P-521 chains.
   */
  signatureBudget?: number
  /**
   * Default false: a CA whose nameConstraints extension is not marked critical is refused, as
   * RFC 5280 requires the extension critical. true enforces such constraints instead (CAs that
   * follow the CA/Browser Forum's exception for legacy clients mark them non-critical).
   */
  allowNonCriticalNameConstraints?: boolean
  /** CRLs, PEM (`X509 CRL` or `CRL` blocks) or DER. See `RevocationOptions` in `revocation.ts`. */
  crls?: ReadonlyArray<string | Uint8Array>
  /** A CRL past nextUpdate: `'refuse'` (default, ERR_CRL_INVALID) or `'ignore'` it. */
  staleCrl?: 'refuse' | 'ignore'
  /** Fetch the leaf's CRL distribution points (http/https), cached and bounded. */
  fetchCrls?: FetchCrlsOptions
}

/** The result of a successful validation. */
export interface TrustVerdict {
  /**
   * Epoch ms until which this verdict holds (inclusive): the earliest notAfter on the path plus
   * the tolerance, and the earliest bound of the CRLs used (nextUpdate + tolerance, cache expiry).
   */
  validUntil: number
  /** Subjects (RFC 4514), leaf first, root last. */
  path: string[]
}

/**
 * Validates client certificates against configured roots: made by {@link createTrustVerifier},
 * given to a verifier as its `trust` option (one may serve several).
 */
export interface TrustVerifier {
  /**
   * Validates leaf → root. Throws CertgateError: ERR_CERT_UNTRUSTED, ERR_CHAIN_INVALID,
   * ERR_NAME_CONSTRAINTS, ERR_CERT_USAGE, ERR_CERT_KEY_REFUSED, ERR_CERT_EXPIRED / ERR_CERT_NOT_YET_VALID (for a CA on the path),
   * ERR_CERT_REVOKED, ERR_CRL_INVALID, ERR_CERT_MALFORMED, ERR_CHAIN_TOO_LONG, ERR_CHAIN_BUDGET.
   * The leaf's own validity window is not checked here.
   */
  verify(
    leaf: Uint8Array,
    chain: readonly Uint8Array[],
    nowMs: number,
    toleranceMs: number
  ): Promise<TrustVerdict>
  /** Whether a DER certificate is self-signed: subject is issuer and its own key verifies it. */
  isSelfSigned(der: Uint8Array): Promise<boolean>
  /**
   * The leaf rules for a pinned self-signed leaf, which has no path: not a CA, meant for the
   * `purpose`, an accepted key. Throws CertgateError (ERR_CERT_USAGE, ERR_CERT_KEY_REFUSED…).
   */
  checkPinnedLeaf(der: Uint8Array): Promise<void>
  /** What the leaf must be meant for (`trust.purpose`): the certificate-use policy applies it too. */
  readonly purpose: Purpose
  /** Whether a leaf's extendedKeyUsage must list the purpose (`trust.requireClientAuthEku`). */
  readonly requireClientAuthEku: boolean
  /**
   * Epoch ms until which a refusal `verify` threw holds: one that rests on a CRL fetch, until
   * the next fetch; any other, Infinity. A verdict cache keeps a refusal no longer than this.
   */
  refusalRetryAt(error: CertgateError): number
  /**
   * Replaces the trust material; a field left out keeps its current value. Everything is parsed
   * and checked first, as `createTrustVerifier` does (the same TypeErrors): on any error nothing
   * changes. A verification already running finishes on the material it started with; every
   * later one uses the new. Fetched CRLs stay cached (each is bound to the key that verified it).
   */
  update(material: TrustMaterial): void
  /**
   * 0 at creation, one more per successful {@link update}: a verdict cache drops what it holds
   * when this changes, and keeps nothing computed under an older version.
   */
  readonly version: number
  /** Stops background work (CRL refreshes). Idempotent; verification still works after it. */
  close(): void
}

export type { TrustMaterial } from './material.ts'

const DEFAULT_MAX_DEPTH = 5
const MAX_MAX_DEPTH = 32
// Envoy's Chain is capped by the caller (8 by default); this only bounds a direct caller.
const MAX_REQUEST_CERTS = 32
const MAX_PATHS = 8

/** What one verifier holds: its settings, built once, and its current material. */
interface Verifier {
  /** Replaced whole by `update`; a request reads it once, when it starts. */
  material: Material
  closed: boolean
  readonly signatureBudget: number
  readonly meter: SignatureMeter | null
  readonly maxDepth: number
  readonly profile: ProfileOptions
  readonly allowNonCriticalNameConstraints: boolean
}

/**
 * Creates a verifier. Synchronous: certificates are parsed now (bad options throw TypeError
 * naming the problem); CA keys are imported on first use and kept.
 */
export function createTrustVerifier(options: TrustOptions): TrustVerifier {
  return createMeteredTrustVerifier(options, null)
}

/**
 * {@link createTrustVerifier} that adds every signature verification to `meter`: internal, for
 * tests that count the work a request causes.
 */
export function createMeteredTrustVerifier(
  options: TrustOptions,
  meter: SignatureMeter | null
): TrustVerifier {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('trust must be an object.')
  }
  const {
    maxDepth = DEFAULT_MAX_DEPTH,
    signatureBudget = DEFAULT_SIGNATURE_BUDGET,
    allowNonCriticalNameConstraints = false,
  } = options
  const profile = profileOptions(options)
  if (typeof allowNonCriticalNameConstraints !== 'boolean') {
    throw new TypeError('trust.allowNonCriticalNameConstraints must be a boolean.')
  }
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_MAX_DEPTH) {
    throw new TypeError(`trust.maxDepth must be an integer from 1 to ${MAX_MAX_DEPTH}.`)
  }
  if (typeof signatureBudget !== 'number' || !(signatureBudget >= 1)) {
    throw new TypeError('trust.signatureBudget must be a number of at least 1.')
  }
  const verifier: Verifier = {
    material: firstMaterial(options),
    closed: false,
    signatureBudget,
    meter,
    maxDepth,
    profile,
    allowNonCriticalNameConstraints,
  }
  return Object.freeze({
    verify: (leaf, chain, nowMs, toleranceMs) =>
      verifyPath(verifier, leaf, chain, nowMs, toleranceMs),
    isSelfSigned: (der) => isSelfSigned(verifier, der),
    checkPinnedLeaf: async (der) => {
      checkPinnedLeaf(parseCertificate(der), { ...profile, ed25519: await ed25519Supported() })
    },
    purpose: profile.purpose,
    requireClientAuthEku: profile.requireClientAuthEku,
    refusalRetryAt,
    update: (material) => {
      // Built whole before the swap: a request never sees half of an update.
      verifier.material = nextMaterial(verifier.material, material)
    },
    get version() {
      return verifier.material.version
    },
    close: () => {
      if (verifier.closed) return
      verifier.closed = true
      verifier.material.revocation.close()
    },
  } satisfies TrustVerifier)
}

/**
 * Tries candidate paths until one passes every check; otherwise throws the first failure, or
 * why no path was found.
 */
async function verifyPath(
  verifier: Verifier,
  leafDer: Uint8Array,
  chain: readonly Uint8Array[],
  nowMs: number,
  toleranceMs: number
): Promise<TrustVerdict> {
  if (chain.length > MAX_REQUEST_CERTS) {
    throw new CertgateError(
      'ERR_CHAIN_TOO_LONG',
      'The forwarded chain holds too many certificates.'
    )
  }
  const { maxDepth, allowNonCriticalNameConstraints } = verifier
  // The material this request started with, to the end, whatever `update` does meanwhile.
  const { material } = verifier
  const { store, signatures } = material
  const leaf = requestCert(-1, leafDer, parseCertificate(leafDer))
  const candidates = new PathCandidates(leaf, store.withChain(leafDer, chain), { maxDepth })
  const pathOptions = {
    nowMs,
    toleranceMs,
    ...verifier.profile,
    ed25519: await ed25519Supported(),
    allowNonCriticalNameConstraints,
  }
  const signed = signatures.forRequest(leaf, newBudget(verifier))
  let firstError: CertgateError | null = null
  // Each round excludes an edge or sets a path aside, and uses capped search steps: it ends.
  for (;;) {
    const path = candidates.next()
    if (path === null || candidates.triedCount >= MAX_PATHS) break
    let checked: PathSignatures
    try {
      checked = await signed.verifyDown(path)
    } catch (error) {
      // Out of budget: a path that failed its rules earlier says more than the budget does.
      throw firstError ?? error
    }
    if (checked.verdict === 'invalid') {
      candidates.exclude(...checked.edge)
      continue
    }
    candidates.markTried(path)
    try {
      // The path's rules first: a refused key is named as such, not as an unusable signature.
      const parsed = path.map((node) => node.parsed)
      const anchorMayOmit = await anchorMayOmitAki(parsed.at(-1)!)
      checkPath(parsed, { ...pathOptions, anchorMayOmitAki: anchorMayOmit })
      if (checked.verdict === 'unsupported') {
        throw new CertgateError(
          'ERR_CHAIN_INVALID',
          'A certificate on the chain is signed with an algorithm certgate does not accept.'
        )
      }
    } catch (error) {
      if (!isCertgateError(error)) throw error
      firstError ??= error
      continue
    }
    return accept(material, path, edgesOf(path), nowMs, toleranceMs)
  }
  throw firstError ?? noPath(candidates)
}

/** The verdict for a path that passed: bounded by its certificates and the CRLs used. */
async function accept(
  material: Material,
  path: readonly PathCert[],
  edges: readonly Edge[],
  nowMs: number,
  toleranceMs: number
): Promise<TrustVerdict> {
  let validUntil = Infinity
  for (const node of path) {
    validUntil = Math.min(validUntil, node.parsed.fields.notAfter.getTime() + toleranceMs)
  }
  if (material.revocation.active) {
    const links: RevocationLink[] = edges.map(([child, parent], i) => ({
      serialNumber: child.parsed.fields.serialNumber,
      extras: child.parsed.extras(),
      isLeaf: i === 0,
      issuer: {
        keyUsage: parent.parsed.fields.keyUsage,
        subjectKeyIdentifier: parent.parsed.fields.subjectKeyIdentifier,
        signer: material.signatures.signerOf(parent),
      },
    }))
    const crlsValidUntil = await material.revocation.check(links, nowMs, toleranceMs)
    validUntil = Math.min(validUntil, crlsValidUntil)
  }
  return { validUntil, path: path.map((node) => node.parsed.fields.subject) }
}

/** Whether a DER certificate is self-signed: subject is issuer and its own key verifies it. */
async function isSelfSigned(verifier: Verifier, der: Uint8Array): Promise<boolean> {
  const parsed = parseCertificate(der)
  const { subject, issuer } = parsed.fields
  if (distinguishedNameKey(subject) !== distinguishedNameKey(issuer)) return false
  const node = requestCert(-1, der, parsed)
  return (await verifier.material.signatures.verify(node, node, newBudget(verifier))) === 'valid'
}

/** A fresh allowance of signature work for one request. */
function newBudget(verifier: Verifier): SignatureBudget {
  return new SignatureBudget(verifier.signatureBudget, verifier.meter)
}

/** Why no path was found, when no path failed a check of its own. */
function noPath(candidates: PathCandidates): CertgateError {
  if (candidates.depthLimited) {
    return new CertgateError(
      'ERR_CHAIN_INVALID',
      'The chain to a trusted root is longer than allowed.'
    )
  }
  return new CertgateError(
    'ERR_CERT_UNTRUSTED',
    'The client certificate has no chain to a trusted root.'
  )
}
