/**
 * Fetching CRLs from distribution points: bounded in time and size, one download per point and
 * issuing CA at a time, redirects never followed (a distribution point could bounce the fetch to
 * a loopback or cloud-metadata address, so a 3xx is a failed fetch). A downloaded CRL is kept only
 * once the caller's check accepted it (over plain http anyone on the path can swap it), until
 * its nextUpdate or `cacheSeconds`; a point that failed is not asked again for 30 s.
 * @module
 */
import { fetchWithDeadline, readBody } from '../body.ts'
import { BoundedCache } from '../cache.ts'
import { type CertificateList, CRL_LIMITS, readCrls } from '../x509/crl.ts'

/** Optional fetching of CRLs from the leaf's CRL distribution points. */
export interface FetchCrlsOptions {
  /** Deadline for all the leaf's distribution points together. Default 2000 ms. */
  timeoutMs?: number
  /** Largest CRL accepted. Default 4 MiB. */
  maxBytes?: number
  /** Reuse a fetched CRL until its nextUpdate or this long, whichever comes first. Default 3600. */
  cacheSeconds?: number
  /**
   * When no distribution point gives a usable CRL: refuse (ERR_CRL_INVALID) or carry on. Either
   * verdict holds only until the point is asked again (30 s).
   */
  onFailure: 'refuse' | 'allow'
  /** Default `globalThis.fetch`. Called with `redirect: 'manual'`; a redirect is a failure. */
  fetch?: typeof fetch
}

/** A fetched CRL the caller's check accepted, and until when it is kept. */
export interface FetchedCrl {
  readonly crl: CertificateList
  readonly expiresAt: number
}

/** One CRL to get. */
export interface WantedCrl {
  readonly url: string
  /** Whose CRL it must be (the issuing CA's key): a CRL is kept for the key that checked it. */
  readonly issuer: string
  /** Throws unless the CRL is the issuer's; runs before the CRL is kept. */
  readonly check: (crl: CertificateList) => Promise<void>
  readonly nowMs: number
  /** Epoch ms, real time: when the distribution points must have answered. */
  readonly deadline: number
}

type FetchSettings = Required<Omit<FetchCrlsOptions, 'fetch'>> & { fetch: typeof fetch }

const DEFAULT_TIMEOUT_MS = 2000
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024
const DEFAULT_CACHE_SECONDS = 3600
// A distribution point that just failed is not retried for this long, so an outage costs one
// timeout per interval rather than one per request.
const FAILURE_RETRY_MS = 30_000
const MAX_CACHED_URLS = 64
const MAX_CACHED_BYTES = 64 * 1024 * 1024

