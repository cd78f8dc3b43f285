/**
 * Certificate text → DER bytes, for every shape proxies and hand-made headers use: PEM (one or
 * more blocks), PEM whose newlines are a literal `\n`, PEM whose armour spaces became `+`
 * (Go's QueryEscape), and bare base64 DER; PEM bundles read as OpenSSL reads them (certificates,
 * CRLs: the blocks asked for, text around them skipped). And DER → PEM for display.
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
  // Headers written by hand (test clients, curl scripts) carry a literal backslash-n.
  const normalised = text.includes('\\') ? text.replace(/\\r\\n|\\n|\\r/g, '\n') : text
  const blocks = normalised.includes(BEGIN) ? certificateBodies(normalised) : [normalised]
  if (blocks.length > options.maxCertificates) {
    throw new CertgateError(
      'ERR_CHAIN_TOO_LONG',
      `The forwarded chain holds more than ${options.maxCertificates} certificates.`
    )
  }
  return blocks.map(decodeBase64)
}

/**
 * The base64 bodies of forwarded PEM text: CERTIFICATE blocks only, and nothing but whitespace
 * around them. Stricter than {@link decodePem}: a proxy never writes anything else, so anything
 * else in a header was put there by someone other than the proxy.
 */
function certificateBodies(text: string): string[] {
  const blocks = scanPem(text)
  if (blocks.length === 0) throw malformed('ERR_CERT_MALFORMED', 'No certificate was found.')
  let position = 0
  for (const block of blocks) {
    assertBlank(text, position, block.start)
    if (block.label !== 'CERTIFICATE') {
      throw malformed('ERR_CERT_MALFORMED', 'Only CERTIFICATE PEM blocks are accepted.')
    }
    position = block.end
  }
  assertBlank(text, position, text.length)
  return blocks.map((block) => block.body)
}

/** Options for {@link decodePem}. */
export interface DecodePemOptions {
  /** The labels to read, e.g. `['CERTIFICATE']` or `['X509 CRL', 'CRL']`. */
  labels: readonly string[]
}

/**
 * The DER of every PEM block in `text` with one of `labels`, in order; [] when there is none.
 * Text around the blocks (OpenSSL's `subject=` lines, comments) and blocks with other labels are
 * skipped, as OpenSSL reads a bundle. Throws ERR_CERT_MALFORMED for a block cut short or a body
 * that is not base64.
 */
export function decodePem(text: string, options: DecodePemOptions): Uint8Array[] {
  const wanted = scanPem(text).filter((block) => options.labels.includes(block.label))
  return wanted.map((block) => decodeBase64(block.body))
}

/** One PEM block: its label, its base64 body, and where the block starts and ends in the text. */
interface PemBlock {
  readonly label: string
  readonly body: string
  readonly start: number
  readonly end: number
}

/** Every PEM block of `text`, in order. Throws ERR_CERT_MALFORMED for one that is incomplete. */
function scanPem(text: string): PemBlock[] {
  const blocks: PemBlock[] = []
  let position = 0
  for (;;) {
    const start = text.indexOf(BEGIN, position)
    if (start === -1) return blocks
    const labelEnd = text.indexOf(DASHES, start + BEGIN.length)
    if (labelEnd === -1) throw malformed('ERR_CERT_MALFORMED', 'A PEM header line is incomplete.')
    const label = readLabel(text.slice(start + BEGIN.length, labelEnd))
    const bodyStart = labelEnd + DASHES.length
    const endLine = text.indexOf(END, bodyStart)
    if (endLine === -1) throw malformed('ERR_CERT_MALFORMED', 'A PEM block has no END line.')
    const endLabelEnd = text.indexOf(DASHES, endLine + END.length)
    if (endLabelEnd === -1) throw malformed('ERR_CERT_MALFORMED', 'A PEM END line is incomplete.')
    if (readLabel(text.slice(endLine + END.length, endLabelEnd)) !== label) {
      throw malformed('ERR_CERT_MALFORMED', 'A PEM END line does not match its BEGIN line.')
    }
    position = endLabelEnd + DASHES.length
    blocks.push({ label, body: text.slice(bodyStart, endLine), start, end: position })
  }
}

/**
 * The label after BEGIN or END: ' CERTIFICATE' as PEM writes it, '+CERTIFICATE' after a
 * query-escape turned the space into '+'. Anything else gives '', which no caller asks for.
 */
function readLabel(raw: string): string {
  return raw[0] === ' ' || raw[0] === '+' ? raw.slice(1).replace(/\+/g, ' ') : ''
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
  const bytes = base64Range(text, 0, text.length, false)
  if (bytes === null) throw malformed('ERR_CERT_MALFORMED', 'The certificate is not valid base64.')
  return bytes
}

