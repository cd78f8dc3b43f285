/**
 * Chain validation (src/trust/): path building through the request's chain and configured
 * intermediates, signatures, CA and leaf rules, bounds and options. Each refusal asserts its code.
 * @module
 */
import 'reflect-metadata'
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  createTestCertificate,
  createTestPki,
  type TestCertificate,
  type TestPki,
} from '../src/testing/index.ts'
import { SignerKey, verifySignature } from '../src/x509/signature.ts'
import { createTrustVerifier, type TrustOptions, type TrustVerdict } from '../src/trust/verifier.ts'
import { createRawLeaf } from './support/pki.ts'

const HOUR_MS = 60 * 60 * 1000
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const ROOT_DN: Array<Record<string, string[]>> = [{ O: ['certgate test'] }, {
  CN: ['certgate test root CA'],
}]
const INTERMEDIATE_DN: Array<Record<string, string[]>> = [{ O: ['certgate test'] }, {
  CN: ['certgate test intermediate CA'],
}]

function verifyWith(
  options: TrustOptions,
  leaf: TestCertificate,
  chain: TestCertificate[] = []
): Promise<TrustVerdict> {
  return createTrustVerifier(options).verify(
    leaf.der,
    chain.map((c) => c.der),
    Date.now(),
    0
  )
}

async function refused(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string; name?: string }) => {
    assert.equal(error.name, 'CertgateError')
    assert.equal(error.code, code)
    return true
  })
}

