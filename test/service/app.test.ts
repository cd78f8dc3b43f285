/**
 * The reference service end to end through `app.request()`, against real loopback servers: a
 * backend, a stand-in Dapr sidecar speaking Dapr's HTTP invoke contract, and a server that
 * accepts and never answers. Every route, with and without a certificate, exact status and code.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Hono } from 'hono'
import type { ConnInfo, GetConnInfo } from 'hono/conninfo'
import { parseServiceConfig, type ServiceConfig } from '../../src/service/config.ts'
import { serviceConfig } from '../support/service-config.ts'
import { createServiceApp as createApp, type ServiceDeps, serviceErrorHandler } from '../../src/service/app.ts'
import { createLogger } from '../../src/service/log.ts'
import { traceHeaders } from '../../src/service/trace-context.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../../src/testing/index.ts'
import { createTestCrl } from '../support/pki.ts'
import {
  daprSidecar,
  freePort,
  jsonBackend,
  loopbackSet,
  type Loopback,
  sendJson,
} from '../support/loopback.ts'

const BOUNDED = { timeout: 10_000 }

/** The app with its log lines dropped (test/service/observability.test.ts checks them). */
function createServiceApp(config: ServiceConfig, deps: ServiceDeps = {}): Hono {
  return createApp(config, { log: createLogger(() => {}), ...deps })
}
const OUTBOUND_TIMEOUT_MS = 500
const SLACK_MS = 1000
const ALLOWED_CN = 'api-client.contoso.com'
/** What `parseServiceConfig` needs to accept an environment at all. */
const ALLOWLIST = { ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN }
const DAPR_TOKEN = 'sidecar-token-123'
const BACKEND_HEALTH = { status: 'healthy', service: 'backend' }
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'

/** Loopback servers that the suite's `after` closes. */
const { listen, closeAll } = loopbackSet()

/** A backend app: `/health` answers JSON, anything else 404. */
const backend = jsonBackend({ '/health': BACKEND_HEALTH })

interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code?: string
  upstreamStatus?: number
  upstreamError?: { errorCode: string; message: string }
}

async function assertProblem(res: Response, status: number, code: string | null): Promise<Problem> {
  const text = await res.text()
  assert.equal(res.status, status, text)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = JSON.parse(text) as Problem
  assert.equal(body.status, status)
  if (code === null) assert.equal(body.code, undefined)
  else assert.equal(body.code, code)
  return body
}

