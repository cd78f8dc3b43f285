/**
 * Chains for the budget tests: legitimate CA hierarchies of any depth and key type, and hostile
 * ones — look-alike intermediates whose names link a leaf to a real root's subject and whose
 * keys are expensive to use, signed by a key that has nothing to do with the names they carry.
 * Built directly with @peculiar/x509.
 * @module
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { concatBytes } from '../../src/bytes.ts'
import type { TestCertificate } from '../../src/testing/index.ts'

const HOUR_MS = 60 * 60 * 1000
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const CA_USAGES = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign

/** Key generation parameters for the chains' keys. */
export type ChainKey = RsaHashedKeyGenParams | EcKeyGenParams

/** RSA-PKCS#1 v1.5 with SHA-256 and a modulus of `bits`. */
export function rsaKey(bits: number): RsaHashedKeyGenParams {
  return {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: bits,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  }
}

/** A P-256 ECDSA key. */
export const P256: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' }

/** What goes in one certificate of a test chain. */
interface CertSpec {
  subject: string
  /** The issuer's Name, exactly as its subject is encoded. */
  issuer: x509.Name
  /** Whose public key the certificate carries: a key pair's, or raw SPKI bytes. */
  publicKey: CryptoKey | Uint8Array<ArrayBuffer>
  signingKey: CryptoKey
  ca: boolean
  /** The authority key identifier's key, or null for none. */
  akiFrom: CryptoKey | null
}

async function makeCert(spec: CertSpec, keys: CryptoKeyPair | null, issuer: TestCertificate | null): Promise<TestCertificate> {
  const extensions: x509.Extension[] = spec.ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(CA_USAGES, true),
      ]
    : [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([CLIENT_AUTH]),
      ]
  if (spec.publicKey instanceof CryptoKey) {
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(spec.publicKey))
  }
  if (spec.akiFrom !== null) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(spec.akiFrom))
  }
  const serial = crypto.getRandomValues(new Uint8Array(16))
  serial[0] = (serial[0]! & 0x7f) | 0x01
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, '0')).join(''),
    subject: spec.subject,
    issuer: spec.issuer,
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + 24 * HOUR_MS),
    publicKey: spec.publicKey,
    signingKey: spec.signingKey,
    signingAlgorithm: { name: spec.signingKey.algorithm.name, hash: 'SHA-256' } as EcdsaParams,
    extensions,
  })
  return {
    der: new Uint8Array(cert.rawData),
    pem: cert.toString('pem'),
    keys: keys ?? ({} as CryptoKeyPair),
    x509: cert,
    thumbprint: '',
    subjectRfc4514: cert.subject,
    commonName: null,
    issuer,
  }
}

async function generate(key: ChainKey): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(key, true, ['sign', 'verify'])) as CryptoKeyPair
}

/** A root, the intermediates below it (top first) and a clientAuth leaf. */
export interface TestChain {
  root: TestCertificate
  /** Top first: `intermediates[0]` is signed by the root. */
  intermediates: TestCertificate[]
  leaf: TestCertificate
}

/**
 * A legitimate chain: a self-signed root, `depth - 1` intermediates, a leaf; every key `key`.
 * `distinctKeys` below `depth + 1` reuses keys in turn down the chain (RSA-4096 keys take seconds
 * each to generate on some runtimes).
 */
export async function legitimateChain(depth: number, key: ChainKey, distinctKeys = depth + 1): Promise<TestChain> {
  const keys = await Promise.all(Array.from({ length: distinctKeys }, () => generate(key)))
  const tag = crypto.randomUUID().slice(0, 8)
  const rootKeys = keys[0]!
  const root = await makeCert(
    {
      subject: `CN=budget root ${tag}`,
      issuer: new x509.Name(`CN=budget root ${tag}`),
      publicKey: rootKeys.publicKey,
      signingKey: rootKeys.privateKey,
      ca: true,
      akiFrom: rootKeys.publicKey,
    },
    rootKeys,
    null
  )
  let above = root
  const intermediates: TestCertificate[] = []
  for (let level = 1; level <= depth; level++) {
    const own = keys[level % distinctKeys]!
    const cert = await makeCert(
      {
        subject: level === depth ? `CN=budget client ${tag}` : `CN=budget CA ${level} ${tag}`,
        issuer: above.x509.subjectName,
        publicKey: own.publicKey,
        signingKey: above.keys.privateKey,
        ca: level !== depth,
        akiFrom: above.keys.publicKey,
      },
      own,
      above
    )
    if (level === depth) return { root, intermediates, leaf: cert }
    intermediates.push(cert)
    above = cert
  }
  throw new RangeError('depth must be at least 1')
}

