/**
 * `npm run demo`: certgate end to end in about ten seconds, offline. It makes a throwaway PKI
 * with the test kit, starts a backend and a stand-in Dapr sidecar on loopback ports, starts the
 * service exactly as `npm start` would (a child `node` process configured by the environment),
 * sends requests with the X-Forwarded-Client-Cert headers the ACA ingress would write — and
 * some it never would: an element injected through a URI SAN, a forged header through the Dapr
 * sidecar — then prints what was asked, the status and why. Then it compares the two outbound
 * paths (`demo-paths.ts`): their median times, and what each answers when the backend hangs, the
 * backend is down or the sidecar is down. Any status or code other than the expected one makes
 * it exit 1, so it doubles as a smoke test. Everything it starts it stops: on success, on
 * failure and on Ctrl-C.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createTestPki, type TestCertificate, xfccHeader } from '../src/testing/index.ts'
import { SERVICE_VARIABLES } from '../src/service/config.ts'
import {
  daprSidecar,
  freePort,
  jsonBackend,
  listen,
  type Loopback,
  type LoopbackHandler,
} from '../test/support/loopback.ts'
import { comparePaths } from './demo-paths.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const ALLOWED_CN = 'api-client.contoso.com'
const BACKEND_HEALTH = { status: 'healthy', app: 'backend' }
const START_TIMEOUT_MS = 15_000
const REQUEST_TIMEOUT_MS = 5_000
// Short, so that the hanging-backend row costs one second per path.
const OUTBOUND_TIMEOUT_MS = 1_000
const TIMED_CALLS = 50
const STOP_TIMEOUT_MS = 5_000
const DAY_MS = 24 * 60 * 60 * 1000

/** One request of the demo and what it must get. */
interface Step {
  what: string
  path: string
  /** Default: the service. `sidecar`: another app invoking the service through Dapr. */
  via?: 'sidecar'
  xfcc?: string
  status: number
  /** The problem `code` a refusal must carry; one of several when the library may say either. */
  code?: string | readonly string[]
}

/** A row of the table. */
interface Row {
  what: string
  status: number | null
  /** The status, and code if any, it had to get: `403 ERR_CERT_EXPIRED`. */
  expected: string
  why: string
  ok: boolean
}

/** What the demo started, so that one function can stop all of it, however the demo ends. */
interface Started {
  child: ChildProcess | null
  servers: Loopback[]
}

/** The service child process and its output so far. */
interface ServiceProcess {
  child: ChildProcess
  url: string
  startLine: string
  output: () => string
}

/**
 * The allowed, unknown and expired clients, issued by one throwaway intermediate, and an
 * attacker's certificate from another CA whose URI SAN carries the allowed one's element.
 */
interface Clients {
  allowed: TestCertificate
  unknown: TestCertificate
  expired: TestCertificate
  injector: TestCertificate
  /** The injector's URI SAN, which Envoy writes into the header raw. */
  injectedUri: string
}

