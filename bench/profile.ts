/**
 * `npm run bench:profile`: CPU profiles of the Node server with certgate (bench/server.ts
 * `certgate`, on the built dist/) under wrk load: first a new certificate on every request, then a
 * returning client. Each phase: a fresh server, 2 s of untimed load, then V8's sampling profiler
 * (started through node:inspector, so start-up is left out) for `--seconds` of load; prints the
 * server's CPU per request and the top self-time entries (function, file:line, % of samples).
 * Usage: npm run bench:profile [-- --seconds=10 --top=15 --out=.bench/profiles --only=cold,warm]
 * The .cpuprofile files stay in --out (open them in Chrome DevTools or VS Code).
 * @module
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { cpuSeconds, removeScratch, startServer, wrk, writeRequestFiles } from './http.ts'
import { formatTop, topSelfTime } from './profile-top.ts'

const argv = process.argv.slice(2)
const flag = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const seconds = Number(flag('seconds') ?? 10)
const top = Number(flag('top') ?? 15)
const out = flag('out') ?? join('.bench', 'profiles')
const phases = (flag('only')?.split(',') ?? ['cold', 'warm']) as ('cold' | 'warm')[]

mkdirSync(out, { recursive: true })
console.log('building dist/ (the server runs the built package)…')
execFileSync(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
const files = await writeRequestFiles(40_000)

const LABELS = { cold: 'new certificate every request', warm: 'returning client' }
for (const phase of phases) {
  const file = join(out, `node-certgate-${phase}.cpuprofile`)
  rmSync(file, { force: true })
  process.env.BENCH_CPU_PROFILE = file
  const server = await startServer('node', 'certgate')
  delete process.env.BENCH_CPU_PROFILE
  try {
    const warmUp = await wrk(server.port, files[phase], 2, 0)
    const started = await fetch(`http://127.0.0.1:${server.port}/__bench/profile-start`)
    if ((await started.text()) !== 'profiling') throw new Error('the server did not start its profiler')
    const before = cpuSeconds(server.child.pid!)
    const run = await wrk(server.port, files[phase], seconds, warmUp.requests + 50)
    const cpuUs = ((cpuSeconds(server.child.pid!) - before) * 1e6) / Math.max(1, run.requests)
    const exited = new Promise((resolve) => server.child.once('exit', resolve))
    server.child.kill('SIGTERM')
    await exited
    if (!existsSync(file)) throw new Error(`no profile written to ${file}`)
    console.log(`\nNode, Hono + certgate, ${LABELS[phase]}: ${Math.round(run.rps).toLocaleString('en')} rps, ${cpuUs.toFixed(1)} µs server CPU/request (profiled: sampling adds a little), ${run.non2xx} non-2xx`)
    console.log(`top ${top} self time (${file}):`)
    console.log(formatTop(topSelfTime(file, top)))
  } finally {
    server.child.kill()
  }
}
removeScratch()
