/**
 * Certificates for the name constraints tests: CAs carrying a nameConstraints extension encoded
 * here byte by byte (so a test can also write what a careful encoder would refuse: malformed
 * bases, a minimum, unsupported forms), and leaves with any subjectAltName @peculiar/x509 writes.
 * @module
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { toHex } from '../../src/bytes.ts'
import type { TestCertificate } from '../../src/testing/index.ts'
import { opensslRfc2253, toNameParams } from '../../src/testing/names.ts'

const HOUR_MS = 60 * 60 * 1000
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const OID_NAME_CONSTRAINTS = '2.5.29.30'

/** A subject in @peculiar/x509's JSON form, least specific RDN first. */
export type Subject = Array<Record<string, string[]>>

/** One subtree base. `ip` is CIDR text (`192.0.2.0/24`, `2001:db8::/32`). */
export type Base =
  | { dns: string }
  | { email: string }
  | { uri: string }
  | { ip: string }
  | { dn: Subject }
  /** An otherName base with a private type-id. */
  | { otherName: true }
  /** A whole GeneralSubtree's content, written as given (base and any minimum or maximum). */
  | { rawSubtree: Uint8Array }

/** A nameConstraints extension to put in a CA. */
export interface Constraints {
  permitted?: Base[]
  excluded?: Base[]
  /** Default true. */
  critical?: boolean
}

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const length = parts.reduce((n, p) => n + p.length, 0)
  const header =
    length < 0x80
      ? [tag, length]
      : length < 0x100
        ? [tag, 0x81, length]
        : [tag, 0x82, length >> 8, length & 0xff]
  const out = new Uint8Array(header.length + length)
  out.set(header)
  let at = header.length
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)

/** `a.b.c.d/n` or an IPv6 `x::y/n` → address then mask octets. */
function cidrOctets(cidr: string): Uint8Array {
  const [address, prefixText] = cidr.split('/') as [string, string]
  let octets: number[]
  if (address.includes(':')) {
    const [head, tail = ''] = address.split('::') as [string, string?]
    const groups = (text: string): number[] =>
      text === '' ? [] : text.split(':').map((g) => parseInt(g, 16))
    const h = groups(head)
    const t = address.includes('::') ? groups(tail) : []
    const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t]
    octets = all.flatMap((g) => [g >> 8, g & 0xff])
  } else {
    octets = address.split('.').map(Number)
  }
  const prefix = Number(prefixText)
  const mask = octets.map((_, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8))
    return (0xff00 >> bits) & 0xff
  })
  return new Uint8Array([...octets, ...mask])
}

function encodeBase(base: Base): Uint8Array {
  if ('rawSubtree' in base) return tlv(0x30, base.rawSubtree)
  let name: Uint8Array
  if ('dns' in base) name = tlv(0x82, ascii(base.dns))
  else if ('email' in base) name = tlv(0x81, ascii(base.email))
  else if ('uri' in base) name = tlv(0x86, ascii(base.uri))
  else if ('ip' in base) name = tlv(0x87, cidrOctets(base.ip))
  else if ('dn' in base) {
    name = tlv(0xa4, new Uint8Array(new x509.Name(toNameParams(base.dn)).toArrayBuffer()))
  } else {
    // type-id 1.3.6.1.4.1.55738.666.1 (a private arc), value [0] UTF8String "x".
    const arcs = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xb3, 0x3a, 0x85, 0x1a, 0x01]
    const typeId = tlv(0x06, new Uint8Array(arcs))
    name = tlv(0xa0, typeId, tlv(0xa0, tlv(0x0c, ascii('x'))))
  }
  return tlv(0x30, name)
}

/** The DER of a NameConstraints value. */
export function encodeNameConstraints(constraints: Constraints): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = []
  if (constraints.permitted) parts.push(tlv(0xa0, ...constraints.permitted.map(encodeBase)))
  if (constraints.excluded) parts.push(tlv(0xa1, ...constraints.excluded.map(encodeBase)))
  return tlv(0x30, ...parts)
}

/** What to put in a certificate. */
export interface CertificateOptions {
  subject: Subject
  /** The signer; omitted: self-signed. */
  issuer?: TestCertificate
  /** A CA (keyCertSign, basicConstraints critical); otherwise a clientAuth leaf. */
  ca?: boolean
  /** A nameConstraints extension (in a leaf too, where it does not belong). */
  nameConstraints?: Constraints
  /** subjectAltName entries; none: no extension. */
  altNames?: x509.JsonGeneralName[]
  /** Default: critical exactly when the subject is empty. */
  altNamesCritical?: boolean
}

/** A P-256 certificate built with @peculiar/x509. */
export async function createCertificate(options: CertificateOptions): Promise<TestCertificate> {
  const { subject, issuer, ca = false, altNames = [] } = options
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const signer = issuer?.keys ?? keys
  const extensions: x509.Extension[] = ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ]
    : [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([CLIENT_AUTH]),
      ]
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey))
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(signer.publicKey))
  if (altNames.length > 0) {
    const critical = options.altNamesCritical ?? subject.length === 0
    extensions.push(new x509.SubjectAlternativeNameExtension(altNames, critical))
  }
  if (options.nameConstraints) {
    const { critical = true } = options.nameConstraints
    const der = encodeNameConstraints(options.nameConstraints)
    extensions.push(new x509.Extension(OID_NAME_CONSTRAINTS, critical, der))
  }
  const serial = crypto.getRandomValues(new Uint8Array(16))
  serial[0] = (serial[0]! & 0x7f) | 0x01
  const subjectName = new x509.Name(toNameParams(subject))
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: toHex(serial),
    subject: subjectName,
    issuer: issuer ? issuer.x509.subjectName : subjectName,
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + 24 * HOUR_MS),
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    extensions,
  })
  const der = new Uint8Array(cert.rawData)
  const commonNames = cert.subjectName.getField('CN')
  return {
    der,
    pem: cert.toString('pem'),
    keys,
    x509: cert,
    thumbprint: toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', der))),
    subjectRfc4514: opensslRfc2253(cert.subjectName),
    commonName: commonNames.at(-1) ?? null,
    issuer: issuer ?? null,
  }
}

/** A self-signed root CA with these constraints. */
export function createRoot(name: string, nameConstraints?: Constraints): Promise<TestCertificate> {
  return createCertificate({
    subject: [{ CN: [name] }],
    ca: true,
    ...(nameConstraints ? { nameConstraints } : {}),
  })
}

/** A CA under `issuer` with these constraints. */
export function createIntermediate(
  issuer: TestCertificate,
  name: string,
  nameConstraints?: Constraints
): Promise<TestCertificate> {
  return createCertificate({
    subject: [{ CN: [name] }],
    issuer,
    ca: true,
    ...(nameConstraints ? { nameConstraints } : {}),
  })
}
