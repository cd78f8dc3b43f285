/**
 * What every command shares: the I/O it is given, its errors and exit statuses, option parsing,
 * reading certificate files (or standard input, as `-`), and running a program.
 * @module
 */
import { Buffer } from 'node:buffer'
import { execFile } from 'node:child_process'
import { CertgateError, decodeCertificates, isCertgateError } from '../index.ts'

/** What the CLI reads, writes and runs, so tests can run `main` in-process. */
export interface CliIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  /** A file's bytes; more than {@link MAX_INPUT_BYTES} need not be read. */
  readFile: (path: string) => Promise<Uint8Array>
  /** Standard input's bytes, for the path `-`; more than {@link MAX_INPUT_BYTES} need not be read. */
  readStdin: () => Promise<Uint8Array>
  runProgram: RunProgram
  /** Environment for child processes: its PATH is where `openssl` is looked for. */
  env?: Record<string, string | undefined>
}

/** Runs a program to its end with `env` as its whole environment: its stdout, or why it failed. */
export type RunProgram = (
  file: string,
  args: readonly string[],
  options: { env: Record<string, string | undefined>; timeoutMs: number }
) => Promise<ProgramResult>

export type ProgramResult = { ok: true; stdout: Uint8Array } | { ok: false; reason: string }

/** Certificates, chains and XFCC values are a few KB; anything larger is a mistake. */
export const MAX_INPUT_BYTES = 1024 * 1024

/** The path that means standard input. */
export const STDIN_PATH = '-'

/** A command's outcome: its exit status, or 'help' for `main` to print the usage text. */
export type CommandResult = number | 'help'

/** A failure with its exit status; the message is printed after `certgate: `. */
export class CliError extends Error {
  readonly exitCode: number

  constructor(message: string, exitCode: number) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

export function usageError(message: string): CliError {
  return new CliError(`${message}. Run 'certgate --help' for usage.`, 2)
}

/** The one line printed after `certgate: ` for a failure. */
export function describeError(error: unknown): string {
  let text: string
  if (error instanceof CliError) text = error.message
  else if (isCertgateError(error)) text = `${error.code}: ${error.message}`
  else if (error instanceof Error) text = error.message
  else text = String(error)
  // One line, whatever a dependency put in its message.
  return text.replace(/\s+/g, ' ').trim()
}

/** The `-h, --help` option every command takes. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const

/** node:util parseArgs, with its errors turned into usage errors (exit 2). */
export function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    // parseArgs appends advice about `--`; the first sentence is the useful part.
    throw usageError(message.split('. ')[0]!.replace(/\.$/, ''))
  }
}

export function onePositional(positionals: string[], command: string, what: string): string {
  if (positionals.length !== 1) {
    throw usageError(`${command} takes exactly one ${what} (got ${positionals.length})`)
  }
  return positionals[0]!
}

/** How messages name an input path. */
export function inputName(path: string): string {
  return path === STDIN_PATH ? 'standard input' : path
}

/** A file's (or for `-`, standard input's) bytes; unreadable, empty or too large is a failure (exit 1). */
export async function readInput(path: string, io: CliIo): Promise<Uint8Array> {
  const name = inputName(path)
  let bytes: Uint8Array
  try {
    bytes = await (path === STDIN_PATH ? io.readStdin() : io.readFile(path))
  } catch (error) {
    throw new CliError(`cannot read ${name}: ${fileErrorReason(error)}`, 1)
  }
  if (bytes.length === 0) throw new CliError(`${name} is empty`, 1)
  if (bytes.length > MAX_INPUT_BYTES) throw new CliError(`${name} is larger than 1 MiB`, 1)
  return new Uint8Array(bytes)
}

/** A stream's bytes, stopping once there are more than `limit` (the caller refuses those). */
export async function readAtMost(stream: AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of stream) {
    chunks.push(chunk)
    length += chunk.length
    if (length > limit) break
  }
  return Buffer.concat(chunks)
}

/** Why a file operation failed, in words. */
export function fileErrorReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EISDIR') return 'it is a directory'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return error instanceof Error ? error.message : String(error)
}

/** The certificates of a PEM, DER or bare base64 file, and which of those it was. */
interface FileCertificates {
  ders: Uint8Array[]
  format: 'PEM' | 'DER' | 'base64 DER'
}

/** More certificates than any chain a command is given. */
export const MAX_CERTIFICATES = 32

const BASE64_TEXT = /^[A-Za-z0-9+/=\s]+$/

/** The certificates in a PEM, DER or bare base64 file; null when the file is other text. */
export function certificatesIn(bytes: Uint8Array): FileCertificates | null {
  // DER is a SEQUENCE (0x30); text starting with '0' is not DER.
  if (bytes[0] === 0x30 && !isText(bytes)) return { ders: [bytes], format: 'DER' }
  const text = new TextDecoder().decode(bytes).trim()
  const options = { maxCertificates: MAX_CERTIFICATES }
  if (text.startsWith('-----BEGIN')) {
    return { ders: decodeCertificates(text, options), format: 'PEM' }
  }
  if (BASE64_TEXT.test(text)) {
    return { ders: decodeCertificates(text, options), format: 'base64 DER' }
  }
  return null
}

function isText(bytes: Uint8Array): boolean {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return false
  }
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)
}

/** The certificates of a file that must hold some. */
export async function certificatesFromFile(path: string, io: CliIo): Promise<Uint8Array[]> {
  const file = certificatesIn(await readInput(path, io))
  if (file === null) {
    const message = `${inputName(path)} holds no PEM or DER certificate.`
    throw new CertgateError('ERR_CERT_MALFORMED', message)
  }
  return file.ders
}

/** {@link RunProgram} with node:child_process. */
export const runProgram: RunProgram = (file, args, { env, timeoutMs }) =>
  new Promise((resolve) => {
    const options = { env, timeout: timeoutMs, encoding: 'buffer' as const }
    execFile(file, [...args], options, (error, stdout, stderr) => {
      if (error === null) resolve({ ok: true, stdout: new Uint8Array(stdout) })
      else if (error.code === 'ENOENT') resolve({ ok: false, reason: `${file} is not on PATH` })
      else if (error.killed) {
        resolve({ ok: false, reason: `${file} did not finish within ${timeoutMs / 1000} s` })
      } else {
        const detail = String(stderr).trim().split('\n')[0] || error.message
        resolve({ ok: false, reason: `${file} failed: ${detail.replace(/\s+/g, ' ')}` })
      }
    })
  })
