#!/usr/bin/env node
/**
 * The `certgate` command: inspect a client certificate (PEM, DER or an XFCC value) and get the
 * line to paste into ALLOWED_CERT_THUMBPRINTS, print the XFCC header Envoy would send for a
 * certificate (for `curl -H`), and make a development PKI. A thin Node adapter over the public
 * API: every PEM, base64, XFCC and certificate step is the library's own. This file is the
 * entry point and the dispatch; each command has its own module.
 * @module
 */
import { createReadStream, realpathSync } from 'node:fs'
import process from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { inspectCommand } from './inspect.ts'
import {
  CliError,
  type CliIo,
  type CommandResult,
  describeError,
  MAX_INPUT_BYTES,
  readAtMost,
  readInput,
  runProgram,
  usageError,
} from './io.ts'
import { xfccCommand } from './xfcc.ts'

const USAGE = [
  'Usage: certgate <command> [options]',
  '',
  'Commands:',
  '  inspect <file> [--json]',
  '      Show a client certificate: SHA-256 thumbprint, names, validity, SANs, extended key',
  '      usages, and the ALLOWED_CERT_THUMBPRINTS line to paste. <file> holds a PEM or DER',
  '      certificate, or an X-Forwarded-Client-Cert value (its rightmost element is read, as',
  '      certgate does).',
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
  '  -V, --version   Print certgate\'s version.',
  '',
  '\'-\' as a file reads standard input (inspect <file>, xfcc <cert.pem> or --chain), e.g.',
  '  kubectl get secret client-tls -o jsonpath=\'{.data.tls\\.crt}\' | base64 -d | certgate inspect -',
  '',
  'Exit status: 0 success, 1 failure (unreadable file, bad certificate, openssl error),',
  '2 usage error (unknown command or option, missing or extra argument).',
  '',
].join('\n')

/**
 * Runs the command line `argv` (without the node and script paths) and returns the exit status.
 * Never throws: every failure becomes one `certgate: …` line on stderr.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  try {
    const result = await run(argv, io)
    if (result === 'help') io.stdout(USAGE)
    else if (result === 'version') io.stdout(`certgate ${await readVersion(io)}\n`)
    else return result
    return 0
  } catch (error) {
    io.stderr(`certgate: ${describeError(error)}\n`)
    return error instanceof CliError ? error.exitCode : 1
  }
}

async function run(argv: string[], io: CliIo): Promise<CommandResult | 'version'> {
  const [command, ...rest] = argv
  if (command === undefined) {
    io.stderr(USAGE)
    return 2
  }
  switch (command) {
    case 'help':
    case '--help':
    case '-h':
      return 'help'
    case '--version':
    case '-V':
      return 'version'
    case 'inspect':
      return inspectCommand(rest, io)
    case 'xfcc':
      return xfccCommand(rest, io)
    case 'pki': {
      // Loaded only here: pki is the one command that needs the test kit, and with it the
      // optional @peculiar/x509, which a bare install of certgate does not have.
      const { pkiCommand } = await import('./pki.ts')
      return pkiCommand(rest, io)
    }
    default:
      if (command.startsWith('-')) throw usageError(`Unknown option '${command}'`)
      throw usageError(`unknown command '${command}'`)
  }
}

/**
 * The version in certgate's package.json: two folders up from this module, both as
 * src/cli/main.ts in a clone and as dist/cli/main.js in the package.
 */
async function readVersion(io: CliIo): Promise<string> {
  const path = fileURLToPath(new URL('../../package.json', import.meta.url))
  const text = new TextDecoder().decode(await readInput(path, io))
  let manifest: { version?: unknown } | null
  try {
    manifest = JSON.parse(text) as { version?: unknown } | null
  } catch (error) {
    throw new CliError(`${path} is not JSON: ${describeError(error)}`, 1)
  }
  const version = manifest?.version
  if (typeof version !== 'string') throw new CliError(`${path} has no version`, 1)
  return version
}

/** The process's I/O. Reads stop past MAX_INPUT_BYTES: `inspect /dev/zero` fails, never hangs. */
function nodeIo(): CliIo {
  return {
    stdout: (text: string): void => void process.stdout.write(text),
    stderr: (text: string): void => void process.stderr.write(text),
    readFile: (path: string): Promise<Uint8Array> =>
      readAtMost(createReadStream(path), MAX_INPUT_BYTES),
    readStdin: (): Promise<Uint8Array> => readAtMost(process.stdin, MAX_INPUT_BYTES),
    runProgram,
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
