/**
 * What every command shares: the I/O it is given, its errors and exit statuses, option parsing,
 * and reading certificate files.
 * @module
 */
import { CertgateError, decodeCertificates, isCertgateError } from '../index.ts'

/** What the CLI reads and writes, so tests can run `main` in-process. */
export interface CliIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  readFile: (path: string) => Promise<Uint8Array>
  /** Environment for child processes: its PATH is where `openssl` is looked for. */
  env?: Record<string, string | undefined>
}

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

/** A file's bytes; unreadable or empty is a failure (exit 1). */
export async function readInput(path: string, io: CliIo): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await io.readFile(path)
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${fileErrorReason(error)}`, 1)
  }
  if (bytes.length === 0) throw new CliError(`${path} is empty`, 1)
  return new Uint8Array(bytes)
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
    throw new CertgateError('ERR_CERT_MALFORMED', `${path} holds no PEM or DER certificate.`)
  }
  return file.ders
}
