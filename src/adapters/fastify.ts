/**
 * Client certificate plugin for Fastify 5 (`certgate/fastify`): verifies the certificate a
 * TLS-terminating proxy forwards in an `onRequest` hook, decorates `request.clientCert`, or
 * refuses with 403 problem+json.
 * @module
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import type { ClientCertificate } from '../x509/certificate.ts'
import type { ClientCertMode, ClientCertOptions, RefusedEvent, VerifiedEvent } from '../verify.ts'
import { createIncomingVerifier, type IncomingVerifier, PROBLEM_HEADERS, refusalBody } from './incoming.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by certgate's plugin: null only in `accept` mode without a certificate. */
    clientCert: ClientCertificate | null
  }
}

/** Options for {@link fastifyClientCert}: the core's, with `authorize` and the hooks handed Fastify's request. */
export interface FastifyClientCertOptions
  extends Omit<ClientCertOptions, 'authorize' | 'onVerified' | 'onRefused' | 'mode'> {
  mode?: ClientCertMode
  /**
   * Your own decision, after the checks and the allowlist, with Fastify's `request`. False
   * refuses (ERR_CERT_NOT_ALLOWED); a CertgateError thrown refuses with its code; anything else
   * thrown is ERR_AUTHORIZE_FAILED (500). Never cached.
   */
  authorize?: (cert: ClientCertificate, request: FastifyRequest) => boolean | Promise<boolean>
  /**
   * Observes each admitted request (see `ClientCertOptions.onVerified`), with Fastify's request.
   * Setting a hook builds a Web Request (method, URL, headers) per request for the event.
   */
  onVerified?: (event: VerifiedEvent, request: FastifyRequest) => void
  /** Observes each refused request (see `ClientCertOptions.onRefused`), with Fastify's request. */
  onRefused?: (event: RefusedEvent, request: FastifyRequest) => void
}

const encoder = new TextEncoder()

/**
 * Client certificate plugin for Fastify 5. Registered on an instance, it covers that instance's
 * routes and its parent's (it breaks encapsulation, as fastify-plugin would): register it inside
 * a prefixed plugin to guard only those routes. `trustedProxies` is checked against
 * `request.raw.socket.remoteAddress`, the peer that connected (never `request.ip`, which
 * Fastify's trustProxy may take from a forwarded header).
 *
 * @example
 * ```ts
 * await app.register(fastifyClientCert, { allow: { commonNames: ['api-client.contoso.com'] } })
 * app.get('/api/cert-info', (request) => request.clientCert)
 * ```
 */
function certgatePlugin(fastify: FastifyInstance, options: FastifyClientCertOptions, done: (error?: Error) => void): void {
  let verify: IncomingVerifier<FastifyRequest>
  try {
    verify = createIncomingVerifier<FastifyRequest>(options)
  } catch (error) {
    // Bad options fail the register() call, so the app does not start.
    done(error as Error)
    return
  }
  fastify.decorateRequest('clientCert', null)
  fastify.addHook('onRequest', async function clientCert(request: FastifyRequest, reply: FastifyReply) {
    const result = await verify(request.raw, request)
    if (result.ok) {
      request.clientCert = result.certificate
      return
    }
    const { status, problem } = refusalBody(result.error)
    // Bytes, not a string: Fastify would add a charset to the problem+json type.
    return reply.code(status).headers(PROBLEM_HEADERS).send(encoder.encode(JSON.stringify(problem)))
  })
  done()
}

// What fastify-plugin sets, set here so that it is no runtime dependency: skip-override shares the
// hook and decoration with the parent instance; the metadata names the plugin and its Fastify.
Object.assign(certgatePlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'certgate',
  [Symbol.for('plugin-meta')]: { fastify: '5.x', name: 'certgate' },
})

/** The plugin, for `app.register(fastifyClientCert, options)`. */
export const fastifyClientCert: FastifyPluginCallback<FastifyClientCertOptions> = certgatePlugin
export default fastifyClientCert
