// certgate/fastify hands authorize and the observer hooks Fastify's own request, through a real
// Fastify 5 server on 127.0.0.1: authorize reads the request and what an earlier onRequest hook
// decorated, the hooks get the event (with a Web Request built for it) and the request, and a hook
// that throws or rejects changes neither status nor body.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { fastifyClientCert, type FastifyClientCertOptions } from '../src/adapters/fastify.ts'
import type { RefusedEvent, VerifiedEvent } from '../src/index.ts'
import { xfccHeader } from '../src/testing/index.ts'
import { adapterCerts, assertRefused, assertRouteSaw, get } from './support/node-frameworks.ts'
import { capturingConsoleError, FAILING_HOOKS, reportedMessages } from './support/console.ts'

const CN = 'api-client.contoso.com'
const allow = { allow: { commonNames: [CN] } }
const apps: FastifyInstance[] = []
after(() => Promise.all(apps.map((app) => app.close())))

// CN is the allowed certificate's common name.
const certs = adapterCerts()

/** Which tenant an earlier onRequest hook found, kept per request as a decoration would be. */
const tenants = new WeakMap<FastifyRequest, string>()

/** `/api/cert-info` behind an onRequest hook noting the tenant, then the plugin. */
async function serve(options: FastifyClientCertOptions): Promise<string> {
  const app = Fastify()
  apps.push(app)
  app.addHook('onRequest', async (request) => {
    const header = request.headers['x-tenant']
    tenants.set(request, typeof header === 'string' ? header : 'none')
  })
  await app.register(fastifyClientCert, options)
  app.get('/api/cert-info', async (request) => ({ cert: request.clientCert }))
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return `${address}/api/cert-info`
}

describe('certgate/fastify: authorize and hooks get the request', () => {
  it("authorize gets Fastify's request: its URL, headers and what an earlier hook found", async () => {
    const seen: string[] = []
    const url = await serve({
      ...allow,
      authorize: (cert, request) => {
        seen.push(`${cert.commonName} ${request.method} ${request.url} ${tenants.get(request)}`)
        return request.headers['x-forwarded-client-cert'] === xfccHeader(certs().allowed) && tenants.get(request) === 'contoso'
      },
    })
    const withTenant = await fetch(url, {
      headers: { 'x-forwarded-client-cert': xfccHeader(certs().allowed), 'x-tenant': 'contoso' },
      signal: AbortSignal.timeout(5000),
    })
    await assertRouteSaw(withTenant, certs().allowed)
    await assertRefused(await get(url, xfccHeader(certs().allowed)), 'ERR_CERT_NOT_ALLOWED')
    assert.deepEqual(seen, [`${CN} GET /api/cert-info contoso`, `${CN} GET /api/cert-info none`])
  })

  it('onVerified and onRefused get the event, with a Web Request, and the request', async () => {
    const log: string[] = []
    const describeRequest = (event: VerifiedEvent | RefusedEvent): string =>
      `${event.request.method} ${new URL(event.request.url).pathname} ${event.request.headers.has('x-forwarded-client-cert')}`
    const url = await serve({
      ...allow,
      onVerified: (event, request) =>
        log.push(`verified ${event.thumbprint} ${event.cached} ${describeRequest(event)} ${request.routeOptions.url}`),
      onRefused: (event, request) =>
        log.push(`refused ${event.error.code} ${event.thumbprint} ${describeRequest(event)} ${request.routeOptions.url}`),
    })
    for (let i = 0; i < 3; i++) await assertRouteSaw(await get(url, xfccHeader(certs().allowed)), certs().allowed)
    await assertRefused(await get(url, xfccHeader(certs().stranger)), 'ERR_CERT_NOT_ALLOWED')
    await assertRefused(await get(url), 'ERR_CERT_MISSING')
    assert.deepEqual(log, [
      `verified ${certs().allowed.thumbprint} false GET /api/cert-info true /api/cert-info`,
      `verified ${certs().allowed.thumbprint} false GET /api/cert-info true /api/cert-info`,
      `verified ${certs().allowed.thumbprint} true GET /api/cert-info true /api/cert-info`,
      `refused ERR_CERT_NOT_ALLOWED ${certs().stranger.thumbprint} GET /api/cert-info true /api/cert-info`,
      'refused ERR_CERT_MISSING null GET /api/cert-info false /api/cert-info',
    ])
  })

  it('a hook that throws or rejects changes neither status nor body', async () => {
    const url = await serve({
      ...allow,
      ...FAILING_HOOKS,
    })
    const logged = await capturingConsoleError(async () => {
      await assertRouteSaw(await get(url, xfccHeader(certs().allowed)), certs().allowed)
      await assertRefused(await get(url, xfccHeader(certs().stranger)), 'ERR_CERT_NOT_ALLOWED')
    })
    assert.deepEqual(reportedMessages(logged), ['onVerified threw', 'onRefused rejected'])
  })
})
