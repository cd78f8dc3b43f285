/**
 * The reference service's secure defaults, each as an attacker would try it on loopback: no
 * allowlist means no start, a forwarded certificate that arrives through the Dapr sidecar is
 * refused, a backend reply nested deep enough to overflow the stack is a coded 502, and only a
 * valid W3C trace context is passed on. Real servers on 127.0.0.1: the service itself behind a
 * stand-in Dapr sidecar, and backends answering what the test asks.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { getRequestListener } from '@hono/node-server'
import type { Hono } from 'hono'
import { ConfigError, parseServiceConfig, type ServiceConfig } from '../../src/service/config.ts'
import { createServiceApp as createApp, type ServiceDeps } from '../../src/service/app.ts'
import { createLogger } from '../../src/service/log.ts'
import { traceHeaders } from '../../src/service/trace-context.ts'
import { getJson } from '../../src/service/outbound.ts'
import { isCertgateError } from '../../src/errors.ts'
import { createTestPki, type TestCertificate, xfccHeader } from '../../src/testing/index.ts'
import {
  daprSidecar,
  type Loopback,
  type LoopbackHandler,
  loopbackSet,
} from '../support/loopback.ts'

const BOUNDED = { timeout: 10_000 }

/** The app with its log lines dropped (test/service/observability.test.ts checks them). */
function createServiceApp(config: ServiceConfig, deps: ServiceDeps = {}): Hono {
  return createApp(config, { log: createLogger(() => {}), ...deps })
}
const ALLOWED_CN = 'api-client.contoso.com'
const DEEP_LEVELS = 400_000
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'

const { listen, closeAll } = loopbackSet()

/** The service app on a loopback port, as a runtime would serve it. */
function serveApp(app: Hono): Promise<Loopback> {
  return listen(getRequestListener(app.fetch))
}

/** A backend whose every path answers 200 with `text` as JSON. */
function rawJson(text: string): LoopbackHandler {
  return function backend(_req, res): void {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(text)
  }
}

async function assertProblem(res: Response, status: number, code: string): Promise<void> {
  const text = await res.text()
  assert.equal(res.status, status, text)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  assert.equal((JSON.parse(text) as { code?: string }).code, code, text)
}

/** `parseServiceConfig(env)` with a CN allowlist, the variable every test here must set. */
function config(env: Record<string, string> = {}): ServiceConfig {
  return parseServiceConfig({ ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN, ...env })
}

after(closeAll)

describe('no default allowlist', () => {
  it('refuses to start without ALLOWED_CERT_THUMBPRINTS or ALLOWED_CERT_COMMON_NAMES', () => {
    for (const env of [{}, { ALLOWED_CERT_THUMBPRINTS: '' }, { ALLOWED_CERT_THUMBPRINTS: ' , ' }]) {
      let error: unknown
      try {
        parseServiceConfig(env)
      } catch (caught) {
        error = caught
      }
      assert.ok(error instanceof ConfigError, `${JSON.stringify(env)} started`)
      assert.equal(error.issues.length, 1, error.message)
      assert.match(error.issues[0]!, /ALLOWED_CERT_THUMBPRINTS/)
      assert.match(error.issues[0]!, /ALLOWED_CERT_COMMON_NAMES/)
    }
  })
})

describe('a forwarded certificate through the Dapr sidecar', () => {
  let allowed: TestCertificate
  let sidecar: Loopback

  before(async () => {
    const pki = await createTestPki()
    allowed = await pki.issue({ commonName: ALLOWED_CN })
    const service = await serveApp(createServiceApp(config()))
    // Another app in the environment, invoking certgate through its own sidecar.
    sidecar = await listen(daprSidecar({ apps: { certgate: service.url }, appId: 'intruder' }))
  })

  it('is refused with 403 ERR_PROXY_UNTRUSTED before the XFCC is read', BOUNDED, async () => {
    const res = await fetch(`${sidecar.url}/v1.0/invoke/certgate/method/cert-info`, {
      headers: { 'x-forwarded-client-cert': xfccHeader(allowed) },
    })
    await assertProblem(res, 403, 'ERR_PROXY_UNTRUSTED')
  })

  it('is refused on either Dapr header alone, even with a malformed XFCC', BOUNDED, async () => {
    const app = createServiceApp(config())
    for (const name of ['dapr-caller-app-id', 'dapr-callee-app-id']) {
      const headers = { [name]: 'intruder', 'x-forwarded-client-cert': 'Cert="%ZZ' }
      await assertProblem(await app.request('/cert-info', { headers }), 403, 'ERR_PROXY_UNTRUSTED')
    }
  })

  it('leaves /health open through the sidecar (it reads no certificate)', BOUNDED, async () => {
    const res = await fetch(`${sidecar.url}/v1.0/invoke/certgate/method/health`)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'ok' })
  })

  it('is read as before with REFUSE_DAPR_INVOKED=false: 200', BOUNDED, async () => {
    const app = createServiceApp(config({ REFUSE_DAPR_INVOKED: 'false' }))
    const headers = {
      'dapr-caller-app-id': 'gateway',
      'dapr-callee-app-id': 'certgate',
      'x-forwarded-client-cert': xfccHeader(allowed),
    }
    const res = await app.request('/cert-info', { headers })
    assert.equal(res.status, 200, await res.clone().text())
    assert.equal(((await res.json()) as { common_name: string }).common_name, ALLOWED_CN)
  })

  it('REFUSE_DAPR_INVOKED defaults to true and reads true/false only', () => {
    assert.equal(config().refuseDaprInvoked, true)
    assert.equal(config({ REFUSE_DAPR_INVOKED: 'FALSE' }).refuseDaprInvoked, false)
    assert.equal(config({ REFUSE_DAPR_INVOKED: 'true' }).refuseDaprInvoked, true)
    for (const value of ['', 'no', '0', 'yes']) {
      assert.throws(
        () => config({ REFUSE_DAPR_INVOKED: value }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.issues.length === 1 &&
          /^REFUSE_DAPR_INVOKED: must be "true" or "false"/.test(error.issues[0]!),
        value
      )
    }
  })
})

