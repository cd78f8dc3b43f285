/**
 * The pipeline for one request: check the request came through the proxy, read what the proxy
 * forwarded (a source: Envoy's XFCC by default), identify the certificate by its SHA-256, and run
 * the checks. Options are compiled once by {@link createClientCertVerifier}; a request never
 * re-reads them.
 * @module
 */
import { concatBytes } from './bytes.ts'
import { BoundedCache, TextMemo } from './cache.ts'
import { type ClientCertificate, digestHex, readClientCertificate } from './x509/certificate.ts'
import { CertgateError, isCertgateError } from './errors.ts'
import {
  type AllowList,
  type CompiledAllowList,
  checkForwardedHash,
  checkValidity,
  compileAllowList,
  matchAllowList,
} from './policy.ts'
import { createProxyCheck, type ProxyCheck } from './proxy/check.ts'
import {
  type CertificateSource,
  type ForwardedCertificate,
  type SourceRead,
  type XfccElementChoice,
  xfccSource,
} from './sources/index.ts'
import { createTrustVerifier, type TrustOptions, type TrustVerifier } from './trust/verifier.ts'

/** ACA's `clientCertificateMode` values that reach the app. */
export type ClientCertMode = 'require' | 'accept'

/** Options shared by every way in (`verifyClientCert`, `withClientCert`, `clientCert`). */
export interface ClientCertOptions {
  /**
   * Who may in: lists of which any may match, or `'any-valid'` to admit every certificate that
   * passes the checks. Required unless `authorize` is given.
   */
  allow?: AllowList | 'any-valid'
  /** Your own decision, after the checks and the allowlist; return false to refuse. */
  authorize?: (cert: ClientCertificate, request: Request) => boolean | Promise<boolean>
  /** `require` (default) refuses a request without a certificate; `accept` lets it through with none. */
  mode?: ClientCertMode
  /**
   * Where the certificate comes from: Envoy's XFCC (default), another proxy's headers
   * (`traefikSource()`, `nginxSource()`, `albSource()`, `appServiceSource()`,
   * `appGatewaySource()`, `cloudflareSource()`, `rfc9440Source()`) or `customSource()`.
   */
  source?: CertificateSource
  /** With the default XFCC source: the header the proxy writes. Default `x-forwarded-client-cert`. */
  header?: string
  /**
   * With the default XFCC source: which element to read. Default `'rightmost'`, the one the
   * nearest proxy appended; anything to its left may have been sent by the client itself.
   */
  element?: XfccElementChoice
  /**
   * Honour the forwarded certificate only from these addresses (CIDRs or IPs, v4 and v6). The
   * verifier then needs the connection's remote address: `getConnInfo` for the Hono middleware,
   * `remoteAddress` for `withClientCert`, the context argument for a compiled verifier.
   */
  trustedProxies?: readonly string[]
  /** Honour the forwarded certificate only with this header and value, compared in constant time. */
  proxySecret?: { header: string; value: string }
  /** Refuse a longer header value with ERR_HEADER_TOO_LARGE. Default 16384. */
  maxHeaderBytes?: number
  /** Refuse a `Chain` with more certificates with ERR_CHAIN_TOO_LONG. Default 8. */
  maxChainLength?: number
  /** Slack for clock skew when checking validity, in seconds. Default 0. */
  clockToleranceSeconds?: number
  /** The clock, in ms since the epoch. Default `Date.now`. */
  now?: () => number
  /**
   * Remember verdicts per certificate SHA-256 (and what each header text identifies), so a
   * returning client costs a lookup. A certificate is cached from its second request within the
   * window, so a flood of one-off certificates is not retained. Bounded; entries live at most
   * `ttlSeconds` and never past the certificate's notAfter. `false` turns caching off. Default
   * `{ maxEntries: 10000, maxBytes: 32 MiB, ttlSeconds: 600 }`.
   */
  cache?: CacheOptions | false
  /**
   * Validate the chain to your CAs: roots, optional intermediates, CRLs. Without it certgate
   * checks allowlists only — and ACA admits any certificate a client holds the key for,
   * self-signed included. With it, a self-signed leaf passes only when its thumbprint is pinned.
   */
  trust?: TrustOptions
}

/** Bounds for the verifier's caches. */
export interface CacheOptions {
  maxEntries?: number
  maxBytes?: number
  ttlSeconds?: number
}

