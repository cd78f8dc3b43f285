/**
 * `npm run load`: mixed traffic against the real service process for a while (default 60 s at
 * concurrency 64): returning clients, new certificates, refusals of every kind, and outbound
 * calls to a slow backend directly and through a Dapr stand-in. Counts every answer by kind and
 * status, samples the service's RSS, and fails on any answer outside the expected set (a 5xx
 * other than an outbound 502/504, a dropped connection, or the process dying).
 * Usage: node --import tsx bench/load.ts [--seconds 60] [--concurrency 64]
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { parseArgs } from 'node:util'
import { createTestPki, xfccHeader } from '../src/testing/index.ts'
import { daprSidecar, freePort, listen, sendJson } from '../test/support/loopback.ts'
import { envoyHeader, makeTemplate, variantDer } from './fixtures.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, concurrency: { type: 'string', default: '64' } },
})
const SECONDS = Number(values.seconds)
const CONCURRENCY = Number(values.concurrency)
const OUTBOUND_TIMEOUT_MS = 250
const CN = 'api-client.contoso.com'

interface Kind {
  name: string
  weight: number
  path: string
  header: (n: number) => string | null
  expected: readonly number[]
}

const pki = await createTestPki()
const allowed = await Promise.all([0, 1, 2].map(() => pki.issue({ commonName: CN })))
const unknown = await pki.issue({ commonName: 'intruder.example' })
const template = await makeTemplate('P-256')
const subject = template.cert.subjectRfc4514

// The backend answers after 0–400 ms, so some outbound calls outlive OUTBOUND_TIMEOUT_MS (504).
const backend = await listen(async (_req, res) => {
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 400))
  sendJson(res, 200, { status: 'healthy' })
})
const sidecar = await listen(daprSidecar({ apps: { backend: backend.url } }))

const kinds: Kind[] = [
  { name: 'returning client', weight: 40, path: '/cert-info', header: (n) => xfccHeader(allowed[n % 3]!), expected: [200] },
  { name: 'new certificate', weight: 20, path: '/cert-info', header: (n) => envoyHeader(variantDer(template, n), subject), expected: [200] },
  { name: 'unknown certificate', weight: 5, path: '/cert-info', header: () => xfccHeader(unknown), expected: [403] },
  { name: 'no certificate', weight: 5, path: '/cert-info', header: () => null, expected: [403] },
  { name: 'garbage header', weight: 5, path: '/cert-info', header: (n) => `Cert="${'%ZZ'.repeat(n % 50)}`, expected: [403] },
  { name: 'forged Hash', weight: 5, path: '/cert-info', header: () => xfccHeader(allowed[0]!, { hash: unknown.thumbprint.toLowerCase() }), expected: [403] },
  { name: 'direct call, slow backend', weight: 10, path: '/call-backend/direct', header: () => xfccHeader(allowed[0]!), expected: [200, 504] },
  { name: 'Dapr call, slow backend', weight: 10, path: '/call-backend/dapr', header: () => xfccHeader(allowed[1]!), expected: [200, 502, 504] },
]
const table = kinds.flatMap((kind) => Array.from({ length: kind.weight }, () => kind))

const port = await freePort()
const service: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/service/main.ts'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    ALLOWED_CERT_COMMON_NAMES: CN,
    DIRECT_BACKEND_URL: backend.url,
    DAPR_HTTP_PORT: String(sidecar.port),
    DAPR_TARGET_APP_ID: 'backend',
    OUTBOUND_TIMEOUT_MS: String(OUTBOUND_TIMEOUT_MS),
  },
})
let exited: number | null = null
service.once('exit', (code) => (exited = code ?? -1))
await new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the service did not start')), 20_000)
  service.stdout!.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('listening on')) {
      clearTimeout(timer)
      resolve()
    }
  })
})

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
function send(kind: Kind, n: number): Promise<number | string> {
  return new Promise((resolve) => {
    const header = kind.header(n)
    const req = httpRequest(
      { host: '127.0.0.1', port, path: kind.path, agent, headers: header === null ? {} : { 'x-forwarded-client-cert': header } },
      (res) => {
        res.resume()
        res.once('end', () => resolve(res.statusCode ?? 0))
        res.once('error', (error) => resolve(error.message))
      }
    )
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')))
    req.once('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message))
    req.end()
  })
}

const counts = new Map<string, Map<string, number>>()
let unexpected = 0
let total = 0
const deadline = Date.now() + SECONDS * 1000
const rssSamples: number[] = []
const sampler = setInterval(() => {
  if (exited === null) rssSamples.push(rssMb(service.pid!))
}, 1000)

async function worker(id: number): Promise<void> {
  let n = id
  while (Date.now() < deadline && exited === null) {
    const kind = table[Math.floor(Math.random() * table.length)]!
    const outcome = await send(kind, (n += CONCURRENCY))
    total++
    const byStatus = counts.get(kind.name) ?? new Map<string, number>()
    byStatus.set(String(outcome), (byStatus.get(String(outcome)) ?? 0) + 1)
    counts.set(kind.name, byStatus)
    if (typeof outcome !== 'number' || !kind.expected.includes(outcome)) unexpected++
  }
}

console.log(`load: ${SECONDS} s at concurrency ${CONCURRENCY} against the service on 127.0.0.1:${port}…`)
const started = performance.now()
await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => worker(i)))
const elapsed = (performance.now() - started) / 1000
clearInterval(sampler)
const crashed = exited !== null
service.kill('SIGTERM')
const exitCode = await new Promise<number | null>((resolve) => {
  if (exited !== null) return resolve(exited)
  service.once('exit', (code) => resolve(code))
})
agent.destroy()
await Promise.all([backend.close(), sidecar.close()])

console.log(`\n${'kind'.padEnd(28)}  answers`)
for (const kind of kinds) {
  const byStatus = [...(counts.get(kind.name) ?? new Map()).entries()].map(([s, c]) => `${s}×${c}`).join('  ')
  console.log(`${kind.name.padEnd(28)}  ${byStatus}   (expected ${kind.expected.join('/')})`)
}
const settled = rssSamples.slice(5)
const rssLine = settled.length
  ? `RSS ${settled[0]!.toFixed(0)} MB after 5 s, max ${Math.max(...settled).toFixed(0)} MB, last ${settled.at(-1)!.toFixed(0)} MB`
  : 'RSS: too short a run to sample'
console.log(`\n${total} requests in ${elapsed.toFixed(1)} s (${(total / elapsed).toFixed(0)}/s); ${rssLine}`)
console.log(`service ${crashed ? 'CRASHED during the run' : `stayed up; exit code after SIGTERM ${exitCode}`}`)
const failed = unexpected + (crashed ? 1 : 0) + (exitCode === 0 ? 0 : 1)
console.log(`${total - unexpected} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1
