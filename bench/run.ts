/**
 * `npm run bench`: micro benchmarks in Node, Bun and Deno; HTTP ratios against bare Hono in each (and against bare Express and Fastify on Node);
 * memory under a million new certificates; the verdict cache under floods of certificates each
 * sent a few times (does an idle returning client stay cached?). Prints one table of figures next to their targets;
 * `--json` prints the same as JSON; `--smoke` runs a short version that only proves it works.
 * `--only=micro,http,memory,eviction` runs only those parts, `--runtimes=node,bun,deno` only those
 * runtimes, `--seconds=N` and `--rounds=N` set each HTTP measurement's length and repeats.
 * @module
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { type Framework, type HttpResult, type Runtime, runHttp } from './http.ts'
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

// Micro benchmarks, one process per runtime.
const micro: Partial<Record<Runtime, MicroResult[]>> = {}
for (const runtime of part('micro') ? runtimes : []) {
  log(`micro benchmarks on ${runtime}…`)
  const file = join('bench', 'micro-main.ts')
  const extra = smoke ? ['--smoke'] : []
  const out =
    runtime === 'node'
      ? await run(process.execPath, ['--import', 'tsx', file, ...extra])
      : runtime === 'bun'
        ? await run(bin('bun'), [file, ...extra])
        : await run(bin('deno'), ['run', '-A', file, ...extra])
  micro[runtime] = lastJsonLine<MicroResult[]>(out)
}
for (const [runtime, results] of Object.entries(micro)) {
  for (const r of results ?? []) {
    rows.push({
      figure: `${runtime}: ${r.name}`,
      value: `${r.us.toFixed(1)} µs`,
      target: r.target === undefined ? '' : `≤ ${r.target} µs`,
      met: r.target === undefined ? null : r.us <= r.target,
    })
  }
}

// HTTP ratios against each framework's bare server.
let http: HttpResult[] = []
const FRAMEWORK_NAMES: Record<Framework, string> = { hono: 'Hono', express: 'Express', fastify: 'Fastify' }
if (!part('http')) {
  // Not asked for.
} else if (findWrk() === null) {
  rows.push({ figure: 'HTTP ratios', value: 'skipped: wrk not found and not installable', target: '', met: null })
} else {
  log(`HTTP benchmarks (${runtimes.join(', ')}), wrk -t1 -c50…`)
  const seconds = Number(flag('seconds') ?? (smoke ? 1 : 10))
  const rounds = Number(flag('rounds') ?? (smoke ? 1 : 2))
  http = await runHttp({ runtimes, seconds, rounds, coldCertificates: smoke ? 2000 : 30_000 })
  for (const r of http) {
    // The targets are Hono's; Express and Fastify are measured against their own bare servers.
    const target = r.framework !== 'hono' ? null : r.variant === 'warm' ? 0.95 : r.variant === 'cold' ? 0.5 : null
    const name = FRAMEWORK_NAMES[r.framework]
    const label = {
      bare: `bare ${name}`,
      noop: `${name} + a no-op async middleware (the floor for any middleware)`,
      warm: `${name} + certgate, returning clients`,
      cold: `${name} + certgate, new certificate every request`,
    }[r.variant]
    const cpuRatio = r.variant === 'bare' ? '' : `, CPU/req ${r.cpuRatio.toFixed(2)}×`
    rows.push({
      figure: `${r.runtime}: HTTP ${label}`,
      value: `${r.ratio.toFixed(2)}× rps${cpuRatio} (${Math.round(r.rps)} rps, ${r.cpuUsPerRequest.toFixed(0)} µs CPU/req${r.non2xx ? `, ${r.non2xx} non-2xx!` : ''})`,
      target: target === null ? (r.variant === 'bare' ? 'baseline' : '') : `≥ ${target}×`,
      met: target === null ? null : r.ratio >= target && r.non2xx === 0,
    })
  }
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

const machine = `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${started.toISOString().slice(0, 10)}`
if (json) {
  console.log(JSON.stringify({ machine, smoke, rows, micro, http, memory, eviction }, null, 2))
} else {
  const width = Math.max(...rows.map((r) => r.figure.length))
  const valueWidth = Math.max(...rows.map((r) => r.value.length))
  console.log(`\ncertgate benchmarks — ${machine}${smoke ? ' (smoke run: figures not meaningful)' : ''}\n`)
  for (const r of rows) {
    const mark = r.met === null ? ' ' : r.met ? '✓' : '✗'
    console.log(`${mark} ${r.figure.padEnd(width)}  ${r.value.padEnd(valueWidth)}  ${r.target}`)
  }
}
