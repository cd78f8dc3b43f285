/**
 * End to end with a real TLS-terminating proxy: nginx on 127.0.0.1 verifies client certificates
 * from a throwaway PKI and forwards them to two reference-service processes, one reading the
 * Envoy-format XFCC nginx builds, one reading nginx's own `ssl-client-cert` format. Clients
 * present real certificates over TLS with Node's https client, and attack it: a rogue CA, no
 * certificate, a forged header, and a direct connection that bypasses nginx.
 *
 * Skips (saying why) only when nginx is not installed and `CI` is unset; in CI a missing nginx
 * fails the suite. Runs under Node only: it spawns nginx and the services itself, once.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestPki, type TestCertificate, xfccHeader } from '../../src/testing/index.ts'
import { freePort } from '../support/loopback.ts'
import {
  type Child,
  findNginx,
  type NginxSetup,
  privateKeyPem,
  startNginx,
  startService,
  stopChild,
  writeFile,
} from '../support/nginx.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ALLOWED_CN = 'api-client.contoso.com'
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const START_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 5_000
const REQUEST_TIMEOUT_MS = 5_000
const BOUNDED = { timeout: 15_000 }
const SETUP = { timeout: 60_000 }

const RUNTIME = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node'
const NGINX = findNginx()
const IN_CI = (process.env.CI ?? '') !== '' && process.env.CI !== 'false' && process.env.CI !== '0'

function skipReason(): string | false {
  if (RUNTIME !== 'node') {
    return `spawns nginx and the services itself, so it runs once, under Node (this is ${RUNTIME})`
  }
  if (NGINX === null && !IN_CI) return 'nginx not installed (apt-get install nginx-light to run)'
  return false
}

/** A client certificate with its key, as a TLS client needs them. */
interface Client {
  cert: TestCertificate
  keyPem: string
}

/** One HTTP answer: status, headers, body text, and the body as JSON when it is JSON. */
interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
  json: { code?: string; thumbprint?: string; common_name?: string } | null
}

interface Problem {
  code?: string
}

function answer(status: number, headers: IncomingHttpHeaders, body: string): Answer {
  let json: Answer['json'] = null
  try {
    json = JSON.parse(body) as Answer['json']
  } catch {
    // nginx's own error pages are HTML.
  }
  return { status, headers, body, json }
}

