/**
 * HTTP benchmark: wrk (one thread, 50 connections) against one server process per variant, in
 * Node, Bun and Deno. Hono variants: bare, an empty async middleware (`noop`), the hand-written
 * anchors of bench/anchors.ts (`naive-map`, `cold-check`), and certgate with a returning client
 * (`warm`: one certificate, repeated) and with a new certificate on every request (`cold`). On
 * Node also bare Express 5 and Fastify 5 against their certgate adapters.
 *
 * Variants alternate within one run, in rounds, each certgate variant right after its anchor, the
 * order reversed every other round so that drift cancels. The figure that matters is the server's
 * own CPU time per request: utime + stime of the server process (all its threads) from
 * /proc/<pid>/stat fields 14 and 15, in clock ticks (`getconf CLK_TCK`), over one wrk run, divided
 * by the requests wrk completed. Throughput swings ±30% between rounds on a shared machine; CPU per
 * request much less. Each figure is the median over rounds; a comparison is the median of the
 * per-round ratios of two variants measured next to each other.
 *
 * New certificates: wrk's Lua script rotates through a pool of distinct certificates, starting
 * where the previous run against the same certgate server stopped, so a certificate comes back
 * only after the whole pool (40,000 ≥ twice what the verdict cache and its admission filter can
 * remember): never a cache hit. The cold-check anchor gets the same stream from the same offset.
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { envoyHeader, makeTemplate, variantDer } from './fixtures.ts'

export type Runtime = 'node' | 'bun' | 'deno'

export type Framework = 'hono' | 'express' | 'fastify'
/**
 * bare: the framework alone; noop: Hono with an empty async middleware; naive-map, cold-check:
 * the hand-written anchors; warm/cold: certgate with a returning client / a new certificate each request.
 */
export type Variant = 'bare' | 'noop' | 'naive-map' | 'cold-check' | 'warm' | 'cold'

export interface HttpResult {
  runtime: Runtime
  framework: Framework
  variant: Variant
  /** Requests per second, median over rounds. */
  rps: number
  /** Server CPU time per request, µs (user + system, all threads, from /proc), median over rounds. */
  cpuUsPerRequest: number
  non2xx: number
  /** Requests wrk completed over all rounds. */
  requests: number
  rpsSamples: number[]
  cpuUsSamples: number[]
  /** Requests per second against the same framework's bare server in the same run. */
  ratio: number
  /** Server CPU per request against the same framework's bare server in the same run. */
  cpuRatio: number
}

/** Two variants measured next to each other in every round. */
export interface HttpComparison {
  runtime: Runtime
  framework: Framework
  subject: Variant
  anchor: Variant
  /** Median over rounds of anchor CPU/request ÷ subject CPU/request (1 = as cheap as the anchor). */
  efficiency: number
  /** Median over rounds of subject RPS ÷ anchor RPS. */
  rpsRatio: number
}

export interface HttpRun {
  results: HttpResult[]
  comparisons: HttpComparison[]
  /** What each runtime's server process was, checked by /proc/<pid>/comm. */
  processes: Partial<Record<Runtime, string>>
  clockTicks: number
  poolSize: number
}

// Requests are formatted once, in init; request() only picks the next one.
const WRK_SCRIPT = `
local requests = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format('GET', '/cert-info', { ['X-Forwarded-Client-Cert'] = line })
  end
  i = tonumber(args[2] or '0') % #requests
end
request = function()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
`

/** The server's command: the runtime's own binary, never a wrapper, so the pid is the server. */
function serverCommand(runtime: Runtime, variant: string, port: number): [string, string[]] {
  const file = join('bench', 'server.ts')
  // node_modules/.bin links straight to the native executables (checked by processName below).
  if (runtime === 'bun') return [join('node_modules', '.bin', 'bun'), [file, variant, String(port)]]
  if (runtime === 'deno') return [join('node_modules', '.bin', 'deno'), ['run', '-A', file, variant, String(port)]]
  return [process.execPath, ['--import', 'tsx', file, variant, String(port)]]
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface Server {
  child: ChildProcess
  port: number
  /** Requests sent to it so far: where the next run's rotation starts. */
  sent: number
}

/** Starts one server variant and waits for "listening"; checks that its pid is the runtime itself. */
export async function startServer(runtime: Runtime, variant: string, extraArgs: string[] = []): Promise<Server> {
  const port = await freePort()
  const [cmd, args] = serverCommand(runtime, variant, port)
  const child = spawn(cmd, [...extraArgs, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} ${variant} server did not start`)), 30_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => reject(new Error(`${runtime} ${variant} server exited with ${code}`)))
  })
  const comm = processName(child.pid!)
  const children = childPids(child.pid!)
  if (!comm.startsWith(runtime) || children.length > 0) {
    child.kill()
    throw new Error(`${runtime} ${variant}: pid ${child.pid} is "${comm}" with children [${children}]: its CPU would not be the server's`)
  }
  return { child, port, sent: 0 }
}

/** The pids a process started, over all its threads (/proc/<pid>/task/<tid>/children). */
function childPids(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(' ').filter(Boolean),
  )
}

