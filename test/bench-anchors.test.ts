/**
 * The benchmark's yardsticks must be right before anything is measured against them: the
 * hand-written cold check (bench/anchors.ts) accepts the bench's Envoy header and refuses a wrong
 * Hash, a CN outside the allowlist and malformed headers, reading the rightmost element; the
 * chain benchmark's to-be-signed bytes and signatures (bench/chain.ts) verify with WebCrypto; the
 * profile summary (bench/profile-top.ts) weighs samples as it says.
 * @module
 */
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkHeader, sha256Hex } from '../bench/anchors.ts'
import { signedParts } from '../bench/chain.ts'
import { BENCH_CN, envoyHeader, makeTemplate, type Template, variantDer } from '../bench/fixtures.ts'
import { topSelfTime } from '../bench/profile-top.ts'
import { createTestPki } from '../src/testing/index.ts'

const FIXED = { issuer: 'CN=x' }
const ALLOWED = new Set([BENCH_CN])

describe('bench anchors: the hand-written cold check', () => {
  let template: Template
  let der: Uint8Array
  let header: string
  let hash: string
  before(async () => {
    template = await makeTemplate('RSA-2048')
    der = variantDer(template, 7)
    header = envoyHeader(der, template.cert.subjectRfc4514)
    hash = /Hash=([0-9a-f]{64})/.exec(header)![1]!
  })

  it('hashes with the runtime’s synchronous SHA-256', () => {
    assert.equal(sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('accepts the bench header: thumbprint of the DER, CN from the subject', () => {
    const identity = checkHeader(header, ALLOWED, FIXED)
    assert.deepEqual(identity, { issuer: 'CN=x', thumbprint: hash, common_name: BENCH_CN, subject: `CN=${BENCH_CN}` })
    assert.equal(identity!.thumbprint, sha256Hex(der))
  })

  it('refuses a Hash that does not match the certificate', () => {
    const other = hash.slice(0, -1) + (hash.endsWith('0') ? '1' : '0')
    assert.equal(checkHeader(header.replace(hash, other), ALLOWED, FIXED), null)
    assert.equal(checkHeader(header.replace(hash, hash.slice(2)), ALLOWED, FIXED), null)
  })

  it('refuses a CN outside the allowlist', () => {
    assert.equal(checkHeader(header, new Set(['someone.else']), FIXED), null)
  })

  it('reads the rightmost element only, with commas inside quotes', () => {
    const forged = `Hash=${'0'.repeat(64)};Subject="CN=admin,O=x";Cert="nope"`
    assert.equal(checkHeader(`${forged},${header}`, ALLOWED, FIXED)?.thumbprint, hash)
    assert.equal(checkHeader(`${header},${forged}`, ALLOWED, FIXED), null)
  })

  it('refuses malformed headers', () => {
    for (const bad of ['', 'Hash=ab', `Hash=${hash}`, `Hash=${hash};Cert="%ZZ"`, `Hash=${hash};Cert="unterminated`, header.replace('BEGIN', 'BEGUN')]) {
      assert.equal(checkHeader(bad, ALLOWED, FIXED), null, bad.slice(0, 40))
    }
  })
})

describe('bench chain: to-be-signed bytes and signatures for WebCrypto', () => {
  for (const keyAlgorithm of ['RSA-2048', 'P-256'] as const) {
    it(`${keyAlgorithm}: the leaf verifies with its issuer's key, a changed TBS does not`, async () => {
      const pki = await createTestPki({ keyAlgorithm })
      const leaf = await pki.issue({ commonName: BENCH_CN })
      const ecdsa = keyAlgorithm === 'P-256'
      const params = ecdsa ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' }
      const { tbs, signature } = signedParts(leaf.der, ecdsa)
      assert.equal(await crypto.subtle.verify(params, pki.intermediate.keys.publicKey, signature, tbs), true)
      tbs[tbs.length - 1] ^= 1
      assert.equal(await crypto.subtle.verify(params, pki.intermediate.keys.publicKey, signature, tbs), false)
    })
  }
})

describe('bench profile summary', () => {
  it('weighs each sample by its time and groups by function and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'certgate-profile-'))
    try {
      const file = join(dir, 'p.cpuprofile')
      const frame = (functionName: string, lineNumber: number) => ({ functionName, url: 'file:///x/a.js', lineNumber, columnNumber: 0 })
      writeFileSync(file, JSON.stringify({
        nodes: [
          { id: 1, callFrame: frame('(idle)', -1) },
          { id: 2, callFrame: frame('hot', 9) },
          { id: 3, callFrame: frame('cold', 19) },
        ],
        samples: [1, 2, 2, 3],
        timeDeltas: [0, 100, 300, 100, 500],
      }))
      const top = topSelfTime(file, 2)
      // Sample i stands for timeDeltas[i + 1]: idle 100, hot 300 + 100, cold 500 of 1000 µs.
      assert.deepEqual(top.map((e) => [e.function, e.location, e.percent, e.busyPercent, e.samples]), [
        ['cold', '/x/a.js:20', 50, 50 / 0.9, 1],
        ['hot', '/x/a.js:10', 40, 40 / 0.9, 2],
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
