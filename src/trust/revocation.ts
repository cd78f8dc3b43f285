/**
 * Revocation by CRL: the checker that applies configured and, optionally, fetched CRLs (parsed
 * by `x509/crl.ts`) to a validated path.
 *
 * Fail-closed decisions, each documented on {@link RevocationOptions}: a CRL whose signature does
 * not verify with its issuer CA's key, that its CA may not sign (keyUsage without cRLSign), that
 * is not valid yet, or that carries any critical extension (delta CRLs, partitioned and indirect
 * CRLs are not supported) refuses the request with ERR_CRL_INVALID. A serial listed in a CRL
 * whose signature verifies is revoked even when the CRL is past nextUpdate.
 *
 * A CRL applies to a certificate when its issuer Name has the same DER bytes as the certificate's
 * issuer field, or its authority key id equals the issuing CA's subject key id; the CRL's
 * signature by that CA is what binds it. Where no CRL for an issuer is configured or fetched, that
 * link goes unchecked.
 * @module
 */
import { fetchWithDeadline, readBody } from '../body.ts'
import { BoundedCache } from '../cache.ts'
import { CertgateError, isCertgateError } from '../errors.ts'
import { type CertificateList, CRL_LIMITS, invalidCrl, readCrls } from '../x509/crl.ts'
import type { CertificateExtras } from '../x509/fields.ts'
import { type SignatureVerdict, type SignerKey, verifySignature } from '../x509/signature.ts'

/** Optional fetching of CRLs from the leaf's CRL distribution points. */
export interface FetchCrlsOptions {
  /** Deadline for all the leaf's distribution points together. Default 2000 ms. */
  timeoutMs?: number
  /** Largest CRL accepted. Default 4 MiB. */
  maxBytes?: number
  /** Reuse a fetched CRL until its nextUpdate or this long, whichever comes first. Default 3600. */
  cacheSeconds?: number
  /** When no distribution point gives a usable CRL: refuse (ERR_CRL_INVALID) or carry on. */
  onFailure: 'refuse' | 'allow'
  /** Default `globalThis.fetch`. */
  fetch?: typeof fetch
}

/** Revocation settings (a subset of `TrustOptions`). */
export interface RevocationOptions {
  /**
   * PEM (`X509 CRL` or `CRL` blocks; text around them is skipped) or DER. Checked against the CA
   * that issued each path certificate.
   */
  crls?: ReadonlyArray<string | Uint8Array>
  /** A CRL past nextUpdate + tolerance: `'refuse'` (default, ERR_CRL_INVALID) or `'ignore'` it. */
  staleCrl?: 'refuse' | 'ignore'
  fetchCrls?: FetchCrlsOptions
}

/** A certificate of a validated path whose status is to be checked, with the CA that issued it. */
export interface RevocationLink {
  readonly serialNumber: string
  readonly extras: CertificateExtras
  readonly isLeaf: boolean
  readonly issuer: {
    readonly keyUsage: number | null
    readonly subjectKeyIdentifier: string | null
    readonly signer: SignerKey
  }
}

const KEY_USAGE_CRL_SIGN = 64
const DEFAULT_TIMEOUT_MS = 2000
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024
const DEFAULT_CACHE_SECONDS = 3600
// A distribution point that just failed is not retried for this long, so an outage costs one
// timeout per interval rather than one per request.
const FAILURE_RETRY_MS = 30_000
const MAX_CACHED_URLS = 64
const MAX_CACHED_BYTES = 64 * 1024 * 1024

interface ConfiguredCrl {
  readonly crl: CertificateList
  readonly verdicts: WeakMap<SignerKey, Promise<SignatureVerdict>>
}

type FetchSettings = Required<Omit<FetchCrlsOptions, 'fetch'>> & { fetch: typeof fetch }

interface FetchedCrl {
  readonly entry: ConfiguredCrl
  readonly expiresAt: number
}