describe('reference service', () => {
  let allowed: TestCertificate
  let pinned: TestCertificate
  let unknown: TestCertificate
  let api: Loopback
  let sidecar: Loopback
  let tokenSidecar: Loopback
  let silent: Loopback
  let textServer: Loopback
  let nobody: number

  /** The service's configuration pointed at the loopback servers, with `overrides`. */
  function configWith(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
    return serviceConfig({
      allowedThumbprints: [pinned.thumbprint],
      allowedCommonNames: [ALLOWED_CN],
      directBackendUrl: api.url,
      daprHttpPort: sidecar.port,
      outboundTimeoutMs: OUTBOUND_TIMEOUT_MS,
      ...overrides,
    })
  }

  function get(
    app: Hono,
    path: string,
    options: { cert?: TestCertificate; headers?: Record<string, string> } = {}
  ): Promise<Response> {
    const headers = new Headers(options.headers)
    if (options.cert !== undefined) headers.set('x-forwarded-client-cert', xfccHeader(options.cert))
    return Promise.resolve(app.request(new Request(`http://service.test${path}`, { headers })))
  }

  let pki: TestPki

  before(async () => {
    pki = await createTestPki()
    allowed = await pki.issue({ commonName: ALLOWED_CN, dnsNames: [ALLOWED_CN] })
    pinned = await pki.issue({ commonName: 'pinned-by-thumbprint' })
    unknown = await pki.issue({ commonName: 'intruder.example' })
    api = await listen(backend)
    const broken = await listen((_req, res) => sendJson(res, 503, { status: 'down' }))
    sidecar = await listen(daprSidecar({ apps: { backend: api.url, broken: broken.url } }))
    tokenSidecar = await listen(daprSidecar({ apps: { backend: api.url }, token: DAPR_TOKEN }))
    silent = await listen(() => {})
    textServer = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<html>maintenance</html>')
    })
    nobody = await freePort()
  })

  after(async () => {
    await closeAll()
  })

  describe('GET /health', () => {
    it('answers 200 without a certificate and calls nothing', BOUNDED, async () => {
      const calls = api.seen.length + sidecar.seen.length
      const res = await get(createServiceApp(configWith()), '/health')
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { status: 'ok' })
      assert.equal(api.seen.length + sidecar.seen.length, calls)
    })

    it('answers 200 even with a malformed forwarded certificate header', BOUNDED, async () => {
      const res = await get(createServiceApp(configWith()), '/health', {
        headers: { 'x-forwarded-client-cert': 'Hash=zz;Cert="garbage' },
      })
      assert.equal(res.status, 200)
    })
  })

  describe('GET /cert-info', () => {
    it('answers 200 with the certificate allowed by common name', BOUNDED, async () => {
      const res = await get(createServiceApp(configWith()), '/cert-info', { cert: allowed })
      assert.equal(res.status, 200)
      const body = (await res.json()) as Record<string, unknown>
      assert.equal(body.thumbprint, allowed.thumbprint)
      assert.match(body.thumbprint as string, /^[0-9A-F]{64}$/)
      assert.equal(body.common_name, ALLOWED_CN)
      assert.deepEqual(body.dns_names, [ALLOWED_CN])
    })

    it('answers 200 with the certificate allowed by thumbprint', BOUNDED, async () => {
      const res = await get(createServiceApp(configWith()), '/cert-info', { cert: pinned })
      assert.equal(res.status, 200)
      const body = (await res.json()) as Record<string, unknown>
      assert.equal(body.thumbprint, pinned.thumbprint)
      assert.equal(body.common_name, 'pinned-by-thumbprint')
    })

    it('refuses a request without a certificate: 403 ERR_CERT_MISSING', BOUNDED, async () => {
      const res = await get(createServiceApp(configWith()), '/cert-info')
      await assertProblem(res, 403, 'ERR_CERT_MISSING')
    })

    it('refuses an unknown certificate: 403 ERR_CERT_NOT_ALLOWED', BOUNDED, async () => {
      const res = await get(createServiceApp(configWith()), '/cert-info', { cert: unknown })
      await assertProblem(res, 403, 'ERR_CERT_NOT_ALLOWED')
    })

    it('in accept mode answers 200 with null fields without a certificate', BOUNDED, async () => {
      const app = createServiceApp(configWith({ clientCertMode: 'accept' }))
      const none = await get(app, '/cert-info')
      assert.equal(none.status, 200)
      assert.deepEqual(await none.json(), { thumbprint: null, common_name: null })
      const res = await get(app, '/cert-info', { cert: allowed })
      assert.equal(((await res.json()) as { thumbprint: string }).thumbprint, allowed.thumbprint)
      const refused = await get(app, '/cert-info', { cert: unknown })
      await assertProblem(refused, 403, 'ERR_CERT_NOT_ALLOWED')
    })
  })

  describe('GET /call-backend/dapr', () => {
    it('answers 200 with the JSON the app returned through the sidecar', BOUNDED, async () => {
      const before = sidecar.seen.length
      const res = await get(createServiceApp(configWith()), '/call-backend/dapr', { cert: allowed })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { path: 'dapr', status: BACKEND_HEALTH })
      const call = sidecar.seen[before]!
      assert.equal(call.method, 'GET')
      assert.equal(call.url, '/v1.0/invoke/backend/method/health')
      assert.equal(call.headers['dapr-api-token'], undefined)
      // The client's certificate is the service's business, not the backend's.
      assert.equal(call.headers['x-forwarded-client-cert'], undefined)
    })

    it('sends dapr-api-token when configured', BOUNDED, async () => {
      const before = tokenSidecar.seen.length
      const app = createServiceApp(
        configWith({ daprHttpPort: tokenSidecar.port, daprApiToken: DAPR_TOKEN })
      )
      const res = await get(app, '/call-backend/dapr', { cert: allowed })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { path: 'dapr', status: BACKEND_HEALTH })
      assert.equal(tokenSidecar.seen[before]!.headers['dapr-api-token'], DAPR_TOKEN)
    })

    it('reports a sidecar that refuses the token: 502 upstreamStatus 401', BOUNDED, async () => {
      const app = createServiceApp(configWith({ daprHttpPort: tokenSidecar.port }))
      const res = await get(app, '/call-backend/dapr', { cert: allowed })
      const body = await assertProblem(res, 502, 'ERR_UPSTREAM_STATUS')
      assert.equal(body.upstreamStatus, 401)
      assert.equal(body.upstreamError, undefined)
      assert.ok(!JSON.stringify(body).includes(DAPR_TOKEN))
    })

    it('forwards the W3C traceparent and tracestate', BOUNDED, async () => {
      const before = sidecar.seen.length
      const res = await get(createServiceApp(configWith()), '/call-backend/dapr', {
        cert: allowed,
        headers: { traceparent: TRACEPARENT, tracestate: TRACESTATE },
      })
      assert.equal(res.status, 200)
      const call = sidecar.seen[before]!
      assert.equal(call.headers.traceparent, TRACEPARENT)
      assert.equal(call.headers.tracestate, TRACESTATE)
    })

    it('sends no trace headers when the request has none', BOUNDED, async () => {
      const before = sidecar.seen.length
      await get(createServiceApp(configWith()), '/call-backend/dapr', { cert: allowed })
      const call = sidecar.seen[before]!
      assert.equal(call.headers.traceparent, undefined)
      assert.equal(call.headers.tracestate, undefined)
    })

    it('refuses a request without a certificate: 403, sidecar not called', BOUNDED, async () => {
      const calls = sidecar.seen.length + api.seen.length
      const res = await get(createServiceApp(configWith()), '/call-backend/dapr')
      await assertProblem(res, 403, 'ERR_CERT_MISSING')
      assert.equal(sidecar.seen.length + api.seen.length, calls)
    })

    it('refuses an unknown certificate: 403, sidecar not called', BOUNDED, async () => {
      const calls = sidecar.seen.length
      const res = await get(createServiceApp(configWith()), '/call-backend/dapr', { cert: unknown })
      await assertProblem(res, 403, 'ERR_CERT_NOT_ALLOWED')
      assert.equal(sidecar.seen.length, calls)
    })

    it('reports Dapr error JSON for an unknown app-id: 502 upstreamError', BOUNDED, async () => {
      const app = createServiceApp(configWith({ daprTargetAppId: 'no-such-app' }))
      const res = await get(app, '/call-backend/dapr', { cert: allowed })
      const body = await assertProblem(res, 502, 'ERR_UPSTREAM_STATUS')
      assert.equal(body.upstreamStatus, 500)
      assert.equal(body.upstreamError?.errorCode, 'ERR_DIRECT_INVOKE')
      assert.match(body.upstreamError?.message ?? '', /^failed to invoke, id: no-such-app/)
    })

    it('passes on the status the app answered through the sidecar', BOUNDED, async () => {
      const app = createServiceApp(configWith({ daprTargetAppId: 'broken' }))
      const res = await get(app, '/call-backend/dapr', { cert: allowed })
      const body = await assertProblem(res, 502, 'ERR_UPSTREAM_STATUS')
      assert.equal(body.upstreamStatus, 503)
    })

    it('reports no sidecar listening: 502 ERR_UPSTREAM_UNREACHABLE', BOUNDED, async () => {
      const app = createServiceApp(configWith({ daprHttpPort: nobody }))
      const started = performance.now()
      const res = await get(app, '/call-backend/dapr', { cert: allowed })
      await assertProblem(res, 502, 'ERR_UPSTREAM_UNREACHABLE')
      assert.ok(performance.now() - started < OUTBOUND_TIMEOUT_MS + SLACK_MS)
    })

    it('reports a sidecar that never answers: 504 ERR_UPSTREAM_TIMEOUT', BOUNDED, async () => {
      const app = createServiceApp(configWith({ daprHttpPort: silent.port }))
      const started = performance.now()
      const res = await get(app, '/call-backend/dapr', { cert: allowed })
      const elapsed = performance.now() - started
      await assertProblem(res, 504, 'ERR_UPSTREAM_TIMEOUT')
      assert.ok(elapsed >= OUTBOUND_TIMEOUT_MS - 50, `answered after ${elapsed} ms`)
      assert.ok(elapsed < OUTBOUND_TIMEOUT_MS + SLACK_MS, `answered after ${elapsed} ms`)
    })
  })

  describe('GET /call-backend/direct', () => {
    it('answers 200 with the JSON the backend returned', BOUNDED, async () => {
      const before = api.seen.length
      const res = await get(createServiceApp(configWith()), '/call-backend/direct', {
        cert: allowed,
        headers: { traceparent: TRACEPARENT },
      })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { path: 'direct', status: BACKEND_HEALTH })
      const call = api.seen[before]!
      assert.equal(call.url, '/health')
      assert.equal(call.headers.traceparent, TRACEPARENT)
    })

    it('refuses a request without a certificate: 403, backend not called', BOUNDED, async () => {
      const calls = api.seen.length
      const res = await get(createServiceApp(configWith()), '/call-backend/direct')
      await assertProblem(res, 403, 'ERR_CERT_MISSING')
      assert.equal(api.seen.length, calls)
    })

    it('in accept mode calls the backend without a certificate', BOUNDED, async () => {
      const app = createServiceApp(configWith({ clientCertMode: 'accept' }))
      const res = await get(app, '/call-backend/direct')
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { path: 'direct', status: BACKEND_HEALTH })
    })

    it('reports nothing listening: 502 ERR_UPSTREAM_UNREACHABLE', BOUNDED, async () => {
      const app = createServiceApp(configWith({ directBackendUrl: `http://127.0.0.1:${nobody}` }))
      const res = await get(app, '/call-backend/direct', { cert: allowed })
      const body = await assertProblem(res, 502, 'ERR_UPSTREAM_UNREACHABLE')
      assert.ok(!body.detail.includes(String(nobody)), 'the detail leaks the backend address')
    })

    it('reports a backend that never answers: 504 ERR_UPSTREAM_TIMEOUT', BOUNDED, async () => {
      const app = createServiceApp(configWith({ directBackendUrl: silent.url }))
      const started = performance.now()
      const res = await get(app, '/call-backend/direct', { cert: allowed })
      await assertProblem(res, 504, 'ERR_UPSTREAM_TIMEOUT')
      assert.ok(performance.now() - started < OUTBOUND_TIMEOUT_MS + SLACK_MS)
    })

    it('reports a body that is not JSON: 502 ERR_UPSTREAM_BODY', BOUNDED, async () => {
      const app = createServiceApp(configWith({ directBackendUrl: textServer.url }))
      const res = await get(app, '/call-backend/direct', { cert: allowed })
      await assertProblem(res, 502, 'ERR_UPSTREAM_BODY')
    })

    it('uses the fetch given in deps', BOUNDED, async () => {
      let calls = 0
      const counting = ((input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        calls++
        return fetch(input, init)
      }) as typeof fetch
      const app = createServiceApp(configWith(), { fetch: counting })
      const res = await get(app, '/call-backend/direct', { cert: allowed })
      assert.equal(res.status, 200)
      assert.equal(calls, 1)
    })
  })

  describe('TRUSTED_CA_CERTS', () => {
    let rogue: TestCertificate
    let revoked: TestCertificate
    let trusted: ServiceConfig

    before(async () => {
      // Another CA entirely, minting the allowlisted CN: what ACA alone would let through.
      rogue = await (await createTestPki()).issue({ commonName: ALLOWED_CN })
      revoked = await pki.issue({ commonName: ALLOWED_CN })
      const crl = await createTestCrl({ issuer: pki.intermediate, revoked: [revoked] })
      const files: Record<string, string> = { '/ca.pem': pki.root.pem + pki.intermediate.pem }
      const env = { ...ALLOWLIST, TRUSTED_CA_CERTS: '/ca.pem', CRL_FILES: '/int.crl' }
      const readFile = (path: string): Uint8Array =>
        path === '/int.crl' ? crl.der : new TextEncoder().encode(files[path])
      trusted = configWith({ trust: parseServiceConfig(env, { readFile }).trust })
    })

    it('refuses a rogue CA leaf with the allowed CN: 403 ERR_CERT_UNTRUSTED', BOUNDED, async () => {
      const res = await get(createServiceApp(trusted), '/cert-info', { cert: rogue })
      await assertProblem(res, 403, 'ERR_CERT_UNTRUSTED')
    })

    it('answers 200 for a certificate the configured CA issued', BOUNDED, async () => {
      const app = createServiceApp(trusted)
      const res = await get(app, '/cert-info', { cert: allowed })
      assert.equal(res.status, 200)
      assert.equal(((await res.json()) as { thumbprint: string }).thumbprint, allowed.thumbprint)
      // Without Chain the path is completed with the bundle's intermediate.
      const headers = { 'x-forwarded-client-cert': xfccHeader(allowed, { chain: false }) }
      assert.equal((await get(app, '/cert-info', { headers })).status, 200)
    })

    it('still applies the allowlist: 403 ERR_CERT_NOT_ALLOWED', BOUNDED, async () => {
      const res = await get(createServiceApp(trusted), '/cert-info', { cert: unknown })
      await assertProblem(res, 403, 'ERR_CERT_NOT_ALLOWED')
    })

    it('refuses a serial listed in a CRL_FILES CRL: 403 ERR_CERT_REVOKED', BOUNDED, async () => {
      const res = await get(createServiceApp(trusted), '/cert-info', { cert: revoked })
      await assertProblem(res, 403, 'ERR_CERT_REVOKED')
    })

    it('without it, admits the rogue certificate by its CN (why it exists)', BOUNDED, async () => {
      const res = await get(createServiceApp(configWith()), '/cert-info', { cert: rogue })
      assert.equal(res.status, 200)
    })
  })

  describe('TRUSTED_PROXY_CIDRS', () => {
    /** A connection-info helper that reports `address` as the peer, as a runtime's would. */
    function peer(address: string): GetConnInfo {
      return function connInfo(): ConnInfo {
        return { remote: { address } }
      }
    }

    function proxied(): ServiceConfig {
      return configWith({
        trustedProxies: parseServiceConfig({ ...ALLOWLIST, TRUSTED_PROXY_CIDRS: '10.0.0.0/8' })
          .trustedProxies,
      })
    }

    it('refuses a request from outside the ranges: 403 ERR_PROXY_UNTRUSTED', BOUNDED, async () => {
      const app = createServiceApp(proxied(), { getConnInfo: peer('127.0.0.2') })
      const res = await get(app, '/cert-info', { cert: allowed })
      await assertProblem(res, 403, 'ERR_PROXY_UNTRUSTED')
    })

    it('answers 200 for the same request from inside the ranges', BOUNDED, async () => {
      const app = createServiceApp(proxied(), { getConnInfo: peer('10.1.2.3') })
      const res = await get(app, '/cert-info', { cert: allowed })
      assert.equal(res.status, 200)
    })

    it('leaves /health open to any address (the probes bypass the proxy)', BOUNDED, async () => {
      const app = createServiceApp(proxied(), { getConnInfo: peer('127.0.0.2') })
      assert.equal((await get(app, '/health')).status, 200)
    })

    it('refuses to build the app without getConnInfo', () => {
      assert.throws(() => createServiceApp(proxied()), /trustedProxies needs getConnInfo/)
    })
  })

  describe('CLIENT_CERT_SOURCE=nginx', () => {
    function nginxApp(): Hono {
      const source = parseServiceConfig({ ...ALLOWLIST, CLIENT_CERT_SOURCE: 'nginx' }).clientCertSource
      return createServiceApp(configWith({ clientCertSource: source }))
    }

    it('reads ssl-client-cert (URL-encoded PEM), verify SUCCESS: 200', BOUNDED, async () => {
      const res = await get(nginxApp(), '/cert-info', {
        headers: {
          'ssl-client-cert': encodeURIComponent(allowed.pem),
          'ssl-client-verify': 'SUCCESS',
        },
      })
      assert.equal(res.status, 200)
      assert.equal(((await res.json()) as { thumbprint: string }).thumbprint, allowed.thumbprint)
    })

    it('ignores X-Forwarded-Client-Cert: 403 ERR_CERT_MISSING', BOUNDED, async () => {
      const res = await get(nginxApp(), '/cert-info', { cert: allowed })
      await assertProblem(res, 403, 'ERR_CERT_MISSING')
    })

    it("honours nginx's failed verdict: 403 ERR_PROXY_VERIFY_FAILED", BOUNDED, async () => {
      const res = await get(nginxApp(), '/cert-info', {
        headers: {
          'ssl-client-cert': encodeURIComponent(allowed.pem),
          'ssl-client-verify': 'FAILED:certificate has expired',
        },
      })
      await assertProblem(res, 403, 'ERR_PROXY_VERIFY_FAILED')
    })
  })

  describe('unknown routes', () => {
    it('answer 404 problem+json with an allowed certificate', BOUNDED, async () => {
      const res = await get(createServiceApp(configWith()), '/admin', { cert: allowed })
      const body = await assertProblem(res, 404, 'ERR_NOT_FOUND')
      assert.equal(body.type, 'urn:certgate:error:ERR_NOT_FOUND')
      assert.equal(body.title, 'Not found')
    })

    it('answer 403 without a certificate, revealing no route', BOUNDED, async () => {
      const res = await get(createServiceApp(configWith()), '/admin')
      await assertProblem(res, 403, 'ERR_CERT_MISSING')
    })

    it('include other methods on known paths', BOUNDED, async () => {
      const app = createServiceApp(configWith())
      const headers = { 'x-forwarded-client-cert': xfccHeader(allowed) }
      const res = await app.request('/cert-info', { method: 'POST', headers })
      await assertProblem(res, 404, 'ERR_NOT_FOUND')
      const without = await app.request('/cert-info', { method: 'POST' })
      await assertProblem(without, 403, 'ERR_CERT_MISSING')
    })
  })

  describe('the stand-in sidecar', () => {
    it('also serves the dapr-app-id header form of invocation', BOUNDED, async () => {
      const res = await fetch(`${sidecar.url}/health`, { headers: { 'dapr-app-id': 'backend' } })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), BACKEND_HEALTH)
      assert.equal(api.seen.at(-1)!.headers['dapr-app-id'], undefined)
    })

    it('answers 404 ERR_DIRECT_INVOKE without an app-id', BOUNDED, async () => {
      const res = await fetch(`${sidecar.url}/health`)
      assert.equal(res.status, 404)
      assert.equal(((await res.json()) as { errorCode: string }).errorCode, 'ERR_DIRECT_INVOKE')
    })
  })
})

