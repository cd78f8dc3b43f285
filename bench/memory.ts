/**
 * Memory under the attacker's pattern: N requests through the Hono middleware, each with a
 * certificate never seen before. Prints RSS after warm-up and at the end (after a GC) as JSON.
 * Usage: node --expose-gc --import tsx bench/memory.ts <requests>
 * @module
 */
import { Hono } from 'hono'
import { clientCert, type ClientCertEnv } from '../src/adapters/hono.ts'
import { BENCH_CN, envoyHeader, makeTemplate, variantDer } from './fixtures.ts'

const total = Number(process.argv[2] ?? 1_000_000)
const warmUp = Math.min(50_000, Math.floor(total / 10))
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {})

const template = await makeTemplate('RSA-2048')
const subject = template.cert.subjectRfc4514
const app = new Hono<ClientCertEnv>()
app.use(clientCert({ allow: { commonNames: [BENCH_CN] } }))
app.get('/cert-info', (c) => c.json(c.var.clientCert))

let failures = 0
async function send(n: number): Promise<void> {
  const header = envoyHeader(variantDer(template, n), subject)
  const res = await app.request('/cert-info', { headers: { 'x-forwarded-client-cert': header } })
  if (res.status !== 200) failures++
  await res.arrayBuffer()
}

const rssMb = (): number => process.memoryUsage().rss / 2 ** 20
const started = performance.now()
for (let n = 0; n < warmUp; n++) await send(n)
gc()
const afterWarmUp = rssMb()
let peak = afterWarmUp
for (let n = warmUp; n < total; n++) {
  await send(n)
  if (n % 50_000 === 0) peak = Math.max(peak, rssMb())
}
gc()
const atEnd = rssMb()
console.log(JSON.stringify({
  requests: total,
  failures,
  rssAfterWarmUpMb: afterWarmUp,
  rssAtEndMb: atEnd,
  rssPeakMb: Math.max(peak, atEnd),
  growthMb: atEnd - afterWarmUp,
  seconds: (performance.now() - started) / 1000,
}))
