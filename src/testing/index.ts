/**
 * Test kit (`certgate/testing`): a throwaway PKI (root CA → intermediate CA → client leaves)
 * and `X-Forwarded-Client-Cert` headers shaped exactly as Envoy, or the Azure Container Apps
 * ingress, would send them for those certificates. Web APIs only, so tests run unchanged on
 * Node, Bun and Deno. Never use these keys or certificates outside tests.
 * @module
 */
// Must stay the first import: @peculiar/x509 2.x needs a Reflect polyfill while it loads, and
// Bun evaluates CJS dependencies before ESM siblings, so only this CJS polyfill is early enough.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { toHex, toHexLower } from '../bytes.ts'
import { encodePem } from '../x509/pem.ts'
import { encodeXfccPem, formatXfcc } from '../xfcc/parse.ts'

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

/** How {@link xfccHeader} writes the header. */
export interface XfccHeaderOptions {
  /**
   * The `Chain` value. `true` (default): the leaf, then its issuers up to but not including the
   * self-signed root, as a client sends them and Envoy forwards them (Envoy's Chain includes the
   * leaf). An array: exactly these certificates, in order. `false`: no `Chain`.
   */
  chain?: TestCertificate[] | boolean
  /** Default: the real SHA-256 of the DER, lowercase hex. A string replaces it; `false`: none. */
  hash?: string | false
  /** `By` values: the URI SANs of the proxy's own certificate. Default none. */
  by?: string[]
  /** Default: {@link TestCertificate.subjectRfc4514}. A string replaces it; `false` omits it. */
  subject?: string | false
  /** Default `'auto'`: the URI SANs, or a bare `URI=` if there are none (as Envoy). `[]`: none. */
  uris?: string[] | 'auto'
  /** Default `'auto'`: the DNS SANs. */
  dns?: string[] | 'auto'
  /** Raw XFCC text a client or an earlier proxy sent; it is put to the left, joined with `,`. */
  before?: string
  /**
   * `'envoy'` (default): By;Hash;Cert;Chain;Subject;URI;DNS, as Envoy writes with every detail
   * enabled. `'aca'`: `Hash=…;Cert="…";Chain="…";` as the ACA docs show (by, subject, uris
   * and dns are ignored).
   */
  style?: 'envoy' | 'aca'
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

/**
 * The `X-Forwarded-Client-Cert` value a TLS-terminating Envoy would set for a client that
 * presented `cert`. Synchronous: the hash is the precomputed thumbprint.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { clientCert } from 'certgate/hono'
 * import { createTestPki, xfccHeader } from 'certgate/testing'
 *
 * const pki = await createTestPki()
 * const client = await pki.issue({ commonName: 'api-client.contoso.com' })
 *
 * const app = new Hono()
 * app.use('/api/*', clientCert({ allow: { commonNames: ['api-client.contoso.com'] } }))
 * app.get('/api/whoami', (c) => c.text(c.var.clientCert.commonName ?? ''))
 *
 * const res = await app.request(
 *   new Request('http://localhost/api/whoami', {
 *     headers: { 'x-forwarded-client-cert': xfccHeader(client) },
 *   })
 * )
 * // res.status === 200, await res.text() === 'api-client.contoso.com'
 *
 * // Spoofing attempts and edge cases:
 * xfccHeader(client, { hash: '00'.repeat(32) }) // Hash does not match Cert
 * xfccHeader(client, { before: 'Hash=abcd;Subject="CN=admin"' }) // client-sent element, left
 * xfccHeader(client, { style: 'aca' }) // Hash=…;Cert="…";Chain="…";
 * ```
 */
export function xfccHeader(cert: TestCertificate, options: XfccHeaderOptions = {}): string {
  const { chain = true, by = [], style = 'envoy', before } = options
  const hash = options.hash === undefined ? cert.thumbprint.toLowerCase() : options.hash
  const chainPem = chainPemOf(cert, chain)
  let element: string
  if (style === 'aca') {
    element =
      (hash === false ? '' : `Hash=${hash};`) +
      `Cert="${encodeXfccPem(cert.pem)}";` +
      (chainPem === undefined ? '' : `Chain="${encodeXfccPem(chainPem)}";`)
  } else {
    const subject = options.subject === undefined ? cert.subjectRfc4514 : options.subject
    const uris = options.uris ?? 'auto'
    const dns = options.dns ?? 'auto'
    const uriValues = uris === 'auto' ? sanValues(cert, 'url') : uris
    const dnsValues = dns === 'auto' ? sanValues(cert, 'dns') : dns
    const pairs = [
      formatXfcc([
        {
          by,
          ...(hash === false ? {} : { hash }),
          cert: cert.pem,
          ...(chainPem === undefined ? {} : { chain: chainPem }),
          uri: [],
          dns: [],
        },
      ]),
    ]
    // Envoy inserts the subject raw, without XFCC escaping (its RFC 2253 `\,` escapes stay as
    // they are), and writes a bare `URI=` for a certificate without URI SANs.
    if (subject !== false) pairs.push(`Subject="${subject}"`)
    if (uris === 'auto' && uriValues.length === 0) pairs.push('URI=')
    if (uriValues.length > 0 || dnsValues.length > 0) {
      pairs.push(formatXfcc([{ by: [], uri: uriValues, dns: dnsValues }]))
    }
    element = pairs.join(';')
  }
  return before === undefined ? element : `${before},${element}`
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

/**
 * Gives each value its string type explicitly: @peculiar/x509 would otherwise strip quotes and
 * backslashes from plain JSON values, and tests of DN escaping need exactly those characters.
 * The types are the ones it picks itself: IA5String for E and DC, PrintableString when the value
 * fits, else UTF8String. A value starting with `#` stays hex DER, as in RFC 4514.
 */
function toNameParams(subject: Array<Record<string, string[]>>): x509.JsonNameParams {
  return subject.map((rdn) => {
    const params: Record<string, Array<string | x509.JsonAttributeObject>> = {}
    for (const [type, values] of Object.entries(rdn)) {
      params[type] = values.map((value): string | x509.JsonAttributeObject => {
        if (value.startsWith('#')) return value
        if (type === 'E' || type === 'DC') return { ia5String: value }
        if (x509.Name.isPrintableString(value)) return { printableString: value }
        return { utf8String: value }
      })
    }
    // Mixing both value forms in one RDN is fine at runtime; the declared type is narrower.
    return params as x509.JsonAttributeAndValue
  })
}

function chainPemOf(cert: TestCertificate, chain: TestCertificate[] | boolean): string | undefined {
  if (chain === false) return undefined
  if (chain !== true) return chain.map((c) => c.pem).join('')
  const certs = [cert]
  // Clients send their intermediates but not the root; a self-signed cert sends only itself.
  for (let next = cert.issuer; next?.issuer; next = next.issuer) certs.push(next)
  return certs.map((c) => c.pem).join('')
}

function sanValues(cert: TestCertificate, type: 'url' | 'dns'): string[] {
  const san = cert.x509.getExtension(x509.SubjectAlternativeNameExtension)
  return (san?.names.items ?? []).filter((n) => n.type === type).map((n) => n.value)
}

function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  // Clear the high bit (a positive INTEGER) and keep the first byte non-zero (exactly 16 bytes).
  bytes[0] = (bytes[0]! & 0x7f) | 0x01
  return toHexLower(bytes)
}

// OpenSSL's short names (XN_FLAG_FN_SN), keyed by @peculiar/x509's JSON names and OIDs.
const OPENSSL_NAMES: Readonly<Record<string, string>> = {
  CN: 'CN',
  SN: 'SN',
  C: 'C',
  L: 'L',
  ST: 'ST',
  O: 'O',
  OU: 'OU',
  T: 'title',
  G: 'GN',
  I: 'initials',
  DC: 'DC',
  E: 'emailAddress',
  '2.5.4.5': 'serialNumber',
  '2.5.4.9': 'street',
  '2.5.4.17': 'postalCode',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
}

/**
 * The DN as Envoy prints it (BoringSSL `X509_NAME_print_ex(…, XN_FLAG_RFC2253)`): every
 * attribute in reverse encoding order, `,` between RDNs and `+` inside one, `,+"\<>;` and a
 * leading or trailing space backslash-escaped, control and non-ASCII bytes as `\XX` (of the
 * UTF-8). Unlike RFC 4514 writers, `=` is left alone. Attribute types missing from the table
 * print as their dotted OID (OpenSSL would also hex-dump the value).
 */
function opensslRfc2253(name: x509.Name): string {
  const rdns = name.toJSON()
  const parts: string[] = []
  for (let r = rdns.length - 1; r >= 0; r--) {
    const avas = Object.entries(rdns[r]!).flatMap(([type, values]) =>
      values.map((value) => `${OPENSSL_NAMES[type] ?? type}=${rfc2253Value(value)}`)
    )
    parts.push(avas.reverse().join('+'))
  }
  return parts.join(',')
}

const RFC2253_SPECIALS = new Set(',+"\\<>;')

function rfc2253Value(value: string): string {
  // @peculiar/x509 reads a JSON value starting with `#` as hex DER, which OpenSSL also dumps.
  if (value.startsWith('#')) return value.toUpperCase()
  const bytes = new TextEncoder().encode(value)
  let out = ''
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    const c = String.fromCharCode(b)
    const edge = (i === 0 && c === ' ') || (i === bytes.length - 1 && c === ' ')
    if (edge || RFC2253_SPECIALS.has(c)) out += `\\${c}`
    else if (b < 0x20 || b >= 0x7f) out += `\\${b.toString(16).toUpperCase().padStart(2, '0')}`
    else out += c
  }
  return out
}
