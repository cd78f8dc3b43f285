/**
 * `certgate inspect`: a client certificate's thumbprint, names, validity and SANs, and the
 * ALLOWED_CERT_THUMBPRINTS line to paste, from a PEM, DER or XFCC file.
 * @module
 */
import { parseArgs } from 'node:util'
import {
  CertgateError,
  chooseXfccElement,
  type ClientCertificate,
  decodeCertificates,
  isCertgateError,
  parseXfcc,
  readClientCertificate,
  type XfccElement,
} from '../index.ts'
import {
  certificatesIn,
  type CliIo,
  type CommandResult,
  HELP_OPTION,
  inputName,
  MAX_CERTIFICATES,
  onePositional,
  parseOrUsage,
  readInput,
} from './io.ts'

interface InspectInput {
  der: Uint8Array
  /** Where the certificate came from, for the `Read from` line. */
  description: string
  /** The XFCC element it came from, when the file held an XFCC value. */
  element: XfccElement | null
}

export async function inspectCommand(args: string[], io: CliIo): Promise<CommandResult> {
  const { values, positionals } = parseOrUsage(() =>
    parseArgs({
      args,
      options: { ...HELP_OPTION, json: { type: 'boolean' } },
      allowPositionals: true,
    })
  )
  if (values.help) return 'help'
  const path = onePositional(positionals, 'inspect', 'file')
  const input = inspectInput(await readInput(path, io), inputName(path))
  const cert = await readClientCertificate(input.der)
  if (values.json) {
    io.stdout(`${JSON.stringify(cert.toJSON(), null, 2)}\n`)
    return 0
  }
  io.stdout(formatInspection(cert, input, new Date()))
  return 0
}

function inspectInput(bytes: Uint8Array, name: string): InspectInput {
  const file = certificatesIn(bytes)
  if (file === null) return xfccInput(new TextDecoder().decode(bytes).trim(), name)
  const count = file.ders.length
  const description =
    count === 1 ? file.format : `${file.format}, ${count} certificates (showing the first)`
  return { der: file.ders[0]!, description, element: null }
}

/** The element certgate itself reads from an XFCC value, and its certificate. */
function xfccInput(text: string, name: string): InspectInput {
  let elements: XfccElement[]
  try {
    // Accept a pasted `X-Forwarded-Client-Cert: …` header line as well as the bare value.
    elements = parseXfcc(text.replace(/^x-forwarded-client-cert\s*:/i, ''))
  } catch (error) {
    if (!isCertgateError(error)) throw error
    throw new CertgateError(
      error.code,
      `${name} is not a PEM or DER certificate, nor an XFCC value: ${error.message}`
    )
  }
  const element = chooseXfccElement(elements)
  const pem = element.cert ?? element.chain
  if (pem === undefined) {
    throw new CertgateError('ERR_CERT_MISSING', 'The rightmost XFCC element has no Cert or Chain.')
  }
  const der = decodeCertificates(pem, { maxCertificates: MAX_CERTIFICATES })[0]!
  const from = element.cert !== undefined ? 'Cert' : 'first certificate of Chain (the element has no Cert)'
  const position = `element ${elements.indexOf(element) + 1} of ${elements.length} (the rightmost)`
  return { der, description: `XFCC value, ${position}, ${from}`, element }
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
    ['Extended key usage', extendedKeyUsages(cert.fields.extendedKeyUsages)],
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

/** OpenSSL's short names for the extended key usages a client certificate may carry. */
const EKU_NAMES: ReadonlyMap<string, string> = new Map([
  ['1.3.6.1.5.5.7.3.1', 'serverAuth'],
  ['1.3.6.1.5.5.7.3.2', 'clientAuth'],
  ['1.3.6.1.5.5.7.3.3', 'codeSigning'],
  ['1.3.6.1.5.5.7.3.4', 'emailProtection'],
  ['1.3.6.1.5.5.7.3.8', 'timeStamping'],
  ['1.3.6.1.5.5.7.3.9', 'OCSPSigning'],
  ['1.3.6.1.5.5.7.3.17', 'ipsecIKE'],
  ['2.5.29.37.0', 'anyExtendedKeyUsage'],
])

/** The EKU purposes by name, unknown ones as dotted OIDs. */
function extendedKeyUsages(oids: readonly string[] | null): string {
  if (oids === null) return 'none (extension absent)'
  if (oids.length === 0) return 'none (the extension lists no purpose)'
  return oids.map((oid) => EKU_NAMES.get(oid) ?? oid).join(', ')
}

function hashVerdict(element: XfccElement, cert: ClientCertificate): string {
  if (element.hash === undefined) return '(none in the element)'
  // Envoy writes lowercase hex; compare case-insensitively, as the verifier does.
  if (element.hash.toLowerCase() === cert.thumbprint.toLowerCase()) return 'matches the certificate'
  return `DOES NOT MATCH the certificate (Hash=${element.hash}); certgate would refuse it`
}
