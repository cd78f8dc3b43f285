/**
 * Micro benchmarks: median µs per operation for each step of one verification, for RSA-2048 and
 * P-256 leaves, in whichever runtime runs this file (Node via tsx, Bun, Deno).
 * @module
 */
import 'reflect-metadata'
import { X509Certificate } from '@peculiar/x509'
import { parseXfcc } from '../src/xfcc/parse.ts'
import { decodeCertificates } from '../src/x509/pem.ts'
import { digestHex, readClientCertificate } from '../src/x509/certificate.ts'
import { webCryptoDigestHex } from '../src/x509/digest.ts'
import { readCertificateFields } from '../src/x509/fields.ts'
import { compileAllowList, matchAllowList } from '../src/policy.ts'
import { createClientCertVerifier } from '../src/verify.ts'
import { createTrustVerifier } from '../src/trust/verifier.ts'
import { createTestPki, xfccHeader } from '../src/testing/index.ts'
import { BENCH_CN, envoyHeader, makeTemplate, variantDer } from './fixtures.ts'
import { compareChain } from './chain.ts'

export interface MicroResult {
  name: string
  us: number
  target?: number
  /** A comparison instead of a time: the ratio, its upper bound, and what it compares (for the table). */
  ratio?: number
  ratioTarget?: number
  detail?: string
}

/** Median µs per call over `rounds` rounds of `ops` calls, after a warm-up. */
export async function microsecondsPerOp(
  fn: (i: number) => unknown,
  ops: number,
  rounds = 5
): Promise<number> {
  for (let i = 0; i < Math.min(ops, 1000); i++) await fn(i)
  const medians: number[] = []
  let n = ops
  for (let r = 0; r < rounds; r++) {
    const start = performance.now()
    for (let i = 0; i < ops; i++) await fn(n++)
    medians.push(((performance.now() - start) * 1000) / ops)
  }
  medians.sort((a, b) => a - b)
  return medians[Math.floor(medians.length / 2)]!
}

function request(header: string): Request {
  return new Request('http://localhost/cert-info', { headers: { 'x-forwarded-client-cert': header } })
}

export async function runMicro(options: { smoke: boolean }): Promise<MicroResult[]> {
  const ops = options.smoke ? 200 : 3000
  const results: MicroResult[] = []
  for (const algorithm of ['RSA-2048', 'P-256'] as const) {
    const template = await makeTemplate(algorithm)
    const subject = template.cert.subjectRfc4514
    const header = envoyHeader(template.cert.der, subject)
    const element = parseXfcc(header)[0]!
    const der = template.cert.der
    const cert = await readClientCertificate(der)
    const allow = compileAllowList({ commonNames: [BENCH_CN] })
    const tag = algorithm === 'RSA-2048' ? 'RSA' : 'P-256'
    // Headers for the cold runs are made before timing, so only verification is measured.
    const coldHeaders = Array.from({ length: ops * 7 + 1000 }, (_, i) => envoyHeader(variantDer(template, i), subject))
    const cold = createClientCertVerifier({ allow: { commonNames: [BENCH_CN] } })
    const warm = createClientCertVerifier({ allow: { commonNames: [BENCH_CN] } })

    // Slow operations (≥ 100 µs) run a fifth or a tenth as many times: the same precision, less waiting.
    const add = async (name: string, fn: (i: number) => unknown, target?: number, divide = 1): Promise<void> => {
      const us = await microsecondsPerOp(fn, Math.max(20, Math.round(ops / divide)))
      results.push(target === undefined ? { name: `${name} (${tag})`, us } : { name: `${name} (${tag})`, us, target })
    }
    await add('parseXfcc, Envoy header', () => parseXfcc(header))
    await add('decode URL-encoded PEM → DER', () => decodeCertificates(element.cert!, { maxCertificates: 8 }))
    // What certgate uses where the runtime has one (node:crypto's hash(), Bun's), then the portable path.
    await add('SHA-256 thumbprint (synchronous, as certgate hashes)', () => digestHex('SHA-256', der))
    await add('SHA-256 thumbprint (WebCrypto, awaited)', () => webCryptoDigestHex('SHA-256', der))
    await add('read fields, certgate DER reader', () => readCertificateFields(der))
    await add('read fields, @peculiar/x509 (reference)', () => {
      const x = new X509Certificate(der as Uint8Array<ArrayBuffer>)
      return [x.subject, x.issuer, x.serialNumber, x.extensions.length]
    }, undefined, 10)
    await add('allowlist match', () => matchAllowList(allow, cert))
    await add('verify, cache hit (returning client)', () => warm(request(header)))
    await add('verify, cold (new certificate each call)', (i) => cold(request(coldHeaders[i % coldHeaders.length]!)), 100)

    // Chain verification needs real signatures, so real leaves, rotated; CA keys imported once.
    const pki = await createTestPki({ keyAlgorithm: algorithm })
    const leaves = await Promise.all(Array.from({ length: 20 }, () => pki.issue({ commonName: BENCH_CN })))
    const trust = createTrustVerifier({ roots: [pki.root.der] })
    await add(
      'chain verification, leaf + intermediate → root',
      (i) => {
        const leaf = leaves[i % leaves.length]!
        return trust.verify(leaf.der, [leaf.der, pki.intermediate.der], Date.now(), 0)
      },
      200,
      5
    )
    const trusted = createClientCertVerifier({
      allow: { commonNames: [BENCH_CN] },
      trust: createTrustVerifier({ roots: [pki.root.pem] }),
      cache: false,
    })
    const trustedHeaders = leaves.map((leaf) => xfccHeader(leaf))
    await add(
      'verify with chain, verdict cache off (intermediate key + edge remembered)',
      (i) => trusted(request(trustedHeaders[i % trustedHeaders.length]!)),
      200,
      5
    )
    // Issue 13's chain target: steady state and strict (bench/chain.ts says exactly what each means).
    const chain = await compareChain(algorithm, options.smoke ? 20 : 200, options.smoke ? 1 : 5)
    const wc = chain.webCryptoUs.toFixed(0)
    results.push({
      name: `TARGET chain, steady state (intermediate's key pooled, both signatures checked): certgate ÷ WebCrypto's 2 verifies (${tag})`,
      us: chain.steadyUs,
      ratio: chain.steadyRatio,
      ratioTarget: 2,
      detail: `${chain.steadyUs.toFixed(0)} vs ${wc} µs CPU; memo warm, 1 verify: ${chain.warmUs.toFixed(0)} µs`,
    })
    results.push({
      name: `chain, strict (verifier never saw the intermediate): certgate ÷ WebCrypto's 2 verifies, keys imported once (${tag})`,
      us: chain.certgateUs,
      ratio: chain.ratio,
      detail: `${chain.certgateUs.toFixed(0)} vs ${wc} µs CPU; ÷ WebCrypto + importKey each call: ${chain.importRatio.toFixed(2)}× (${chain.webCryptoImportUs.toFixed(0)} µs)`,
    })
  }
  return results
}
