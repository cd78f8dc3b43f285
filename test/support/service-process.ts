/**
 * The reference service as a child process for tests that need the real thing: started with only
 * the service variables given, on a free loopback port, its JSON log lines collected and awaited.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SERVICE_VARIABLES } from '../../src/service/config.ts'
import { freePort } from './loopback.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** One log line as the service wrote it. */
export type LogLine = Record<string, unknown>

/** A running service. */
export interface ServiceProcess {
  child: ChildProcess
  /** `http://127.0.0.1:<port>`. */
  url: string
  /** Everything written so far, stdout then stderr. */
  output(): string
  /** Every line written so far, parsed; throws on a line that is not a JSON object. */
  lines(): LogLine[]
  /** The first line `match` accepts, waiting up to `timeoutMs` for it. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>
  /** Kills the child (SIGKILL) unless it exited. */
  kill(): void
}

/**
 * Starts `command args` (default: the Node entry through tsx, on this Node) with `vars` as the only service
 * variables, on a free port of 127.0.0.1, and resolves once it logged its start line.
 */
export async function startServiceProcess(
  vars: Record<string, string>,
  options: { command?: string; args?: string[]; startTimeoutMs?: number } = {}
): Promise<ServiceProcess> {
  // The Node that runs the test (npm test runs the suite under each supported Node version).
  const { command = process.execPath, args = ['--import', 'tsx', 'src/service/main.ts'] } = options
  const port = await freePort()
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' }
  for (const name of SERVICE_VARIABLES) delete env[name]
  Object.assign(env, vars, { PORT: String(port), HOST: '127.0.0.1' })
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))

  const lines = (): LogLine[] =>
    `${out}\n${err}`
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const value = JSON.parse(line) as unknown
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw new Error(`not a JSON object: ${line}`)
        }
        return value as LogLine
      })

  async function waitForLine(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = lines().find(match)
      if (found !== undefined) return found
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the service exited (${child.exitCode ?? child.signalCode})\n${out}\n${err}`)
      }
      if (Date.now() > deadline) throw new Error(`no such line within ${timeoutMs} ms\n${out}\n${err}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  const service: ServiceProcess = {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => `${out}${err}`,
    lines,
    waitForLine,
    kill: () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')),
  }
  try {
    await waitForLine((line) => /listening on/.test(String(line.msg)), options.startTimeoutMs ?? 20_000)
  } catch (error) {
    service.kill()
    throw error
  }
  return service
}