export function processName(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
}

let ticks = 0
/** Clock ticks per second for /proc times (`getconf CLK_TCK`; 100 on Linux in practice). */
export function clockTicks(): number {
  if (ticks === 0) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticks = 100
    }
  }
  return ticks
}

/** utime + stime of the whole process (every thread), seconds: /proc/<pid>/stat fields 14 and 15. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces: field 3 is [0].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / clockTicks()
}

export interface WrkRun {
  rps: number
  requests: number
  non2xx: number
  errors: number
}

/**
 * This process's scratch directory: the request files and wrk's script, apart from another
 * bench running at the same time. {@link removeScratch} deletes it.
 */
export const SCRATCH = join('.bench', `http-${process.pid}`)

export function removeScratch(): void {
  rmSync(SCRATCH, { recursive: true, force: true })
}

/** One wrk run: -t1 -c50, the request file's lines rotated from `offset`. */
export async function wrk(port: number, requestsFile: string, seconds: number, offset = 0): Promise<WrkRun> {
  const script = join(SCRATCH, 'requests.lua')
  mkdirSync(SCRATCH, { recursive: true })
  writeFileSync(script, WRK_SCRIPT)
  const args = ['-t1', '-c50', `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}/cert-info`, '--', requestsFile, String(offset)]
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (d: Buffer) => (text += d))
    child.once('error', reject)
    child.once('exit', () => resolve(text))
  })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const errors = socket === null ? 0 : socket.slice(1).reduce((s, n) => s + Number(n), 0)
  return { rps, requests, non2xx, errors }
}

/** Writes the request files: one returning client, and a pool of distinct new certificates. */
export async function writeRequestFiles(poolSize: number): Promise<{ warm: string; cold: string }> {
  const template = await makeTemplate('RSA-2048')
  const subject = template.cert.subjectRfc4514
  mkdirSync(SCRATCH, { recursive: true })
  const files = { warm: join(SCRATCH, 'warm.txt'), cold: join(SCRATCH, 'cold.txt') }
  writeFileSync(files.warm, `${envoyHeader(variantDer(template, 0xffff0000), subject)}\n`)
  const cold = Array.from({ length: poolSize }, (_, i) => envoyHeader(variantDer(template, i), subject))
  writeFileSync(files.cold, `${cold.join('\n')}\n`)
  return files
}

export interface HttpOptions {
  runtimes: Runtime[]
  seconds: number
  rounds: number
  /** Distinct certificates for the `cold` variants (default 40,000). */
  poolSize?: number
  /** Frameworks besides Hono to measure; they run on Node only. Default: Express and Fastify. */
  frameworks?: Exclude<Framework, 'hono'>[]
  /** Seconds of untimed load per variant before the rounds (JIT, connections); default 1, 0 skips. */
  warmUpSeconds?: number
  /** Called after each wrk run (progress). */
  onRun?: (line: string) => void
}

interface Target {
  framework: Framework
  variant: Variant
  server: string
  file: 'warm' | 'cold'
}

/** What runs on a runtime, in round order: each certgate variant right after its anchor. */
function targetsFor(runtime: Runtime, frameworks: Exclude<Framework, 'hono'>[]): Target[] {
  const list: Target[] = [
    { framework: 'hono', variant: 'bare', server: 'bare', file: 'warm' },
    { framework: 'hono', variant: 'naive-map', server: 'naive-map', file: 'warm' },
    { framework: 'hono', variant: 'noop', server: 'noop', file: 'warm' },
    { framework: 'hono', variant: 'warm', server: 'certgate', file: 'warm' },
    { framework: 'hono', variant: 'cold', server: 'certgate', file: 'cold' },
    { framework: 'hono', variant: 'cold-check', server: 'cold-check', file: 'cold' },
  ]
  if (runtime !== 'node') return list
  for (const framework of frameworks) {
    list.push(
      { framework, variant: 'bare', server: `${framework}-bare`, file: 'warm' },
      { framework, variant: 'warm', server: `${framework}-certgate`, file: 'warm' },
      { framework, variant: 'cold', server: `${framework}-certgate`, file: 'cold' },
    )
  }
  return list
}

/** The pairs compared, subject against anchor; both are measured next to each other. */
const COMPARISONS: ReadonlyArray<readonly [Variant, Variant]> = [
  ['warm', 'noop'],
  ['warm', 'naive-map'],
  ['cold', 'cold-check'],
  ['noop', 'bare'],
]

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface Sample {
  rps: number
  cpuUs: number
  requests: number
  non2xx: number
}