/**
 * An RSA SubjectPublicKeyInfo with a random modulus of `bits` bits and this exponent: a key no
 * one holds the private half of, as cheap to make as it is costly to verify with.
 */
export function rsaSpki(bits: number, exponent: bigint): Uint8Array<ArrayBuffer> {
  const modulus = crypto.getRandomValues(new Uint8Array(bits / 8))
  modulus[0]! |= 0x80
  modulus[modulus.length - 1]! |= 0x01
  const rsaPublicKey = der(0x30, concatBytes([derInteger(modulus), derInteger(bigintBytes(exponent))]))
  const algorithm = der(0x30, concatBytes([der(0x06, RSA_OID), der(0x05, new Uint8Array(0))]))
  return der(0x30, concatBytes([algorithm, der(0x03, concatBytes([new Uint8Array([0]), rsaPublicKey]))]))
}

/** What {@link hostileChain} builds. */
export interface HostileChain {
  leaf: TestCertificate
  /** Leaf side first: `fakes[0]` claims to have signed the leaf, the last claims the root did. */
  fakes: TestCertificate[]
}

/**
 * `count` look-alike CA certificates linking a leaf to `root`'s subject by name, each carrying
 * `spki` (an expensive key), all signed by an unrelated P-256 key: no signature on it verifies.
 */
export async function hostileChain(root: TestCertificate, count: number, spki: () => Uint8Array<ArrayBuffer>): Promise<HostileChain> {
  const attacker = await generate(P256)
  const fakes: TestCertificate[] = []
  let issuer = root.x509.subjectName
  for (let level = count; level >= 1; level--) {
    const fake = await makeCert(
      {
        subject: `CN=certgate test intermediate CA ${level}`,
        issuer,
        publicKey: spki(),
        signingKey: attacker.privateKey,
        ca: true,
        akiFrom: null,
      },
      null,
      null
    )
    fakes.unshift(fake)
    issuer = fake.x509.subjectName
  }
  const leaf = await makeCert(
    {
      subject: 'CN=budget intruder',
      issuer,
      publicKey: attacker.publicKey,
      signingKey: attacker.privateKey,
      ca: false,
      akiFrom: null,
    },
    attacker,
    null
  )
  return { leaf, fakes }
}

/**
 * `count` look-alikes of the CA that issued `leaf` (same subject), each claiming `root` as its
 * issuer, so each is one more path the search can try.
 */
export async function lookAlikes(root: TestCertificate, subject: x509.Name, count: number): Promise<TestCertificate[]> {
  const attacker = await generate(P256)
  // Raw SPKI bytes, so no subject key identifier rules them out against the leaf's AKI.
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', attacker.publicKey))
  return Promise.all(
    Array.from({ length: count }, () =>
      makeCert(
        {
          subject: subject.toString(),
          issuer: root.x509.subjectName,
          publicKey: spki,
          signingKey: attacker.privateKey,
          ca: true,
          akiFrom: null,
        },
        attacker,
        null
      )
    )
  )
}

const RSA_OID = new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01])

function der(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const n = content.length
  const length =
    n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]
  return concatBytes([new Uint8Array([tag, ...length]), content])
}

function derInteger(magnitude: Uint8Array): Uint8Array<ArrayBuffer> {
  return der(0x02, magnitude[0]! >= 0x80 ? concatBytes([new Uint8Array([0]), magnitude]) : magnitude)
}

function bigintBytes(value: bigint): Uint8Array {
  let hex = value.toString(16)
  if (hex.length % 2 === 1) hex = `0${hex}`
  return Uint8Array.from(hex.match(/../g)!, (pair) => parseInt(pair, 16))
}

