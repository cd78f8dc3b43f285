/**
 * Revocation by CRL (RFC 5280 §5): a strict bounded parser for CertificateList on `der.ts`, the
 * few certificate fields revocation and path checks need beyond `x509-fields.ts` (raw issuer and
 * subject Names, CRL distribution point URIs, unhandled critical extensions), and the checker
 * that applies configured and, optionally, fetched CRLs to a validated path.
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
import { BoundedCache } from '../cache.ts'
import {
  DerReader,
  readBitString,
  readBoolean,
  readIa5String,
  readIntegerBytes,
  readOid,
  readSmallInteger,
  readTime,
  sameEncoding,
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_UTC_TIME,
  type Tlv,
} from '../x509/der.ts'
import { concatBytes, toHex } from '../bytes.ts'
import { CertgateError, isCertgateError, malformed } from '../errors.ts'
import { decodeBase64 } from '../x509/pem.ts'
import {
  type SignatureVerdict,
  type SignedObject,
  type SignerKey,
  verifySignature,
} from '../x509/signature.ts'

/** One parsed CRL. */
export interface CertificateList {
  /** The issuer Name's DER as hex: CRLs are matched to CAs by exact Name bytes. */
  readonly issuerNameKey: string
  /** authorityKeyIdentifier keyIdentifier, uppercase hex, or null. */
  readonly authorityKeyIdentifier: string | null
  readonly thisUpdate: number
  /** null when the CRL has none (RFC 5280 requires one; such a CRL never goes stale here). */
  readonly nextUpdate: number | null
  /** Revoked serials, formatted as `CertificateFields.serialNumber`. */
  readonly revoked: ReadonlySet<string>
  readonly signedObject: SignedObject
  /** Size of the DER, for cache accounting. */
  readonly byteLength: number
}

/** What path checks need from a certificate beyond `CertificateFields`. */
export interface CertificateExtras {
  /** The issuer Name's DER as hex. */
  readonly issuerNameKey: string
  /** The subject Name's DER as hex. */
  readonly subjectNameKey: string
  /** http(s) URIs of complete CRLs for this certificate's issuer (at most 4). */
  readonly distributionPoints: readonly string[]
  /** OID of the first critical extension certgate does not process, or null. */
  readonly unhandledCriticalExtension: string | null
}

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
  /** PEM (`X509 CRL` blocks) or DER. Checked against the CA that issued each path certificate. */
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
    readonly extras: CertificateExtras
    readonly keyUsage: number | null
    readonly subjectKeyIdentifier: string | null
    readonly signer: SignerKey
  }
}

const CRL_LIMITS = { maxLength: 64 * 1024 * 1024, maxDepth: 10, maxTlvs: 32 * 1024 * 1024 }
const CERT_LIMITS = { maxLength: 64 * 1024, maxDepth: 16, maxTlvs: 8192 }
const MAX_CRL_EXTENSIONS = 64
const MAX_DISTRIBUTION_POINTS = 4
const MAX_URL_LENGTH = 2048
const KEY_USAGE_CRL_SIGN = 64
const DEFAULT_TIMEOUT_MS = 2000
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024
const DEFAULT_CACHE_SECONDS = 3600
// A distribution point that just failed is not retried for this long, so an outage costs one
// timeout per interval rather than one per request.
const FAILURE_RETRY_MS = 30_000
const MAX_CACHED_URLS = 64
const MAX_CACHED_BYTES = 64 * 1024 * 1024

// id-ce (2.5.29) arcs of the certificate extensions certgate processes or may safely ignore:
// SKI, keyUsage, SAN, basicConstraints, CDP, certificatePolicies (no policy processing: as with
// an initial policy set of anyPolicy), AKI, EKU.
const HANDLED_CERT_EXTENSIONS = new Set([14, 15, 17, 19, 31, 32, 35, 37])
const EXT_CRL_DISTRIBUTION_POINTS = 31

const INVALID_MESSAGE = 'The revocation status of a certificate could not be established.'

function invalidCrl(reason: string): CertgateError {
  return malformed('ERR_CRL_INVALID', INVALID_MESSAGE, reason)
}

