/**
 * Full verification with a chain, nothing cached, against the same two signature checks done
 * directly with WebCrypto, in whichever runtime runs it.
 *
 * certgate: the whole verifier (header → decode → thumbprint → fields → chain → allowlist) on an
 * Envoy header whose Chain carries the leaf and intermediate B; the root is configured through
 * createTrustVerifier. Every timed call goes to a verifier of its own, made with `cache: false`
 * and a new createTrustVerifier, that has verified exactly one other request before, untimed: a
 * leaf under intermediate A (another key). That call parsed the configured root and imported its
 * key; nothing else it remembered (intermediate A's key, A's edge to the root) is of use to the
 * timed call, which imports intermediate B's key, checks B's signature by the root and the leaf's
 * by B. The leaves of a round are distinct (own serial and signature); every round uses the same
 * ones, each through verifiers that never saw it; the warm-up (three rounds: V8 needs a few
 * thousand calls before these paths are optimised) uses other leaves.
 * WebCrypto: `crypto.subtle.verify` of the leaf by intermediate B and of B by the root, both keys
 * imported once, the to-be-signed bytes and signatures extracted beforehand.
 * @module
 */
// The Reflect polyfill @peculiar/x509 needs while it loads: first, whoever imports this file.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import process from 'node:process'
import { formatXfcc } from '../src/xfcc/format.ts'
import { encodePem } from '../src/x509/pem.ts'
import { createClientCertVerifier, type ClientCertVerifier } from '../src/verify.ts'
import { createTrustVerifier } from '../src/trust/verifier.ts'
import { createTestCertificate, type TestCertificate, type TestKeyAlgorithm } from '../src/testing/index.ts'
import { BENCH_CN } from './fixtures.ts'

export interface ChainComparison {
  /** CPU µs (the process's, all threads: WebCrypto works off the main thread) per full certgate verification, median over rounds. */
  certgateUs: number
  /** CPU µs for the two WebCrypto verifications, median over rounds. */
  webCryptoUs: number
  /** Median over rounds of the per-round CPU ratio certgate ÷ WebCrypto. */
  ratio: number
  /** CPU µs for the two verifications plus importing the intermediate's key on every call (informational). */
  webCryptoImportUs: number
  /** The same as wall-clock µs (waits for WebCrypto's thread pool included; noisy on a loaded machine). */
  certgateWallUs: number
  webCryptoWallUs: number
}

interface Timing {
  cpu: number
  wall: number
}

declare const Bun: { gc(force: boolean): void } | undefined

/**
 * A full collection where the runtime offers one (Bun.gc; globalThis.gc under --expose-gc, which
 * bench/run.ts passes to Node and Deno), so that garbage made while preparing is not collected
 * on the timed loop's account.
 */
function collectGarbage(): void {
  if (typeof Bun !== 'undefined') Bun.gc(true)
  else (globalThis as { gc?: () => void }).gc?.()
}

/** CPU (user + system, whole process) and wall µs per op of `ops` calls of an async loop. */
async function timed(ops: number, loop: () => Promise<void>): Promise<Timing> {
  collectGarbage()
  const cpu = process.cpuUsage()
  const start = performance.now()
  await loop()
  const wall = ((performance.now() - start) * 1000) / ops
  const used = process.cpuUsage(cpu)
  return { cpu: (used.user + used.system) / ops, wall }
}

const HOUR_MS = 3_600_000

/** [content start, content end, next TLV] of the DER TLV at `at`. */
function tlv(der: Uint8Array, at: number): [number, number, number] {
  let length = der[at + 1]!
  let content = at + 2
  if (length & 0x80) {
    const bytes = length & 0x7f
    length = 0
    for (let i = 0; i < bytes; i++) length = length * 256 + der[content + i]!
    content += bytes
  }
  return [content, content + length, content + length]
}

