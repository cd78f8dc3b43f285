/**
 * Differential tests: the lean DER reader (`src/x509/fields.ts`) against @peculiar/x509
 * (`test/support/reference-fields.ts`) on a varied set of generated certificates, then a mutation
 * fuzz, then the hostile-input bounds.
 *
 * The fuzz rule: on mutated bytes ours either throws ERR_CERT_MALFORMED or returns fields, and
 * whenever the reference also parses them, both agree. Where they would legitimately differ it is
 * because ours is stricter, and then ours throws: BER forms (indefinite or non-minimal lengths,
 * constructed strings, non-minimal INTEGERs/OIDs, non-0x00/0xFF BOOLEANs), times outside
 * RFC 5280's two forms or out of range, trailing bytes, duplicate extensions, non-ASCII
 * IA5/PrintableString, invalid UTF-8 (the reference falls back to latin1), UniversalString beyond
 * the BMP (the reference truncates code points), IP SANs of neither 4 nor 16 octets, pathLength
 * of 4+ octets (the reference turns it into a string), KeyUsage with nonzero unused bits.
 * @module
 */
import 'reflect-metadata'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as x509 from '@peculiar/x509'
import { isCertgateError } from '../src/errors.ts'
import { DerReader, TAG_SEQUENCE, type Tlv } from '../src/x509/der.ts'
import { readBitString, readOid, readString, readTime } from '../src/x509/der-values.ts'
import { readCertificateFields, readSignatureParts } from '../src/x509/fields.ts'
import { referenceCertificateFields, referenceSignatureParts } from './support/reference-fields.ts'

// --- a tiny DER writer, for names and certificates the generator cannot make -----------------

function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

function lengthOctets(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length)
  const octets: number[] = []
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256)
  return Uint8Array.of(0x80 | octets.length, ...octets)
}

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const body = concat(content)
  return concat([Uint8Array.of(tag), lengthOctets(body.length), body])
}

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0))
}

function utf8Of(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

function oid(dotted: string): Uint8Array<ArrayBuffer> {
  const arcs = dotted.split('.').map(Number)
  const subids = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]
  const out: number[] = []
  for (const subid of subids) {
    const group: number[] = [subid % 128]
    for (let n = Math.floor(subid / 128); n > 0; n = Math.floor(n / 128)) {
      group.unshift(0x80 | n % 128)
    }
    out.push(...group)
  }
  return tlv(0x06, Uint8Array.from(out))
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16))
}

type Attribute = [type: string, tag: number, value: Uint8Array]

/** A Name from RDNs of [type OID, value tag, value content octets]. */
function nameDer(rdns: readonly (readonly Attribute[])[]): Uint8Array<ArrayBuffer> {
  return tlv(
    0x30,
    ...rdns.map((rdn) =>
      tlv(0x31, ...rdn.map(([type, tag, value]) => tlv(0x30, oid(type), tlv(tag, value))))
    )
  )
}

interface HandmadeOptions {
  version?: number | null
  serial?: Uint8Array
  issuer?: Uint8Array
  subject?: Uint8Array
  notBefore?: Uint8Array
  notAfter?: Uint8Array
  extensions?: Uint8Array[] | null
  spki: Uint8Array
}

const ECDSA_SHA256 = tlv(0x30, oid('1.2.840.10045.4.3.2'))

/** A certificate assembled by hand; its signature is junk (nothing here verifies it). */
function handmade(options: HandmadeOptions): Uint8Array<ArrayBuffer> {
  const version = options.version === undefined ? 2 : options.version
  const name = nameDer([[['2.5.4.3', 0x0c, utf8Of('handmade')]]])
  const tbs = tlv(
    0x30,
    version === null ? new Uint8Array(0) : tlv(0xa0, tlv(0x02, Uint8Array.of(version))),
    tlv(0x02, options.serial ?? Uint8Array.of(0x01)),
    ECDSA_SHA256,
    options.issuer ?? name,
    tlv(
      0x30,
      options.notBefore ?? tlv(0x17, bytesOf('240101000000Z')),
      options.notAfter ?? tlv(0x17, bytesOf('340101000000Z'))
    ),
    options.subject ?? name,
    options.spki,
    options.extensions ? tlv(0xa3, tlv(0x30, ...options.extensions)) : new Uint8Array(0)
  )
  return tlv(0x30, tbs, ECDSA_SHA256, tlv(0x03, new Uint8Array(65)))
}

