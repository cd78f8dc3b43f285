/**
 * The verifier's options: what a caller may set, and their validation and compilation into the
 * form a request reads. Bad options throw a TypeError here, once, at startup.
 * @module
 */
import type { ClientCertificate } from '../x509/certificate.ts'
import type { CertgateError } from '../errors.ts'
import type { Purpose } from '../x509/purpose.ts'
import { type AllowList, type CompiledAllowList, compileAllowList } from '../policy.ts'
import { createProxyCheck, type ProxyCheck } from '../proxy/check.ts'
import { type CertificateSource, type XfccElementChoice, xfccSource } from '../sources/index.ts'
// Types only: the chain-validation engine is bundled only by apps that call createTrustVerifier.
import type { TrustVerifier } from '../trust/verifier.ts'

/** ACA's `clientCertificateMode` values that reach the app. */
export type ClientCertMode = 'require' | 'accept'

/** Options shared by every way in (`verifyClientCert`, `withClientCert`, `clientCert`). */
export interface ClientCertOptions {
  /**
   * Who may in: lists of which any may match, or `'any-valid'` to admit every certificate that
   * passes the checks. Required unless `authorize` is given.
   */
  allow?: AllowList | 'any-valid'
  /**
   * Your own decision, after the checks and the allowlist; return false to refuse
   * (ERR_CERT_NOT_ALLOWED). A CertgateError it throws refuses with that code; anything else it
   * throws is a bug in the hook: ERR_AUTHORIZE_FAILED (500), with what it threw as `cause`.
   * Its answer is never cached: it runs on every request.
   */
  authorize?: (cert: ClientCertificate, request: Request) => boolean | Promise<boolean>
  /**
   * Observes each admitted request, once, after the decision (metrics, audit logs). It cannot
   * change the decision: its return value is ignored, and what it throws or a promise it returns
   * rejects with is logged with console.error, never sent. Runs before the verifier's promise
   * resolves. Unset, it costs nothing (not even a clock read).
   */
  onVerified?: (event: VerifiedEvent) => void
  /** Observes each refused request, once, after the decision; contained like `onVerified`. */
  onRefused?: (event: RefusedEvent) => void
  /** `require` (default) refuses a request without a certificate; `accept` lets it through with none. */
  mode?: ClientCertMode
  /**
   * Where the certificate comes from: Envoy's XFCC (default), another proxy's headers
   * (`traefikSource()`, `nginxSource()`, `albSource()`, `appServiceSource()`,
   * `appGatewaySource()`, `cloudflareSource()`, `rfc9440Source()`) or `customSource()`; when the
   * app terminates TLS itself, the connection's own (`peerCertificateSource()`, `certgate/node`).
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
   * With the default XFCC source: refuse a header with more elements (ERR_HEADER_INCONSISTENT).
   * Default: any number. Set 1 when the proxy replaces the header with its own element (Envoy's
   * `SANITIZE_SET`, ACA).
   */
  maxElements?: number
  /**
   * Admit certificates meant for other uses, said out loud. Default false: a CA certificate
   * (basicConstraints cA) or one whose extendedKeyUsage lacks clientAuth is refused with
   * ERR_CERT_USAGE, with or without `trust`; without the extension any use is fine. With
   * `trust`, the chain checks still refuse a CA leaf, and `trust.requireClientAuthEku: false`
   * relaxes the EKU rule for both.
   */
  allowAnyCertificateUse?: boolean
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
   * Validate the chain to your CAs: `createTrustVerifier({ roots, intermediates?, crls?, … })`.
   * A separate call so that the engine is bundled only by apps that validate chains. Without it
   * certgate checks allowlists only — and ACA admits any certificate a client holds the key for,
   * self-signed included. With it, a self-signed leaf passes only when its thumbprint is pinned.
   */
  trust?: TrustVerifier
}

