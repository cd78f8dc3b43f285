/**
 * The reference Azure Container Apps service as a Hono app: `/health` for the platform's probes,
 * and behind the client certificate check `/cert-info` and the two outbound routes (through the
 * Dapr sidecar, and direct); a request that came through the Dapr sidecar is refused before any
 * certificate is read. Every failure is an `application/problem+json` answer and one JSON log
 * line (`request-log.ts`); the certificate check's observer hooks feed the log (a refusal's
 * thumbprint) and the OpenTelemetry metrics. Web APIs only: the same app runs on Node, Bun and
 * Deno; each entry point hands in its runtime's connection-info helper for `TRUSTED_PROXY_CIDRS`.
 * @module
 */
import { Hono } from 'hono'
import type { Context, ErrorHandler, Handler, MiddlewareHandler } from 'hono'
import type { GetConnInfo } from 'hono/conninfo'
import { HTTPException } from 'hono/http-exception'
import { clientCert } from '../adapters/hono.ts'
import {
  CertgateError,
  createTrustVerifier,
  isCertgateError,
  problemResponse,
  sourceByName,
  type TrustVerifier,
} from '../index.ts'
import type { ServiceConfig } from './config.ts'
import { consoleSink, createLogger, type Logger } from './log.ts'
import type { ServiceMetrics } from './metrics.ts'
import { daprInvokeUrl, getJson, type OutboundOptions } from './outbound.ts'
import { logFailure, logRefusal, logUnexpected } from './request-log.ts'
import { traceHeaders } from './trace-context.ts'

/** What the service may be given instead of the globals; tests and demos pass their own. */
export interface ServiceDeps {
  fetch?: typeof fetch
  /**
   * The runtime's connection info (`@hono/node-server/conninfo`, `hono/bun`, `hono/deno`);
   * required when `trustedProxies` is configured, as the check needs the peer's address.
   */
  getConnInfo?: GetConnInfo
  /**
   * The verifier for `config.trust`, when the caller keeps it (to reload its material and close
   * it); without it the app builds its own from `config.trust`.
   */
  trust?: TrustVerifier
  /** Where the request lines go. Default: JSON lines on the console. */
  log?: Logger
  /** Counts verified and refused requests; none by default. */
  metrics?: ServiceMetrics | null
}


/** `/cert-info` in `accept` mode without a certificate: the keys clients read, both null. */
const NO_CERTIFICATE_INFO = Object.freeze({ thumbprint: null, common_name: null })

// daprd adds these to every request it delivers through service invocation; the ingress never
// does, and a client cannot take them off a request that went through a sidecar.
const DAPR_INVOKED_HEADERS = ['dapr-caller-app-id', 'dapr-callee-app-id'] as const

/**
 * The service: `GET /health` without a certificate (ACA's probes bypass the ingress and carry
 * none), every other route behind the certificate check, unknown routes 404 only after it.
 * @throws {TypeError} when `config.trustedProxies` is set and `deps.getConnInfo` is not.
 *
 * @example
 * ```ts
 * import { getConnInfo } from '@hono/node-server/conninfo'
 *
 * const config = parseServiceConfig(process.env, { readFile: readFileSync })
 * serve(createServiceApp(config, { getConnInfo }), { port: config.port })
 * ```
 */
export function createServiceApp(config: ServiceConfig, deps: ServiceDeps = {}): Hono {
  const log = deps.log ?? createLogger(consoleSink(console))
  const metrics = deps.metrics ?? null
  // The requests whose refusal the certificate check's hook logged: onError must not log them again.
  const logged = new WeakSet<Request>()
  const app = new Hono()
  app.get('/health', health)
  // Registered after /health, whose handler answers without calling next().
  if (config.refuseDaprInvoked) app.use(refuseDaprInvoked)
  app.use(
    clientCert({
      allow: {
        thumbprints: config.allowedThumbprints,
        commonNames: config.allowedCommonNames,
      },
      mode: config.clientCertMode,
      source: sourceByName(config.clientCertSource),
      // Built once per app: the CA bundle was checked when the configuration was parsed.
      trust: deps.trust ?? (config.trust === null ? undefined : createTrustVerifier(config.trust)),
      trustedProxies: config.trustedProxies ?? undefined,
      getConnInfo: deps.getConnInfo,
      onVerified: metrics === null ? undefined : (event) => metrics.verified(event),
      onRefused(event) {
        logRefusal(log, event.error, event.request, event.thumbprint)
        // Marked before the metrics, so a failing SDK cannot make onError log it a second time.
        logged.add(event.request)
        const { code, status } = event.error
        metrics?.refused({ code, status, durationMs: event.durationMs })
      },
    })
  )
  app.get('/cert-info', certInfo)
  app.get('/call-backend/dapr', daprRoute(config, deps))
  app.get('/call-backend/direct', directRoute(config, deps))
  app.notFound((c) => {
    const error = new CertgateError('ERR_NOT_FOUND', 'There is no route for this method and path.')
    logFailure(log, error, c.req.raw)
    return problemResponse(error)
  })
  app.onError(serviceErrorHandler(log, metrics, logged))
  return app
}