async function main(): Promise<number> {
  const started: Started = { child: null, servers: [] }
  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> => (stopping ??= stopAll(started))

  // Ctrl-C reaches the child too (same process group); stopping it again is harmless.
  function onSignal(signal: NodeJS.Signals): void {
    console.error(`\n${signal}: stopping everything the demo started`)
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    const clients = await makeClients()
    let hanging = false
    const healthy = jsonBackend({ '/health': BACKEND_HEALTH })
    const backendHandler: LoopbackHandler = (req, res) => (hanging ? undefined : healthy(req, res))
    let backend = await listen(backendHandler)
    started.servers.push(backend)
    const apps: Record<string, string> = { backend: backend.url }
    const sidecar = await listen(daprSidecar({ apps, appId: 'intruder' }))
    started.servers.push(sidecar)
    const service = await startService(started, {
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN,
      DIRECT_BACKEND_URL: backend.url,
      DAPR_HTTP_PORT: String(sidecar.port),
      DAPR_TARGET_APP_ID: 'backend',
      OUTBOUND_TIMEOUT_MS: String(OUTBOUND_TIMEOUT_MS),
    })
    // The stand-in also routes to the service, as another app's sidecar would in ACA.
    apps.certgate = service.url
    printSetup(backend, sidecar, service)

    const rows: Row[] = []
    for (const step of steps(clients)) {
      rows.push(await send(step.via === 'sidecar' ? sidecarBase(sidecar) : service.url, step))
    }
    printTable(rows)

    const paths = await comparePaths(
      {
        service: service.url,
        xfcc: xfccHeader(clients.allowed),
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        setBackendHanging: (value) => (hanging = value),
        backend: () => backend,
        restartBackend: async () => {
          backend = await listen(backendHandler, { port: backend.port })
          started.servers.push(backend)
        },
        sidecar,
      },
      TIMED_CALLS
    )

    const checks = rows.length + paths.checks
    const failed = rows.filter((row) => !row.ok).length + paths.failed
    if (failed === 0) {
      console.log(`\n${checks} requests, all as expected`)
      return 0
    }
    console.log(`\n${checks} requests, ${failed} NOT as expected`)
    console.log(`\nservice output:\n${service.output()}`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await stop()
  }
}

async function makeClients(): Promise<Clients> {
  const pki = await createTestPki()
  const allowed = await pki.issue({ commonName: ALLOWED_CN, dnsNames: [ALLOWED_CN] })
  const unknown = await pki.issue({ commonName: 'intruder.example' })
  const now = Date.now()
  const expired = await pki.issue({
    commonName: ALLOWED_CN,
    notBefore: new Date(now - 2 * DAY_MS),
    notAfter: new Date(now - DAY_MS),
  })
  // `,Hash=…;Cert="…"` of the allowed certificate (public, no key needed): if Envoy's one
  // element ended at that comma, the rightmost element would be the allowed client.
  const victim = xfccHeader(allowed, { style: 'aca', chain: false }).replace(/;$/, '')
  const injectedUri = `spiffe://attacker.example/app,${victim}`
  const rogue = await createTestPki()
  const injector = await rogue.issue({ commonName: 'attacker.example', uris: [injectedUri] })
  return { allowed, unknown, expired, injector, injectedUri }
}

/** What the demo started, and where. */
function printSetup(backend: Loopback, sidecar: Loopback, service: ServiceProcess): void {
  console.log('certgate demo: a throwaway PKI, a backend, a Dapr stand-in and the service\n')
  const health = JSON.stringify(BACKEND_HEALTH)
  console.log(`  PKI            root CA → intermediate CA → ${ALLOWED_CN} (allowed),`)
  console.log(`                 intruder.example (unknown), and an expired ${ALLOWED_CN};`)
  console.log('                 another CA → attacker.example (its URI SAN carries an element)')
  console.log(`  backend        ${backend.url}  GET /health → ${health}`)
  console.log(`  Dapr stand-in  ${sidecar.url}  app-id backend → the backend,`)
  console.log('                 app-id certgate → the service (another app invoking it)')
  console.log('  service        node --import tsx src/service/main.ts (the `npm start` entry):')
  console.log(`                 ${service.startLine}\n`)
}

/** The stand-in's invoke URL for the service: `<base>/cert-info` reaches its `/cert-info`. */
function sidecarBase(sidecar: Loopback): string {
  return `${sidecar.url}/v1.0/invoke/certgate/method`
}

/** The requests, in order. */
function steps(clients: Clients): Step[] {
  const { allowed, unknown, expired, injector, injectedUri } = clients
  return [
    { what: '/health, no certificate (ACA probes)', path: '/health', status: 200 },
    {
      what: '/cert-info, allowed cert (Envoy XFCC)',
      path: '/cert-info',
      xfcc: xfccHeader(allowed),
      status: 200,
    },
    {
      what: "/cert-info, allowed cert (ACA docs' XFCC)",
      path: '/cert-info',
      xfcc: xfccHeader(allowed, { style: 'aca' }),
      status: 200,
    },
    {
      what: '/cert-info, no certificate',
      path: '/cert-info',
      status: 403,
      code: 'ERR_CERT_MISSING',
    },
    {
      what: '/cert-info, unknown cert (intruder.example)',
      path: '/cert-info',
      xfcc: xfccHeader(unknown),
      status: 403,
      code: 'ERR_CERT_NOT_ALLOWED',
    },
    {
      what: '/cert-info, expired cert with the allowed CN',
      path: '/cert-info',
      xfcc: xfccHeader(expired),
      status: 403,
      code: 'ERR_CERT_EXPIRED',
    },
    {
      // The client writes the allowed certificate itself; the ingress appends the real one.
      what: '/cert-info, forged allowed element left of the unknown one',
      path: '/cert-info',
      xfcc: xfccHeader(unknown, { before: xfccHeader(allowed) }),
      status: 403,
      code: 'ERR_CERT_NOT_ALLOWED',
    },
    {
      what: "/cert-info, allowed cert with another cert's Hash",
      path: '/cert-info',
      xfcc: xfccHeader(allowed, { hash: unknown.thumbprint.toLowerCase() }),
      status: 403,
      code: 'ERR_CERT_HASH_MISMATCH',
    },
    {
      // Envoy writes URI SANs raw: the SAN's `,` would start an element of the attacker's text.
      what: '/cert-info, element injected through a URI SAN',
      path: '/cert-info',
      xfcc: `${xfccHeader(injector, { uris: [] })};URI=${injectedUri}`,
      status: 403,
      code: ['ERR_HEADER_INCONSISTENT', 'ERR_HEADER_MALFORMED'],
    },
    {
      what: '/cert-info through the Dapr sidecar, forged XFCC',
      path: '/cert-info',
      via: 'sidecar',
      xfcc: xfccHeader(allowed),
      status: 403,
      code: 'ERR_PROXY_UNTRUSTED',
    },
  ]
}

/** Starts `node --import tsx src/service/main.ts` and waits (bounded) for its start line. */
async function startService(
  started: Started,
  vars: Record<string, string>
): Promise<ServiceProcess> {
  const env: Record<string, string | undefined> = { ...process.env }
  // The demo sets its own, so a shell that exports e.g. ALLOWED_CERT_THUMBPRINTS cannot change it.
  for (const name of SERVICE_VARIABLES) delete env[name]
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/service/main.ts'], {
    cwd: ROOT,
    env: { ...env, ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.child = child
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))

  const startLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      done()
      reject(new Error(`the service printed no start line within ${START_TIMEOUT_MS} ms`))
    }, START_TIMEOUT_MS)
    function check(): void {
      const line = output.split('\n').find((text) => text.includes('listening on http://'))
      if (line === undefined) return
      done()
      resolve(line.trim())
    }
    function onExit(code: number | null): void {
      done()
      reject(new Error(`the service exited (code ${code}) before listening`))
    }
    function onError(error: Error): void {
      done()
      reject(error)
    }
    function done(): void {
      clearTimeout(timer)
      child.stdout.off('data', check)
      child.off('exit', onExit)
      child.off('error', onError)
    }
    child.stdout.on('data', check)
    child.once('exit', onExit)
    child.once('error', onError)
  }).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\nservice output:\n${output}`)
  })

  // Take the address from the line itself (a JSON log line): it is what the service says it bound.
  const url = String((JSON.parse(startLine) as { url: unknown }).url)
  return { child, url, startLine, output: () => output }
}

/** Sends one step's request and judges the answer. */
async function send(base: string, step: Step): Promise<Row> {
  const headers: Record<string, string> = {}
  if (step.xfcc !== undefined) headers['x-forwarded-client-cert'] = step.xfcc
  const codes = typeof step.code === 'string' ? [step.code] : (step.code ?? [])
  const expected = [String(step.status), codes.join(' or ')].join(' ').trimEnd()
  const row = { what: `GET ${step.what}`, expected }
  let response: Response
  let body: Record<string, unknown>
  try {
    response = await fetch(`${base}${step.path}`, {
      headers,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    body = (await response.json()) as Record<string, unknown>
  } catch (error) {
    return { ...row, status: null, why: `no answer: ${(error as Error).message}`, ok: false }
  }
  const code = typeof body.code === 'string' ? body.code : undefined
  const ok =
    response.status === step.status &&
    (code === undefined ? codes.length === 0 : codes.includes(code))
  return { ...row, status: response.status, why: explain(body), ok }
}

/** The why column: the code of a refusal, or what a success carried. */
function explain(body: Record<string, unknown>): string {
  if (typeof body.code === 'string') return body.code
  if (typeof body.path === 'string') {
    return `path ${body.path}, backend said ${JSON.stringify(body.status)}`
  }
  if (typeof body.thumbprint === 'string') {
    return `CN ${String(body.common_name)}, SHA-256 ${body.thumbprint.slice(0, 16)}…`
  }
  return JSON.stringify(body)
}

function printTable(rows: Row[]): void {
  const width = Math.max(...rows.map((row) => row.what.length), 'request'.length)
  console.log(`  ${'#'.padStart(2)}  ${'request'.padEnd(width)}  status  why`)
  rows.forEach((row, index) => {
    const number = String(index + 1).padStart(2)
    const status = `${row.status ?? '---'} ${row.ok ? '✓' : '✗'}`.padEnd(6)
    const why = row.ok ? row.why : `${row.why}  ✗ expected ${row.expected}`
    console.log(`  ${number}  ${row.what.padEnd(width)}  ${status}  ${why}`)
  })
}

/** Stops the service (SIGTERM, awaited, bounded; then SIGKILL) and closes every server. */
async function stopAll(started: Started): Promise<void> {
  const { child } = started
  if (child !== null && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)
    })
    if ((await Promise.race([exited, late])) === 'late') {
      console.error(`the service did not stop within ${STOP_TIMEOUT_MS} ms; killing it`)
      child.kill('SIGKILL')
      await exited
    }
    clearTimeout(timer)
  }
  await Promise.all(started.servers.map((server) => server.close()))
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  }
)
