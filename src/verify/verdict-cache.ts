/**
 * What a verifier remembers between requests: header text → the certificate it identifies, and
 * certificate SHA-256 → its verdict. Refusals are remembered too, so a replayed bad certificate
 * costs a lookup — but one that rests on a CRL fetch only until the revocation checker fetches
 * again, so a short outage does not lock a client out for the whole TTL. Each verifier has its
 * own caches: new options never see another's verdicts. Verdicts rest on the trust material, so
 * they are dropped when the trust verifier's `version` moves, and one computed while it moved is
 * not kept; what a header text identifies does not depend on trust and stays.
 * @module
 */
import { BoundedCache, TextMemo } from '../cache.ts'
import { CertgateError } from '../errors.ts'
import type { TrustVerifier } from '../trust/verifier.ts'
import type { ClientCertificate } from '../x509/certificate.ts'
import type { CacheOptions } from './options.ts'

/** What a header value identifies: the leaf and forwarded chain, after the Hash check. */
export interface Identity {
  readonly der: Uint8Array
  readonly thumbprint: string
  readonly chain: readonly Uint8Array[]
  /**
   * The leaf's SHA-256, plus the chain's when trust is configured: whether a leaf chains to a
   * root can depend on the intermediates that came with it.
   */
  readonly verdictKey: string
}

/** A certificate that passed the request-independent checks, and until when that holds. */
export interface Verdict {
  readonly certificate: ClientCertificate
  /** The earliest notAfter on its path, or a CRL's nextUpdate, in ms. */
  readonly validUntil: number
}

/** One verifier's caches. */
export interface VerdictCaches {
  /** Header text → identity or refusal. A pure function of the text, so safe to remember. */
  readonly identities: TextMemo<Identity | CertgateError>
  /**
   * Certificate SHA-256 (and chain's) → verdict or refusal, made under trust material
   * `verdictsVersion`: replaced by an empty cache when the trust verifier's version moves.
   */
  verdicts: BoundedCache<Verdict | CertgateError>
  verdictsVersion: number
  readonly limits: Required<CacheOptions>
  readonly trust: TrustVerifier | null
  /** Until when a refused verdict holds: the trust verifier's answer, else for good (Infinity). */
  readonly refusalRetryAt: (error: CertgateError) => number
}

/** When a lookup happens, and when what it stores expires at the latest (the TTL). */
interface CacheClock {
  readonly nowMs: number
  readonly ttlEnd: number
}

/** A refusal that holds until the TTL ends: every one but those resting on a CRL fetch. */
const FINAL = (): number => Infinity

/** Empty caches within these limits, for a verifier with or without `trust`. */
export function createVerdictCaches(limits: Required<CacheOptions>, trust: TrustVerifier | null): VerdictCaches {
  return {
    // The header texts are the larger keys, so they get a quarter of the byte budget.
    identities: new TextMemo({ maxEntries: limits.maxEntries, maxBytes: limits.maxBytes / 4 }),
    verdicts: newVerdicts(limits),
    verdictsVersion: trust?.version ?? 0,
    limits,
    trust,
    refusalRetryAt: trust === null ? FINAL : (error) => trust.refusalRetryAt(error),
  }
}

function newVerdicts(limits: Required<CacheOptions>): BoundedCache<Verdict | CertgateError> {
  return new BoundedCache({ maxEntries: limits.maxEntries, maxBytes: limits.maxBytes })
}

/**
 * The verdicts made under the trust material in use now: the cache, or a new empty one when the
 * material changed since. One integer compare when it did not.
 */
function currentVerdicts(caches: VerdictCaches): BoundedCache<Verdict | CertgateError> {
  const { trust } = caches
  if (trust !== null && trust.version !== caches.verdictsVersion) {
    caches.verdicts = newVerdicts(caches.limits)
    caches.verdictsVersion = trust.version
  }
  return caches.verdicts
}

/**
 * The certificate for a header whose identity and verdict are both cached, or undefined when
 * anything must be computed. Throws a cached refusal. The caller re-checks it against the clock.
 */
export function cachedCertificate(caches: VerdictCaches, headerKey: string, nowMs: number): ClientCertificate | undefined {
  const identity = caches.identities.get(headerKey, nowMs)
  if (identity === undefined) return undefined
  if (identity instanceof CertgateError) throw identity
  const verdict = currentVerdicts(caches).get(identity.verdictKey, nowMs)
  if (verdict === undefined) return undefined
  if (verdict instanceof CertgateError) throw verdict
  return verdict.certificate
}

/** The identity for a header text, from the cache or computed (and stored) now. */
export function rememberIdentity(
  caches: VerdictCaches | null,
  headerKey: string,
  clock: CacheClock,
  compute: () => Promise<Identity>
): Promise<Identity> {
  return remembered(caches?.identities, headerKey, compute, {
    clock,
    expiresAt: () => clock.ttlEnd,
    // What a header text identifies, or why it identifies nothing, never changes.
    refusalRetryAt: FINAL,
    bytes: (identity) => identity.chain.reduce((n, c) => n + c.length, identity.der.length),
  })
}

/** The verdict for a certificate, from the cache or computed (and stored) now. */
export function rememberVerdict(
  caches: VerdictCaches | null,
  verdictKey: string,
  clock: CacheClock,
  compute: () => Promise<Verdict>
): Promise<Verdict> {
  // The cache of the material in use as the computation starts: if the material changes before
  // it ends, what it computed goes to a cache nobody reads any more (or stays out of this one).
  return remembered(caches === null ? undefined : currentVerdicts(caches), verdictKey, compute, {
    clock,
    refusalRetryAt: caches?.refusalRetryAt ?? FINAL,
    // Never past the certificate's own end of validity.
    expiresAt: (verdict) => Math.min(clock.ttlEnd, verdict.validUntil + 1),
    // A rough upper bound: the DER, its field strings, and object overhead.
    bytes: (verdict) => verdict.certificate.der.length * 3 + 512,
  })
}

interface Storing<V> {
  readonly clock: CacheClock
  readonly expiresAt: (value: V) => number
  readonly refusalRetryAt: (error: CertgateError) => number
  readonly bytes: (value: V) => number
}

/**
 * Looks a key up, or computes and stores it. A refusal is stored too, until the TTL ends or the
 * revocation checker fetches again (whichever is first), and thrown again on a hit.
 */
async function remembered<V extends object>(
  cache: Pick<BoundedCache<V | CertgateError>, 'get' | 'set'> | undefined,
  key: string,
  compute: () => Promise<V>,
  how: Storing<V>
): Promise<V> {
  const hit = cache?.get(key, how.clock.nowMs)
  if (hit !== undefined) {
    if (hit instanceof CertgateError) throw hit
    return hit
  }
  let value: V
  try {
    value = await compute()
  } catch (error) {
    if (cache !== undefined && error instanceof CertgateError) {
      const until = Math.min(how.clock.ttlEnd, how.refusalRetryAt(error))
      // A CertgateError holds its stack too: a few KiB, not a few bytes.
      if (until > how.clock.nowMs) cache.set(key, error, until, key.length + 4096)
    }
    throw error
  }
  cache?.set(key, value, how.expiresAt(value), key.length + how.bytes(value))
  return value
}