/**
 * Refuses a request that came through the Dapr sidecar, before its forwarded certificate is
 * read: any app in the environment can invoke this one through Dapr, sending an XFCC header it
 * wrote itself, so on that path the header proves nothing.
 */
const refuseDaprInvoked: MiddlewareHandler = async function refuseDaprInvoked(c, next) {
  const headers = c.req.raw.headers
  if (DAPR_INVOKED_HEADERS.some((name) => headers.has(name))) {
    throw new CertgateError(
      'ERR_PROXY_UNTRUSTED',
      'The request came through the Dapr sidecar; forwarded client certificates are read only ' +
        'from requests that come through the ingress.'
    )
  }
  await next()
}

/** `GET /health`: liveness and readiness; calls nothing, so a slow backend never fails a probe. */
function health(c: Context): Response {
  return c.json({ status: 'ok' })
}

/** `GET /cert-info`: the verified certificate as JSON, or {@link NO_CERTIFICATE_INFO}. */
function certInfo(c: Context): Response {
  const cert = c.get('clientCert')
  return cert === null ? c.json(NO_CERTIFICATE_INFO) : c.json(cert)
}

/** `GET /call-backend/dapr`: the target app's `/health` through the Dapr sidecar. */
function daprRoute(config: ServiceConfig, deps: ServiceDeps): Handler {
  const url = daprInvokeUrl(config.daprHttpPort, config.daprTargetAppId, 'health')
  return async function callDapr(c: Context): Promise<Response> {
    const headers = traceHeaders(c.req.raw.headers)
    if (config.daprApiToken !== null) headers['dapr-api-token'] = config.daprApiToken
    const status = await getJson(url, outboundOptions(config, deps, headers))
    return c.json({ path: 'dapr', status })
  }
}

/** `GET /call-backend/direct`: the backend's `/health` over plain HTTP(S), no sidecar. */
function directRoute(config: ServiceConfig, deps: ServiceDeps): Handler {
  const url = `${config.directBackendUrl}/health`
  return async function callDirect(c: Context): Promise<Response> {
    const headers = traceHeaders(c.req.raw.headers)
    const status = await getJson(url, outboundOptions(config, deps, headers))
    return c.json({ path: 'direct', status })
  }
}

function outboundOptions(
  config: ServiceConfig,
  deps: ServiceDeps,
  headers: Record<string, string>
): OutboundOptions {
  return { timeoutMs: config.outboundTimeoutMs, headers, fetch: deps.fetch }
}

/**
 * Coded errors (the certificate check's refusals, the Dapr refusal, outbound failures) as their
 * problem+json; any other error as a bare 500 that shows nothing of it. Each logged once: the
 * certificate check's refusals by its hook already, the rest here.
 */
export function serviceErrorHandler(
  log: Logger,
  metrics: ServiceMetrics | null = null,
  logged: WeakSet<Request> = new WeakSet()
): ErrorHandler {
  return function onError(error: Error, c: Context): Response {
    const request = c.req.raw
    if (error instanceof HTTPException) {
      // The certificate check's refusal; its cause is the CertgateError.
      if (!logged.has(request) && isCertgateError(error.cause)) {
        logRefusal(log, error.cause, request, null)
      }
      return error.getResponse()
    }
    if (isCertgateError(error)) {
      if (error.status === 403) {
        logRefusal(log, error, request, null)
        metrics?.refused({ code: error.code, status: error.status })
      } else {
        logFailure(log, error, request)
      }
      return problemResponse(error)
    }
    logUnexpected(log, error, request)
    return problemResponse(new CertgateError('ERR_INTERNAL', 'The service failed to handle the request.'))
  }
}