describe('a backend reply nested 400,000 levels deep', () => {
  const deep = '['.repeat(DEEP_LEVELS) + ']'.repeat(DEEP_LEVELS)
  let allowed: TestCertificate
  let app: Hono

  before(async () => {
    allowed = await (await createTestPki()).issue({ commonName: ALLOWED_CN })
    const backend = await listen(rawJson(deep))
    const sidecar = await listen(daprSidecar({ apps: { backend: backend.url } }))
    app = createServiceApp(
      config({ DIRECT_BACKEND_URL: backend.url, DAPR_HTTP_PORT: String(sidecar.port) })
    )
  })

  for (const path of ['/call-backend/direct', '/call-backend/dapr']) {
    it(`answers 502 ERR_UPSTREAM_BODY on ${path}`, BOUNDED, async () => {
      const headers = { 'x-forwarded-client-cert': xfccHeader(allowed) }
      await assertProblem(await app.request(path, { headers }), 502, 'ERR_UPSTREAM_BODY')
    })
  }

  it('getJson: 64 levels pass, 65 are ERR_UPSTREAM_BODY; strings skipped', BOUNDED, async () => {
    const nested = (levels: number): string =>
      '{"a":'.repeat(levels - 1) + '[1]' + '}'.repeat(levels - 1)
    const at64 = await listen(rawJson(nested(64)))
    const at65 = await listen(rawJson(nested(65)))
    const text = '[{'.repeat(1000) + '\\"['
    const inString = await listen(rawJson(JSON.stringify({ text })))
    const got64 = await getJson(at64.url, { timeoutMs: 2000 })
    assert.equal(JSON.stringify(got64), nested(64))
    assert.deepEqual(await getJson(inString.url, { timeoutMs: 2000 }), { text })
    await assert.rejects(getJson(at65.url, { timeoutMs: 2000 }), (error: unknown) => {
      assert.ok(isCertgateError(error))
      assert.equal(error.code, 'ERR_UPSTREAM_BODY')
      assert.equal(error.status, 502)
      assert.match(error.message, /nested deeper than 64 levels/)
      return true
    })
  })
})

describe('traceparent', () => {
  it('is not forwarded at version 00 with trailing data, nor its tracestate', BOUNDED, async () => {
    const backend = await listen(rawJson('{"status":"healthy"}'))
    const allowed = await (await createTestPki()).issue({ commonName: ALLOWED_CN })
    const app = createServiceApp(config({ DIRECT_BACKEND_URL: backend.url }))
    const headers = {
      'x-forwarded-client-cert': xfccHeader(allowed),
      traceparent: `${TRACEPARENT}-junk`,
      tracestate: TRACESTATE,
    }
    const res = await app.request('/call-backend/direct', { headers })
    assert.equal(res.status, 200, await res.clone().text())
    assert.equal(backend.seen.length, 1)
    assert.equal(backend.seen[0]!.headers.traceparent, undefined)
    assert.equal(backend.seen[0]!.headers.tracestate, undefined)
  })

  it('forwards only a valid traceparent, and tracestate only with it and only when valid', () => {
    const LATER = `01${TRACEPARENT.slice(2)}`
    const THIRTY_THREE_MEMBERS = Array.from({ length: 33 }, (_v, i) => `k${i}=v`).join(',')
    const SPACED = 'tenant@sys=v , ,b=1'
    const cases: Array<[string, string, Record<string, string>]> = [
      [TRACEPARENT, TRACESTATE, { traceparent: TRACEPARENT, tracestate: TRACESTATE }],
      [`${TRACEPARENT}-`, TRACESTATE, {}],
      [`${TRACEPARENT}x`, TRACESTATE, {}],
      [`${TRACEPARENT}, ${TRACEPARENT}`, TRACESTATE, {}],
      // A later version may add fields after a `-`; junk glued to the flags is still invalid.
      [`${LATER}-00ab`, TRACESTATE, { traceparent: `${LATER}-00ab`, tracestate: TRACESTATE }],
      [`${LATER}x`, TRACESTATE, {}],
      [`${LATER}- junk`, TRACESTATE, {}],
      [TRACEPARENT, 'Congo=t61', { traceparent: TRACEPARENT }],
      [TRACEPARENT, 'congo=a=b', { traceparent: TRACEPARENT }],
      [TRACEPARENT, 'congo=t\u00e961', { traceparent: TRACEPARENT }],
      [TRACEPARENT, THIRTY_THREE_MEMBERS, { traceparent: TRACEPARENT }],
      [TRACEPARENT, SPACED, { traceparent: TRACEPARENT, tracestate: SPACED }],
    ]
    for (const [traceparent, tracestate, expected] of cases) {
      const headers = new Headers({ traceparent, tracestate })
      assert.deepEqual(traceHeaders(headers), expected, `${traceparent} | ${tracestate}`)
    }
  })
})
