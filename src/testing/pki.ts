/**
 * A throwaway PKI for tests: certificates with every field a test may want to vary, and a root
 * CA → intermediate CA chain that issues client leaves. Web APIs only. Never use these keys or
 * certificates outside tests.
 * @module
 */
// Must stay the first import: @peculiar/x509 2.x needs a Reflect polyfill while it loads, and
// Bun evaluates CJS dependencies before ESM siblings, so only this CJS polyfill is early enough.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { toHex, toHexLower } from '../bytes.ts'
import { encodePem } from '../x509/pem.ts'
import { opensslRfc2253, toNameParams } from './names.ts'

/** Key types the kit generates. P-256 is the default because it is fast to generate. */
export type TestKeyAlgorithm = 'RSA-2048' | 'P-256'

/** What to put in a test certificate. Every field has a sensible default. */
export interface TestCertificateOptions {
  /** Subject CN when `subject` is not given. Default `'test-client'`. */
  commonName?: string
  /**
   * The full subject in @peculiar/x509's JSON form, in encoding order (least specific first),
   * e.g. `[{ C: ['US'] }, { O: ['Contoso'] }, { CN: ['api-client.contoso.com'] }]`.
   * Values are taken literally, except that one starting with `#` is hex DER (as in RFC 4514).
   * `[]` makes an empty subject (the SAN extension then becomes critical, as RFC 5280 asks).
   */
  subject?: Array<Record<string, string[]>>
  dnsNames?: string[]
  uris?: string[]
  emails?: string[]
  ips?: string[]
  /** Default: one hour ago, so clock skew between test steps never matters. */
  notBefore?: Date
  /** Default: one day from now for leaves, ten years for CAs. */
  notAfter?: Date
  /** EKU OIDs. Default clientAuth (`1.3.6.1.5.5.7.3.2`) for leaves, none for CAs; `null`: none. */
  extendedKeyUsages?: string[] | null
  /** `x509.KeyUsageFlags` bits. Default digitalSignature (leaves), keyCertSign|cRLSign (CAs). */
  keyUsages?: number | null
  /** Default `'P-256'`. */
  keyAlgorithm?: TestKeyAlgorithm
  /** Hex. Default: 16 random bytes, high bit cleared so the DER integer stays positive. */
  serialNumber?: string
  /** Make a CA: basicConstraints CA:TRUE (critical), with an optional pathLenConstraint. */
  ca?: boolean | { pathLength?: number }
  /** The signer. Omitted: self-signed. Not checked to be a CA, so tests can break that rule. */
  issuer?: TestCertificate
}

/** A generated certificate with everything a test needs to use or inspect it. */
export interface TestCertificate {
  /** DER bytes. */
  der: Uint8Array
  /** One `CERTIFICATE` PEM block, 64-character lines, ending with a newline. */
  pem: string
  /** The key pair (private key extractable, so tests can hand it to a real TLS client). */
  keys: CryptoKeyPair
  /** The parsed @peculiar/x509 certificate. */
  x509: x509.X509Certificate
  /** SHA-256 of the DER, uppercase hex. Envoy's XFCC `Hash` is the same, lowercase. */
  thumbprint: string
  /**
   * The subject as Envoy's XFCC `Subject` carries it: OpenSSL's RFC 2253 printing
   * (`X509_NAME_print_ex` with `XN_FLAG_RFC2253`), most specific RDN first,
   * e.g. `'CN=api-client.contoso.com,O=Contoso,C=US'`.
   */
  subjectRfc4514: string
  /** The most specific subject CN, or null. */
  commonName: string | null
  /** The certificate that signed this one, or null when self-signed. */
  issuer: TestCertificate | null
}

/** A root CA, an intermediate CA under it, and a way to issue client leaves. */
export interface TestPki {
  root: TestCertificate
  intermediate: TestCertificate
  /** A leaf signed by the intermediate (`issuer` is always the intermediate). */
  issue(options?: TestCertificateOptions): Promise<TestCertificate>
}

const HOUR_MS = 60 * 60 * 1000
const DAY_MS = 24 * HOUR_MS
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const CA_KEY_USAGES = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign

