/**
 * `npm run bench`: micro benchmarks in Node, Bun and Deno (with the chain target: full
 * verification ÷ WebCrypto's two verifies, steady state and strict, bench/chain.ts); HTTP in each
 * runtime (bench/http.ts): bare Hono, a no-op middleware, the hand-written anchors (a Map keyed by
 * the header, a cold check on every request) and certgate with a returning client and with a new
 * certificate every request, as server CPU per request and RPS, with the targets (certgate vs the
 * no-op floor ≥ 0.97, certgate ÷ cold check ≤ 1.25×), and Express and Fastify on Node; memory under a
 * million new certificates; the verdict cache under floods of certificates each sent a few times.
 * Prints the machine, runtime versions and date, then one table of figures next to their targets;
 * `--json` prints the same as JSON (also written to .bench/last-run.json); `--smoke` runs a short
 * version that only proves it works. `--only=micro,http,memory,eviction` runs only those parts,
 * `--runtimes=node,bun,deno` only those runtimes, `--seconds=N` and `--rounds=N` set each HTTP
 * measurement's length and repeats (default 2 s × 7 rounds: more pairs, same time).
 * @module
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { type Framework, type HttpComparison, type HttpResult, type HttpRun, type Runtime, runHttp, type Variant } from './http.ts'
import type { MicroResult } from './micro.ts'
import type { EvictionResult } from './cache-eviction.ts'

const argv = process.argv.slice(2)
const smoke = argv.includes('--smoke')
const json = argv.includes('--json')
/** The value of `--name=value`, or undefined. */
const flag = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const only = flag('only')?.split(',')
const part = (name: 'micro' | 'http' | 'memory' | 'eviction'): boolean => only === undefined || only.includes(name)
const log = (line: string): void => {
  if (!json) console.log(line)
}

