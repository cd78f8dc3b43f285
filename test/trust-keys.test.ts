/**
 * Keys and signature algorithms on a path, through the real verifier: RSA size and exponent
 * bounds on every certificate (root and leaf included), the three NIST curves with their hashes,
 * Ed25519 where the runtime has it, RSA-PSS with its parameters checked, and the key types and
 * curves refused. Each refusal asserts its code.
 * @module
 */
import 'reflect-metadata'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createClientCertVerifier } from '../src/index.ts'
import { createTrustVerifier, type TrustOptions, type TrustVerdict } from '../src/trust/verifier.ts'
import { readPssParameters } from '../src/x509/pss.ts'
import {
  buildCert,
  dsaSpki,
  ecSpki,
  hasEd25519,
  type ProfileCert,
  type ProfileKeyType,
  requestWith,
  rsaSpki,
  thumbprintOf,
} from './support/profile-pki.ts'

function verify(options: TrustOptions, leaf: ProfileCert, chain: ProfileCert[] = []): Promise<TrustVerdict> {
  return createTrustVerifier(options).verify(leaf.der, chain.map((c) => c.der), Date.now(), 0)
}

async function refused(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string; status?: number }) => {
    assert.equal(error.code, code)
    assert.equal(error.status, 403)
    return true
  })
}

/** root → intermediate → leaf, every key of `keyType`. */
async function chainOf(keyType: ProfileKeyType): Promise<{ root: ProfileCert; ica: ProfileCert; leaf: ProfileCert }> {
  const root = await buildCert({ subject: `CN=${keyType} root`, keyType, ca: true, aki: 'none' })
  const ica = await buildCert({ subject: `CN=${keyType} ica`, keyType, ca: true, issuer: root })
  const leaf = await buildCert({ subject: `CN=${keyType} leaf`, keyType, issuer: ica })
  return { root, ica, leaf }
}

const E_65537 = new Uint8Array([1, 0, 1])
const E_2_32_PLUS_1 = new Uint8Array([1, 0, 0, 0, 1])

describe('trust keys: RSA bounds on every certificate', () => {
  it('a 1024-bit RSA root → ERR_CERT_KEY_REFUSED', async () => {
    const root = await buildCert({ subject: 'CN=weak root', keyType: 'RSA-1024', ca: true, aki: 'none' })
    const leaf = await buildCert({ subject: 'CN=leaf', issuer: root })
    await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CERT_KEY_REFUSED')
  })

  it('a 1024-bit RSA intermediate or leaf → ERR_CERT_KEY_REFUSED', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    const weakIca = await buildCert({ subject: 'CN=weak ica', keyType: 'RSA-1024', ca: true, issuer: root })
    const leaf = await buildCert({ subject: 'CN=leaf', issuer: weakIca })
    await refused(verify({ roots: [root.pem] }, leaf, [weakIca]), 'ERR_CERT_KEY_REFUSED')
    const weakLeaf = await buildCert({ subject: 'CN=weak leaf', keyType: 'RSA-1024', issuer: root })
    await refused(verify({ roots: [root.pem] }, weakLeaf), 'ERR_CERT_KEY_REFUSED')
  })

  it('RSA e = 2^32+1 on the leaf or on a CA → ERR_CERT_KEY_REFUSED, the CA key never used', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    const leaf = await buildCert({ subject: 'CN=leaf', publicKey: rsaSpki(2048, E_2_32_PLUS_1), issuer: root })
    await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CERT_KEY_REFUSED')
    // A CA with that key cannot sign here: the leaf below it is signed by another key (and names
    // no AKI), yet the answer is the key's refusal, not a failed signature: the key is judged
    // before any use.
    const ica = await buildCert({ subject: 'CN=ica', publicKey: rsaSpki(2048, E_2_32_PLUS_1), ca: true, issuer: root })
    const stand = await buildCert({ subject: 'CN=ica', ca: true, issuer: root })
    const below = await buildCert({ subject: 'CN=leaf', issuer: stand, aki: 'none' })
    await refused(verify({ roots: [root.pem] }, below, [ica]), 'ERR_CERT_KEY_REFUSED')
  })

  it('even, too small or huge RSA exponents, and moduli over 8192 bits → ERR_CERT_KEY_REFUSED', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    for (const spki of [
      rsaSpki(2048, new Uint8Array([1, 0, 0])),
      rsaSpki(2048, new Uint8Array([1])),
      rsaSpki(2048, new Uint8Array(40).fill(0xff)),
      rsaSpki(8200, E_65537),
    ]) {
      const leaf = await buildCert({ subject: 'CN=leaf', publicKey: spki, issuer: root })
      await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CERT_KEY_REFUSED')
    }
  })

  it('RSA moduli of 2048 bits and more pass, whatever their size modulo 8', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    for (const bits of [2048, 2052, 8192]) {
      const leaf = await buildCert({ subject: 'CN=leaf', publicKey: rsaSpki(bits, E_65537), issuer: root })
      assert.equal((await verify({ roots: [root.pem] }, leaf)).path.length, 2, `${bits} bits`)
    }
  })

  it('minRsaBits raises the floor (3072: an RSA-2048 chain → ERR_CERT_KEY_REFUSED) and never lowers it', async () => {
    const { root, ica, leaf } = await chainOf('RSA-2048')
    assert.equal((await verify({ roots: [root.pem] }, leaf, [ica])).path.length, 3)
    await refused(verify({ roots: [root.pem], minRsaBits: 3072 }, leaf, [ica]), 'ERR_CERT_KEY_REFUSED')
    for (const minRsaBits of [1024, 2047, 9000, 2048.5, '4096']) {
      assert.throws(
        () => createTrustVerifier({ roots: [root.pem], minRsaBits } as TrustOptions),
        /trust\.minRsaBits must be an integer from 2048 to 8192/
      )
    }
  })

  it('a pinned self-signed leaf with a 1024-bit key → ERR_CERT_KEY_REFUSED', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    const self = await buildCert({ subject: 'CN=pinned', keyType: 'RSA-1024', aki: 'none' })
    const verifier = createClientCertVerifier({
      allow: { thumbprints: [await thumbprintOf(self)] },
      trust: createTrustVerifier({ roots: [root.pem] }),
      cache: false,
    })
    const result = await verifier(await requestWith(self))
    assert.equal(result.ok, false)
    assert.equal(!result.ok && result.error.code, 'ERR_CERT_KEY_REFUSED')
  })
})

