/**
 * Client certificate middleware for Hono (`certgate/hono`): verifies the certificate a
 * TLS-terminating proxy forwards, sets the typed `clientCert` variable, or refuses with 403
 * problem+json.
 * @module
 */
import type { Context, Env, MiddlewareHandler, Next } from 'hono'
import type { GetConnInfo } from 'hono/conninfo'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ClientCertificate } from '../x509/certificate.ts'
import type { CertgateError } from '../errors.ts'
import {
  type ClientCertMode,
  type ClientCertOptions,
  createAdapterVerifier,
  type RefusedEvent,
  type VerifiedEvent,
  type VerifyResult,
} from '../verify.ts'
import { defaultRefusal } from './refusal.ts'

/**
 * The context variable the middleware sets: null only in `accept` mode without a certificate.
 * `new Hono<{ Variables: ClientCertVariables }>()` types `c.var.clientCert` on every route.
 */
export type ClientCertVariables = { clientCert: ClientCertificate | null }

/**
 * What the middleware guarantees for a given mode: `require` means never null. Type the app with
 * it, `new Hono<ClientCertEnv>()`, for a typed `c.var.clientCert` behind the middleware.
 */
export type ClientCertEnv<M extends ClientCertMode = 'require'> = {
  Variables: { clientCert: M extends 'accept' ? ClientCertificate | null : ClientCertificate }
}

/**
 * Options for {@link clientCert}: the core's, with `authorize` and the hooks handed the Hono
 * Context. `E` is the app's Env (`Bindings`, `Variables`), so that they read `c.env` and `c.var`
 * typed: `clientCert<'require', AppEnv>({ … })`, or annotate `c: Context<AppEnv>`.
 */
export interface ClientCertMiddlewareOptions<M extends ClientCertMode = 'require', E extends Env = Env>
  extends Omit<ClientCertOptions, 'authorize' | 'onVerified' | 'onRefused' | 'mode'> {
  mode?: M
  /**
   * Your own decision, after the checks and the allowlist, with the Hono Context: `c.env` for the
   * runtime's bindings, `c.var` for what earlier middleware set, `c.req` for the request. False
   * refuses (ERR_CERT_NOT_ALLOWED); a CertgateError thrown refuses with its code; anything else
   * thrown is ERR_AUTHORIZE_FAILED (500). Never cached: it runs on every request.
   */
  authorize?: (cert: ClientCertificate, c: Context<E>) => boolean | Promise<boolean>
  /** Observes each admitted request (see `ClientCertOptions.onVerified`), with the Context. */
  onVerified?: (event: VerifiedEvent, c: Context<E>) => void
  /** Observes each refused request (see `ClientCertOptions.onRefused`), with the Context. */
  onRefused?: (event: RefusedEvent, c: Context<E>) => void
  /**
   * Shapes the refusal; its Response is sent as is. Default: the `application/problem+json`
   * response for the error (403 for a refusal; 500 for an authorize hook that threw, which is
   * also logged with console.error). Either way the HTTPException's `cause` is the CertgateError,
   * whose own `cause` holds what the hook threw.
   */
  onError?: (error: CertgateError, c: Context) => Response | Promise<Response>
  /**
   * The runtime's connection-info helper, needed with `trustedProxies`: `getConnInfo` from
   * `@hono/node-server/conninfo`, `hono/bun` or `hono/deno`.
   */
  getConnInfo?: GetConnInfo
}

/**
 * Client certificate middleware for Hono.
 *
 * @param {ClientCertMiddlewareOptions} options - what to accept; see `ClientCertOptions`.
 * @param {AllowList | 'any-valid'} [options.allow] - lists of which any may match.
 * @param {Function} [options.authorize] - your own decision after the checks: `(cert, c) => boolean`.
 * @param {Function} [options.onVerified] - observes each admitted request: `(event, c) => void`.
 * @param {Function} [options.onRefused] - observes each refused request: `(event, c) => void`.
 * @param {'require' | 'accept'} [options.mode='require'] - `accept` lets requests without a certificate through.
 * @param {string} [options.header='x-forwarded-client-cert'] - the header the proxy writes.
 * @param {Function} [options.onError] - shapes the refusal response.
 * @param {string[]} [options.trustedProxies] - honour the header only from these addresses.
 * @param {GetConnInfo} [options.getConnInfo] - the runtime's connection info, for trustedProxies.
 * @returns {MiddlewareHandler} the middleware.
 * @throws {TypeError} when the options would admit nobody or are malformed, or when
 * `trustedProxies` is set without `getConnInfo`.
 *
 * @example
 * ```ts
 * const app = new Hono<ClientCertEnv>()
 * app.use('/api/*', clientCert({ allow: { commonNames: ['api-client.contoso.com'] } }))
 * app.get('/api/cert-info', (c) => c.json(c.var.clientCert))
 * ```
 */
export const clientCert = <M extends ClientCertMode = 'require', E extends Env = Env>(
  options: ClientCertMiddlewareOptions<M, E>
): MiddlewareHandler<E & ClientCertEnv<M>> => {
  const verify = createAdapterVerifier<Context<E>>(options)
  const { onError, getConnInfo } = options
  if (options.trustedProxies !== undefined && getConnInfo === undefined) {
    throw new TypeError('trustedProxies needs getConnInfo (from @hono/node-server/conninfo, hono/bun or hono/deno).')
  }
  const proceed = (result: VerifyResult, c: Context<E & ClientCertEnv<M>>, next: Next): Promise<void> => {
    if (!result.ok) return refuse(result.error, c)
    c.set('clientCert', result.certificate as ClientCertEnv<M>['Variables']['clientCert'])
    return next()
  }
  const refuse = async (error: CertgateError, c: Context): Promise<never> => {
    const res = onError ? await onError(error, c) : defaultRefusal(error)
    // HTTPException answers with its own status, so it must carry the response's.
    throw new HTTPException(res.status as ContentfulStatusCode, { res, cause: error })
  }
  // Not an async function: a returning client's answer is known at once, and the handler then
  // runs without an await of its own (settle never throws; a refusal is a rejected promise).
  return function clientCert(c, next) {
    const remoteAddress = getConnInfo === undefined ? undefined : remoteAddressOf(getConnInfo, c)
    // The same Context, seen before the middleware sets clientCert: Hono's Context is invariant in
    // its Env, so the hooks' `Context<E>` is reached through the untyped one.
    const settled = verify.settle(c.req.raw, { remoteAddress, connection: c.env }, c as Context)
    return settled instanceof Promise ? settled.then((result) => proceed(result, c, next)) : proceed(settled, c, next)
  }
}

function remoteAddressOf(getConnInfo: GetConnInfo, c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address
  } catch {
    // An adapter that cannot tell (e.g. app.request() in a test) gives no address: refused.
    return undefined
  }
}
