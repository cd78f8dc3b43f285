/**
 * The reference service as real processes: bad configuration stops it before it listens, the
 * Node entry serves the contract and shuts down gracefully on SIGTERM, and the Bun and Deno
 * entries answer 200 and 403; and `certgate/node`'s shutdown, in this process. Spawning is the
 * point here, so this file uses node:child_process.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { serve, type ServeHandle } from '../../src/adapters/node.ts'
import { createTestPki, type TestCertificate, xfccHeader } from '../../src/testing/index.ts'
import { SERVICE_VARIABLES } from '../../src/service/config.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ALLOWED_CN = 'api-client.contoso.com'
const START_TIMEOUT_MS = 20_000
const EXIT_TIMEOUT_MS = 5_000
const SLOW_BACKEND_MS = 500
const SPAWNS = { timeout: 30_000 }
const BOUNDED = { timeout: 10_000 }

// Under Bun and Deno `process.execPath` is their own binary; the Node entry needs node itself.
const RUNTIME = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node'
const NODE = RUNTIME === 'node' ? process.execPath : 'node'
const BUN = `${ROOT}node_modules/.bin/bun`
const DENO = `${ROOT}node_modules/.bin/deno`

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

interface Service {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the first stdout line matching, rejects on timeout or exit. */
  line: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  exited: Promise<Exit>
}

const children: ChildProcess[] = []
const servers: Server[] = []

