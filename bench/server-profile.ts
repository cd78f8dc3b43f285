/**
 * CPU profiling for bench/server.ts on Node, without the start-up: when BENCH_CPU_PROFILE names a
 * file, GET /__bench/profile-start starts V8's sampling profiler through node:inspector (after
 * the caller's warm-up), and SIGTERM/SIGINT stop it and write the `.cpuprofile` before exiting.
 * The route is registered before any middleware, so certgate never sees it.
 * @module
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import type { Env, Hono } from 'hono'

/** Sampling interval, µs: finer than --cpu-prof's default 1000, for short per-request functions. */
const INTERVAL_US = 250

/** Adds the start route to `app`; returns what stops the profiler and writes `file` (nothing when never started). */
export function profileRoutes<E extends Env>(app: Hono<E>, file: string): () => Promise<void> {
  const session = new Session()
  session.connect()
  const post = (method: string, params: object = {}): Promise<{ profile?: object }> =>
    new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as { profile?: object }))))
  let started = false
  app.get('/__bench/profile-start', async (c) => {
    if (!started) {
      await post('Profiler.enable')
      await post('Profiler.setSamplingInterval', { interval: INTERVAL_US })
      await post('Profiler.start')
      started = true
    }
    return c.text('profiling')
  })
  return async () => {
    if (!started) return
    const { profile } = await post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
  }
}