/** An ECDSA signature's DER SEQUENCE { r, s } as WebCrypto's fixed-width r ‖ s. */
function ecdsaRaw(sig: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(2 * size)
  const [seq] = tlv(sig, 0)
  let at = seq
  for (let k = 0; k < 2; k++) {
    const [start, end, next] = tlv(sig, at)
    const value = sig.subarray(start, end)
    const trimmed = value.length > size ? value.subarray(value.length - size) : value
    out.set(trimmed, (k + 1) * size - trimmed.length)
    at = next
  }
  return out
}

/** The to-be-signed bytes and the signature of a certificate, as WebCrypto takes them. */
export function signedParts(der: Uint8Array, ecdsa: boolean): { tbs: Uint8Array<ArrayBuffer>; signature: Uint8Array<ArrayBuffer> } {
  const [certStart] = tlv(der, 0)
  const [, , afterTbs] = tlv(der, certStart)
  const [, , afterAlg] = tlv(der, afterTbs)
  const [sigStart, sigEnd] = tlv(der, afterAlg)
  const bits = der.slice(sigStart + 1, sigEnd) // the BIT STRING's unused-bits octet skipped
  return { tbs: der.slice(certStart, afterTbs), signature: ecdsa ? ecdsaRaw(bits, 32) : bits }
}

const KEY_PARAMS: Record<TestKeyAlgorithm, RsaHashedKeyGenParams | EcKeyGenParams> = {
  'RSA-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'P-256': { name: 'ECDSA', namedCurve: 'P-256' },
}

/** `count` distinct client leaves (one key, serials differ) signed by `issuer`. */
async function leavesOf(issuer: TestCertificate, algorithm: TestKeyAlgorithm, count: number): Promise<Uint8Array[]> {
  const keys = (await crypto.subtle.generateKey(KEY_PARAMS[algorithm], true, ['sign', 'verify'])) as CryptoKeyPair
  const extensions = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2']),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
  ]
  const now = Date.now()
  const leaves: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: `7e${i.toString(16).padStart(14, '0')}`,
      subject: `CN=${BENCH_CN}`,
      issuer: issuer.x509.subjectName,
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + 24 * HOUR_MS),
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      extensions,
    })
    leaves.push(new Uint8Array(cert.rawData))
  }
  return leaves
}

