/**
 * HTTP benchmark: wrk against bare Hono and against the certgate middleware, with returning
 * clients (10 certificates, warm cache) and cold ones (a new certificate on every request), in
 * Node, Bun and Deno; on Node also bare Express 5 and Fastify 5 against their certgate adapters.
 * Variants alternate within one run, and ratios are taken against the same framework's bare
 * server measured in the same run: absolute numbers drift ±30% on a shared machine, ratios do not.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { envoyHeader, makeTemplate, variantDer } from './fixtures.ts'

export type Runtime = 'node' | 'bun' | 'deno'

export type Framework = 'hono' | 'express' | 'fastify'
/** bare: the framework alone; noop: Hono with an empty middleware; warm/cold: certgate with returning/new certificates. */
export type Variant = 'bare' | 'noop' | 'warm' | 'cold'

export interface HttpResult {
  runtime: Runtime
  framework: Framework
  variant: Variant
  rps: number
  /** Server CPU time per request, µs (user + system, from /proc). */
  cpuUsPerRequest: number
  non2xx: number
  /** Requests per second against the same framework's bare server in the same run. */
  ratio: number
  /** Server CPU per request against the same framework's bare server in the same run. */
  cpuRatio: number
}

const WRK_SCRIPT = `
local headers = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do headers[#headers + 1] = line end
end
request = function()
  i = i + 1
  if i > #headers then i = 1 end
  return wrk.format('GET', '/cert-info', { ['X-Forwarded-Client-Cert'] = headers[i] })
end
`

function serverCommand(runtime: Runtime, variant: string, port: number): [string, string[]] {
  const file = join('bench', 'server.ts')
  if (runtime === 'bun') return [join('node_modules', '.bin', 'bun'), [file, variant, String(port)]]
  if (runtime === 'deno') return [join('node_modules', '.bin', 'deno'), ['run', '-A', file, variant, String(port)]]
  return [process.execPath, ['--import', 'tsx', file, variant, String(port)]]
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function startServer(runtime: Runtime, variant: string): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort()
  const [cmd, args] = serverCommand(runtime, variant, port)
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } })
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
  return { child, port }
}

function cpuSeconds(pid: number): number {
  // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (100 per second here).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function wrk(port: number, headersFile: string, seconds: number): Promise<{ rps: number; requests: number; non2xx: number }> {
  const args = ['-t1', '-c50', `-d${seconds}s`, '-s', join('.bench', 'headers.lua'), `http://127.0.0.1:${port}/cert-info`, '--', headersFile]
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
  return { rps, requests, non2xx }
}

export interface HttpOptions {
  runtimes: Runtime[]
  seconds: number
  rounds: number
  coldCertificates: number
  /** Frameworks besides Hono to measure; they run on Node only. Default: Express and Fastify. */
  frameworks?: Exclude<Framework, 'hono'>[]
}

interface Target {
  framework: Framework
  variant: Variant
  server: string
  file: string
}

/** What runs on a runtime: each framework bare, and with certgate for returning and new certificates. */
function targetsFor(runtime: Runtime, frameworks: Exclude<Framework, 'hono'>[], files: { warm: string; cold: string }): Target[] {
  const list: Target[] = [
    { framework: 'hono', variant: 'bare', server: 'bare', file: files.warm },
    { framework: 'hono', variant: 'noop', server: 'noop', file: files.warm },
    { framework: 'hono', variant: 'warm', server: 'certgate', file: files.warm },
    { framework: 'hono', variant: 'cold', server: 'certgate', file: files.cold },
  ]
  if (runtime !== 'node') return list
  for (const framework of frameworks) {
    list.push(
      { framework, variant: 'bare', server: `${framework}-bare`, file: files.warm },
      { framework, variant: 'warm', server: `${framework}-certgate`, file: files.warm },
      { framework, variant: 'cold', server: `${framework}-certgate`, file: files.cold },
    )
  }
  return list
}

/**
 * Runs every runtime's variants, alternating, and returns the mean per variant with its ratios
 * against the same framework's bare server.
 */
export async function runHttp(options: HttpOptions): Promise<HttpResult[]> {
  const template = await makeTemplate('RSA-2048')
  const subject = template.cert.subjectRfc4514
  const warm = Array.from({ length: 10 }, (_, i) => envoyHeader(variantDer(template, 0xffff0000 + i), subject))
  // More distinct certificates than the cache holds (10,000), so every request misses.
  const cold = Array.from({ length: options.coldCertificates }, (_, i) => envoyHeader(variantDer(template, i), subject))
  writeFileSync(join('.bench', 'headers.lua'), WRK_SCRIPT)
  const files = { warm: join('.bench', 'warm.txt'), cold: join('.bench', 'cold.txt') }
  writeFileSync(files.warm, `${warm.join('\n')}\n`)
  writeFileSync(files.cold, `${cold.join('\n')}\n`)

  const results: HttpResult[] = []
  for (const runtime of options.runtimes) {
    const targets = targetsFor(runtime, options.frameworks ?? ['express', 'fastify'], files)
    const servers = new Map<string, { child: ChildProcess; port: number }>()
    try {
      for (const { server } of targets) if (!servers.has(server)) servers.set(server, await startServer(runtime, server))
      for (const t of targets) await wrk(servers.get(t.server)!.port, t.file, 2)
      const samples = new Map<Target, { rps: number; cpu: number; requests: number; non2xx: number }[]>()
      for (let round = 0; round < options.rounds; round++) {
        for (const t of targets) {
          const { child, port } = servers.get(t.server)!
          const cpuBefore = cpuSeconds(child.pid!)
          const run = await wrk(port, t.file, options.seconds)
          const cpu = cpuSeconds(child.pid!) - cpuBefore
          samples.set(t, [...(samples.get(t) ?? []), { ...run, cpu }])
        }
      }
      const mean = (t: Target): { rps: number; cpuUs: number; non2xx: number } => {
        const list = samples.get(t)!
        const requests = list.reduce((s, x) => s + x.requests, 0)
        return {
          rps: list.reduce((s, x) => s + x.rps, 0) / list.length,
          cpuUs: (list.reduce((s, x) => s + x.cpu, 0) * 1e6) / Math.max(1, requests),
          non2xx: list.reduce((s, x) => s + x.non2xx, 0),
        }
      }
      for (const t of targets) {
        const m = mean(t)
        const bare = mean(targets.find((b) => b.framework === t.framework && b.variant === 'bare')!)
        results.push({
          runtime,
          framework: t.framework,
          variant: t.variant,
          rps: m.rps,
          cpuUsPerRequest: m.cpuUs,
          non2xx: m.non2xx,
          ratio: m.rps / bare.rps,
          cpuRatio: m.cpuUs / bare.cpuUs,
        })
      }
    } finally {
      for (const server of servers.values()) server.child.kill()
    }
  }
  return results
}
