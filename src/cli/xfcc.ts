/**
 * `certgate xfcc`: the X-Forwarded-Client-Cert value Envoy sends for a client presenting a
 * certificate, for `curl -H`.
 * @module
 */
import { parseArgs } from 'node:util'
import { encodePem, formatXfcc, readClientCertificate } from '../index.ts'
import {
  certificatesFromFile,
  type CliIo,
  type CommandResult,
  HELP_OPTION,
  onePositional,
  parseOrUsage,
  STDIN_PATH,
  usageError,
} from './io.ts'

export async function xfccCommand(args: string[], io: CliIo): Promise<CommandResult> {
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
  if (values.help) return 'help'
  const path = onePositional(positionals, 'xfcc', 'certificate file')
  if (path === STDIN_PATH && values.chain === STDIN_PATH) {
    throw usageError(
      "standard input can be read only once: give '-' for the certificate or for --chain, not both"
    )
  }
  const [leafDer] = await certificatesFromFile(path, io)
  const cert = await readClientCertificate(leafDer!)
  const chain = values.chain === undefined ? undefined : await chainPem(values.chain, io)
  const header = formatXfcc([
    {
      by: values.by ?? [],
      hash: cert.thumbprint.toLowerCase(),
      cert: encodePem(cert.der),
      chain,
      subject: cert.subject,
      uri: [...cert.uris],
      dns: [...cert.dnsNames],
    },
  ])
  io.stdout(`${header}\n`)
  return 0
}

/** The `--chain` file as plain PEM, as Envoy re-encodes it. */
async function chainPem(path: string, io: CliIo): Promise<string> {
  const ders = await certificatesFromFile(path, io)
  // Each must be a certificate Envoy could have parsed.
  await Promise.all(ders.map((der) => readClientCertificate(der)))
  return ders.map((der) => encodePem(der)).join('')
}
