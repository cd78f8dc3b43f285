/**
 * The service's JSON logs and OpenTelemetry metrics, in process through `createServiceApp`: one
 * line per failed request with its code, status, method, path (no query), thumbprint, reason and
 * trace id, never the certificate or the header; nothing for an admitted request; counters and
 * the verify-time histogram read back through an SDK MeterProvider and an in-memory exporter.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { metrics } from '@opentelemetry/api'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import type { Hono } from 'hono'
import { createServiceApp } from '../../src/service/app.ts'
import type { ServiceConfig } from '../../src/service/config.ts'
import { serviceConfig } from '../support/service-config.ts'
import { createLogger } from '../../src/service/log.ts'
import { createServiceMetrics, loadMeter, METRIC_NAMES } from '../../src/service/metrics.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../../src/testing/index.ts'
import { createTestCrl } from '../support/pki.ts'
import { freePort } from '../support/loopback.ts'

const BOUNDED = { timeout: 10_000 }
const ALLOWED_CN = 'api-client.contoso.com'
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`

type Line = Record<string, unknown>

function configWith(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return serviceConfig({
    allowedCommonNames: [ALLOWED_CN],
    daprApiToken: 'dapr-secret-token',
    ...overrides,
  })
}

/** An app whose log lines land in `lines` (parsed) and `raw` (as written), as they are written. */
function appWith(
  overrides: Partial<ServiceConfig> = {},
  meterProvider?: MeterProvider
): { app: Hono; lines: Line[]; raw: string[] } {
  const raw: string[] = []
  const lines: Line[] = []
  const log = createLogger((line) => {
    raw.push(line)
    lines.push(JSON.parse(line) as Line)
  })
  const meter = meterProvider?.getMeter('certgate')
  const app = createServiceApp(configWith(overrides), {
    log,
    metrics: meter === undefined ? null : createServiceMetrics(meter),
  })
  return { app, lines, raw }
}

function get(app: Hono, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(app.request(new Request(`http://service.test${path}`, { headers })))
}

function xfcc(cert: TestCertificate): Record<string, string> {
  return { 'x-forwarded-client-cert': xfccHeader(cert) }
}

/** Asserts `raw` holds nothing of the certificate or the header it came in. */
function assertNoCertificate(raw: string[], cert: TestCertificate): void {
  const text = raw.join('\n')
  const base64 = cert.pem.split('\n').filter((line) => !line.startsWith('-----')).join('')
  for (let i = 0; i + 32 <= base64.length; i += 32) {
    assert.ok(!text.includes(base64.slice(i, i + 32)), 'a piece of the certificate was logged')
  }
  assert.ok(!text.includes(xfccHeader(cert)), 'the header was logged')
  assert.ok(!text.includes('BEGIN CERTIFICATE'))
}

