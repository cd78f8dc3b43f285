// What a handler, a hook or a flood of certificates may do to the verifier's shared state: a
// handler cannot change the certificate the next request sees, a throwing authorize hook is a
// server fault apart from a refusal, and a returning client's cached verdict outlives a flood of
// certificates each sent a few times.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { clientCert, type ClientCertEnv, type ClientCertMiddlewareOptions } from '../src/adapters/hono.ts'
import { BoundedCache } from '../src/cache.ts'
import { CertgateError, type ClientCertificate, withClientCert } from '../src/index.ts'
import { createTestPki, type TestCertificate, xfccHeader } from '../src/testing/index.ts'
import { readCertificateFields } from '../src/x509/fields.ts'
import { BENCH_CN, envoyHeader, makeTemplate, type Template, variantDer } from '../bench/fixtures.ts'

const CN = 'api-client.contoso.com'

function request(header: string): Request {
  return new Request('http://localhost/api/cert-info', { headers: { 'x-forwarded-client-cert': header } })
}

async function problemCode(res: Response): Promise<unknown> {
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  return ((await res.json()) as { code?: unknown }).code
}

/** A Hono app whose handler hands each request's certificate to `handle`, then answers its JSON. */
function appWith(options: ClientCertMiddlewareOptions, handle: (cert: ClientCertificate) => void = () => {}): Hono<ClientCertEnv> {
  const app = new Hono<ClientCertEnv>()
  app.use('/api/*', clientCert(options))
  app.get('/api/cert-info', (c) => {
    handle(c.var.clientCert)
    return c.json(c.var.clientCert)
  })
  return app
}

/** Tries a mutation; strict-mode code throws on a frozen target, which is fine too. */
function attempt(mutate: () => void): void {
  try {
    mutate()
  } catch (error) {
    assert.ok(error instanceof TypeError, String(error))
  }
}

describe('a cached certificate is immutable', () => {
  let allowed: TestCertificate

  before(async () => {
    const pki = await createTestPki()
    allowed = await pki.issue({ commonName: CN, dnsNames: ['api.contoso.com'] })
  })

  it('a handler that moves notAfter to 1970 does not expire the next request (200, same JSON)', async () => {
    const clock = { now: Date.now() }
    const app = appWith({ allow: { commonNames: [CN] }, now: () => clock.now }, (cert) => attempt(() => cert.notAfter.setTime(0)))
    const header = xfccHeader(allowed)
    const bodies: unknown[] = []
    for (let i = 0; i < 4; i++) {
      const res = await app.request(request(header))
      assert.equal(res.status, 200)
      bodies.push(await res.json())
    }
    assert.deepEqual(bodies[3], bodies[0])
    assert.equal((bodies[3] as { not_after: string }).not_after, allowed.x509.notAfter.toISOString())
  })

  it('a handler that moves notAfter forward does not admit the certificate once it expired (403 ERR_CERT_EXPIRED)', async () => {
    const clock = { now: Date.now() }
    const app = appWith({ allow: { commonNames: [CN] }, now: () => clock.now }, (cert) =>
      attempt(() => cert.notAfter.setTime(Date.now() + 100 * 365 * 86_400_000))
    )
    const header = xfccHeader(allowed)
    for (let i = 0; i < 3; i++) assert.equal((await app.request(request(header))).status, 200)
    clock.now = allowed.x509.notAfter.getTime() + 1000
    const res = await app.request(request(header))
    assert.equal(res.status, 403)
    assert.equal(await problemCode(res), 'ERR_CERT_EXPIRED')
  })

  it('dates, SAN arrays, fields and der are the handler own copies or frozen, deeply', async () => {
    const seen: ClientCertificate[] = []
    const app = appWith({ allow: { commonNames: [CN] } }, (cert) => {
      seen.push(cert)
      attempt(() => cert.notBefore.setTime(0))
      attempt(() => (cert.dnsNames as string[]).push('evil.example'))
      attempt(() => ((cert as { commonName: string | null }).commonName = 'someone-else'))
      attempt(() => ((cert as { thumbprint: string }).thumbprint = '00'))
      attempt(() => cert.fields.notAfter.setTime(0))
      attempt(() => (cert.fields.dnsNames as string[]).push('evil.example'))
      attempt(() => ((cert.fields as { commonName: string | null }).commonName = 'someone-else'))
      attempt(() => (cert.fields.extendedKeyUsages as string[]).push('2.5.29.37.0'))
      attempt(() => ((cert.fields.basicConstraints as { ca: boolean } | null) ?? { ca: false }).ca = true)
      attempt(() => cert.der.fill(0))
    })
    const header = xfccHeader(allowed)
    for (let i = 0; i < 4; i++) assert.equal((await app.request(request(header))).status, 200)
    const cert = seen[3]!
    assert.equal(seen[2], cert, 'the returning client is answered from the cache (the same object)')
    assert.ok(Object.isFrozen(cert) && Object.isFrozen(cert.fields) && Object.isFrozen(cert.dnsNames))
    assert.equal(cert.commonName, CN)
    assert.deepEqual(cert.dnsNames, ['api.contoso.com'])
    assert.deepEqual(cert.fields.dnsNames, ['api.contoso.com'])
    assert.deepEqual(cert.fields.extendedKeyUsages, ['1.3.6.1.5.5.7.3.2'])
    assert.equal(cert.fields.commonName, CN)
    assert.equal(cert.notBefore.getTime(), allowed.x509.notBefore.getTime())
    assert.equal(cert.fields.notAfter.getTime(), allowed.x509.notAfter.getTime())
    assert.deepEqual(cert.der, allowed.der)
    assert.equal(cert.pem, allowed.pem)
    // The JSON forms are what they were before the freezing: fields as read, toJSON's shape.
    assert.equal(JSON.stringify(cert.fields), JSON.stringify(readCertificateFields(allowed.der)))
    assert.deepEqual(Object.keys(cert.toJSON()), [
      'thumbprint', 'thumbprint_sha1', 'common_name', 'subject', 'issuer', 'serial_number', 'not_before',
      'not_after', 'dns_names', 'uris', 'emails', 'ips', 'spiffe_id',
    ])
  })
})

