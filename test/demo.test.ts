/**
 * `npm run demo` as a smoke test: the demo starts the real service process, sends every request
 * of its table and exits non-zero when any answer differs from the expected one; the test runs it
 * once and reads its exit code, its summary line, and the rows a reader comes for: the attacks
 * refused, and the two outbound paths side by side (timed, and each failure's status and code).
 * Node only: the demo spawns `node` itself, and once per `npm test` is enough.
 * @module
 */
import { before, describe, it } from 'node:test'
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

const OPTIONS = { timeout: DEMO_TIMEOUT_MS + 5_000 }

describe('npm run demo', { skip: SKIP }, () => {
  let run: Run

  before(async () => {
    run = await runDemo(DEMO_TIMEOUT_MS)
  }, OPTIONS)

  /** Asserts a line of the output matches `pattern`, showing the whole output when not. */
  function shows(pattern: RegExp): void {
    assert.match(run.output, pattern, run.output)
  }

  it('answers every request as expected and exits 0', () => {
    assert.equal(run.code, 0, run.output)
    shows(/^\d+ requests, all as expected$/m)
  })

  it('starts the service with an explicit allowlist, refusing Dapr-invoked requests', () => {
    shows(/listening on .*"dapr_invoked":"refused","allowed_thumbprints":0,"allowed_common_names":1,/)
  })

  it('shows the XFCC element injected through a URI SAN refused', () => {
    shows(/element injected through a URI SAN +403 ✓ +ERR_HEADER_(INCONSISTENT|MALFORMED)$/m)
  })

  it('shows a forged XFCC through the Dapr sidecar refused: 403 ERR_PROXY_UNTRUSTED', () => {
    shows(/through the Dapr sidecar, forged XFCC +403 ✓ +ERR_PROXY_UNTRUSTED$/m)
  })

  it('times both outbound paths side by side', () => {
    shows(/^ +median of 50 +\d+\.\d\d ms, all 200 ✓ +\d+\.\d\d ms, all 200 ✓$/m)
  })

  it("shows each failure's status and code on both paths", () => {
    shows(/^ +backend hanging +504 ERR_UPSTREAM_TIMEOUT ✓ +504 ERR_UPSTREAM_TIMEOUT ✓$/m)
    const dapr = String.raw`502 ERR_UPSTREAM_STATUS ✓ \(upstream said 500 ERR_DIRECT_INVOKE\)`
    shows(new RegExp(`^ +backend down +${dapr} +502 ERR_UPSTREAM_UNREACHABLE ✓$`, 'm'))
    shows(/^ +sidecar down +502 ERR_UPSTREAM_UNREACHABLE ✓ +200 ✓$/m)
  })
})
