/**
 * The pipeline for one request: check the request came through the proxy, read what the proxy
 * forwarded (a source: Envoy's XFCC by default), identify the certificate by its SHA-256, and run
 * the checks. Options are compiled once by {@link createClientCertVerifier}; a request never
 * re-reads them.
 * @module
 */
import { concatBytes } from './bytes.ts'
import { type ClientCertificate, digestHex, readClientCertificate } from './x509/certificate.ts'
import { CertgateError, isCertgateError } from './errors.ts'
import { allowListRefusal, checkCertificateUse, checkForwardedHash, checkValidity, matchAllowList } from './policy.ts'
import type { ForwardedCertificate, SourceRead } from './sources/index.ts'
import { type AdapterOptions, type ClientCertOptions, type CompiledOptions, compileOptions } from './verify/options.ts'
import { notify, startTrace, type Trace } from './verify/observe.ts'
import {
  type Answer,
  cachedAnswer,
  createVerdictCaches,
  type Identity,
  rememberIdentity,
  rememberVerdict,
  type Verdict,
  type VerdictCaches,
} from './verify/verdict-cache.ts'

export type {
  AdapterOptions,
  CacheOptions,
  ClientCertMode,
  ClientCertOptions,
  RefusedEvent,
  VerifiedEvent,
} from './verify/options.ts'

/** What verification found: a certificate (or none, in `accept` mode), or a refusal. */
export type VerifyResult =
  | { ok: true; certificate: ClientCertificate | null }
  | { ok: false; error: CertgateError }

/** What a verifier knows of the connection, beyond the request. */
export interface VerifyContext {
  /** The peer's IP address, for `trustedProxies`. */
  remoteAddress?: string
  /**
   * The runtime's handle on the connection, for a source that reads the TLS session instead of
   * headers (`peerCertificateSource()` from `certgate/node`): Node's request or its socket, or
   * Hono's `c.env` on `@hono/node-server`. The adapters pass it; the core hands it to the source
   * untouched and never looks inside.
   */
  connection?: unknown
}

/** A compiled verifier: one request in, one result out. Never throws, never rejects. */
export type ClientCertVerifier = (request: Request, context?: VerifyContext) => Promise<VerifyResult>

/**
 * A verifier whose `authorize` and hooks get `handle` as their second argument: the adapter's own
 * handle on the request (Hono's Context, Express's req), which the core passes on untouched.
 */
export type AdapterVerifier<H> = ((request: Request, context: VerifyContext, handle: H) => Promise<VerifyResult>) & {
  /**
   * The same decision, returned as it is when nothing had to be awaited (a returning client
   * answered from the cache, a refusal found before any work), else the promise: an adapter then
   * goes on to the handler without a turn of the event loop.
   */
  readonly settle: (request: Request, context: VerifyContext, handle: H) => VerifyResult | Promise<VerifyResult>
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
  const verify = createAdapterVerifier<Request>(options)
  return function verifyRequest(request: Request, context: VerifyContext = {}): Promise<VerifyResult> {
    return verify(request, context, request)
  }
}

/** {@link createClientCertVerifier} for an adapter: `authorize` and the hooks get `handle`. */
export function createAdapterVerifier<H>(options: AdapterOptions<H>): AdapterVerifier<H> {
  const compiled = compileOptions(options)
  const caches = compiled.cache === null ? null : createVerdictCaches(compiled.cache, compiled.trust)
  const observed = compiled.onVerified !== null || compiled.onRefused !== null
  const settle = (request: Request, context: VerifyContext, handle: H): VerifyResult | Promise<VerifyResult> => {
    // Null without hooks: then nothing below records, allocates or reads a clock for them.
    const trace = startTrace(observed)
    let read: SourceRead
    try {
      // Whoever is not the proxy may not speak for a client certificate at all.
      compiled.proxy?.check(context.remoteAddress, request.headers)
      const found = compiled.source.read(request.headers, compiled.limits, context.connection)
      if (found === null) {
        if (compiled.mode !== 'accept') throw new CertgateError('ERR_CERT_MISSING', 'A client certificate is required.')
        const none: VerifyResult = { ok: true, certificate: null }
        return trace === null ? none : notify(compiled, none, trace, request, handle)
      }
      read = found
      // A returning client is answered without awaiting anything, by one lookup, with a result
      // made once for its certificate: the normal case allocates nothing.
      const cached =
        caches !== null && compiled.authorize === null ? answerFromCache(read, compiled, caches, trace) : undefined
      if (cached !== undefined) return trace === null ? cached : notify(compiled, cached, trace, request, handle)
    } catch (error) {
      const refused = refusal(error)
      return trace === null ? refused : notify(compiled, refused, trace, request, handle)
    }
    const decided = verifyRead(read, handle, compiled, caches, trace).then(admit, refusal)
    // The hook runs before the verifier's promise resolves, so the caller sees it done.
    return trace === null ? decided : decided.then((result) => notify(compiled, result, trace, request, handle))
  }
  const verifyRequest = (request: Request, context: VerifyContext, handle: H): Promise<VerifyResult> => {
    const settled = settle(request, context, handle)
    return settled instanceof Promise ? settled : Promise.resolve(settled)
  }
  return Object.assign(verifyRequest, { settle })
}

function admit(certificate: ClientCertificate): VerifyResult {
  return { ok: true, certificate }
}

