// Trusted proxies and other proxies' sources, end to end through each way in.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Hono } from 'hono'
import type { GetConnInfo } from 'hono/conninfo'
import { clientCert, type ClientCertEnv } from '../src/adapters/hono.ts'
import { createClientCertVerifier, nginxSource, withClientCert } from '../src/index.ts'
import { createTestPki, type TestCertificate, xfccHeader } from '../src/testing/index.ts'

const CN = 'api-client.contoso.com'

/** A GetConnInfo reading the address a test passes as the app's env, as ip-restriction's tests do. */
const fromEnv: GetConnInfo = (c) => ({ remote: { address: (c.env as { ip?: string } | undefined)?.ip } })

describe('trusted proxies', () => {
  let allowed: TestCertificate

  before(async () => {
    allowed = await (await createTestPki()).issue({ commonName: CN })
  })

  it('honours the header from a trusted proxy and refuses it from anywhere else: ERR_PROXY_UNTRUSTED', async () => {
    const app = new Hono<ClientCertEnv>()
    app.use(clientCert({ allow: { commonNames: [CN] }, trustedProxies: ['10.0.0.0/8', 'fd00::/8'], getConnInfo: fromEnv }))
    app.get('/', (c) => c.text(c.var.clientCert?.commonName ?? 'none'))
    const headers = { 'x-forwarded-client-cert': xfccHeader(allowed) }
    const inside = await app.request('/', { headers }, { ip: '10.1.2.3' })
    assert.equal(inside.status, 200)
    assert.equal(await inside.text(), CN)
    const v6 = await app.request('/', { headers }, { ip: 'fd00::17' })
    assert.equal(v6.status, 200)
    const outside = await app.request('/', { headers }, { ip: '127.0.0.2' })
    assert.equal(outside.status, 403)
    assert.equal(((await outside.json()) as { code: string }).code, 'ERR_PROXY_UNTRUSTED')
    const unknown = await app.request('/', { headers })
    assert.equal(((await unknown.json()) as { code: string }).code, 'ERR_PROXY_UNTRUSTED')
  })

  it('refuses a request from outside even when it carries no certificate, in accept mode too', async () => {
    const verify = createClientCertVerifier({ allow: { commonNames: [CN] }, mode: 'accept', trustedProxies: ['10.0.0.1'] })
    const result = await verify(new Request('http://localhost/'), { remoteAddress: '192.0.2.1' })
    assert.equal(!result.ok && result.error.code, 'ERR_PROXY_UNTRUSTED')
    const fromProxy = await verify(new Request('http://localhost/'), { remoteAddress: '10.0.0.1' })
    assert.deepEqual(fromProxy, { ok: true, certificate: null })
  })

  it('checks a shared secret from the proxy in constant time', async () => {
    const verify = createClientCertVerifier({ allow: { commonNames: [CN] }, proxySecret: { header: 'x-proxy-secret', value: 's3cret-value' } })
    const request = (secret?: string): Request =>
      new Request('http://localhost/', {
        headers: { 'x-forwarded-client-cert': xfccHeader(allowed), ...(secret === undefined ? {} : { 'x-proxy-secret': secret }) },
      })
    const ok = await verify(request('s3cret-value'))
    assert.equal(ok.ok && ok.certificate?.commonName, CN)
    for (const bad of [undefined, 's3cret-valuE', 's3cret', 's3cret-value-and-more']) {
      const refused = await verify(request(bad))
      assert.equal(!refused.ok && refused.error.code, 'ERR_PROXY_UNTRUSTED', String(bad))
    }
  })

  it('needs a way to learn the remote address, at startup', () => {
    assert.throws(() => clientCert({ allow: { commonNames: [CN] }, trustedProxies: ['10.0.0.0/8'] }), /getConnInfo/)
    assert.throws(() => withClientCert(() => new Response(), { allow: { commonNames: [CN] }, trustedProxies: ['10.0.0.0/8'] }), /remoteAddress/)
    assert.throws(() => createClientCertVerifier({ allow: { commonNames: [CN] }, trustedProxies: ['10.0.0.0/33'] }), TypeError)
  })

  it('withClientCert reads the address from what the runtime passes after the request', async () => {
    const handler = withClientCert((_req, cert) => new Response(cert?.commonName), {
      allow: { commonNames: [CN] },
      trustedProxies: ['127.0.0.1'],
      remoteAddress: (_req, info: { remoteAddr: { hostname: string } }) => info.remoteAddr.hostname,
    })
    const request = (): Request => new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': xfccHeader(allowed) } })
    const ok = await handler(request(), { remoteAddr: { hostname: '127.0.0.1' } })
    assert.equal(await ok.text(), CN)
    const refused = await handler(request(), { remoteAddr: { hostname: '127.0.0.2' } })
    assert.equal(refused.status, 403)
  })

  it('reads another proxy format through source, and honours its verdict header', async () => {
    const app = new Hono<ClientCertEnv>()
    app.use(clientCert({ allow: { commonNames: [CN] }, source: nginxSource() }))
    app.get('/', (c) => c.text(c.var.clientCert?.commonName ?? 'none'))
    const escaped = encodeURIComponent(allowed.pem)
    const ok = await app.request('/', { headers: { 'ssl-client-cert': escaped, 'ssl-client-verify': 'SUCCESS' } })
    assert.equal(await ok.text(), CN)
    const failed = await app.request('/', { headers: { 'ssl-client-cert': escaped, 'ssl-client-verify': 'FAILED:certificate has expired' } })
    assert.equal(failed.status, 403)
    assert.equal(((await failed.json()) as { code: string }).code, 'ERR_PROXY_VERIFY_FAILED')
    const xfccIgnored = await app.request('/', { headers: { 'x-forwarded-client-cert': xfccHeader(allowed) } })
    assert.equal(((await xfccIgnored.json()) as { code: string }).code, 'ERR_CERT_MISSING')
  })

  it('refuses header/element together with a source', () => {
    assert.throws(() => createClientCertVerifier({ allow: 'any-valid', source: nginxSource(), header: 'x-a' }), TypeError)
  })
})
