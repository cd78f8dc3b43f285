/**
 * withClientCert: wraps any `(Request) => Response` handler — Bun.serve, Deno.serve, a Workers
 * fetch, Node through an adapter — so it only runs for a verified client certificate.
 * @module
 */
import type { ClientCertificate } from './certificate.ts'
import { type CertgateError, problemResponse } from './errors.ts'
import { type ClientCertOptions, createClientCertVerifier } from './verify.ts'

/** A fetch handler that also receives the verified certificate (null only in `accept` mode). */
export type ClientCertHandler = (
  request: Request,
  cert: ClientCertificate | null
) => Response | Promise<Response>

/** Options for {@link withClientCert}. */
export interface WithClientCertOptions extends ClientCertOptions {
  /** Shapes the refusal. Default: the RFC 9457 problem response for the error. */
  onError?: (error: CertgateError, request: Request) => Response | Promise<Response>
}

/**
 * Wraps a fetch handler with the client certificate check.
 * @example
 * const handler = withClientCert((req, cert) => Response.json(cert), {
 *   allow: { commonNames: ['api-client.contoso.com'] },
 * })
 * Deno.serve(handler)
 */
export function withClientCert(
  handler: ClientCertHandler,
  options: WithClientCertOptions
): (request: Request) => Promise<Response> {
  const verify = createClientCertVerifier(options)
  const { onError } = options
  return async function clientCertHandler(request: Request): Promise<Response> {
    const result = await verify(request)
    if (!result.ok) return onError ? onError(result.error, request) : problemResponse(result.error)
    return handler(request, result.certificate)
  }
}
