/**
 * Revocation (src/trust/): configured CRLs by issuer and serial, staleness,
 * signatures, and fetching from a CRL distribution point served by a real loopback server.
 * @module
 */
import 'reflect-metadata'
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Buffer } from 'node:buffer'
import * as x509 from '@peculiar/x509'
import { decodeCrls } from '../src/index.ts'
import { parseCrl } from '../src/x509/crl.ts'
import { readCertificateExtras } from '../src/x509/fields.ts'
import { createTestCertificate, createTestPki, type TestPki } from '../src/testing/index.ts'
import { createTrustVerifier, type TrustOptions } from '../src/trust/verifier.ts'
import { freePort, listen, type Loopback } from './support/loopback.ts'
import { createRawLeaf, createTestCrl, type TestCrl } from './support/pki.ts'

const HOUR_MS = 60 * 60 * 1000

async function refused(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string; name?: string }) => {
    assert.equal(error.name, 'CertgateError')
    assert.equal(error.code, code)
    return true
  })
}

function serveCrl(crl: () => Uint8Array): Promise<Loopback> {
  return listen((req, res) => {
    if (req.url !== '/int.crl') {
      res.writeHead(404).end()
      return
    }
    const body = Buffer.from(crl())
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': body.length })
    res.end(body)
  })
}

describe('crl: parsing', () => {
  it('reads issuer, times and serials as x509-fields formats serials', async () => {
    const pki = await createTestPki()
    const revoked = await pki.issue({ serialNumber: '00ff01' })
    const other = await pki.issue({ serialNumber: '0a0b0c' })
    const nextUpdate = new Date(Math.floor(Date.now() / 1000) * 1000 + HOUR_MS)
    const crl = await createTestCrl({
      issuer: pki.intermediate,
      revoked: [revoked, other],
      nextUpdate,
    })
    const parsed = parseCrl(crl.der)
    assert.deepEqual([...parsed.revoked].sort(), ['0A0B0C', 'FF01'])
    assert.equal(parsed.nextUpdate, nextUpdate.getTime())
    assert.equal(parsed.issuerNameKey, readCertificateExtras(revoked.der).issuerNameKey)
    assert.equal(
      parsed.authorityKeyIdentifier,
      pki.intermediate.x509.getExtension(
        x509.SubjectKeyIdentifierExtension
      )?.keyId.toUpperCase()
    )
  })

  it('refuses malformed bytes and critical extensions with ERR_CRL_INVALID', async () => {
    const pki = await createTestPki()
    const crl = await createTestCrl({ issuer: pki.intermediate })
    assert.throws(() => parseCrl(crl.der.subarray(0, crl.der.length - 1)), {
      code: 'ERR_CRL_INVALID',
    })
    const idp = new x509.Extension('2.5.29.28', true, new Uint8Array([0x30, 0x00]))
    const partitioned = await createTestCrl({ issuer: pki.intermediate, extensions: [idp] })
    assert.throws(() => parseCrl(partitioned.der), { code: 'ERR_CRL_INVALID' })
  })

  it('reads PEM CRLs with text around the blocks, and DER, through the public decodeCrls', async () => {
    const pki = await createTestPki()
    const crl = await createTestCrl({ issuer: pki.intermediate })
    const rootCrl = await createTestCrl({ issuer: pki.root })
    assert.deepEqual(decodeCrls(`# CRLs\n${crl.pem}\nnext:\n${rootCrl.pem}`), [crl.der, rootCrl.der])
    assert.deepEqual(decodeCrls(crl.der), [crl.der])
    assert.throws(() => decodeCrls(pki.root.pem), { code: 'ERR_CRL_INVALID' })
  })

  it('reads CRL distribution point URIs from a certificate', async () => {
    const pki = await createTestPki()
    const leaf = await createRawLeaf({
      issuer: pki.intermediate,
      crlUrls: ['http://crl.example/int.crl', 'ldap://crl.example/cn=x', 'https://b.example/c'],
    })
    assert.deepEqual(readCertificateExtras(leaf.der).distributionPoints, [
      'http://crl.example/int.crl',
      'https://b.example/c',
    ])
  })
})