describe('trust: path building', () => {
  let pki: TestPki
  let leaf: TestCertificate

  before(async () => {
    pki = await createTestPki()
    leaf = await pki.issue()
  })

  it('a leaf issued through an intermediate carried in the chain → ok, path of 3', async () => {
    const result = await verifyWith({ roots: [pki.root.pem] }, leaf, [leaf, pki.intermediate])
    assert.deepEqual(result.path, [
      'CN=test-client',
      'CN=certgate test intermediate CA,O=certgate test',
      'CN=certgate test root CA,O=certgate test',
    ])
    assert.equal(result.validUntil, leaf.x509.notAfter.getTime())
  })

  it('the same leaf with no chain and no configured intermediate → ERR_CERT_UNTRUSTED', async () => {
    await refused(verifyWith({ roots: [pki.root.pem] }, leaf), 'ERR_CERT_UNTRUSTED')
    await refused(verifyWith({ roots: [pki.root.pem] }, leaf, [leaf]), 'ERR_CERT_UNTRUSTED')
  })

  it('the same leaf with the intermediate configured → ok', async () => {
    const options = { roots: [pki.root.pem], intermediates: [pki.intermediate.der] }
    assert.equal((await verifyWith(options, leaf)).path.length, 3)
  })

  it('a leaf trusted directly by its issuing CA configured as a root → path of 2', async () => {
    const result = await verifyWith({ roots: [pki.intermediate.pem] }, leaf)
    assert.equal(result.path.length, 2)
  })

  it('reversed order, duplicates, unrelated certificates and the root in the chain → ok', async () => {
    const stranger = await createTestCertificate({ commonName: 'stranger', ca: true })
    const other = await createTestPki()
    const options = { roots: [pki.root.pem] }
    const chains = [
      [pki.root, pki.intermediate, leaf],
      [leaf, pki.intermediate, pki.intermediate, leaf, pki.intermediate],
      [stranger, other.intermediate, other.root, leaf, pki.intermediate],
      [leaf, pki.intermediate, pki.root],
    ]
    for (const chain of chains) {
      assert.equal((await verifyWith(options, leaf, chain)).path.length, 3)
    }
  })

  it('a leaf from a rogue CA whose DNs equal the real ones → ERR_CERT_UNTRUSTED', async () => {
    const rogueRoot = await createTestCertificate({ subject: ROOT_DN, ca: true })
    const rogueIntermediate = await createTestCertificate({
      subject: INTERMEDIATE_DN,
      ca: { pathLength: 0 },
      issuer: rogueRoot,
    })
    const rogueLeaf = await createTestCertificate({ issuer: rogueIntermediate })
    const options = { roots: [pki.root.pem], intermediates: [pki.intermediate.pem] }
    await refused(verifyWith(options, rogueLeaf, [rogueIntermediate]), 'ERR_CERT_UNTRUSTED')
    await refused(
      verifyWith(options, rogueLeaf, [rogueIntermediate, rogueRoot]),
      'ERR_CERT_UNTRUSTED'
    )
  })

  it('a rogue leaf claiming the real intermediate key id → ERR_CERT_UNTRUSTED (signature fails)', async () => {
    const rogueIntermediate = await createTestCertificate({
      subject: INTERMEDIATE_DN,
      ca: true,
    })
    const forged = await createRawLeaf({
      issuer: rogueIntermediate,
      akiFrom: pki.intermediate.keys.publicKey,
    })
    const options = { roots: [pki.root.pem], intermediates: [pki.intermediate.pem] }
    await refused(verifyWith(options, forged, [rogueIntermediate]), 'ERR_CERT_UNTRUSTED')
    await refused(verifyWith(options, forged), 'ERR_CERT_UNTRUSTED')
  })

  it('a path longer than maxDepth → ERR_CHAIN_INVALID', async () => {
    let issuer = pki.root
    const cas: TestCertificate[] = []
    for (let i = 0; i < 4; i++) {
      issuer = await createTestCertificate({ commonName: `level ${i}`, ca: true, issuer })
      cas.push(issuer)
    }
    const deep = await createTestCertificate({ issuer })
    // Four intermediates and the root: five certificates above the leaf.
    assert.equal((await verifyWith({ roots: [pki.root.pem] }, deep, cas)).path.length, 6)
    await refused(
      verifyWith({ roots: [pki.root.pem], maxDepth: 4 }, deep, cas),
      'ERR_CHAIN_INVALID'
    )
  })

  it('RSA and P-256 mixes verify', async () => {
    const rsaRoot = await createTestCertificate({
      subject: [{ CN: ['rsa root'] }],
      ca: true,
      keyAlgorithm: 'RSA-2048',
    })
    const ecIntermediate = await createTestCertificate({
      commonName: 'ec intermediate',
      ca: true,
      issuer: rsaRoot,
    })
    const rsaLeaf = await createTestCertificate({
      issuer: ecIntermediate,
      keyAlgorithm: 'RSA-2048',
    })
    const ecLeaf = await createTestCertificate({ issuer: ecIntermediate })
    const options = { roots: [rsaRoot.pem] }
    assert.equal((await verifyWith(options, rsaLeaf, [ecIntermediate])).path.length, 3)
    assert.equal((await verifyWith(options, ecLeaf, [ecIntermediate])).path.length, 3)
    const rsaPki = await createTestPki({ keyAlgorithm: 'RSA-2048' })
    const leafOfRsa = await rsaPki.issue({ keyAlgorithm: 'P-256' })
    const result = await verifyWith({ roots: [rsaPki.root.pem] }, leafOfRsa, [rsaPki.intermediate])
    assert.equal(result.path.length, 3)
  })

  it('one verifier: keys imported once, repeated and concurrent verifications agree', async () => {
    const verifier = createTrustVerifier({ roots: [pki.root.pem] })
    const other = await pki.issue({ commonName: 'other' })
    const results = await Promise.all(
      [leaf, other, leaf, other].map((l) =>
        verifier.verify(l.der, [pki.intermediate.der], Date.now(), 0)
      )
    )
    for (const r of results) assert.equal(r.path.length, 3)
    await refused(verifier.verify(leaf.der, [], Date.now(), 0), 'ERR_CERT_UNTRUSTED')
  })
})

