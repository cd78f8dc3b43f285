#!/usr/bin/env node
/**
 * The `certgate` command: inspect a client certificate (PEM, DER or an XFCC value) and get the
 * line to paste into ALLOWED_CERT_THUMBPRINTS, print the XFCC header Envoy would send for a
 * certificate (for `curl -H`), and make a development PKI. A thin Node adapter over the core:
 * every PEM, base64, XFCC and certificate step is the library's own.
 * @module
 */
import { execFile } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type ClientCertificate, readClientCertificate } from '../x509/certificate.ts'
import { CertgateError, isCertgateError } from '../errors.ts'
import { decodeCertificates, encodePem } from '../x509/pem.ts'
import { createTestPki, type TestCertificate, type TestKeyAlgorithm } from '../testing/index.ts'
import { formatXfcc, parseXfcc, type XfccElement } from '../xfcc/parse.ts'

/** What the CLI reads and writes, so tests can run {@link main} in-process. */
export interface CliIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  readFile: (path: string) => Promise<Uint8Array>
  /** Environment for child processes: its PATH is where `openssl` is looked for. */
  env?: Record<string, string | undefined>
}

export const USAGE = [
  'Usage: certgate <command> [options]',
  '',
  'Commands:',
  '  inspect <file> [--json]',
  '      Show a client certificate: SHA-256 thumbprint, names, validity, SANs, and the',
  '      ALLOWED_CERT_THUMBPRINTS line to paste. <file> holds a PEM or DER certificate, or an',
  '      X-Forwarded-Client-Cert value (its rightmost element is read, as certgate does).',
  '  xfcc <cert.pem> [--chain <chain.pem>] [--by <uri>]...',
  '      Print the X-Forwarded-Client-Cert value Envoy (the Azure Container Apps ingress) sends',
  '      for a client presenting <cert.pem>, e.g.',
  '        curl -H "X-Forwarded-Client-Cert: $(certgate xfcc client.pem)" \\',
  '          http://localhost:8000/cert-info',
  '  pki <dir> [--cn <name>]... [--rsa]',
  '      Write a development root CA, intermediate CA and client certificates with their keys',
  '      (PEM, and PKCS#12 when openssl is on PATH) into a new or empty <dir>.',
  '      For development only: never trust its CA in production.',
  '  help',
  '      Show this text.',
  '',
  'Options:',
  '  --json          inspect: print the certificate as JSON, as /cert-info returns it',
  '  --chain <file>  xfcc: the PEM certificates for Chain (Envoy\'s Chain starts with the leaf)',
  '  --by <uri>      xfcc: a By value (the proxy\'s own URI SAN); repeatable',
  '  --cn <name>     pki: a client certificate\'s common name; repeatable',
  '                  (default: api-client.contoso.com)',
  '  --rsa           pki: RSA-2048 keys instead of P-256',
  '  -h, --help      Show this text.',
  '',
  'Exit status: 0 success, 1 failure (unreadable file, bad certificate), 2 usage error.',
  '',
].join('\n')

const DEFAULT_COMMON_NAME = 'api-client.contoso.com'
const P12_PASSPHRASE = 'certgate'
const MAX_CERTIFICATES = 32
const LEAF_VALIDITY_MS = 365 * 24 * 60 * 60 * 1000
const OPENSSL_TIMEOUT_MS = 30_000
const PUBLIC = 0o644
const SECRET = 0o600
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const

/** A failure with its exit status; the message is printed after `certgate: `. */
class CliError extends Error {
  readonly exitCode: number