/** What `onVerified` receives: a request the verifier admitted. */
export interface VerifiedEvent {
  /** The certificate admitted; null in `accept` mode for a request without one. */
  readonly certificate: ClientCertificate | null
  readonly request: Request
  /** The leaf's SHA-256, uppercase hex (the certificate's `thumbprint`); null without one. */
  readonly thumbprint: string | null
  /** The certificate's verdict came from the cache: nothing was parsed or validated for it. */
  readonly cached: boolean
  /** From the verifier's call to its decision, in ms (`performance.now()`). */
  readonly durationMs: number
}

/** What `onRefused` receives: a request the verifier refused. */
export interface RefusedEvent {
  /** The refusal: its `code`, `status` and, for a server fault, `cause`. */
  readonly error: CertgateError
  readonly request: Request
  /**
   * The leaf's SHA-256, uppercase hex, when the certificate was read and identified (a refusal
   * by trust, revocation, expiry or the allowlist, from the cache or not); null when the refusal
   * came first (no or malformed header, untrusted proxy) or the header's own hash disagreed with
   * its certificate (`ERR_CERT_HASH_MISMATCH`: which of the two would it be?).
   */
  readonly thumbprint: string | null
  /** From the verifier's call to its decision, in ms (`performance.now()`). */
  readonly durationMs: number
}

/**
 * The options as an adapter takes them: `authorize` and the hooks receive the adapter's own
 * handle on the request (Hono's Context, Express's req, Fastify's request) as second argument.
 * `ClientCertOptions` is `AdapterOptions<Request>` with the hooks' second argument left unsaid.
 */
export type AdapterOptions<H> = Omit<ClientCertOptions, 'authorize' | 'onVerified' | 'onRefused'> & {
  authorize?: (cert: ClientCertificate, handle: H) => boolean | Promise<boolean>
  onVerified?: (event: VerifiedEvent, handle: H) => void
  onRefused?: (event: RefusedEvent, handle: H) => void
}

/** Bounds for the verifier's caches. */
export interface CacheOptions {
  maxEntries?: number
  maxBytes?: number
  ttlSeconds?: number
}

/**
 * The options as a request reads them: validated, defaults applied, lists compiled. `H` is what
 * `authorize` and the hooks get as second argument; code that calls neither takes the default.
 */
export interface CompiledOptions<H = never> {
  readonly allow: CompiledAllowList | 'any-valid' | null
  readonly authorize: NonNullable<AdapterOptions<H>['authorize']> | null
  readonly onVerified: NonNullable<AdapterOptions<H>['onVerified']> | null
  readonly onRefused: NonNullable<AdapterOptions<H>['onRefused']> | null
  readonly mode: ClientCertMode
  readonly source: CertificateSource
  readonly proxy: ProxyCheck | null
  readonly limits: { readonly maxHeaderBytes: number; readonly maxChainLength: number }
  readonly toleranceMs: number
  readonly now: () => number
  readonly cache: Required<CacheOptions> | null
  readonly cacheTtlMs: number
  readonly trust: TrustVerifier | null
  /** The leaf-use rules to apply whatever the trust setting, or null when relaxed. */
  readonly certificateUse: { readonly requireClientAuthEku: boolean; readonly purpose: Purpose } | null
}