/** Applies configured and fetched CRLs to validated paths. */
export class RevocationChecker {
  readonly #byIssuer = new Map<string, ConfiguredCrl[]>()
  // Also by key id: a CA that re-encodes its Name in its CRLs is still found by its key.
  readonly #byKeyId = new Map<string, ConfiguredCrl[]>()
  readonly #stale: 'refuse' | 'ignore'
  readonly #fetch: FetchSettings | null
  readonly #cache = new BoundedCache<FetchedCrl>({
    maxEntries: MAX_CACHED_URLS,
    maxBytes: MAX_CACHED_BYTES,
    // A fetched CRL is worth keeping from the first download: the URLs come from configured CAs.
    admission: 'always',
  })
  readonly #inFlight = new Map<string, Promise<FetchedCrl | null>>()
  readonly #failedUntil = new Map<string, number>()

  /** Parses configured CRLs; bad options throw TypeError naming the problem. */
  constructor(options: RevocationOptions) {
    const { crls = [], staleCrl = 'refuse', fetchCrls } = options
    if (staleCrl !== 'refuse' && staleCrl !== 'ignore') {
      throw new TypeError("trust.staleCrl must be 'refuse' or 'ignore'.")
    }
    this.#stale = staleCrl
    if (!Array.isArray(crls)) throw new TypeError('trust.crls must be an array.')
    crls.forEach((input, i) => {
      for (const crl of configuredCrls(input, `trust.crls[${i}]`)) {
        const entry: ConfiguredCrl = { crl, verdicts: new WeakMap() }
        addTo(this.#byIssuer, crl.issuerNameKey, entry)
        if (crl.authorityKeyIdentifier !== null) {
          addTo(this.#byKeyId, crl.authorityKeyIdentifier, entry)
        }
      }
    })
    this.#fetch = fetchCrls === undefined ? null : fetchSettings(fetchCrls)
  }

  /** True when there is anything to check. */
  get active(): boolean {
    return this.#byIssuer.size > 0 || this.#fetch !== null
  }

  /**
   * Checks each link; throws ERR_CERT_REVOKED or ERR_CRL_INVALID. Returns the time until which
   * the CRLs used stay current (Infinity when none bounds it).
   */
  async check(
    links: readonly RevocationLink[],
    nowMs: number,
    toleranceMs: number
  ): Promise<number> {
    let validUntil = Infinity
    for (const link of links) {
      const configured = this.#configuredFor(link)
      if (configured !== null) {
        await requireSigned(configured, link)
        validUntil = Math.min(validUntil, this.#apply(configured.crl, link, nowMs, toleranceMs))
      }
      if (this.#fetch !== null && link.isLeaf && link.extras.distributionPoints.length > 0) {
        validUntil = Math.min(validUntil, await this.#checkFetched(link, nowMs, toleranceMs))
      }
    }
    return validUntil
  }

  /** The newest configured CRL from this link's issuer (by Name, and key id when both have one). */
  #configuredFor(link: RevocationLink): ConfiguredCrl | null {
    const ski = link.issuer.subjectKeyIdentifier
    const byName = this.#byIssuer.get(link.extras.issuerNameKey) ?? []
    const byKey = ski === null ? [] : (this.#byKeyId.get(ski) ?? [])
    let best: ConfiguredCrl | null = null
    for (const candidate of [...byName, ...byKey]) {
      if (!sameAuthority(candidate.crl, link)) continue
      if (best === null || candidate.crl.thisUpdate > best.crl.thisUpdate) best = candidate
    }
    return best
  }

  /** Applies one CRL whose signature verified; returns its bound on the verdict. */
  #apply(crl: CertificateList, link: RevocationLink, nowMs: number, toleranceMs: number): number {
    // Revocation is final, so a listed serial counts even when the CRL is out of date.
    if (crl.revoked.has(link.serialNumber)) {
      throw new CertgateError(
        'ERR_CERT_REVOKED',
        link.isLeaf
          ? 'The client certificate has been revoked.'
          : 'An issuing CA certificate has been revoked.'
      )
    }
    if (crl.thisUpdate - toleranceMs > nowMs) throw invalidCrl('CRL not valid yet')
    if (crl.nextUpdate === null) return Infinity
    if (crl.nextUpdate + toleranceMs < nowMs) {
      if (this.#stale === 'refuse') throw invalidCrl('CRL past nextUpdate')
      return Infinity
    }
    return crl.nextUpdate + toleranceMs
  }

  async #checkFetched(link: RevocationLink, nowMs: number, toleranceMs: number): Promise<number> {
    const settings = this.#fetch!
    const deadline = Date.now() + settings.timeoutMs
    for (const url of link.extras.distributionPoints) {
      const fetched = await this.#get(url, nowMs, deadline)
      if (fetched === null) continue
      if (!sameAuthority(fetched.entry.crl, link)) continue
      try {
        await requireSigned(fetched.entry, link)
      } catch {
        // Over plain http anyone on the path can swap the CRL: a bad one is an outage, no more.
        continue
      }
      return Math.min(fetched.expiresAt, this.#apply(fetched.entry.crl, link, nowMs, toleranceMs))
    }
    if (settings.onFailure === 'refuse') {
      throw invalidCrl('no usable CRL at the distribution points')
    }
    return Infinity
  }

  /** A cached CRL, or one fetched (one request per URL at a time); null on failure. */
  #get(url: string, nowMs: number, deadline: number): Promise<FetchedCrl | null> {
    const cached = this.#cache.get(url, nowMs)
    if (cached !== undefined) return Promise.resolve(cached)
    const failedUntil = this.#failedUntil.get(url)
    if (failedUntil !== undefined && failedUntil > nowMs) return Promise.resolve(null)
    let pending = this.#inFlight.get(url)
    if (pending === undefined) {
      pending = this.#download(url, nowMs, deadline).finally(() => this.#inFlight.delete(url))
      this.#inFlight.set(url, pending)
    }
    return pending
  }

  async #download(url: string, nowMs: number, deadline: number): Promise<FetchedCrl | null> {
    const settings = this.#fetch!
    try {
      const body = await download(url, settings, Math.max(1, deadline - Date.now()))
      const crl = readCrls(body[0] === 0x2d ? new TextDecoder().decode(body) : body)[0]!
      const cacheUntil = nowMs + settings.cacheSeconds * 1000
      let expiresAt = crl.nextUpdate === null ? cacheUntil : Math.min(cacheUntil, crl.nextUpdate)
      // A distribution point serving an out-of-date CRL is asked again no sooner than a failed one.
      if (expiresAt <= nowMs) expiresAt = nowMs + Math.min(FAILURE_RETRY_MS, cacheUntil - nowMs)
      const fetched: FetchedCrl = { entry: { crl, verdicts: new WeakMap() }, expiresAt }
      this.#cache.set(url, fetched, expiresAt, crl.der.length)
      this.#failedUntil.delete(url)
      return fetched
    } catch {
      if (this.#failedUntil.size >= MAX_CACHED_URLS) this.#failedUntil.clear()
      this.#failedUntil.set(url, nowMs + Math.min(FAILURE_RETRY_MS, settings.cacheSeconds * 1000))
      return null
    }
  }
}

function addTo(map: Map<string, ConfiguredCrl[]>, key: string, entry: ConfiguredCrl): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [entry])
  else list.push(entry)
}