/** What verification found: a certificate (or none, in `accept` mode), or a refusal. */
export type VerifyResult =
  | { ok: true; certificate: ClientCertificate | null }
  | { ok: false; error: CertgateError }

/** What a verifier knows of the connection, beyond the request. */
export interface VerifyContext {
  /** The peer's IP address, for `trustedProxies`. */
  remoteAddress?: string
}

/** A compiled verifier: one request in, one result out. Never throws, never rejects. */
export type ClientCertVerifier = (request: Request, context?: VerifyContext) => Promise<VerifyResult>

interface CompiledOptions {
  readonly allow: CompiledAllowList | 'any-valid' | null
  readonly authorize: NonNullable<ClientCertOptions['authorize']> | null
  readonly mode: ClientCertMode
  readonly source: CertificateSource
  readonly proxy: ProxyCheck | null
  readonly limits: { readonly maxHeaderBytes: number; readonly maxChainLength: number }
  readonly toleranceMs: number
  readonly now: () => number
  readonly cache: Required<CacheOptions> | null
  readonly cacheTtlMs: number
  readonly trust: TrustVerifier | null
}

/**
 * Compiles options into a verifier. Bad options throw a TypeError here, at startup, never
 * per request.
 * @example
 * const verify = createClientCertVerifier({ allow: { commonNames: ['api-client.contoso.com'] } })
 * const result = await verify(request)
 * if (!result.ok) return problemResponse(result.error)
 */
export function createClientCertVerifier(options: ClientCertOptions): ClientCertVerifier {
  const compiled = compileOptions(options)
  const limits = compiled.cache
  const caches: Caches | null =
    limits === null
      ? null
      : {
          // The header texts are the larger keys, so they get a quarter of the byte budget.
          identities: new TextMemo({ maxEntries: limits.maxEntries, maxBytes: limits.maxBytes / 4 }),
          verdicts: new BoundedCache({ maxEntries: limits.maxEntries, maxBytes: limits.maxBytes }),
        }
  return function verifyRequest(request: Request, context: VerifyContext = {}): Promise<VerifyResult> {
    let read: SourceRead
    try {
      // Whoever is not the proxy may not speak for a client certificate at all.
      compiled.proxy?.check(context.remoteAddress, request.headers)
      const found = compiled.source.read(request.headers, compiled.limits)
      if (found === null) {
        if (compiled.mode === 'accept') return Promise.resolve({ ok: true, certificate: null })
        throw new CertgateError('ERR_CERT_MISSING', 'A client certificate is required.')
      }
      read = found
      // A returning client is answered without awaiting anything: the normal case stays cheap.
      const cached = caches !== null && compiled.authorize === null ? answerFromCache(read, compiled, caches) : undefined
      if (cached !== undefined) return Promise.resolve({ ok: true, certificate: cached })
    } catch (error) {
      return Promise.resolve(refusal(error))
    }
    return verifyRead(read, request, compiled, caches).then(
      (certificate): VerifyResult => ({ ok: true, certificate }),
      refusal
    )
  }
}

function refusal(error: unknown): VerifyResult {
  if (isCertgateError(error)) return { ok: false, error }
  // Whatever else went wrong (a bug, a hook that threw), the request is refused, not crashed.
  return {
    ok: false,
    error: new CertgateError('ERR_CERT_NOT_ALLOWED', 'The client certificate was refused.', { cause: error }),
  }
}

const verifiers = new WeakMap<ClientCertOptions, ClientCertVerifier>()

/**
 * Verifies one request. Options are compiled on first use and remembered per options object,
 * so pass the same object each time.
 */
export function verifyClientCert(
  request: Request,
  options: ClientCertOptions,
  context: VerifyContext = {}
): Promise<VerifyResult> {
  let verify = verifiers.get(options)
  if (verify === undefined) {
    verify = createClientCertVerifier(options)
    verifiers.set(options, verify)
  }
  return verify(request, context)
}

