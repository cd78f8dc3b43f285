// The runtime-neutral ways in: verifyClientCert() and withClientCert() with plain Request objects.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CertgateError, createClientCertVerifier, verifyClientCert, withClientCert } from '../src/index.ts'
import { createTestPki, type TestCertificate, xfccHeader } from '../src/testing/index.ts'

const CN = 'api-client.contoso.com'

function request(xfcc?: string): Request {
  return new Request('http://localhost/cert-info', xfcc === undefined ? {} : { headers: { 'x-forwarded-client-cert': xfcc } })
}

describe('verifyClientCert and withClientCert', () => {
  let allowed: TestCertificate
  let unknown: TestCertificate

  before(async () => {
    const pki = await createTestPki()
    allowed = await pki.issue({ commonName: CN })
    unknown = await pki.issue({ commonName: 'someone-else' })
  })

  it('verifyClientCert returns the certificate for an allowed one', async () => {
    const options = { allow: { commonNames: [CN] } }
    const result = await verifyClientCert(request(xfccHeader(allowed)), options)
    assert.equal(result.ok, true)
    assert.equal(result.ok && result.certificate?.thumbprint, allowed.thumbprint)
    assert.equal(result.ok && result.certificate?.commonName, CN)
  })

  it('verifyClientCert returns a coded error for a refused one, and never throws', async () => {
    const options = { allow: { commonNames: [CN] } }
    const result = await verifyClientCert(request(xfccHeader(unknown)), options)
    assert.equal(result.ok, false)
    assert.ok(!result.ok && result.error instanceof CertgateError)
    assert.equal(!result.ok && result.error.code, 'ERR_CERT_NOT_ALLOWED')
    assert.equal(!result.ok && result.error.status, 403)
  })

  it('a compiled verifier is reusable across requests', async () => {
    const verify = createClientCertVerifier({ allow: { thumbprints: [allowed.thumbprint] } })
    const results = await Promise.all([request(xfccHeader(allowed)), request(xfccHeader(unknown)), request()].map((r) => verify(r)))
    assert.deepEqual(
      results.map((r) => (r.ok ? r.certificate?.commonName : r.error.code)),
      [CN, 'ERR_CERT_NOT_ALLOWED', 'ERR_CERT_MISSING']
    )
  })

  it('withClientCert passes the certificate to the handler', async () => {
    const handler = withClientCert((req, cert) => Response.json({ path: new URL(req.url).pathname, cn: cert?.commonName }), {
      allow: { commonNames: [CN] },
    })
    const res = await handler(request(xfccHeader(allowed)))
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { path: '/cert-info', cn: CN })
  })

  it('withClientCert answers a refusal with problem+json and never calls the handler', async () => {
    let called = false
    const handler = withClientCert(
      () => {
        called = true
        return new Response('no')
      },
      { allow: { commonNames: [CN] } }
    )
    const res = await handler(request())
    assert.equal(res.status, 403)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    assert.deepEqual(await res.json(), {
      type: 'urn:certgate:error:ERR_CERT_MISSING',
      title: 'Client certificate required',
      status: 403,
      detail: 'A client certificate is required.',
      code: 'ERR_CERT_MISSING',
    })
    assert.equal(called, false)
  })

  it('withClientCert onError shapes the refusal', async () => {
    const handler = withClientCert(() => new Response('ok'), {
      allow: { commonNames: [CN] },
      onError: (error) => new Response(error.code, { status: 401 }),
    })
    const res = await handler(request(xfccHeader(unknown)))
    assert.equal(res.status, 401)
    assert.equal(await res.text(), 'ERR_CERT_NOT_ALLOWED')
  })

  it('ClientCertificate.toJSON has snake_case keys and ISO dates', async () => {
    const result = await verifyClientCert(request(xfccHeader(allowed)), { allow: 'any-valid' })
    assert.ok(result.ok && result.certificate)
    const json = result.certificate.toJSON()
    assert.equal(json.thumbprint, allowed.thumbprint)
    assert.equal(json.common_name, CN)
    assert.equal(json.not_after, allowed.x509.notAfter.toISOString())
    assert.equal(result.certificate.pem, allowed.pem)
    const x509 = await result.certificate.x509()
    assert.equal(x509.serialNumber.toUpperCase().replace(/^(00)+/, ''), json.serial_number)
  })
})
