import 'reflect-metadata'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as x509 from '@peculiar/x509'
import {
  createTestCertificate,
  createTestPki,
  type TestCertificate,
  xfccHeader,
} from '../src/testing/index.ts'
import { parseXfcc } from '../src/xfcc/parse.ts'

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

/** Envoy's PEM encoding, written out independently of src/xfcc/. */
function envoyEncode(pem: string): string {
  return pem
    .replaceAll('\n', '%0A')
    .replaceAll(' ', '%20')
    .replaceAll('+', '%2B')
    .replaceAll('/', '%2F')
    .replaceAll('=', '%3D')
}

async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

function basicConstraints(cert: TestCertificate): x509.BasicConstraintsExtension | null {
  return cert.x509.getExtension(x509.BasicConstraintsExtension)
}

describe('createTestPki', () => {
  it('builds root -> intermediate -> leaf that verify', async () => {
    const pki = await createTestPki()
    const leaf = await pki.issue()
    assert.equal(await leaf.x509.verify({ publicKey: pki.intermediate.x509 }), true)
    assert.equal(await pki.intermediate.x509.verify({ publicKey: pki.root.x509 }), true)
    assert.equal(await pki.root.x509.verify({ publicKey: pki.root.x509 }), true)
    assert.equal(await leaf.x509.verify({ publicKey: pki.root.x509 }), false)
    assert.equal(leaf.x509.issuer, pki.intermediate.x509.subject)
    assert.equal(pki.intermediate.x509.issuer, pki.root.x509.subject)
    assert.equal(leaf.issuer, pki.intermediate)
    assert.equal(pki.intermediate.issuer, pki.root)
    assert.equal(pki.root.issuer, null)
    const builder = new x509.X509ChainBuilder({
      certificates: [pki.root.x509, pki.intermediate.x509],
    })
    assert.equal((await builder.build(leaf.x509)).length, 3)
  })

  it('marks CAs with critical basicConstraints, pathLength and keyCertSign|cRLSign', async () => {
    const pki = await createTestPki()
    const leaf = await pki.issue()
    const rootBc = basicConstraints(pki.root)
    assert.equal(rootBc?.ca, true)
    assert.equal(rootBc?.critical, true)
    assert.equal(rootBc?.pathLength, undefined)
    const intBc = basicConstraints(pki.intermediate)
    assert.equal(intBc?.ca, true)
    assert.equal(intBc?.pathLength, 0)
    for (const ca of [pki.root, pki.intermediate]) {
      const ku = ca.x509.getExtension(x509.KeyUsagesExtension)
      assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)
      assert.equal(ku?.critical, true)
      assert.equal(ca.x509.getExtension(x509.ExtendedKeyUsageExtension), null)
    }
    assert.equal(basicConstraints(leaf), null)
    assert.equal(
      leaf.x509.getExtension(x509.KeyUsagesExtension)?.usages,
      x509.KeyUsageFlags.digitalSignature
    )
  })

  it('links key identifiers (AKI of a child = SKI of its issuer)', async () => {
    const pki = await createTestPki()
    const leaf = await pki.issue()
    const ski = (c: TestCertificate): string | undefined =>
      c.x509.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId
    const aki = (c: TestCertificate): string | undefined =>
      c.x509.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId
    assert.ok(ski(pki.intermediate))
    assert.equal(aki(leaf), ski(pki.intermediate))
    assert.equal(aki(pki.intermediate), ski(pki.root))
    assert.equal(aki(pki.root), ski(pki.root))
  })

  it('works with RSA-2048 and P-256', async () => {
    for (const keyAlgorithm of ['RSA-2048', 'P-256'] as const) {
      const pki = await createTestPki({ keyAlgorithm })
      const leaf = await pki.issue()
      const expected = keyAlgorithm === 'P-256' ? 'ECDSA' : 'RSASSA-PKCS1-v1_5'
      for (const cert of [pki.root, pki.intermediate, leaf]) {
        assert.equal(cert.keys.privateKey.algorithm.name, expected)
        assert.equal(cert.x509.publicKey.algorithm.name, expected)
      }
      assert.equal(await leaf.x509.verify({ publicKey: pki.intermediate.x509 }), true)
      assert.equal(await pki.intermediate.x509.verify({ publicKey: pki.root.x509 }), true)
    }
    // A P-256 leaf under an RSA CA: the signature follows the issuer's key.
    const rsaCa = await createTestCertificate({ keyAlgorithm: 'RSA-2048', ca: true })
    const ecLeaf = await createTestCertificate({ issuer: rsaCa })
    assert.equal(ecLeaf.x509.publicKey.algorithm.name, 'ECDSA')
    assert.equal(await ecLeaf.x509.verify({ publicKey: rsaCa.x509 }), true)
  })
})