/**
 * Parses one DER CRL. Throws ERR_CRL_INVALID (cause: a short reason) for anything that is not a
 * strictly encoded v1/v2 CRL, or that has a critical CRL or entry extension.
 */
export function parseCrl(der: Uint8Array): CertificateList {
  try {
    return decodeCrl(der)
  } catch (error) {
    if (isCertgateError(error) && error.code === 'ERR_CERT_MALFORMED') {
      throw invalidCrl(`malformed CRL: ${error.cause instanceof Error ? error.cause.message : 'unknown'}`)
    }
    throw error
  }
}

function decodeCrl(der: Uint8Array): CertificateList {
  const r = new DerReader(der, CRL_LIMITS)
  const list = r.children(r.root(TAG_SEQUENCE))
  const tbs = list.expect(TAG_SEQUENCE)
  const outerAlgorithm = list.expect(TAG_SEQUENCE)
  const signature = readBitString(der, list.expect(TAG_BIT_STRING))
  list.finish()
  if (signature.unusedBits !== 0) throw invalidCrl('signature is not whole octets')

  const t = r.children(tbs)
  const versionTlv = t.optional(TAG_INTEGER)
  const version = versionTlv ? readSmallInteger(der, versionTlv, 1) : 0
  if (versionTlv && version !== 1) throw invalidCrl('unknown CRL version')
  const innerAlgorithm = t.expect(TAG_SEQUENCE)
  if (!sameEncoding(der, innerAlgorithm, outerAlgorithm)) throw invalidCrl('algorithms differ')
  const issuer = t.expect(TAG_SEQUENCE)
  const thisUpdate = readTime(der, t.next()).getTime()
  let nextUpdate: number | null = null
  const nextTlv = t.optional(TAG_UTC_TIME) ?? t.optional(TAG_GENERALIZED_TIME)
  if (nextTlv) nextUpdate = readTime(der, nextTlv).getTime()
  const revoked = new Set<string>()
  const entries = t.optional(TAG_SEQUENCE)
  if (entries) {
    const e = r.children(entries)
    while (e.more()) {
      const entry = r.children(e.expect(TAG_SEQUENCE))
      const serial = readIntegerBytes(der, entry.expect(TAG_INTEGER))
      readTime(der, entry.next())
      const entryExtensions = entry.optional(TAG_SEQUENCE)
      entry.finish()
      if (entryExtensions) {
        if (version !== 1) throw invalidCrl('entry extensions in a v1 CRL')
        readExtensionList(r, entryExtensions, null)
      }
      revoked.add(toHex(serial.length > 1 && serial[0] === 0 ? serial.subarray(1) : serial))
    }
  }
  const extensions = t.optional(0xa0)
  t.finish()
  let authorityKeyIdentifier: string | null = null
  if (extensions) {
    if (version !== 1) throw invalidCrl('extensions in a v1 CRL')
    const wrapper = r.children(extensions)
    const list = wrapper.expect(TAG_SEQUENCE)
    wrapper.finish()
    authorityKeyIdentifier = readExtensionList(r, list, 'crl')
  }
  const algorithm = r.children(outerAlgorithm)
  const algorithmOid = readOid(der, algorithm.expect(TAG_OID))
  return {
    issuerNameKey: toHex(r.encoding(issuer)),
    authorityKeyIdentifier,
    thisUpdate,
    nextUpdate,
    revoked,
    signedObject: {
      signed: der.slice(tbs.start, tbs.end),
      algorithm: algorithmOid,
      signature: signature.data.slice(),
    },
    byteLength: der.length,
  }
}