describe('nginx in front of the service (mutual TLS, end to end)', { skip: skipReason() }, () => {
  let dir: string
  let setup: NginxSetup
  let serverCa: string
  let allowed: Client
  let unknown: Client
  let rogue: Client
  let nginx: Child | null = null
  const services: Child[] = []

  before(async () => {
    if (NGINX === null) {
      throw new Error('nginx is not installed, and CI is set: .ci/run must install it')
    }
    dir = mkdtempSync(join(tmpdir(), 'certgate-nginx-'))
    mkdirSync(join(dir, 'temp'))

    const pki = await createTestPki()
    const server = await pki.issue({
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ips: ['127.0.0.1'],
      extendedKeyUsages: [SERVER_AUTH],
    })
    const withKey = async (cert: TestCertificate): Promise<Client> => ({
      cert,
      keyPem: await privateKeyPem(cert.keys.privateKey),
    })
    allowed = await withKey(await pki.issue({ commonName: ALLOWED_CN, dnsNames: [ALLOWED_CN] }))
    unknown = await withKey(await pki.issue({ commonName: 'intruder.example' }))
    // Another CA minting the allowed CN: what a proxy that checks nothing would let through.
    rogue = await withKey(await (await createTestPki()).issue({ commonName: ALLOWED_CN }))
    serverCa = pki.root.pem

    // nginx sends its intermediate; clients send their leaf only, so nginx's CA file has both.
    writeFile(dir, 'server.pem', server.pem + pki.intermediate.pem)
    writeFile(dir, 'server.key', await privateKeyPem(server.keys.privateKey), true)
    writeFile(dir, 'client-ca.pem', pki.root.pem + pki.intermediate.pem)
    const bundle = writeFile(dir, 'trusted-ca.pem', pki.root.pem + pki.intermediate.pem)

    setup = {
      dir,
      requiredPort: await freePort(),
      optionalPort: await freePort(),
      xfccServicePort: await freePort(),
      nginxServicePort: await freePort(),
    }
    const common = {
      HOST: '127.0.0.1',
      ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN,
      // nginx connects from 127.0.0.1; anyone else (127.0.0.2 below) is not the proxy.
      TRUSTED_PROXY_CIDRS: '127.0.0.1/32',
    }
    const [xfccService, nginxService] = await Promise.all([
      startService(ROOT, { ...common, PORT: String(setup.xfccServicePort) }, START_TIMEOUT_MS),
      // Also validates the chain itself, from a CA bundle file: trust need not end at nginx.
      startService(
        ROOT,
        {
          ...common,
          PORT: String(setup.nginxServicePort),
          CLIENT_CERT_SOURCE: 'nginx',
          TRUSTED_CA_CERTS: bundle,
        },
        START_TIMEOUT_MS
      ),
    ])
    services.push(xfccService, nginxService)
    // The start line is JSON: the fields that say how each service reads certificates.
    const summary = (line: string, keys: string[]): Record<string, unknown> => {
      const start = JSON.parse(line) as Record<string, unknown>
      return Object.fromEntries(keys.map((key) => [key, start[key]]))
    }
    const keys = ['client_cert_source', 'trust', 'trust_roots', 'trust_intermediates', 'trust_crls', 'trusted_proxy_ranges']
    assert.deepEqual(summary(xfccService.startLine, keys), {
      client_cert_source: 'xfcc',
      trust: 'off',
      trust_roots: 0,
      trust_intermediates: 0,
      trust_crls: 0,
      trusted_proxy_ranges: 1,
    })
    assert.deepEqual(summary(nginxService.startLine, keys), {
      client_cert_source: 'nginx',
      trust: 'on',
      trust_roots: 1,
      trust_intermediates: 1,
      trust_crls: 0,
      trusted_proxy_ranges: 1,
    })
    nginx = await startNginx(NGINX, setup, START_TIMEOUT_MS)
  }, SETUP)

  after(async () => {
    if (nginx !== null) await stopChild(nginx, 'SIGQUIT', STOP_TIMEOUT_MS)
    await Promise.all(services.map((service) => stopChild(service, 'SIGTERM', STOP_TIMEOUT_MS)))
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  /** GET over TLS to nginx, presenting `client`'s certificate (or none), with `headers`. */
  function tlsGet(
    port: number,
    path: string,
    client: Client | null,
    headers: Record<string, string> = {}
  ): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'GET',
          headers,
          ca: serverCa,
          servername: 'localhost',
          agent: false,
          ...(client === null ? {} : { cert: client.cert.pem, key: client.keyPem }),
        },
        (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (body += chunk))
          res.on('end', () => resolve(answer(res.statusCode ?? 0, res.headers, body)))
          res.on('error', reject)
        }
      )
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('request timed out')))
      req.on('error', reject)
      req.end()
    })
  }

  /** GET straight to a service over plain HTTP from `localAddress`, bypassing nginx. */
  function directGet(
    port: number,
    path: string,
    localAddress: string,
    headers: Record<string, string>
  ): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path, method: 'GET', headers, localAddress, agent: false },
        (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (body += chunk))
          res.on('end', () => resolve(answer(res.statusCode ?? 0, res.headers, body)))
          res.on('error', reject)
        }
      )
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('request timed out')))
      req.on('error', reject)
      req.end()
    })
  }

  function assertProblem(res: Answer, status: number, code: string): void {
    assert.equal(res.status, status, res.body)
    assert.equal(res.headers['content-type'], 'application/problem+json', res.body)
    assert.equal((res.json as Problem | null)?.code, code, res.body)
  }

  /**
   * nginx's access-log line for the request whose URI contains `probe`. nginx logs after it has
   * answered, so the line may land a moment after the response: poll for it, up to 2 s.
   */
  async function accessLogLine(probe: string): Promise<string | undefined> {
    const deadline = Date.now() + 2000
    for (;;) {
      const log = readFileSync(join(dir, 'access.log'), 'utf8')
      const line = log.split('\n').find((entry) => entry.includes(probe))
      if (line !== undefined || Date.now() > deadline) return line
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  describe('XFCC built by nginx, ssl_verify_client on', () => {
    it('allowed certificate: 200 with its thumbprint', BOUNDED, async () => {
      const res = await tlsGet(setup.requiredPort, '/cert-info', allowed)
      assert.equal(res.status, 200, res.body)
      assert.equal(res.json?.thumbprint, allowed.cert.thumbprint)
      assert.equal(res.json?.common_name, ALLOWED_CN)
    })

    it('unknown CN from the same CA: 403 ERR_CERT_NOT_ALLOWED', BOUNDED, async () => {
      const res = await tlsGet(setup.requiredPort, '/cert-info', unknown)
      assertProblem(res, 403, 'ERR_CERT_NOT_ALLOWED')
    })

    it('rogue CA, allowed CN: refused by nginx, never reaches the service', BOUNDED, async () => {
      const probe = `probe=rogue-${Date.now()}`
      const outcome = await tlsGet(setup.requiredPort, `/cert-info?${probe}`, rogue).then(
        (res) => res,
        (error: Error) => error
      )
      if (outcome instanceof Error) return // The handshake itself failed: nothing was forwarded.
      assert.notEqual(outcome.status, 200, outcome.body)
      assert.equal(outcome.status, 400, outcome.body)
      assert.match(outcome.body, /SSL certificate error|No required SSL certificate was sent/)
      const line = await accessLogLine(probe)
      assert.ok(line !== undefined, 'nginx did not log the request')
      // `$upstream_addr` is `-` when nginx answered without contacting any upstream.
      assert.match(line, / 400 upstream=- /, line)
    })

    it('no certificate: 400 from nginx, never reaches the service', BOUNDED, async () => {
      const probe = `probe=none-${Date.now()}`
      const res = await tlsGet(setup.requiredPort, `/cert-info?${probe}`, null)
      assert.equal(res.status, 400, res.body)
      assert.match(res.body, /No required SSL certificate was sent/)
      assert.match((await accessLogLine(probe)) ?? '', / 400 upstream=- /)
    })

    it("a client's forged XFCC is replaced by its real (unknown) cert: 403", BOUNDED, async () => {
      const forged = { 'x-forwarded-client-cert': xfccHeader(allowed.cert) }
      const res = await tlsGet(setup.requiredPort, '/cert-info', unknown, forged)
      assertProblem(res, 403, 'ERR_CERT_NOT_ALLOWED')
    })
  })

  describe('XFCC built by nginx, ssl_verify_client optional', () => {
    it('no certificate: 403 ERR_CERT_MISSING', BOUNDED, async () => {
      const res = await tlsGet(setup.optionalPort, '/cert-info', null)
      assertProblem(res, 403, 'ERR_CERT_MISSING')
    })

    it('no certificate, forged XFCC: dropped, 403 ERR_CERT_MISSING', BOUNDED, async () => {
      const forged = { 'x-forwarded-client-cert': xfccHeader(allowed.cert) }
      const res = await tlsGet(setup.optionalPort, '/cert-info', null, forged)
      assertProblem(res, 403, 'ERR_CERT_MISSING')
    })

    it('allowed certificate: 200 with its thumbprint', BOUNDED, async () => {
      const res = await tlsGet(setup.optionalPort, '/cert-info', allowed)
      assert.equal(res.status, 200, res.body)
      assert.equal(res.json?.thumbprint, allowed.cert.thumbprint)
    })

    it('rogue CA: refused by nginx (optional still verifies what is sent)', BOUNDED, async () => {
      const outcome = await tlsGet(setup.optionalPort, '/cert-info', rogue).then(
        (res) => res.status,
        () => 'handshake failed'
      )
      assert.notEqual(outcome, 200)
    })
  })

  describe("nginx's own ssl-client-cert format, to a service with CLIENT_CERT_SOURCE=nginx", () => {
    it('allowed certificate: 200 with its thumbprint', BOUNDED, async () => {
      const res = await tlsGet(setup.requiredPort, '/nginx-format/cert-info', allowed)
      assert.equal(res.status, 200, res.body)
      assert.equal(res.json?.thumbprint, allowed.cert.thumbprint)
      assert.equal(res.json?.common_name, ALLOWED_CN)
    })

    it('unknown CN, forged ssl-client-*: replaced, 403 ERR_CERT_NOT_ALLOWED', BOUNDED, async () => {
      const forged = {
        'ssl-client-cert': encodeURIComponent(allowed.cert.pem),
        'ssl-client-verify': 'SUCCESS',
      }
      const res = await tlsGet(setup.requiredPort, '/nginx-format/cert-info', unknown, forged)
      assertProblem(res, 403, 'ERR_CERT_NOT_ALLOWED')
    })
  })

  describe('bypassing nginx: straight to the services from 127.0.0.2', () => {
    it('a forged XFCC: 403 ERR_PROXY_UNTRUSTED', BOUNDED, async () => {
      const forged = { 'x-forwarded-client-cert': xfccHeader(allowed.cert) }
      const res = await directGet(setup.xfccServicePort, '/cert-info', '127.0.0.2', forged)
      assertProblem(res, 403, 'ERR_PROXY_UNTRUSTED')
    })

    it('forged ssl-client-* headers: 403 ERR_PROXY_UNTRUSTED', BOUNDED, async () => {
      const forged = {
        'ssl-client-cert': encodeURIComponent(allowed.cert.pem),
        'ssl-client-verify': 'SUCCESS',
      }
      const res = await directGet(setup.nginxServicePort, '/cert-info', '127.0.0.2', forged)
      assertProblem(res, 403, 'ERR_PROXY_UNTRUSTED')
    })
  })
})