describe('a throwing authorize hook', () => {
  let allowed: TestCertificate
  const bug = new Error('the hook read a property of undefined')

  before(async () => {
    const pki = await createTestPki()
    allowed = await pki.issue({ commonName: CN })
  })

  it('answers 500 ERR_AUTHORIZE_FAILED, with the thrown error as the cause Hono onError sees', async () => {
    const app = new Hono<ClientCertEnv>()
    const errors: unknown[] = []
    app.onError((error) => {
      errors.push(error)
      if (error instanceof HTTPException) return error.getResponse()
      throw error
    })
    app.use('/api/*', clientCert({ allow: { commonNames: [CN] }, authorize: () => Promise.reject(bug), onError: undefined }))
    app.get('/api/cert-info', (c) => c.json(c.var.clientCert))
    const res = await quietly(() => app.request(request(xfccHeader(allowed))))
    assert.equal(res.status, 500)
    assert.equal(await problemCode(res), 'ERR_AUTHORIZE_FAILED')
    const certgateError = (errors[0] as HTTPException).cause as CertgateError
    assert.equal(certgateError.code, 'ERR_AUTHORIZE_FAILED')
    assert.equal(certgateError.cause, bug)
  })

  it('withClientCert answers 500 ERR_AUTHORIZE_FAILED and hands onError the thrown error as cause', async () => {
    const handler = withClientCert(() => new Response('ran'), {
      allow: { commonNames: [CN] },
      authorize: () => {
        throw bug
      },
    })
    const res = await quietly(() => handler(request(xfccHeader(allowed))))
    assert.equal(res.status, 500)
    assert.equal(await problemCode(res), 'ERR_AUTHORIZE_FAILED')
    let seen: CertgateError | undefined
    const shaped = withClientCert(() => new Response('ran'), {
      allow: { commonNames: [CN] },
      authorize: () => {
        throw bug
      },
      onError: (error) => {
        seen = error
        return new Response(null, { status: error.status })
      },
    })
    assert.equal((await shaped(request(xfccHeader(allowed)))).status, 500)
    assert.equal(seen?.code, 'ERR_AUTHORIZE_FAILED')
    assert.equal(seen?.cause, bug)
  })

  it('without onError, the hook failure is logged for the operator (console.error)', async () => {
    const handler = withClientCert(() => new Response('ran'), {
      allow: { commonNames: [CN] },
      authorize: () => {
        throw bug
      },
    })
    const logged: unknown[][] = []
    const res = await quietly(() => handler(request(xfccHeader(allowed))), logged)
    assert.equal(res.status, 500)
    assert.ok(
      logged.some((args) => args.some((a) => a instanceof CertgateError && a.cause === bug)),
      'the CertgateError, with the hook error as cause, is logged'
    )
  })

  it('is never cached: the next request runs the hook again and passes (200)', async () => {
    let calls = 0
    const app = appWith({
      allow: { commonNames: [CN] },
      authorize: () => {
        calls++
        if (calls === 3) throw bug
        return true
      },
    })
    const header = xfccHeader(allowed)
    assert.equal((await app.request(request(header))).status, 200)
    assert.equal((await app.request(request(header))).status, 200)
    const failed = await quietly(() => app.request(request(header)))
    assert.equal(failed.status, 500)
    assert.equal(await problemCode(failed), 'ERR_AUTHORIZE_FAILED')
    assert.equal((await app.request(request(header))).status, 200)
    assert.equal(calls, 4)
  })

  it('a hook that says no is still 403 ERR_CERT_NOT_ALLOWED', async () => {
    const app = appWith({ allow: { commonNames: [CN] }, authorize: () => false })
    const res = await app.request(request(xfccHeader(allowed)))
    assert.equal(res.status, 403)
    assert.equal(await problemCode(res), 'ERR_CERT_NOT_ALLOWED')
  })
})

