// Thumbprints: the synchronous hash a runtime offers gives exactly WebCrypto's digests, the
// WebCrypto path still works where no synchronous hash is found, and SHA-1 is computed when read.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  digestHex,
  findSyncDigest,
  sha1DisplayHex,
  sha1Hex,
  syncDigest,
  webCryptoDigestHex,
} from '../src/x509/digest.ts'
import { ClientCertificate, readClientCertificate } from '../src/x509/certificate.ts'
import { readCertificateFields } from '../src/x509/fields.ts'
import { createTestPki } from '../src/testing/index.ts'

/** Lengths around SHA's 64-byte blocks and its 56-byte padding boundary, and certificate sizes. */
const LENGTHS = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 1187, 4096]

function bytesOf(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 131 + seed * 17 + 7) & 0xff)
}

describe('digests', () => {
  let der: Uint8Array

  before(async () => {
    const pki = await createTestPki()
    der = (await pki.issue({ commonName: 'digest.contoso.com', dnsNames: ['digest.contoso.com'] })).der
  })

  it('Node, Bun and Deno each offer a synchronous hash, so the fast path is the one tested here', () => {
    assert.notEqual(syncDigest, null)
    assert.equal(typeof digestHex('SHA-256', der), 'string')
  })

  it('the synchronous SHA-256 and SHA-1 equal WebCrypto’s, byte for byte', async () => {
    for (const length of LENGTHS) {
      const bytes = bytesOf(length, length)
      for (const algorithm of ['SHA-256', 'SHA-1'] as const) {
        assert.equal(syncDigest!(algorithm, bytes), await webCryptoDigestHex(algorithm, bytes), `${algorithm} of ${length} bytes`)
      }
    }
  })

  it('SHA-1 in JavaScript equals WebCrypto’s on every padding boundary', async () => {
    for (const length of LENGTHS) {
      const bytes = bytesOf(length, 3)
      assert.equal(sha1Hex(bytes), await webCryptoDigestHex('SHA-1', bytes), `${length} bytes`)
    }
    assert.equal(sha1Hex(new TextEncoder().encode('abc')), 'A9993E364706816ABA3E25717850C26C9CD0D89D')
    assert.equal(sha1DisplayHex(der), await webCryptoDigestHex('SHA-1', der))
  })

  it('finds no synchronous hash without process.getBuiltinModule, or with a hash that is wrong or throws', () => {
    assert.equal(findSyncDigest({}), null)
    assert.equal(findSyncDigest({ process: {} }), null)
    assert.equal(findSyncDigest({ process: { getBuiltinModule: () => undefined } }), null)
    assert.equal(findSyncDigest({ process: { getBuiltinModule: () => ({ hash: () => '00' }) } }), null)
    const throwing = (): never => {
      throw new Error('no crypto here')
    }
    assert.equal(findSyncDigest({ process: { getBuiltinModule: throwing } }), null)
    assert.equal(findSyncDigest({ process: { getBuiltinModule: () => ({ hash: throwing }) } }), null)
    assert.notEqual(findSyncDigest(), null)
  })

  it('a runtime without a synchronous hash gets the same thumbprints through WebCrypto', async () => {
    // A fresh copy of the module, loaded while the probe finds nothing: the Workers/browser path.
    const host = globalThis as { process?: { getBuiltinModule?: unknown } }
    const saved = host.process?.getBuiltinModule
    let fresh: typeof import('../src/x509/digest.ts')
    host.process!.getBuiltinModule = undefined
    try {
      fresh = await import(`../src/x509/digest.ts?webcrypto=${Date.now()}`)
    } finally {
      host.process!.getBuiltinModule = saved
    }
    assert.equal(fresh.syncDigest, null)
    const pending = fresh.digestHex('SHA-256', der)
    assert.ok(pending instanceof Promise)
    const cert = await readClientCertificate(der)
    assert.equal(await pending, cert.thumbprint)
    assert.equal(await fresh.digestHex('SHA-1', der), cert.thumbprintSha1)
    assert.equal(fresh.sha1DisplayHex(der), cert.thumbprintSha1)
  })

  it('a certificate’s SHA-1 is computed when read, the same each time, and in its JSON', async () => {
    const cert = await readClientCertificate(der)
    const expected = await webCryptoDigestHex('SHA-1', der)
    assert.equal(cert.thumbprint, await webCryptoDigestHex('SHA-256', der))
    assert.equal(cert.thumbprintSha1, expected)
    assert.equal(cert.thumbprintSha1, expected)
    assert.equal(cert.toJSON().thumbprint_sha1, expected)
    assert.equal(JSON.parse(JSON.stringify(cert)).thumbprint_sha1, expected)
    // Each toJSON() is the caller's own object: changing one changes no later JSON.
    const json = cert.toJSON()
    assert.notEqual(cert.toJSON(), json)
    json.thumbprint_sha1 = 'forged'
    json.not_after = 'never'
    assert.equal(cert.toJSON().thumbprint_sha1, expected)
    assert.equal(cert.toJSON().not_after, cert.notAfter.toISOString())
    // Frozen as before: it cannot be overwritten.
    assert.throws(() => {
      ;(cert as { thumbprintSha1: string }).thumbprintSha1 = 'forged'
    }, TypeError)
    assert.equal(cert.thumbprintSha1, expected)
    // One given to the constructor is the one kept.
    const given = new ClientCertificate(der, readCertificateFields(der), cert.thumbprint, 'AB')
    assert.equal(given.thumbprintSha1, 'AB')
  })
})
