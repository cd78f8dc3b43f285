/**
 * Fetching CRLs from a leaf's distribution points, against real servers on 127.0.0.1 and a fake
 * clock: redirects are not followed, a CRL whose signature does not verify is never cached, a
 * CRL without CRLNumber is refused, and a refusal caused by an outage lasts no longer than the
 * checker waits before it fetches again.
 * @module
 */
import 'reflect-metadata'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Buffer } from 'node:buffer'
import { withClientCert } from '../src/adapters/fetch.ts'
import { createTestCertificate, createTestPki, type TestPki, xfccHeader } from '../src/testing/index.ts'
import type { TestCertificate } from '../src/testing/index.ts'
import { createTrustVerifier } from '../src/trust/verifier.ts'
import { freePort, listen, type Loopback } from './support/loopback.ts'
import { createRawLeaf, createTestCrl, type TestCrl } from './support/pki.ts'

const CRL_PATH = '/int.crl'

/** Serves whatever `crl()` gives at CRL_PATH. */
function crlHandler(crl: () => TestCrl): Parameters<typeof listen>[0] {
  return (req, res) => {
    if (req.url !== CRL_PATH) {
      res.writeHead(404).end()
      return
    }
    const body = Buffer.from(crl().der)
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': body.length })
    res.end(body)
  }
}

/** A clock the test moves by hand. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let at = Date.now()
  return { now: () => at, advance: (ms) => (at += ms) }
}

interface Gate {
  /** One request with `leaf` forwarded by Envoy: the status and, for a refusal, its code. */
  call: (leaf: TestCertificate) => Promise<[number, unknown]>
}

function gate(pki: TestPki, now: () => number, cache: boolean): Gate {
  const trust = createTrustVerifier({
    roots: [pki.root.pem],
    intermediates: [pki.intermediate.pem],
    fetchCrls: { onFailure: 'refuse', timeoutMs: 1000 },
  })
  const handler = withClientCert(() => new Response('ok'), {
    allow: 'any-valid',
    trust,
    now,
    ...(cache ? {} : { cache: false as const }),
  })
  return {
    call: async (leaf) => {
      const header = xfccHeader(leaf, { chain: false, hash: false })
      const response = await handler(
        new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': header } })
      )
      if (response.status === 200) return [200, await response.text()]
      return [response.status, ((await response.json()) as { code?: unknown }).code]
    },
  }
}

describe('crl fetch: distribution points on loopback servers', () => {
  let pki: TestPki
  let good: TestCrl
  const servers: Loopback[] = []

  before(async () => {
    pki = await createTestPki()
    good = await createTestCrl({ issuer: pki.intermediate })
  })

  after(async () => {
    await Promise.all(servers.map((server) => server.close()))
  })

  async function serve(handler: Parameters<typeof listen>[0], port?: number): Promise<Loopback> {
    const server = await listen(handler, port === undefined ? {} : { port })
    servers.push(server)
    return server
  }

  it('a redirect is not followed: 403 ERR_CRL_INVALID, and its target sees no request', async () => {
    const target = await serve(crlHandler(() => good))
    const redirector = await serve((_req, res) => {
      res.writeHead(302, { location: `${target.url}${CRL_PATH}` }).end()
    })
    const leaf = await createRawLeaf({ issuer: pki.intermediate, crlUrls: [`${redirector.url}${CRL_PATH}`] })
    const clock = fakeClock()
    assert.deepEqual(await gate(pki, clock.now, false).call(leaf), [403, 'ERR_CRL_INVALID'])
    assert.equal(redirector.seen.length, 1)
    assert.equal(target.seen.length, 0)
  })

  it('a forged CRL (signed by another key) is not cached: fetched again after the retry interval', async () => {
    const impostor = await createTestCertificate({ commonName: 'impostor', ca: true })
    const forged = await createTestCrl({ issuer: pki.intermediate, signingKey: impostor.keys.privateKey })
    let serving = forged
    const server = await serve(crlHandler(() => serving))
    const leaf = await createRawLeaf({ issuer: pki.intermediate, crlUrls: [`${server.url}${CRL_PATH}`] })
    const clock = fakeClock()
    const { call } = gate(pki, clock.now, false)
    assert.deepEqual(await call(leaf), [403, 'ERR_CRL_INVALID'])
    assert.equal(server.seen.length, 1)
    // Within the retry interval the failed point is not asked again.
    clock.advance(10_000)
    assert.deepEqual(await call(leaf), [403, 'ERR_CRL_INVALID'])
    assert.equal(server.seen.length, 1)
    serving = good
    clock.advance(21_000)
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(server.seen.length, 2)
  })

  it('outage recovery: server down → 403 ERR_CRL_INVALID; back, clock +31 s → the same client admitted', async () => {
    const port = await freePort()
    const leaf = await createRawLeaf({ issuer: pki.intermediate, crlUrls: [`http://127.0.0.1:${port}${CRL_PATH}`] })
    const clock = fakeClock()
    // The verdict cache on, as in production: the refusal must not outlive the outage by long.
    const { call } = gate(pki, clock.now, true)
    assert.deepEqual(await call(leaf), [403, 'ERR_CRL_INVALID'])
    clock.advance(1000)
    assert.deepEqual(await call(leaf), [403, 'ERR_CRL_INVALID'])
    const server = await serve(crlHandler(() => good), port)
    clock.advance(30_000)
    assert.deepEqual(await call(leaf), [200, 'ok'])
    assert.equal(server.seen.length, 1)
  })

  it('a CRL without CRLNumber is refused: fetched → 403 ERR_CRL_INVALID, configured → TypeError', async () => {
    const unnumbered = await createTestCrl({ issuer: pki.intermediate, crlNumber: null })
    const server = await serve(crlHandler(() => unnumbered))
    const leaf = await createRawLeaf({ issuer: pki.intermediate, crlUrls: [`${server.url}${CRL_PATH}`] })
    assert.deepEqual(await gate(pki, fakeClock().now, false).call(leaf), [403, 'ERR_CRL_INVALID'])
    assert.equal(server.seen.length, 1)
    assert.throws(
      () => createTrustVerifier({ roots: [pki.root.pem], crls: [unnumbered.pem] }),
      /trust\.crls\[0\] is not a valid CRL \(no CRLNumber\)/
    )
  })
})
