/**
 * Fetched CRLs refreshed ahead, end to end (withClientCert → createTrustVerifier → the fetcher)
 * on a manual clock and a fake distribution point: the refresh runs on its timer with no request
 * paying for it, a request in the refresh window never waits on it, a failed refresh keeps the
 * old CRL, and a revocation a refresh brings takes effect once the cached verdict's bound passes.
 * @module
 */
import 'reflect-metadata'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { withClientCert } from '../src/adapters/fetch.ts'
import { createTestCertificate, createTestPki, type TestPki, xfccHeader } from '../src/testing/index.ts'
import type { TestCertificate } from '../src/testing/index.ts'
import { withFetcherClock } from '../src/trust/crl-fetcher.ts'
import { createTrustVerifier, type TrustVerifier } from '../src/trust/verifier.ts'
import { type FakePoint, fakePoint, heldBack, type ManualClock, manualClock, waitFor } from './support/manual-clock.ts'
import { createRawLeaf, createTestCrl, type TestCrl } from './support/pki.ts'

const MINUTE = 60_000
// Whole seconds: CRL times are encoded in seconds, so nextUpdate is exactly T0 + 1 h.
const T0 = Math.floor(Date.now() / 1000) * 1000
// Kept until nextUpdate (cacheSeconds is longer), so refreshed at 80% of the hour: T0 + 48 min.
const REFRESH_AT = T0 + 48 * MINUTE
const OLD_EXPIRY = T0 + 60 * MINUTE

interface Gate {
  readonly trust: TrustVerifier
  call(leaf: TestCertificate): Promise<[number, unknown]>
}

