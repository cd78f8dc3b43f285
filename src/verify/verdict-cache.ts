/**
 * What a verifier remembers between requests: header text → the certificate it identifies, and
 * certificate SHA-256 → its verdict. Refusals are remembered too, so a replayed bad certificate
 * costs a lookup — but one that rests on a CRL fetch only until the revocation checker fetches
 * again, so a short outage does not lock a client out for the whole TTL. Each verifier has its
 * own caches: new options never see another's verdicts. Verdicts rest on the trust material, so
 * they are dropped when the trust verifier's `version` moves, and one computed while it moved is
 * not kept; what a header text identifies does not depend on trust and stays.
 *
 * A returning client is answered in one lookup: once a header text's certificate has an accepted
 * verdict, its identity carries that verdict's {@link Answer} (a copy that expires when the
 * verdict does and holds only under the trust version it was made under), so the header text
 * leads straight to the result, with no second lookup and nothing allocated.
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
  /** The accepted verdict's answer, once there is one: what the next request is answered with. */
  answer: Answer | undefined
}

/**
 * An accepted verdict as a returning client's request needs it: the result to hand out (frozen,
 * the same object every time), the validity window to re-check against the clock (two number
 * compares), until when it holds and under which trust material.
 */
export interface Answer {
  readonly result: { readonly ok: true; readonly certificate: ClientCertificate }
  /** notBefore − tolerance and notAfter + tolerance, in ms. */
  readonly validFromMs: number
  readonly validToMs: number
  /** The verdict's own expiry: never past the TTL it was stored with or its validUntil. */
  readonly expiresAt: number
  /** The trust verifier's version the verdict was made under (0 without trust). */
  readonly trustVersion: number
}

/** A certificate that passed the request-independent checks, and until when that holds. */
export interface Verdict {
  readonly certificate: ClientCertificate
  /** The earliest notAfter on its path, or a CRL's nextUpdate, in ms. */
  readonly validUntil: number
  /** The certificate's DER size, for the cache's byte budget (reading `der` would copy it). */
  readonly derLength: number
  /** Added when the verdict is remembered (see {@link rememberVerdict}). */
  readonly answer?: Answer
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
 * The answer for a header whose identity and verdict are both cached, or undefined when anything
 * must be computed. Throws a cached refusal. The caller re-checks it against the clock. One
 * lookup once the identity carries its answer; two (and the answer linked) the first time.
 */
export function cachedAnswer(caches: VerdictCaches, headerKey: string, nowMs: number): Answer | undefined {
  const identity = caches.identities.get(headerKey, nowMs)
  if (identity === undefined) return undefined
  if (identity instanceof CertgateError) throw identity
  const linked = identity.answer
  if (linked !== undefined && linked.expiresAt > nowMs && linked.trustVersion === trustVersion(caches)) return linked
  const verdict = currentVerdicts(caches).get(identity.verdictKey, nowMs)
  if (verdict === undefined) return undefined
  if (verdict instanceof CertgateError) throw verdict
  identity.answer = verdict.answer
  return verdict.answer
}

function trustVersion(caches: VerdictCaches): number {
  return caches.trust === null ? 0 : caches.trust.version
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
    // The DER, and room for the answer the identity may carry later.
    bytes: (identity) => identity.chain.reduce((n, c) => n + c.length, identity.der.length + 256),
  })
}

/**
 * The verdict for a certificate, from the cache or computed (and stored) now; a computed one
 * carries its {@link Answer}, which `toleranceMs` widens the validity window of.
 */
export function rememberVerdict(
  caches: VerdictCaches | null,
  verdictKey: string,
  clock: CacheClock,
  toleranceMs: number,
  compute: () => Promise<Verdict>
): Promise<Verdict> {
  // The cache of the material in use as the computation starts: if the material changes before
  // it ends, what it computed goes to a cache nobody reads any more (or stays out of this one).
  const verdicts = caches === null ? undefined : currentVerdicts(caches)
  const version = caches === null ? 0 : caches.verdictsVersion
  const answered = async (): Promise<Verdict> => withAnswer(await compute(), clock, toleranceMs, version)
  return remembered(verdicts, verdictKey, answered, {
    clock,
    refusalRetryAt: caches?.refusalRetryAt ?? FINAL,
    expiresAt: (verdict) => verdict.answer!.expiresAt,
    // A rough upper bound: the DER, its field strings, the answer, and object overhead.
    bytes: (verdict) => verdict.derLength * 3 + 768,
  })
}

/** The verdict with its answer; it expires at the TTL's end, never past the validity it rests on. */
function withAnswer(verdict: Verdict, clock: CacheClock, toleranceMs: number, trustVersion: number): Verdict {
  const { certificate, validUntil, derLength } = verdict
  const answer: Answer = Object.freeze({
    result: Object.freeze({ ok: true as const, certificate }),
    validFromMs: certificate.notBefore.getTime() - toleranceMs,
    validToMs: certificate.notAfter.getTime() + toleranceMs,
    expiresAt: Math.min(clock.ttlEnd, validUntil + 1),
    trustVersion,
  })
  return { certificate, validUntil, derLength, answer }
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
