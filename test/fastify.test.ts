// certgate/fastify through a real Fastify 5 server on 127.0.0.1: the cases every adapter shares
// (allowed, stranger, none, accept mode, trustedProxies, authorize), then the plugin's own: its
// exports and metadata, its reach (encapsulation), and bad options failing register().
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyClientCertDefault, { fastifyClientCert, type FastifyClientCertOptions } from '../src/adapters/fastify.ts'
import { xfccHeader } from '../src/testing/index.ts'
import { adapterCerts, assertRefused, assertRouteSaw, get, sharedAdapterCases } from './support/node-frameworks.ts'

const ALLOWED_CN = 'api-client.contoso.com'
const apps: FastifyInstance[] = []
after(() => Promise.all(apps.map((app) => app.close())))

const certs = adapterCerts()

/** A Fastify app with the plugin and one route answering `{ cert }`; resolves to the route's URL. */
async function serve(options: FastifyClientCertOptions): Promise<string> {
  const app = Fastify()
  apps.push(app)
  await app.register(fastifyClientCert, options)
  app.get('/api/cert-info', async (request) => ({ cert: request.clientCert }))
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return `${address}/api/cert-info`
}

describe('certgate/fastify on Fastify 5', () => {
  const allow = { allow: { commonNames: [ALLOWED_CN] } }

  sharedAdapterCases({ certs, serve })

  it('is the default export too, and carries the fastify-plugin metadata', () => {
    assert.equal(fastifyClientCertDefault, fastifyClientCert)
    const meta = fastifyClientCert as unknown as Record<symbol, unknown>
    assert.equal(meta[Symbol.for('skip-override')], true)
    assert.equal(meta[Symbol.for('fastify.display-name')], 'certgate')
    assert.deepEqual(meta[Symbol.for('plugin-meta')], { fastify: '5.x', name: 'certgate' })
  })

  it('registered inside a plugin, it guards that plugin\'s routes and not its siblings', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(async (guarded) => {
      // Without skip-override the hook would live in an inner context and miss this route.
      await guarded.register(fastifyClientCert, allow)
      guarded.get('/api/cert-info', async (request) => ({ cert: request.clientCert }))
    })
    app.get('/health', async () => ({ status: 'ok' }))
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    await assertRefused(await get(`${address}/api/cert-info`), 'ERR_CERT_MISSING')
    await assertRouteSaw(await get(`${address}/api/cert-info`, xfccHeader(certs().allowed)), certs().allowed)
    const health = await get(`${address}/health`)
    assert.equal(health.status, 200)
    assert.deepEqual(await health.json(), { status: 'ok' })
  })

  it('bad options fail the register, not a request', async () => {
    const app = Fastify()
    apps.push(app)
    await assert.rejects(async () => {
      await app.register(fastifyClientCert, { allow: {} })
      await app.ready()
    }, TypeError)
  })
})