describe('service logs', () => {
  let pki: TestPki
  let allowed: TestCertificate
  let unknown: TestCertificate

  before(async () => {
    pki = await createTestPki()
    allowed = await pki.issue({ commonName: ALLOWED_CN })
    unknown = await pki.issue({ commonName: 'intruder.example' })
  })

  it('logs nothing for an admitted request', BOUNDED, async () => {
    const { app, raw } = appWith()
    assert.equal((await get(app, '/cert-info', xfcc(allowed))).status, 200)
    assert.equal((await get(app, '/health')).status, 200)
    assert.deepEqual(raw, [])
  })

  it('logs a refusal once: code, status, method, path without query, trace id', BOUNDED, async () => {
    const { app, lines } = appWith()
    const res = await get(app, '/cert-info?api_key=s3cret', { traceparent: TRACEPARENT })
    assert.equal(res.status, 403)
    assert.equal(lines.length, 1)
    const line = lines[0]!
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.deepEqual(
      { ...line, time: 'T' },
      {
        level: 'warn',
        time: 'T',
        msg: 'request refused',
        code: 'ERR_CERT_MISSING',
        status: 403,
        method: 'GET',
        path: '/cert-info',
        trace_id: TRACE_ID,
      }
    )
  })

  it('logs the thumbprint of a certificate it read and refused, never the certificate', BOUNDED, async () => {
    const { app, lines, raw } = appWith()
    assert.equal((await get(app, '/cert-info', xfcc(unknown))).status, 403)
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!.code, 'ERR_CERT_NOT_ALLOWED')
    assert.equal(lines[0]!.thumbprint, unknown.thumbprint)
    assert.equal(lines[0]!.trace_id, undefined)
    assertNoCertificate(raw, unknown)
  })

  it('logs the proxy reason of ERR_PROXY_VERIFY_FAILED, capped', BOUNDED, async () => {
    const { app, lines } = appWith({ clientCertSource: 'nginx' })
    const res = await get(app, '/cert-info', {
      'ssl-client-verify': 'FAILED:certificate has expired',
    })
    assert.equal(res.status, 403)
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!.code, 'ERR_PROXY_VERIFY_FAILED')
    assert.equal(lines[0]!.reason, 'FAILED:certificate has expired')

    const long = appWith({ clientCertSource: 'nginx' })
    await get(long.app, '/cert-info', { 'ssl-client-verify': `FAILED:${'x'.repeat(5000)}` })
    assert.equal(long.lines.length, 1)
    assert.ok(String(long.lines[0]!.reason).length <= 200, String(long.lines[0]!.reason))
  })

  it('logs the CRL cause of ERR_CERT_REVOKED and ERR_CRL_INVALID', BOUNDED, async () => {
    const revokedCrl = await createTestCrl({ issuer: pki.intermediate, revoked: [allowed] })
    const trust = { roots: [pki.root.pem], intermediates: [pki.intermediate.pem] }
    const revoked = appWith({ trust: { ...trust, crls: [revokedCrl.der] } })
    assert.equal((await get(revoked.app, '/cert-info', xfcc(allowed))).status, 403)
    assert.equal(revoked.lines.length, 1)
    assert.equal(revoked.lines[0]!.code, 'ERR_CERT_REVOKED')
    assert.equal(revoked.lines[0]!.thumbprint, allowed.thumbprint)
    assert.equal(typeof revoked.lines[0]!.reason, 'string')

    const stale = await createTestCrl({
      issuer: pki.intermediate,
      thisUpdate: new Date(Date.now() - 3 * 86_400_000),
      nextUpdate: new Date(Date.now() - 86_400_000),
    })
    const invalid = appWith({ trust: { ...trust, crls: [stale.der] } })
    assert.equal((await get(invalid.app, '/cert-info', xfcc(allowed))).status, 403)
    assert.equal(invalid.lines.length, 1)
    assert.equal(invalid.lines[0]!.code, 'ERR_CRL_INVALID')
    assert.match(String(invalid.lines[0]!.reason), /nextUpdate/)
    assertNoCertificate([...revoked.raw, ...invalid.raw], allowed)
  })

  it('logs the Dapr-invoked refusal once, without the certificate it carried', BOUNDED, async () => {
    const { app, lines, raw } = appWith()
    const res = await get(app, '/cert-info', { ...xfcc(allowed), 'dapr-caller-app-id': 'other' })
    assert.equal(res.status, 403)
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!.level, 'warn')
    assert.equal(lines[0]!.code, 'ERR_PROXY_UNTRUSTED')
    assert.equal(lines[0]!.path, '/cert-info')
    assertNoCertificate(raw, allowed)
  })

  it('logs an upstream failure once at error, without the URL or the Dapr token', BOUNDED, async () => {
    const port = await freePort()
    const { app, lines, raw } = appWith({ directBackendUrl: `http://user:pw@127.0.0.1:${port}`, daprHttpPort: port })
    assert.equal((await get(app, '/call-backend/direct', xfcc(allowed))).status, 502)
    assert.equal((await get(app, '/call-backend/dapr', xfcc(allowed))).status, 502)
    assert.deepEqual(
      lines.map((line) => [line.level, line.msg, line.code, line.status, line.path]),
      [
        ['error', 'upstream call failed', 'ERR_UPSTREAM_UNREACHABLE', 502, '/call-backend/direct'],
        ['error', 'upstream call failed', 'ERR_UPSTREAM_UNREACHABLE', 502, '/call-backend/dapr'],
      ]
    )
    const text = raw.join('\n')
    assert.ok(!text.includes('pw@') && !text.includes('dapr-secret-token'), text)
  })

  it('logs an unknown route once at info', BOUNDED, async () => {
    const { app, lines } = appWith()
    assert.equal((await get(app, '/nope', xfcc(allowed))).status, 404)
    assert.deepEqual(
      lines.map((line) => [line.level, line.msg, line.code, line.status]),
      [['info', 'no route', 'ERR_NOT_FOUND', 404]]
    )
  })
})

