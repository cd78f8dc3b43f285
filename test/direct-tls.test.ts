// Direct mTLS: the app terminates TLS itself (certgate/node's serve over https, requestCert) and
// peerCertificateSource() reads the client certificate from the TLS socket. Real https servers on
// 127.0.0.1 and real client certificates from the test kit; every request is bounded in time, and
// every server is closed after.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { clientCert as expressClientCert } from '../src/adapters/express.ts'
import fastifyClientCert from '../src/adapters/fastify.ts'
import { type ClientRequest, request as httpRequest } from 'node:http'
import { Hono } from 'hono'
import { clientCert, type ClientCertEnv } from '../src/adapters/hono.ts'
import { type FetchApp, peerCertificateSource, type ServeHandle, type ServeOptions } from '../src/adapters/node.ts'
import { withClientCert } from '../src/adapters/fetch.ts'
import { createTrustVerifier } from '../src/index.ts'
import { createTestCertificate, createTestPki, type TestCertificate, type TestPki } from '../src/testing/index.ts'
import { privateKeyPem } from './support/nginx.ts'
import { serveForTest } from './support/serve.ts'

// Deno's node:https hands out the client certificate as Node does, so the suite runs there too.
// Bun's does not: its request socket is no TLSSocket and has no getPeerCertificate (Bun 1.4),
// and Bun.serve takes requestCert but gives the handler no certificate (README, Direct TLS).
const skip = 'Bun' in globalThis ? "Bun's node:https exposes no client certificate on the socket" : false
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const REQUEST_BOUND_MS = 5000

/** A client's TLS identity: the leaf and its intermediate, and the private key. */
interface Identity {
  cert: string
  key: string
}

interface Answer {
  status: number
  type: string | undefined
  body: string
}

let pki: TestPki
let serverIdentity: Identity
let allowed: TestCertificate
let allowedIdentity: Identity
let strangerIdentity: Identity
/** Self-signed, named like the allowed client: the server's TLS layer does not verify it. */
let impostorIdentity: Identity
/** Issued by another CA the server's `ca` does not hold, but certgate's `trust` does. */
let otherPki: TestPki
let otherIdentity: Identity
const handles: ServeHandle[] = []

let made: Promise<void> | undefined
/** The PKIs, the server's certificate and the clients', made once for both suites. */
function certificates(): Promise<void> {
  made ??= (async () => {
    pki = await createTestPki()
    otherPki = await createTestPki()
    const server = await createTestCertificate({
      commonName: 'localhost',
      ips: ['127.0.0.1'],
      extendedKeyUsages: [SERVER_AUTH],
      issuer: pki.intermediate,
    })
    serverIdentity = await identity(server)
    allowed = await pki.issue({ commonName: 'api-client.contoso.com' })
    allowedIdentity = await identity(allowed)
    strangerIdentity = await identity(await pki.issue({ commonName: 'stranger.contoso.com' }))
    impostorIdentity = await identity(await createTestCertificate({ commonName: 'api-client.contoso.com' }))
    otherIdentity = await identity(await otherPki.issue({ commonName: 'api-client.contoso.com' }))
  })()
  return made
}

async function identity(cert: TestCertificate): Promise<Identity> {
  const chain = cert.issuer === null ? cert.pem : cert.pem + cert.issuer.pem
  return { cert: chain, key: await privateKeyPem(cert.keys.privateKey) }
}

function app(options: { trust?: boolean } = {}): Hono<ClientCertEnv<'accept'>> {
  const allow = { commonNames: ['api-client.contoso.com'] }
  const trust = options.trust === true ? createTrustVerifier({ roots: [otherPki.root.pem, pki.root.pem] }) : undefined
  const source = peerCertificateSource()
  const hono = new Hono<ClientCertEnv<'accept'>>()
  hono.use('/api/*', clientCert({ source, allow, ...(trust === undefined ? {} : { trust }) }))
  hono.use('/optional/*', clientCert({ source, allow, mode: 'accept' }))
  hono.get('/api/whoami', (c) => c.text(c.var.clientCert!.thumbprint))
  hono.get('/optional/whoami', (c) => c.json({ cert: c.var.clientCert }))
  return hono
}