describe('serviceErrorHandler', () => {
  it('turns an unexpected error into a bare 500 problem, logged once', BOUNDED, async () => {
    const app = new Hono()
    app.get('/boom', () => {
      throw new Error('secret internals at /srv/app.ts:12')
    })
    const logged: string[] = []
    app.onError(serviceErrorHandler(createLogger((line) => logged.push(line))))
    const res = await app.request('/boom?token=abc')
    const text = await res.text()
    assert.equal(res.status, 500)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    assert.ok(!text.includes('secret'), text)
    assert.deepEqual(JSON.parse(text), {
      type: 'urn:certgate:error:ERR_INTERNAL',
      title: 'Internal error',
      status: 500,
      detail: 'The service failed to handle the request.',
      code: 'ERR_INTERNAL',
    })
    assert.equal(logged.length, 1)
    const line = JSON.parse(logged[0]!) as Record<string, unknown>
    assert.equal(line.level, 'error')
    assert.equal(line.msg, 'unexpected error')
    assert.equal(line.code, 'ERR_INTERNAL')
    assert.equal(line.status, 500)
    assert.equal(line.path, '/boom')
    // The operator sees the error; the client did not.
    assert.equal((line.error as { message: string }).message, 'secret internals at /srv/app.ts:12')
    assert.ok(!logged[0]!.includes('token=abc'))
  })
})

describe('traceHeaders', () => {
  it('drops a malformed traceparent together with its tracestate', () => {
    const cases: Array<[string, Record<string, string>]> = [
      [TRACEPARENT, { traceparent: TRACEPARENT, tracestate: TRACESTATE }],
      ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01', {}],
      ['ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', {}],
      ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', {}],
      ['00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', {}],
      ['garbage', {}],
    ]
    for (const [traceparent, expected] of cases) {
      const headers = new Headers({ traceparent, tracestate: TRACESTATE })
      assert.deepEqual(traceHeaders(headers), expected, traceparent)
    }
    assert.deepEqual(traceHeaders(new Headers({ tracestate: TRACESTATE })), {})
  })
})
