/**
 * Hand-written yardsticks for the HTTP benchmark, as Hono middlewares in front of the same
 * handler certgate's variant uses:
 * - `naiveMap`: answers from a `Map` keyed by the XFCC header text (the returning-client floor
 *   for anything that checks a certificate at all); a miss runs the cold check and remembers it.
 * - `coldCheck`: checks every request from scratch, with no cache: the rightmost XFCC element,
 *   its `Cert` URL-decoded and base64-decoded to DER, a synchronous SHA-256 of the DER compared
 *   with the element's `Hash`, the subject CN found by a byte scan of the DER, an allowlist.
 * Written tight but correct for the benchmark's certificates (Envoy headers, one element, a CN
 * in a UTF8String or PrintableString); not a general XFCC or X.509 parser. No closure is created
 * per request: tsx's keepNames transform would charge one to the anchors and not to dist/.
 * @module
 */
import { Buffer } from 'node:buffer'
import * as nodeCrypto from 'node:crypto'
import type { Context, Next } from 'hono'

declare const Bun:
  | { CryptoHasher: { hash(algorithm: 'sha256', data: Uint8Array, encoding: 'hex'): string } }
  | undefined

/** Synchronous SHA-256 hex with what the runtime has: Bun.CryptoHasher, node:crypto's hash(), else createHash. */
export const sha256Hex: (data: Uint8Array) => string =
  typeof Bun !== 'undefined'
    ? (data) => Bun.CryptoHasher.hash('sha256', data, 'hex')
    : typeof (nodeCrypto as { hash?: unknown }).hash === 'function'
      ? (data) => (nodeCrypto as unknown as { hash(a: string, d: Uint8Array, e: 'hex'): string }).hash('sha256', data, 'hex')
      : (data) => nodeCrypto.createHash('sha256').update(data).digest('hex')

/** Which SHA-256 {@link sha256Hex} uses, for the report. */
export const sha256Kind: string =
  typeof Bun !== 'undefined'
    ? 'Bun.CryptoHasher'
    : typeof (nodeCrypto as { hash?: unknown }).hash === 'function'
      ? 'node:crypto hash()'
      : 'node:crypto createHash()'