/** Serves on 127.0.0.1, a free port, without signal handling; the port once listening. */
async function start(fetchApp: FetchApp, options: Partial<ServeOptions>): Promise<number> {
  return (await serveForTest(fetchApp, options, handles)).address!.port
}

/** The https server options for mTLS: our server certificate, client certificates asked for. */
function tls(rejectUnauthorized: boolean): ServeOptions['tls'] {
  return { ...serverIdentity, ca: [pki.root.pem], requestCert: true, rejectUnauthorized }
}

/** One GET over https (with the client's identity, if any), or plain http; bounded in time. */
function get(port: number, path: string, client?: Identity, headers: Record<string, string> = {}, secure = true): Promise<Answer> {
  const options = { host: '127.0.0.1', port, path, headers, agent: false, timeout: REQUEST_BOUND_MS }
  return send(secure ? httpsRequest({ ...options, ca: [pki.root.pem], ...client }) : httpRequest(options))
}

/** Sends a request and collects the answer, and whether it went on a reused connection. */
function send(req: ClientRequest): Promise<Answer & { reused: boolean }> {
  return new Promise((resolve, reject) => {
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_BOUND_MS} ms`)))
    req.on('error', reject)
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body, reused: req.reusedSocket })
      )
    })
    req.end()
  })
}

function assertRefused(answer: Answer, code: string): void {
  assert.equal(answer.status, 403, answer.body)
  assert.equal(answer.type, 'application/problem+json')
  assert.equal((JSON.parse(answer.body) as { code: string }).code, code)
}

describe('direct TLS: peerCertificateSource on certgate/node serve over https', { skip }, () => {
  let port: number
  let trustingPort: number

  before(async () => {
    await certificates()
    port = await start(app(), { tls: tls(false) })
    trustingPort = await start(app({ trust: true }), { tls: tls(false) })
  })
  after(async () => {
    await Promise.all(handles.map((handle) => handle.close()))
  })

  it('an allowed client certificate: 200 with its thumbprint', async () => {
    const answer = await get(port, '/api/whoami', allowedIdentity)
    assert.equal(answer.status, 200, answer.body)
    assert.equal(answer.body, allowed.thumbprint)
  })

  it('the recommended server (rejectUnauthorized left on) admits the allowed client', async () => {
    const strictPort = await start(app(), { tls: tls(true) })
    const answer = await get(strictPort, '/api/whoami', allowedIdentity)
    assert.equal(answer.status, 200, answer.body)
    assert.equal(answer.body, allowed.thumbprint)
  })

  it('requests on one keep-alive connection each get the connection\'s certificate', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: [pki.root.pem], ...allowedIdentity })
    try {
      const reused: boolean[] = []
      for (let i = 0; i < 3; i++) {
        const answer = await send(httpsRequest({ host: '127.0.0.1', port, path: '/api/whoami', agent, timeout: REQUEST_BOUND_MS }))
        assert.equal(answer.status, 200, answer.body)
        assert.equal(answer.body, allowed.thumbprint)
        reused.push(answer.reused)
      }
      assert.deepEqual(reused, [false, true, true])
    } finally {
      agent.destroy()
    }
  })

  it('a stranger: 403 ERR_CERT_NOT_ALLOWED', async () => {
    assertRefused(await get(port, '/api/whoami', strangerIdentity), 'ERR_CERT_NOT_ALLOWED')
  })

  it('no client certificate: 403 ERR_CERT_MISSING', async () => {
    assertRefused(await get(port, '/api/whoami'), 'ERR_CERT_MISSING')
  })

  it('a forged XFCC naming the allowed certificate, on a TLS connection without one: 403 ERR_CERT_MISSING', async () => {
    const xfcc = `Hash=${allowed.thumbprint.toLowerCase()};Cert="${encodeURIComponent(allowed.pem)}"`
    const answer = await get(port, '/api/whoami', undefined, { 'x-forwarded-client-cert': xfcc })
    assertRefused(answer, 'ERR_CERT_MISSING')
  })

  it('a forged XFCC beside a stranger\'s certificate is ignored: 403 ERR_CERT_NOT_ALLOWED', async () => {
    const xfcc = `Hash=${allowed.thumbprint.toLowerCase()};Cert="${encodeURIComponent(allowed.pem)}"`
    const answer = await get(port, '/api/whoami', strangerIdentity, { 'x-forwarded-client-cert': xfcc })
    assertRefused(answer, 'ERR_CERT_NOT_ALLOWED')
  })

  it('accept mode: the route sees null without a client certificate', async () => {
    const answer = await get(port, '/optional/whoami')
    assert.equal(answer.status, 200, answer.body)
    assert.deepEqual(JSON.parse(answer.body), { cert: null })
  })

  it('a certificate the TLS server did not verify, without trust: 403 ERR_CERT_UNTRUSTED', async () => {
    assertRefused(await get(port, '/api/whoami', impostorIdentity), 'ERR_CERT_UNTRUSTED')
    assertRefused(await get(port, '/api/whoami', otherIdentity), 'ERR_CERT_UNTRUSTED')
  })

  it('a certificate the TLS server did not verify, with trust: certgate validates it', async () => {
    const answer = await get(trustingPort, '/api/whoami', otherIdentity)
    assert.equal(answer.status, 200, answer.body)
    assertRefused(await get(trustingPort, '/api/whoami', impostorIdentity), 'ERR_CERT_UNTRUSTED')
  })

  it('withClientCert on serve reads the same connection', async () => {
    const handler = withClientCert((_request, cert) => new Response(cert?.thumbprint ?? 'none'), {
      source: peerCertificateSource(),
      allow: { commonNames: ['api-client.contoso.com'] },
    })
    const fetchPort = await start({ fetch: handler }, { tls: tls(false) })
    const answer = await get(fetchPort, '/', allowedIdentity)
    assert.equal(answer.status, 200, answer.body)
    assert.equal(answer.body, allowed.thumbprint)
    assertRefused(await get(fetchPort, '/'), 'ERR_CERT_MISSING')
  })

  it('plain http has no client certificate: 403 ERR_CERT_MISSING, whatever the headers say', async () => {
    const httpPort = await start(app(), {})
    const xfcc = `Hash=${allowed.thumbprint.toLowerCase()};Cert="${encodeURIComponent(allowed.pem)}"`
    const answer = await get(httpPort, '/api/whoami', undefined, { 'x-forwarded-client-cert': xfcc }, false)
    assertRefused(answer, 'ERR_CERT_MISSING')
  })
})

describe('direct TLS through the Express and Fastify adapters', { skip }, () => {
  const closers: Array<() => Promise<void>> = []
  before(certificates)
  after(async () => {
    await Promise.all(closers.map((close) => close()))
  })
  const options = { source: peerCertificateSource(), allow: { commonNames: ['api-client.contoso.com'] } }
  const forged = (): Record<string, string> => ({
    'x-forwarded-client-cert': `Hash=${allowed.thumbprint.toLowerCase()};Cert="${encodeURIComponent(allowed.pem)}"`,
  })

  it('Express 5 on an https server: the allowed certificate → 200, a forged XFCC without one → 403 ERR_CERT_MISSING', async () => {
    const app = express()
    app.use(expressClientCert(options))
    app.get('/', (req, res) => {
      res.send(req.clientCert?.thumbprint ?? 'none')
    })
    const server = createHttpsServer(tls(false)!, app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }))
    const port = (server.address() as AddressInfo).port
    const answer = await get(port, '/', allowedIdentity)
    assert.equal(answer.status, 200, answer.body)
    assert.equal(answer.body, allowed.thumbprint)
    assertRefused(await get(port, '/', undefined, forged()), 'ERR_CERT_MISSING')
  })

  it('Fastify 5 over https: the allowed certificate → 200, a forged XFCC without one → 403 ERR_CERT_MISSING', async () => {
    const app = Fastify({ https: tls(false)! })
    await app.register(fastifyClientCert, options)
    app.get('/', async (request) => request.clientCert?.thumbprint ?? 'none')
    await app.listen({ port: 0, host: '127.0.0.1' })
    closers.push(() => app.close())
    const port = (app.server.address() as AddressInfo).port
    const answer = await get(port, '/', allowedIdentity)
    assert.equal(answer.status, 200, answer.body)
    assert.equal(answer.body, allowed.thumbprint)
    assertRefused(await get(port, '/', undefined, forged()), 'ERR_CERT_MISSING')
  })
})