describe('trust: CA rules', () => {
  let root: TestCertificate

  before(async () => {
    root = await createTestCertificate({ subject: [{ CN: ['rules root'] }], ca: true })
  })

  it('an intermediate without CA:true → ERR_CHAIN_INVALID', async () => {
    const notCa = await createTestCertificate({
      commonName: 'not a CA',
      issuer: root,
      extendedKeyUsages: null,
      keyUsages: 32,
    })
    const leaf = await createTestCertificate({ issuer: notCa })
    await refused(verifyWith({ roots: [root.pem] }, leaf, [notCa]), 'ERR_CHAIN_INVALID')
  })

  it('an intermediate with pathLength 0 and another intermediate below it → ERR_CHAIN_INVALID', async () => {
    const upper = await createTestCertificate({
      commonName: 'upper',
      ca: { pathLength: 0 },
      issuer: root,
    })
    const lower = await createTestCertificate({ commonName: 'lower', ca: true, issuer: upper })
    const leaf = await createTestCertificate({ issuer: lower })
    await refused(verifyWith({ roots: [root.pem] }, leaf, [lower, upper]), 'ERR_CHAIN_INVALID')
    // The same shape under pathLength 1 is fine.
    const roomy = await createTestCertificate({
      commonName: 'roomy',
      ca: { pathLength: 1 },
      issuer: root,
    })
    const lower2 = await createTestCertificate({ commonName: 'lower2', ca: true, issuer: roomy })
    const leaf2 = await createTestCertificate({ issuer: lower2 })
    assert.equal((await verifyWith({ roots: [root.pem] }, leaf2, [lower2, roomy])).path.length, 4)
  })

  it('an intermediate whose keyUsage lacks keyCertSign → ERR_CHAIN_INVALID', async () => {
    const crlOnly = await createTestCertificate({
      commonName: 'crl only',
      ca: true,
      keyUsages: 64,
      issuer: root,
    })
    const leaf = await createTestCertificate({ issuer: crlOnly })
    await refused(verifyWith({ roots: [root.pem] }, leaf, [crlOnly]), 'ERR_CHAIN_INVALID')
  })

  it('an expired intermediate → ERR_CERT_EXPIRED; a future one → ERR_CERT_NOT_YET_VALID', async () => {
    const expired = await createTestCertificate({
      commonName: 'expired CA',
      ca: true,
      issuer: root,
      notBefore: new Date(Date.now() - 48 * HOUR_MS),
      notAfter: new Date(Date.now() - 2 * HOUR_MS),
    })
    const leaf = await createTestCertificate({ issuer: expired })
    await refused(verifyWith({ roots: [root.pem] }, leaf, [expired]), 'ERR_CERT_EXPIRED')
    const verifier = createTrustVerifier({ roots: [root.pem] })
    // Inside the tolerance it still passes.
    const within = await verifier.verify(leaf.der, [expired.der], Date.now(), 3 * HOUR_MS)
    assert.equal(within.path.length, 3)
    const future = await createTestCertificate({
      commonName: 'future CA',
      ca: true,
      issuer: root,
      notBefore: new Date(Date.now() + 2 * HOUR_MS),
    })
    const leaf2 = await createTestCertificate({ issuer: future })
    await refused(verifyWith({ roots: [root.pem] }, leaf2, [future]), 'ERR_CERT_NOT_YET_VALID')
  })

  it('an expired root → ERR_CERT_EXPIRED', async () => {
    const oldRoot = await createTestCertificate({
      commonName: 'old root',
      ca: true,
      notBefore: new Date(Date.now() - 48 * HOUR_MS),
      notAfter: new Date(Date.now() - 2 * HOUR_MS),
    })
    const leaf = await createTestCertificate({ issuer: oldRoot })
    await refused(verifyWith({ roots: [oldRoot.pem] }, leaf), 'ERR_CERT_EXPIRED')
  })

  it('validUntil is the earliest notAfter on the path, plus the tolerance', async () => {
    const soon = new Date(Math.floor(Date.now() / 1000) * 1000 + 2 * HOUR_MS)
    const shortCa = await createTestCertificate({
      commonName: 'short CA',
      ca: true,
      issuer: root,
      notAfter: soon,
    })
    const leaf = await createTestCertificate({ issuer: shortCa })
    const verifier = createTrustVerifier({ roots: [root.pem] })
    const result = await verifier.verify(leaf.der, [shortCa.der], Date.now(), 5000)
    assert.equal(result.validUntil, soon.getTime() + 5000)
  })
})