export interface AnchorIdentity {
  thumbprint: string
  common_name: string
  [key: string]: unknown
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

/** The index after the closing quote of the quoted string opening at `open`, or -1. */
function skipQuoted(header: string, open: number): number {
  let at = open + 1
  for (;;) {
    at = header.indexOf('"', at)
    if (at === -1) return -1
    if (header.charCodeAt(at - 1) !== BACKSLASH) return at + 1
    at++
  }
}

/** Where the rightmost element starts: after the last comma outside quotes; -1 when malformed. */
function rightmostStart(header: string): number {
  let start = 0
  let at = 0
  for (;;) {
    const comma = header.indexOf(',', at)
    if (comma === -1) return start
    const quote = header.indexOf('"', at)
    if (quote === -1 || comma < quote) {
      start = at = comma + 1
      continue
    }
    at = skipQuoted(header, quote)
    if (at === -1) return -1
  }
}

/** DER TLV at `at`: [contentStart, contentEnd], or null past `end`. Short and long lengths (≤ 3 bytes). */
function tlv(der: Uint8Array, at: number, end: number): [number, number] | null {
  if (at + 2 > end) return null
  let length = der[at + 1]!
  let content = at + 2
  if (length & 0x80) {
    const bytes = length & 0x7f
    if (bytes === 0 || bytes > 3 || content + bytes > end) return null
    length = 0
    for (let i = 0; i < bytes; i++) length = (length << 8) | der[content + i]!
    content += bytes
  }
  return content + length > end ? null : [content, content + length]
}

/** The subject's last CN (most specific), found by scanning the subject for OID 2.5.4.3. */
function subjectCommonName(der: Buffer): string | null {
  const cert = tlv(der, 0, der.length)
  if (cert === null) return null
  const tbs = tlv(der, cert[0], cert[1])
  if (tbs === null) return null
  let at = tbs[0]
  if (der[at] === 0xa0) at = tlv(der, at, tbs[1])?.[1] ?? -1 // version
  // serial, signature algorithm, issuer, validity: skipped; then the subject.
  for (let i = 0; i < 4 && at !== -1; i++) at = tlv(der, at, tbs[1])?.[1] ?? -1
  const subject = at === -1 ? null : tlv(der, at, tbs[1])
  if (subject === null) return null
  let cn: string | null = null
  for (let p = subject[0]; p + 7 <= subject[1]; p++) {
    if (der[p] !== 0x06 || der[p + 1] !== 0x03 || der[p + 2] !== 0x55 || der[p + 3] !== 0x04 || der[p + 4] !== 0x03) continue
    const value = tlv(der, p + 5, subject[1])
    if (value === null) return null
    cn = der.toString('utf8', value[0], value[1])
    p = value[1] - 1
  }
  return cn
}

/** Constant-time (for equal lengths) comparison of lowercase hex with header text at `at`. */
function hexEquals(hex: string, header: string, at: number, end: number): boolean {
  if (end - at !== hex.length) return false
  let diff = 0
  for (let i = 0; i < hex.length; i++) diff |= hex.charCodeAt(i) ^ (header.charCodeAt(at + i) | 0x20)
  return diff === 0
}

/** The cold check of one header: the identity to answer with, or null (refused). */
export function checkHeader(header: string, allowed: ReadonlySet<string>, fixed: object): AnchorIdentity | null {
  let at = rightmostStart(header)
  if (at === -1) return null
  let hashAt = -1
  let hashEnd = -1
  let certAt = -1
  let certEnd = -1
  while (at < header.length) {
    const eq = header.indexOf('=', at)
    if (eq === -1) return null
    let valueAt = eq + 1
    let valueEnd: number
    let next: number
    if (header.charCodeAt(valueAt) === QUOTE) {
      next = skipQuoted(header, valueAt)
      if (next === -1) return null
      valueEnd = next - 1
      valueAt++
      next++ // the ';'
    } else {
      valueEnd = header.indexOf(';', valueAt)
      if (valueEnd === -1) valueEnd = header.length
      next = valueEnd + 1
    }
    if (eq - at === 4 && header.startsWith('Hash', at)) [hashAt, hashEnd] = [valueAt, valueEnd]
    else if (eq - at === 4 && header.startsWith('Cert', at)) [certAt, certEnd] = [valueAt, valueEnd]
    at = next
  }
  if (hashAt === -1 || certAt === -1) return null
  let pem: string
  try {
    pem = decodeURIComponent(header.slice(certAt, certEnd))
  } catch {
    return null
  }
  const begin = pem.indexOf('-----BEGIN CERTIFICATE-----')
  const end = pem.indexOf('-----END CERTIFICATE-----', begin)
  if (begin === -1 || end === -1) return null
  // Node's, Bun's and Deno's base64 decoders skip the PEM's line breaks.
  const der = Buffer.from(pem.slice(begin + 27, end), 'base64')
  const thumbprint = sha256Hex(der)
  if (!hexEquals(thumbprint, header, hashAt, hashEnd)) return null
  const cn = subjectCommonName(der)
  if (cn === null || !allowed.has(cn)) return null
  return { ...fixed, thumbprint, common_name: cn, subject: `CN=${cn}` }
}

type Env = { Variables: { clientCert: AnchorIdentity } }

const refusal = { type: 'about:blank', title: 'Forbidden', status: 403, code: 'ERR_ANCHOR_REFUSED' }

/** Hono middleware: the cold check on every request. */
export function coldCheck(allowed: ReadonlySet<string>, fixed: object) {
  return async function coldCheckMiddleware(c: Context<Env>, next: Next): Promise<Response | void> {
    const header = c.req.header('x-forwarded-client-cert')
    const identity = header === undefined ? null : checkHeader(header, allowed, fixed)
    if (identity === null) return c.json(refusal, 403)
    c.set('clientCert', identity)
    await next()
  }
}

/** Hono middleware: a Map keyed by the header text, filled by the cold check (unbounded: an anchor, not a design). */
export function naiveMap(allowed: ReadonlySet<string>, fixed: object) {
  const known = new Map<string, AnchorIdentity>()
  return async function naiveMapMiddleware(c: Context<Env>, next: Next): Promise<Response | void> {
    const header = c.req.header('x-forwarded-client-cert')
    if (header === undefined) return c.json(refusal, 403)
    let identity = known.get(header)
    if (identity === undefined) {
      const checked = checkHeader(header, allowed, fixed)
      if (checked === null) return c.json(refusal, 403)
      known.set(header, (identity = checked))
    }
    c.set('clientCert', identity)
    await next()
  }
}