function refusal(error: unknown): VerifyResult {
  if (isCertgateError(error)) return { ok: false, error }
  // Whatever else went wrong (a bug), the request is refused, not crashed.
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

/**
 * The result for a request whose header and verdict are both cached, re-checked against the
 * clock; undefined when anything must be computed. Throws a cached refusal.
 */
function answerFromCache(
  read: SourceRead,
  options: CompiledOptions,
  caches: VerdictCaches,
  trace: Trace | null
): VerifyResult | undefined {
  const nowMs = options.now()
  let answer: Answer | undefined
  try {
    answer = cachedAnswer(caches, read.key, nowMs)
  } catch (error) {
    // A cached refusal: onRefused still learns which certificate it was about.
    if (trace !== null && options.onRefused !== null) trace.thumbprint = identifiedThumbprint(caches, read.key, nowMs)
    throw error
  }
  if (answer === undefined) return undefined
  const { certificate } = answer.result
  if (trace !== null) {
    trace.thumbprint = certificate.thumbprint
    trace.cached = true
  }
  // As checkValidity compares (whole seconds, tolerance on both sides), without reading a Date;
  // outside the window it throws the refusal.
  const now = Math.floor(nowMs / 1000) * 1000
  if (now < answer.validFromMs || now > answer.validToMs) checkValidity(certificate, nowMs, options.toleranceMs)
  return answer.result
}

/** The leaf's SHA-256 a cached header text identifies, or null when it identifies none. */
function identifiedThumbprint(caches: VerdictCaches, headerKey: string, nowMs: number): string | null {
  const identity = caches.identities.get(headerKey, nowMs)
  return identity === undefined || identity instanceof CertgateError ? null : identity.thumbprint
}

/** Identifies and judges what the proxy forwarded, through the caches. */
async function verifyRead<H>(
  read: SourceRead,
  handle: H,
  options: CompiledOptions<H>,
  caches: VerdictCaches | null,
  trace: Trace | null
): Promise<ClientCertificate> {
  const nowMs = options.now()
  const clock = { nowMs, ttlEnd: nowMs + options.cacheTtlMs }
  const identity = await rememberIdentity(caches, read.key, clock, () => identify(read.decode(), options))
  if (trace !== null) trace.thumbprint = identity.thumbprint
  let judged = false
  const verdict = await rememberVerdict(caches, identity.verdictKey, clock, options.toleranceMs, () => {
    judged = true
    return judge(identity, nowMs, options)
  })
  const cert = verdict.certificate
  // The header text's next request is then answered in one lookup (see cachedAnswer).
  if (verdict.answer !== undefined) identity.answer = verdict.answer
  if (trace !== null) trace.cached = !judged
  // A cached verdict is re-checked against the clock, so time can only turn it into a refusal.
  checkValidity(cert, nowMs, options.toleranceMs)
  if (options.authorize !== null && !(await authorized(options.authorize, cert, handle))) {
    throw notAllowed()
  }
  return cert
}

/**
 * The authorize hook's answer. A CertgateError it throws is the refusal it names; anything else
 * it throws is a bug in the hook, ERR_AUTHORIZE_FAILED with the error as cause, so that it is
 * neither mistaken for a refusal of the client nor remembered (hook results never are).
 */
async function authorized<H>(
  authorize: NonNullable<CompiledOptions<H>['authorize']>,
  cert: ClientCertificate,
  handle: H
): Promise<boolean> {
  try {
    return (await authorize(cert, handle)) === true
  } catch (error) {
    if (isCertgateError(error)) throw error
    throw new CertgateError('ERR_AUTHORIZE_FAILED', 'The authorization check failed.', { cause: error })
  }
}

/** Identifies what the proxy forwarded: the leaf's SHA-256, checked against a forwarded hash. */
async function identify(forwarded: ForwardedCertificate, options: CompiledOptions): Promise<Identity> {
  const { leaf, chain } = forwarded
  // Unvouched for and no chain validation configured: an allowlist of names alone would admit
  // anyone who can mint a certificate with the right name.
  if (forwarded.requiresTrust === true && options.trust === null) {
    throw new CertgateError(
      'ERR_CERT_UNTRUSTED',
      'The client certificate was not verified by the TLS server, and no trust is configured to validate it.'
    )
  }
  const thumbprint = await digestHex('SHA-256', leaf)
  checkForwardedHash(thumbprint, forwarded.hash)
  // The key only a verdict cache reads: without one, the chain is not hashed for it.
  const verdictKey =
    options.cache !== null && options.trust !== null && chain.length > 0
      ? `${thumbprint}:${await digestHex('SHA-256', concatBytes(chain))}`
      : thumbprint
  return { der: leaf, thumbprint, chain, verdictKey, answer: undefined }
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
      if (!(untrusted && pinned)) throw error
      // Pinned, it still meets the leaf rules an issued leaf does (not a CA, purpose, key).
      await trust.checkPinnedLeaf(identity.der)
      if (!(await trust.isSelfSigned(identity.der))) throw error
    }
  }
  // Whatever the trust setting: a CA or a server certificate does not identify a client.
  if (options.certificateUse !== null) checkCertificateUse(cert, options.certificateUse)
  if (list !== null && matchAllowList(list, cert) === null) throw allowListRefusal(list, cert)
  return { certificate: cert, validUntil, derLength: identity.der.length }
}

function notAllowed(): CertgateError {
  return new CertgateError('ERR_CERT_NOT_ALLOWED', 'The client certificate is not allowed.')
}
