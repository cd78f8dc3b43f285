/**
 * Full verification with a chain, against the same two signature checks done directly with
 * WebCrypto, in whichever runtime runs it. certgate: the whole verifier (header → decode →
 * thumbprint → fields → chain → allowlist) with `cache: false`, on an Envoy header whose Chain
 * carries a leaf and intermediate B; the root is configured through createTrustVerifier.
 * WebCrypto: `crypto.subtle.verify` of the leaf by B and of B by the root, the to-be-signed bytes
 * and signatures extracted beforehand; keys imported once, and (a second anchor) with B's key
 * imported on every call.
 *
 * Strict: every timed call goes to a verifier of its own, made with a new createTrustVerifier,
 * that has verified exactly one other request before, untimed: a leaf under intermediate A
 * (another key). That call parsed the configured root and imported its key; the timed call
 * imports B's key, checks B's signature by the root and the leaf's by B.
 *
 * Steady state (the deployed case: the same intermediate's key arrives with every request, so
 * keys are parsed once for certgate too): one verifier, whose pool already holds B's key, but no
 * verification reused — each timed call brings a new leaf and a reissue of B (B's key and names,
 * a serial of its own, signed by the root) that the verifier never saw, so both signatures are
 * checked, as a counting meter asserts (2 per call). Memo warm: the same verifier and B itself,
 * whose edge to the root it remembers; 1 verification per call (information).
 *
 * The leaves of a round are distinct (own serial and signature); the warm-up (three rounds: V8
 * needs a few thousand calls before these paths are optimised) uses other leaves.
 * @module
 */
// The Reflect polyfill @peculiar/x509 needs while it loads: first, whoever imports this file.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import process from 'node:process'
import { formatXfcc } from '../src/xfcc/format.ts'
import { encodePem } from '../src/x509/pem.ts'
import { createClientCertVerifier, type ClientCertVerifier } from '../src/verify.ts'
import { createMeteredTrustVerifier, createTrustVerifier } from '../src/trust/verifier.ts'
import type { SignatureMeter } from '../src/trust/budget.ts'
import { createTestCertificate, type TestCertificate, type TestKeyAlgorithm } from '../src/testing/index.ts'
import { BENCH_CN } from './fixtures.ts'

export interface ChainComparison {
  /** CPU µs (the process's, all threads: WebCrypto works off the main thread) per full certgate verification, median over rounds. */
  certgateUs: number
  /** CPU µs for the two WebCrypto verifications, median over rounds. */
  webCryptoUs: number
  /** Median over rounds of the per-round CPU ratio certgate ÷ WebCrypto. */
  ratio: number
  /** CPU µs for the two verifications plus importing the intermediate's key on every call. */
  webCryptoImportUs: number
  /** Median over rounds of certgate ÷ WebCrypto with the intermediate's key imported each call. */
  importRatio: number
  /** Steady state: CPU µs per call, the pool holding B's key, both signatures checked. */
  steadyUs: number
  /** Median over rounds of steady state ÷ WebCrypto's two verifies, keys imported once. */
  steadyRatio: number
  /** Memo warm (B's edge remembered, 1 verification per call): CPU µs per call. */
  warmUs: number
  /** The same as wall-clock µs (waits for WebCrypto's thread pool included; noisy on a loaded machine). */
  certgateWallUs: number
  webCryptoWallUs: number
}

interface Timing {
  cpu: number
  wall: number
}

/**
 * CPU (user + system, whole process) and wall µs per op of `ops` calls of an async loop. No full
 * collection is forced first: on Node, one before each round of 200 made certgate's calls after
 * it cost 2.3× as much (steady state 800 vs 344 µs; WebCrypto's loops unchanged), which no server
 * sees; garbage left by preparing a round is collected during it, on certgate's account.
 */
async function timed(ops: number, loop: () => Promise<void>): Promise<Timing> {
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
  /** Steady state: per round (warm-up, then the timed ones), ops headers, each with its own reissue of B. */
  steadyHeaders: string[][]
  /** A header with one more reissue of B, to put B's key in a verifier's pool. */
  steadyPrimer: string
}

const WARM_UP_ROUNDS = 3

/** `count` reissues of intermediate B: its key, names and extensions, serials of their own, signed by the root. */
async function reissues(root: TestCertificate, b: TestCertificate, count: number): Promise<Uint8Array[]> {
  const extensions = [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(b.keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(root.keys.publicKey),
  ]
  const now = Date.now()
  const out: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: `5e${i.toString(16).padStart(14, '0')}`,
      subject: b.x509.subjectName,
      issuer: root.x509.subjectName,
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + 24 * HOUR_MS),
      publicKey: b.keys.publicKey,
      signingKey: root.keys.privateKey,
      extensions,
    })
    out.push(new Uint8Array(cert.rawData))
  }
  return out
}

