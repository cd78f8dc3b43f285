// Trust end to end through the Hono middleware: chain validation, usage, revocation,
// self-signed pinning, and a verdict cache that keys on the chain too.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Hono } from 'hono'
import { clientCert, type ClientCertEnv, type ClientCertMiddlewareOptions } from '../src/adapters/hono.ts'
import { createTestCertificate, createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'
import { createTrustVerifier } from '../src/trust/verifier.ts'
import { createTestCrl } from './support/pki.ts'

const CN = 'api-client.contoso.com'
const DAY = 24 * 60 * 60 * 1000
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'

function appWith(options: ClientCertMiddlewareOptions): Hono<ClientCertEnv> {
  const app = new Hono<ClientCertEnv>()
  app.use(clientCert(options))
  app.get('/cert-info', (c) => c.json(c.var.clientCert))
  return app
}

async function status(app: Hono<ClientCertEnv>, header: string): Promise<string> {
  const res = await app.request('/cert-info', { headers: { 'x-forwarded-client-cert': header } })
  const body = (await res.json()) as { code?: string; common_name?: string }
  return `${res.status} ${body.code ?? body.common_name}`
}

describe('clientCert with trust', () => {
  let pki: TestPki
  let leaf: TestCertificate
  let app: Hono<ClientCertEnv>

  before(async () => {
    pki = await createTestPki()
    leaf = await pki.issue({ commonName: CN })
    app = appWith({ allow: { commonNames: [CN] }, trust: createTrustVerifier({ roots: [pki.root.pem] }) })
  })

  it('accepts a leaf issued through an intermediate carried in Chain', async () => {
    assert.equal(await status(app, xfccHeader(leaf, { chain: [leaf, pki.intermediate] })), `200 ${CN}`)
  })

  it('refuses the same leaf with no Chain and no configured intermediate: ERR_CERT_UNTRUSTED', async () => {
    assert.equal(await status(app, xfccHeader(leaf, { chain: false })), '403 ERR_CERT_UNTRUSTED')
  })

  it('accepts it without Chain when the intermediate is configured', async () => {
    const configured = appWith({
      allow: { commonNames: [CN] },
      trust: createTrustVerifier({ roots: [pki.root.pem], intermediates: [pki.intermediate.der] }),
    })
    assert.equal(await status(configured, xfccHeader(leaf, { chain: false })), `200 ${CN}`)
  })

  it('refuses a leaf from a rogue CA with an allowlisted CN: ERR_CERT_UNTRUSTED', async () => {
    const rogue = await createTestPki()
    const forged = await rogue.issue({ commonName: CN })
    assert.equal(await status(app, xfccHeader(forged)), '403 ERR_CERT_UNTRUSTED')
  })

  it('refuses a serverAuth-only leaf: ERR_CERT_USAGE', async () => {
    const server = await pki.issue({ commonName: CN, extendedKeyUsages: [SERVER_AUTH] })
    assert.equal(await status(app, xfccHeader(server)), '403 ERR_CERT_USAGE')
  })

  it('refuses a leaf under an intermediate without CA:true: ERR_CHAIN_INVALID', async () => {
    const notCa = await createTestCertificate({ commonName: 'not a CA', issuer: pki.root, keyUsages: null })
    const below = await createTestCertificate({ commonName: CN, issuer: notCa })
    assert.equal(await status(app, xfccHeader(below, { chain: [below, notCa] })), '403 ERR_CHAIN_INVALID')
  })

  it('refuses a leaf under an expired intermediate: ERR_CERT_EXPIRED', async () => {
    const expiredCa = await createTestCertificate({
      commonName: 'expired intermediate',
      issuer: pki.root,
      ca: { pathLength: 0 },
      notBefore: new Date(Date.now() - 30 * DAY),
      notAfter: new Date(Date.now() - DAY),
    })
    const below = await createTestCertificate({ commonName: CN, issuer: expiredCa })
    assert.equal(await status(app, xfccHeader(below, { chain: [below, expiredCa] })), '403 ERR_CERT_EXPIRED')
  })

  it('refuses a revoked serial: ERR_CERT_REVOKED', async () => {
    const revoked = await pki.issue({ commonName: CN })
    const crl = await createTestCrl({ issuer: pki.intermediate, revoked: [revoked] })
    const checked = appWith({
      allow: { commonNames: [CN] },
      trust: createTrustVerifier({ roots: [pki.root.pem], crls: [crl.pem] }),
    })
    assert.equal(await status(checked, xfccHeader(revoked)), '403 ERR_CERT_REVOKED')
    assert.equal(await status(checked, xfccHeader(leaf)), `200 ${CN}`)
  })

  it('refuses by default when the CRL is stale, and not with staleCrl: ignore', async () => {
    const stale = await createTestCrl({
      issuer: pki.intermediate,
      thisUpdate: new Date(Date.now() - 3 * DAY),
      nextUpdate: new Date(Date.now() - DAY),
    })
    const strict = appWith({
      allow: { commonNames: [CN] },
      trust: createTrustVerifier({ roots: [pki.root.pem], crls: [stale.pem] }),
    })
    assert.equal(await status(strict, xfccHeader(leaf)), '403 ERR_CRL_INVALID')
    const lenient = appWith({
      allow: { commonNames: [CN] },
      trust: createTrustVerifier({ roots: [pki.root.pem], crls: [stale.pem], staleCrl: 'ignore' }),
    })
    assert.equal(await status(lenient, xfccHeader(leaf)), `200 ${CN}`)
  })

  it('lets a self-signed leaf in only when its thumbprint is pinned', async () => {
    const selfSigned = await createTestCertificate({ commonName: CN })
    assert.equal(await status(app, xfccHeader(selfSigned)), '403 ERR_CERT_UNTRUSTED')
    const pinned = appWith({
      allow: { thumbprints: [selfSigned.thumbprint] },
      trust: createTrustVerifier({ roots: [pki.root.pem] }),
    })
    assert.equal(await status(pinned, xfccHeader(selfSigned)), `200 ${CN}`)
    const pinnedButForeign = appWith({
      allow: { thumbprints: [(await createTestPki()).root.thumbprint, leaf.thumbprint] },
      trust: createTrustVerifier({ roots: [pki.root.pem] }),
    })
    const rogueLeaf = await (await createTestPki()).issue({ commonName: CN })
    assert.equal(await status(pinnedButForeign, xfccHeader(rogueLeaf)), '403 ERR_CERT_NOT_ALLOWED')
  })

  it('a verdict proven with a Chain is not reused for the same leaf without one, nor the reverse', async () => {
    const cached = appWith({ allow: { commonNames: [CN] }, trust: createTrustVerifier({ roots: [pki.root.pem] }) })
    assert.equal(await status(cached, xfccHeader(leaf, { chain: false })), '403 ERR_CERT_UNTRUSTED')
    assert.equal(await status(cached, xfccHeader(leaf, { chain: [leaf, pki.intermediate] })), `200 ${CN}`)
    assert.equal(await status(cached, xfccHeader(leaf, { chain: false })), '403 ERR_CERT_UNTRUSTED')
  })

  it('the allowlist still applies to a trusted certificate', async () => {
    const other = await pki.issue({ commonName: 'someone-else' })
    assert.equal(await status(app, xfccHeader(other)), '403 ERR_CERT_NOT_ALLOWED')
    const any = appWith({ allow: 'any-valid', trust: createTrustVerifier({ roots: [pki.root.pem] }) })
    assert.equal(await status(any, xfccHeader(other)), '200 someone-else')
  })

  it('refuses bad trust options at startup', () => {
    assert.throws(() => clientCert({ allow: 'any-valid', trust: createTrustVerifier({ roots: [] }) }), TypeError)
    assert.throws(() => clientCert({ allow: 'any-valid', trust: createTrustVerifier({ roots: ['not a pem'] }) }), TypeError)
    assert.throws(() => clientCert({ allow: 'any-valid', trust: createTrustVerifier({ roots: [leaf.pem] }) }), TypeError)
  })
})