async function sha256Hex(der: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Envoy's header for a leaf that sends itself and its intermediate in Chain. */
async function chainHeader(leaf: Uint8Array<ArrayBuffer>, intermediate: Uint8Array): Promise<string> {
  const cert = encodePem(leaf)
  return `${formatXfcc([{ by: [], hash: await sha256Hex(leaf), cert, chain: cert + encodePem(intermediate), uri: [], dns: [] }])};Subject="CN=${BENCH_CN}"`
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!

const request = (header: string): Request => new Request('http://localhost/cert-info', { headers: { 'x-forwarded-client-cert': header } })

interface Fixture {
  root: TestCertificate
  /** Intermediate B: the one every timed request brings. */
  intermediate: TestCertificate
  /** A request under intermediate A, to prime each verifier. */
  headerA: string
  /** 2 × ops leaves under B and their headers: [0, ops) warm-up, [ops, 2 ops) timed. */
  leaves: Uint8Array[]
  headersB: string[]
}

async function fixture(algorithm: TestKeyAlgorithm, ops: number): Promise<Fixture> {
  const subject = (cn: string): Record<string, string[]>[] => [{ O: ['certgate bench'] }, { CN: [cn] }]
  const root = await createTestCertificate({ subject: subject('bench root CA'), keyAlgorithm: algorithm, ca: true })
  const [a, b] = await Promise.all(
    ['A', 'B'].map((n) => createTestCertificate({ subject: subject(`bench intermediate ${n}`), keyAlgorithm: algorithm, ca: { pathLength: 0 }, issuer: root })),
  )
  const [leafA] = await leavesOf(a!, algorithm, 1)
  const leaves = await leavesOf(b!, algorithm, 2 * ops)
  const headerA = await chainHeader(leafA! as Uint8Array<ArrayBuffer>, a!.der)
  const headersB = await Promise.all(leaves.map((leaf) => chainHeader(leaf as Uint8Array<ArrayBuffer>, b!.der)))
  return { root, intermediate: b!, headerA, leaves, headersB }
}

/** certgate: a verifier per timed call, primed by one untimed request under intermediate A. */
function certgateRounds(f: Fixture, ops: number): (from: number) => Promise<Timing> {
  const prepare = async (from: number): Promise<{ verify: ClientCertVerifier; req: Request }[]> => {
    const list = []
    for (let i = 0; i < ops; i++) {
      const trust = createTrustVerifier({ roots: [f.root.der] })
      const verify = createClientCertVerifier({ allow: { commonNames: [BENCH_CN] }, trust, cache: false })
      const primed = await verify(request(f.headerA))
      if (!primed.ok) throw new Error(`chain bench: the priming request was refused (${primed.error.code})`)
      list.push({ verify, req: request(f.headersB[from + i]!) })
    }
    return list
  }
  return async (from) => {
    const list = await prepare(from)
    return timed(ops, async () => {
      for (const { verify, req } of list) {
        const result = await verify(req)
        if (!result.ok) throw new Error(`chain bench: refused (${result.error.code})`)
      }
    })
  }
}

/**
 * WebCrypto: the same two signatures per call, keys imported once; with `importEachTime`, the
 * intermediate's key imported on every call, as a request that brings it in Chain needs.
 */
async function webCryptoRounds(f: Fixture, algorithm: TestKeyAlgorithm, ops: number, importEachTime: boolean): Promise<(from: number) => Promise<Timing>> {
  const ecdsa = algorithm === 'P-256'
  const importParams = ecdsa ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  const verifyParams = ecdsa ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' }
  const spki = (c: TestCertificate): Promise<ArrayBuffer> => crypto.subtle.exportKey('spki', c.keys.publicKey)
  const importKey = (bytes: ArrayBuffer): Promise<CryptoKey> => crypto.subtle.importKey('spki', bytes, importParams, false, ['verify'])
  const rootKey = await importKey(await spki(f.root))
  const intSpki = await spki(f.intermediate)
  const intKey = await importKey(intSpki)
  const intParts = signedParts(f.intermediate.der, ecdsa)
  const leafParts = f.leaves.map((leaf) => signedParts(leaf, ecdsa))
  return (from) =>
    timed(ops, async () => {
      for (let i = from; i < from + ops; i++) {
        const leaf = leafParts[i]!
        const key = importEachTime ? await importKey(intSpki) : intKey
        const ok =
          (await crypto.subtle.verify(verifyParams, key, leaf.signature, leaf.tbs)) &&
          (await crypto.subtle.verify(verifyParams, rootKey, intParts.signature, intParts.tbs))
        if (!ok) throw new Error('chain bench: WebCrypto refused a signature')
      }
    })
}

/** Runs `rounds` rounds of `ops` verifications each way, after three rounds of warm-up; medians. */
export async function compareChain(algorithm: TestKeyAlgorithm, ops: number, rounds: number): Promise<ChainComparison> {
  const f = await fixture(algorithm, ops)
  const runs = [certgateRounds(f, ops), await webCryptoRounds(f, algorithm, ops, false), await webCryptoRounds(f, algorithm, ops, true)]
  for (let r = 0; r < 3; r++) for (const run of runs) await run(0)
  const [certgate, webCrypto, webCryptoImport] = runs.map((): Timing[] => [])
  for (let r = 0; r < rounds; r++) {
    certgate!.push(await runs[0]!(ops))
    webCrypto!.push(await runs[1]!(ops))
    webCryptoImport!.push(await runs[2]!(ops))
  }
  return {
    certgateUs: median(certgate!.map((t) => t.cpu)),
    webCryptoUs: median(webCrypto!.map((t) => t.cpu)),
    ratio: median(certgate!.map((c, i) => c.cpu / webCrypto![i]!.cpu)),
    webCryptoImportUs: median(webCryptoImport!.map((t) => t.cpu)),
    certgateWallUs: median(certgate!.map((t) => t.wall)),
    webCryptoWallUs: median(webCrypto!.map((t) => t.wall)),
  }
}