  constructor(message: string, exitCode: number) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

function usageError(message: string): CliError {
  return new CliError(`${message}. Run 'certgate --help' for usage.`, 2)
}

/**
 * Runs the command line `argv` (without the node and script paths) and returns the exit status.
 * Never throws: every failure becomes one `certgate: …` line on stderr.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  try {
    return await run(argv, io)
  } catch (error) {
    io.stderr(`certgate: ${describeError(error)}\n`)
    return error instanceof CliError ? error.exitCode : 1
  }
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined) {
    io.stderr(USAGE)
    return 2
  }
  switch (command) {
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE)
      return 0
    case 'inspect':
      return inspectCommand(rest, io)
    case 'xfcc':
      return xfccCommand(rest, io)
    case 'pki':
      return pkiCommand(rest, io)
    default:
      if (command.startsWith('-')) throw usageError(`Unknown option '${command}'`)
      throw new CliError(`unknown command '${command}'. Run 'certgate --help' for usage.`, 1)
  }
}

function describeError(error: unknown): string {
  let text: string
  if (error instanceof CliError) text = error.message
  else if (isCertgateError(error)) text = `${error.code}: ${error.message}`
  else if (error instanceof Error) text = error.message
  else text = String(error)
  // One line, whatever a dependency put in its message.
  return text.replace(/\s+/g, ' ').trim()
}

/** node:util parseArgs, with its errors turned into usage errors (exit 2). */
function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    // parseArgs appends advice about `--`; the first sentence is the useful part.
    throw usageError(message.split('. ')[0]!.replace(/\.$/, ''))
  }
}

function onePositional(positionals: string[], command: string, what: string): string {
  if (positionals.length !== 1) {
    throw usageError(`${command} takes exactly one ${what} (got ${positionals.length})`)
  }
  return positionals[0]!
}

async function readInput(path: string, io: CliIo): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await io.readFile(path)
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${fileErrorReason(error)}`, 1)
  }
  if (bytes.length === 0) throw new CliError(`${path} is empty`, 1)
  return new Uint8Array(bytes)
}

function fileErrorReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EISDIR') return 'it is a directory'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return error instanceof Error ? error.message : String(error)
}

// ---------------------------------------------------------------------------------------------
// Reading certificates from files

interface FileCertificates {
  ders: Uint8Array[]
  format: 'PEM' | 'DER' | 'base64 DER'
}

const BASE64_TEXT = /^[A-Za-z0-9+/=\s]+$/

/** The certificates in a PEM, DER or bare base64 file; null when the file is other text. */
function certificatesIn(bytes: Uint8Array): FileCertificates | null {
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

interface InspectInput {
  der: Uint8Array
  /** Where the certificate came from, for the `Read from` line. */
  description: string
  /** The XFCC element it came from, when the file held an XFCC value. */
  element: XfccElement | null
}

function inspectInput(bytes: Uint8Array, path: string): InspectInput {
  const file = certificatesIn(bytes)
  if (file !== null) {
    const count = file.ders.length
    const description =
      count === 1 ? file.format : `${file.format}, ${count} certificates (showing the first)`
    return { der: file.ders[0]!, description, element: null }
  }
  const text = new TextDecoder().decode(bytes).trim()
  let elements: XfccElement[]
  try {
    // Accept a pasted `X-Forwarded-Client-Cert: …` header line as well as the bare value.
    elements = parseXfcc(text.replace(/^x-forwarded-client-cert\s*:/i, ''))
  } catch (error) {
    if (!isCertgateError(error)) throw error
    throw new CertgateError(
      error.code,
      `${path} is not a PEM or DER certificate, nor an XFCC value: ${error.message}`
    )
  }
  // The rightmost element is the nearest proxy's: the one certgate itself reads.
  const element = elements[elements.length - 1]!
  const field = element.cert !== undefined ? 'Cert' : element.chain !== undefined ? 'Chain' : null
  if (field === null) {
    throw new CertgateError('ERR_CERT_MISSING', 'The rightmost XFCC element has no Cert or Chain.')
  }
  const pem = field === 'Cert' ? element.cert! : element.chain!
  const der = decodeCertificates(pem, { maxCertificates: MAX_CERTIFICATES })[0]!
  const from = field === 'Cert' ? 'Cert' : 'first certificate of Chain (the element has no Cert)'
  const n = elements.length
  const description = `XFCC value, element ${n} of ${n} (the rightmost), ${from}`
  return { der, description, element }
}

// ---------------------------------------------------------------------------------------------
// certgate inspect

async function inspectCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOrUsage(() =>
    parseArgs({
      args,
      options: { ...HELP_OPTION, json: { type: 'boolean' } },
      allowPositionals: true,
    })
  )
  if (values.help) {
    io.stdout(USAGE)
    return 0
  }
  const path = onePositional(positionals, 'inspect', 'file')
  const input = inspectInput(await readInput(path, io), path)
  const cert = await readClientCertificate(input.der)
  if (values.json) {
    io.stdout(`${JSON.stringify(cert.toJSON(), null, 2)}\n`)
    return 0
  }
  io.stdout(formatInspection(cert, input, new Date()))
  return 0
}

function formatInspection(cert: ClientCertificate, input: InspectInput, now: Date): string {
  const rows: Array<[string, string]> = [
    ['Read from', input.description],
    ['SHA-256', cert.thumbprint],
    ['SHA-1', `${cert.thumbprintSha1} (display only, as Azure shows it; never pin SHA-1)`],
    ['Subject', cert.subject || '(empty)'],
    ['Common name', cert.commonName ?? '(none)'],
    ['Issuer', cert.issuer || '(empty)'],
    ['Serial', cert.serialNumber],
    ['Not before', validity(cert.notBefore, cert.notBefore > now ? ' (not yet valid)' : '')],
    ['Not after', validity(cert.notAfter, cert.notAfter < now ? ' (expired)' : '')],
    ['DNS names', list(cert.dnsNames)],
    ['URIs', list(cert.uris)],
    ['Emails', list(cert.emails)],
    ['IPs', list(cert.ips)],
    ['SPIFFE ID', cert.spiffeId ?? '(none)'],
  ]
  if (input.element !== null) rows.push(['XFCC Hash', hashVerdict(input.element, cert)])
  const width = Math.max(...rows.map(([label]) => label.length)) + 2
  const lines = rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`)
  return `${lines.join('\n')}\n\nTo allow it, paste:\nALLOWED_CERT_THUMBPRINTS=${cert.thumbprint}\n`
}

