/**
 * `certgate pki`: a development root CA, intermediate CA and client certificates with their
 * keys (PEM, and PKCS#12 when openssl is on PATH), written into a new or empty directory.
 * Every file is created by certgate with its final mode (keys and PKCS#12 0600), never widened
 * first and narrowed after.
 * @module
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { encodePem } from '../index.ts'
import { createTestPki, type TestCertificate, type TestKeyAlgorithm, type TestPki } from '../testing/index.ts'
import {
  CliError,
  type CliIo,
  type CommandResult,
  fileErrorReason,
  HELP_OPTION,
  onePositional,
  parseOrUsage,
  usageError,
} from './io.ts'

const DEFAULT_COMMON_NAME = 'api-client.contoso.com'
const P12_PASSPHRASE = 'certgate'
/** openssl reads the passphrase from this variable of its own environment: argv shows in `ps`. */
const P12_PASSPHRASE_VAR = 'CERTGATE_P12_PASSPHRASE'
const LEAF_VALIDITY_MS = 365 * 24 * 60 * 60 * 1000
const OPENSSL_TIMEOUT_MS = 30_000
const PUBLIC = 0o644
const SECRET = 0o600

interface IssuedClient {
  name: string
  cert: TestCertificate
}

/** Files written so far: name and what it holds, for the summary. */
type Written = Array<[string, string]>

export async function pkiCommand(args: string[], io: CliIo): Promise<CommandResult> {
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
  if (values.help) return 'help'
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

  const written = await writePemFiles(dir, pki, clients)
  const p12Note = await writePkcs12Files(dir, clients, io, written)
  io.stdout(summary(dir, keyAlgorithm, clients, written, p12Note))
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

/** Creates `file` in `dir` with `mode` from the start, and notes it in `written`. */
async function writeNew(
  dir: string,
  file: string,
  content: string | Uint8Array,
  mode: number,
  written: Written,
  what: string
): Promise<void> {
  // `wx`: never overwrite, even if something appeared in the directory meanwhile.
  await writeFile(join(dir, file), content, { flag: 'wx', mode })
  written.push([file, what])
}

/** The CAs, and each client's certificate, key and chain, as PEM. */
async function writePemFiles(dir: string, pki: TestPki, clients: IssuedClient[]): Promise<Written> {
  const written: Written = []
  const write = (file: string, content: string, what: string, mode: number): Promise<void> =>
    writeNew(dir, file, content, mode, written, what)
  const { root, intermediate } = pki
  await write('ca.pem', root.pem, `root CA: ${root.subjectRfc4514}`, PUBLIC)
  const intermediateWhat = `intermediate CA: ${intermediate.subjectRfc4514}`
  await write('intermediate.pem', intermediate.pem, intermediateWhat, PUBLIC)
  for (const { name, cert } of clients) {
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', cert.keys.privateKey))
    await write(`${name}.pem`, cert.pem, `client certificate: ${cert.subjectRfc4514}`, PUBLIC)
    const keyPem = encodePem(pkcs8, { label: 'PRIVATE KEY' })
    await write(`${name}.key.pem`, keyPem, 'its private key (PKCS#8, unencrypted)', SECRET)
    const chainWhat = 'client certificate + intermediate, as a client sends them'
    await write(`${name}.chain.pem`, cert.pem + intermediate.pem, chainWhat, PUBLIC)
  }
  return written
}

/**
 * `<name>.p12` for each client via the system openssl, so certgate needs no PKCS#12 code of its
 * own. openssl writes the PKCS#12 to its stdout and certgate creates the file (mode 0600), so it
 * never exists with the umask's mode, nor half written when openssl fails. Returns a one-line
 * note when they were skipped, else null.
 */
async function writePkcs12Files(
  dir: string,
  clients: IssuedClient[],
  io: CliIo,
  written: Written
): Promise<string | null> {
  const env = { ...(io.env ?? process.env), [P12_PASSPHRASE_VAR]: P12_PASSPHRASE }
  for (const { name } of clients) {
    const args = ['pkcs12', '-export', '-name', name, '-passout', `env:${P12_PASSPHRASE_VAR}`]
    args.push('-in', join(dir, `${name}.pem`), '-inkey', join(dir, `${name}.key.pem`))
    args.push('-certfile', join(dir, 'intermediate.pem'))
    const result = await io.runProgram('openssl', args, { env, timeoutMs: OPENSSL_TIMEOUT_MS })
    if (!result.ok) return `  (PKCS#12 files skipped: ${result.reason})`
    if (result.stdout.length === 0) return '  (PKCS#12 files skipped: openssl wrote nothing)'
    const what = `PKCS#12 (certificate, key, intermediate), passphrase: ${P12_PASSPHRASE}`
    await writeNew(dir, `${name}.p12`, result.stdout, SECRET, written, what)
  }
  return null
}

/** What was written, the thumbprints, and what to try next. */
function summary(
  dir: string,
  keyAlgorithm: TestKeyAlgorithm,
  clients: IssuedClient[],
  written: Written,
  p12Note: string | null
): string {
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
  return lines.join('\n')
}