describe('crl: configured CRLs', () => {
  let pki: TestPki
  let base: TrustOptions

  before(async () => {
    pki = await createTestPki()
    base = { roots: [pki.root.pem], intermediates: [pki.intermediate.pem] }
  })

  it('a revoked leaf serial → ERR_CERT_REVOKED; other leaves pass, bounded by nextUpdate', async () => {
    const revoked = await pki.issue()
    const fine = await pki.issue()
    // Twelve hours, inside the leaf's day: the CRL, not the leaf's notAfter, must bound the
    // verdict (with equal offsets the earlier-made leaf won whenever a second ticked in between).
    const nextUpdate = new Date(Date.now() + 12 * 60 * 60 * 1000)
    const crl = await createTestCrl({ issuer: pki.intermediate, revoked: [revoked], nextUpdate })
    const verifier = createTrustVerifier({ ...base, crls: [crl.pem] })
    await refused(verifier.verify(revoked.der, [], Date.now(), 0), 'ERR_CERT_REVOKED')
    const result = await verifier.verify(fine.der, [], Date.now(), 1000)
    assert.equal(result.validUntil, parseCrl(crl.der).nextUpdate! + 1000)
    // DER input works as well.
    const derVerifier = createTrustVerifier({ ...base, crls: [crl.der] })
    await refused(derVerifier.verify(revoked.der, [], Date.now(), 0), 'ERR_CERT_REVOKED')
  })

  it('a revoked intermediate → ERR_CERT_REVOKED', async () => {
    const leaf = await pki.issue()
    const rootCrl = await createTestCrl({ issuer: pki.root, revoked: [pki.intermediate] })
    const intCrl = await createTestCrl({ issuer: pki.intermediate })
    const verifier = createTrustVerifier({
      roots: [pki.root.pem],
      crls: [rootCrl.pem + intCrl.pem],
    })
    await refused(
      verifier.verify(leaf.der, [pki.intermediate.der], Date.now(), 0),
      'ERR_CERT_REVOKED'
    )
  })

  it('a stale CRL → ERR_CRL_INVALID by default, ignored with staleCrl: ignore', async () => {
    const leaf = await pki.issue()
    const stale = await createTestCrl({
      issuer: pki.intermediate,
      thisUpdate: new Date(Date.now() - 48 * HOUR_MS),
      nextUpdate: new Date(Date.now() - HOUR_MS),
    })
    await refused(
      createTrustVerifier({ ...base, crls: [stale.pem] }).verify(leaf.der, [], Date.now(), 0),
      'ERR_CRL_INVALID'
    )
    const lax = createTrustVerifier({ ...base, crls: [stale.pem], staleCrl: 'ignore' })
    assert.equal((await lax.verify(leaf.der, [], Date.now(), 0)).path.length, 3)
  })

  it('a serial listed in a stale CRL is revoked even with staleCrl: ignore', async () => {
    const leaf = await pki.issue()
    const stale = await createTestCrl({
      issuer: pki.intermediate,
      revoked: [leaf],
      thisUpdate: new Date(Date.now() - 48 * HOUR_MS),
      nextUpdate: new Date(Date.now() - HOUR_MS),
    })
    const lax = createTrustVerifier({ ...base, crls: [stale.pem], staleCrl: 'ignore' })
    await refused(lax.verify(leaf.der, [], Date.now(), 0), 'ERR_CERT_REVOKED')
  })

  it('the newest CRL from an issuer wins', async () => {
    const leaf = await pki.issue()
    const stale = await createTestCrl({
      issuer: pki.intermediate,
      thisUpdate: new Date(Date.now() - 48 * HOUR_MS),
      nextUpdate: new Date(Date.now() - HOUR_MS),
    })
    const fresh = await createTestCrl({ issuer: pki.intermediate })
    const verifier = createTrustVerifier({ ...base, crls: [stale.der, fresh.der] })
    assert.equal((await verifier.verify(leaf.der, [], Date.now(), 0)).path.length, 3)
  })

  it('a CRL signed by the wrong key → ERR_CRL_INVALID', async () => {
    const leaf = await pki.issue()
    const impostor = await createTestCertificate({ commonName: 'impostor', ca: true })
    const forged = await createTestCrl({
      issuer: pki.intermediate,
      signingKey: impostor.keys.privateKey,
    })
    const verifier = createTrustVerifier({ ...base, crls: [forged.pem] })
    await refused(verifier.verify(leaf.der, [], Date.now(), 0), 'ERR_CRL_INVALID')
  })

  it('a CRL from an issuer whose keyUsage lacks cRLSign → ERR_CRL_INVALID', async () => {
    const root = await createTestCertificate({ commonName: 'no crl root', ca: true })
    const noCrlSign = await createTestCertificate({
      commonName: 'no cRLSign',
      ca: true,
      keyUsages: 32,
      issuer: root,
    })
    const leaf = await createTestCertificate({ issuer: noCrlSign })
    const crl = await createTestCrl({ issuer: noCrlSign })
    const verifier = createTrustVerifier({ roots: [root.pem], crls: [crl.pem] })
    await refused(verifier.verify(leaf.der, [noCrlSign.der], Date.now(), 0), 'ERR_CRL_INVALID')
  })

  it('CRLs of unrelated issuers do not matter', async () => {
    const other = await createTestPki()
    const leaf = await pki.issue()
    const crl = await createTestCrl({ issuer: other.intermediate, revoked: [leaf] })
    const verifier = createTrustVerifier({ ...base, crls: [crl.pem] })
    assert.equal((await verifier.verify(leaf.der, [], Date.now(), 0)).path.length, 3)
  })
})