/** Validates options and applies their defaults; throws a TypeError naming a bad option. */
export function compileOptions<H>(options: AdapterOptions<H>): CompiledOptions<H> {
  const {
    allow,
    authorize,
    onVerified,
    onRefused,
    mode = 'require',
    source,
    header,
    element,
    maxElements,
    allowAnyCertificateUse = false,
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
    throw new TypeError(`mode must be 'require' or 'accept', not ${JSON.stringify(mode)}.`)
  }
  const compiledAllow = compileAdmission(allow, authorize)
  for (const [name, hook] of [['onVerified', onVerified], ['onRefused', onRefused]] as const) {
    if (hook !== undefined && typeof hook !== 'function') throw new TypeError(`${name} must be a function.`)
  }
  assertPositiveInteger('maxHeaderBytes', maxHeaderBytes)
  assertPositiveInteger('maxChainLength', maxChainLength)
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0) {
    throw new TypeError('clockToleranceSeconds must be a non-negative number.')
  }
  if (source !== undefined && (header !== undefined || element !== undefined || maxElements !== undefined)) {
    throw new TypeError(
      'header, element and maxElements configure the default XFCC source only; with source, configure the source itself.'
    )
  }
  if (typeof allowAnyCertificateUse !== 'boolean') {
    throw new TypeError('allowAnyCertificateUse must be a boolean.')
  }
  const cacheLimits = cache === false ? null : compileCacheOptions(cache)
  return {
    allow: compiledAllow,
    authorize: authorize ?? null,
    onVerified: onVerified ?? null,
    onRefused: onRefused ?? null,
    mode,
    source: source ?? xfccSource({ header, element, maxElements }),
    proxy: createProxyCheck({ trustedProxies, sharedSecret: proxySecret }),
    limits: { maxHeaderBytes, maxChainLength },
    toleranceMs: clockToleranceSeconds * 1000,
    now,
    cache: cacheLimits,
    cacheTtlMs: (cacheLimits?.ttlSeconds ?? 0) * 1000,
    trust: trust === undefined ? null : assertTrustVerifier(trust),
    certificateUse: allowAnyCertificateUse
      ? null
      : { requireClientAuthEku: trust?.requireClientAuthEku ?? true, purpose: trust?.purpose ?? 'clientAuth' },
  }
}

/** The allowlist, compiled; `allow` and `authorize` that together would admit nobody are refused. */
function compileAdmission(allow: ClientCertOptions['allow'], authorize: unknown): CompiledOptions['allow'] {
  if (allow !== undefined && allow !== 'any-valid' && (typeof allow !== 'object' || allow === null)) {
    throw new TypeError("allow must be an allowlist object or 'any-valid'.")
  }
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new TypeError('authorize must be a function.')
  }
  const compiled = allow === undefined || allow === 'any-valid' ? (allow ?? null) : compileAllowList(allow)
  const admitsNobody = compiled === null || (compiled !== 'any-valid' && compiled.size === 0)
  if (admitsNobody && authorize === undefined) {
    throw new TypeError(
      "allow has no entries and there is no authorize hook, so nobody would be admitted; to admit every valid certificate, say allow: 'any-valid'."
    )
  }
  return compiled
}

function compileCacheOptions(cache: CacheOptions): Required<CacheOptions> {
  if (typeof cache !== 'object' || cache === null) {
    throw new TypeError('cache must be an object of limits or false.')
  }
  const { maxEntries = 10_000, maxBytes = 32 * 1024 * 1024, ttlSeconds = 600 } = cache
  assertPositiveInteger('cache.maxEntries', maxEntries)
  assertPositiveInteger('cache.maxBytes', maxBytes)
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError('cache.ttlSeconds must be a positive number.')
  }
  return { maxEntries, maxBytes, ttlSeconds }
}

/**
 * `trust` as createTrustVerifier made it. Plain TrustOptions (what `trust` took in 0.1.0) are
 * refused with what to write instead, rather than compiled here, which would bundle the engine
 * into every app.
 */
function assertTrustVerifier(trust: TrustVerifier): TrustVerifier {
  const candidate = trust as Partial<Record<keyof TrustVerifier, unknown>> | null
  const methods = ['verify', 'isSelfSigned', 'checkPinnedLeaf', 'refusalRetryAt'] as const
  const complete =
    typeof candidate === 'object' &&
    candidate !== null &&
    methods.every((name) => typeof candidate[name] === 'function') &&
    typeof candidate.purpose === 'string' &&
    typeof candidate.requireClientAuthEku === 'boolean'
  if (!complete) {
    throw new TypeError(
      'trust must be made by createTrustVerifier(options), e.g. trust: createTrustVerifier({ roots: [caPem] })'
    )
  }
  return trust
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a positive integer.`)
  }
}
