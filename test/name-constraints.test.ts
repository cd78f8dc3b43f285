/**
 * Name constraints on the trust path, through the real verifier: each CA's permitted and excluded
 * subtrees (DNS, IPv4/IPv6, email, URI host, directory name) applied to the certificates below
 * it, critical or not, unsupported forms failing closed; and the well-formedness of names on the
 * path (DNS SAN syntax, empty subjects). Each answer is asserted as `status code`.
 * @module
 */
import 'reflect-metadata'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createClientCertVerifier, createTrustVerifier, type TrustOptions } from '../src/index.ts'
import { createTestCertificate, type TestCertificate, xfccHeader } from '../src/testing/index.ts'
import {
  type Constraints,
  createCertificate,
  createIntermediate,
  createRoot,
} from './support/name-constraints-pki.ts'

type Sans = { dnsNames?: string[]; ips?: string[]; emails?: string[]; uris?: string[] }

/** `ok`, or `status code` of the refusal, for `leaf` (its issuers in the Chain) under `root`. */
async function outcome(
  root: TestCertificate,
  leaf: TestCertificate,
  trust: Partial<TrustOptions> = {}
): Promise<string> {
  const verify = createClientCertVerifier({
    allow: 'any-valid',
    cache: false,
    trust: createTrustVerifier({ roots: [root.pem], ...trust }),
  })
  const request = new Request('http://localhost/', {
    headers: { 'x-forwarded-client-cert': xfccHeader(leaf) },
  })
  const result = await verify(request)
  return result.ok ? 'ok' : `${result.error.status} ${result.error.code}`
}

/** A root carrying `constraints` that issues leaves with the given SANs directly. */
async function constrainedRoot(constraints: Constraints): Promise<{
  root: TestCertificate
  leaf: (sans: Sans) => Promise<TestCertificate>
}> {
  const root = await createRoot('constrained root', constraints)
  return { root, leaf: (sans) => createTestCertificate({ ...sans, issuer: root }) }
}

const REFUSED = '403 ERR_NAME_CONSTRAINTS'

