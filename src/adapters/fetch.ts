/**
 * withClientCert: wraps any `(Request) => Response` handler — Bun.serve, Deno.serve, a Workers
 * fetch, Node through an adapter — so it only runs for a verified client certificate.
 * @module
 */
import type { ClientCertificate } from '../x509/certificate.ts'
import type { CertgateError } from '../errors.ts'
import { type ClientCertOptions, createClientCertVerifier } from '../verify.ts'
import { defaultRefusal } from './refusal.ts'

/** A fetch handler that also receives the verified certificate (null only in `accept` mode). */
export type ClientCertHandler = (
  request: Request,
  cert: ClientCertificate | null
) => Response | Promise<Response>

/** Options for {@link withClientCert}. */
export interface WithClientCertOptions<Rest extends unknown[] = unknown[]> extends ClientCertOptions {
  /**
   * Shapes the refusal; `error.cause` holds what a failing authorize hook threw. Default: the
   * RFC 9457 problem response for the error, and a console.error line for a 5xx (a hook bug).
   */
  onError?: (error: CertgateError, request: Request) => Response | Promise<Response>
  /**
   * The peer's address, for `trustedProxies`, from whatever the runtime passes the handler after
   * the request: `(req, server) => server.requestIP(req)?.address` on Bun,
   * `(req, info) => info.remoteAddr.hostname` on Deno.
   */
  remoteAddress?: (request: Request, ...rest: Rest) => string | undefined
}

/**
 * Wraps a fetch handler with the client certificate check.
 * @example
 * const handler = withClientCert((req, cert) => Response.json(cert), {
 *   allow: { commonNames: ['api-client.contoso.com'] },
 * })
 * Deno.serve(handler)
 */
export function withClientCert<Rest extends unknown[] = unknown[]>(
  handler: ClientCertHandler,
  options: WithClientCertOptions<Rest>
): (request: Request, ...rest: Rest) => Promise<Response> {
  const verify = createClientCertVerifier(options)
  const { onError, remoteAddress } = options
  if (options.trustedProxies !== undefined && remoteAddress === undefined) {
    throw new TypeError('trustedProxies needs a remoteAddress function.')
  }
  return async function clientCertHandler(request: Request, ...rest: Rest): Promise<Response> {
    const result = await verify(request, {
      remoteAddress: remoteAddress?.(request, ...rest),
      // What the runtime passes after the request: on certgate/node's serve, the Node request.
      connection: rest[0],
    })
    if (!result.ok) return onError ? onError(result.error, request) : defaultRefusal(result.error)
    return handler(request, result.certificate)
  }
}