describe('trust: leaf rules', () => {
  let pki: TestPki
  let options: TrustOptions

  before(async () => {
    pki = await createTestPki()
    options = { roots: [pki.root.pem], intermediates: [pki.intermediate.pem] }
  })

  it('a serverAuth-only leaf → ERR_CERT_USAGE (unless requireClientAuthEku is false)', async () => {
    const server = await pki.issue({ extendedKeyUsages: [SERVER_AUTH] })
    await refused(verifyWith(options, server), 'ERR_CERT_USAGE')
    const lax = await verifyWith({ ...options, requireClientAuthEku: false }, server)
    assert.equal(lax.path.length, 3)
  })

  it('anyExtendedKeyUsage alone → ERR_CERT_USAGE; with clientAuth → ok', async () => {
    await refused(
      verifyWith(options, await pki.issue({ extendedKeyUsages: ['2.5.29.37.0'] })),
      'ERR_CERT_USAGE'
    )
    const both = await pki.issue({ extendedKeyUsages: [SERVER_AUTH, CLIENT_AUTH] })
    assert.equal((await verifyWith(options, both)).path.length, 3)
  })

  it('a leaf with no EKU extension → ok', async () => {
    const plain = await pki.issue({ extendedKeyUsages: null })
    assert.equal((await verifyWith(options, plain)).path.length, 3)
  })

  it('a leaf that is a CA → ERR_CERT_USAGE', async () => {
    const caLeaf = await pki.issue({ ca: true, keyUsages: 1 | 32 })
    await refused(verifyWith(options, caLeaf), 'ERR_CERT_USAGE')
  })

  it('a leaf whose keyUsage lacks digitalSignature → ERR_CERT_USAGE; no keyUsage → ok', async () => {
    await refused(verifyWith(options, await pki.issue({ keyUsages: 8 })), 'ERR_CERT_USAGE')
    assert.equal((await verifyWith(options, await pki.issue({ keyUsages: null }))).path.length, 3)
  })

  it('a self-signed leaf → ERR_CERT_UNTRUSTED, and isSelfSigned is true', async () => {
    const self = await createTestCertificate({ commonName: 'self' })
    const verifier = createTrustVerifier(options)
    await refused(verifier.verify(self.der, [self.der], Date.now(), 0), 'ERR_CERT_UNTRUSTED')
    assert.equal(await verifier.isSelfSigned(self.der), true)
    assert.equal(await verifier.isSelfSigned((await pki.issue()).der), false)
    assert.equal(await verifier.isSelfSigned(pki.root.der), true)
    // A self-signed leaf with a configured root's DN is still not that root.
    const lookalike = await createTestCertificate({ subject: ROOT_DN })
    await refused(verifier.verify(lookalike.der, [], Date.now(), 0), 'ERR_CERT_UNTRUSTED')
    assert.equal(await verifier.isSelfSigned(lookalike.der), true)
  })

  it('a configured root presented as the leaf → not trusted as its own anchor', async () => {
    const verifier = createTrustVerifier(options)
    await refused(verifier.verify(pki.root.der, [], Date.now(), 0), 'ERR_CERT_UNTRUSTED')
  })
})

describe('trust: configured PEM', () => {
  it('reads roots and intermediates as OpenSSL reads a bundle: text around the blocks is skipped', async () => {
    const pki = await createTestPki()
    const leaf = await pki.issue()
    const root = `# our root\nsubject=CN = root\n${pki.root.pem}\n`
    const intermediate = `subject=CN = intermediate\n${pki.intermediate.pem}# end\n`
    const result = await verifyWith({ roots: [root], intermediates: [intermediate] }, leaf)
    assert.equal(result.path.length, 3)
  })
})

describe('trust: options', () => {
  it('bad TrustOptions → TypeError naming the problem', async () => {
    const pki = await createTestPki()
    const leaf = await pki.issue()
    const cases: Array<[unknown, RegExp]> = [
      [{ roots: [] }, /trust\.roots must be a non-empty array/],
      [{}, /trust\.roots/],
      [{ roots: ['not a certificate'] }, /trust\.roots\[0\] is not/],
      [
        { roots: ['-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n'] },
        /trust\.roots\[0\] is not PEM/,
      ],
      [
        { roots: [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])] },
        /trust\.roots\[0\] is not a parsable/,
      ],
      [{ roots: [pki.root.pem, leaf.pem] }, /trust\.roots\[1\] is not a CA/],
      [
        { roots: [pki.root.pem], intermediates: [leaf.der] },
        /trust\.intermediates\[0\] is not a CA/,
      ],
      [{ roots: [pki.root.pem], maxDepth: 0 }, /trust\.maxDepth/],
      [{ roots: [pki.root.pem], requireClientAuthEku: 'yes' }, /requireClientAuthEku/],
      [{ roots: [pki.root.pem], staleCrl: 'maybe' }, /trust\.staleCrl/],
      [{ roots: [pki.root.pem], crls: ['nope'] }, /trust\.crls\[0\]/],
      [
        { roots: [pki.root.pem], crls: [new Uint8Array([1, 2, 3])] },
        /trust\.crls\[0\] is not a valid CRL/,
      ],
      [{ roots: [pki.root.pem], fetchCrls: {} }, /trust\.fetchCrls\.onFailure/],
      [{ roots: [pki.root.pem], fetchCrls: { onFailure: 'allow', timeoutMs: -1 } }, /timeoutMs/],
    ]
    for (const [options, message] of cases) {
      assert.throws(() => createTrustVerifier(options as TrustOptions), (error: Error) => {
        assert.ok(error instanceof TypeError, String(error))
        assert.match(error.message, message)
        return true
      })
    }
  })

  it('a PEM bundle of several roots is accepted', async () => {
    const a = await createTestPki()
    const b = await createTestPki()
    const verifier = createTrustVerifier({ roots: [a.root.pem + b.root.pem] })
    const leaf = await b.issue()
    const result = await verifier.verify(leaf.der, [b.intermediate.der], Date.now(), 0)
    assert.equal(result.path.length, 3)
  })
})

