#!/usr/bin/env node
/**
 * The `certgate` command: inspect a client certificate (PEM, DER or an XFCC value) and get the
 * line to paste into ALLOWED_CERT_THUMBPRINTS, print the XFCC header Envoy would send for a
 * certificate (for `curl -H`), and make a development PKI. A thin Node adapter over the public
 * API: every PEM, base64, XFCC and certificate step is the library's own. This file is the
 * entry point and the dispatch; each command has its own module.
 * @module
 */
import { realpathSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import { inspectCommand } from './inspect.ts'
import { CliError, type CliIo, type CommandResult, describeError, usageError } from './io.ts'
import { pkiCommand } from './pki.ts'
import { xfccCommand } from './xfcc.ts'

const USAGE = [
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

/**
 * Runs the command line `argv` (without the node and script paths) and returns the exit status.
 * Never throws: every failure becomes one `certgate: …` line on stderr.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  try {
    const result = await run(argv, io)
    if (result !== 'help') return result
    io.stdout(USAGE)
    return 0
  } catch (error) {
    io.stderr(`certgate: ${describeError(error)}\n`)
    return error instanceof CliError ? error.exitCode : 1
  }
}

async function run(argv: string[], io: CliIo): Promise<CommandResult> {
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

/** The process's I/O. */
function nodeIo(): CliIo {
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
