/**
 * `trust` takes what createTrustVerifier made, so the chain-validation engine is linked only by
 * apps that call it: plain options (what `trust` took in 0.1.0) are refused at startup with what
 * to write instead; one verifier can serve several middlewares; the leaf-use policy reads its
 * purpose from it. (That the pipeline never imports the engine is test/layout.test.ts's; that a
 * Worker without it stays small, test/package/size.test.ts's.)
 * @module
 */
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { withClientCert } from '../src/adapters/fetch.ts'
import { clientCert, type ClientCertMiddlewareOptions } from '../src/adapters/hono.ts'
import { type ClientCertOptions, createClientCertVerifier, createTrustVerifier, verifyClientCert } from '../src/index.ts'
import { createTestPki, type TestPki, xfccHeader } from '../src/testing/index.ts'

const INSTEAD = {
  name: 'TypeError',
  message: 'trust must be made by createTrustVerifier(options), e.g. trust: createTrustVerifier({ roots: [caPem] })',
}

/** Options as 0.1.0 took them: `trust` as plain TrustOptions, which the types now refuse. */
function oldStyle(trust: unknown): ClientCertOptions {
  return { allow: 'any-valid', trust } as ClientCertOptions
}

describe('trust: opt-in by import', () => {
  let pki: TestPki

  before(async () => {
    pki = await createTestPki()
  })

  it('plain trust options are refused at startup, by every way in, with what to write instead', () => {
    const options = oldStyle({ roots: [pki.root.pem] })
    assert.throws(() => createClientCertVerifier(options), INSTEAD)
    assert.throws(() => withClientCert(() => new Response('ok'), options), INSTEAD)
    assert.throws(() => clientCert(options as ClientCertMiddlewareOptions), INSTEAD)
    // verifyClientCert compiles its options on first use, and throws there as the others do.
    assert.throws(() => verifyClientCert(new Request('http://localhost/'), options), INSTEAD)
  })

  it('so is anything else that is not a verifier: null, a string, half a verifier', () => {
    const real = createTrustVerifier({ roots: [pki.root.pem] })
    const { refusalRetryAt: _dropped, ...half } = real
    for (const trust of [null, 'roots.pem', [pki.root.pem], half]) {
      assert.throws(() => createClientCertVerifier(oldStyle(trust)), INSTEAD)
    }
  })

  it('a verifier states its leaf rules, defaulted, and cannot be changed afterwards', () => {
    const plain = createTrustVerifier({ roots: [pki.root.pem] })
    assert.equal(plain.purpose, 'clientAuth')
    assert.equal(plain.requireClientAuthEku, true)
    const server = createTrustVerifier({ roots: [pki.root.pem], purpose: 'serverAuth', requireClientAuthEku: false })
    assert.equal(server.purpose, 'serverAuth')
    assert.equal(server.requireClientAuthEku, false)
    assert.ok(Object.isFrozen(plain))
    assert.throws(() => {
      ;(plain as { purpose: string }).purpose = 'serverAuth'
    }, TypeError)
  })

  it('one verifier serves several middlewares, each with its own allowlist and verdict cache', async () => {
    const trust = createTrustVerifier({ roots: [pki.root.pem] })
    const alice = await pki.issue({ commonName: 'alice' })
    const bob = await pki.issue({ commonName: 'bob' })
    const only = (commonName: string) =>
      withClientCert((_request, cert) => new Response(cert?.commonName ?? 'none'), {
        allow: { commonNames: [commonName] },
        trust,
      })
    const [forAlice, forBob] = [only('alice'), only('bob')]
    const answer = async (handler: typeof forAlice, header: string): Promise<string> => {
      const response = await handler(new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': header } }))
      const text = await response.text()
      return `${response.status} ${response.ok ? text : (JSON.parse(text) as { code: string }).code}`
    }
    for (let round = 0; round < 3; round++) {
      assert.equal(await answer(forAlice, xfccHeader(alice)), '200 alice')
      assert.equal(await answer(forAlice, xfccHeader(bob)), '403 ERR_CERT_NOT_ALLOWED')
      assert.equal(await answer(forBob, xfccHeader(bob)), '200 bob')
      assert.equal(await answer(forBob, xfccHeader(alice)), '403 ERR_CERT_NOT_ALLOWED')
    }
    const stranger = await createTestPki()
    const outsider = await stranger.issue({ commonName: 'alice' })
    assert.equal(await answer(forAlice, xfccHeader(outsider)), '403 ERR_CERT_UNTRUSTED')
  })
})