const KEY_PARAMS: Readonly<Record<TestKeyAlgorithm, RsaHashedKeyGenParams | EcKeyGenParams>> = {
  'RSA-2048': {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
  'P-256': { name: 'ECDSA', namedCurve: 'P-256' },
}

/**
 * Creates a certificate: self-signed, or signed by `options.issuer`. Defaults make a P-256
 * client leaf `CN=test-client` with clientAuth, valid from an hour ago for one day.
 */
export async function createTestCertificate(
  options: TestCertificateOptions = {}
): Promise<TestCertificate> {
  const {
    commonName = 'test-client',
    subject = [{ CN: [commonName] }],
    dnsNames = [],
    uris = [],
    emails = [],
    ips = [],
    keyAlgorithm = 'P-256',
    serialNumber = randomSerialNumber(),
    ca = false,
    issuer,
  } = options
  const isCa = ca !== false
  const now = Date.now()
  const notBefore = options.notBefore ?? new Date(now - HOUR_MS)
  const notAfter = options.notAfter ?? new Date(now + (isCa ? 3650 * DAY_MS : DAY_MS))
  // Destructuring defaults apply to undefined only, so an explicit null still means "none".
  const {
    extendedKeyUsages = isCa ? null : [CLIENT_AUTH],
    keyUsages = isCa ? CA_KEY_USAGES : x509.KeyUsageFlags.digitalSignature,
  } = options

  const keys = (await crypto.subtle.generateKey(KEY_PARAMS[keyAlgorithm], true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair

  const extensions: x509.Extension[] = []
  if (isCa) {
    const pathLength = typeof ca === 'object' ? ca.pathLength : undefined
    extensions.push(new x509.BasicConstraintsExtension(true, pathLength, true))
  }
  if (keyUsages !== null) {
    extensions.push(new x509.KeyUsagesExtension(keyUsages as x509.KeyUsageFlags, true))
  }
  if (extendedKeyUsages !== null) {
    extensions.push(new x509.ExtendedKeyUsageExtension(extendedKeyUsages))
  }
  const sans: x509.JsonGeneralName[] = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...uris.map((value) => ({ type: 'url' as const, value })),
    ...emails.map((value) => ({ type: 'email' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ]
  if (sans.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(sans, subject.length === 0))
  }
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey))
  const signer = issuer?.keys ?? keys
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(signer.publicKey))

  // The signature algorithm follows the signer's key (ECDSA or RSA), always with SHA-256.
  const subjectName = new x509.Name(toNameParams(subject))
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: subjectName,
    // The issuer's own Name, so the DN bytes match its subject exactly.
    issuer: issuer ? issuer.x509.subjectName : subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    extensions,
  })
  return describeCertificate(cert, keys, issuer ?? null)
}

/**
 * Creates a root CA and an intermediate CA (pathLength 0) under it, both valid for ten years,
 * and issues client leaves from the intermediate.
 *
 * @example
 * ```ts
 * import { createTestPki } from 'certgate/testing'
 *
 * const pki = await createTestPki()
 * const client = await pki.issue({
 *   commonName: 'api-client.contoso.com',
 *   dnsNames: ['api-client.contoso.com'],
 * })
 * const expired = await pki.issue({ notAfter: new Date(Date.now() - 60_000) })
 * // Trust the root (or pin the intermediate) in the code under test:
 * const trustAnchors = [pki.root.pem]
 * ```
 */
export async function createTestPki(
  options: { keyAlgorithm?: TestKeyAlgorithm } = {}
): Promise<TestPki> {
  const { keyAlgorithm = 'P-256' } = options
  const root = await createTestCertificate({
    subject: [{ O: ['certgate test'] }, { CN: ['certgate test root CA'] }],
    keyAlgorithm,
    ca: true,
  })
  const intermediate = await createTestCertificate({
    subject: [{ O: ['certgate test'] }, { CN: ['certgate test intermediate CA'] }],
    keyAlgorithm,
    ca: { pathLength: 0 },
    issuer: root,
  })
  return {
    root,
    intermediate,
    issue: function issue(leafOptions: TestCertificateOptions = {}): Promise<TestCertificate> {
      return createTestCertificate({ keyAlgorithm, ...leafOptions, issuer: intermediate })
    },
  }
}

async function describeCertificate(
  cert: x509.X509Certificate,
  keys: CryptoKeyPair,
  issuer: TestCertificate | null
): Promise<TestCertificate> {
  const der = new Uint8Array(cert.rawData)
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der))
  const commonNames = cert.subjectName.getField('CN')
  return {
    der,
    pem: encodePem(der),
    keys,
    x509: cert,
    thumbprint: toHex(digest),
    subjectRfc4514: opensslRfc2253(cert.subjectName),
    commonName: commonNames.length > 0 ? commonNames[commonNames.length - 1]! : null,
    issuer,
  }
}

function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  // Clear the high bit (a positive INTEGER) and keep the first byte non-zero (exactly 16 bytes).
  bytes[0] = (bytes[0]! & 0x7f) | 0x01
  return toHexLower(bytes)
}
