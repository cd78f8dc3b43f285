// Allowlist matching for SPIFFE IDs and DNS wildcards, on real certificates.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type ClientCertificate, readClientCertificate } from '../src/x509/certificate.ts'
import { type AllowList, compileAllowList, matchAllowList } from '../src/policy.ts'
import { createTestPki, type TestPki } from '../src/testing/index.ts'

describe('allowlists: SPIFFE IDs and DNS names', () => {
  let pki: TestPki
  const certs = new Map<string, ClientCertificate>()

  async function certWith(key: string, options: { uris?: string[]; dnsNames?: string[] }): Promise<ClientCertificate> {
    const issued = await pki.issue({ commonName: key, ...options })
    const cert = await readClientCertificate(issued.der)
    certs.set(key, cert)
    return cert
  }

  function matches(allow: AllowList, key: string): string | null {
    return matchAllowList(compileAllowList(allow), certs.get(key)!)
  }

  before(async () => {
    pki = await createTestPki()
    await certWith('svid', { uris: ['spiffe://Contoso.com/ns/prod/sa/api'] })
    await certWith('two-uris', { uris: ['spiffe://contoso.com/ns/prod/sa/api', 'https://contoso.com/x'] })
    await certWith('production', { uris: ['spiffe://contoso.com/ns/production/sa/api'] })
    await certWith('trailing', { uris: ['spiffe://contoso.com/ns/prod/'] })
    await certWith('api', { dnsNames: ['API.contoso.com'] })
    await certWith('apex', { dnsNames: ['contoso.com'] })
    await certWith('deep', { dnsNames: ['a.b.contoso.com'] })
    await certWith('wild', { dnsNames: ['*.contoso.com'] })
  })

  it('matches an exact SPIFFE ID, with the trust domain in any case', () => {
    assert.equal(matches({ spiffeIds: ['spiffe://contoso.com/ns/prod/sa/api'] }, 'svid'), 'spiffeId')
    assert.equal(matches({ spiffeIds: ['spiffe://CONTOSO.COM/ns/prod/sa/api'] }, 'svid'), 'spiffeId')
  })

  it('the path is case-sensitive', () => {
    assert.equal(matches({ spiffeIds: ['spiffe://contoso.com/ns/PROD/sa/api'] }, 'svid'), null)
  })

  it('a /* prefix matches whole path segments only', () => {
    assert.equal(matches({ spiffeIds: ['spiffe://contoso.com/ns/prod/*'] }, 'svid'), 'spiffeId')
    assert.equal(matches({ spiffeIds: ['spiffe://contoso.com/ns/prod/*'] }, 'production'), null)
    assert.equal(matches({ spiffeIds: ['spiffe://contoso.com/*'] }, 'production'), 'spiffeId')
  })

  it('a certificate with a second URI SAN matches no SPIFFE entry', () => {
    assert.equal(certs.get('two-uris')!.spiffeId, null)
    assert.equal(matches({ spiffeIds: ['spiffe://contoso.com/ns/prod/sa/api'] }, 'two-uris'), null)
    assert.equal(matches({ spiffeIds: ['spiffe://contoso.com/*'] }, 'two-uris'), null)
  })

  it('a SPIFFE ID with a trailing slash is invalid and matches nothing', () => {
    assert.equal(matches({ spiffeIds: ['spiffe://contoso.com/*'] }, 'trailing'), null)
  })

  it('a malformed SPIFFE entry is a configuration error', () => {
    for (const bad of ['https://contoso.com/x', 'spiffe://contoso.com/ns/', 'spiffe:///path', 'spiffe://a/b/../c']) {
      assert.throws(() => compileAllowList({ spiffeIds: [bad] }), TypeError, bad)
    }
  })

  it('a DNS wildcard matches exactly one label, case-insensitively', () => {
    assert.equal(matches({ dnsNames: ['*.CONTOSO.com'] }, 'api'), 'dnsName')
    assert.equal(matches({ dnsNames: ['*.contoso.com'] }, 'apex'), null)
    assert.equal(matches({ dnsNames: ['*.contoso.com'] }, 'deep'), null)
  })

  it("35: a certificate's own wildcard SAN satisfies only the literal entry", () => {
    assert.equal(matches({ dnsNames: ['*.contoso.com'] }, 'wild'), null)
    assert.equal(matches({ dnsNames: ['api.contoso.com'] }, 'wild'), null)
  })

  it('exact DNS entries compare case-insensitively', () => {
    assert.equal(matches({ dnsNames: ['api.CONTOSO.com'] }, 'api'), 'dnsName')
    assert.equal(matches({ dnsNames: ['contoso.com'] }, 'api'), null)
  })

  it('thumbprintsOnly is true only when thumbprints are the only list', () => {
    const t = certs.get('api')!.thumbprint
    assert.equal(compileAllowList({ thumbprints: [t] }).thumbprintsOnly, true)
    assert.equal(compileAllowList({ thumbprints: [t], spiffeIds: ['spiffe://a/b'] }).thumbprintsOnly, false)
    assert.equal(compileAllowList({ thumbprints: [t], dnsNames: ['*.a.b'] }).thumbprintsOnly, false)
  })
})