/** r‖s → DER Ecdsa-Sig-Value, as certificates carry it (short-form lengths suffice here). */
function ecdsaDer(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const half = raw.length / 2
  const integer = (bytes: Uint8Array): number[] => {
    let i = 0
    while (i < bytes.length - 1 && bytes[i] === 0) i++
    const body = [...bytes.subarray(i)]
    if (body[0]! >= 0x80) body.unshift(0)
    return [0x02, body.length, ...body]
  }
  const content = [...integer(raw.subarray(0, half)), ...integer(raw.subarray(half))]
  const length = content.length < 0x80 ? [content.length] : [0x81, content.length]
  return new Uint8Array([0x30, ...length, ...content])
}

describe('trust: signature algorithms', () => {
  const data = new Uint8Array(300).fill(42)

  async function check(
    generate: EcKeyGenParams | Algorithm,
    sign: EcdsaParams | Algorithm,
    algorithm: string,
    keyOid: string,
    curveOid: string | null
  ): Promise<[string, string]> {
    const keys =
      (await crypto.subtle.generateKey(generate, true, ['sign', 'verify'])) as CryptoKeyPair
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey))
    let signature = new Uint8Array(await crypto.subtle.sign(sign, keys.privateKey, data))
    if (sign.name === 'ECDSA') signature = ecdsaDer(signature)
    const signer = new SignerKey(spki, keyOid, curveOid)
    const good = await verifySignature({ signed: data, algorithm, signature }, signer)
    const tampered = data.slice()
    tampered[0] = 0
    const bad = await verifySignature({ signed: tampered, algorithm, signature }, signer)
    return [good, bad]
  }

  it('ECDSA P-384/SHA-384 and P-521/SHA-512, with DER signatures converted to r‖s', async () => {
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(
        await check(
          { name: 'ECDSA', namedCurve: 'P-384' },
          { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams,
          '1.2.840.10045.4.3.3',
          '1.2.840.10045.2.1',
          '1.3.132.0.34'
        ),
        ['valid', 'invalid']
      )
      assert.deepEqual(
        await check(
          { name: 'ECDSA', namedCurve: 'P-521' },
          { name: 'ECDSA', hash: 'SHA-512' } as EcdsaParams,
          '1.2.840.10045.4.3.4',
          '1.2.840.10045.2.1',
          '1.3.132.0.35'
        ),
        ['valid', 'invalid']
      )
    }
  })

  it('Ed25519 where the runtime has it', async () => {
    let supported = true
    try {
      await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])
    } catch {
      supported = false
    }
    if (!supported) return
    assert.deepEqual(
      await check({ name: 'Ed25519' }, { name: 'Ed25519' }, '1.3.101.112', '1.3.101.112', null),
      ['valid', 'invalid']
    )
  })

  it('RSA-PSS and SHA-1 are unsupported; a key of the wrong type is invalid', async () => {
    const signer = new SignerKey(new Uint8Array([0x30, 0x00]), '1.2.840.113549.1.1.1', null)
    const object = {
      signed: data,
      algorithm: '1.2.840.113549.1.1.10',
      signature: new Uint8Array(256),
    }
    assert.equal(await verifySignature(object, signer), 'unsupported')
    assert.equal(
      await verifySignature({ ...object, algorithm: '1.2.840.113549.1.1.5' }, signer),
      'unsupported'
    )
    assert.equal(
      await verifySignature({ ...object, algorithm: '1.2.840.10045.4.3.2' }, signer),
      'invalid'
    )
  })

  it('a chain signed with ECDSA-SHA-1 → ERR_CHAIN_INVALID', async () => {
    const pki = await createTestPki()
    const sha1Leaf = await createRawLeaf({ issuer: pki.intermediate, hash: 'SHA-1' })
    const options = { roots: [pki.root.pem], intermediates: [pki.intermediate.pem] }
    await refused(verifyWith(options, sha1Leaf), 'ERR_CHAIN_INVALID')
    const sha384Leaf = await createRawLeaf({ issuer: pki.intermediate, hash: 'SHA-384' })
    assert.equal((await verifyWith(options, sha384Leaf)).path.length, 3)
  })
})