describe('createTestCertificate', () => {
  it('defaults to a P-256 clientAuth leaf CN=test-client, valid now-1h .. now+1d', async () => {
    const before = Date.now()
    const cert = await createTestCertificate()
    assert.equal(cert.commonName, 'test-client')
    assert.equal(cert.subjectRfc4514, 'CN=test-client')
    assert.equal(cert.issuer, null)
    assert.equal(cert.x509.subject, cert.x509.issuer)
    assert.equal(await cert.x509.verify({ publicKey: cert.x509 }), true)
    assert.equal(cert.keys.publicKey.algorithm.name, 'ECDSA')
    assert.deepEqual([...(cert.x509.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])], [
      CLIENT_AUTH,
    ])
    // X.509 times have whole seconds.
    const hour = 60 * 60 * 1000
    assert.ok(Math.abs(cert.x509.notBefore.getTime() - (before - hour)) < 5000)
    assert.ok(Math.abs(cert.x509.notAfter.getTime() - (before + 24 * hour)) < 5000)
    const ca = await createTestCertificate({ ca: true })
    const tenYears = 3650 * 24 * hour
    assert.ok(Math.abs(ca.x509.notAfter.getTime() - (before + tenYears)) < 5000)
  })

  it('honours extendedKeyUsages, including null for no EKU extension', async () => {
    const none = await createTestCertificate({ extendedKeyUsages: null })
    assert.equal(none.x509.getExtension(x509.ExtendedKeyUsageExtension), null)
    assert.equal(none.x509.getExtension('2.5.29.37'), null)
    const server = await createTestCertificate({ extendedKeyUsages: ['1.3.6.1.5.5.7.3.1'] })
    const usages = server.x509.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []
    assert.deepEqual([...usages], ['1.3.6.1.5.5.7.3.1'])
  })

  it('honours keyUsages, including null for no keyUsage extension', async () => {
    const none = await createTestCertificate({ keyUsages: null })
    assert.equal(none.x509.getExtension(x509.KeyUsagesExtension), null)
    const both = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    const cert = await createTestCertificate({ keyUsages: both })
    assert.equal(cert.x509.getExtension(x509.KeyUsagesExtension)?.usages, both)
  })

  it('writes DNS, URI, email and IP SANs', async () => {
    const cert = await createTestCertificate({
      dnsNames: ['api-client.contoso.com', 'alt.contoso.com'],
      uris: ['spiffe://contoso.com/ns/default/sa/api'],
      emails: ['ops@contoso.com'],
      ips: ['10.0.0.1', '2001:db8::1'],
    })
    const san = cert.x509.getExtension(x509.SubjectAlternativeNameExtension)
    assert.equal(san?.critical, false)
    assert.deepEqual(
      san?.names.items.map((n) => [n.type, n.value]),
      [
        ['dns', 'api-client.contoso.com'],
        ['dns', 'alt.contoso.com'],
        ['url', 'spiffe://contoso.com/ns/default/sa/api'],
        ['email', 'ops@contoso.com'],
        ['ip', '10.0.0.1'],
        ['ip', '2001:db8::1'],
      ]
    )
    const plain = await createTestCertificate()
    assert.equal(plain.x509.getExtension(x509.SubjectAlternativeNameExtension), null)
  })

  it('makes the SAN critical for an empty subject', async () => {
    const cert = await createTestCertificate({ subject: [], uris: ['spiffe://a/b'] })
    assert.equal(cert.x509.subject, '')
    assert.equal(cert.subjectRfc4514, '')
    assert.equal(cert.commonName, null)
    assert.equal(cert.x509.getExtension(x509.SubjectAlternativeNameExtension)?.critical, true)
  })

  it('honours notBefore/notAfter: an expired leaf', async () => {
    const pki = await createTestPki()
    const notBefore = new Date('2020-01-01T00:00:00Z')
    const notAfter = new Date('2020-01-02T00:00:00Z')
    const expired = await pki.issue({ notBefore, notAfter })
    assert.equal(expired.x509.notBefore.getTime(), notBefore.getTime())
    assert.equal(expired.x509.notAfter.getTime(), notAfter.getTime())
    assert.ok(expired.x509.notAfter.getTime() < Date.now())
    assert.equal(await expired.x509.verify({ publicKey: pki.intermediate.x509 }), false)
    assert.equal(
      await expired.x509.verify({ publicKey: pki.intermediate.x509, signatureOnly: true }),
      true
    )
  })

  it('uses the given serial number, or 16 random bytes with the high bit clear', async () => {
    const given = await createTestCertificate({ serialNumber: '0a1b2c' })
    assert.equal(given.x509.serialNumber, '0a1b2c')
    const a = await createTestCertificate()
    const b = await createTestCertificate()
    assert.match(a.x509.serialNumber, /^[0-7][0-9a-f]{31}$/)
    assert.notEqual(a.x509.serialNumber, b.x509.serialNumber)
  })

  it('has a thumbprint equal to an independent SHA-256 of the DER, uppercase', async () => {
    const cert = await createTestCertificate()
    assert.deepEqual(cert.der, new Uint8Array(cert.x509.rawData))
    assert.equal(cert.thumbprint, (await sha256Hex(cert.x509.rawData)).toUpperCase())
    const fromX509 = new Uint8Array(await cert.x509.getThumbprint('SHA-256'))
    const hex = Array.from(fromX509, (b) => b.toString(16).padStart(2, '0')).join('')
    assert.equal(cert.thumbprint, hex.toUpperCase())
  })

  it('writes standard PEM that parses back to the same DER', async () => {
    const cert = await createTestCertificate({ keyAlgorithm: 'RSA-2048' })
    const lines = cert.pem.split('\n')
    assert.equal(lines[0], '-----BEGIN CERTIFICATE-----')
    assert.equal(lines.at(-2), '-----END CERTIFICATE-----')
    assert.equal(lines.at(-1), '')
    const body = lines.slice(1, -2)
    assert.ok(body.slice(0, -1).every((l) => l.length === 64))
    assert.ok(body.at(-1)!.length <= 64 && body.at(-1)!.length > 0)
    assert.deepEqual(new Uint8Array(new x509.X509Certificate(cert.pem).rawData), cert.der)
  })

  it('prints the subject as Envoy does: most specific first, RFC 2253 escapes', async () => {
    const cert = await createTestCertificate({
      subject: [{ C: ['US'] }, { O: ['Contoso'] }, { CN: ['api-client.contoso.com'] }],
    })
    assert.equal(cert.subjectRfc4514, 'CN=api-client.contoso.com,O=Contoso,C=US')
    assert.equal(cert.commonName, 'api-client.contoso.com')

    // Values are taken literally (no unquoting); `=` stays, non-ASCII bytes become \XX.
    const odd = await createTestCertificate({
      subject: [
        { O: ['Contoso, "Ltd"; <x>+y\\z'] },
        { E: ['ops@contoso.com'] },
        { CN: [' Jörg a=b '] },
      ],
    })
    assert.deepEqual(odd.x509.subjectName.getField('O'), ['Contoso, "Ltd"; <x>+y\\z'])
    assert.equal(
      odd.subjectRfc4514,
      'CN=\\ J\\C3\\B6rg a=b\\ ,emailAddress=ops@contoso.com,' +
        'O=Contoso\\, \\"Ltd\\"\\; \\<x\\>\\+y\\\\z'
    )
    assert.equal(odd.commonName, ' Jörg a=b ')
  })

  it('takes the most specific CN as commonName and null without one', async () => {
    const two = await createTestCertificate({ subject: [{ CN: ['outer'] }, { CN: ['inner'] }] })
    assert.equal(two.commonName, 'inner')
    const none = await createTestCertificate({ subject: [{ O: ['Contoso'] }] })
    assert.equal(none.commonName, null)
  })
})

