/**
 * Certificates for the profile and key tests, built with @peculiar/x509 where it can and by hand
 * where it cannot: any key type (P-256/384/521, RSA of any size, RSA-PSS, Ed25519), hand-made
 * public keys without a private half (a 2^32+1 exponent, P-192, DSA), raw extensions with any
 * criticality, and no AKI or SKI on request.
 * @module
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { concatBytes } from '../../src/bytes.ts'
import { formatXfcc } from '../../src/index.ts'

export const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
export const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
export const ANY_EKU = '2.5.29.37.0'
const HOUR_MS = 60 * 60 * 1000
const DAY_MS = 24 * HOUR_MS

/** Key types the builders generate. */
export type ProfileKeyType = 'P-256' | 'P-384' | 'P-521' | 'RSA-1024' | 'RSA-2048' | 'RSA-PSS-2048' | 'Ed25519'

/** A built certificate, with its keys when it has a private half. */
export interface ProfileCert {
  der: Uint8Array
  pem: string
  x509: x509.X509Certificate
  /** Null for a hand-made public key: such a certificate cannot sign. */
  keys: CryptoKeyPair | null
  /** How this certificate's key signs what it issues. */
  signingAlgorithm: Algorithm
}

/** What to put in a certificate. */
export interface ProfileCertOptions {
  /** RFC 4514 text, e.g. `'CN=root'`. */
  subject: string
  /** The signer; omitted: self-signed. */
  issuer?: ProfileCert
  /** Default P-256. */
  keyType?: ProfileKeyType
  /** A hand-made SubjectPublicKeyInfo (DER) in place of a generated key. */
  publicKey?: Uint8Array
  /** CA:TRUE (with an optional pathLenConstraint); basicConstraints critical unless said. */
  ca?: boolean | { pathLength?: number; critical?: boolean }
  /** Default: clientAuth for leaves, none for CAs; null: none. */
  extendedKeyUsages?: string[] | null
  ekuCritical?: boolean
  /** Default: digitalSignature for leaves, keyCertSign|cRLSign for CAs; null: none. */
  keyUsages?: number | null
  /** AKI from the signer's key: `'none'` leaves it out, `'critical'` marks it critical. */
  aki?: 'normal' | 'none' | 'critical'
  /** SKI: default present. */
  ski?: boolean
  notBefore?: Date
  notAfter?: Date
  /** Overrides how the issuer signs this certificate (e.g. RSA-PSS with another salt). */
  signingAlgorithm?: Algorithm
  /** More extensions, raw: `new x509.Extension(oid, critical, der)`. */
  extra?: x509.Extension[]
  /** Hex. Default: 16 random octets, positive. */
  serialNumber?: string
}