/** Walks an Extensions SEQUENCE; refuses critical ones; returns the AKI for a CRL's own list. */
function readExtensionList(r: DerReader, list: Tlv, kind: 'crl' | null): string | null {
  const bytes = r.bytes
  const c = r.children(list)
  let count = 0
  let aki: string | null = null
  while (c.more()) {
    if (++count > MAX_CRL_EXTENSIONS) throw invalidCrl('too many extensions')
    const extension = r.children(c.expect(TAG_SEQUENCE))
    const id = extension.expect(TAG_OID)
    const oid = readOid(bytes, id)
    const critical = extension.optional(TAG_BOOLEAN)
    // Every critical CRL extension in use (delta CRL indicator, issuing distribution point,
    // certificate issuer) changes what the CRL covers, which this checker does not model.
    if (critical && readBoolean(bytes, critical)) throw invalidCrl(`critical extension ${oid}`)
    const value = extension.expect(TAG_OCTET_STRING)
    extension.finish()
    if (kind === 'crl' && oid === '2.5.29.35') aki = readAki(r, value)
  }
  return aki
}

function readAki(r: DerReader, value: Tlv): string | null {
  const c = r.children(r.encapsulated(value, TAG_SEQUENCE))
  const keyId = c.optional(0x80)
  if (!keyId || keyId.end === keyId.contentStart) return null
  return toHex(r.content(keyId))
}

/**
 * Reads a certificate's raw Names, CRL distribution points and first unhandled critical
 * extension. The certificate must already have passed `readCertificateFields`.
 */
export function readCertificateExtras(der: Uint8Array): CertificateExtras {
  const r = new DerReader(der, CERT_LIMITS)
  const certificate = r.children(r.root(TAG_SEQUENCE))
  const t = r.children(certificate.expect(TAG_SEQUENCE))
  t.optional(0xa0)
  t.expect(TAG_INTEGER)
  t.expect(TAG_SEQUENCE)
  const issuer = t.expect(TAG_SEQUENCE)
  t.expect(TAG_SEQUENCE)
  const subject = t.expect(TAG_SEQUENCE)
  t.expect(TAG_SEQUENCE)
  t.optional(0x81)
  t.optional(0x82)
  const extensions = t.optional(0xa3)
  let distributionPoints: string[] = []
  let unhandledCriticalExtension: string | null = null
  if (extensions) {
    const bytes = r.bytes
    const wrapper = r.children(extensions)
    const list = r.children(wrapper.expect(TAG_SEQUENCE))
    while (list.more()) {
      const extension = r.children(list.expect(TAG_SEQUENCE))
      const id = extension.expect(TAG_OID)
      const critical = extension.optional(TAG_BOOLEAN)
      const value = extension.expect(TAG_OCTET_STRING)
      const s = id.contentStart
      const idCe = id.end - s === 3 && bytes[s] === 0x55 && bytes[s + 1] === 0x1d
      const arc = idCe ? bytes[s + 2]! : -1
      if (arc === EXT_CRL_DISTRIBUTION_POINTS) distributionPoints = readDistributionPoints(r, value)
      const handled = idCe && HANDLED_CERT_EXTENSIONS.has(arc)
      if (
        !handled && unhandledCriticalExtension === null && critical && readBoolean(bytes, critical)
      ) {
        unhandledCriticalExtension = readOid(bytes, id)
      }
    }
  }
  return {
    issuerNameKey: toHex(r.encoding(issuer)),
    subjectNameKey: toHex(r.encoding(subject)),
    distributionPoints,
    unhandledCriticalExtension,
  }
}

/**
 * CRLDistributionPoints → http(s) URIs of the points that give a complete CRL from the
 * certificate's own issuer: points with `reasons` (partitioned) or `cRLIssuer` (indirect) are
 * skipped, as are relative names and non-URI names.
 */