describe('xfccHeader', () => {
  it('writes the exact Envoy shape: By;Hash;Cert;Chain;Subject;URI;DNS', async () => {
    const pki = await createTestPki()
    const leaf = await pki.issue({
      subject: [{ C: ['US'] }, { O: ['Contoso'] }, { CN: ['api-client.contoso.com'] }],
      uris: ['spiffe://contoso.com/api'],
      dnsNames: ['api-client.contoso.com', 'alt.contoso.com'],
    })
    const hash = await sha256Hex(leaf.x509.rawData)
    const expected =
      'By=spiffe://ingress.contoso.com' +
      `;Hash=${hash}` +
      `;Cert="${envoyEncode(leaf.pem)}"` +
      `;Chain="${envoyEncode(leaf.pem + pki.intermediate.pem)}"` +
      ';Subject="CN=api-client.contoso.com,O=Contoso,C=US"' +
      ';URI=spiffe://contoso.com/api' +
      ';DNS=api-client.contoso.com;DNS=alt.contoso.com'
    assert.equal(xfccHeader(leaf, { by: ['spiffe://ingress.contoso.com'] }), expected)
    assert.ok(expected.includes('-----BEGIN%20CERTIFICATE-----%0A'))
  })

  it('writes a bare URI= for a certificate without URI SANs, as Envoy does', async () => {
    const cert = await createTestCertificate({ commonName: 'solo' })
    const hash = cert.thumbprint.toLowerCase()
    assert.equal(
      xfccHeader(cert),
      `Hash=${hash};Cert="${envoyEncode(cert.pem)}";Chain="${envoyEncode(cert.pem)}";` +
        'Subject="CN=solo";URI='
    )
    assert.equal(
      xfccHeader(cert, { chain: false, subject: false, uris: [], dns: ['x.example'] }),
      `Hash=${hash};Cert="${envoyEncode(cert.pem)}";DNS=x.example`
    )
  })

  it('writes the ACA shape with a trailing semicolon', async () => {
    const pki = await createTestPki()
    const leaf = await pki.issue({ uris: ['spiffe://ignored'] })
    const header = xfccHeader(leaf, { style: 'aca' })
    assert.equal(
      header,
      `Hash=${leaf.thumbprint.toLowerCase()};Cert="${envoyEncode(leaf.pem)}";` +
        `Chain="${envoyEncode(leaf.pem + pki.intermediate.pem)}";`
    )
    assert.ok(header.endsWith(';'))
    assert.equal(
      xfccHeader(leaf, { style: 'aca', hash: false, chain: false }),
      `Cert="${envoyEncode(leaf.pem)}";`
    )
  })

  it('puts `before` elements on the left', async () => {
    const cert = await createTestCertificate()
    const before = 'By=spiffe://client;Hash=abcd;Subject="CN=admin";URI='
    const header = xfccHeader(cert, { before })
    assert.equal(header, `${before},${xfccHeader(cert)}`)
    const elements = parseXfcc(header)
    assert.equal(elements.length, 2)
    assert.equal(elements[0]?.subject, 'CN=admin')
    assert.equal(elements[1]?.cert, cert.pem)
  })

  it('overrides or omits the hash', async () => {
    const cert = await createTestCertificate()
    const fake = 'ab'.repeat(32)
    const header = xfccHeader(cert, { hash: fake })
    assert.ok(header.startsWith(`Hash=${fake};Cert="`))
    assert.ok(!header.includes(cert.thumbprint.toLowerCase()))
    assert.ok(xfccHeader(cert, { hash: false }).startsWith('Cert="'))
  })

  it('chooses the chain: true stops before the root, an array is taken as is', async () => {
    const pki = await createTestPki()
    const leaf = await pki.issue()
    const chainOf = (header: string): string | undefined => parseXfcc(header)[0]?.chain
    assert.equal(chainOf(xfccHeader(leaf)), leaf.pem + pki.intermediate.pem)
    assert.equal(
      chainOf(xfccHeader(leaf, { chain: [leaf, pki.intermediate, pki.root] })),
      leaf.pem + pki.intermediate.pem + pki.root.pem
    )
    assert.equal(chainOf(xfccHeader(leaf, { chain: false })), undefined)
    assert.equal(chainOf(xfccHeader(pki.root)), pki.root.pem)
  })

  it('inserts the subject raw and round-trips through parseXfcc', async () => {
    const cert = await createTestCertificate({
      subject: [{ O: ['Contoso, Ltd'] }, { CN: ['api'] }],
      uris: ['spiffe://contoso.com/api'],
      dnsNames: ['api.contoso.com'],
    })
    const header = xfccHeader(cert, { by: ['spiffe://proxy'] })
    assert.ok(header.includes(';Subject="CN=api,O=Contoso\\, Ltd";'))
    assert.deepEqual(parseXfcc(header), [
      {
        by: ['spiffe://proxy'],
        hash: cert.thumbprint.toLowerCase(),
        cert: cert.pem,
        chain: cert.pem,
        subject: 'CN=api,O=Contoso\\, Ltd',
        uri: ['spiffe://contoso.com/api'],
        dns: ['api.contoso.com'],
      },
    ])
    assert.ok(xfccHeader(cert, { subject: 'CN=spoofed' }).includes(';Subject="CN=spoofed";'))
  })
})
