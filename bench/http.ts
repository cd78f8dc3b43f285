/**
 * HTTP benchmark: wrk against bare Hono and against the certgate middleware, with returning
 * clients (10 certificates, warm cache) and cold ones (a new certificate on every request), in
 * Node, Bun and Deno. Variants alternate within one run, and ratios are taken against the bare
 * Hono measured in the same run: absolute numbers drift ±30% on a shared machine, ratios do not.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { envoyHeader, makeTemplate, variantDer } from './fixtures.ts'

export type Runtime = 'node' | 'bun' | 'deno'

export interface HttpResult {
  runtime: Runtime
  variant: 'bare' | 'noop' | 'warm' | 'cold'
  rps: number
  /** Server CPU time per request, µs (user + system, from /proc). */
  cpuUsPerRequest: number
  non2xx: number
  ratio: number
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
}

/** Runs every runtime's variants, alternating, and returns the mean per variant with its ratio. */
export async function runHttp(options: HttpOptions): Promise<HttpResult[]> {
  const template = await makeTemplate('RSA-2048')
  const subject = template.cert.subjectRfc4514
  const warm = Array.from({ length: 10 }, (_, i) => envoyHeader(variantDer(template, 0xffff0000 + i), subject))
  // More distinct certificates than the cache holds (10,000), so every request misses.
  const cold = Array.from({ length: options.coldCertificates }, (_, i) => envoyHeader(variantDer(template, i), subject))
  writeFileSync(join('.bench', 'headers.lua'), WRK_SCRIPT)
  const files = { bare: join('.bench', 'warm.txt'), noop: join('.bench', 'warm.txt'), warm: join('.bench', 'warm.txt'), cold: join('.bench', 'cold.txt') }
  writeFileSync(files.warm, `${warm.join('\n')}\n`)
  writeFileSync(files.cold, `${cold.join('\n')}\n`)

  const results: HttpResult[] = []
  for (const runtime of options.runtimes) {
    const bare = await startServer(runtime, 'bare')
    const noop = await startServer(runtime, 'noop')
    const gated = await startServer(runtime, 'certgate')
    try {
      const targets = { bare, noop, warm: gated, cold: gated } as const
      const variants = ['bare', 'noop', 'warm', 'cold'] as const
      for (const variant of variants) await wrk(targets[variant].port, files[variant], 2)
      const samples = new Map<string, { rps: number; cpu: number; requests: number; non2xx: number }[]>()
      for (let round = 0; round < options.rounds; round++) {
        for (const variant of variants) {
          const { child, port } = targets[variant]
          const cpuBefore = cpuSeconds(child.pid!)
          const run = await wrk(port, files[variant], options.seconds)
          const cpu = cpuSeconds(child.pid!) - cpuBefore
          samples.set(variant, [...(samples.get(variant) ?? []), { ...run, cpu }])
        }
      }
      const mean = (variant: string): { rps: number; cpuUs: number; non2xx: number } => {
        const list = samples.get(variant)!
        const requests = list.reduce((s, x) => s + x.requests, 0)
        return {
          rps: list.reduce((s, x) => s + x.rps, 0) / list.length,
          cpuUs: (list.reduce((s, x) => s + x.cpu, 0) * 1e6) / Math.max(1, requests),
          non2xx: list.reduce((s, x) => s + x.non2xx, 0),
        }
      }
      const baseline = mean('bare').rps
      for (const variant of variants) {
        const m = mean(variant)
        results.push({ runtime, variant, rps: m.rps, cpuUsPerRequest: m.cpuUs, non2xx: m.non2xx, ratio: m.rps / baseline })
      }
    } finally {
      for (const server of [bare, noop, gated]) server.child.kill()
    }
  }
  return results
}