function validity(date: Date, marker: string): string {
  return `${date.toISOString()}${marker}`
}

function list(values: readonly string[]): string {
  return values.length === 0 ? '(none)' : values.join(', ')
}

function hashVerdict(element: XfccElement, cert: ClientCertificate): string {
  if (element.hash === undefined) return '(none in the element)'
  // Envoy writes lowercase hex; compare case-insensitively, as the verifier does.
  if (element.hash.toLowerCase() === cert.thumbprint.toLowerCase()) return 'matches the certificate'
  return `DOES NOT MATCH the certificate (Hash=${element.hash}); certgate would refuse it`
}

// ---------------------------------------------------------------------------------------------
// certgate xfcc

async function xfccCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOrUsage(() =>
    parseArgs({
      args,
      options: {
        ...HELP_OPTION,
        chain: { type: 'string' },
        by: { type: 'string', multiple: true },
      },
      allowPositionals: true,
    })
  )
  if (values.help) {
    io.stdout(USAGE)
    return 0
  }
  const path = onePositional(positionals, 'xfcc', 'certificate file')
  const [leafDer] = await certificatesFromFile(path, io)
  const cert = await readClientCertificate(leafDer!)
  let chain: string | undefined
  if (values.chain !== undefined) {
    const ders = await certificatesFromFile(values.chain, io)
    // Each must be a certificate Envoy could have parsed; it re-encodes them as plain PEM.
    await Promise.all(ders.map((der) => readClientCertificate(der)))
    chain = ders.map((der) => encodePem(der)).join('')
  }
  const element: XfccElement = {
    by: values.by ?? [],
    hash: cert.thumbprint.toLowerCase(),
    cert: encodePem(cert.der),
    ...(chain === undefined ? {} : { chain }),
    subject: cert.subject,
    uri: [...cert.uris],
    dns: [...cert.dnsNames],
  }
  io.stdout(`${formatXfcc([element])}\n`)
  return 0
}

