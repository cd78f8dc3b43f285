/**
 * Fetching CRLs from distribution points: bounded in time and size, one download per point and
 * issuing CA at a time, redirects never followed (a distribution point could bounce the fetch to
 * a loopback or cloud-metadata address, so a 3xx is a failed fetch). A downloaded CRL is kept only
 * once the caller's check accepted it (over plain http anyone on the path can swap it), until
 * its nextUpdate or `cacheSeconds`; a point that failed is not asked again for 30 s.
 *
 * Refresh ahead: a kept CRL that requests use is downloaded again in the background once 80% of
 * the time it is kept has passed, so no request waits on a download while a usable CRL is kept
 * (only first use, or a CRL that expired, waits). The new CRL replaces the old only after the
 * same check; a failed refresh keeps the old one and is retried every 30 s while it is good.
 * Timers are unref'd and `close()` clears them.
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

/** Where a CRL comes from and how it is checked: what a background refresh keeps. */
export interface CrlSource {
  readonly url: string
  /** Whose CRL it must be (the issuing CA's key): a CRL is kept for the key that checked it. */
  readonly issuer: string
  /** Throws unless the CRL is the issuer's; runs before the CRL is kept. */
  readonly check: (crl: CertificateList) => Promise<void>
}

/** One CRL to get, for a request. */
export interface WantedCrl extends CrlSource {
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
// A kept CRL is refreshed once this share of its kept life has passed: for the default hour,
// 12 minutes before it expires, time for 24 retries 30 s apart when the point is down.
const REFRESH_AT_SHARE = 0.8
// setTimeout fires at once past 2^31 - 1 ms; a longer wait is taken in steps.
const MAX_TIMER_MS = 2_147_483_647

/**
 * The clock and timers background refreshes run on. Internal: tests drive them by hand; the
 * default is Date.now and setTimeout, unref'd.
 */
export interface FetcherClock {
  readonly now: () => number
  /** Runs `run` once after `ms`; the timer must not keep the process alive. */
  readonly setTimer: (run: () => void, ms: number) => unknown
  readonly clearTimer: (timer: unknown) => void
}

/** Date.now, and setTimeout timers that never keep the process alive. */
export const systemClock: FetcherClock = {
  now: () => Date.now(),
  setTimer: (run, ms) => {
    const timer: unknown = setTimeout(run, ms)
    if (typeof timer === 'object' && timer !== null && 'unref' in timer) {
      // Node and Bun: a Timeout object.
      ;(timer as { unref: () => void }).unref()
    } else if (typeof timer === 'number') {
      // Deno: a numeric id, unref'd through Deno.unrefTimer (absent elsewhere, e.g. browsers).
      const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno
      deno?.unrefTimer?.(timer)
    }
    return timer
  },
  clearTimer: (timer) => clearTimeout(timer as Parameters<typeof clearTimeout>[0]),
}

const clocks = new WeakMap<FetchCrlsOptions, FetcherClock>()

/**
 * Internal, for tests: the fetcher a verifier builds from these very options runs its
 * background refreshes on `clock`. Returns `options`.
 */
export function withFetcherClock<T extends FetchCrlsOptions>(options: T, clock: FetcherClock): T {
  clocks.set(options, clock)
  return options
}

/** A kept CRL's background refresh. */
interface Refresh {
  readonly key: string
  readonly source: CrlSource
  readonly fetched: FetchedCrl
  /** When the next background download is due: the refresh point, then after each failure. */
  dueAt: number
  /** A request used this CRL since it was kept: a CRL nobody uses is left to expire. */
  used: boolean
  timer: unknown
}

/** Downloads, checks and keeps CRLs, and refreshes the ones requests use before they expire. */
export class CrlFetcher {
  readonly settings: FetchSettings
  readonly #clock: FetcherClock
  readonly #cache = new BoundedCache<FetchedCrl>({
    maxEntries: MAX_CACHED_URLS,
    maxBytes: MAX_CACHED_BYTES,
    // A fetched CRL is worth keeping from the first download: it passed the caller's check.
    admission: 'always',
  })
  readonly #inFlight = new Map<string, Promise<FetchedCrl | null>>()
  readonly #failedUntil = new Map<string, number>()
  // Key → the refresh of the CRL kept under it: no more of them than the cache holds CRLs.
  readonly #refreshes = new Map<string, Refresh>()
  #closed = false

  /** Bad options throw TypeError naming the problem. `clock` is internal, for tests. */
  constructor(options: FetchCrlsOptions, clock: FetcherClock = clocks.get(options) ?? systemClock) {
    this.settings = fetchSettings(options)
    this.#clock = clock
  }

  /**
   * Stops background refreshes for good and clears their timers; requests still get CRLs, as
   * on first use. Idempotent: the verifier's `close()` calls it.
   */
  close(): void {
    this.#closed = true
    for (const refresh of this.#refreshes.values()) this.#cancel(refresh)
    this.#refreshes.clear()
  }

  /** The checked CRL, cached or downloaded now; or, on failure, when the point is asked again. */
  async get(wanted: WantedCrl): Promise<FetchedCrl | { readonly retryAt: number }> {
    const key = `${wanted.issuer} ${wanted.url}`
    const fetched = await this.#get(key, wanted)
    if (fetched !== null) return fetched
    return { retryAt: this.#failedUntil.get(key) ?? wanted.nowMs + FAILURE_RETRY_MS }
  }

  #get(key: string, wanted: WantedCrl): Promise<FetchedCrl | null> {
    const cached = this.#cache.get(key, wanted.nowMs)
    if (cached !== undefined) {
      this.#used(key, cached, wanted.nowMs)
      return Promise.resolve(cached)
    }
    const failedUntil = this.#failedUntil.get(key)
    if (failedUntil !== undefined && failedUntil > wanted.nowMs) return Promise.resolve(null)
    // A refresh in flight for a CRL that expired meanwhile is the download this request needs.
    let pending = this.#inFlight.get(key)
    if (pending === undefined) {
      const { url, issuer, check, nowMs } = wanted
      const timeoutMs = Math.max(1, wanted.deadline - Date.now())
      pending = this.#download(key, { url, issuer, check }, nowMs, timeoutMs, null)
        .catch(() => this.#fail(key, nowMs))
        .finally(() => this.#inFlight.delete(key))
      this.#inFlight.set(key, pending)
    }
    return pending
  }

  /** A request found `fetched` kept: marks it used, and starts its refresh (not awaited) if due. */
  #used(key: string, fetched: FetchedCrl, nowMs: number): void {
    const refresh = this.#refreshes.get(key)
    if (refresh === undefined || refresh.fetched !== fetched) return
    refresh.used = true
    // Its timer may not have fired (a suspended process): the request starts it, never waits.
    if (nowMs >= refresh.dueAt) this.#refresh(refresh)
  }

  /**
   * Downloads, parses and checks a CRL, then keeps it; throws on any failure. `previous`: the
   * CRL a background refresh replaces (null for a request's download).
   */
  async #download(
    key: string,
    source: CrlSource,
    nowMs: number,
    timeoutMs: number,
    previous: FetchedCrl | null
  ): Promise<FetchedCrl> {
    const body = await download(source.url, this.settings, timeoutMs)
    const crl = readCrls(body[0] === 0x2d ? new TextDecoder().decode(body) : body)[0]!
    await source.check(crl)
    // An older CRL, though signed, could predate a revocation the kept one lists (a replay).
    if (previous !== null && crl.thisUpdate < previous.crl.thisUpdate) throw new Error('older CRL')
    const cacheUntil = nowMs + this.settings.cacheSeconds * 1000
    let expiresAt = crl.nextUpdate === null ? cacheUntil : Math.min(cacheUntil, crl.nextUpdate)
    const current = expiresAt > nowMs
    // A distribution point serving an out-of-date CRL is asked again no sooner than a failed one.
    if (!current) expiresAt = nowMs + Math.min(FAILURE_RETRY_MS, cacheUntil - nowMs)
    const fetched: FetchedCrl = { crl, expiresAt }
    this.#cache.set(key, fetched, expiresAt, crl.der.length)
    this.#failedUntil.delete(key)
    // An out-of-date CRL gets no refresh: like a failed point, it is asked again once it expires.
    if (current) {
      const dueAt = nowMs + Math.round(REFRESH_AT_SHARE * (expiresAt - nowMs))
      // A request's download is in use; a refresh's result waits for a request to use it.
      this.#schedule({ key, source, fetched, dueAt, used: previous === null, timer: undefined })
    }
    return fetched
  }

  /** The point failed with nothing usable kept: not asked again for a while. */
  #fail(key: string, nowMs: number): null {
    if (this.#failedUntil.size >= MAX_CACHED_URLS) this.#failedUntil.clear()
    const pause = Math.min(FAILURE_RETRY_MS, this.settings.cacheSeconds * 1000)
    this.#failedUntil.set(key, nowMs + pause)
    return null
  }

  /** Makes `refresh` its key's, replacing any; past the bound, the oldest refresh is dropped. */
  #schedule(refresh: Refresh): void {
    if (this.#closed) return
    const previous = this.#refreshes.get(refresh.key)
    if (previous !== undefined) this.#drop(previous)
    if (this.#refreshes.size >= MAX_CACHED_URLS) this.#drop(this.#refreshes.values().next().value!)
    this.#refreshes.set(refresh.key, refresh)
    this.#arm(refresh)
  }

  #drop(refresh: Refresh): void {
    this.#cancel(refresh)
    this.#refreshes.delete(refresh.key)
  }

  /** Sets the timer for `refresh.dueAt`, in steps when it is further than a timer can wait. */
  #arm(refresh: Refresh): void {
    if (this.#closed) return
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, refresh.dueAt - this.#clock.now()))
    refresh.timer = this.#clock.setTimer(() => {
      refresh.timer = undefined
      if (this.#clock.now() < refresh.dueAt) this.#arm(refresh)
      else this.#refresh(refresh)
    }, wait)
  }

  #cancel(refresh: Refresh): void {
    if (refresh.timer === undefined) return
    this.#clock.clearTimer(refresh.timer)
    refresh.timer = undefined
  }

  /**
   * Starts a background download, not awaited: one per key at a time, for a CRL the cache still
   * holds and a request used (an unused one is left to expire, unless a request uses it first).
   */
  #refresh(refresh: Refresh): void {
    const { key } = refresh
    if (this.#closed || this.#refreshes.get(key) !== refresh || this.#inFlight.has(key)) return
    this.#cancel(refresh)
    if (!refresh.used) return
    const nowMs = this.#clock.now()
    if (this.#cache.get(key, nowMs) !== refresh.fetched) {
      this.#refreshes.delete(key)
      return
    }
    // Its own timeout: a background download has no request deadline to keep.
    const { timeoutMs } = this.settings
    const pending = this.#download(key, refresh.source, nowMs, timeoutMs, refresh.fetched)
      .catch(() => this.#refreshFailed(refresh))
      .finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, pending)
  }

  /**
   * A refresh failed: the old CRL stays, and the point is asked again after the pause while the
   * old CRL is good. Only once nothing usable is kept does the point count as failed.
   */
  #refreshFailed(refresh: Refresh): FetchedCrl | null {
    const nowMs = this.#clock.now()
    if (nowMs >= refresh.fetched.expiresAt) return this.#fail(refresh.key, nowMs)
    refresh.dueAt = nowMs + FAILURE_RETRY_MS
    if (refresh.dueAt < refresh.fetched.expiresAt && this.#refreshes.get(refresh.key) === refresh) {
      this.#arm(refresh)
    }
    return refresh.fetched
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
