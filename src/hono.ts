/**
 * @module
 * Client certificate middleware for Hono: verifies the certificate a TLS-terminating proxy
 * forwards, sets the typed `clientCert` variable, or refuses with 403 problem+json.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ClientCertificate } from './certificate.ts'
import { type CertgateError, problemResponse } from './errors.ts'
import { type ClientCertMode, type ClientCertOptions, createClientCertVerifier } from './verify.ts'

/** The context variable the middleware sets: null only in `accept` mode without a certificate. */
export type ClientCertVariables = { clientCert: ClientCertificate | null }

/** What the middleware guarantees for a given mode: `require` means never null. */
export type ClientCertEnv<M extends ClientCertMode = 'require'> = {
  Variables: { clientCert: M extends 'accept' ? ClientCertificate | null : ClientCertificate }
}

declare module 'hono' {
  interface ContextVariableMap extends ClientCertVariables {}
}

/** Options for {@link clientCert}. */
export interface ClientCertMiddlewareOptions<M extends ClientCertMode = 'require'>
  extends ClientCertOptions {
  mode?: M
  /** Shapes the refusal; its Response is sent as is. Default: 403 `application/problem+json`. */
  onError?: (error: CertgateError, c: Context) => Response | Promise<Response>
}

/**
 * Client certificate middleware for Hono.
 *
 * @param {ClientCertMiddlewareOptions} options - what to accept; see `ClientCertOptions`.
 * @param {AllowList | 'any-valid'} [options.allow] - lists of which any may match.
 * @param {Function} [options.authorize] - your own decision after the checks.
 * @param {'require' | 'accept'} [options.mode='require'] - `accept` lets requests without a certificate through.
 * @param {string} [options.header='x-forwarded-client-cert'] - the header the proxy writes.
 * @param {Function} [options.onError] - shapes the refusal response.
 * @returns {MiddlewareHandler} the middleware.
 * @throws {TypeError} when the options would admit nobody or are malformed.
 *
 * @example
 * ```ts
 * const app = new Hono()
 * app.use('/api/*', clientCert({ allow: { commonNames: ['api-client.contoso.com'] } }))
 * app.get('/api/cert-info', (c) => c.json(c.var.clientCert))
 * ```
 */
export const clientCert = <M extends ClientCertMode = 'require'>(
  options: ClientCertMiddlewareOptions<M>
): MiddlewareHandler<ClientCertEnv<M>> => {
  const verify = createClientCertVerifier(options)
  const { onError } = options
  return async function clientCert(c, next) {
    const result = await verify(c.req.raw)
    if (!result.ok) {
      const res = onError ? await onError(result.error, c) : problemResponse(result.error)
      // HTTPException answers with its own status, so it must carry the response's.
      throw new HTTPException(res.status as ContentfulStatusCode, { res, cause: result.error })
    }
    c.set('clientCert', result.certificate as ClientCertEnv<M>['Variables']['clientCert'])
    await next()
  }
}