describe('crl: fetching from distribution points', () => {
  let pki: TestPki

  before(async () => {
    pki = await createTestPki()
  })

  it('a revoked leaf is detected from its CDP, and the CRL is cached', async () => {
    let crl: TestCrl | null = null
    const server = await serveCrl(() => crl!.der)
    try {
      const revoked = await createRawLeaf({
        issuer: pki.intermediate,
        crlUrls: [`${server.url}/int.crl`],
      })
      const fine = await createRawLeaf({
        issuer: pki.intermediate,
        crlUrls: [`${server.url}/int.crl`],
      })
      crl = await createTestCrl({ issuer: pki.intermediate, revoked: [revoked] })
      const verifier = createTrustVerifier({
        roots: [pki.root.pem],
        intermediates: [pki.intermediate.pem],
        fetchCrls: { onFailure: 'refuse', timeoutMs: 2000 },
      })
      await refused(verifier.verify(revoked.der, [], Date.now(), 0), 'ERR_CERT_REVOKED')
      assert.equal(server.seen.length, 1)
      const result = await verifier.verify(fine.der, [], Date.now(), 0)
      assert.equal(result.path.length, 3)
      assert.ok(result.validUntil <= parseCrl(crl.der).nextUpdate!)
      await refused(verifier.verify(revoked.der, [], Date.now(), 0), 'ERR_CERT_REVOKED')
      assert.equal(server.seen.length, 1, 'the second and third verifications use the cache')
    } finally {
      await server.close()
    }
  })

  it('server down: onFailure refuse → ERR_CRL_INVALID, allow → ok', async () => {
    const port = await freePort()
    const leaf = await createRawLeaf({
      issuer: pki.intermediate,
      crlUrls: [`http://127.0.0.1:${port}/int.crl`],
    })
    const options = { roots: [pki.root.pem], intermediates: [pki.intermediate.pem] }
    const strict = createTrustVerifier({ ...options, fetchCrls: { onFailure: 'refuse' } })
    await refused(strict.verify(leaf.der, [], Date.now(), 0), 'ERR_CRL_INVALID')
    const open = createTrustVerifier({ ...options, fetchCrls: { onFailure: 'allow' } })
    assert.equal((await open.verify(leaf.der, [], Date.now(), 0)).path.length, 3)
  })

  it('a CRL over maxBytes, a hanging server and a bad signature count as failures', async () => {
    const big = await createTestCrl({
      issuer: pki.intermediate,
      revoked: await Promise.all(Array.from({ length: 40 }, () => pki.issue())),
    })
    const impostor = await createTestCertificate({ commonName: 'impostor', ca: true })
    const forged = await createTestCrl({
      issuer: pki.intermediate,
      signingKey: impostor.keys.privateKey,
    })
    const bigServer = await serveCrl(() => big.der)
    const forgedServer = await serveCrl(() => forged.der)
    const hanging = await listen(() => {})
    try {
      const options = { roots: [pki.root.pem], intermediates: [pki.intermediate.pem] }
      const cases: Array<[string, TrustOptions['fetchCrls']]> = [
        [`${bigServer.url}/int.crl`, { onFailure: 'refuse', maxBytes: 512 }],
        [`${hanging.url}/int.crl`, { onFailure: 'refuse', timeoutMs: 150 }],
        [`${forgedServer.url}/int.crl`, { onFailure: 'refuse' }],
      ]
      for (const [url, fetchCrls] of cases) {
        const leaf = await createRawLeaf({ issuer: pki.intermediate, crlUrls: [url] })
        const started = Date.now()
        const verifier = createTrustVerifier({ ...options, fetchCrls })
        await refused(verifier.verify(leaf.der, [], Date.now(), 0), 'ERR_CRL_INVALID')
        assert.ok(Date.now() - started < 1500, `bounded in time: ${url}`)
      }
      // The same big CRL within the cap is used.
      const leaf = await createRawLeaf({
        issuer: pki.intermediate,
        crlUrls: [`${bigServer.url}/int.crl`],
      })
      const verifier = createTrustVerifier({ ...options, fetchCrls: { onFailure: 'refuse' } })
      assert.equal((await verifier.verify(leaf.der, [], Date.now(), 0)).path.length, 3)
    } finally {
      await Promise.all([bigServer.close(), forgedServer.close(), hanging.close()])
    }
  })
})