function readDistributionPoints(r: DerReader, value: Tlv): string[] {
  const bytes = r.bytes
  const urls: string[] = []
  const points = r.children(r.encapsulated(value, TAG_SEQUENCE))
  while (points.more()) {
    const point = r.children(points.expect(TAG_SEQUENCE))
    const name = point.optional(0xa0)
    const reasons = point.optional(0x81)
    const crlIssuer = point.optional(0xa2)
    point.finish()
    if (!name || reasons || crlIssuer) continue
    const choice = r.children(name)
    const fullName = choice.optional(0xa0)
    if (!fullName) continue
    const names = r.children(fullName)
    while (names.more()) {
      const general = names.next()
      if (general.tag !== 0x86) continue
      const url = readIa5String(bytes, general)
      if (url.length > MAX_URL_LENGTH || !/^https?:\/\//i.test(url)) continue
      if (urls.length < MAX_DISTRIBUTION_POINTS) urls.push(url)
    }
  }
  return urls
}

// RFC 7468's label, and the one @peculiar/x509 writes.
const PEM_LABELS = new Set(['X509 CRL', 'CRL'])
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END ([A-Z0-9 ]+)-----/g

/**
 * PEM text (`X509 CRL` or `CRL` blocks, only whitespace between) or DER bytes → DER CRLs.
 * Throws TypeError naming `what`.
 */
export function decodeCrlInput(input: string | Uint8Array, what: string): Uint8Array[] {
  if (input instanceof Uint8Array) return [input]
  if (typeof input !== 'string') throw new TypeError(`${what} must be PEM text or DER bytes.`)
  const blocks: Uint8Array[] = []
  let position = 0
  for (const match of input.matchAll(PEM_BLOCK)) {
    const [whole, label, body, endLabel] = match as unknown as [string, string, string, string]
    if (input.slice(position, match.index).trim() !== '' || label !== endLabel) break
    if (!PEM_LABELS.has(label)) throw new TypeError(`${what} holds a PEM block that is not a CRL.`)
    try {
      blocks.push(decodeBase64(body))
    } catch {
      throw new TypeError(`${what} holds a PEM block that is not valid base64.`)
    }
    position = match.index + whole.length
  }
  if (blocks.length === 0 || input.slice(position).trim() !== '') {
    throw new TypeError(`${what} is not X509 CRL PEM text (blocks separated by whitespace only).`)
  }
  return blocks
}

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
      for (const der of decodeCrlInput(input, `trust.crls[${i}]`)) {
        let crl: CertificateList
        try {
          crl = parseCrl(der)
        } catch (error) {
          throw new TypeError(`trust.crls[${i}] is not a valid CRL (${describe(error)}).`)
        }
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
      const body = await download(
        url,
        settings.fetch,
        Math.max(1, deadline - Date.now()),
        settings.maxBytes
      )
      const text = body[0] === 0x2d ? new TextDecoder().decode(body) : null
      const der = text === null ? body : decodeCrlInput(text, 'a fetched CRL')[0]!
      const crl = parseCrl(der)
      const cacheUntil = nowMs + settings.cacheSeconds * 1000
      let expiresAt = crl.nextUpdate === null ? cacheUntil : Math.min(cacheUntil, crl.nextUpdate)
      // A distribution point serving an out-of-date CRL is asked again no sooner than a failed one.
      if (expiresAt <= nowMs) expiresAt = nowMs + Math.min(FAILURE_RETRY_MS, cacheUntil - nowMs)
      const fetched: FetchedCrl = { entry: { crl, verdicts: new WeakMap() }, expiresAt }
      this.#cache.set(url, fetched, expiresAt, crl.byteLength)
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

/** GETs `url` within `timeoutMs`, refusing a non-200 answer or a body over `maxBytes`. */
async function download(
  url: string,
  fetchFn: typeof fetch,
  timeoutMs: number,
  maxBytes: number
): Promise<Uint8Array> {
  const controller = new AbortController()
  // A plain timer cleared in `finally`, not AbortSignal.timeout: no timer outlives the call.
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    const response = await fetchFn(url, {
      signal: controller.signal,
      headers: { accept: 'application/pkix-crl' },
    })
    const body = response.body
    if (response.status !== 200 || body === null) {
      await body?.cancel()
      throw new Error('unexpected response')
    }
    if (Number(response.headers.get('content-length') ?? 0) > maxBytes) {
      await body.cancel()
      throw new Error('too large')
    }
    const reader = body.getReader()
    const chunks: Uint8Array[] = []
    let total = 0
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.length
      if (total > maxBytes) {
        await reader.cancel()
        throw new Error('too large')
      }
      chunks.push(value)
    }
    return concatBytes(chunks)
  } finally {
    clearTimeout(timer)
  }
}

function describe(error: unknown): string {
  if (isCertgateError(error) && error.cause instanceof Error) return error.cause.message
  return 'unreadable'
}
