/**
 * For the package tests: the package as users get it (built from src/ by tsc into a temporary
 * directory, never the repository's dist/, which a running service or another test may be
 * reading; packed by npm), child processes bounded in time, and a free port. These tests run npm,
 * tsc and esbuild themselves, so they run under Node only.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const bin = (name: string): string => join(ROOT, 'node_modules', '.bin', name)

const RUNTIME = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node'

/** A describe()'s skip: false under Node, else why not. */
export function nodeOnly(why: string): string | false {
  return RUNTIME === 'node' ? false : `${why}, so it runs under Node only (this is ${RUNTIME})`
}

// `npm test` runs the suite again under the other Node versions it keeps in tools/node-versions.
const EXTRA_NODE = process.execPath.includes(join('tools', 'node-versions'))

/**
 * A describe()'s skip for what does not depend on the Node version (npm, tsc, esbuild, deno and
 * the files they make): it runs once, under the Node that runs `npm test`.
 */
export function onceAcrossNodes(why: string): string | false {
  const notNode = nodeOnly(why)
  if (notNode !== false) return notNode
  return EXTRA_NODE ? `${why}, the same on every Node, so it runs under the Node that runs npm test only` : false
}

/** The environment for a child: this Node first on PATH, so `node` and npm's scripts use it. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter)
  // npm's own variables from an outer `npm test` would point the child's npm at this project.
  for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key]
  return env
}

export interface Finished {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to its end, killed after `timeoutMs`; never rejects for a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; input?: string }
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')}: not done within ${options.timeoutMs} ms\n${stdout}\n${stderr}`))
    }, options.timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}

/** Throws with the output unless the command exited 0. */
export async function mustRun(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }
): Promise<string> {
  const result = await run(command, args, options)
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`)
  }
  return result.stdout
}

/** npm, for registry work: bounded, and quiet about funding and audits. */
export function npm(args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<string> {
  return mustRun(process.platform === 'win32' ? 'npm.cmd' : 'npm', [...args, '--no-audit', '--no-fund'], {
    cwd,
    timeoutMs,
  })
}

/** A process that keeps running (a server): its output so far, a wait for a line, and a stop. */
export interface Running {
  child: ChildProcess
  output: () => string
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves with the exit code. */
  stop: (graceMs?: number) => Promise<number | null>
}

/** Starts a long-running command in its own process group (so its children stop with it). */
export function start(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Running {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  const listeners = new Set<() => void>()
  const append = (chunk: Buffer): void => {
    output += chunk
    for (const listener of listeners) listener()
  }
  child.stdout!.on('data', append)
  child.stderr!.on('data', append)
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal)
    } catch {
      // Already gone.
    }
  }
  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output)
          if (match === null) return
          done()
          resolve(match)
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`))
        }, timeoutMs)
        const onExit = (): void => {
          done()
          reject(new Error(`exited before ${pattern}; output:\n${output}`))
        }
        const done = (): void => {
          clearTimeout(timer)
          listeners.delete(check)
          child.off('close', onExit)
        }
        listeners.add(check)
        child.once('close', onExit)
        check()
      })
    },
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      signalGroup('SIGTERM')
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

export interface BuiltPackage {
  /** package.json, README.md, LICENSE and dist/, as `npm pack` takes them. */
  dir: string
  /** Whatever tsc reported (type errors elsewhere in the tree are the type check's to report). */
  tscOutput: string
}

/** Builds the package into a new temporary directory. Call `removeBuilt` when done. */
export async function buildPackage(): Promise<BuiltPackage> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-package-'))
  const result = await run(bin('tsc'), ['-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist')], {
    timeoutMs: 120_000,
  })
  if (!existsSync(join(dir, 'dist', 'index.js'))) {
    throw new Error(`tsc emitted nothing (exit ${result.code}):\n${result.stdout}${result.stderr}`)
  }
  for (const file of ['package.json', 'README.md', 'LICENSE']) copyFileSync(join(ROOT, file), join(dir, file))
  return { dir, tscOutput: result.stdout + result.stderr }
}

export interface PackResult {
  /** The .tgz's path. */
  tarball: string
  size: number
  unpackedSize: number
  files: string[]
}

/** `npm pack` of a built package, into its own directory. */
export async function packPackage(built: BuiltPackage): Promise<PackResult> {
  const out = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', built.dir], built.dir)
  const [info] = JSON.parse(out) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>
  return {
    tarball: join(built.dir, info!.filename),
    size: info!.size,
    unpackedSize: info!.unpackedSize,
    files: info!.files.map((file) => file.path).sort(),
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T
}

/** Whether this runs in CI, where what cannot run must fail rather than skip. */
export const IN_CI = (process.env.CI ?? '') !== '' && process.env.CI !== 'false' && process.env.CI !== '0'

/**
 * A describe()'s skip for tests that install from the npm registry: false when it answers (and
 * always in CI, where an unreachable registry must fail, not hide), else why not.
 */
export async function registrySkip(): Promise<string | false> {
  const notNode = onceAcrossNodes('it installs from the npm registry with npm')
  if (notNode !== false || IN_CI) return notNode
  const probe = await run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['view', 'hono@4.6', 'version'], {
    cwd: tmpdir(),
    timeoutMs: 30_000,
  }).catch((error: unknown) => ({ code: null, stdout: '', stderr: String(error) }))
  return probe.code === 0 ? false : `the npm registry is not reachable from here: ${probe.stderr.trim().split('\n')[0]}`
}
