/**
 * The request-key pool and the CA-signature memo are keyed by a few octets (a key's or a
 * signature's tail) for speed; these tests hold that a shared key never lets one SPKI's key stand
 * for another's, nor a remembered signature vouch for other certificate bytes.
 * @module
 */
import 'reflect-metadata'
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createTestPki, type TestPki } from '../src/testing/index.ts'
import type { SignatureMeter } from '../src/trust/budget.ts'
import { createMeteredTrustVerifier } from '../src/trust/verifier.ts'
import { SignerKeyPool } from '../src/x509/signature.ts'
import { OID_EC } from '../src/x509/keys.ts'

/** A fake SPKI of 91 octets (P-256's size) whose last 40 octets are `tail`. */
function spki(head: number, tail: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(91).fill(tail)
  bytes.fill(head, 0, 51)
  return bytes
}

describe('SignerKeyPool', () => {
  it('gives each SPKI its own key, even when two share their tail', () => {
    const pool = new SignerKeyPool(8)
    const a = spki(1, 7)
    const b = spki(2, 7)
    const keyA = pool.get(a, OID_EC, '1.2.840.10045.3.1.7')
    const keyB = pool.get(b, OID_EC, '1.2.840.10045.3.1.7')
    assert.notEqual(keyA, keyB)
    assert.deepEqual(keyA.spki, a)
    assert.deepEqual(keyB.spki, b)
    const again = pool.get(a, OID_EC, '1.2.840.10045.3.1.7')
    assert.deepEqual(again.spki, a)
    assert.deepEqual(pool.get(b, OID_EC, '1.2.840.10045.3.1.7').spki, b)
  })

  it('returns the same key for the same SPKI (imported once)', () => {
    const pool = new SignerKeyPool(8)
    const key = pool.get(spki(3, 4), OID_EC, '1.2.840.10045.3.1.7')
    assert.equal(pool.get(spki(3, 4), OID_EC, '1.2.840.10045.3.1.7'), key)
  })
})

describe('CA signature memo', () => {
  let pki: TestPki
  before(async () => {
    pki = await createTestPki({ keyAlgorithm: 'RSA-2048' })
  })

  it('does not vouch for an intermediate whose bytes differ but whose signature is the same', async () => {
    const meter: SignatureMeter = { verifications: 0, units: 0 }
    const trust = createMeteredTrustVerifier({ roots: [pki.root.der] }, meter)
    const leaf = await pki.issue({ commonName: 'memo-client' })
    const now = Date.now()
    const good = await trust.verify(leaf.der, [leaf.der, pki.intermediate.der], now, 0)
    assert.equal(good.path.length, 3)
    assert.equal(meter.verifications, 2)
    // Same signature (so the same memo key), one octet of the serial changed.
    const tampered = pki.intermediate.der.slice()
    tampered[15] = tampered[15]! ^ 0x01
    await assert.rejects(trust.verify(leaf.der, [leaf.der, tampered], now, 0), (error: { code?: string }) => {
      assert.equal(error.code, 'ERR_CERT_UNTRUSTED')
      return true
    })
    // The tampered certificate's signature was checked (and failed), not taken from the memo.
    assert.equal(meter.verifications, 3)
    // The real intermediate is still remembered: only the leaf's signature is checked.
    await trust.verify(leaf.der, [leaf.der, pki.intermediate.der], now, 0)
    assert.equal(meter.verifications, 4)
  })
})