interface Row {
  figure: string
  value: string
  target: string
  met: boolean | null
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}`))))
  })
}

function lastJsonLine<T>(out: string): T {
  const line = out.trim().split('\n').filter((l) => l.startsWith('{') || l.startsWith('[')).pop()
  return JSON.parse(line ?? 'null') as T
}

/** Finds wrk, or installs Debian's package when running as root; null when neither works. */
function findWrk(): string | null {
  const has = (): boolean => {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' })
      return true
    } catch (error) {
      // wrk --version exits 1 after printing its version.
      return (error as { status?: number }).status === 1
    }
  }
  if (has()) return 'wrk'
  if (process.getuid?.() === 0) {
    log('installing wrk (apt-get install -y wrk)…')
    try {
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk'], { stdio: 'ignore' })
    } catch {
      return null
    }
    return has() ? 'wrk' : null
  }
  return null
}

const bin = (name: string): string => join('node_modules', '.bin', name)
const runtimes = (flag('runtimes')?.split(',') ?? (smoke ? ['node'] : ['node', 'bun', 'deno'])) as Runtime[]
mkdirSync('.bench', { recursive: true })
log('building dist/ (the HTTP servers run the built package)…')
execFileSync(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
const rows: Row[] = []
const started = new Date()

/** The first line a runtime prints for --version, or 'unavailable'. */
function version(cmd: string): string {
  try {
    return execFileSync(cmd, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0]!
  } catch {
    return 'unavailable'
  }
}
const machine = {
  cpu: cpus()[0]?.model ?? 'cpu',
  cores: cpus().length,
  node: process.version,
  bun: runtimes.includes('bun') ? version(bin('bun')) : null,
  deno: runtimes.includes('deno') ? version(bin('deno')).replace(/ \(.*/, '').replace(/^deno/, 'Deno') : null,
  date: started.toISOString(),
  loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
}
const machineLine = `${machine.cores}× ${machine.cpu}; Node ${machine.node}${machine.bun ? `, Bun ${machine.bun}` : ''}${machine.deno ? `, ${machine.deno}` : ''}; ${machine.date.slice(0, 16).replace('T', ' ')} UTC; load average ${machine.loadAverage.join(' ')} at start`
log(`certgate benchmarks — ${machineLine}`)

// Micro benchmarks, one process per runtime.
const micro: Partial<Record<Runtime, MicroResult[]>> = {}
for (const runtime of part('micro') ? runtimes : []) {
  log(`micro benchmarks on ${runtime}…`)
  const file = join('bench', 'micro-main.ts')
  const extra = smoke ? ['--smoke'] : []
  const out =
    runtime === 'node'
      ? await run(process.execPath, ['--expose-gc', '--import', 'tsx', file, ...extra])
      : runtime === 'bun'
        ? await run(bin('bun'), [file, ...extra])
        : await run(bin('deno'), ['run', '-A', '--v8-flags=--expose-gc', file, ...extra])
  micro[runtime] = lastJsonLine<MicroResult[]>(out)
}
for (const [runtime, results] of Object.entries(micro)) {
  for (const r of results ?? []) {
    if (r.ratio !== undefined) {
      rows.push({
        figure: `${runtime}: ${r.name}`,
        value: `${r.ratio.toFixed(2)}× (${r.detail ?? ''})`,
        target: r.ratioTarget === undefined ? '(information)' : `≤ ${r.ratioTarget}×`,
        met: r.ratioTarget === undefined ? null : r.ratio <= r.ratioTarget,
      })
      continue
    }
    rows.push({
      figure: `${runtime}: ${r.name}`,
      value: `${r.us.toFixed(1)} µs`,
      target: r.target === undefined ? '' : `≤ ${r.target} µs`,
      met: r.target === undefined ? null : r.us <= r.target,
    })
  }
}

// HTTP: each variant's server CPU per request and RPS; certgate against its anchors.
const httpSettings = { seconds: Number(flag('seconds') ?? (smoke ? 1 : 2)), rounds: Number(flag('rounds') ?? (smoke ? 1 : 7)) }
let http: HttpRun | null = null
const FRAMEWORK_NAMES: Record<Framework, string> = { hono: 'Hono', express: 'Express', fastify: 'Fastify' }
const VARIANT_LABELS: Record<Variant, string> = {
  bare: 'bare',
  noop: '+ a no-op async middleware (the floor)',
  'naive-map': '+ hand-written Map keyed by header text',
  'cold-check': '+ hand-written cold check on every request',
  warm: '+ certgate, returning client',
  cold: '+ certgate, new certificate every request',
}
if (!part('http')) {
  // Not asked for.
} else if (findWrk() === null) {
  rows.push({ figure: 'HTTP', value: 'skipped: wrk not found and not installable', target: '', met: null })
} else {
  const { seconds, rounds } = httpSettings
  log(`HTTP benchmarks (${runtimes.join(', ')}), wrk -t1 -c50, ${rounds} rounds of ${seconds} s per variant…`)
  http = await runHttp({ runtimes, seconds, rounds, poolSize: smoke ? 2000 : 40_000, warmUpSeconds: smoke ? 0 : 1, onRun: log })
  const ORDER: Variant[] = ['bare', 'noop', 'warm', 'naive-map', 'cold-check', 'cold']
  for (const runtime of runtimes) {
    const mine = http.results.filter((x) => x.runtime === runtime)
    // Shown anchor first, then what is compared with it; measured in bench/http.ts's round order.
    const shown = mine.filter((x) => x.framework === 'hono').sort((a, b) => ORDER.indexOf(a.variant) - ORDER.indexOf(b.variant))
    for (const r of [...shown, ...mine.filter((x) => x.framework !== 'hono')]) {
      const name = FRAMEWORK_NAMES[r.framework]
      const label = r.variant === 'bare' ? `bare ${name}` : `${name} ${VARIANT_LABELS[r.variant]}`
      const rel = r.variant === 'bare' ? '' : `, ${r.ratio.toFixed(2)}× bare rps`
      rows.push({
        figure: `${runtime}: HTTP ${label}`,
        value: `${r.cpuUsPerRequest.toFixed(1)} µs CPU/req, ${Math.round(r.rps).toLocaleString('en')} rps${rel}${r.non2xx ? `, ${r.non2xx} non-2xx!` : ''}`,
        target: '',
        met: r.non2xx === 0 ? null : false,
      })
    }
    for (const c of http.comparisons.filter((x) => x.runtime === runtime)) rows.push(comparisonRow(c, http.results))
  }
}

/** A comparison's row: the target, where there is one, on the CPU figure. */
function comparisonRow(c: HttpComparison, results: HttpResult[]): Row {
  const of = (v: Variant): HttpResult => results.find((r) => r.runtime === c.runtime && r.framework === c.framework && r.variant === v)!
  const [s, a] = [of(c.subject), of(c.anchor)]
  const clean = s.non2xx === 0 && a.non2xx === 0
  const cpus = `${s.cpuUsPerRequest.toFixed(1)} vs ${a.cpuUsPerRequest.toFixed(1)} µs CPU/req; rps ${c.rpsRatio.toFixed(2)}×`
  const name = FRAMEWORK_NAMES[c.framework]
  if (c.subject === 'cold' && c.anchor === 'cold-check') {
    const times = 1 / c.efficiency
    return {
      figure: `${c.runtime}: TARGET new certificate: certgate CPU ÷ cold check`,
      value: `${times.toFixed(2)}× (${cpus})`,
      target: '≤ 1.25×',
      met: times <= 1.25 && clean,
    }
  }
  if (c.subject === 'warm' && c.anchor === 'noop') {
    return {
      figure: `${c.runtime}: TARGET returning client: certgate efficiency vs no-op`,
      value: `${c.efficiency.toFixed(3)} (${cpus})`,
      target: '≥ 0.97',
      met: c.efficiency >= 0.97 && clean,
    }
  }
  const what = c.anchor === 'naive-map' ? 'returning client: certgate efficiency vs naive Map' : `${c.subject} efficiency vs ${c.anchor}`
  return { figure: `${c.runtime}: ${name} ${what}`, value: `${c.efficiency.toFixed(3)} (${cpus})`, target: '', met: clean ? null : false }
}

// Memory under the attacker's pattern.
const requests = smoke ? 20_000 : 1_000_000
type MemoryResult = { growthMb: number; rssAfterWarmUpMb: number; rssAtEndMb: number; rssPeakMb: number; failures: number; seconds: number }
let memory: MemoryResult | null = null
if (part('memory')) {
  log(`memory: ${requests} requests with new certificates…`)
  memory = lastJsonLine<MemoryResult>(
    await run(process.execPath, ['--expose-gc', '--import', 'tsx', join('bench', 'memory.ts'), String(requests)])
  )
  rows.push({
    figure: `node: RSS growth over ${requests.toLocaleString('en')} new certificates`,
    value: `${memory.growthMb.toFixed(1)} MB (${memory.rssAfterWarmUpMb.toFixed(0)} → ${memory.rssAtEndMb.toFixed(0)} MB, peak ${memory.rssPeakMb.toFixed(0)}, ${memory.failures} failures, ${memory.seconds.toFixed(0)} s)`,
    target: '≤ 64 MB',
    met: memory.growthMb <= 64 && memory.failures === 0,
  })
}

// The verdict cache under floods: an idle returning client's survival, and the hit cost.
let eviction: EvictionResult | null = null
if (part('eviction')) {
  log('cache eviction: an idle returning client against floods of certificates…')
  eviction = lastJsonLine<EvictionResult>(
    await run(process.execPath, ['--import', 'tsx', join('bench', 'cache-eviction.ts'), ...(smoke ? ['--smoke'] : [])])
  )
  for (const sends of new Set(eviction.survival.map((s) => s.sends))) {
    const runs = eviction.survival.filter((s) => s.sends === sends)
    const largest = Math.max(...runs.map((s) => s.flood))
    const evictedBy = runs.find((s) => !s.survived)?.flood
    rows.push({
      figure: `node: idle client (${eviction.legitRequests} requests) vs distinct certificates sent ${sends}× each`,
      value: evictedBy === undefined ? `still cached after ${largest.toLocaleString('en')}` : `evicted by ${evictedBy.toLocaleString('en')}`,
      target: `cached after ${largest.toLocaleString('en')}`,
      met: evictedBy === undefined,
    })
  }
  rows.push({ figure: 'node: verify, cache hit after the largest flood (Request reused)', value: `${eviction.hitUs.toFixed(1)} µs`, target: '', met: null })
  rows.push({ figure: 'node: BoundedCache.get, resident key', value: `${eviction.getNs.toFixed(0)} ns`, target: '', met: null })
}

const report = JSON.stringify({ machine, smoke, httpSettings, rows, micro, http, memory, eviction }, null, 2)
// The last run's JSON stays in .bench/ whichever way it printed, for tables written afterwards.
writeFileSync(join('.bench', 'last-run.json'), `${report}\n`)
if (json) {
  console.log(report)
} else {
  const width = Math.max(...rows.map((r) => r.figure.length))
  const valueWidth = Math.max(...rows.map((r) => r.value.length))
  console.log(`\ncertgate benchmarks — ${machineLine}${smoke ? ' (smoke run: figures not meaningful)' : ''}\n`)
  for (const r of rows) {
    const mark = r.met === null ? ' ' : r.met ? '✓' : '✗'
    console.log(`${mark} ${r.figure.padEnd(width)}  ${r.value.padEnd(valueWidth)}  ${r.target}`)
  }
  if (http !== null) {
    const { seconds, rounds } = httpSettings
    console.log(
      `\nHTTP: wrk -t1 -c50, ${rounds} rounds of ${seconds} s per variant, alternated (order reversed every other round); ` +
        `figures are medians over rounds. CPU/req = the server process's utime + stime (/proc/<pid>/stat fields 14 + 15, all threads, ` +
        `CLK_TCK ${http.clockTicks}; pid checked to be ${Object.values(http.processes).join(', ')}) over a run ÷ requests wrk completed. ` +
        `Targets: median over rounds of the ratio between two variants measured next to each other. ` +
        `New certificates: a pool of ${http.poolSize.toLocaleString('en')}, rotated without repeats between runs.`
    )
  }
  if (micro.node?.some((r) => r.ratio !== undefined)) {
    console.log(
      'Chain: process CPU (all threads) per verification, median of rounds, cache: false; WebCrypto: crypto.subtle.verify of leaf by intermediate ' +
        'and intermediate by root, both keys imported once. Steady state (the target): one verifier whose pool holds the intermediate\'s key; each ' +
        'call brings a new leaf and a reissue of the intermediate (same key, own serial) it never saw, so both signatures are checked (a meter asserts 2). ' +
        'Strict: a new trust verifier per call, primed by a request under another intermediate (root key imported), so the call imports the ' +
        'intermediate\'s key too; compared also with WebCrypto importing that key each call.'
    )
  }
  console.log(`total ${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min`)
}