/**
 * The bytes of base64 text between `start` and `end`, null when it is not strict base64 (see
 * {@link decodeBase64}). With `percent`, `%XX` escapes of ASCII are read as the character they
 * stand for, and any other `%` gives null: the caller then decodes the escapes first.
 */
function base64Range(text: string, start: number, end: number, percent: boolean): Uint8Array | null {
  const out = new Uint8Array(Math.floor(((end - start) * 3) / 4) + 3)
  let length = 0
  let buffer = 0
  let bits = 0
  let padding = 0
  for (let i = start; i < end; i++) {
    // Four symbols at a group boundary, the common case, in one step: what the steps below do
    // for each of them (a non-symbol among them is left to those steps).
    if (bits === 0 && padding === 0 && i + 4 <= end) {
      const group =
        (symbol(text.charCodeAt(i)) << 18) |
        (symbol(text.charCodeAt(i + 1)) << 12) |
        (symbol(text.charCodeAt(i + 2)) << 6) |
        symbol(text.charCodeAt(i + 3))
      if (group >= 0) {
        out[length] = group >> 16
        out[length + 1] = group >> 8
        out[length + 2] = group
        length += 3
        i += 3
        continue
      }
    }
    let code = text.charCodeAt(i)
    if (code === 0x25 && percent) {
      code = i + 2 < end ? asciiEscape(text, i) : -1
      if (code === -1) return null
      i += 2
    }
    if (isBase64Space(code)) continue
    if (code === 0x3d) {
      padding++
      continue
    }
    const value = code < 128 ? BASE64_VALUES[code]! : -1
    if (value === -1 || padding > 0) return null
    buffer = (buffer << 6) | value
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[length++] = (buffer >> bits) & 0xff
    }
  }
  const symbols = (length * 8 + bits) / 6
  if (length === 0 || padding > 2 || (padding > 0 && (symbols + padding) % 4 !== 0) || bits >= 6) return null
  return out.subarray(0, length)
}

/** A base64 symbol's value, else -1: negative still once shifted and or-ed with other values. */
function symbol(code: number): number {
  return code < 128 ? BASE64_VALUES[code]! : -1
}

/** The ASCII character `%XX` at `at` stands for, or -1 (not two hex digits, or not ASCII). */
function asciiEscape(text: string, at: number): number {
  const high = hexDigit(text.charCodeAt(at + 1))
  const low = hexDigit(text.charCodeAt(at + 2))
  return high === -1 || low === -1 || high > 7 ? -1 : high * 16 + low
}

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  const lower = code | 0x20
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1
}

const ESCAPED_BEGIN = '-----BEGIN%20CERTIFICATE-----'
const ESCAPED_END = '-----END%20CERTIFICATE-----'

/**
 * URL-encoded PEM, as Envoy and nginx forward it, straight to DER with no decoded text in
 * between: the same blocks {@link decodeCertificates} gives for the decoded text, for the shape
 * proxies write (CERTIFICATE blocks, `%20` in the armour, whitespace or its escapes around them,
 * bodies of base64 and ASCII escapes). Null for anything else — another spelling, a stray
 * character, a bad escape, a body that is not base64, more than `maxCertificates` blocks: the
 * caller then decodes the escapes and calls decodeCertificates, which reads or refuses it as
 * always. Decoding a header's `Cert` through a string cost more than the rest of its parse.
 */
export function decodeEscapedCertificates(raw: string, options: DecodeCertificatesOptions): Uint8Array[] | null {
  const blocks: Uint8Array[] = []
  let at = skipEscapedBlank(raw, 0)
  while (at < raw.length) {
    if (!raw.startsWith(ESCAPED_BEGIN, at) || blocks.length === options.maxCertificates) return null
    const bodyStart = at + ESCAPED_BEGIN.length
    const bodyEnd = raw.indexOf(ESCAPED_END, bodyStart)
    if (bodyEnd === -1) return null
    const der = base64Range(raw, bodyStart, bodyEnd, true)
    if (der === null) return null
    blocks.push(der)
    at = skipEscapedBlank(raw, bodyEnd + ESCAPED_END.length)
  }
  return blocks.length === 0 ? null : blocks
}

/** The index after the whitespace at `at`, written as is or as `%20`, `%0A`, `%0D`, `%09`. */
function skipEscapedBlank(raw: string, at: number): number {
  for (;;) {
    const code = raw.charCodeAt(at)
    if (isBase64Space(code)) at++
    else if (code === 0x25 && at + 2 < raw.length && isBase64Space(asciiEscape(raw, at))) at += 3
    else return at
  }
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

