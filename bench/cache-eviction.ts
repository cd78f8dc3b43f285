/**
 * The verdict cache under a flood: does an idle returning client stay cached while others send
 * many distinct certificates, each a few times? And what a cache hit costs once the cache is
 * full. Runs the real verifier with the default cache limits; prints one JSON line.
 * Usage: node --import tsx bench/cache-eviction.ts [--smoke]
 * @module
 */
import { BoundedCache } from '../src/cache.ts'
import { createClientCertVerifier } from '../src/verify.ts'
import type { ClientCertificate } from '../src/x509/certificate.ts'
import { BENCH_CN, envoyHeader, makeTemplate, variantDer } from './fixtures.ts'
import { microsecondsPerOp } from './micro.ts'

/** Whether the idle client was still cached after `flood` certificates, each sent `sends` times. */
export interface SurvivalResult {
  flood: number
  sends: number
  survived: boolean
}

export interface EvictionResult {
  /** Requests the returning client made before going idle. */
  legitRequests: number
  survival: SurvivalResult[]
  /**
   * µs per verification of the returning client after the largest flood (one Request object
   * reused: building a Request with a 1.4 KB header costs more than the verification itself).
   */
  hitUs: number
  /** ns per BoundedCache.get of a resident key (4,000 of them, in a 10,000-entry cache). */
  getNs: number
}

const smoke = process.argv.includes('--smoke')
const LEGIT_REQUESTS = 10
const FLOODS = smoke ? [1000] : [5000, 11_000, 25_000, 50_000]
const SENDS = smoke ? [2] : [2, 4]

const template = await makeTemplate('P-256')
const subject = template.cert.subjectRfc4514
const legit = envoyHeader(variantDer(template, 0xffffffff), subject)
const request = (header: string): Request =>
  new Request('http://localhost/cert-info', { headers: { 'x-forwarded-client-cert': header } })

/** One fresh verifier: the client's requests, then the flood, then the client once more. */
async function survives(flood: number, sends: number): Promise<{ survived: boolean; hitUs: number }> {
  const verify = createClientCertVerifier({ allow: { commonNames: [BENCH_CN] } })
  let cached: ClientCertificate | null = null
  for (let i = 0; i < LEGIT_REQUESTS; i++) {
    const result = await verify(request(legit))
    if (result.ok) cached = result.certificate
  }
  for (let n = 0; n < flood; n++) {
    const header = envoyHeader(variantDer(template, n), subject)
    for (let s = 0; s < sends; s++) await verify(request(header))
  }
  const after = await verify(request(legit))
  const survived = after.ok && after.certificate === cached
  const again = request(legit)
  const hitUs = await microsecondsPerOp(() => verify(again), smoke ? 500 : 20_000)
  return { survived, hitUs }
}

/** ns per get of 4,000 resident keys, each used often, in a cache of 10,000 entries. */
function boundedGetNs(): number {
  const cache = new BoundedCache<number>({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024 })
  const keys = Array.from({ length: 4000 }, (_, i) => `${i.toString(16).padStart(8, '0')}${'A'.repeat(56)}`)
  for (const key of keys) {
    cache.set(key, 1, Infinity, 2000)
    cache.set(key, 1, Infinity, 2000)
    for (let i = 0; i < 4; i++) cache.get(key, 0)
  }
  const rounds = smoke ? 100_000 : 5_000_000
  let sum = 0
  const start = performance.now()
  for (let i = 0; i < rounds; i++) sum += cache.get(keys[i % keys.length]!, 0) ?? 0
  const ns = ((performance.now() - start) * 1e6) / rounds
  if (sum !== rounds) throw new Error(`expected every get to hit, got ${sum} of ${rounds}`)
  return ns
}

const survival: SurvivalResult[] = []
let hitUs = 0
for (const sends of SENDS) {
  for (const flood of FLOODS) {
    const run = await survives(flood, sends)
    survival.push({ flood, sends, survived: run.survived })
    hitUs = run.hitUs
  }
}
const result: EvictionResult = { legitRequests: LEGIT_REQUESTS, survival, hitUs, getNs: boundedGetNs() }
console.log(JSON.stringify(result))