function compileOptions(options: ClientCertOptions): CompiledOptions {
  const {
    allow,
    authorize,
    mode = 'require',
    source,
    header,
    element,
    trustedProxies,
    proxySecret,
    maxHeaderBytes = 16384,
    maxChainLength = 8,
    clockToleranceSeconds = 0,
    now = Date.now,
    cache = {},
    trust,
  } = options
  if (mode !== 'require' && mode !== 'accept') {
    throw new TypeError(`certgate: mode must be 'require' or 'accept', not ${JSON.stringify(mode)}`)
  }
  if (allow !== undefined && allow !== 'any-valid' && (typeof allow !== 'object' || allow === null)) {
    throw new TypeError("certgate: allow must be an allowlist object or 'any-valid'")
  }
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new TypeError('certgate: authorize must be a function')
  }
  const compiledAllow = allow === undefined || allow === 'any-valid' ? (allow ?? null) : compileAllowList(allow)
  if (compiledAllow === null || (compiledAllow !== 'any-valid' && compiledAllow.size === 0)) {
    if (authorize === undefined) {
      throw new TypeError(
        "certgate: no allowlist entries and no authorize hook would admit nobody; to admit every valid certificate, say allow: 'any-valid'"
      )
    }
  }
  assertPositiveInteger('maxHeaderBytes', maxHeaderBytes)
  assertPositiveInteger('maxChainLength', maxChainLength)
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0) {
    throw new TypeError('certgate: clockToleranceSeconds must be a non-negative number')
  }
  if (source !== undefined && (header !== undefined || element !== undefined)) {
    throw new TypeError('certgate: header and element configure the default XFCC source; with source, configure the source itself')
  }
  const cacheLimits = cache === false ? null : compileCacheOptions(cache)
  return {
    allow: compiledAllow,
    authorize: authorize ?? null,
    mode,
    source: source ?? xfccSource({ ...(header === undefined ? {} : { header }), ...(element === undefined ? {} : { element }) }),
    proxy: createProxyCheck({
      ...(trustedProxies === undefined ? {} : { trustedProxies }),
      ...(proxySecret === undefined ? {} : { sharedSecret: proxySecret }),
    }),
    limits: { maxHeaderBytes, maxChainLength },
    toleranceMs: clockToleranceSeconds * 1000,
    now,
    cache: cacheLimits,
    cacheTtlMs: (cacheLimits?.ttlSeconds ?? 0) * 1000,
    trust: trust === undefined ? null : createTrustVerifier(trust),
  }
}

function compileCacheOptions(cache: CacheOptions): Required<CacheOptions> {
  if (typeof cache !== 'object' || cache === null) {
    throw new TypeError('certgate: cache must be an object of limits or false')
  }
  const { maxEntries = 10_000, maxBytes = 32 * 1024 * 1024, ttlSeconds = 600 } = cache
  assertPositiveInteger('cache.maxEntries', maxEntries)
  assertPositiveInteger('cache.maxBytes', maxBytes)
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError('certgate: cache.ttlSeconds must be a positive number')
  }
  return { maxEntries, maxBytes, ttlSeconds }
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`certgate: ${name} must be a positive integer`)
  }
}

