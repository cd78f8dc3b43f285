// URL-encoded PEM decoded straight to DER (decodeEscapedCertificates, and the XFCC parse that
// keeps Cert/Chain escaped for it) gives exactly what decoding the escapes and then the PEM gives,
// or declines, never anything else: checked on Envoy's own shape and on random edits of it.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodePercent } from '../src/bytes.ts'
import { decodeCertificates, decodeEscapedCertificates, encodePem } from '../src/x509/pem.ts'
import { parseXfccHeader } from '../src/xfcc/parse.ts'
import { xfccSource } from '../src/sources/xfcc.ts'
import { createTestPki, type TestCertificate, xfccHeader } from '../src/testing/index.ts'

const MAX = { maxCertificates: 3 }

/** What decoding the escapes and then the PEM gives: the blocks, or the error's code and message. */
function reference(raw: string): Uint8Array[] | string {
  const text = decodePercent(raw)
  if (text === null) return 'bad escape'
  try {
    return decodeCertificates(text, MAX)
  } catch (error) {
    return `${(error as { code: string }).code}: ${(error as Error).message}`
  }
}

/** Envoy's URL encoding of PEM: everything but unreserved characters escaped, hex uppercase. */
function envoyEscape(pem: string): string {
  return pem.replace(/[^A-Za-z0-9\-._~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
}

describe('URL-encoded PEM straight to DER', () => {
  let leaf: TestCertificate
  let intermediate: TestCertificate
  let escaped: string

  before(async () => {
    const pki = await createTestPki()
    leaf = await pki.issue({ commonName: 'escaped.contoso.com', uris: ['spiffe://contoso.com/a'] })
    intermediate = pki.intermediate
    escaped = envoyEscape(encodePem(leaf.der))
  })

  it('reads what Envoy and nginx send: one block, a chain, lowercase escapes, raw whitespace', () => {
    assert.deepEqual(decodeEscapedCertificates(escaped, MAX), [leaf.der])
    const chain = envoyEscape(encodePem(leaf.der) + encodePem(intermediate.der))
    assert.deepEqual(decodeEscapedCertificates(chain, MAX), [leaf.der, intermediate.der])
    assert.deepEqual(decodeEscapedCertificates(escaped.replace(/%2F/g, '%2f'), MAX), [leaf.der])
    const rawNewlines = escaped.replace(/%0A/g, '\n')
    assert.deepEqual(decodeEscapedCertificates(` %0A${rawNewlines}\r\n`, MAX), [leaf.der])
  })

  it('declines whatever it does not read plainly, leaving the answer to decodeCertificates', () => {
    const declined = [
      '',
      '%0A',
      escaped.replace('%20', '+'),
      escaped.replace('-----BEGIN', ' x -----BEGIN'),
      // Every PEM has a line break after its BEGIN line: edited into what is not plain base64.
      escaped.replace('-----%0A', '-----%0'),
      escaped.replace('-----%0A', '-----%C3%A9'),
      escaped.replace('-----%0A', '-----%5C'),
      escaped.replace('-----%0A', '-----%25'),
      escaped.slice(0, -10),
      envoyEscape(encodePem(leaf.der).repeat(4)),
    ]
    for (const raw of declined) assert.equal(decodeEscapedCertificates(raw, MAX), null, raw.slice(0, 40))
    // And there, the reference reads or refuses as always (a chain too long, a lone `+` label).
    assert.match(reference(envoyEscape(encodePem(leaf.der).repeat(4))) as string, /^ERR_CHAIN_TOO_LONG/)
    assert.deepEqual(reference(escaped.replace(/%20/g, '+')), [leaf.der])
  })

  it('on random edits of an escaped PEM it gives the reference’s blocks or declines', () => {
    const pieces = ['%', '%2', '%0A', '%0a', '%20', '%2F', '%3D', '%2B', '%5C', '%C3%A9', '%FF', '%zz', '=', '-', '\\n', ' ', '\n', '\t', '\f', 'A', '/', '+', '-----END%20CERTIFICATE-----', '-----BEGIN%20CERTIFICATE-----']
    const edit = fc.record({
      at: fc.nat(),
      cut: fc.nat({ max: 6 }),
      insert: fc.array(fc.constantFrom(...pieces), { maxLength: 3 }),
    })
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        let raw = escaped
        for (const { at, cut, insert } of edits) {
          const i = at % (raw.length + 1)
          raw = raw.slice(0, i) + insert.join('') + raw.slice(i + cut)
        }
        const fast = decodeEscapedCertificates(raw, MAX)
        if (fast !== null) assert.deepEqual(fast, reference(raw))
      }),
      { numRuns: 3000 }
    )
  })

  it('the XFCC parse that keeps escapes refuses and accepts exactly what the decoding parse does', () => {
    const header = xfccHeader(leaf)
    const pieces = ['%', '%2', '%0A', '%C3%A9', '%FF', '%E2%82', '%zz', '%25', '"', ';', ',', '\\', '=']
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(...pieces), (at, piece) => {
        const i = at % (header.length + 1)
        const value = header.slice(0, i) + piece + header.slice(i)
        let plain: ReturnType<typeof parseXfccHeader> | string
        let kept: ReturnType<typeof parseXfccHeader> | string
        try {
          plain = parseXfccHeader(value)
        } catch (error) {
          plain = (error as Error).message
        }
        try {
          kept = parseXfccHeader(value, { keepEscapes: true })
        } catch (error) {
          kept = (error as Error).message
        }
        if (typeof plain === 'string' || typeof kept === 'string') return assert.equal(kept, plain)
        const decoded = kept.elements.map((e) => {
          const copy = { ...e }
          if (e.cert !== undefined) copy.cert = decodePercent(e.cert)!
          if (e.chain !== undefined) copy.chain = decodePercent(e.chain)!
          return copy
        })
        assert.deepEqual(decoded, plain.elements)
        assert.deepEqual(kept.sanKeys, plain.sanKeys)
      }),
      { numRuns: 2000 }
    )
  })

  it('the XFCC source decodes an Envoy header through the escaped path to the same leaf', () => {
    const read = xfccSource().read(new Headers({ 'x-forwarded-client-cert': xfccHeader(leaf) }), {
      maxHeaderBytes: 65536,
      maxChainLength: 3,
    })
    assert.deepEqual(read!.decode().leaf, leaf.der)
  })
})