function extension(id: string, value: Uint8Array, critical = false): Uint8Array {
  return tlv(
    0x30,
    oid(id),
    critical ? tlv(0x01, Uint8Array.of(0xff)) : new Uint8Array(0),
    tlv(0x04, value)
  )
}

// --- the certificate set ----------------------------------------------------------------------

interface Fixture {
  label: string
  der: Uint8Array<ArrayBuffer>
}

interface Fixtures {
  certs: Fixture[]
  ecSpki: Uint8Array<ArrayBuffer>
}

let fixtures: Promise<Fixtures> | undefined

function getFixtures(): Promise<Fixtures> {
  fixtures ??= makeFixtures()
  return fixtures
}

async function makeFixtures(): Promise<Fixtures> {
  const rsaParams = {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: Uint8Array.of(1, 0, 1),
    hash: 'SHA-256',
  }
  const [rsaRoot, rsaLeafKey, ecCaKey, ecLeafKey, p384Key] = await Promise.all([
    crypto.subtle.generateKey(rsaParams, false, ['sign', 'verify']),
    crypto.subtle.generateKey(rsaParams, false, ['sign', 'verify']),
    crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']),
    crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']),
    crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign', 'verify']),
  ])
  const ecSpki = new Uint8Array(await crypto.subtle.exportKey('spki', ecLeafKey.publicKey))
  const certs: Fixture[] = []

  async function issue(
    label: string,
    params: Omit<x509.X509CertificateCreateWithKeyParams, 'publicKey' | 'signingKey'>,
    subjectKey: CryptoKeyPair,
    signer: CryptoKeyPair
  ): Promise<void> {
    const cert = await x509.X509CertificateGenerator.create({
      notBefore: new Date('2024-01-01T00:00:00Z'),
      notAfter: new Date('2034-01-01T00:00:00Z'),
      ...params,
      publicKey: subjectKey.publicKey,
      signingKey: signer.privateKey,
    })
    certs.push({ label, der: new Uint8Array(cert.rawData) })
  }

  const rootName = 'CN=Certgate Test Root CA, O=Example Corp, C=US'
  const caName = new x509.Name([{ C: ['US'] }, { O: ['Example Corp'] }, {
    CN: ['Issuing CA P-256'],
  }])
  function ski(key: CryptoKeyPair): Promise<x509.SubjectKeyIdentifierExtension> {
    return x509.SubjectKeyIdentifierExtension.create(key.publicKey)
  }
  function aki(key: CryptoKeyPair): Promise<x509.AuthorityKeyIdentifierExtension> {
    return x509.AuthorityKeyIdentifierExtension.create(key.publicKey)
  }
  const ku = x509.KeyUsageFlags

  await issue(
    'RSA-2048 root CA, pathLength 0, UTCTime to 2049-12-31',
    {
      serialNumber: '01',
      subject: rootName,
      issuer: rootName,
      notBefore: new Date('1950-01-01T00:00:00Z'),
      notAfter: new Date('2049-12-31T23:59:59Z'),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(ku.keyCertSign | ku.cRLSign, true),
        await ski(rsaRoot),
      ],
    },
    rsaRoot,
    rsaRoot
  )
  await issue(
    'P-256 intermediate CA, no pathLength, GeneralizedTime from 2050',
    {
      serialNumber: '7f',
      subject: caName,
      issuer: rootName,
      notAfter: new Date('2050-01-01T00:00:00Z'),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(ku.keyCertSign | ku.cRLSign | ku.digitalSignature, true),
        await ski(ecCaKey),
        await aki(rsaRoot),
      ],
    },
    ecCaKey,
    rsaRoot
  )
  await issue(
    'P-256 leaf, every SAN type, EKU, long high-bit serial',
    {
      serialNumber: '8f0102030405060708090a0b0c0d0e0f10111213',
      subject: new x509.Name([
        { C: ['US'] },
        { O: ['Example Corp'] },
        { OU: ['Devices'], CN: ['client-01'] },
      ]),
      issuer: caName,
      notBefore: new Date('2049-12-31T23:59:59Z'),
      notAfter: new Date('9999-12-31T23:59:59Z'),
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'client-01.example.com' },
          { type: 'dns', value: '*.devices.example.com' },
          { type: 'url', value: 'spiffe://example.com/ns/prod/sa/client' },
          { type: 'email', value: 'device@example.com' },
          { type: 'ip', value: '192.0.2.10' },
          { type: 'ip', value: '0.0.0.0' },
          { type: 'ip', value: '2001:db8::1' },
          { type: 'ip', value: '::1' },
          { type: 'ip', value: '::' },
          { type: 'ip', value: '2001:db8:0:0:1:0:0:1' },
          { type: 'ip', value: '2001:0:0:1:0:0:0:1' },
          { type: 'ip', value: '2001:db8:1:2:3:4:0:5' },
          { type: 'ip', value: 'fe80:0:0:0:0:0:0:0' },
          { type: 'ip', value: '::ffff:c000:20a' },
          { type: 'upn', value: 'device@example.com' },
          { type: 'guid', value: '12345678-1234-1234-1234-123456789abc' },
          { type: 'id', value: '1.2.3.4' },
          { type: 'dn', value: 'CN=Directory Name, O=Example' },
        ]),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.clientAuth,
          x509.ExtendedKeyUsage.serverAuth,
        ]),
        new x509.KeyUsagesExtension(ku.digitalSignature | ku.keyAgreement, true),
        new x509.BasicConstraintsExtension(false),
        await ski(ecLeafKey),
        await aki(ecCaKey),
      ],
    },
    ecLeafKey,
    ecCaKey
  )
  await issue(
    'RSA-2048 leaf, no EKU, KeyUsage bit 8, unknown and critical extensions',
    {
      serialNumber: '0080',
      subject: 'CN=rsa-leaf, OU=Servers, O=Example Corp, L=Springfield, ST=Oregon, C=US',
      issuer: caName,
      extensions: [
        new x509.KeyUsagesExtension(
          ku.digitalSignature | ku.keyEncipherment | ku.encipherOnly | ku.decipherOnly,
          true
        ),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'rsa.example.com' }], true),
        new x509.Extension('1.3.6.1.4.1.55555.1', true, tlv(0x05)),
        new x509.CertificatePolicyExtension(['2.23.140.1.2.1']),
        await aki(ecCaKey),
      ],
    },
    rsaLeafKey,
    ecCaKey
  )
  await issue(
    'P-384 leaf, EKU with a private OID, no SAN',
    {
      serialNumber: '010203',
      subject: 'CN=p384, O=Example Corp',
      issuer: caName,
      extensions: [
        new x509.ExtendedKeyUsageExtension([
          '1.3.6.1.4.1.55555.7.3',
          x509.ExtendedKeyUsage.clientAuth,
        ]),
      ],
    },
    p384Key,
    ecCaKey
  )
  await issue(
    'no extensions at all',
    { subject: 'CN=bare', issuer: 'CN=bare' },
    ecLeafKey,
    ecLeafKey
  )
  await issue(
    'empty subject, SAN only',
    {
      subject: new x509.Name([]),
      issuer: caName,
      extensions: [
        new x509.SubjectAlternativeNameExtension(
          [{ type: 'dns', value: 'san-only.example' }],
          true
        ),
      ],
    },
    ecLeafKey,
    ecCaKey
  )
  function special(text: string): { utf8String: string } {
    return { utf8String: text }
  }
  await issue(
    'RFC 4514 special characters, spaces, Unicode, multi-valued RDNs',
    {
      subject: new x509.Name([
        { C: [{ printableString: 'US' }] },
        { O: [special('Acme, Inc.')], OU: [special('R+D')] },
        { OU: [special('a"b\\c<d>e;f=g')] },
        { OU: [special('#hash')], L: [special(' leading')] },
        { OU: [special('trailing ')] },
        { OU: [special(' ')] },
        { OU: [special('  both  ')] },
        { OU: [special('Ünïcødé 日本語 🎉')] },
        { OU: [special('\u{feff}bom and nul\u0000 and tab\t')] },
        { OU: [special('')] },
        { CN: [special('first cn')] },
        { CN: [special('x'), special('z')], O: [special('y')] },
      ]),
      issuer: caName,
    },
    ecLeafKey,
    ecCaKey
  )
  await issue(
    'every value type and short name',
    {
      subject: new x509.Name(
        nameDer([
          [['0.9.2342.19200300.100.1.25', 0x16, bytesOf('com')]],
          [['0.9.2342.19200300.100.1.25', 0x16, bytesOf('example')]],
          [['2.5.4.6', 0x13, bytesOf('DE')]],
          [['2.5.4.8', 0x14, Uint8Array.of(0x42, 0x61, 0x79, 0x65, 0x72, 0x6e, 0xa7, 0xff)]],
          [['2.5.4.7', 0x1e, hexBytes('03a9006d006500670061d83cdf89')]],
          [['2.5.4.9', 0x1c, hexBytes('0000005a000000fc00000072000000690000006300000068')]],
          [['2.5.4.10', 0x0c, utf8Of('Grüße GmbH')]],
          [['0.9.2342.19200300.100.1.1', 0x0c, utf8Of('uid-42')]],
          [['1.2.840.113549.1.9.1', 0x16, bytesOf('pki@example.de')]],
          [
            ['2.5.4.42', 0x0c, utf8Of('Given')],
            ['2.5.4.43', 0x0c, utf8Of('G.')],
            ['2.5.4.4', 0x0c, utf8Of('Surname')],
            ['2.5.4.12', 0x0c, utf8Of('Title')],
          ],
          [['2.5.4.5', 0x13, bytesOf('SN-0001')]],
          [['1.2.3.4.5.6.7.8.9.1000000.4294967296', 0x0c, utf8Of('unknown type')]],
          [['2.5.4.3', 0x12, bytesOf('12345')]],
        ])
      ),
      issuer: new x509.Name(
        nameDer([
          [['2.5.4.3', 0x02, Uint8Array.of(0x01, 0x00)]],
          [['2.5.4.11', 0x1a, bytesOf('visible')]],
          [['2.5.4.10', 0x30, tlv(0x05)]],
        ])
      ),
    },
    ecLeafKey,
    ecCaKey
  )
  await issue(
    'empty CN, then a later CN wins',
    {
      subject: new x509.Name(
        nameDer([[['2.5.4.3', 0x0c, utf8Of('')]], [['2.5.4.3', 0x13, bytesOf('last')]]])
      ),
      issuer: caName,
    },
    ecLeafKey,
    ecCaKey
  )

  const spkiRsa = new Uint8Array(await crypto.subtle.exportKey('spki', rsaLeafKey.publicKey))
  certs.push(
    {
      label: 'handmade v1, no version field, no extensions',
      der: handmade({ version: null, spki: ecSpki }),
    },
    {
      label: 'handmade v1 with an explicit version, RSA key',
      der: handmade({ version: 0, spki: spkiRsa }),
    },
    {
      label: 'handmade negative serial, GeneralizedTime both ends',
      der: handmade({
        serial: Uint8Array.of(0xff, 0x01),
        notBefore: tlv(0x18, bytesOf('20520229120000Z')),
        notAfter: tlv(0x18, bytesOf('21000228235959Z')),
        spki: ecSpki,
      }),
    },
    { label: 'handmade serial zero', der: handmade({ serial: Uint8Array.of(0x00), spki: ecSpki }) },
    {
      label: 'handmade v3 with an empty extension list and an empty EKU/SAN',
      der: handmade({
        spki: ecSpki,
        extensions: [
          extension('2.5.29.37', tlv(0x30)),
          extension('2.5.29.17', tlv(0x30)),
          extension('2.5.29.14', tlv(0x04)),
          extension('2.5.29.35', tlv(0x30, tlv(0x80))),
          extension(
            '2.5.29.19',
            tlv(0x30, tlv(0x01, Uint8Array.of(0x00)), tlv(0x02, Uint8Array.of(0x7f)))
          ),
        ],
      }),
    },
    {
      label: 'handmade AKI with issuer and serial, KeyUsage with trailing zero octet',
      der: handmade({
        spki: ecSpki,
        extensions: [
          extension(
            '2.5.29.35',
            tlv(
              0x30,
              tlv(0x80, Uint8Array.of(1, 2, 3)),
              tlv(0xa1, tlv(0xa4, nameDer([]))),
              tlv(0x82, Uint8Array.of(5))
            )
          ),
          extension('2.5.29.15', tlv(0x03, Uint8Array.of(0x00, 0x80, 0x00)), true),
          extension('2.5.29.19', tlv(0x30, tlv(0x02, hexBytes('7fffff')))),
        ],
      }),
    }
  )
  return { certs, ecSpki }
}

