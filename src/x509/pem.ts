/**
 * Certificate text → DER bytes, for every shape proxies and hand-made headers use: PEM (one or
 * more blocks), PEM whose newlines are a literal `\n`, PEM whose armour spaces became `+`
 * (Go's QueryEscape), and bare base64 DER. And DER → PEM for display.
 * @module
 */
import { CertgateError, malformed } from '../errors.ts'

const BEGIN = '-----BEGIN'
const END = '-----END'
const DASHES = '-----'

/** Options for {@link decodeCertificates}. */
export interface DecodeCertificatesOptions {
  /** Refuse more blocks than this with ERR_CHAIN_TOO_LONG. */
  maxCertificates: number
}

/**
 * Decodes certificate text into DER blocks, in order. Throws ERR_CERT_MALFORMED for anything
 * that is not cleanly certificates, and ERR_CHAIN_TOO_LONG past `maxCertificates`.
 */
export function decodeCertificates(text: string, options: DecodeCertificatesOptions): Uint8Array[] {
  // Hand-made headers (the Flask recipe's test clients) carry a literal backslash-n.
  const normalised = text.includes('\\') ? text.replace(/\\r\\n|\\n|\\r/g, '\n') : text
  const blocks = normalised.includes(BEGIN) ? pemBlocks(normalised) : [normalised]
  if (blocks.length > options.maxCertificates) {
    throw new CertgateError(
      'ERR_CHAIN_TOO_LONG',
      `The forwarded chain holds more than ${options.maxCertificates} certificates.`
    )
  }
  return blocks.map(decodeBase64)
}

/** Splits PEM text into the base64 bodies of its CERTIFICATE blocks; nothing else may stand between them. */
function pemBlocks(text: string): string[] {
  const bodies: string[] = []
  let position = 0
  for (;;) {
    const begin = text.indexOf(BEGIN, position)
    if (begin === -1) {
      assertBlank(text, position, text.length)
      break
    }
    assertBlank(text, position, begin)
    const labelStart = begin + BEGIN.length
    const labelEnd = text.indexOf(DASHES, labelStart)
    if (labelEnd === -1) throw malformed('ERR_CERT_MALFORMED', 'A PEM header line is incomplete.')
    assertCertificateLabel(text.slice(labelStart, labelEnd))
    const bodyStart = labelEnd + DASHES.length
    const end = text.indexOf(END, bodyStart)
    if (end === -1) throw malformed('ERR_CERT_MALFORMED', 'A PEM block has no END line.')
    const endLabelStart = end + END.length
    const endLabelEnd = text.indexOf(DASHES, endLabelStart)
    if (endLabelEnd === -1) throw malformed('ERR_CERT_MALFORMED', 'A PEM END line is incomplete.')
    assertCertificateLabel(text.slice(endLabelStart, endLabelEnd))
    bodies.push(text.slice(bodyStart, end))
    position = endLabelEnd + DASHES.length
  }
  if (bodies.length === 0) throw malformed('ERR_CERT_MALFORMED', 'No certificate was found.')
  return bodies
}

function assertCertificateLabel(label: string): void {
  // ' CERTIFICATE' as PEM writes it, '+CERTIFICATE' after a query-escape turned the space into '+'.
  if (label !== ' CERTIFICATE' && label !== '+CERTIFICATE') {
    throw malformed('ERR_CERT_MALFORMED', 'Only CERTIFICATE PEM blocks are accepted.')
  }
}

function assertBlank(text: string, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (!isBase64Space(text.charCodeAt(i))) throw malformed('ERR_CERT_MALFORMED', 'Unexpected text around the PEM blocks.')
  }
}

function isBase64Space(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const BASE64_VALUES: Int16Array = (() => {
  const table = new Int16Array(128).fill(-1)
  for (let i = 0; i < BASE64_ALPHABET.length; i++) table[BASE64_ALPHABET.charCodeAt(i)] = i
  return table
})()

/** Strict base64 → bytes: whitespace skipped, padding only at the end, any other character refused. */
export function decodeBase64(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3)
  let length = 0
  let buffer = 0
  let bits = 0
  let padding = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (isBase64Space(code)) continue
    if (code === 0x3d) {
      padding++
      continue
    }
    const value = code < 128 ? BASE64_VALUES[code]! : -1
    if (value === -1 || padding > 0) throw malformed('ERR_CERT_MALFORMED', 'The certificate is not valid base64.')
    buffer = (buffer << 6) | value
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[length++] = (buffer >> bits) & 0xff
    }
  }
  const symbols = (length * 8 + bits) / 6
  if (length === 0 || padding > 2 || (padding > 0 && (symbols + padding) % 4 !== 0) || bits >= 6) {
    throw malformed('ERR_CERT_MALFORMED', 'The certificate is not valid base64.')
  }
  return out.subarray(0, length)
}

/** Bytes → base64. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = ''
  const step = 0x8000
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step))
  }
  return btoa(binary)
}

/** DER → PEM with 64-character lines, as OpenSSL writes it; `label` defaults to CERTIFICATE. */
export function encodePem(der: Uint8Array, options: { label?: string } = {}): string {
  const { label = 'CERTIFICATE' } = options
  const base64 = encodeBase64(der)
  let body = ''
  for (let i = 0; i < base64.length; i += 64) body += `${base64.slice(i, i + 64)}\n`
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`
}