async function certificatesFromFile(path: string, io: CliIo): Promise<Uint8Array[]> {
  const file = certificatesIn(await readInput(path, io))
  if (file === null) {
    throw new CertgateError('ERR_CERT_MALFORMED', `${path} holds no PEM or DER certificate.`)
  }
  return file.ders
}

// ---------------------------------------------------------------------------------------------
// certgate pki

interface IssuedClient {
  name: string
  cert: TestCertificate
}

async function pkiCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOrUsage(() =>
    parseArgs({
      args,
      options: {
        ...HELP_OPTION,
        cn: { type: 'string', multiple: true },
        rsa: { type: 'boolean' },
      },
      allowPositionals: true,
    })
  )
  if (values.help) {
    io.stdout(USAGE)
    return 0
  }
  const dir = onePositional(positionals, 'pki', 'directory')
  const names = values.cn ?? [DEFAULT_COMMON_NAME]
  checkCommonNames(names)
  await prepareDirectory(dir)

  const keyAlgorithm: TestKeyAlgorithm = values.rsa ? 'RSA-2048' : 'P-256'
  const pki = await createTestPki({ keyAlgorithm })
  const notAfter = new Date(Date.now() + LEAF_VALIDITY_MS)
  const clients: IssuedClient[] = []
  for (const name of names) {
    // The test kit's default leaf lives a day; a dev PKI should outlive a working week.
    const dnsNames = isDnsName(name) ? [name] : []
    const cert = await pki.issue({ commonName: name, dnsNames, notAfter })
    clients.push({ name, cert })
  }

  const written: Array<[string, string]> = []
  async function write(file: string, content: string, what: string, mode: number): Promise<void> {
    // `wx`: never overwrite, even if something appeared in the directory meanwhile.
    await writeFile(join(dir, file), content, { flag: 'wx', mode })
    written.push([file, what])
  }
  const { root, intermediate } = pki
  await write('ca.pem', root.pem, `root CA: ${root.subjectRfc4514}`, PUBLIC)
  const intermediateWhat = `intermediate CA: ${intermediate.subjectRfc4514}`
  await write('intermediate.pem', intermediate.pem, intermediateWhat, PUBLIC)
  for (const { name, cert } of clients) {
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', cert.keys.privateKey))
    await write(`${name}.pem`, cert.pem, `client certificate: ${cert.subjectRfc4514}`, PUBLIC)
    const keyPem = privateKeyPem(pkcs8)
    await write(`${name}.key.pem`, keyPem, 'its private key (PKCS#8, unencrypted)', SECRET)
    const chainWhat = 'client certificate + intermediate, as a client sends them'
    await write(`${name}.chain.pem`, cert.pem + intermediate.pem, chainWhat, PUBLIC)
  }

  const p12Note = await writePkcs12Files(dir, clients, io.env ?? process.env, written)
  const width = Math.max(...written.map(([file]) => file.length)) + 2
  const keyNote = keyAlgorithm === 'P-256' ? 'P-256 keys' : 'RSA-2048 keys'
  const first = clients[0]!.name
  const lines = [
    `Wrote a development PKI to ${dir} (${keyNote}). Never trust this CA in production.`,
    ...written.map(([file, what]) => `  ${file.padEnd(width)}${what}`),
    ...(p12Note === null ? [] : [p12Note]),
    '',
    'Client thumbprints (SHA-256):',
    ...clients.map(({ name, cert }) => `  ${name}  ${cert.thumbprint}`),
    '',
    'Try it:',
    `  certgate xfcc ${join(dir, `${first}.pem`)} --chain ${join(dir, `${first}.chain.pem`)}`,
    '',
    'To allow them, paste:',
    `ALLOWED_CERT_THUMBPRINTS=${clients.map(({ cert }) => cert.thumbprint).join(',')}`,
    '',
  ]
  io.stdout(lines.join('\n'))
  return 0
}