function assertMalformed(error: unknown): void {
  assert.ok(isCertgateError(error), `expected a CertgateError, got ${String(error)}`)
  assert.equal(error.code, 'ERR_CERT_MALFORMED')
  assert.equal(error.message, 'The client certificate could not be parsed.')
}

function tryReference(der: Uint8Array): ReturnType<typeof referenceCertificateFields> | null {
  try {
    return referenceCertificateFields(der)
  } catch {
    return null
  }
}

function tryReferenceParts(der: Uint8Array): ReturnType<typeof referenceSignatureParts> | null {
  try {
    return referenceSignatureParts(der)
  } catch {
    return null
  }
}

// --- tests ------------------------------------------------------------------------------------

describe('readCertificateFields agrees with @peculiar/x509', () => {
  it('on every certificate of the set', async () => {
    const { certs } = await getFixtures()
    for (const { label, der } of certs) {
      assert.deepEqual(readCertificateFields(der), referenceCertificateFields(der), label)
    }
  })

  it('on the signature parts', async () => {
    const { certs } = await getFixtures()
    for (const { label, der } of certs) {
      assert.deepEqual(readSignatureParts(der), referenceSignatureParts(der), label)
    }
  })

  it('reads what the set was made with', async () => {
    const { certs } = await getFixtures()
    const leaf = readCertificateFields(certs[2]!.der)
    assert.equal(leaf.subject, 'OU=Devices+CN=client-01,O=Example Corp,C=US')
    assert.equal(leaf.commonName, 'client-01')
    assert.equal(leaf.serialNumber, '8F0102030405060708090A0B0C0D0E0F10111213')
    assert.deepEqual(leaf.ips.slice(0, 4), ['192.0.2.10', '0.0.0.0', '2001:db8::1', '::1'])
    assert.deepEqual(leaf.extendedKeyUsages, ['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1'])
    assert.equal(
      leaf.keyUsage,
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement
    )
    assert.equal(leaf.notAfter.toISOString(), '9999-12-31T23:59:59.000Z')
    const root = readCertificateFields(certs[0]!.der)
    assert.deepEqual(root.basicConstraints, { ca: true, pathLength: 0 })
    assert.equal(root.notBefore.toISOString(), '1950-01-01T00:00:00.000Z')
    const parts = readSignatureParts(certs[2]!.der)
    assert.equal(parts.publicKeyAlgorithm, '1.2.840.10045.2.1')
    assert.equal(parts.namedCurve, '1.2.840.10045.3.1.7')
    assert.equal(parts.signatureAlgorithm, '1.2.840.10045.4.3.2')
    assert.equal(parts.tbsCertificate.buffer.byteLength, parts.tbsCertificate.byteLength)
  })
})