const GENERATE: Readonly<Record<ProfileKeyType, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm>> = {
  'P-256': { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams,
  'P-384': { name: 'ECDSA', namedCurve: 'P-384' } as EcKeyGenParams,
  'P-521': { name: 'ECDSA', namedCurve: 'P-521' } as EcKeyGenParams,
  'RSA-1024': rsa('RSASSA-PKCS1-v1_5', 1024),
  'RSA-2048': rsa('RSASSA-PKCS1-v1_5', 2048),
  'RSA-PSS-2048': rsa('RSA-PSS', 2048),
  Ed25519: { name: 'Ed25519' },
}

// Each curve with its own hash, as CAs pair them.
const SIGNING: Readonly<Record<ProfileKeyType, Algorithm>> = {
  'P-256': { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
  'P-384': { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams,
  'P-521': { name: 'ECDSA', hash: 'SHA-512' } as EcdsaParams,
  'RSA-1024': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as RsaHashedImportParams,
  'RSA-2048': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as RsaHashedImportParams,
  'RSA-PSS-2048': { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 } as RsaPssParams,
  Ed25519: { name: 'Ed25519' },
}

function rsa(name: string, modulusLength: number): RsaHashedKeyGenParams {
  return { name, modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
}

/** Whether this runtime's Web Crypto can make and verify Ed25519 signatures. */
export async function hasEd25519(): Promise<boolean> {
  try {
    await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
    return true
  } catch {
    return false
  }
}

/** Builds one certificate. */
export async function buildCert(options: ProfileCertOptions): Promise<ProfileCert> {
  const keyType = options.keyType ?? 'P-256'
  const keys = options.publicKey
    ? null
    : ((await crypto.subtle.generateKey(GENERATE[keyType], true, ['sign', 'verify'])) as CryptoKeyPair)
  const publicKey = keys?.publicKey ?? new x509.PublicKey(options.publicKey as Uint8Array<ArrayBuffer>)
  const signer = options.issuer ?? null
  const signingKey = signer ? signer.keys?.privateKey : keys?.privateKey
  if (!signingKey) throw new Error('the signer has no private key')
  const isCa = options.ca !== undefined && options.ca !== false
  const now = Date.now()
  const subject = new x509.Name(options.subject)
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: options.serialNumber ?? randomSerial(),
    subject,
    issuer: signer ? signer.x509.subjectName : subject,
    notBefore: options.notBefore ?? new Date(now - HOUR_MS),
    notAfter: options.notAfter ?? new Date(now + DAY_MS),
    publicKey,
    signingKey,
    signingAlgorithm: options.signingAlgorithm ?? signer?.signingAlgorithm ?? SIGNING[keyType],
    extensions: await extensionsFor(options, isCa, publicKey, signer?.x509.publicKey ?? publicKey),
  })
  const der = new Uint8Array(cert.rawData)
  return { der, pem: cert.toString('pem'), x509: cert, keys, signingAlgorithm: SIGNING[keyType] }
}

async function extensionsFor(
  options: ProfileCertOptions,
  isCa: boolean,
  own: CryptoKey | x509.PublicKey,
  signer: CryptoKey | x509.PublicKey
): Promise<x509.Extension[]> {
  const extensions: x509.Extension[] = []
  if (isCa) {
    const ca = typeof options.ca === 'object' ? options.ca : {}
    extensions.push(new x509.BasicConstraintsExtension(true, ca.pathLength, ca.critical ?? true))
  }
  const { extendedKeyUsages = isCa ? null : [CLIENT_AUTH] } = options
  const { keyUsages = isCa ? 32 | 64 : 1 } = options
  if (keyUsages !== null) extensions.push(new x509.KeyUsagesExtension(keyUsages as x509.KeyUsageFlags, true))
  if (extendedKeyUsages !== null) {
    extensions.push(new x509.ExtendedKeyUsageExtension(extendedKeyUsages, options.ekuCritical ?? false))
  }
  if (options.ski ?? true) extensions.push(await x509.SubjectKeyIdentifierExtension.create(own))
  const aki = options.aki ?? 'normal'
  if (aki !== 'none') {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(signer, aki === 'critical'))
  }
  return [...extensions, ...(options.extra ?? [])]
}

/** A request carrying `cert` (and `chain`) in XFCC, with its Hash, as Envoy forwards it. */
export async function requestWith(cert: ProfileCert, chain: ProfileCert[] = []): Promise<Request> {
  const element = {
    by: [],
    hash: await thumbprintOf(cert),
    cert: cert.pem,
    ...(chain.length > 0 ? { chain: chain.map((c) => c.pem).join('') } : {}),
    uri: [],
    dns: [],
  }
  return new Request('http://certgate.test/', { headers: { 'x-forwarded-client-cert': formatXfcc([element]) } })
}

/** The SHA-256 thumbprint to pin, lowercase hex. */
export async function thumbprintOf(cert: ProfileCert): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', cert.der as Uint8Array<ArrayBuffer>))
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('')
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[0] = (bytes[0]! & 0x7f) | 0x01
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

// A few DER encoders, for hand-made public keys.
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]
  return new Uint8Array([tag, ...length, ...content])
}
const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, concatBytes(parts))
const bitString = (bytes: Uint8Array): Uint8Array => tlv(0x03, concatBytes([new Uint8Array([0]), bytes]))
const NULL = new Uint8Array([0x05, 0x00])

function integer(magnitude: Uint8Array): Uint8Array {
  let i = 0
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++
  const body = magnitude.subarray(i)
  return tlv(0x02, body[0]! >= 0x80 ? concatBytes([new Uint8Array([0]), body]) : body)
}

function oid(text: string): Uint8Array {
  const arcs = text.split('.').map(Number)
  const out = [arcs[0]! * 40 + arcs[1]!]
  for (const arc of arcs.slice(2)) {
    const groups = [arc & 0x7f]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80)
    out.push(...groups)
  }
  return tlv(0x06, new Uint8Array(out))
}

/** An RSA SubjectPublicKeyInfo with this modulus size (top bit set, odd) and exponent. */
export function rsaSpki(modulusBits: number, exponent: Uint8Array): Uint8Array {
  const modulus = crypto.getRandomValues(new Uint8Array(Math.ceil(modulusBits / 8)))
  const topBits = modulusBits % 8 === 0 ? 8 : modulusBits % 8
  modulus[0] = (modulus[0]! & ((1 << topBits) - 1)) | (1 << (topBits - 1))
  modulus[modulus.length - 1]! |= 1
  const key = seq(integer(modulus), integer(exponent))
  return seq(seq(oid('1.2.840.113549.1.1.1'), NULL), bitString(key))
}

/** An EC SubjectPublicKeyInfo on a named curve, with an uncompressed point of `size`-octet coordinates. */
export function ecSpki(curveOid: string, size: number): Uint8Array {
  const point = concatBytes([new Uint8Array([4]), crypto.getRandomValues(new Uint8Array(2 * size))])
  return seq(seq(oid('1.2.840.10045.2.1'), oid(curveOid)), bitString(point))
}

/** A DSA SubjectPublicKeyInfo (parameters and key made up: only its type matters). */
export function dsaSpki(): Uint8Array {
  const p = crypto.getRandomValues(new Uint8Array(256))
  const params = seq(integer(p), integer(p.subarray(0, 32)), integer(p))
  return seq(seq(oid('1.2.840.10040.4.1'), params), bitString(integer(p)))
}