function checkCommonNames(names: string[]): void {
  const seen = new Set<string>()
  for (const name of names) {
    // Names become file names: no path separators, no dot files, nothing clashing with the CAs'.
    if (!/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/.test(name) || name.endsWith('.')) {
      throw usageError(
        `--cn '${name}' cannot be a file name; use up to 64 letters, digits, spaces and . _ @ -`
      )
    }
    const key = name.toLowerCase()
    if (key === 'ca' || key === 'intermediate') throw usageError(`--cn '${name}' is reserved`)
    if (seen.has(key)) throw usageError(`--cn '${name}' is given twice`)
    seen.add(key)
  }
}

const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

function isDnsName(name: string): boolean {
  return name.length <= 253 && name.split('.').every((label) => DNS_LABEL.test(label))
}

async function prepareDirectory(dir: string): Promise<void> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    if (code === 'ENOENT') {
      await mkdir(dir, { recursive: true })
      return
    }
    if (code === 'ENOTDIR') throw new CliError(`${dir} exists and is not a directory`, 1)
    throw new CliError(`cannot use ${dir}: ${fileErrorReason(error)}`, 1)
  }
  if (entries.length > 0) {
    throw new CliError(`${dir} exists and is not empty; give a new or empty directory`, 1)
  }
}

/** PKCS#8 DER → PEM. */
function privateKeyPem(pkcs8: Uint8Array): string {
  return encodePem(pkcs8, { label: 'PRIVATE KEY' })
}

/**
 * `<name>.p12` for each client via the system openssl, so certgate needs no PKCS#12 code of its
 * own. Returns a one-line note when they were skipped, else null.
 */
async function writePkcs12Files(
  dir: string,
  clients: IssuedClient[],
  env: Record<string, string | undefined>,
  written: Array<[string, string]>
): Promise<string | null> {
  for (const { name } of clients) {
    const file = `${name}.p12`
    const args = ['pkcs12', '-export', '-name', name, '-passout', `pass:${P12_PASSPHRASE}`]
    args.push('-in', join(dir, `${name}.pem`), '-inkey', join(dir, `${name}.key.pem`))
    args.push('-certfile', join(dir, 'intermediate.pem'), '-out', join(dir, file))
    const failure = await runOpenssl(args, env)
    if (failure !== null) return `  (PKCS#12 files skipped: ${failure})`
    await chmod(join(dir, file), SECRET)
    written.push([file, `PKCS#12 (certificate, key, intermediate), passphrase: ${P12_PASSPHRASE}`])
  }
  return null
}

/** Runs openssl; null on success, else why it did not run. */
function runOpenssl(
  args: string[],
  env: Record<string, string | undefined>
): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('openssl', args, { env, timeout: OPENSSL_TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (error === null) resolve(null)
      else if ((error as { code?: unknown }).code === 'ENOENT') resolve('openssl is not on PATH')
      else {
        const detail = String(stderr).trim().split('\n')[0] || error.message
        resolve(`openssl failed: ${detail.replace(/\s+/g, ' ')}`)
      }
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Runner

/** The process's I/O. */
export function nodeIo(): CliIo {
  return {
    stdout: (text: string): void => void process.stdout.write(text),
    stderr: (text: string): void => void process.stderr.write(text),
    readFile: (path: string): Promise<Uint8Array> => readFile(path),
    env: process.env,
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    // npm's `bin` is a symlink to dist/cli/main.js; import.meta.url is the resolved file.
    return import.meta.url === pathToFileURL(realpathSync(script)).href
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  // exitCode, not exit(): let piped stdout drain.
  process.exitCode = await main(process.argv.slice(2), nodeIo())
}