/** Starts `command` in the repository root with the service variables set to `vars` only. */
function start(command: string, args: string[], vars: Record<string, string>): Service {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' }
  for (const name of SERVICE_VARIABLES) delete env[name]
  const child = spawn(command, args, { cwd: ROOT, env: { ...env, ...vars }, stdio: 'pipe' })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', () => resolve({ code: null, signal: null }))
  })
  const describeOutput = (): string => `stdout: ${out}\nstderr: ${err}`

  function line(pattern: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const check = (): boolean => {
        const found = out.split('\n').find((text) => pattern.test(text))
        if (found === undefined) return false
        done()
        resolve(found)
        return true
      }
      const onExit = (): void => {
        done()
        reject(new Error(`exited before printing ${pattern}\n${describeOutput()}`))
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no line ${pattern} within ${timeoutMs} ms\n${describeOutput()}`))
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        child.stdout!.off('data', check)
        child.off('exit', onExit)
      }
      if (check()) return
      child.stdout!.on('data', check)
      child.once('exit', onExit)
    })
  }

  return { child, stdout: () => out, stderr: () => err, line, exited }
}

/** Spawn options for a runtime binary: skipped, with the reason, when it is not installed. */
function needs(binary: string): { timeout: number; skip: string | false } {
  return { ...SPAWNS, skip: existsSync(binary) ? false : `${binary} is not installed` }
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Each line of `text` parsed as JSON; fails on a line that is not a JSON object. */
function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const value = JSON.parse(line) as unknown
      assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), line)
      return value as Record<string, unknown>
    })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A port that was free a moment ago (the service's config does not accept 0). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A backend whose `/health` answers after `delayMs`. */
async function slowBackend(delayMs: number): Promise<string> {
  const server = createServer((_req, res) => {
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: 'slow but fine' }))
    }, delayMs)
    // An answer nobody waits for any more must not hold the test process open.
    res.once('close', () => clearTimeout(timer))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Whether a new TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
}

/** A GET on a keep-alive connection (fetch's default), as a load balancer would send it. */
function get(port: number, path: string, cert?: TestCertificate): Promise<Response> {
  const headers = new Headers()
  if (cert !== undefined) headers.set('x-forwarded-client-cert', xfccHeader(cert))
  return fetch(`http://127.0.0.1:${port}${path}`, { headers })
}

async function assertServes(port: number, allowed: TestCertificate): Promise<void> {
  const withCert = await get(port, '/cert-info', allowed)
  assert.equal(withCert.status, 200)
  const body = (await withCert.json()) as Record<string, unknown>
  assert.equal(body.thumbprint, allowed.thumbprint)
  assert.equal(body.common_name, ALLOWED_CN)
  const without = await get(port, '/cert-info')
  assert.equal(without.status, 403)
  assert.equal(((await without.json()) as { code: string }).code, 'ERR_CERT_MISSING')
}

const skip =
  RUNTIME === 'node'
    ? false
    : `spawns node, bun and deno itself, so it runs once, under Node (this is ${RUNTIME})`

describe('service processes', { skip }, () => {
  let allowed: TestCertificate
  let pinned: TestCertificate

  before(async () => {
    const pki = await createTestPki()
    allowed = await pki.issue({ commonName: ALLOWED_CN })
    pinned = await pki.issue({ commonName: 'pinned' })
  })

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    await Promise.all(
      servers.map((server) => {
        server.closeAllConnections()
        return new Promise<void>((resolve) => server.close(() => resolve()))
      })
    )
  })

  it('stops before listening on bad configuration, naming every bad variable', SPAWNS, async () => {
    const service = start(NODE, ['--import', 'tsx', 'src/service/main.ts'], {
      PORT: 'abc',
      ALLOWED_CERT_THUMBPRINTS: 'abcd',
    })
    const exit = await within(service.exited, START_TIMEOUT_MS, 'exit on bad config')
    assert.equal(exit.code, 1, service.stderr())
    assert.match(service.stderr(), /PORT/)
    assert.match(service.stderr(), /ALLOWED_CERT_THUMBPRINTS/)
    assert.doesNotMatch(service.stdout(), /listening/)
  })

  it('stops before listening without an allowlist, naming the variables to set', SPAWNS, async () => {
    const service = start(NODE, ['--import', 'tsx', 'src/service/main.ts'], {})
    const exit = await within(service.exited, START_TIMEOUT_MS, 'exit without an allowlist')
    assert.equal(exit.code, 1, service.stderr())
    assert.match(service.stderr(), /Invalid configuration \(1 problem\)/)
    assert.match(service.stderr(), /set ALLOWED_CERT_THUMBPRINTS .* or ALLOWED_CERT_COMMON_NAMES/)
    assert.doesNotMatch(service.stdout(), /listening/)
  })

  it('stops before listening when TRUSTED_CA_CERTS names a missing file', SPAWNS, async () => {
    const missing = `${ROOT}test/service/no-such-ca-bundle.pem`
    const service = start(NODE, ['--import', 'tsx', 'src/service/main.ts'], {
      ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN,
      TRUSTED_CA_CERTS: missing,
    })
    const exit = await within(service.exited, START_TIMEOUT_MS, 'exit on a missing CA bundle')
    assert.equal(exit.code, 1, service.stderr())
    // One JSON line at level error, its issues one per bad variable.
    const lines = jsonLines(service.stderr())
    assert.equal(lines.length, 1, service.stderr())
    assert.equal(lines[0]!.level, 'error')
    assert.match(String(lines[0]!.msg), /^Invalid configuration \(1 problem\):/)
    assert.deepEqual(lines[0]!.issues, [`TRUSTED_CA_CERTS: cannot read "${missing}" (ENOENT)`])
    assert.doesNotMatch(service.stdout(), /listening/)
  })

  it('serves on Node, drains an in-flight request on SIGTERM, exits 0', SPAWNS, async () => {
    const port = await freePort()
    const service = start(NODE, ['--import', 'tsx', 'src/service/main.ts'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN,
      ALLOWED_CERT_THUMBPRINTS: pinned.thumbprint.toLowerCase(),
      DIRECT_BACKEND_URL: await slowBackend(SLOW_BACKEND_MS),
      // The test connects from 127.0.0.1: a 200 proves Node's getConnInfo reaches the check.
      TRUSTED_PROXY_CIDRS: '127.0.0.1/32',
    })
    const startLine = JSON.parse(await service.line(/listening on/)) as Record<string, unknown>
    assert.equal(startLine.level, 'info')
    assert.match(String(startLine.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.deepEqual(
      { ...startLine, time: undefined },
      {
        level: 'info',
        time: undefined,
        msg: `certgate service listening on http://127.0.0.1:${port}`,
        url: `http://127.0.0.1:${port}`,
        client_cert_mode: 'require',
        client_cert_source: 'xfcc',
        dapr_invoked: 'refused',
        allowed_thumbprints: 1,
        allowed_common_names: 1,
        trust: 'off',
        trust_roots: 0,
        trust_intermediates: 0,
        trust_crls: 0,
        trust_reload_seconds: 0,
        trust_files_watched: 0,
        trusted_proxy_ranges: 1,
      }
    )
    assert.ok(!service.stdout().toLowerCase().includes(pinned.thumbprint.toLowerCase()))

    const health = await get(port, '/health')
    assert.equal(health.status, 200)
    assert.deepEqual(await health.json(), { status: 'ok' })
    await assertServes(port, allowed)

    const started = performance.now()
    const inFlight = get(port, '/call-backend/direct', allowed)
    await sleep(100)
    service.child.kill('SIGTERM')
    const signalled = performance.now()
    await sleep(100)
    assert.ok(await refused(port), 'a new connection was accepted during shutdown')

    const res = await inFlight
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { path: 'direct', status: { status: 'slow but fine' } })
    assert.ok(performance.now() - started >= SLOW_BACKEND_MS)
    const exit = await within(service.exited, EXIT_TIMEOUT_MS, 'exit after SIGTERM')
    assert.deepEqual(exit, { code: 0, signal: null }, service.stderr())
    // The drained keep-alive connections must not hold the exit until their idle timeout.
    const drained = performance.now() - signalled
    assert.ok(drained < SLOW_BACKEND_MS + 1000, `exited ${Math.round(drained)} ms after SIGTERM`)
    assert.match(service.stderr(), /SIGTERM received/)
    assert.ok(await refused(port), 'still accepting after exit')
  })

  it('cuts in-flight requests on a second SIGTERM and exits 0 at once', SPAWNS, async () => {
    const port = await freePort()
    const service = start(NODE, ['--import', 'tsx', 'src/service/main.ts'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN,
      DIRECT_BACKEND_URL: await slowBackend(3000),
    })
    await service.line(/listening on/)
    const inFlight = get(port, '/call-backend/direct', allowed).then(
      (res) => res.status,
      () => 'cut'
    )
    await sleep(200)
    service.child.kill('SIGTERM')
    await sleep(100)
    const signalled = performance.now()
    service.child.kill('SIGTERM')
    const exit = await within(service.exited, EXIT_TIMEOUT_MS, 'exit after a second SIGTERM')
    assert.deepEqual(exit, { code: 0, signal: null }, service.stderr())
    assert.ok(performance.now() - signalled < 1000, 'the second signal did not force the exit')
    assert.equal(await inFlight, 'cut')
    assert.match(service.stderr(), /SIGTERM again/)
  })

  // With TRUSTED_PROXY_CIDRS, a 200 also proves the runtime's getConnInfo reached the check.
  it('serves on Bun: 200 with an allowed certificate, 403 without', needs(BUN), async () => {
    const port = await freePort()
    const service = start(BUN, ['src/service/bun.ts'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN,
      TRUSTED_PROXY_CIDRS: '127.0.0.1/32',
    })
    await service.line(new RegExp(`listening on http://127\\.0\\.0\\.1:${port}"`))
    await assertServes(port, allowed)
    service.child.kill('SIGTERM')
    const exit = await within(service.exited, EXIT_TIMEOUT_MS, 'bun exit')
    assert.deepEqual(exit, { code: 0, signal: null })
  })

  it('serves on Deno: 200 with an allowed certificate, 403 without', needs(DENO), async () => {
    const port = await freePort()
    const service = start(DENO, ['run', '-A', 'src/service/deno.ts'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN,
      TRUSTED_PROXY_CIDRS: '127.0.0.1/32',
    })
    await service.line(new RegExp(`listening on http://127\\.0\\.0\\.1:${port}"`))
    await assertServes(port, allowed)
    service.child.kill('SIGTERM')
    const exit = await within(service.exited, EXIT_TIMEOUT_MS, 'deno exit')
    assert.deepEqual(exit, { code: 0, signal: null })
  })

  it('stops Deno before listening on bad configuration', needs(DENO), async () => {
    const service = start(DENO, ['run', '-A', 'src/service/deno.ts'], { PORT: '99999' })
    const exit = await within(service.exited, START_TIMEOUT_MS, 'deno exit on bad config')
    assert.equal(exit.code, 1, service.stderr())
    assert.match(service.stderr(), /PORT/)
  })
})