/** What a header value identifies: the leaf and forwarded chain, after the Hash check. */
interface Identity {
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
interface Verdict {
  readonly certificate: ClientCertificate
  /** The earliest notAfter on its path, or a CRL's nextUpdate, in ms. */
  readonly validUntil: number
}

/** Per-verifier caches: a fresh verifier (new options) never sees another's verdicts. */
interface Caches {
  /** Header text → identity or refusal. A pure function of the text, so safe to remember. */
  readonly identities: TextMemo<Identity | CertgateError>
  /** Certificate SHA-256 (and chain's) → verdict or refusal. */
  readonly verdicts: BoundedCache<Verdict | CertgateError>
}

/**
 * The certificate for a request whose header and verdict are both cached, re-checked against the
 * clock; undefined when anything must be computed. Throws a cached refusal.
 */
function answerFromCache(read: SourceRead, options: CompiledOptions, caches: Caches): ClientCertificate | undefined {
  const nowMs = options.now()
  const identity = caches.identities.get(read.key, nowMs)
  if (identity === undefined) return undefined
  if (identity instanceof CertgateError) throw identity
  const verdict = caches.verdicts.get(identity.verdictKey, nowMs)
  if (verdict === undefined) return undefined
  if (verdict instanceof CertgateError) throw verdict
  checkValidity(verdict.certificate, nowMs, options.toleranceMs)
  return verdict.certificate
}

/** Identifies and judges what the proxy forwarded, through the caches. */
async function verifyRead(
  read: SourceRead,
  request: Request,
  options: CompiledOptions,
  caches: Caches | null
): Promise<ClientCertificate> {
  const nowMs = options.now()
  const ttlEnd = nowMs + options.cacheTtlMs
  const identity = await remembered(
    caches?.identities,
    read.key,
    { nowMs, ttlEnd, expiresAt: () => ttlEnd, bytes: (found) => found.chain.reduce((n, c) => n + c.length, found.der.length) },
    () => identify(read.decode(), options)
  )
  const { certificate: cert } = await remembered(
    caches?.verdicts,
    identity.verdictKey,
    {
      nowMs,
      ttlEnd,
      expiresAt: (verdict) => Math.min(ttlEnd, verdict.validUntil + 1),
      // A rough upper bound: the DER, its field strings, and object overhead.
      bytes: (verdict) => verdict.certificate.der.length * 3 + 512,
    },
    () => judge(identity, nowMs, options)
  )
  // A cached verdict is re-checked against the clock, so time can only turn it into a refusal.
  checkValidity(cert, nowMs, options.toleranceMs)
  if (options.authorize !== null && (await options.authorize(cert, request)) !== true) {
    throw notAllowed()
  }
  return cert
}

interface Remembering<V> {
  nowMs: number
  /** When a stored refusal expires: the TTL. */
  ttlEnd: number
  expiresAt: (value: V) => number
  bytes: (value: V) => number
}

/**
 * Looks a key up, or computes and stores it. A refusal is stored too, for the TTL, and thrown
 * again on a hit, so a replayed bad certificate costs a lookup.
 */
async function remembered<V extends object>(
  cache: Pick<BoundedCache<V | CertgateError>, 'get' | 'set'> | undefined,
  key: string,
  how: Remembering<V>,
  compute: () => Promise<V>
): Promise<V> {
  const hit = cache?.get(key, how.nowMs)
  if (hit !== undefined) {
    if (hit instanceof CertgateError) throw hit
    return hit
  }
  let value: V
  try {
    value = await compute()
  } catch (error) {
    if (cache !== undefined && error instanceof CertgateError) {
      // A CertgateError holds its stack too: a few KiB, not a few bytes.
      cache.set(key, error, how.ttlEnd, key.length + 4096)
    }
    throw error
  }
  cache?.set(key, value, how.expiresAt(value), key.length + how.bytes(value))
  return value
}

/** Identifies what the proxy forwarded: the leaf's SHA-256, checked against a forwarded hash. */
async function identify(forwarded: ForwardedCertificate, options: CompiledOptions): Promise<Identity> {
  const { leaf, chain } = forwarded
  const thumbprint = await digestHex('SHA-256', leaf)
  checkForwardedHash(thumbprint, forwarded.hash)
  const verdictKey =
    options.trust !== null && chain.length > 0
      ? `${thumbprint}:${await digestHex('SHA-256', concatBytes(chain))}`
      : thumbprint
  return { der: leaf, thumbprint, chain, verdictKey }
}

/**
 * The certificate's own verdict: parse, expiry, trust and allowlist. Independent of the request,
 * so it is cached.
 */
async function judge(identity: Identity, nowMs: number, options: CompiledOptions): Promise<Verdict> {
  const { allow, trust, toleranceMs } = options
  const list = allow !== null && allow !== 'any-valid' && allow.size > 0 ? allow : null
  // With thumbprints as the only list, a stranger is refused before any parsing.
  if (list !== null && list.thumbprintsOnly && !list.thumbprints.has(identity.thumbprint)) {
    throw notAllowed()
  }
  const cert = await readClientCertificate(identity.der, { thumbprint: identity.thumbprint })
  // Expiry is final, so it is remembered as a refusal; "not yet valid" is not, and is left to
  // the per-request clock check.
  if (cert.notAfter.getTime() + toleranceMs < nowMs) checkValidity(cert, nowMs, toleranceMs)
  let validUntil = cert.notAfter.getTime() + toleranceMs
  if (trust !== null) {
    try {
      const verdict = await trust.verify(identity.der, identity.chain, nowMs, toleranceMs)
      validUntil = Math.min(validUntil, verdict.validUntil)
    } catch (error) {
      // A self-signed leaf has no chain to validate: it passes only when pinned by thumbprint.
      const pinned = list !== null && list.thumbprints.has(identity.thumbprint)
      const untrusted = isCertgateError(error) && error.code === 'ERR_CERT_UNTRUSTED'
      if (!(untrusted && pinned && (await trust.isSelfSigned(identity.der)))) throw error
    }
  }
  if (list !== null && matchAllowList(list, cert) === null) throw notAllowed()
  return { certificate: cert, validUntil }
}

function notAllowed(): CertgateError {
  return new CertgateError('ERR_CERT_NOT_ALLOWED', 'The client certificate is not allowed.')
}