/** A verifier on `clock` fetching from `point`; `ttlSeconds` turns the verdict cache on. */
function gate(pki: TestPki, clock: ManualClock, point: FakePoint, ttlSeconds?: number): Gate {
  const fetchCrls = { onFailure: 'refuse' as const, fetch: point.fetch, cacheSeconds: 7200, timeoutMs: 60_000 }
  const trust = createTrustVerifier({
    roots: [pki.root.pem],
    intermediates: [pki.intermediate.pem],
    fetchCrls: withFetcherClock(fetchCrls, clock),
  })
  const handler = withClientCert(() => new Response('ok'), {
    allow: 'any-valid',
    trust,
    now: clock.now,
    cache: ttlSeconds === undefined ? false : { ttlSeconds },
  })
  return {
    trust,
    call: async (leaf) => {
      const header = xfccHeader(leaf, { chain: false, hash: false })
      const response = await handler(new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': header } }))
      if (response.status === 200) return [200, await response.text()]
      return [response.status, ((await response.json()) as { code?: unknown }).code]
    },
  }
}

describe('crl refresh: fetched CRLs refreshed before they go stale', () => {
  let pki: TestPki
  let leaf: TestCertificate
  /** The CRL first served: nextUpdate T0 + 1 h. */
  let first: TestCrl
  /** The next one, published at T0 + 45 min: nextUpdate T0 + 2 h, the leaf not listed. */
  let next: TestCrl
  const gates: Gate[] = []

  before(async () => {
    pki = await createTestPki()
    leaf = await createRawLeaf({ issuer: pki.intermediate, crlUrls: ['http://crl.test/int.crl'] })
    first = await createTestCrl({
      issuer: pki.intermediate,
      thisUpdate: new Date(T0 - MINUTE),
      nextUpdate: new Date(OLD_EXPIRY),
    })
    next = await createTestCrl({
      issuer: pki.intermediate,
      thisUpdate: new Date(T0 + 45 * MINUTE),
      nextUpdate: new Date(T0 + 120 * MINUTE),
      crlNumber: 2,
    })
  })

  after(() => {
    for (const { trust } of gates) trust.close()
  })

  function open(clock: ManualClock, point: FakePoint, ttlSeconds?: number): Gate {
    const opened = gate(pki, clock, point, ttlSeconds)
    gates.push(opened)
    return opened
  }

  it('refreshed before nextUpdate without a request paying for it: the timer fetches, the request after the old nextUpdate does not', async () => {
    const clock = manualClock(T0)
    const point = fakePoint(first)
    const { call } = open(clock, point)
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(point.calls(), 1)
    assert.equal(clock.pending(), 1)
    point.serve(next)
    clock.advance(REFRESH_AT - T0 - 1)
    assert.equal(point.calls(), 1, 'not due before 80% of the kept life')
    clock.advance(1)
    assert.equal(clock.fired(), 1)
    assert.equal(point.calls(), 2, 'the timer started the refresh, no request involved')
    // Kept and the next refresh planned: the new CRL's timer is the one pending.
    await waitFor(() => clock.pending() === 1, 'the refreshed CRL kept')
    clock.jump(OLD_EXPIRY + 1000 - clock.now())
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(point.calls(), 2, 'the request past the old nextUpdate used the refreshed CRL')
  })

  it('a request in the refresh window answers from the kept CRL while the refresh download hangs', async () => {
    const clock = manualClock(T0)
    const point = fakePoint(first)
    const { call } = open(clock, point)
    assert.deepEqual(await call(leaf), [200, 'ok'])
    const held = heldBack()
    point.serve(held.crl)
    // No timer ran (a suspended process): the request finds the CRL in its window and starts
    // the refresh itself, without waiting for it.
    clock.jump(50 * MINUTE)
    const answer = await Promise.race([
      call(leaf),
      new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('waited'), 2000)
        void held.crl.then(() => clearTimeout(timer))
      }),
    ])
    assert.deepEqual(answer, [200, 'ok'])
    assert.equal(held.released(), false, 'answered before the refresh download finished')
    assert.equal(point.calls(), 2, 'the request started the refresh')
    assert.equal(clock.pending(), 0, 'the refresh took over from the timer')
    // A second request meanwhile: answered too, and no second download (one per key at a time).
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(point.calls(), 2)
    held.release(next)
    await waitFor(() => clock.pending() === 1, 'the refreshed CRL kept')
    clock.jump(OLD_EXPIRY + 1000 - clock.now())
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(point.calls(), 2)
  })

  it('a refresh answered with a forged CRL or a 500 keeps the old CRL; after the 30 s pause a good refresh replaces it', async () => {
    const impostor = await createTestCertificate({ commonName: 'impostor', ca: true })
    const forged = await createTestCrl({
      issuer: pki.intermediate,
      signingKey: impostor.keys.privateKey,
      thisUpdate: new Date(T0 + 45 * MINUTE),
      nextUpdate: new Date(T0 + 120 * MINUTE),
      crlNumber: 2,
    })
    const clock = manualClock(T0)
    const point = fakePoint(first)
    const { call } = open(clock, point)
    assert.deepEqual(await call(leaf), [200, 'ok'])
    point.serve(forged)
    clock.advance(REFRESH_AT - T0)
    assert.equal(point.calls(), 2)
    await waitFor(() => clock.pending() === 1, 'the retry planned')
    clock.jump(1000)
    assert.deepEqual(await call(leaf), [200, 'ok'], 'the old CRL still answers')
    assert.equal(point.calls(), 2, 'and the request did not fetch: the retry waits 30 s')
    point.serve(500)
    clock.advance(29_000)
    assert.equal(point.calls(), 3, 'retried 30 s after the failure')
    await waitFor(() => clock.pending() === 1, 'the next retry planned')
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(point.calls(), 3)
    point.serve(next)
    clock.advance(30_000)
    assert.equal(point.calls(), 4)
    await waitFor(() => clock.pending() === 1, 'the refreshed CRL kept')
    // Past the old nextUpdate: had the old CRL stayed, this request would download again.
    clock.jump(OLD_EXPIRY + 1000 - clock.now())
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(point.calls(), 4)
  })

  it('refreshes failing until the old CRL expires: 24 retries 30 s apart, then requests wait for a download as on first use', async () => {
    const clock = manualClock(T0)
    const point = fakePoint(first)
    const { call } = open(clock, point)
    assert.deepEqual(await call(leaf), [200, 'ok'])
    point.serve(500)
    clock.advance(REFRESH_AT - T0)
    // 48:00, 48:30, ... 59:30: each due before the old CRL expires at 60:00.
    for (let attempt = 1; attempt <= 24; attempt++) {
      assert.equal(point.calls(), 1 + attempt)
      await waitFor(() => clock.pending() === (attempt < 24 ? 1 : 0), `retry ${attempt} settled`)
      assert.deepEqual(await call(leaf), [200, 'ok'], `accepted after failed attempt ${attempt}`)
      clock.advance(30_000)
    }
    assert.equal(clock.now(), OLD_EXPIRY)
    assert.equal(point.calls(), 25)
    assert.deepEqual(await call(leaf), [403, 'ERR_CRL_INVALID'])
    assert.equal(point.calls(), 26, 'the request past expiry downloaded itself')
  })

  it('a refresh answered with an older CRL (a replay, validly signed) keeps the kept one: a revoked leaf stays revoked', async () => {
    const revoking = await createTestCrl({
      issuer: pki.intermediate,
      revoked: [leaf],
      thisUpdate: new Date(T0 - MINUTE),
      nextUpdate: new Date(OLD_EXPIRY),
      crlNumber: 2,
    })
    // Issued before the revocation, and still within its own nextUpdate.
    const older = await createTestCrl({
      issuer: pki.intermediate,
      thisUpdate: new Date(T0 - 120 * MINUTE),
      nextUpdate: new Date(T0 + 120 * MINUTE),
    })
    const clock = manualClock(T0)
    const point = fakePoint(revoking)
    const { call } = open(clock, point)
    assert.deepEqual(await call(leaf), [403, 'ERR_CERT_REVOKED'])
    point.serve(older)
    clock.advance(REFRESH_AT - T0)
    assert.equal(point.calls(), 2)
    await waitFor(() => clock.pending() === 1, 'the retry planned')
    clock.jump(1000)
    assert.deepEqual(await call(leaf), [403, 'ERR_CERT_REVOKED'])
    assert.equal(point.calls(), 2)
  })

  it("the trust verifier's close() clears the refresh timer: no refresh after it", async () => {
    const clock = manualClock(T0)
    const point = fakePoint(first)
    const { call, trust } = open(clock, point)
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(clock.pending(), 1)
    trust.close()
    assert.equal(clock.pending(), 0)
    clock.advance(REFRESH_AT - T0)
    assert.equal(clock.fired(), 0)
    assert.equal(point.calls(), 1)
  })

  it('a refresh that newly lists the leaf refuses it ERR_CERT_REVOKED once the verdict cached under the old CRL expires', async () => {
    // The verdict cache keeps an admission until the TTL ends or the CRLs it rests on expire,
    // whichever is first. With a 2 h TTL the bound is the old CRL's expiry (T0 + 1 h): that, not
    // the refresh at T0 + 48 min, is when the revocation takes effect for this client.
    const revoking = await createTestCrl({
      issuer: pki.intermediate,
      revoked: [leaf],
      thisUpdate: new Date(T0 + 45 * MINUTE),
      nextUpdate: new Date(T0 + 120 * MINUTE),
      crlNumber: 2,
    })
    const clock = manualClock(T0)
    const point = fakePoint(first)
    const { call } = open(clock, point, 7200)
    // Twice: the verdict cache keeps a certificate from its second request.
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.deepEqual(await call(leaf), [200, 'ok'])
    point.serve(revoking)
    clock.advance(REFRESH_AT - T0)
    assert.equal(point.calls(), 2)
    await waitFor(() => clock.pending() === 1, 'the refreshed CRL kept')
    clock.jump(OLD_EXPIRY - clock.now())
    assert.deepEqual(await call(leaf), [200, 'ok'], 'the cached verdict holds until the old CRL expires')
    clock.jump(1)
    assert.deepEqual(await call(leaf), [403, 'ERR_CERT_REVOKED'])
    assert.equal(point.calls(), 2, 'refused on the refreshed CRL, with no download on the way')
  })
})