async function fixture(algorithm: TestKeyAlgorithm, ops: number, rounds: number): Promise<Fixture> {
  const subject = (cn: string): Record<string, string[]>[] => [{ O: ['certgate bench'] }, { CN: [cn] }]
  const root = await createTestCertificate({ subject: subject('bench root CA'), keyAlgorithm: algorithm, ca: true })
  const [a, b] = await Promise.all(
    ['A', 'B'].map((n) => createTestCertificate({ subject: subject(`bench intermediate ${n}`), keyAlgorithm: algorithm, ca: { pathLength: 0 }, issuer: root })),
  )
  const [leafA] = await leavesOf(a!, algorithm, 1)
  const leaves = await leavesOf(b!, algorithm, 2 * ops)
  const headerA = await chainHeader(leafA! as Uint8Array<ArrayBuffer>, a!.der)
  const headersB = await Promise.all(leaves.map((leaf) => chainHeader(leaf as Uint8Array<ArrayBuffer>, b!.der)))
  const total = WARM_UP_ROUNDS + rounds
  const again = await reissues(root, b!, total * ops + 1)
  const steadyHeaders = await Promise.all(
    Array.from({ length: total }, (_, r) =>
      Promise.all(Array.from({ length: ops }, (_, i) => chainHeader(leaves[(r < WARM_UP_ROUNDS ? 0 : ops) + i]! as Uint8Array<ArrayBuffer>, again[r * ops + i]!))),
    ),
  )
  const steadyPrimer = await chainHeader(leaves[0]! as Uint8Array<ArrayBuffer>, again[total * ops]!)
  return { root, intermediate: b!, headerA, leaves, headersB, steadyHeaders, steadyPrimer }
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
 * One verifier for every call, primed once; each call must run exactly `perCall` signature
 * verifications (counted by the verifier's meter, outside the CPU it measures, which is the
 * process's: the check is two subtractions).
 */
function sharedVerifierRounds(f: Fixture, primer: string, headers: (round: number) => string[], perCall: number): (round: number) => Promise<Timing> {
  const meter: SignatureMeter = { verifications: 0, units: 0 }
  const trust = createMeteredTrustVerifier({ roots: [f.root.der] }, meter)
  const verify = createClientCertVerifier({ allow: { commonNames: [BENCH_CN] }, trust, cache: false })
  let primed: Promise<void> | null = null
  return async (round) => {
    primed ??= verify(request(primer)).then((result) => {
      if (!result.ok) throw new Error(`chain bench: the priming request was refused (${result.error.code})`)
    })
    await primed
    const list = headers(round).map(request)
    return timed(list.length, async () => {
      for (const req of list) {
        const before = meter.verifications
        const result = await verify(req)
        if (!result.ok) throw new Error(`chain bench: refused (${result.error.code})`)
        if (meter.verifications - before !== perCall) {
          throw new Error(`chain bench: ${meter.verifications - before} signature verifications, not ${perCall}`)
        }
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

/** Runs `rounds` rounds of `ops` verifications each way, after the warm-up rounds; medians. */
export async function compareChain(algorithm: TestKeyAlgorithm, ops: number, rounds: number): Promise<ChainComparison> {
  const f = await fixture(algorithm, ops, rounds)
  const from = (round: number): number => (round < WARM_UP_ROUNDS ? 0 : ops)
  const byRound = (run: (from: number) => Promise<Timing>) => (round: number) => run(from(round))
  const runs = [
    byRound(certgateRounds(f, ops)),
    byRound(await webCryptoRounds(f, algorithm, ops, false)),
    byRound(await webCryptoRounds(f, algorithm, ops, true)),
    sharedVerifierRounds(f, f.steadyPrimer, (round) => f.steadyHeaders[round]!, 2),
    sharedVerifierRounds(f, f.headersB[0]!, (round) => f.headersB.slice(from(round), from(round) + ops), 1),
  ]
  const timings = runs.map((): Timing[] => [])
  for (let r = 0; r < WARM_UP_ROUNDS + rounds; r++) {
    for (const [i, run] of runs.entries()) {
      const t = await run(r)
      if (r >= WARM_UP_ROUNDS) timings[i]!.push(t)
    }
  }
  const [certgate, webCrypto, webCryptoImport, steady, warm] = timings as [Timing[], Timing[], Timing[], Timing[], Timing[]]
  const cpu = (list: Timing[]): number => median(list.map((t) => t.cpu))
  const ratio = (list: Timing[], to: Timing[]): number => median(list.map((t, i) => t.cpu / to[i]!.cpu))
  return {
    certgateUs: cpu(certgate),
    webCryptoUs: cpu(webCrypto),
    ratio: ratio(certgate, webCrypto),
    webCryptoImportUs: cpu(webCryptoImport),
    importRatio: ratio(certgate, webCryptoImport),
    steadyUs: cpu(steady),
    steadyRatio: ratio(steady, webCrypto),
    warmUs: cpu(warm),
    certgateWallUs: median(certgate.map((t) => t.wall)),
    webCryptoWallUs: median(webCrypto.map((t) => t.wall)),
  }
}