/** Downloads, checks and keeps CRLs. */
export class CrlFetcher {
  readonly settings: FetchSettings
  readonly #cache = new BoundedCache<FetchedCrl>({
    maxEntries: MAX_CACHED_URLS,
    maxBytes: MAX_CACHED_BYTES,
    // A fetched CRL is worth keeping from the first download: it passed the caller's check.
    admission: 'always',
  })
  readonly #inFlight = new Map<string, Promise<FetchedCrl | null>>()
  readonly #failedUntil = new Map<string, number>()

  /** Bad options throw TypeError naming the problem. */
  constructor(options: FetchCrlsOptions) {
    this.settings = fetchSettings(options)
  }

  /** Stops any background work (none yet): the verifier's `close()` calls it. */
  close(): void {}

  /** The checked CRL, cached or downloaded now; or, on failure, when the point is asked again. */
  async get(wanted: WantedCrl): Promise<FetchedCrl | { readonly retryAt: number }> {
    const key = `${wanted.issuer} ${wanted.url}`
    const fetched = await this.#get(key, wanted)
    if (fetched !== null) return fetched
    return { retryAt: this.#failedUntil.get(key) ?? wanted.nowMs + FAILURE_RETRY_MS }
  }

  #get(key: string, wanted: WantedCrl): Promise<FetchedCrl | null> {
    const cached = this.#cache.get(key, wanted.nowMs)
    if (cached !== undefined) return Promise.resolve(cached)
    const failedUntil = this.#failedUntil.get(key)
    if (failedUntil !== undefined && failedUntil > wanted.nowMs) return Promise.resolve(null)
    let pending = this.#inFlight.get(key)
    if (pending === undefined) {
      pending = this.#download(key, wanted).finally(() => this.#inFlight.delete(key))
      this.#inFlight.set(key, pending)
    }
    return pending
  }

  /** Downloads, parses and checks a CRL, then keeps it; null (and a pause) on any failure. */
  async #download(key: string, wanted: WantedCrl): Promise<FetchedCrl | null> {
    const { settings } = this
    const { nowMs } = wanted
    try {
      const body = await download(wanted.url, settings, Math.max(1, wanted.deadline - Date.now()))
      const crl = readCrls(body[0] === 0x2d ? new TextDecoder().decode(body) : body)[0]!
      await wanted.check(crl)
      const cacheUntil = nowMs + settings.cacheSeconds * 1000
      let expiresAt = crl.nextUpdate === null ? cacheUntil : Math.min(cacheUntil, crl.nextUpdate)
      // A distribution point serving an out-of-date CRL is asked again no sooner than a failed one.
      if (expiresAt <= nowMs) expiresAt = nowMs + Math.min(FAILURE_RETRY_MS, cacheUntil - nowMs)
      const fetched: FetchedCrl = { crl, expiresAt }
      this.#cache.set(key, fetched, expiresAt, crl.der.length)
      this.#failedUntil.delete(key)
      return fetched
    } catch {
      if (this.#failedUntil.size >= MAX_CACHED_URLS) this.#failedUntil.clear()
      this.#failedUntil.set(key, nowMs + Math.min(FAILURE_RETRY_MS, settings.cacheSeconds * 1000))
      return null
    }
  }
}

function fetchSettings(options: FetchCrlsOptions): FetchSettings {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('trust.fetchCrls must be an object.')
  }
  const {
    timeoutMs = DEFAULT_TIMEOUT_MS,
    maxBytes = DEFAULT_MAX_BYTES,
    cacheSeconds = DEFAULT_CACHE_SECONDS,
    onFailure,
  } = options
  if (onFailure !== 'refuse' && onFailure !== 'allow') {
    throw new TypeError("trust.fetchCrls.onFailure must be 'refuse' or 'allow'.")
  }
  positive(timeoutMs, 'trust.fetchCrls.timeoutMs')
  positive(maxBytes, 'trust.fetchCrls.maxBytes')
  positive(cacheSeconds, 'trust.fetchCrls.cacheSeconds')
  if (maxBytes > CRL_LIMITS.maxLength) {
    throw new TypeError(`trust.fetchCrls.maxBytes must be at most ${CRL_LIMITS.maxLength}.`)
  }
  const fetchFn = options.fetch ?? globalThis.fetch
  if (typeof fetchFn !== 'function') {
    throw new TypeError('trust.fetchCrls.fetch must be a function.')
  }
  return { timeoutMs, maxBytes, cacheSeconds, onFailure, fetch: fetchFn }
}

function positive(value: unknown, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${what} must be a positive number.`)
  }
}

/**
 * GETs `url` within `timeoutMs`, refusing a non-200 answer (a redirect included: it is never
 * followed) or a body over `maxBytes`.
 */
async function download(
  url: string,
  settings: FetchSettings,
  timeoutMs: number
): Promise<Uint8Array> {
  const controller = new AbortController()
  // A plain timer cleared in `finally`, not AbortSignal.timeout: no timer outlives the call.
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    const { signal } = controller
    const headers = { accept: 'application/pkix-crl' }
    const init = { signal, headers, redirect: 'manual' as const }
    const response = await fetchWithDeadline(settings.fetch, url, init)
    // `redirected`: a fetch function that followed the redirect anyway.
    if (response.status !== 200 || response.redirected) {
      await response.body?.cancel()
      throw new Error('unexpected response')
    }
    return await readBody(response, { maxBytes: settings.maxBytes, signal })
  } finally {
    clearTimeout(timer)
  }
}
