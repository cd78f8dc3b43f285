/**
 * Replacing trust material at runtime: TrustVerifier.update() through the request pipeline
 * (createClientCertVerifier), the verdict cache dropping what was decided under old material, a
 * bad update changing nothing, and a verification in flight across an update keeping its
 * material without leaving its verdict in the cache.
 * @module
 */
import 'reflect-metadata'
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  type ClientCertVerifier,
  createClientCertVerifier,
  createTrustVerifier,
  type TrustVerifier,
} from '../src/index.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'
import { createTestCrl } from './support/pki.ts'

async function outcome(verify: ClientCertVerifier, leaf: TestCertificate): Promise<string> {
  const request = new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': xfccHeader(leaf) } })
  const result = await verify(request)
  return result.ok ? `ok ${result.certificate?.commonName}` : result.error.code
}

describe('trust reload: update()', () => {
  let pki: TestPki
  let pki2: TestPki

  before(async () => {
    ;[pki, pki2] = await Promise.all([createTestPki(), createTestPki()])
  })

  it('a leaf of a new CA is refused, then admitted after update({ roots }); the cached refusal is not reused', async () => {
    const trust = createTrustVerifier({ roots: [pki.root.pem] })
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    const leaf = await pki2.issue({ commonName: 'from-ca2' })
    // Twice, and a third time to see the refusal is served from the cache (second-sight admission).
    for (let i = 0; i < 3; i++) assert.equal(await outcome(verify, leaf), 'ERR_CERT_UNTRUSTED')
    assert.equal(trust.version, 0)
    trust.update({ roots: [pki.root.pem, pki2.root.pem] })
    assert.equal(trust.version, 1)
    assert.equal(await outcome(verify, leaf), 'ok from-ca2')
    // The old root still works: intermediates and CRLs left out kept their value.
    assert.equal(await outcome(verify, await pki.issue({ commonName: 'from-ca1' })), 'ok from-ca1')
    trust.update({ roots: [pki.root.pem] })
    assert.equal(trust.version, 2)
    assert.equal(await outcome(verify, leaf), 'ERR_CERT_UNTRUSTED')
  })

  it('an admitted leaf is refused with ERR_CERT_REVOKED as soon as update({ crls }) lists it', async () => {
    const trust = createTrustVerifier({ roots: [pki.root.pem] })
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    const leaf = await pki.issue({ commonName: 'soon-revoked' })
    const other = await pki.issue({ commonName: 'still-fine' })
    for (let i = 0; i < 3; i++) assert.equal(await outcome(verify, leaf), 'ok soon-revoked')
    const crl = await createTestCrl({ issuer: pki.intermediate, revoked: [leaf] })
    trust.update({ crls: [crl.pem] })
    assert.equal(await outcome(verify, leaf), 'ERR_CERT_REVOKED')
    assert.equal(await outcome(verify, other), 'ok still-fine')
    // And back: a CRL that no longer lists it (a mistaken revocation withdrawn).
    trust.update({ crls: [(await createTestCrl({ issuer: pki.intermediate, crlNumber: 2 })).der] })
    assert.equal(await outcome(verify, leaf), 'ok soon-revoked')
  })

  it('a bad update throws the TypeError createTrustVerifier would, and changes nothing', async () => {
    const trust = createTrustVerifier({ roots: [pki.root.pem] })
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    const leaf = await pki.issue({ commonName: 'kept' })
    assert.equal(await outcome(verify, leaf), 'ok kept')
    const revoking = await createTestCrl({ issuer: pki.intermediate, revoked: [leaf] })
    const bad: Array<[Parameters<TrustVerifier['update']>[0], string]> = [
      [{ roots: [] }, 'trust.roots must be a non-empty array of PEM text or DER bytes.'],
      [{ roots: ['not pem'] }, 'trust.roots[0] is not PEM CERTIFICATE text: it holds no CERTIFICATE PEM block.'],
      [{ roots: [pki.root.pem, leaf.pem] }, 'trust.roots[1] is not a CA certificate (basicConstraints cA is not true).'],
      [{ intermediates: 'x' as unknown as string[] }, 'trust.intermediates must be an array.'],
      // The CRL parses, the roots do not: neither is taken.
      [{ roots: [new Uint8Array([1, 2, 3])], crls: [revoking.pem] }, 'trust.roots[0] is not a parsable X.509 certificate.'],
      [{ crls: [revoking.pem, 'garbage'] }, 'trust.crls[1] is not a valid CRL (no X509 CRL PEM block).'],
      [null as unknown as object, 'trust material must be an object.'],
    ]
    for (const [material, message] of bad) {
      assert.throws(() => trust.update(material), { name: 'TypeError', message })
    }
    assert.equal(trust.version, 0)
    assert.equal(await outcome(verify, leaf), 'ok kept')
    assert.equal(await outcome(verify, await pki.issue({ commonName: 'new' })), 'ok new')
  })

  it('a verification in flight finishes on the material it started with, and its verdict is not cached', async () => {
    const trust = createTrustVerifier({ roots: [pki.root.pem] })
    // The next call to verify is held back until released; the material is taken when it is called.
    let held: { started: () => void; gate: Promise<void> } | null = null
    const slow: TrustVerifier = Object.freeze({
      ...trust,
      verify: async (...args: Parameters<TrustVerifier['verify']>) => {
        const hold = held
        held = null
        const pending = trust.verify(...args).then(
          (v) => ({ v }),
          (e: unknown) => ({ e })
        )
        hold?.started()
        const verdict = await pending
        await hold?.gate
        if ('e' in verdict) throw verdict.e
        return verdict.v
      },
      get version() {
        return trust.version
      },
    })
    const verify = createClientCertVerifier({ allow: 'any-valid', trust: slow })
    const leaf = await pki.issue({ commonName: 'in-flight' })
    // Seen once: the verdict cache stores its next verdict (second-sight admission).
    assert.equal(await outcome(verify, leaf), 'ok in-flight')
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const started = new Promise<void>((resolve) => (held = { started: resolve, gate }))
    const inFlight = outcome(verify, leaf)
    await started
    trust.update({ crls: [(await createTestCrl({ issuer: pki.intermediate, revoked: [leaf] })).pem] })
    // Under the new material it is refused; the cache of the new version has now seen it once,
    // so the in-flight verdict, were it offered to that cache, would be kept.
    assert.equal(await outcome(verify, leaf), 'ERR_CERT_REVOKED')
    release()
    assert.equal(await inFlight, 'ok in-flight')
    assert.equal(await outcome(verify, leaf), 'ERR_CERT_REVOKED')
    assert.equal(await outcome(verify, leaf), 'ERR_CERT_REVOKED')
  })

  it('version is read-only, and close() is idempotent and leaves verification working', async () => {
    const trust = createTrustVerifier({
      roots: [pki.root.pem],
      fetchCrls: { onFailure: 'allow', fetch: () => Promise.reject(new Error('offline')) },
    })
    assert.ok(Object.isFrozen(trust))
    assert.throws(() => {
      ;(trust as { version: number }).version = 7
    }, TypeError)
    trust.close()
    trust.close()
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    assert.equal(await outcome(verify, await pki.issue({ commonName: 'after-close' })), 'ok after-close')
  })
})