// Offsets of every length octet of every TLV the walk can see (into OCTET STRINGs too).
function lengthOffsets(der: Uint8Array): number[] {
  const offsets: number[] = []
  function walk(start: number, end: number, depth: number): boolean {
    let p = start
    while (p < end) {
      if (end - p < 2 || depth > 20) return false
      const tag = der[p]!
      let length = der[p + 1]!
      let q = p + 2
      if (length & 0x80) {
        const count = length & 0x7f
        if (count === 0 || count > 3) return false
        length = 0
        for (let i = 0; i < count; i++) length = length * 256 + der[q++]!
      }
      if (q + length > end) return false
      offsets.push(p + 1)
      if (tag & 0x20) walk(q, q + length, depth + 1)
      else if (tag === 0x04) {
        const mark = offsets.length
        if (!walk(q, q + length, depth + 1)) offsets.length = mark
      }
      p = q + length
    }
    return true
  }
  walk(0, der.length, 0)
  return offsets
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; byte: number }
  | { kind: 'length'; which: number; value: number }

function mutate(
  der: Uint8Array,
  offsets: readonly number[],
  mutations: readonly Mutation[]
): Uint8Array {
  let bytes: Uint8Array = der.slice()
  for (const m of mutations) {
    if (bytes.length === 0) break
    if (m.kind === 'flip') {
      bytes[m.at % bytes.length]! ^= 1 << m.bit
    } else if (m.kind === 'truncate') {
      bytes = bytes.slice(0, m.at % bytes.length)
    } else if (m.kind === 'insert') {
      const at = m.at % (bytes.length + 1)
      bytes = concat([bytes.subarray(0, at), Uint8Array.of(m.byte), bytes.subarray(at)])
    } else {
      const at = offsets[m.which % offsets.length]!
      if (at < bytes.length) bytes[at] = m.value
    }
  }
  return bytes
}

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('length' as const),
    which: fc.nat(),
    value: fc.oneof(
      fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x89, 0xff),
      fc.integer({ min: 0, max: 255 })
    ),
  })
)

