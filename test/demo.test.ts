/**
 * `npm run demo` as a smoke test: the demo starts the real service process, sends every request
 * of its table and exits non-zero when any answer differs from the expected one, so running it
 * and reading its exit code and summary line is the whole test. Node only: the demo spawns
 * `node` itself, and once per `npm test` is enough.
 * @module
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const DEMO_TIMEOUT_MS = 60_000

const OTHER_RUNTIME =
  typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined'
    ? 'Bun'
    : typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined'
      ? 'Deno'
      : null
const SKIP =
  OTHER_RUNTIME === null
    ? false
    : `runs under Node only: the demo spawns node itself (skipped under ${OTHER_RUNTIME})`

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
}

/** Runs the demo as `npm run demo` does, killing it (SIGTERM: it cleans up) past `timeoutMs`. */
function runDemo(timeoutMs: number): Promise<Run> {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output })
    })
  })
}

const OPTIONS = { timeout: DEMO_TIMEOUT_MS + 5_000, skip: SKIP }

describe('npm run demo', () => {
  it('answers every request as expected and exits 0', OPTIONS, async () => {
    const run = await runDemo(DEMO_TIMEOUT_MS)
    assert.equal(run.code, 0, run.output)
    assert.match(run.output, /^\d+ requests, all as expected$/m, run.output)
  })
})
