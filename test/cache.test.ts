// The verdict cache: bounded, expiring, per verifier, and never able to turn a refusal into an
// acceptance. A cache hit is observable as the very same ClientCertificate object coming back.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { BoundedCache, TextMemo } from '../src/cache.ts'
import { type ClientCertOptions, createClientCertVerifier, type VerifyResult } from '../src/verify.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'

const CN = 'api-client.contoso.com'
const DAY = 24 * 60 * 60 * 1000

function request(header: string): Request {
  return new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': header } })
}

function outcome(result: VerifyResult): string {
  return result.ok ? `ok ${result.certificate?.commonName}` : result.error.code
}

describe('BoundedCache', () => {
  it('past maxEntries drops the entry not read since, and keeps the one just read', () => {
    const cache = new BoundedCache<string>({ maxEntries: 2, maxBytes: 1000, admission: 'always' })
    cache.set('a', 'A', 100, 1)
    cache.set('b', 'B', 100, 1)
    assert.equal(cache.get('a', 0), 'A')
    cache.set('c', 'C', 100, 1)
    assert.equal(cache.get('b', 0), undefined)
    assert.equal(cache.get('a', 0), 'A')
    assert.equal(cache.get('c', 0), 'C')
    assert.equal(cache.size, 2)
  })

  it('never holds more than maxEntries, and keeps what was just used', () => {
    const cache = new BoundedCache<number>({ maxEntries: 20, maxBytes: 1000, admission: 'always' })
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20; i++) cache.set(`k${round}-${i}`, i, 100, 1)
      for (let i = 0; i < 20; i++) cache.get(`k${round}-${i}`, 0)
      assert.ok(cache.size <= 20, `size ${cache.size}`)
      assert.ok(cache.bytes <= 20)
    }
    cache.set('new', 99, 100, 1)
    cache.get('k4-19', 0)
    for (let i = 0; i < 9; i++) cache.set(`later-${i}`, i, 100, 1)
    assert.equal(cache.get('new', 0), 99)
    assert.equal(cache.get('k4-19', 0), 19)
  })

  it('evicts past maxBytes and never stores an entry larger than the budget', () => {
    const cache = new BoundedCache<string>({ maxEntries: 100, maxBytes: 10, admission: 'always' })
    cache.set('a', 'A', 100, 6)
    cache.set('b', 'B', 100, 6)
    assert.equal(cache.get('a', 0), undefined)
    assert.equal(cache.bytes, 6)
    cache.set('huge', 'H', 100, 11)
    assert.equal(cache.get('huge', 0), undefined)
    assert.equal(cache.get('b', 0), 'B')
  })

  it('drops an entry at its expiry and accounts its bytes', () => {
    const cache = new BoundedCache<string>({ maxEntries: 10, maxBytes: 100, admission: 'always' })
    cache.set('a', 'A', 50, 7)
    assert.equal(cache.get('a', 49), 'A')
    assert.equal(cache.get('a', 50), undefined)
    assert.equal(cache.size, 0)
    assert.equal(cache.bytes, 0)
  })

  it('replacing a key does not double count its bytes', () => {
    const cache = new BoundedCache<string>({ maxEntries: 10, maxBytes: 100, admission: 'always' })
    cache.set('a', 'A', 50, 7)
    cache.set('a', 'A2', 50, 9)
    assert.equal(cache.bytes, 9)
    assert.equal(cache.get('a', 0), 'A2')
  })
})

describe('TextMemo', () => {
  it('finds a long text it stored, and nothing for a text differing only where it does not sample', () => {
    const memo = new TextMemo<string>({ maxEntries: 10, maxBytes: 100_000, admission: 'always' })
    const text = 'H'.repeat(160) + 'x'.repeat(2000)
    // Position 161 is after the head and between samples: both texts share the sampled hash.
    const twin = `${text.slice(0, 161)}y${text.slice(162)}`
    memo.set(text, 'first', 100, 0)
    assert.equal(memo.get(text, 0), 'first')
    assert.equal(memo.get(twin, 0), undefined)
    memo.set(twin, 'second', 100, 0)
    assert.equal(memo.get(twin, 0), 'second')
    assert.equal(memo.get(text, 0), undefined)
  })

  it('tells apart texts that differ in the head', () => {
    const memo = new TextMemo<string>({ maxEntries: 10, maxBytes: 100_000, admission: 'always' })
    memo.set('a'.repeat(500), 'a', 100, 0)
    memo.set(`b${'a'.repeat(499)}`, 'b', 100, 0)
    assert.equal(memo.get('a'.repeat(500), 0), 'a')
    assert.equal(memo.get(`b${'a'.repeat(499)}`, 0), 'b')
  })
})

describe('admission', () => {
  it('caches a key only on its second offer', () => {
    const cache = new BoundedCache<string>({ maxEntries: 10, maxBytes: 1000 })
    cache.set('once', 'x', 100, 1)
    assert.equal(cache.get('once', 0), undefined)
    cache.set('once', 'x', 100, 1)
    assert.equal(cache.get('once', 0), 'x')
  })
})