/** Medians per variant, against the same framework's bare server. */
function summarize(runtime: Runtime, samples: Map<Target, Sample[]>): HttpResult[] {
  const targets = [...samples.keys()]
  return targets.map((t) => {
    const list = samples.get(t)!
    const bare = samples.get(targets.find((b) => b.framework === t.framework && b.variant === 'bare')!)!
    const rps = median(list.map((s) => s.rps))
    const cpuUs = median(list.map((s) => s.cpuUs))
    return {
      runtime,
      framework: t.framework,
      variant: t.variant,
      rps,
      cpuUsPerRequest: cpuUs,
      non2xx: list.reduce((s, x) => s + x.non2xx, 0),
      requests: list.reduce((s, x) => s + x.requests, 0),
      rpsSamples: list.map((s) => Math.round(s.rps)),
      cpuUsSamples: list.map((s) => Number(s.cpuUs.toFixed(1))),
      ratio: rps / median(bare.map((s) => s.rps)),
      cpuRatio: cpuUs / median(bare.map((s) => s.cpuUs)),
    }
  })
}

/** The paired comparisons: per round, subject against the anchor measured next to it; medians. */
function compare(runtime: Runtime, samples: Map<Target, Sample[]>): HttpComparison[] {
  const targets = [...samples.keys()]
  const comparisons: HttpComparison[] = []
  for (const framework of new Set(targets.map((t) => t.framework))) {
    for (const [subject, anchor] of COMPARISONS) {
      const s = targets.find((t) => t.framework === framework && t.variant === subject)
      const a = targets.find((t) => t.framework === framework && t.variant === anchor)
      if (s === undefined || a === undefined) continue
      const ss = samples.get(s)!
      const as = samples.get(a)!
      comparisons.push({
        runtime,
        framework,
        subject,
        anchor,
        efficiency: median(ss.map((x, i) => as[i]!.cpuUs / x.cpuUs)),
        rpsRatio: median(ss.map((x, i) => x.rps / as[i]!.rps)),
      })
    }
  }
  return comparisons
}

/** Starts one server per variant name, all at once; kills the started ones if one fails. */
async function startAll(runtime: Runtime, targets: Target[]): Promise<Map<string, Server>> {
  const names = [...new Set(targets.map((t) => t.server))]
  const started = await Promise.allSettled(names.map((name) => startServer(runtime, name)))
  const servers = new Map<string, Server>()
  started.forEach((s, i) => s.status === 'fulfilled' && servers.set(names[i]!, s.value))
  const failed = started.find((s) => s.status === 'rejected')
  if (failed === undefined) return servers
  for (const server of servers.values()) server.child.kill()
  throw (failed as PromiseRejectedResult).reason
}

/** Runs every runtime's variants in alternating rounds; medians per variant and paired comparisons. */
export async function runHttp(options: HttpOptions): Promise<HttpRun> {
  const poolSize = options.poolSize ?? 40_000
  const files = await writeRequestFiles(poolSize)
  const results: HttpResult[] = []
  const comparisons: HttpComparison[] = []
  const processes: HttpRun['processes'] = {}
  for (const runtime of options.runtimes) {
    const targets = targetsFor(runtime, options.frameworks ?? ['express', 'fastify'])
    const servers = await startAll(runtime, targets)
    try {
      processes[runtime] = processName(servers.get('bare')!.child.pid!)
      // Where each framework's certgate server is in the new-certificate pool at the start of a
      // round: its cold run and the cold-check anchor's both start there, the same stream.
      const coldOffsets = (): Map<Framework, number> =>
        new Map(targets.filter((t) => t.variant === 'cold').map((t) => [t.framework, servers.get(t.server)!.sent]))
      const measure = async (t: Target, seconds: number, offsets: Map<Framework, number>): Promise<Sample> => {
        const server = servers.get(t.server)!
        const offset = t.file === 'warm' ? 0 : offsets.get(t.framework)!
        const before = cpuSeconds(server.child.pid!)
        const run = await wrk(server.port, files[t.file], seconds, offset)
        const cpu = cpuSeconds(server.child.pid!) - before
        // In flight when wrk stopped: sent, not counted; 50 more keeps the rotation ahead.
        if (t.variant === 'cold') server.sent += run.requests + 50
        if (run.errors > 0) options.onRun?.(`  ${runtime} ${t.server}: ${run.errors} socket errors`)
        return { rps: run.rps, cpuUs: (cpu * 1e6) / Math.max(1, run.requests), requests: run.requests, non2xx: run.non2xx }
      }
      // Warm-up: JIT, caches, connections.
      const warmUpOffsets = coldOffsets()
      const warmUp = options.warmUpSeconds ?? 1
      if (warmUp > 0) for (const t of targets) await measure(t, warmUp, warmUpOffsets)
      const samples = new Map<Target, Sample[]>(targets.map((t) => [t, []]))
      for (let round = 0; round < options.rounds; round++) {
        const order = round % 2 === 0 ? targets : [...targets].reverse()
        const offsets = coldOffsets()
        for (const t of order) samples.get(t)!.push(await measure(t, options.seconds, offsets))
        options.onRun?.(`  ${runtime}: round ${round + 1}/${options.rounds} done`)
      }
      results.push(...summarize(runtime, samples))
      comparisons.push(...compare(runtime, samples))
    } finally {
      for (const server of servers.values()) server.child.kill()
    }
  }
  removeScratch()
  return { results, comparisons, processes, clockTicks: clockTicks(), poolSize }
}