/** Runs `fn` with console.error captured into `logged` (and kept off the test output). */
async function quietly<T>(fn: () => T | Promise<T>, logged: unknown[][] = []): Promise<T> {
  const original = console.error
  console.error = (...args: unknown[]) => {
    logged.push(args)
  }
  try {
    return await fn()
  } finally {
    console.error = original
  }
}

describe('verdict-cache eviction', () => {
  let template: Template
  const LIMITS = { maxEntries: 100, maxBytes: 32 * 1024 * 1024 }

  before(async () => {
    template = await makeTemplate('P-256')
  })

  // Up to 4 sends a flood certificate is hit at most twice, never enough to enter the protected
  // segment; at 6 it is hit 4 times, fewer than the returning client's 6 hits.
  for (const sends of [2, 3, 4, 6]) {
    it(`an idle returning client stays cached through 5× maxEntries certificates each sent ${sends} times (200, same object)`, async () => {
      let last: ClientCertificate | null = null
      const app = appWith({ allow: { commonNames: [BENCH_CN] }, cache: LIMITS }, (cert) => (last = cert))
      const legit = envoyHeader(variantDer(template, 0xffffffff), template.cert.subjectRfc4514)
      // The returning client: 8 requests (6 cache hits), then idle.
      for (let i = 0; i < 8; i++) assert.equal((await app.request(request(legit))).status, 200)
      const cached = last
      assert.notEqual(cached, null)
      for (let n = 0; n < 5 * LIMITS.maxEntries; n++) {
        const flood = envoyHeader(variantDer(template, n), template.cert.subjectRfc4514)
        for (let s = 0; s < sends; s++) assert.equal((await app.request(request(flood))).status, 200)
      }
      const res = await app.request(request(legit))
      assert.equal(res.status, 200)
      assert.equal(last, cached, 'the returning client is answered from the cache')
    })
  }

  it('a protected entry still expires at notAfter (403 ERR_CERT_EXPIRED), and a protected refusal stays one', async () => {
    const pki = await createTestPki()
    const allowed = await pki.issue({ commonName: CN })
    const stranger = await pki.issue({ commonName: 'stranger' })
    const clock = { now: Date.now() }
    const app = appWith({ allow: { commonNames: [CN] }, now: () => clock.now, cache: LIMITS })
    for (let i = 0; i < 8; i++) {
      assert.equal((await app.request(request(xfccHeader(allowed)))).status, 200)
      const refused = await app.request(request(xfccHeader(stranger)))
      assert.equal(refused.status, 403)
      assert.equal(await problemCode(refused), 'ERR_CERT_NOT_ALLOWED')
    }
    clock.now = allowed.x509.notAfter.getTime() + 1000
    const res = await app.request(request(xfccHeader(allowed)))
    assert.equal(res.status, 403)
    assert.equal(await problemCode(res), 'ERR_CERT_EXPIRED')
  })

  it('a newcomer displaces the oldest protected entry only when hit more often', () => {
    const cache = new BoundedCache<string>({ maxEntries: 5, maxBytes: 1000, admission: 'always' })
    const use = (key: string, hits: number): void => {
      cache.set(key, key, 100, 1)
      for (let i = 0; i < hits; i++) assert.equal(cache.get(key, 0), key)
    }
    // Four protected places (80% of 5): the oldest is hit 10 times, the others 3.
    use('busy', 10)
    for (const key of ['p1', 'p2', 'p3']) use(key, 3)
    use('rare', 3)
    assert.equal(cache.get('busy', 0), 'busy', 'a newcomer hit 3 times does not displace one hit 11 times')
    use('often', 5)
    assert.equal(cache.get('often', 0), 'often')
    assert.equal(cache.get('busy', 0), 'busy')
    const protectedOnes = ['p1', 'p2', 'p3'].filter((key) => cache.get(key, 0) === key)
    assert.equal(protectedOnes.length, 2, 'one entry hit 3 times made way for the one hit 5 times')
    assert.ok(cache.size <= 5)
  })

  it('the cache stays within maxEntries and its byte budget under a flood of frequent keys', () => {
    const cache = new BoundedCache<number>({ maxEntries: 50, maxBytes: 5000 })
    for (let n = 0; n < 2000; n++) {
      for (let s = 0; s < 6; s++) {
        if (cache.get(`k${n}`, 0) === undefined) cache.set(`k${n}`, n, 100, 40 + (n % 70))
      }
      assert.ok(cache.size <= 50, `size ${cache.size}`)
      assert.ok(cache.bytes <= 5000, `bytes ${cache.bytes}`)
    }
  })

  it('a frequently used entry still expires at its own time', () => {
    const cache = new BoundedCache<string>({ maxEntries: 10, maxBytes: 1000 })
    cache.set('a', 'A', 50, 1)
    cache.set('a', 'A', 50, 1)
    for (let i = 0; i < 20; i++) assert.equal(cache.get('a', i), 'A')
    assert.equal(cache.get('a', 50), undefined)
    assert.equal(cache.size, 0)
    assert.equal(cache.bytes, 0)
  })
})
