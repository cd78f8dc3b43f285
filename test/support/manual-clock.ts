/**
 * A clock and timers that a test moves by hand, for the CRL fetcher's background refreshes
 * (its `FetcherClock`), and a fake `fetch` serving CRLs that counts its calls.
 * @module
 */
import assert from 'node:assert/strict'
import type { FetcherClock } from '../../src/trust/crl-fetcher.ts'
import type { TestCrl } from './pki.ts'

/** A FetcherClock whose time moves only when the test says. */
export interface ManualClock extends FetcherClock {
  /** Moves the clock on, then runs each timer that has fallen due, earliest first. */
  advance(ms: number): void
  /** Moves the clock on without running any timer: a process that was suspended. */
  jump(ms: number): void
  /** Timers set and neither run nor cleared. */
  pending(): number
  /** Timers run so far. */
  fired(): number
  /** The wait asked for by each setTimer call, in order. */
  readonly waits: number[]
}

export function manualClock(start: number): ManualClock {
  let at = start
  let nextId = 1
  let fired = 0
  const timers = new Map<number, { dueAt: number; run: () => void }>()
  const waits: number[] = []
  return {
    now: () => at,
    setTimer: (run, ms) => {
      waits.push(ms)
      const id = nextId++
      timers.set(id, { dueAt: at + ms, run })
      return id
    },
    clearTimer: (id) => {
      timers.delete(id as number)
    },
    advance(ms) {
      at += ms
      for (;;) {
        const due = [...timers].filter(([, t]) => t.dueAt <= at).sort((a, b) => a[1].dueAt - b[1].dueAt)[0]
        if (due === undefined) return
        timers.delete(due[0])
        fired++
        due[1].run()
      }
    },
    jump(ms) {
      at += ms
    },
    pending: () => timers.size,
    fired: () => fired,
    waits,
  }
}

/** What the fake distribution point answers: a CRL, an HTTP status, or a CRL it sends later. */
export type Answer = TestCrl | number | Promise<TestCrl>

/** A fake `fetch` for a CRL distribution point: answers what `serve` last set, counting calls. */
export interface FakePoint {
  readonly fetch: typeof fetch
  calls(): number
  serve(answer: Answer): void
}

export function fakePoint(first: Answer): FakePoint {
  let answer = first
  let calls = 0
  const respond = (crl: TestCrl): Response => new Response(crl.der.slice(), { status: 200 })
  const fetchCrl = async (): Promise<Response> => {
    calls++
    const now = answer
    if (typeof now === 'number') return new Response(null, { status: now })
    return now instanceof Promise ? respond(await now) : respond(now)
  }
  return {
    fetch: fetchCrl as unknown as typeof fetch,
    calls: () => calls,
    serve: (next) => {
      answer = next
    },
  }
}

/** A CRL sent only once the test releases it: a download that hangs until then. */
export function heldBack(): { crl: Promise<TestCrl>; release: (crl: TestCrl) => void; released: () => boolean } {
  let release!: (crl: TestCrl) => void
  let released = false
  const crl = new Promise<TestCrl>((resolve) => {
    release = (value) => {
      released = true
      resolve(value)
    }
  })
  return { crl, release, released: () => released }
}

/** Polls (real time, 2 ms apart) until `done()`; fails after 5 s naming `what`. */
export async function waitFor(done: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 5000
  while (!done()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