describe('certgate/node serve', { skip }, () => {
  const handles: ServeHandle[] = []
  const logged: string[] = []
  const originalWarn = console.warn

  // The shutdown notices are warnings: stderr, and level warn in the service's JSON lines.
  before(() => {
    console.warn = (...args: unknown[]): void => void logged.push(args.map(String).join(' '))
  })

  after(async () => {
    console.warn = originalWarn
    for (const handle of handles) handle.server.closeAllConnections()
    await Promise.all(handles.map((handle) => handle.close()))
  })

  /** Serves a handler that answers `/slow` after `delayMs` (never, for Infinity), else at once. */
  async function serveSlow(
    delayMs: number,
    options: { shutdownTimeoutMs?: number; signals?: NodeJS.Signals[] } = {}
  ): Promise<ServeHandle & { port: number }> {
    let listening: (port: number) => void = () => {}
    const ready = new Promise<number>((resolve) => (listening = resolve))
    const handle = serve(
      {
        fetch: async (request: Request): Promise<Response> => {
          if (new URL(request.url).pathname === '/slow') {
            await new Promise((resolve) => delayMs !== Infinity && setTimeout(resolve, delayMs))
          }
          return new Response('done')
        },
      },
      {
        port: 0,
        hostname: '127.0.0.1',
        signals: options.signals ?? [],
        exit: false,
        onListen: (info) => listening(info.port),
        shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000,
      }
    )
    handles.push(handle)
    return Object.assign(handle, { port: await ready })
  }

  it('reports where it listens, and nothing once closed', BOUNDED, async () => {
    const handle = await serveSlow(0)
    assert.deepEqual(handle.address, { address: '127.0.0.1', port: handle.port })
    assert.equal(await (await fetch(`http://127.0.0.1:${handle.port}/`)).text(), 'done')
    const closing = handle.close()
    assert.equal(handle.close(), closing)
    await closing
    assert.equal(handle.address, null)
  })

  it('close() lets an in-flight request finish, refuses new connections', BOUNDED, async () => {
    const handle = await serveSlow(300)
    await fetch(`http://127.0.0.1:${handle.port}/`).then((res) => res.text())
    const inFlight = fetch(`http://127.0.0.1:${handle.port}/slow`)
    await sleep(50)
    const started = performance.now()
    const closed = handle.close()
    await sleep(50)
    assert.ok(await refused(handle.port))
    const res = await inFlight
    assert.equal(await res.text(), 'done')
    await closed
    assert.ok(performance.now() - started < 1000, 'the keep-alive connection held the close')
  })

  it('cuts what is still running after shutdownTimeoutMs, and says so', BOUNDED, async () => {
    const handle = await serveSlow(Infinity, { shutdownTimeoutMs: 200 })
    const inFlight = fetch(`http://127.0.0.1:${handle.port}/slow`).then(
      () => 'answered',
      () => 'cut'
    )
    await sleep(50)
    const started = performance.now()
    await handle.close()
    const took = performance.now() - started
    assert.ok(took >= 190 && took < 1000, `closed after ${Math.round(took)} ms`)
    assert.equal(await inFlight, 'cut')
    const said = logged.some((line) => /bound of 200 ms reached; cutting 1 connection/.test(line))
    assert.ok(said, logged.join('\n'))
  })

  // SIGWINCH: harmless when nobody listens, while the test runners of Node 24 and later write a
  // diagnostic report file for every SIGUSR2.
  it('shuts down on its signals, cuts on a second, removes its listeners', BOUNDED, async () => {
    const listeners = process.listenerCount('SIGWINCH')
    const handle = await serveSlow(Infinity, { signals: ['SIGWINCH'], shutdownTimeoutMs: 10_000 })
    assert.equal(process.listenerCount('SIGWINCH'), listeners + 1)
    const inFlight = fetch(`http://127.0.0.1:${handle.port}/slow`).then(
      () => 'answered',
      () => 'cut'
    )
    await sleep(50)
    const closed = new Promise<void>((resolve) => handle.server.once('close', resolve))
    process.kill(process.pid, 'SIGWINCH')
    await sleep(100)
    assert.ok(await refused(handle.port))
    const started = performance.now()
    process.kill(process.pid, 'SIGWINCH')
    await within(closed, 1000, 'close after the second signal')
    assert.ok(performance.now() - started < 1000)
    assert.equal(await inFlight, 'cut')
    assert.equal(process.listenerCount('SIGWINCH'), listeners)
    assert.ok(logged.some((line) => /SIGWINCH again during shutdown/.test(line)))
  })

  it('close() right after serve() still leaves nothing listening', BOUNDED, async () => {
    const options = { port: 0, hostname: 'localhost', signals: [], exit: false }
    const handle = serve({ fetch: () => new Response('x') }, options)
    await handle.close()
    assert.equal(handle.server.listening, false)
    assert.equal(handle.address, null)
  })

  it('refuses a port out of range', () => {
    assert.throws(() => serve({ fetch: () => new Response() }, { port: 70_000 }), RangeError)
  })
})