/** False when both the CRL and the issuing CA name a key, and the keys differ. */
function sameAuthority(crl: CertificateList, link: RevocationLink): boolean {
  const ski = link.issuer.subjectKeyIdentifier
  return crl.authorityKeyIdentifier === null || ski === null || crl.authorityKeyIdentifier === ski
}

/** Throws ERR_CRL_INVALID unless the link's issuer may sign CRLs and signed this one. */
async function requireSigned(entry: ConfiguredCrl, link: RevocationLink): Promise<void> {
  const { keyUsage, signer } = link.issuer
  if (keyUsage !== null && (keyUsage & KEY_USAGE_CRL_SIGN) === 0) {
    throw invalidCrl('issuer lacks cRLSign')
  }
  let verdict = entry.verdicts.get(signer)
  if (verdict === undefined) {
    verdict = verifySignature(entry.crl.signedObject, signer)
    entry.verdicts.set(signer, verdict)
  }
  if ((await verdict) !== 'valid') throw invalidCrl('CRL signature does not verify')
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

/** The CRLs of one `trust.crls` entry; throws TypeError naming `what`. */
function configuredCrls(input: string | Uint8Array, what: string): CertificateList[] {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new TypeError(`${what} must be PEM text or DER bytes.`)
  }
  try {
    return readCrls(input)
  } catch (error) {
    if (!isCertgateError(error)) throw error
    const reason = error.cause instanceof Error ? error.cause.message : 'unreadable'
    throw new TypeError(`${what} is not a valid CRL (${reason}).`)
  }
}

/** GETs `url` within `timeoutMs`, refusing a non-200 answer or a body over `maxBytes`. */
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
    const response = await fetchWithDeadline(settings.fetch, url, { signal, headers })
    if (response.status !== 200) {
      await response.body?.cancel()
      throw new Error('unexpected response')
    }
    return await readBody(response, { maxBytes: settings.maxBytes, signal })
  } finally {
    clearTimeout(timer)
  }
}
