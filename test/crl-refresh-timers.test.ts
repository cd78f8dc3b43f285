/**
 * The CRL fetcher's refresh timers, driven directly: `close()` clears them and stops any more
 * (on a manual clock and on real timers), the default timers are unref'd, there are never more
 * than the cache holds, a wait longer than a timer can hold is taken in steps, and a CRL no
 * request used is not refreshed until a request uses it.
 * @module
 */
import 'reflect-metadata'
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createTestPki, type TestPki } from '../src/testing/index.ts'
import { CrlFetcher, systemClock, type WantedCrl } from '../src/trust/crl-fetcher.ts'
import { fakePoint, heldBack, manualClock, waitFor } from './support/manual-clock.ts'
import { createTestCrl, type TestCrl } from './support/pki.ts'

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
const T0 = Math.floor(Date.now() / 1000) * 1000

/** What a request asks of the fetcher; the check accepts any CRL (these tests are about time). */
function wanted(nowMs: number, url = 'http://crl.test/int.crl'): WantedCrl {
  return { url, issuer: 'ca', check: async () => {}, nowMs, deadline: Date.now() + 5000 }
}

describe('crl refresh timers', () => {
  let pki: TestPki
  /** nextUpdate T0 + 1 h: kept an hour (cacheSeconds 7200), refreshed at T0 + 48 min. */
  let hour: TestCrl

  before(async () => {
    pki = await createTestPki()
    hour = await createTestCrl({ issuer: pki.intermediate, thisUpdate: new Date(T0 - MINUTE), nextUpdate: new Date(T0 + 60 * MINUTE) })
  })

  function fetcher(clock: ReturnType<typeof manualClock>, point: ReturnType<typeof fakePoint>): CrlFetcher {
    return new CrlFetcher({ onFailure: 'refuse', fetch: point.fetch, cacheSeconds: 7200 }, clock)
  }

  it('close() clears the timer: none fires after it, none is set again, and it can be called twice', async () => {
    const clock = manualClock(T0)
    const point = fakePoint(hour)
    const crls = fetcher(clock, point)
    assert.ok('crl' in (await crls.get(wanted(T0))))
    assert.equal(clock.pending(), 1)
    crls.close()
    assert.equal(clock.pending(), 0)
    clock.advance(2 * 60 * MINUTE)
    assert.equal(clock.fired(), 0)
    assert.equal(point.calls(), 1)
    crls.close()
    // Requests are still served after close(), as on first use, and schedule nothing.
    assert.ok('crl' in (await crls.get(wanted(clock.now()))))
    assert.equal(point.calls(), 2)
    assert.equal(clock.pending(), 0)
  })

  it('close() during a refresh download: the CRL it brings is kept, but no timer is set', async () => {
    const clock = manualClock(T0)
    const held = heldBack()
    const point = fakePoint(hour)
    const crls = fetcher(clock, point)
    await crls.get(wanted(T0))
    point.serve(held.crl)
    clock.advance(48 * MINUTE)
    assert.equal(point.calls(), 2)
    crls.close()
    held.release(hour)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(clock.pending(), 0)
  })

  it('real timers: a fetcher refreshes on its own (control), a closed one never does', async () => {
    const open = fakePoint(hour)
    const closed = fakePoint(hour)
    // Kept 200 ms, so refreshed after 160 ms.
    const options = { onFailure: 'refuse' as const, cacheSeconds: 0.2 }
    const control = new CrlFetcher({ ...options, fetch: open.fetch })
    const stopped = new CrlFetcher({ ...options, fetch: closed.fetch })
    try {
      await control.get(wanted(Date.now()))
      await stopped.get(wanted(Date.now()))
      stopped.close()
      await waitFor(() => open.calls() === 2, 'the control refresh')
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.equal(closed.calls(), 1)
    } finally {
      control.close()
      stopped.close()
    }
  })

  it('the default timers do not keep the process alive (unref: Node and Bun; Deno.unrefTimer on Deno)', () => {
    const timer = systemClock.setTimer(() => {}, 60_000)
    try {
      if (typeof timer === 'number') {
        assert.equal(typeof (globalThis as { Deno?: { unrefTimer?: unknown } }).Deno?.unrefTimer, 'function')
      } else {
        assert.equal((timer as { hasRef: () => boolean }).hasRef(), false)
      }
    } finally {
      systemClock.clearTimer(timer)
    }
  })

  it('bounded: 65 points give 64 timers, and only CRLs the cache still holds are refreshed', async () => {
    const clock = manualClock(T0)
    const point = fakePoint(hour)
    const crls = fetcher(clock, point)
    for (let i = 0; i < 65; i++) await crls.get(wanted(T0, `http://crl.test/${i}.crl`))
    assert.equal(point.calls(), 65)
    assert.equal(clock.pending(), 64)
    clock.advance(48 * MINUTE)
    assert.equal(clock.fired(), 64)
    // The cache (64 entries in two generations) evicted some of the 65: their timers fire and
    // do nothing; each CRL still held is refreshed once, and only those get a new timer.
    const refreshed = point.calls() - 65
    assert.ok(refreshed >= 1 && refreshed < 64, `refreshed ${refreshed}`)
    await waitFor(() => clock.pending() === refreshed, 'the refreshed CRLs kept')
    crls.close()
    assert.equal(clock.pending(), 0)
  })

  it('a wait past what a timer holds (2^31 - 1 ms) is taken in steps, with no early download', async () => {
    const long = await createTestCrl({ issuer: pki.intermediate, thisUpdate: new Date(T0 - MINUTE), nextUpdate: new Date(T0 + 60 * DAY) })
    const clock = manualClock(T0)
    const point = fakePoint(long)
    const crls = new CrlFetcher({ onFailure: 'refuse', fetch: point.fetch, cacheSeconds: 90 * 86_400 }, clock)
    await crls.get(wanted(T0))
    assert.deepEqual(clock.waits, [2_147_483_647])
    clock.advance(2_147_483_647)
    assert.equal(point.calls(), 1)
    assert.deepEqual(clock.waits, [2_147_483_647, 48 * DAY - 2_147_483_647])
    clock.advance(48 * DAY - 2_147_483_647)
    assert.equal(point.calls(), 2)
    crls.close()
  })

  it('a CRL no request used is not refreshed by its timer; a request in its window starts the refresh', async () => {
    const clock = manualClock(T0)
    const point = fakePoint(hour)
    const crls = fetcher(clock, point)
    await crls.get(wanted(T0))
    const next = await createTestCrl({ issuer: pki.intermediate, thisUpdate: new Date(T0 + 45 * MINUTE), nextUpdate: new Date(T0 + 120 * MINUTE) })
    point.serve(next)
    clock.advance(48 * MINUTE)
    await waitFor(() => clock.pending() === 1, 'the refreshed CRL kept')
    // Kept at 48 min until 120 min: due at 48 + 0.8 × 72 = 105.6 min. No request used it.
    clock.advance(3_456_000)
    assert.equal(clock.fired(), 2)
    assert.equal(point.calls(), 2)
    const answer = await crls.get(wanted(clock.now()))
    assert.ok('crl' in answer && answer.expiresAt === T0 + 120 * MINUTE, 'answered from the kept CRL')
    assert.equal(point.calls(), 3, 'the request started the refresh')
    await waitFor(() => clock.pending() === 1, 'the refresh settled')
    crls.close()
  })

  it('an out-of-date CRL gets no refresh timer: it is asked for again once it expires, as a failed point', async () => {
    const stale = await createTestCrl({ issuer: pki.intermediate, thisUpdate: new Date(T0 - 2 * 60 * MINUTE), nextUpdate: new Date(T0 - MINUTE) })
    const clock = manualClock(T0)
    const crls = fetcher(clock, fakePoint(stale))
    const answer = await crls.get(wanted(T0))
    assert.ok('crl' in answer && answer.expiresAt === T0 + 30_000)
    assert.equal(clock.pending(), 0)
    crls.close()
  })
})
