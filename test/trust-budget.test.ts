/**
 * Bounded work per request: signatures are checked from the root down, so a key the request
 * carries is used only once its own certificate verified, and every check is charged to a budget
 * priced by key size. The tests count verifications through the verifier's meter, never time.
 * @module
 */
import 'reflect-metadata'
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { withClientCert } from '../src/adapters/fetch.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'
import { type SignatureMeter, signatureUnits } from '../src/trust/budget.ts'
import { createMeteredTrustVerifier, createTrustVerifier, type TrustOptions } from '../src/trust/verifier.ts'
import { SignerKey } from '../src/x509/signature.ts'
import {
  hostileChain,
  legitimateChain,
  lookAlikes,
  P256,
  rsaKey,
  rsaSpki,
  type TestChain,
} from './support/chains.ts'

const EXPENSIVE_EXPONENT = 2n ** 32n - 1n

function meter(): SignatureMeter {
  return { verifications: 0, units: 0 }
}

async function refused(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string; name?: string; status?: number }) => {
    assert.equal(error.name, 'CertgateError')
    assert.equal(error.code, code)
    assert.equal(error.status, 403)
    return true
  })
}

function ders(certs: readonly TestCertificate[]): Uint8Array[] {
  return certs.map((cert) => cert.der)
}

/** The Chain a client sends: leaf first, then its issuers below the root. */
function sent(chain: TestChain): Uint8Array[] {
  return ders([chain.leaf, ...[...chain.intermediates].reverse()])
}

/** A problem response's status and code, from the fetch adapter. */
async function problem(options: TrustOptions, leaf: TestCertificate, chain: TestCertificate[]): Promise<[number, unknown]> {
  const handler = withClientCert(() => new Response('ok'), {
    allow: 'any-valid',
    trust: createTrustVerifier(options),
    maxHeaderBytes: 64 * 1024,
  })
  const header = xfccHeader(leaf, { chain: [leaf, ...chain] })
  const response = await handler(
    new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': header } })
  )
  const body = (await response.json()) as { code?: unknown }
  return [response.status, body.code]
}

describe('trust budget: the hostile chain', () => {
  let pki: TestPki

  before(async () => {
    pki = await createTestPki()
  })

  it('six look-alike intermediates with 8192-bit keys: one signature check, by the root, then ERR_CERT_UNTRUSTED', async () => {
    const { leaf, fakes } = await hostileChain(pki.root, 6, () => rsaSpki(8192, EXPENSIVE_EXPONENT))
    const counted = meter()
    const options = { roots: [pki.root.pem], maxDepth: 8 }
    const verifier = createMeteredTrustVerifier(options, counted)
    await refused(verifier.verify(leaf.der, ders([leaf, ...fakes]), Date.now(), 0), 'ERR_CERT_UNTRUSTED')
    // Only the root's own P-256 key was used: none of the request's keys.
    assert.deepEqual(counted, { verifications: 1, units: 2 })
    assert.deepEqual(await problem(options, leaf, fakes), [403, 'ERR_CERT_UNTRUSTED'])
  })

  it('twenty look-alikes of the issuing CA: sixteen checks by the root, then ERR_CHAIN_BUDGET', async () => {
    const leaf = await pki.issue()
    const fakes = await lookAlikes(pki.root, pki.intermediate.x509.subjectName, 20)
    const counted = meter()
    const verifier = createMeteredTrustVerifier({ roots: [pki.root.pem] }, counted)
    await refused(verifier.verify(leaf.der, ders([leaf, ...fakes]), Date.now(), 0), 'ERR_CHAIN_BUDGET')
    assert.deepEqual(counted, { verifications: 16, units: 32 })
  })

  it('refuses a signatureBudget that is not a number of at least 1', () => {
    for (const signatureBudget of [0, -1, Number.NaN, '128']) {
      const options = { roots: [pki.root.pem], signatureBudget } as unknown as TrustOptions
      assert.throws(() => createMeteredTrustVerifier(options, null), TypeError)
    }
  })
})

describe('trust budget: legitimate chains', () => {
  it('a 4-deep P-256 chain is accepted with 4 checks; again with 3, the root’s edge remembered', async () => {
    const chain = await legitimateChain(4, P256)
    const counted = meter()
    const verifier = createMeteredTrustVerifier({ roots: [chain.root.pem] }, counted)
    const verdict = await verifier.verify(chain.leaf.der, sent(chain), Date.now(), 0)
    assert.equal(verdict.path.length, 5)
    assert.deepEqual(counted, { verifications: 4, units: 8 })
    await verifier.verify(chain.leaf.der, sent(chain), Date.now(), 0)
    assert.deepEqual(counted, { verifications: 7, units: 14 })
  })

  // Two RSA-4096 keys, used in turn: each takes seconds to generate on some runtimes.
  it('a 5-deep RSA-4096 chain fits the default budget: 5 checks, 20 units of 128', { timeout: 60_000 }, async () => {
    const chain = await legitimateChain(5, rsaKey(4096), 2)
    const counted = meter()
    const verifier = createMeteredTrustVerifier({ roots: [chain.root.pem] }, counted)
    const verdict = await verifier.verify(chain.leaf.der, sent(chain), Date.now(), 0)
    assert.equal(verdict.path.length, 6)
    assert.deepEqual(counted, { verifications: 5, units: 20 })
  })

  it('a budget too small for the chain: ERR_CHAIN_BUDGET before the check that would pass it', async () => {
    const chain = await legitimateChain(4, P256)
    const counted = meter()
    const options = { roots: [chain.root.pem], signatureBudget: 5 }
    const verifier = createMeteredTrustVerifier(options, counted)
    await refused(verifier.verify(chain.leaf.der, sent(chain), Date.now(), 0), 'ERR_CHAIN_BUDGET')
    assert.deepEqual(counted, { verifications: 2, units: 4 })
    assert.deepEqual(
      await problem(options, chain.leaf, [...chain.intermediates].reverse()),
      [403, 'ERR_CHAIN_BUDGET']
    )
  })

})

describe('trust budget: the price of a key', () => {
  const rsa = (bits: number, exponent = 65537n): number =>
    signatureUnits(new SignerKey(rsaSpki(bits, exponent), '1.2.840.113549.1.1.1', null))

  it('RSA grows with the square of the modulus and with the exponent’s length', () => {
    assert.deepEqual([rsa(2048), rsa(3072), rsa(4096), rsa(8192)], [1, 3, 4, 16])
    assert.equal(rsa(2048, 3n), 1)
    assert.equal(rsa(8192, EXPENSIVE_EXPONENT), 59)
  })

  it('a key the key rules refuse costs 1: it is never imported', () => {
    assert.equal(rsa(4096, 2n ** 3070n + 1n), 1)
    assert.equal(rsa(16384), 1)
  })

  it('ECDSA by curve, Ed25519 flat', async () => {
    const units = async (params: EcKeyGenParams | Algorithm): Promise<number> => {
      const pair = (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair
      const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey))
      return signatureUnits(new SignerKey(spki, '', null))
    }
    const curves = ['P-256', 'P-384', 'P-521'].map((namedCurve) => units({ name: 'ECDSA', namedCurve }))
    assert.deepEqual(await Promise.all(curves), [2, 16, 40])
    assert.equal(await units({ name: 'Ed25519' }), 2)
  })
})
