/**
 * Fixtures the test kit cannot make, for the trust and CRL tests: CRLs, leaves with a CRL
 * distribution point, and leaves whose authority key identifier lies about who signed them.
 * Built directly with @peculiar/x509.
 * @module
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import type { TestCertificate } from '../../src/testing/index.ts'

const HOUR_MS = 60 * 60 * 1000
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

/** A DER CRL and its PEM. */
export interface TestCrl {
  der: Uint8Array
  pem: string
}

/** What to put in a test CRL. */
export interface TestCrlOptions {
  /** The CA named as issuer; it also signs unless `signingKey` is given. */
  issuer: TestCertificate
  /** Certificates to list as revoked. */
  revoked?: TestCertificate[]
  /** Default: an hour ago. */
  thisUpdate?: Date
  /** Default: in a day. `null`: none. */
  nextUpdate?: Date | null
  /** Sign with another key (a CRL that must not verify). */
  signingKey?: CryptoKey
  /** Extra CRL extensions. */
  extensions?: x509.Extension[]
  /** The CRLNumber extension's value, below 128. Default 1. `null`: none (a nonconforming CRL). */
  crlNumber?: number | null
}

const OID_CRL_NUMBER = '2.5.29.20'

/** Makes a CRL as a CA would publish it. */
export async function createTestCrl(options: TestCrlOptions): Promise<TestCrl> {
  const now = Date.now()
  const signingKey = options.signingKey ?? options.issuer.keys.privateKey
  const { nextUpdate = new Date(now + 24 * HOUR_MS), crlNumber = 1 } = options
  const number = crlNumber === null
    ? []
    : [new x509.Extension(OID_CRL_NUMBER, false, new Uint8Array([0x02, 0x01, crlNumber]))]
  const crl = await x509.X509CrlGenerator.create({
    issuer: options.issuer.x509.subjectName,
    thisUpdate: options.thisUpdate ?? new Date(now - HOUR_MS),
    ...(nextUpdate === null ? {} : { nextUpdate }),
    signingAlgorithm: { name: signingKey.algorithm.name, hash: 'SHA-256' } as EcdsaParams,
    signingKey,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey),
      ...number,
      ...(options.extensions ?? []),
    ],
    entries: (options.revoked ?? []).map((cert) => ({
      serialNumber: cert.x509.serialNumber,
      revocationDate: new Date(now - HOUR_MS),
    })),
  })
  const der = new Uint8Array(crl.rawData)
  return { der, pem: crl.toString('pem') }
}

/** What to put in a hand-built leaf. */
export interface RawLeafOptions {
  /** Whose name goes in the issuer field and (unless `aki` is given) in the AKI. */
  issuer: TestCertificate
  /** Signs the leaf. Default: `issuer`'s key. */
  signingKey?: CryptoKey
  /** CRL distribution point URLs. */
  crlUrls?: string[]
  /** Authority key identifier taken from this key instead of `issuer`'s. */
  akiFrom?: CryptoKey
  commonName?: string
  /** The signature's hash. Default SHA-256. */
  hash?: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512'
}

/** A P-256 clientAuth leaf, built by hand for what `createTestCertificate` has no option for. */
export async function createRawLeaf(options: RawLeafOptions): Promise<TestCertificate> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const signingKey = options.signingKey ?? options.issuer.keys.privateKey
  const now = Date.now()
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([CLIENT_AUTH]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(
      options.akiFrom ?? options.issuer.keys.publicKey
    ),
  ]
  if (options.crlUrls) extensions.push(new x509.CRLDistributionPointsExtension(options.crlUrls))
  const serial = crypto.getRandomValues(new Uint8Array(16))
  serial[0] = (serial[0]! & 0x7f) | 0x01
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, '0')).join(''),
    subject: `CN=${options.commonName ?? 'raw-client'}`,
    issuer: options.issuer.x509.subjectName,
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + 24 * HOUR_MS),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: {
      name: signingKey.algorithm.name,
      hash: options.hash ?? 'SHA-256',
    } as EcdsaParams,
    extensions,
  })
  const der = new Uint8Array(cert.rawData)
  return {
    der,
    pem: cert.toString('pem'),
    keys,
    x509: cert,
    thumbprint: '',
    subjectRfc4514: cert.subject,
    commonName: options.commonName ?? 'raw-client',
    issuer: options.issuer,
  }
}
