/**
 * Ways in that the defaults must close: XFCC element injection through a client's own URI or
 * DNS SAN, certificates meant for other uses, subjects with two CNs, SPIFFE IDs with dot or
 * percent-encoded segments, and serial numbers that differ only in sign. Each answer is checked
 * by exact status and code.
 * @module
 */
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Hono } from 'hono'
import { clientCert, type ClientCertEnv, type ClientCertMiddlewareOptions } from '../src/adapters/hono.ts'
import { createServiceApp } from '../src/service/app.ts'
import { parseServiceConfig } from '../src/service/config.ts'
import { xfccSource } from '../src/sources/xfcc.ts'
import { createTrustVerifier } from '../src/trust/verifier.ts'
import { verifyClientCert } from '../src/verify.ts'
import { createTestCertificate, createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'
import { envoyHeaderFor, injectedElement, issueInjector } from './support/injection.ts'
import { issueWithSerialOctet } from './support/serial.ts'

const HEADER = 'x-forwarded-client-cert'
const ALLOWED_CN = 'api-client.contoso.com'
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'

function appWith(options: ClientCertMiddlewareOptions): Hono<ClientCertEnv> {
  const app = new Hono<ClientCertEnv>()
  app.use('/api/*', clientCert(options))
  app.get('/api/cert-info', (c) => c.json(c.var.clientCert))
  return app
}

/** `200 <thumbprint>` or `<status> <code>`: one string, so a failure shows both at once. */
async function answer(app: Pick<Hono, 'request'>, xfcc: string, path = '/api/cert-info'): Promise<string> {
  const res = await app.request(new Request(`http://localhost${path}`, { headers: { [HEADER]: xfcc } }))
  const body = (await res.json()) as Record<string, unknown>
  if (res.status === 200) return `200 ${String(body.thumbprint)}`
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  assert.equal(body.status, res.status)
  return `${res.status} ${String(body.code)}`
}

describe('secure defaults', () => {
  let pki: TestPki
  let victim: TestCertificate

  before(async () => {
    pki = await createTestPki()
    victim = await pki.issue({ commonName: ALLOWED_CN, uris: ['spiffe://contoso.com/ns/prod/sa/api'] })
  })

  describe('XFCC element injection through the client certificate', () => {
    /** The victim pinned and the chain validated: the strictest configuration there is. */
    function strictApp(extra: Partial<ClientCertMiddlewareOptions> = {}): Hono<ClientCertEnv> {
      const trust = createTrustVerifier({ roots: [pki.root.pem] })
      return appWith({ allow: { thumbprints: [victim.thumbprint] }, trust, ...extra })
    }

    it('the header Envoy writes for the victim itself is admitted', async () => {
      assert.equal(await answer(strictApp(), envoyHeaderFor(victim)), `200 ${victim.thumbprint}`)
    })

    for (const san of ['uri', 'dns'] as const) {
      it(`a ${san.toUpperCase()} SAN holding ",Hash=…;Cert=…" of the victim → 403 ERR_HEADER_INCONSISTENT`, async () => {
        const attacker = await issueInjector(pki, victim, san)
        const header = envoyHeaderFor(attacker)
        // The header is exactly Envoy's: the attacker's own element, its SAN cut at the comma.
        assert.ok(header.includes(`${san === 'uri' ? 'URI' : 'DNS'}=${san === 'uri' ? 'spiffe://contoso.com/attacker' : 'attacker.contoso.com'}${injectedElement(victim)}`))
        assert.equal(await answer(strictApp(), header), '403 ERR_HEADER_INCONSISTENT')
      })
    }

    it('the reference service with the victim pinned and trust on → 403 ERR_HEADER_INCONSISTENT', async () => {
      const config = parseServiceConfig({
        ALLOWED_CERT_THUMBPRINTS: victim.thumbprint,
        TRUSTED_CA_CERTS: pki.root.pem + pki.intermediate.pem,
      })
      const app = createServiceApp(config)
      const attacker = await issueInjector(pki, victim, 'uri')
      assert.equal(await answer(app, envoyHeaderFor(attacker), '/cert-info'), '403 ERR_HEADER_INCONSISTENT')
      assert.equal(await answer(app, envoyHeaderFor(victim), '/cert-info'), `200 ${victim.thumbprint}`)
    })

    it('an injection in any element, not only the one read → 403 ERR_HEADER_INCONSISTENT', async () => {
      const attacker = await issueInjector(pki, victim, 'uri')
      // A second proxy appended its own element after the ingress's: the victim's is in the middle.
      const proxy = await pki.issue({ commonName: 'proxy.contoso.com' })
      const header = xfccHeader(proxy, { before: envoyHeaderFor(attacker), chain: false })
      const app = strictApp({ element: { fromRight: 1 } })
      assert.equal(await answer(app, header), '403 ERR_HEADER_INCONSISTENT')
    })

    it('a SAN whose first character is "," leaves a bare URI= that still counts → 403 ERR_HEADER_INCONSISTENT', async () => {
      const attacker = await pki.issue({ commonName: 'attacker.contoso.com', uris: [injectedElement(victim)] })
      assert.equal(await answer(strictApp(), envoyHeaderFor(attacker)), '403 ERR_HEADER_INCONSISTENT')
    })

    it('an element with SAN values but no Hash, Cert or Chain → 403 ERR_HEADER_INCONSISTENT', async () => {
      const attacker = await pki.issue({ commonName: 'attacker.contoso.com', uris: ['spiffe://a,URI=spiffe://contoso.com/admin'] })
      // Hash and URI only: the proxy forwards no Cert, so the element cut short cannot be compared.
      const header = `Hash=${attacker.thumbprint.toLowerCase()};URI=spiffe://a,URI=spiffe://contoso.com/admin,${xfccHeader(victim)}`
      assert.equal(await answer(strictApp({ element: 'rightmost' }), header), '403 ERR_HEADER_INCONSISTENT')
    })

    it('URI and DNS values quoted by a careful proxy, equal to the SANs → 200', async () => {
      const odd = await pki.issue({ commonName: ALLOWED_CN, uris: ['urn:x:a,b;c=d'], dnsNames: ['odd.contoso.com'] })
      const app = appWith({ allow: { thumbprints: [odd.thumbprint] } })
      const header = xfccHeader(odd) // formatXfcc quotes `urn:x:a,b;c=d`
      assert.ok(header.includes('URI="urn:x:a,b;c=d"'))
      assert.equal(await answer(app, header), `200 ${odd.thumbprint}`)
    })

    it('URI values that are not the certificate\'s SANs → 403 ERR_HEADER_INCONSISTENT', async () => {
      const app = appWith({ allow: { thumbprints: [victim.thumbprint] } })
      const header = xfccHeader(victim, { uris: ['spiffe://contoso.com/ns/prod/sa/admin'] })
      assert.equal(await answer(app, header), '403 ERR_HEADER_INCONSISTENT')
    })

    it('maxElements: 1 refuses a second element → 403 ERR_HEADER_INCONSISTENT; one element → 200', async () => {
      const app = appWith({ allow: { thumbprints: [victim.thumbprint] }, maxElements: 1 })
      const other = await pki.issue({ commonName: 'other' })
      assert.equal(await answer(app, xfccHeader(victim, { before: xfccHeader(other) })), '403 ERR_HEADER_INCONSISTENT')
      assert.equal(await answer(app, xfccHeader(victim, { style: 'aca' })), `200 ${victim.thumbprint}`)
      const viaSource = appWith({ allow: { thumbprints: [victim.thumbprint] }, source: xfccSource({ maxElements: 1 }) })
      assert.equal(await answer(viaSource, `By=x,${xfccHeader(victim)}`), '403 ERR_HEADER_INCONSISTENT')
    })

    it('maxElements must be a positive integer and leave room for element → TypeError at startup', () => {
      assert.throws(() => xfccSource({ maxElements: 0 }), TypeError)
      assert.throws(() => xfccSource({ maxElements: 1.5 }), TypeError)
      assert.throws(() => xfccSource({ maxElements: 1, element: { fromRight: 1 } }), TypeError)
      assert.doesNotThrow(() => xfccSource({ maxElements: 2, element: { fromRight: 1 } }))
    })
  })

  describe('certificate use without trust', () => {
    it('a serverAuth-only certificate with an allowed CN → 403 ERR_CERT_USAGE', async () => {
      const server = await pki.issue({ commonName: ALLOWED_CN, extendedKeyUsages: [SERVER_AUTH] })
      const app = appWith({ allow: { commonNames: [ALLOWED_CN] } })
      assert.equal(await answer(app, xfccHeader(server)), '403 ERR_CERT_USAGE')
    })

    it('a CA certificate with an allowed CN → 403 ERR_CERT_USAGE, pinned or not', async () => {
      const ca = await createTestCertificate({ commonName: ALLOWED_CN, ca: true })
      assert.equal(await answer(appWith({ allow: { commonNames: [ALLOWED_CN] } }), xfccHeader(ca)), '403 ERR_CERT_USAGE')
      assert.equal(await answer(appWith({ allow: { thumbprints: [ca.thumbprint] } }), xfccHeader(ca)), '403 ERR_CERT_USAGE')
    })

    it('no EKU, or clientAuth among others → 200', async () => {
      const app = appWith({ allow: { commonNames: [ALLOWED_CN] } })
      const none = await pki.issue({ commonName: ALLOWED_CN, extendedKeyUsages: null })
      const both = await pki.issue({ commonName: ALLOWED_CN, extendedKeyUsages: [SERVER_AUTH, '1.3.6.1.5.5.7.3.2'] })
      assert.equal(await answer(app, xfccHeader(none)), `200 ${none.thumbprint}`)
      assert.equal(await answer(app, xfccHeader(both)), `200 ${both.thumbprint}`)
    })

    it('allowAnyCertificateUse: true, said out loud → 200 for both', async () => {
      const server = await pki.issue({ commonName: ALLOWED_CN, extendedKeyUsages: [SERVER_AUTH] })
      const ca = await createTestCertificate({ commonName: ALLOWED_CN, ca: true })
      const app = appWith({ allow: { commonNames: [ALLOWED_CN] }, allowAnyCertificateUse: true })
      assert.equal(await answer(app, xfccHeader(server)), `200 ${server.thumbprint}`)
      assert.equal(await answer(app, xfccHeader(ca)), `200 ${ca.thumbprint}`)
      assert.throws(() => appWith({ allow: 'any-valid', allowAnyCertificateUse: 'yes' as unknown as boolean }), TypeError)
    })
  })

  describe('subjects with more than one CN', () => {
    it('two CN RDNs, the allowed one last → 403 ERR_CERT_NOT_ALLOWED', async () => {
      const two = await pki.issue({ subject: [{ CN: ['someone-else'] }, { CN: [ALLOWED_CN] }] })
      const app = appWith({ allow: { commonNames: [ALLOWED_CN] } })
      assert.equal(await answer(app, xfccHeader(two)), '403 ERR_CERT_NOT_ALLOWED')
    })

    it('a multi-valued RDN CN=a+CN=b → 403 ERR_CERT_NOT_ALLOWED', async () => {
      const multi = await pki.issue({ subject: [{ O: ['Contoso'] }, { CN: ['someone-else', ALLOWED_CN] }] })
      const app = appWith({ allow: { commonNames: [ALLOWED_CN, 'someone-else'] } })
      assert.equal(await answer(app, xfccHeader(multi)), '403 ERR_CERT_NOT_ALLOWED')
    })

    it('a pinned thumbprint still admits such a subject: the pin is not ambiguous → 200', async () => {
      const two = await pki.issue({ subject: [{ CN: ['someone-else'] }, { CN: [ALLOWED_CN] }] })
      const app = appWith({ allow: { commonNames: [ALLOWED_CN], thumbprints: [two.thumbprint] } })
      assert.equal(await answer(app, xfccHeader(two)), `200 ${two.thumbprint}`)
    })
  })

  describe('SPIFFE IDs', () => {
    const PREFIX = 'spiffe://contoso.com/ns/app/*'

    for (const id of [
      'spiffe://contoso.com/ns/app/%2e%2e/admin',
      'spiffe://contoso.com/ns/app/%2E%2E/admin',
      'spiffe://contoso.com/ns/app/x%2Fy',
      'spiffe://contoso.com/ns/app/../admin',
      'spiffe://contoso.com/ns/app/./x',
      'spiffe://contoso.com/ns/app//x',
    ]) {
      it(`${id} does not match ${PREFIX} → 403 ERR_CERT_NOT_ALLOWED, spiffeId null`, async () => {
        const cert = await pki.issue({ commonName: 'workload', uris: [id] })
        assert.equal(await answer(appWith({ allow: { spiffeIds: [PREFIX] } }), xfccHeader(cert)), '403 ERR_CERT_NOT_ALLOWED')
        const result = await verifyClientCert(new Request('http://localhost/', { headers: { [HEADER]: xfccHeader(cert) } }), {
          allow: 'any-valid',
        })
        assert.ok(result.ok)
        assert.equal(result.certificate?.spiffeId, null)
      })
    }

    it('a well-formed ID under the prefix → 200', async () => {
      const cert = await pki.issue({ commonName: 'workload', uris: ['spiffe://contoso.com/ns/app/sa/api'] })
      assert.equal(await answer(appWith({ allow: { spiffeIds: [PREFIX] } }), xfccHeader(cert)), `200 ${cert.thumbprint}`)
    })

    it('an allowlist entry with a percent-encoded or dot segment → TypeError at startup', () => {
      assert.throws(() => appWith({ allow: { spiffeIds: ['spiffe://contoso.com/ns/%2e%2e/*'] } }), TypeError)
      assert.throws(() => appWith({ allow: { spiffeIds: ['spiffe://contoso.com/ns/../x'] } }), TypeError)
    })
  })

  describe('serial numbers keep their sign', () => {
    let negative: TestCertificate
    let positive: TestCertificate

    before(async () => {
      // INTEGER content 0x80 is −128; 0x00 0x80 is +128.
      negative = await issueWithSerialOctet(pki, 'serial', 0x80)
      positive = await pki.issue({ commonName: 'serial', serialNumber: '80' })
    })

    it('−128 reads as -80, +128 as 80', async () => {
      const read = async (cert: TestCertificate): Promise<unknown> =>
        ((await (await appWith({ allow: 'any-valid' }).request('http://localhost/api/cert-info', {
          headers: { [HEADER]: xfccHeader(cert) },
        })).json()) as Record<string, unknown>).serial_number
      assert.equal(await read(negative), '-80')
      assert.equal(await read(positive), '80')
    })

    it('allow.serialNumbers ["80"] admits +128 only → 403 ERR_CERT_NOT_ALLOWED for −128', async () => {
      const app = appWith({ allow: { serialNumbers: ['80'] } })
      assert.equal(await answer(app, xfccHeader(negative)), '403 ERR_CERT_NOT_ALLOWED')
      assert.equal(await answer(app, xfccHeader(positive)), `200 ${positive.thumbprint}`)
    })

    it('allow.serialNumbers ["-80"] (any case, colons, leading zeros) admits −128 only', async () => {
      const app = appWith({ allow: { serialNumbers: ['-00:80'] } })
      assert.equal(await answer(app, xfccHeader(negative)), `200 ${negative.thumbprint}`)
      assert.equal(await answer(app, xfccHeader(positive)), '403 ERR_CERT_NOT_ALLOWED')
      assert.throws(() => appWith({ allow: { serialNumbers: ['--80'] } }), TypeError)
    })
  })
})