describe('mutation fuzz', () => {
  it('throws ERR_CERT_MALFORMED or agrees with the reference', async () => {
    const { certs } = await getFixtures()
    const bases = certs.map(({ der }) => ({ der, offsets: lengthOffsets(der) }))
    let agreed = 0
    fc.assert(
      fc.property(
        fc.nat({ max: bases.length - 1 }),
        fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }),
        (index, mutations) => {
          const base = bases[index]!
          const bytes = mutate(base.der, base.offsets, mutations)
          let ours
          try {
            ours = readCertificateFields(bytes)
          } catch (error) {
            assertMalformed(error)
            return
          }
          const parts = readSignatureParts(bytes)
          const reference = tryReference(bytes)
          if (reference === null) return
          assert.deepEqual(ours, reference)
          const referenceParts = tryReferenceParts(bytes)
          if (referenceParts !== null) assert.deepEqual(parts, referenceParts)
          agreed++
        }
      ),
      { numRuns: 2000 }
    )
    assert.ok(agreed > 0, 'some mutations should keep a parseable certificate')
  })
})

describe('hostile input', () => {
  it('refuses a 10,000-deep nest of SEQUENCE headers quickly', () => {
    const bomb = nestedSequences(10_000)
    const started = performance.now()
    assert.throws(() => readCertificateFields(bomb), assertMalformedPredicate)
    // Walking it generically also stops at the depth limit, not at the bottom.
    const reader = new DerReader(bomb, { maxLength: 1 << 20, maxDepth: 16, maxTlvs: 1 << 20 })
    let depth = 0
    assert.throws(() => {
      let tlvNow = reader.root(TAG_SEQUENCE)
      for (;;) {
        tlvNow = reader.children(tlvNow).expect(TAG_SEQUENCE)
        depth++
      }
    }, assertMalformedPredicate)
    assert.equal(depth, 16)
    assert.ok(performance.now() - started < 100)
  })

  it('refuses huge length claims, indefinite and non-minimal lengths, oversized input', () => {
    const cases = [
      Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00),
      Uint8Array.of(0x30, 0x84, 0x7f, 0xff, 0xff, 0xff),
      Uint8Array.of(0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      Uint8Array.of(0x30, 0x80, 0x30, 0x00, 0x00, 0x00),
      Uint8Array.of(0x30, 0x81, 0x02, 0x30, 0x00),
      Uint8Array.of(0x30, 0x82, 0x00, 0x02, 0x30, 0x00),
      Uint8Array.of(0x30),
      new Uint8Array(0),
      concat([Uint8Array.of(0x30, 0x83, 0x10, 0x00, 0x00), new Uint8Array(0x100000)]),
    ]
    for (const bytes of cases) {
      assert.throws(() => readCertificateFields(bytes), assertMalformedPredicate)
    }
  })

  it('bounds SAN entries, name attributes and duplicate extensions', async () => {
    const { ecSpki } = await getFixtures()
    function dns(n: number): Uint8Array[] {
      return Array.from({ length: n }, (_, i) => tlv(0x82, bytesOf(`h${i}.example`)))
    }
    const ok = handmade({
      spki: ecSpki,
      extensions: [extension('2.5.29.17', tlv(0x30, ...dns(1024)))],
    })
    assert.equal(readCertificateFields(ok).dnsNames.length, 1024)
    const tooMany = handmade({
      spki: ecSpki,
      extensions: [extension('2.5.29.17', tlv(0x30, ...dns(1025)))],
    })
    assert.throws(() => readCertificateFields(tooMany), assertMalformedPredicate)
    function attributes(n: number): Attribute[][] {
      return Array.from({ length: n }, (_, i): Attribute[] => [['2.5.4.11', 0x0c, utf8Of(`ou${i}`)]])
    }
    assert.doesNotThrow(() =>
      readCertificateFields(handmade({ spki: ecSpki, subject: nameDer(attributes(63)) }))
    )
    assert.throws(
      () => readCertificateFields(handmade({ spki: ecSpki, subject: nameDer(attributes(65)) })),
      assertMalformedPredicate
    )
    const eku = extension('2.5.29.37', tlv(0x30, oid('1.3.6.1.5.5.7.3.2')))
    assert.throws(
      () => readCertificateFields(handmade({ spki: ecSpki, extensions: [eku, eku] })),
      assertMalformedPredicate
    )
    const unknown = extension('1.2.3.4', tlv(0x05))
    assert.throws(
      () => readCertificateFields(handmade({ spki: ecSpki, extensions: [unknown, unknown] })),
      assertMalformedPredicate
    )
  })

  it('refuses what only a lenient parser would read', async () => {
    const { ecSpki } = await getFixtures()
    const cases: Uint8Array[] = [
      handmade({ spki: ecSpki, serial: Uint8Array.of(0x00, 0x01) }),
      handmade({ spki: ecSpki, notBefore: tlv(0x17, bytesOf('2401010000Z')) }),
      handmade({ spki: ecSpki, notBefore: tlv(0x17, bytesOf('240101000000+0100')) }),
      handmade({ spki: ecSpki, notBefore: tlv(0x18, bytesOf('20500101000000.5Z')) }),
      handmade({ spki: ecSpki, notBefore: tlv(0x18, bytesOf('19490101000000Z')) }),
      handmade({ spki: ecSpki, notBefore: tlv(0x17, bytesOf('241301000000Z')) }),
      handmade({ spki: ecSpki, notBefore: tlv(0x17, bytesOf('230229000000Z')) }),
      handmade({ spki: ecSpki, version: null, extensions: [extension('1.2.3', tlv(0x05))] }),
      handmade({
        spki: ecSpki,
        subject: nameDer([[['2.5.4.3', 0x0c, Uint8Array.of(0xc0, 0xaf)]]]),
      }),
      handmade({ spki: ecSpki, subject: nameDer([[['2.5.4.3', 0x13, Uint8Array.of(0xe9)]]]) }),
      handmade({ spki: ecSpki, subject: nameDer([[['2.5.4.3', 0x1c, hexBytes('0001f389')]]]) }),
      handmade({ spki: ecSpki, subject: nameDer([[['2.5.4.3', 0x1e, hexBytes('d83c')]]]) }),
      handmade({ spki: ecSpki, subject: tlv(0x30, tlv(0x31)) }),
      handmade({
        spki: ecSpki,
        extensions: [extension('2.5.29.17', tlv(0x30, tlv(0x87, new Uint8Array(8))))],
      }),
      handmade({
        spki: ecSpki,
        extensions: [extension('2.5.29.15', tlv(0x03, Uint8Array.of(0x07, 0x81)))],
      }),
      handmade({
        spki: ecSpki,
        extensions: [extension('2.5.29.19', tlv(0x30, tlv(0x01, Uint8Array.of(0x01))))],
      }),
      handmade({
        spki: ecSpki,
        extensions: [extension('2.5.29.19', tlv(0x30, tlv(0x02, hexBytes('00800000'))))],
      }),
      handmade({
        spki: ecSpki,
        extensions: [extension('2.5.29.19', tlv(0x30, tlv(0x02, hexBytes('ff'))))],
      }),
      handmade({
        spki: ecSpki,
        extensions: [extension('2.5.29.37', concat([tlv(0x30), Uint8Array.of(0)]))],
      }),
      concat([handmade({ spki: ecSpki }), Uint8Array.of(0x00)]),
    ]
    for (const [i, bytes] of cases.entries()) {
      assert.throws(() => readCertificateFields(bytes), assertMalformedPredicate, `case ${i}`)
    }
  })
})

