// A returning client answered in one lookup: the same frozen result each time, still re-checked
// against the clock (expiry and not-yet-valid, tolerance included), never across a trust update,
// the hooks still told, and through the Hono middleware without an await of its own.
import 'reflect-metadata'
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Hono } from 'hono'
import {
  type ClientCertVerifier,
  createClientCertVerifier,
  createTrustVerifier,
  type VerifiedEvent,
  type VerifyResult,
} from '../src/index.ts'
import { clientCert, type ClientCertEnv } from '../src/adapters/hono.ts'
import { createTestCrl } from './support/pki.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'

const CN = 'returning.contoso.com'
const HOUR = 3_600_000

function request(leaf: TestCertificate): Request {
  return new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': xfccHeader(leaf) } })
}

async function outcome(verify: ClientCertVerifier, leaf: TestCertificate): Promise<string> {
  const result = await verify(request(leaf))
  return result.ok ? `ok ${result.certificate?.commonName}` : result.error.code
}

describe('returning clients: one lookup', () => {
  let pki: TestPki
  let leaf: TestCertificate

  before(async () => {
    pki = await createTestPki()
    leaf = await pki.issue({ commonName: CN })
  })

  it('from the third request on, the same frozen result is handed out', async () => {
    const verify = createClientCertVerifier({ allow: { commonNames: [CN] } })
    const results: VerifyResult[] = []
    for (let i = 0; i < 5; i++) results.push(await verify(request(leaf)))
    for (const result of results) assert.equal(result.ok && result.certificate?.commonName, CN)
    // The first two compute (the cache admits a key on its second sight); then one answer.
    assert.notEqual(results[0], results[2])
    assert.equal(results[2], results[3])
    assert.equal(results[3], results[4])
    assert.ok(Object.isFrozen(results[4]))
    assert.throws(() => {
      ;(results[4] as { ok: boolean }).ok = false
    }, TypeError)
  })

  it('a cached answer is re-checked against the clock: expired after notAfter + tolerance, not before', async () => {
    const notAfter = Date.now() + HOUR
    const short = await pki.issue({ commonName: CN, notAfter: new Date(notAfter) })
    let now = Date.now()
    const verify = createClientCertVerifier({ allow: { commonNames: [CN] }, clockToleranceSeconds: 60, now: () => now })
    for (let i = 0; i < 4; i++) assert.equal(await outcome(verify, short), `ok ${CN}`)
    // Certificates encode whole seconds: the last second of the window (plus tolerance) still counts.
    now = Math.floor(notAfter / 1000) * 1000 + 60_000 + 999
    assert.equal(await outcome(verify, short), `ok ${CN}`)
    now += 1
    assert.equal(await outcome(verify, short), 'ERR_CERT_EXPIRED')
  })

  it('a cached answer is re-checked against the clock: not yet valid before notBefore − tolerance', async () => {
    const notBefore = Math.floor(Date.now() / 1000) * 1000 - HOUR
    const young = await pki.issue({ commonName: CN, notBefore: new Date(notBefore) })
    let now = Date.now()
    const verify = createClientCertVerifier({ allow: { commonNames: [CN] }, clockToleranceSeconds: 5, now: () => now })
    for (let i = 0; i < 4; i++) assert.equal(await outcome(verify, young), `ok ${CN}`)
    now = notBefore - 5_000
    assert.equal(await outcome(verify, young), `ok ${CN}`)
    now = notBefore - 5_001
    assert.equal(await outcome(verify, young), 'ERR_CERT_NOT_YET_VALID')
    now = Date.now()
    assert.equal(await outcome(verify, young), `ok ${CN}`)
  })

  it('a cached answer never outlives the TTL it was stored under', async () => {
    let now = Date.now()
    const verify = createClientCertVerifier({ allow: { commonNames: [CN] }, cache: { ttlSeconds: 60 }, now: () => now })
    const first = await verify(request(leaf))
    await verify(request(leaf))
    const answered = await verify(request(leaf))
    assert.equal(await verify(request(leaf)), answered)
    now += 61_000
    const after = await verify(request(leaf))
    assert.equal(after.ok, true)
    assert.notEqual(after, answered)
    assert.notEqual(after, first)
  })

  it('is not reused once the trust material changes: a revoked leaf is refused at once', async () => {
    const trust = createTrustVerifier({ roots: [pki.root.pem] })
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    const revoked = await pki.issue({ commonName: 'revoked-later' })
    for (let i = 0; i < 4; i++) assert.equal(await outcome(verify, revoked), 'ok revoked-later')
    trust.update({ crls: [(await createTestCrl({ issuer: pki.intermediate, revoked: [revoked] })).pem] })
    assert.equal(await outcome(verify, revoked), 'ERR_CERT_REVOKED')
    assert.equal(await outcome(verify, revoked), 'ERR_CERT_REVOKED')
  })

  it('a cached answer ends with the verdict it copies: at the CRL’s nextUpdate, well before the TTL', async () => {
    const nextUpdate = Math.floor(Date.now() / 1000) * 1000 + 2 * HOUR
    const crl = await createTestCrl({ issuer: pki.intermediate, nextUpdate: new Date(nextUpdate) })
    const trust = createTrustVerifier({ roots: [pki.root.pem], crls: [crl.pem] })
    let now = Date.now()
    const seen: VerifiedEvent[] = []
    const options = { allow: 'any-valid' as const, trust, cache: { ttlSeconds: 86_400 }, now: () => now }
    const verify = createClientCertVerifier({ ...options, onVerified: (e) => seen.push(e) })
    const crlLeaf = await pki.issue({ commonName: 'crl-bound' })
    for (let i = 0; i < 4; i++) assert.equal(await outcome(verify, crlLeaf), 'ok crl-bound')
    assert.equal(seen.at(-1)!.cached, true)
    now = nextUpdate + 1_000
    const fresh = createClientCertVerifier(options)
    // Decided anew, as a verifier that never saw the leaf decides it, not answered from the cache.
    const expected = await outcome(fresh, crlLeaf)
    assert.equal(await outcome(verify, crlLeaf), expected)
    assert.equal(seen.length === 5 && seen[4]!.cached, false, expected)
  })

  it('onVerified still runs on the one-lookup path, marked cached', async () => {
    const seen: VerifiedEvent[] = []
    const verify = createClientCertVerifier({ allow: { commonNames: [CN] }, onVerified: (e) => seen.push(e) })
    for (let i = 0; i < 4; i++) await verify(request(leaf))
    assert.deepEqual(
      seen.map((e) => e.cached),
      [false, false, true, true]
    )
    assert.equal(seen[3]!.certificate?.commonName, CN)
  })

  it('through Hono: a returning client reaches the handler, a stranger gets 403 each time', async () => {
    const stranger = await pki.issue({ commonName: 'stranger.contoso.com' })
    const app = new Hono<ClientCertEnv>()
    app.use(clientCert({ allow: { commonNames: [CN] } }))
    app.get('/', (c) => c.json({ cn: c.var.clientCert.commonName, thumbprint: c.var.clientCert.thumbprint }))
    for (let i = 0; i < 4; i++) {
      const ok = await app.request('/', { headers: { 'x-forwarded-client-cert': xfccHeader(leaf) } })
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { cn: CN, thumbprint: leaf.thumbprint })
      const refused = await app.request('/', { headers: { 'x-forwarded-client-cert': xfccHeader(stranger) } })
      assert.equal(refused.status, 403)
      assert.equal(((await refused.json()) as { code: string }).code, 'ERR_CERT_NOT_ALLOWED')
    }
  })
})