describe('trust keys: curves and algorithms accepted', () => {
  for (const keyType of ['P-256', 'P-384', 'P-521', 'RSA-2048'] as const) {
    it(`a ${keyType} chain, each key signing with its own hash → ok`, async () => {
      const { root, ica, leaf } = await chainOf(keyType)
      assert.equal((await verify({ roots: [root.pem] }, leaf, [ica])).path.length, 3)
    })
  }

  it('a chain of mixed curves (P-521 root, P-384 intermediate, P-256 leaf) → ok', async () => {
    const root = await buildCert({ subject: 'CN=root', keyType: 'P-521', ca: true, aki: 'none' })
    const ica = await buildCert({ subject: 'CN=ica', keyType: 'P-384', ca: true, issuer: root })
    const leaf = await buildCert({ subject: 'CN=leaf', issuer: ica })
    assert.equal((await verify({ roots: [root.pem] }, leaf, [ica])).path.length, 3)
  })

  it('an Ed25519 chain → ok where the runtime has Ed25519', async (t) => {
    if (!(await hasEd25519())) return t.skip('no Ed25519 in this runtime')
    const { root, ica, leaf } = await chainOf('Ed25519')
    assert.equal((await verify({ roots: [root.pem] }, leaf, [ica])).path.length, 3)
  })

  it('RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-octet salt → ok', async () => {
    const { root, ica, leaf } = await chainOf('RSA-PSS-2048')
    assert.equal((await verify({ roots: [root.pem] }, leaf, [ica])).path.length, 3)
  })

  it('RSA-PSS whose salt is not the hash length (SHA-256, 20 octets) → ERR_CHAIN_INVALID', async () => {
    const root = await buildCert({ subject: 'CN=pss root', keyType: 'RSA-PSS-2048', ca: true, aki: 'none' })
    const signingAlgorithm = { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 20 } as RsaPssParams
    const leaf = await buildCert({ subject: 'CN=leaf', issuer: root, signingAlgorithm })
    await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CHAIN_INVALID')
  })
})

describe('trust keys: RSA-PSS parameters', () => {
  const hash = (n: number): number[] => [0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n, 0x05, 0x00]
  const mgf1 = (n: number): number[] => [0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, ...hash(n)]
  const params = (h: number, m: number, salt: number, trailer?: number): Uint8Array => {
    const body = [0xa0, 0x0f, ...hash(h), 0xa1, 0x1c, ...mgf1(m), 0xa2, 0x03, 0x02, 0x01, salt]
    if (trailer !== undefined) body.push(0xa3, 0x03, 0x02, 0x01, trailer)
    return new Uint8Array([0x30, body.length, ...body])
  }

  it('reads SHA-256/384/512 with their MGF1 hash and salt length', () => {
    assert.deepEqual(readPssParameters(params(1, 1, 32)), { hash: 'SHA-256', saltLength: 32 })
    assert.deepEqual(readPssParameters(params(2, 2, 48, 1)), { hash: 'SHA-384', saltLength: 48 })
    assert.deepEqual(readPssParameters(params(3, 3, 64)), { hash: 'SHA-512', saltLength: 64 })
  })

  it('refuses an MGF1 hash unlike the hash, another salt, another trailer, or the SHA-1 defaults', () => {
    assert.equal(readPssParameters(params(1, 3, 32)), null)
    assert.equal(readPssParameters(params(1, 1, 20)), null)
    assert.equal(readPssParameters(params(1, 1, 32, 2)), null)
    assert.equal(readPssParameters(new Uint8Array([0x30, 0x00])), null)
    assert.equal(readPssParameters(null), null)
    assert.equal(readPssParameters(new Uint8Array([0x05, 0x00])), null)
  })
})

describe('trust keys: types and curves refused', () => {
  it('P-192, an unnamed curve and DSA on the leaf → ERR_CERT_KEY_REFUSED', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    for (const spki of [ecSpki('1.2.840.10045.3.1.1', 24), ecSpki('1.3.132.0.10', 32), dsaSpki()]) {
      const leaf = await buildCert({ subject: 'CN=leaf', publicKey: spki, issuer: root })
      await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CERT_KEY_REFUSED')
    }
  })

  it('a SHA-1 signature → ERR_CHAIN_INVALID', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-1' } as EcdsaParams
    const leaf = await buildCert({ subject: 'CN=leaf', issuer: root, signingAlgorithm })
    await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CHAIN_INVALID')
  })
})