describe('der.ts helpers', () => {
  function single(bytes: Uint8Array): Tlv {
    return new DerReader(bytes, { maxLength: 1024, maxDepth: 4, maxTlvs: 16 }).root(bytes[0]!)
  }

  it('reads times by RFC 5280 rules', () => {
    function time(tag: number, text: string): string {
      const bytes = tlv(tag, bytesOf(text))
      return readTime(bytes, single(bytes)).toISOString()
    }
    assert.equal(time(0x17, '491231235959Z'), '2049-12-31T23:59:59.000Z')
    assert.equal(time(0x17, '500101000000Z'), '1950-01-01T00:00:00.000Z')
    assert.equal(time(0x18, '20240229120000Z'), '2024-02-29T12:00:00.000Z')
    assert.equal(time(0x18, '20500101000000Z'), '2050-01-01T00:00:00.000Z')
    assert.throws(() => time(0x17, '491231235959'), assertMalformedPredicate)
    assert.throws(() => time(0x17, '49123123595Z9'), assertMalformedPredicate)
    assert.throws(() => time(0x18, '21000229000000Z'), assertMalformedPredicate)
    assert.throws(() => time(0x18, '20240101240000Z'), assertMalformedPredicate)
  })

  it('reads OIDs, strings and BIT STRINGs', () => {
    function read(bytes: Uint8Array): string {
      return readOid(bytes, single(bytes))
    }
    assert.equal(read(oid('2.5.4.3')), '2.5.4.3')
    assert.equal(read(oid('2.999.3')), '2.999.3')
    assert.equal(read(oid('1.2.840.113549.1.9.1')), '1.2.840.113549.1.9.1')
    assert.equal(read(oid('1.2.9007199254740991')), '1.2.9007199254740991')
    assert.throws(() => read(Uint8Array.of(0x06, 0x03, 0x2a, 0x80, 0x01)), assertMalformedPredicate)
    assert.throws(() => read(Uint8Array.of(0x06, 0x02, 0x2a, 0x81)), assertMalformedPredicate)
    assert.throws(() => read(Uint8Array.of(0x06, 0x00)), assertMalformedPredicate)
    assert.throws(() => read(oid('1.2.9007199254740992')), assertMalformedPredicate)
    function text(bytes: Uint8Array): string {
      return readString(bytes, single(bytes))
    }
    assert.equal(text(tlv(0x14, Uint8Array.of(0x4d, 0xfc))), 'Mü')
    assert.equal(text(tlv(0x1e, hexBytes('d83cdf89'))), '🎉')
    assert.equal(text(tlv(0x1c, hexBytes('000000e9'))), 'é')
    assert.equal(text(tlv(0x0c, utf8Of('\u{feff}x'))), '\u{feff}x')
    assert.throws(() => text(tlv(0x0c, Uint8Array.of(0xed, 0xa0, 0x80))), assertMalformedPredicate)
    assert.throws(() => text(tlv(0x1e, Uint8Array.of(0x00))), assertMalformedPredicate)
    assert.throws(() => text(tlv(0x2c, tlv(0x0c, utf8Of('x')))), assertMalformedPredicate)
    const bits = tlv(0x03, Uint8Array.of(0x04, 0xf0))
    assert.deepEqual(readBitString(bits, single(bits)), { unusedBits: 4, data: Uint8Array.of(0xf0) })
    const dirty = tlv(0x03, Uint8Array.of(0x04, 0xf8))
    assert.throws(() => readBitString(dirty, single(dirty)), assertMalformedPredicate)
  })
})

/** `count` SEQUENCEs, each the only content of the one around it, built in one buffer. */
function nestedSequences(count: number): Uint8Array<ArrayBuffer> {
  const contentLengths: number[] = [0]
  for (let i = 1; i < count; i++) {
    const inner = contentLengths[i - 1]!
    contentLengths.push(inner + 1 + lengthOctets(inner).length)
  }
  const outer = contentLengths[count - 1]!
  const out = new Uint8Array(outer + 1 + lengthOctets(outer).length)
  let p = 0
  for (let i = count - 1; i >= 0; i--) {
    out[p++] = 0x30
    const length = lengthOctets(contentLengths[i]!)
    out.set(length, p)
    p += length.length
  }
  return out
}

function assertMalformedPredicate(error: unknown): boolean {
  assertMalformed(error)
  return true
}