describe('the verifier cache', () => {
  let pki: TestPki
  let allowed: TestCertificate
  let stranger: TestCertificate
  let future: TestCertificate

  before(async () => {
    pki = await createTestPki()
    allowed = await pki.issue({ commonName: CN })
    stranger = await pki.issue({ commonName: 'stranger' })
    future = await pki.issue({
      commonName: CN,
      notBefore: new Date(Date.now() + DAY),
      notAfter: new Date(Date.now() + 30 * DAY),
    })
  })

  function verifier(options: Partial<ClientCertOptions> & { clock?: { now: number } } = {}) {
    const { clock, ...rest } = options
    return createClientCertVerifier({
      allow: { commonNames: [CN] },
      ...(clock ? { now: () => clock.now } : {}),
      ...rest,
    })
  }

  it('answers a returning certificate from the cache (the same object comes back)', async () => {
    const verify = verifier()
    // Admitted on the second sighting: from then on the same object comes back.
    const first = await verify(request(xfccHeader(allowed)))
    const second = await verify(request(xfccHeader(allowed)))
    const third = await verify(request(xfccHeader(allowed)))
    assert.ok(first.ok && second.ok && third.ok)
    assert.notEqual(first.certificate, second.certificate)
    assert.equal(second.certificate, third.certificate)
  })

  it('keys verdicts by the certificate, not the header text', async () => {
    const verify = verifier()
    await verify(request(xfccHeader(allowed)))
    const envoy = await verify(request(xfccHeader(allowed)))
    const aca = await verify(request(xfccHeader(allowed, { style: 'aca' })))
    assert.ok(envoy.ok && aca.ok)
    assert.equal(envoy.certificate, aca.certificate)
  })

  it('with cache: false every request reads the certificate again', async () => {
    const verify = verifier({ cache: false })
    const first = await verify(request(xfccHeader(allowed)))
    const second = await verify(request(xfccHeader(allowed)))
    assert.ok(first.ok && second.ok)
    assert.notEqual(first.certificate, second.certificate)
    assert.equal(first.certificate?.thumbprint, second.certificate?.thumbprint)
  })

  it('remembers a refusal, and a replay is refused the same way', async () => {
    const verify = verifier()
    for (let i = 0; i < 3; i++) {
      assert.equal(outcome(await verify(request(xfccHeader(stranger)))), 'ERR_CERT_NOT_ALLOWED')
    }
  })

  it('a cached acceptance does not excuse a forged Hash on the same certificate', async () => {
    const verify = verifier()
    assert.equal(outcome(await verify(request(xfccHeader(allowed)))), `ok ${CN}`)
    const forged = xfccHeader(allowed, { hash: stranger.thumbprint.toLowerCase() })
    assert.equal(outcome(await verify(request(forged))), 'ERR_CERT_HASH_MISMATCH')
    assert.equal(outcome(await verify(request(forged))), 'ERR_CERT_HASH_MISMATCH')
  })

  it('a cached acceptance turns into ERR_CERT_EXPIRED once the clock passes notAfter', async () => {
    const clock = { now: Date.now() }
    const verify = verifier({ clock })
    assert.equal(outcome(await verify(request(xfccHeader(allowed)))), `ok ${CN}`)
    clock.now = allowed.x509.notAfter.getTime() + 1000
    assert.equal(outcome(await verify(request(xfccHeader(allowed)))), 'ERR_CERT_EXPIRED')
  })

  it('a not-yet-valid certificate is accepted once its time comes', async () => {
    const clock = { now: Date.now() }
    const verify = verifier({ clock })
    assert.equal(outcome(await verify(request(xfccHeader(future)))), 'ERR_CERT_NOT_YET_VALID')
    clock.now = future.x509.notBefore.getTime() + 1000
    assert.equal(outcome(await verify(request(xfccHeader(future)))), `ok ${CN}`)
  })

  it('entries expire after ttlSeconds', async () => {
    const clock = { now: Date.now() }
    const verify = verifier({ clock, cache: { ttlSeconds: 60 } })
    await verify(request(xfccHeader(allowed)))
    const first = await verify(request(xfccHeader(allowed)))
    clock.now += 59_000
    const second = await verify(request(xfccHeader(allowed)))
    clock.now += 2_000
    const third = await verify(request(xfccHeader(allowed)))
    assert.ok(first.ok && second.ok && third.ok)
    assert.equal(first.certificate, second.certificate)
    assert.notEqual(second.certificate, third.certificate)
  })

  it('stays within maxEntries', async () => {
    const verify = verifier({ allow: 'any-valid', cache: { maxEntries: 2 } })
    const certs = [allowed, stranger, await pki.issue({ commonName: 'third' })]
    // One after another, so certs[0] is the oldest entry whatever the scheduling.
    const firstRound: VerifyResult[] = []
    for (const c of certs) firstRound.push(await verify(request(xfccHeader(c))))
    const again = await verify(request(xfccHeader(certs[0]!)))
    assert.ok(firstRound[0]!.ok && again.ok)
    assert.notEqual(firstRound[0]!.certificate, again.certificate)
  })

  it('a verifier with other options never sees another verifier verdicts', async () => {
    const strict = verifier()
    const open = verifier({ allow: 'any-valid' })
    assert.equal(outcome(await strict(request(xfccHeader(stranger)))), 'ERR_CERT_NOT_ALLOWED')
    assert.equal(outcome(await open(request(xfccHeader(stranger)))), 'ok stranger')
    assert.equal(outcome(await strict(request(xfccHeader(stranger)))), 'ERR_CERT_NOT_ALLOWED')
  })

  it('the authorize hook runs on every request, cached or not', async () => {
    let calls = 0
    const verify = verifier({
      authorize: (_cert, req) => {
        calls++
        return req.headers.get('x-ok') === 'yes'
      },
    })
    const withOk = new Request('http://localhost/', {
      headers: { 'x-forwarded-client-cert': xfccHeader(allowed), 'x-ok': 'yes' },
    })
    assert.equal(outcome(await verify(withOk)), `ok ${CN}`)
    assert.equal(outcome(await verify(request(xfccHeader(allowed)))), 'ERR_CERT_NOT_ALLOWED')
    assert.equal(calls, 2)
  })

  it('refuses bad cache options at startup', () => {
    assert.throws(() => verifier({ cache: { maxEntries: 0 } }), TypeError)
    assert.throws(() => verifier({ cache: { ttlSeconds: -1 } }), TypeError)
  })
})