describe('createLogger', () => {
  it('keeps level, time and msg first and unreplaceable; errors and bigints serialised', () => {
    const raw: string[] = []
    const levels: string[] = []
    const log = createLogger(
      (line, level) => {
        raw.push(line)
        levels.push(level)
      },
      () => new Date(0)
    )
    log.info('hello', { msg: 'spoof', level: 'error', n: 1n, skipped: undefined, error: new TypeError('bad') })
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    log.error('cyclic', { cycle })
    assert.deepEqual(levels, ['info', 'error'])
    const first = JSON.parse(raw[0]!) as Line
    assert.deepEqual(Object.keys(first), ['level', 'time', 'msg', 'n', 'error'])
    assert.equal(first.level, 'info')
    assert.equal(first.time, '1970-01-01T00:00:00.000Z')
    assert.equal(first.msg, 'hello')
    assert.equal(first.n, '1')
    assert.deepEqual({ ...(first.error as Line), stack: undefined }, { name: 'TypeError', message: 'bad', stack: undefined })
    assert.deepEqual(JSON.parse(raw[1]!), {
      level: 'error',
      time: '1970-01-01T00:00:00.000Z',
      msg: 'cyclic',
      log_error: 'fields not serialisable',
    })
  })
})

describe('service metrics', () => {
  let pki: TestPki
  let allowed: TestCertificate
  let unknown: TestCertificate
  const providers: MeterProvider[] = []

  before(async () => {
    pki = await createTestPki()
    allowed = await pki.issue({ commonName: ALLOWED_CN })
    unknown = await pki.issue({ commonName: 'intruder.example' })
  })

  after(async () => {
    metrics.disable()
    await Promise.all(providers.map((provider) => provider.shutdown()))
  })

  function sdk(): { provider: MeterProvider; collect: () => Promise<Map<string, unknown[]>> } {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    // Exported only when asked (forceFlush): the interval is longer than any test.
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
    const provider = new MeterProvider({ readers: [reader] })
    providers.push(provider)
    return {
      provider,
      async collect() {
        await reader.forceFlush()
        const byName = new Map<string, unknown[]>()
        const last = exporter.getMetrics().at(-1)
        for (const scope of last?.scopeMetrics ?? []) {
          for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric.dataPoints)
        }
        return byName
      },
    }
  }

  it('counts verified and refused requests by code, and the verify time in seconds', BOUNDED, async () => {
    const { provider, collect } = sdk()
    const { app } = appWith({}, provider)
    await get(app, '/cert-info', xfcc(allowed))
    await get(app, '/cert-info', xfcc(allowed))
    await get(app, '/cert-info', xfcc(unknown))
    await get(app, '/cert-info')
    await get(app, '/cert-info', { 'dapr-callee-app-id': 'x' })
    const found = await collect()

    type Point = { attributes: Record<string, unknown>; value: unknown }
    const verified = found.get(METRIC_NAMES.verified) as Point[]
    const total = verified.reduce((sum, point) => sum + (point.value as number), 0)
    assert.equal(total, 2)
    const refused = (found.get(METRIC_NAMES.refused) as Point[])
      .map((point) => [point.attributes['error.type'], point.attributes['http.response.status_code'], point.value])
      .sort()
    assert.deepEqual(refused, [
      ['ERR_CERT_MISSING', 403, 1],
      ['ERR_CERT_NOT_ALLOWED', 403, 1],
      ['ERR_PROXY_UNTRUSTED', 403, 1],
    ])
    // The Dapr refusal reads no certificate, so it has no verify time: 4 recorded, not 5.
    const durations = found.get(METRIC_NAMES.duration) as Array<{ value: { count: number; sum: number } }>
    assert.equal(durations.reduce((sum, point) => sum + point.value.count, 0), 4)
    const seconds = durations.reduce((sum, point) => sum + point.value.sum, 0)
    assert.ok(seconds > 0 && seconds < 5, `verify took ${seconds} s in all`)
  })

  it('loadMeter: null without an SDK or without the package, the global meter with one', async () => {
    metrics.disable()
    assert.equal(await loadMeter(), null)
    assert.equal(await loadMeter(() => Promise.reject(new Error('Cannot find package'))), null)
    const { provider, collect } = sdk()
    assert.ok(metrics.setGlobalMeterProvider(provider))
    const meter = await loadMeter()
    assert.notEqual(meter, null)
    createServiceMetrics(meter!).refused({ code: 'ERR_CERT_MISSING', status: 403 })
    const refused = (await collect()).get(METRIC_NAMES.refused) as Array<{ value: number }>
    assert.equal(refused[0]!.value, 1)
    metrics.disable()
  })
})