describe('name constraints: DNS', () => {
  it('a permitted dNSName admits the name and names below it, and refuses others', async () => {
    const { root, leaf } = await constrainedRoot({ permitted: [{ dns: 'example.com' }] })
    assert.equal(await outcome(root, await leaf({ dnsNames: ['example.com'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ dnsNames: ['api.eu.Example.COM'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ dnsNames: ['example.org'] })), REFUSED)
    assert.equal(await outcome(root, await leaf({ dnsNames: ['evilexample.com'] })), REFUSED)
    assert.equal(
      await outcome(root, await leaf({ dnsNames: ['api.example.com', 'example.org'] })),
      REFUSED
    )
  })

  it('an excluded dNSName refuses the name and names below it, wildcards that reach it too', async () => {
    const { root, leaf } = await constrainedRoot({ excluded: [{ dns: 'internal.example.com' }] })
    assert.equal(await outcome(root, await leaf({ dnsNames: ['www.example.com'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ dnsNames: ['internal.example.com'] })), REFUSED)
    assert.equal(await outcome(root, await leaf({ dnsNames: ['db.internal.example.com'] })), REFUSED)
    assert.equal(await outcome(root, await leaf({ dnsNames: ['*.example.com'] })), REFUSED)
  })

  it('excluded wins over permitted', async () => {
    const { root, leaf } = await constrainedRoot({
      permitted: [{ dns: 'example.com' }],
      excluded: [{ dns: 'example.com' }],
    })
    assert.equal(await outcome(root, await leaf({ dnsNames: ['example.com'] })), REFUSED)
  })

  it('DNS constraints apply to SANs only: a leaf without SANs and a host-like CN passes', async () => {
    const { root } = await constrainedRoot({ permitted: [{ dns: 'example.com' }] })
    const leaf = await createTestCertificate({ commonName: 'evil.example.org', issuer: root })
    assert.equal(await outcome(root, leaf), 'ok')
  })

  it('permitted subtrees of one form leave names of other forms alone', async () => {
    const { root, leaf } = await constrainedRoot({ permitted: [{ ip: '192.0.2.0/24' }] })
    assert.equal(await outcome(root, await leaf({ dnsNames: ['example.org'] })), 'ok')
  })
})

describe('name constraints: IP addresses', () => {
  it('IPv4 permitted and excluded subnets', async () => {
    const { root, leaf } = await constrainedRoot({
      permitted: [{ ip: '10.0.0.0/8' }],
      excluded: [{ ip: '10.9.0.0/16' }],
    })
    assert.equal(await outcome(root, await leaf({ ips: ['10.1.2.3'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ ips: ['192.0.2.1'] })), REFUSED)
    assert.equal(await outcome(root, await leaf({ ips: ['10.9.1.1'] })), REFUSED)
    // An IPv6 address is outside IPv4-only permitted subtrees.
    assert.equal(await outcome(root, await leaf({ ips: ['2001:db8::1'] })), REFUSED)
  })

  it('IPv6 permitted and excluded subnets, and an IPv4-mapped address meets excluded IPv4', async () => {
    const { root, leaf } = await constrainedRoot({
      permitted: [{ ip: '2001:db8::/32' }, { ip: '::ffff:0:0/96' }],
      excluded: [{ ip: '2001:db8:bad::/48' }, { ip: '192.0.2.0/24' }],
    })
    assert.equal(await outcome(root, await leaf({ ips: ['2001:db8::1'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ ips: ['2001:db9::1'] })), REFUSED)
    assert.equal(await outcome(root, await leaf({ ips: ['2001:db8:bad::1'] })), REFUSED)
    // ::ffff:198.51.100.1 and ::ffff:192.0.2.1 (@peculiar/x509 misreads the dotted form).
    assert.equal(await outcome(root, await leaf({ ips: ['::ffff:c633:6401'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ ips: ['::ffff:c000:201'] })), REFUSED)
  })
})

describe('name constraints: email', () => {
  it('a mailbox constraint admits that mailbox only', async () => {
    const { root, leaf } = await constrainedRoot({ permitted: [{ email: 'alice@example.com' }] })
    assert.equal(await outcome(root, await leaf({ emails: ['alice@EXAMPLE.com'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ emails: ['bob@example.com'] })), REFUSED)
    assert.equal(await outcome(root, await leaf({ emails: ['Alice@example.com'] })), REFUSED)
  })

  it('a host constraint admits mailboxes on that host, not below it', async () => {
    const { root, leaf } = await constrainedRoot({ permitted: [{ email: 'example.com' }] })
    assert.equal(await outcome(root, await leaf({ emails: ['bob@example.com'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ emails: ['bob@mail.example.com'] })), REFUSED)
  })

  it('a .domain constraint admits mailboxes on hosts below it, not on the domain itself', async () => {
    const { root, leaf } = await constrainedRoot({ excluded: [{ email: '.example.com' }] })
    assert.equal(await outcome(root, await leaf({ emails: ['bob@example.com'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ emails: ['bob@mail.example.com'] })), REFUSED)
  })

  it("without a SAN, the subject's emailAddress is checked as an email name", async () => {
    const root = await createRoot('constrained root', { permitted: [{ email: 'example.com' }] })
    const inside = await createTestCertificate({
      subject: [{ CN: ['bob'] }, { E: ['bob@example.com'] }],
      issuer: root,
    })
    const outside = await createTestCertificate({
      subject: [{ CN: ['bob'] }, { E: ['bob@example.org'] }],
      issuer: root,
    })
    assert.equal(await outcome(root, inside), 'ok')
    assert.equal(await outcome(root, outside), REFUSED)
  })
})

describe('name constraints: URI', () => {
  it('the host of a URI is matched; a URI without a host is refused under a URI constraint', async () => {
    const { root, leaf } = await constrainedRoot({ permitted: [{ uri: '.example.com' }] })
    assert.equal(await outcome(root, await leaf({ uris: ['https://api.example.com:8443/x'] })), 'ok')
    assert.equal(await outcome(root, await leaf({ uris: ['https://example.com/'] })), REFUSED)
    assert.equal(await outcome(root, await leaf({ uris: ['https://api.example.org/'] })), REFUSED)
    const urn = 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66'
    assert.equal(await outcome(root, await leaf({ uris: [urn] })), REFUSED)
    assert.equal(
      await outcome(root, await leaf({ uris: ['https://api.example.org@api.example.com/'] })),
      'ok'
    )
  })

  it('a host constraint matches that host exactly', async () => {
    const { root, leaf } = await constrainedRoot({
      excluded: [{ uri: 'spiffe.example.com' }],
    })
    assert.equal(await outcome(root, await leaf({ uris: ['spiffe://spiffe.example.com/ns/a'] })), REFUSED)
    assert.equal(await outcome(root, await leaf({ uris: ['spiffe://other.example.com/ns/a'] })), 'ok')
  })
})

describe('name constraints: directory names', () => {
  it('a permitted directoryName is an RDN prefix of the subject', async () => {
    const root = await createRoot('constrained root', { permitted: [{ dn: [{ O: ['Contoso'] }] }] })
    const inside = await createTestCertificate({
      subject: [{ O: ['contoso'] }, { OU: ['Payments'] }, { CN: ['api'] }],
      issuer: root,
    })
    const outside = await createTestCertificate({
      subject: [{ O: ['Fabrikam'] }, { CN: ['api'] }],
      issuer: root,
    })
    const suffixOnly = await createTestCertificate({
      subject: [{ C: ['US'] }, { O: ['Contoso'] }, { CN: ['api'] }],
      issuer: root,
    })
    assert.equal(await outcome(root, inside), 'ok')
    assert.equal(await outcome(root, outside), REFUSED)
    assert.equal(await outcome(root, suffixOnly), REFUSED)
  })

  it('an excluded directoryName refuses the subject, and a directoryName SAN, below it', async () => {
    const root = await createRoot('constrained root', {
      excluded: [{ dn: [{ O: ['Contoso'] }, { OU: ['Blocked'] }] }],
    })
    const blocked = await createTestCertificate({
      subject: [{ O: ['Contoso'] }, { OU: ['Blocked'] }, { CN: ['api'] }],
      issuer: root,
    })
    const blockedSan = await createCertificate({
      subject: [{ O: ['Contoso'] }, { CN: ['api'] }],
      issuer: root,
      // @peculiar/x509 encodes this string's RDNs in the order written.
      altNames: [{ type: 'dn', value: 'O=Contoso, OU=Blocked, CN=x' }],
    })
    const allowed = await createTestCertificate({
      subject: [{ O: ['Contoso'] }, { OU: ['Open'] }, { CN: ['api'] }],
      issuer: root,
    })
    assert.equal(await outcome(root, blocked), REFUSED)
    assert.equal(await outcome(root, blockedSan), REFUSED)
    assert.equal(await outcome(root, allowed), 'ok')
  })
})

describe('name constraints: where they apply', () => {
  it('a non-critical nameConstraints is enforced, not ignored', async () => {
    const { root, leaf } = await constrainedRoot({
      permitted: [{ dns: 'example.com' }],
      critical: false,
    })
    const outside = await leaf({ dnsNames: ['example.org'] })
    const inside = await leaf({ dnsNames: ['api.example.com'] })
    const lenient = { allowNonCriticalNameConstraints: true }
    assert.equal(await outcome(root, outside, lenient), REFUSED)
    assert.equal(await outcome(root, inside, lenient), 'ok')
    // By default such a CA is refused outright: RFC 5280 requires the extension critical.
    assert.equal(await outcome(root, inside), REFUSED)
    assert.equal(await outcome(root, outside), REFUSED)
  })

  it("a root's constraints reach a leaf through an unconstrained intermediate", async () => {
    const root = await createRoot('constrained root', { permitted: [{ dns: 'example.com' }] })
    const intermediate = await createIntermediate(root, 'issuing CA')
    const inside = await createTestCertificate({ dnsNames: ['a.example.com'], issuer: intermediate })
    const outside = await createTestCertificate({ dnsNames: ['a.example.org'], issuer: intermediate })
    assert.equal(await outcome(root, inside), 'ok')
    assert.equal(await outcome(root, outside), REFUSED)
  })

  it("an intermediate's constraints narrow its root's; they apply to the intermediate's own SANs too", async () => {
    const root = await createRoot('constrained root', { permitted: [{ dns: 'example.com' }] })
    const narrow = await createIntermediate(root, 'narrow CA', { permitted: [{ dns: 'eu.example.com' }] })
    const inside = await createTestCertificate({ dnsNames: ['a.eu.example.com'], issuer: narrow })
    const outside = await createTestCertificate({ dnsNames: ['a.us.example.com'], issuer: narrow })
    assert.equal(await outcome(root, inside), 'ok')
    assert.equal(await outcome(root, outside), REFUSED)
    const strayCa = await createCertificate({
      subject: [{ CN: ['stray CA'] }],
      issuer: root,
      ca: true,
      altNames: [{ type: 'dns', value: 'example.org' }],
    })
    const strayLeaf = await createTestCertificate({ dnsNames: ['a.example.com'], issuer: strayCa })
    assert.equal(await outcome(root, strayLeaf), REFUSED)
  })

  it('a self-issued intermediate is exempt; the leaf never is', async () => {
    const root = await createRoot('constrained root', { permitted: [{ dns: 'example.com' }] })
    const rollover = await createCertificate({
      subject: [{ CN: ['constrained root'] }],
      issuer: root,
      ca: true,
      altNames: [{ type: 'dns', value: 'example.org' }],
    })
    const inside = await createTestCertificate({ dnsNames: ['a.example.com'], issuer: rollover })
    assert.equal(await outcome(root, inside), 'ok')
  })

  it('a leaf carrying nameConstraints → refused', async () => {
    const root = await createRoot('root')
    const leaf = await createCertificate({
      subject: [{ CN: ['client'] }],
      issuer: root,
      nameConstraints: { permitted: [{ dns: 'example.com' }] },
    })
    assert.equal(await outcome(root, leaf), REFUSED)
  })
})

describe('name constraints: what cannot be processed fails closed', () => {
  it('an otherName constraint refuses a leaf with an otherName SAN, and is a no-op without one', async () => {
    const root = await createRoot('constrained root', { excluded: [{ otherName: true }] })
    const upn = await createCertificate({
      subject: [{ CN: ['alice'] }],
      issuer: root,
      altNames: [{ type: 'upn', value: 'alice@example.com' }],
    })
    const plain = await createTestCertificate({ dnsNames: ['a.example.com'], issuer: root })
    assert.equal(await outcome(root, upn), REFUSED)
    assert.equal(await outcome(root, plain), 'ok')
  })

  it('malformed bases, a minimum, a maximum and empty subtrees refuse every leaf', async () => {
    const minimum = new Uint8Array([0x82, 0x0b, ...new TextEncoder().encode('example.com'), 0x80, 0x01, 0x01])
    const maximum = new Uint8Array([0x82, 0x0b, ...new TextEncoder().encode('example.com'), 0x81, 0x01, 0x01])
    const broken: Constraints[] = [
      { permitted: [{ dns: '*.example.com' }] },
      { permitted: [{ dns: '.example.com' }] },
      { excluded: [{ email: 'a@b@example.com' }] },
      { permitted: [{ rawSubtree: new Uint8Array([0x87, 0x04, 10, 0, 0, 0]) }] },
      { permitted: [{ rawSubtree: new Uint8Array([0x87, 0x08, 10, 0, 0, 0, 255, 0, 255, 0]) }] },
      { permitted: [{ rawSubtree: minimum }] },
      { permitted: [{ rawSubtree: maximum }] },
      { permitted: [] },
      {},
    ]
    for (const constraints of broken) {
      const { root, leaf } = await constrainedRoot(constraints)
      assert.equal(await outcome(root, await leaf({ dnsNames: ['example.com'] })), REFUSED)
    }
  })
})

describe('names on the trust path', () => {
  it('a malformed dNSName SAN → ERR_CHAIN_INVALID; a leftmost wildcard passes', async () => {
    const root = await createRoot('root')
    const leafWith = (dnsNames: string[]): Promise<TestCertificate> =>
      createTestCertificate({ dnsNames, issuer: root })
    const malformed = [
      'foo_bar.example.com',
      '8.8.8.8',
      'a..example.com',
      '-a.example.com',
      'ba*.example.com',
      '*',
      '*.com',
      'example.com.',
    ]
    for (const name of malformed) {
      assert.equal(await outcome(root, await leafWith([name])), '403 ERR_CHAIN_INVALID', name)
    }
    assert.equal(await outcome(root, await leafWith(['*.example.com', 'xn--bcher-kva.example'])), 'ok')
  })

  it('a malformed rfc822Name SAN → ERR_CHAIN_INVALID', async () => {
    const root = await createRoot('root')
    const leaf = await createTestCertificate({ emails: ['a@b@example.com'], issuer: root })
    assert.equal(await outcome(root, leaf), '403 ERR_CHAIN_INVALID')
  })

  it('an empty subject needs a critical SAN; a CA with an empty subject is refused', async () => {
    const root = await createRoot('root')
    const altNames = [{ type: 'dns' as const, value: 'a.example.com' }]
    const critical = await createCertificate({ subject: [], issuer: root, altNames })
    const nonCritical = await createCertificate({ subject: [], issuer: root, altNames, altNamesCritical: false })
    assert.equal(await outcome(root, critical), 'ok')
    assert.equal(await outcome(root, nonCritical), '403 ERR_CHAIN_INVALID')
    const anonymousCa = await createCertificate({ subject: [], issuer: root, ca: true, altNames })
    const leaf = await createTestCertificate({ issuer: anonymousCa })
    assert.equal(await outcome(root, leaf), '403 ERR_CHAIN_INVALID')
  })

  it('trust.allowNonCriticalNameConstraints must be a boolean', () => {
    assert.throws(
      () =>
        createClientCertVerifier({
          allow: 'any-valid',
          trust: createTrustVerifier({ roots: ['x'], allowNonCriticalNameConstraints: 'yes' as unknown as boolean }),
        }),
      { name: 'TypeError', message: 'trust.allowNonCriticalNameConstraints must be a boolean.' }
    )
  })
})
