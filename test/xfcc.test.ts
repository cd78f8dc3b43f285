import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { encodeXfccPem, formatXfcc } from '../src/xfcc/format.ts'
import { parseXfcc, type XfccElement } from '../src/xfcc/parse.ts'
import { CertgateError, type CertgateErrorCode } from '../src/errors.ts'

function throwsCode(fn: () => unknown, code: CertgateErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof CertgateError && e.code === code)
}

function malformed(header: string): void {
  throwsCode(() => parseXfcc(header), 'ERR_HEADER_MALFORMED')
}

function element(fields: Partial<XfccElement>): XfccElement {
  return { by: [], uri: [], dns: [], ...fields }
}

const HASH1 = '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688'
const HASH2 = '9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e'

// A short stand-in for a certificate: real PEM shape, with the `+` `/` `=` base64 produces.
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB+zCCAaGgAwIBAgIUQ/abc=\n-----END CERTIFICATE-----\n'
const PEM_ENVOY =
  '-----BEGIN%20CERTIFICATE-----%0AMIIB%2BzCCAaGgAwIBAgIUQ%2Fabc%3D%0A' +
  '-----END%20CERTIFICATE-----%0A'
const PEM2 = '-----BEGIN CERTIFICATE-----\nMIIC/TCCAeWgAwIB+g==\n-----END CERTIFICATE-----\n'
const PEM2_ENVOY =
  '-----BEGIN%20CERTIFICATE-----%0AMIIC%2FTCCAeWgAwIB%2Bg%3D%3D%0A-----END%20CERTIFICATE-----%0A'

describe('parseXfcc: real headers', () => {
  it('parses the Envoy doc example', () => {
    const header =
      `By=http://frontend.lyft.com;Hash=${HASH1};` +
      'Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com'
    assert.deepEqual(parseXfcc(header), [
      element({
        by: ['http://frontend.lyft.com'],
        hash: HASH1,
        subject: '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client',
        uri: ['http://testclient.lyft.com'],
      }),
    ])
  })

  it('parses the two-element Envoy doc example left to right', () => {
    const header =
      `By=http://frontend.lyft.com;Hash=${HASH1};URI=http://testclient.lyft.com,` +
      `By=http://backend.lyft.com;Hash=${HASH2};URI=http://frontend.lyft.com`
    assert.deepEqual(parseXfcc(header), [
      element({
        by: ['http://frontend.lyft.com'],
        hash: HASH1,
        uri: ['http://testclient.lyft.com'],
      }),
      element({ by: ['http://backend.lyft.com'], hash: HASH2, uri: ['http://frontend.lyft.com'] }),
    ])
  })

  it('parses the Istio example with an empty Subject', () => {
    const header =
      `By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=${HASH1};Subject="";` +
      'URI=spiffe://cluster.local/ns/foo/sa/sleep'
    assert.deepEqual(parseXfcc(header), [
      element({
        by: ['spiffe://cluster.local/ns/foo/sa/httpbin'],
        hash: HASH1,
        subject: '',
        uri: ['spiffe://cluster.local/ns/foo/sa/sleep'],
      }),
    ])
  })

  it('parses the ACA form with a trailing semicolon', () => {
    const header = `Hash=${HASH1};Cert="${PEM_ENVOY}";Chain="${PEM_ENVOY}${PEM2_ENVOY}";`
    assert.deepEqual(parseXfcc(header), [element({ hash: HASH1, cert: PEM, chain: PEM + PEM2 })])
  })

  it('keeps the RFC 2253 subject of Envoy\'s integration test intact', () => {
    const subject =
      'emailAddress=frontend-team@lyft.com,CN=Test Frontend Team,OU=Lyft Engineering,O=Lyft,' +
      'L=San Francisco,ST=California,C=US'
    assert.deepEqual(parseXfcc(`Hash=${HASH1};Subject="${subject}";URI=`), [
      element({ hash: HASH1, subject }),
    ])
  })
})

describe('parseXfcc: Envoy test vectors', () => {
  it('keeps , ; = and an escaped quote inside a quoted URI', () => {
    assert.deepEqual(parseXfcc('URI="a,b,c;\\"e;f;g=x"'), [element({ uri: ['a,b,c;"e;f;g=x'] })])
  })

  it('unescapes \\\\ to one backslash', () => {
    assert.deepEqual(parseXfcc('URI="\\\\"'), [element({ uri: ['\\'] })])
  })

  it('unescapes \\\\\\" to backslash-quote', () => {
    assert.deepEqual(parseXfcc('URI="\\\\\\""'), [element({ uri: ['\\"'] })])
  })

  it('rejects a quote that never closes', () => {
    malformed('URI="abc;DNS=example.com')
  })
})

describe('parseXfcc: grammar', () => {
  it('closes a quote after an even run of backslashes', () => {
    assert.deepEqual(parseXfcc('URI="a\\\\";DNS=d'), [element({ uri: ['a\\'], dns: ['d'] })])
  })

  it('does not close a quote after an odd run of backslashes', () => {
    malformed('URI="a\\";DNS=d')
    assert.deepEqual(parseXfcc('URI="a\\";DNS=d"'), [element({ uri: ['a";DNS=d'] })])
  })

  it('accepts keys in any case', () => {
    const header =
      `bY=b;hash=${HASH1};CERT="${PEM_ENVOY}";cHaIn="${PEM_ENVOY}";SUBJECT="CN=x";uri=u;Dns=d`
    assert.deepEqual(parseXfcc(header), [
      element({
        by: ['b'],
        hash: HASH1,
        cert: PEM,
        chain: PEM,
        subject: 'CN=x',
        uri: ['u'],
        dns: ['d'],
      }),
    ])
  })

  it('does not let a Unicode case mapping forge a key', () => {
    // U+212A KELVIN SIGN lowercases to `k`, U+0130 to `i̇`: neither may match a key.
    assert.deepEqual(parseXfcc('URİ=a;\u212Aey=b'), [element({})])
  })

  it('tolerates whitespace around , ; and =', () => {
    const header = ` By = b ;\tHash =  ${HASH1} ; Subject = "  CN=x  " ; URI = u  ,  DNS=d ; `
    assert.deepEqual(parseXfcc(header), [
      element({ by: ['b'], hash: HASH1, subject: '  CN=x  ', uri: ['u'] }),
      element({ dns: ['d'] }),
    ])
  })

  it('ignores unknown keys', () => {
    assert.deepEqual(parseXfcc(`Foo=bar;Hash=${HASH1};Extra="x;y";Hashes=z`), [
      element({ hash: HASH1 }),
    ])
  })

  it('keeps an element made only of unknown keys', () => {
    assert.deepEqual(parseXfcc('Foo=bar'), [element({})])
  })

  it('rejects a pair with an empty key', () => {
    malformed('=value')
    malformed(`Hash=${HASH1}; =value`)
  })

  it('rejects a pair without =', () => {
    malformed('Hash')
    malformed(`Hash;Cert="${PEM_ENVOY}"`)
    malformed(`URI=u,Hash`)
  })

  it('rejects a quote in a key', () => {
    malformed('"Hash"=abc')
  })

  it('reads an empty Hash, Cert or Chain as absent', () => {
    assert.deepEqual(parseXfcc('Hash=;Cert=;Chain=""'), [element({})])
  })

  it('reads an unquoted empty URI, By or DNS as no entry, a quoted one as an empty entry', () => {
    assert.deepEqual(parseXfcc('By=;URI=;DNS='), [element({})])
    assert.deepEqual(parseXfcc('By="";URI="";DNS=""'), [
      element({ by: [''], uri: [''], dns: [''] }),
    ])
  })

  it('reads Subject="" and Subject= as an empty subject', () => {
    assert.deepEqual(parseXfcc('Subject=""'), [element({ subject: '' })])
    assert.deepEqual(parseXfcc('Subject='), [element({ subject: '' })])
  })

  it('makes no phantom pair from a trailing semicolon', () => {
    assert.deepEqual(parseXfcc(`Hash=${HASH1};`), [element({ hash: HASH1 })])
    assert.deepEqual(parseXfcc(`Hash=${HASH1} ; `), [element({ hash: HASH1 })])
  })

  it('makes no phantom element from a trailing comma', () => {
    assert.deepEqual(parseXfcc(`Hash=${HASH1},`), [element({ hash: HASH1 })])
    assert.deepEqual(parseXfcc(`Hash=${HASH1};, `), [element({ hash: HASH1 })])
  })

  it('rejects empty elements and empty pairs other than the trailing ones', () => {
    malformed(`Hash=${HASH1},,Hash=${HASH2}`)
    malformed(`Hash=${HASH1}, \t ,Hash=${HASH2}`)
    malformed(`,Hash=${HASH1}`)
    malformed(',')
    malformed(`Hash=${HASH1},,`)
    malformed(`Hash=${HASH1};;URI=u`)
    malformed(`Hash=${HASH1};;`)
    malformed(`;Hash=${HASH1}`)
    malformed(`Hash=${HASH1},;`)
  })

  it('rejects a duplicate Cert', () => {
    malformed(`Cert="${PEM_ENVOY}";Cert="${PEM2_ENVOY}"`)
    malformed(`Hash=${HASH1};Subject="CN=x";cert="${PEM_ENVOY}";URI=u;CERT="${PEM2_ENVOY}"`)
  })

  it('rejects a duplicate Chain', () => {
    malformed(`Chain="${PEM_ENVOY}";Chain="${PEM2_ENVOY}"`)
  })

  it('rejects a duplicate Hash, even when the first one is empty', () => {
    malformed(`Hash=${HASH1};Hash=${HASH2}`)
    malformed(`Hash=;Hash=${HASH2}`)
  })

  it('rejects a duplicate Subject', () => {
    malformed('Subject="CN=a";Subject="CN=b"')
    malformed('Subject="";Subject="CN=b"')
  })

  it('allows the same single key once in each element', () => {
    assert.deepEqual(parseXfcc(`Hash=${HASH1},Hash=${HASH2}`), [
      element({ hash: HASH1 }),
      element({ hash: HASH2 }),
    ])
  })

  it('returns repeated By, URI and DNS in order', () => {
    const header = 'By=b1;URI=u1;DNS=d1;By=b2;DNS=d2;URI=u2;URI=u3;DNS=d3'
    assert.deepEqual(parseXfcc(header), [
      element({ by: ['b1', 'b2'], uri: ['u1', 'u2', 'u3'], dns: ['d1', 'd2', 'd3'] }),
    ])
  })

  it('does not split a quoted Subject on ; or , and keeps RFC 2253 escapes', () => {
    const header = `Subject="CN=Doe\\, John;x,O=Acme\\; Inc\\+1,C=US";Hash=${HASH1}`
    assert.deepEqual(parseXfcc(header), [
      element({ subject: 'CN=Doe\\, John;x,O=Acme\\; Inc\\+1,C=US', hash: HASH1 }),
    ])
  })

  it('keeps a literal \\n and other backslash sequences in quoted values', () => {
    assert.deepEqual(parseXfcc('Subject="a\\nb\\tc\\x"'), [element({ subject: 'a\\nb\\tc\\x' })])
  })

  it('unescapes a quote printed as \\" in a DN and keeps the quote state right', () => {
    const header = `Subject="CN=Say \\"Hi\\",O=Acme";URI=spiffe://x/y,Hash=${HASH2}`
    assert.deepEqual(parseXfcc(header), [
      element({ subject: 'CN=Say "Hi",O=Acme', uri: ['spiffe://x/y'] }),
      element({ hash: HASH2 }),
    ])
  })

  it('reads an unquoted URI as is', () => {
    assert.deepEqual(parseXfcc('URI=https://svc.example.com:8443/a/b?c#d;DNS=svc.example.com'), [
      element({ uri: ['https://svc.example.com:8443/a/b?c#d'], dns: ['svc.example.com'] }),
    ])
  })

  it('keeps = and backslashes in an unquoted value (Envoy writes By/URI/DNS raw)', () => {
    assert.deepEqual(parseXfcc('URI=http://x/?a=b\\c'), [element({ uri: ['http://x/?a=b\\c'] })])
  })

  it('rejects a quote that starts mid-value', () => {
    malformed('URI=a"b"')
    malformed('URI=a"b;c"')
    malformed(`Hash=ab"c;URI=u`)
  })

  it('rejects text after a closing quote', () => {
    malformed('URI="a"b')
    malformed('Subject="CN=x" y;URI=u')
  })

  it('rejects an unmatched quote in an unknown key\'s value', () => {
    malformed('Foo="bar;Hash=abc')
  })
})

describe('parseXfcc: Cert and Chain decoding', () => {
  it('decodes %0A %20 %2B %2F %3D and keeps a literal +', () => {
    const header = 'Cert="a%0Ab%20c%2Bd%2Fe%3Df+g";Chain="x+y%2B"'
    assert.deepEqual(parseXfcc(header), [element({ cert: 'a\nb c+d/e=f+g', chain: 'x+y+' })])
  })

  it('keeps unencoded PEM as is, the form Azure Container Apps shows for its header', () => {
    const pem = '-----BEGIN CERTIFICATE-----MIIB+zCCAaG/gAw==-----END CERTIFICATE-----'
    assert.deepEqual(parseXfcc(`Hash=${HASH1};Cert="${pem}";Chain="${pem}";`), [
      element({ hash: HASH1, cert: pem, chain: pem }),
    ])
  })

  it('rejects a lone %', () => {
    malformed('Cert="abc%"')
  })

  it('rejects a truncated %0', () => {
    malformed('Chain="abc%0"')
  })

  it('rejects a non-hex %ZZ', () => {
    malformed('Cert="%ZZabc"')
  })

  it('does not URL-decode Hash, Subject or URI', () => {
    assert.deepEqual(parseXfcc('Hash=a%20b;Subject="%";URI=%ZZ'), [
      element({ hash: 'a%20b', subject: '%', uri: ['%ZZ'] }),
    ])
  })
})

describe('parseXfcc: unsupported and empty headers', () => {
  it('rejects the JSON format starting with {', () => {
    throwsCode(() => parseXfcc('{"hash":"abc"}'), 'ERR_XFCC_UNSUPPORTED_FORMAT')
    throwsCode(() => parseXfcc('  {"hash":"abc;Cert=x"'), 'ERR_XFCC_UNSUPPORTED_FORMAT')
  })

  it('rejects the JSON format starting with [', () => {
    throwsCode(() => parseXfcc('[{"hash":"abc"}]'), 'ERR_XFCC_UNSUPPORTED_FORMAT')
    throwsCode(() => parseXfcc('\t[ ]'), 'ERR_XFCC_UNSUPPORTED_FORMAT')
  })

  it('rejects an empty header', () => {
    malformed('')
  })

  it('rejects a whitespace-only header', () => {
    malformed('  \t ')
  })

  it('never echoes header content in error messages', () => {
    const secret = 'SECRETVALUE'
    const bad = [
      `URI="${secret}`,
      `${secret}`,
      `Hash=${secret};Hash=${secret}`,
      `Cert="${secret}%ZZ"`,
      `{"${secret}"}`,
      `URI=${secret}"x"`,
    ]
    for (const header of bad) {
      assert.throws(
        () => parseXfcc(header),
        (e: unknown) => e instanceof CertgateError && !e.message.includes(secret)
      )
    }
  })
})

describe('encodeXfccPem', () => {
  it('encodes real PEM exactly as Envoy does', () => {
    assert.equal(encodeXfccPem(PEM), PEM_ENVOY)
    assert.equal(encodeXfccPem(PEM2), PEM2_ENVOY)
  })

  it('also escapes % " , ; and backslash so any string round-trips', () => {
    assert.equal(encodeXfccPem('%",;\\'), '%25%22%2C%3B%5C')
    assert.equal(encodeXfccPem('é\tx'), 'é\tx')
    assert.equal(encodeXfccPem(''), '')
  })
})

describe('formatXfcc', () => {
  it('writes a realistic element as Envoy would', () => {
    const el = element({
      by: ['spiffe://cluster.local/ns/ingress/sa/gateway'],
      hash: HASH1,
      cert: PEM,
      chain: PEM + PEM2,
      subject: 'CN=Test Client,OU=Lyft Engineering,O=Lyft,C=US',
      uri: ['spiffe://cluster.local/ns/foo/sa/client'],
      dns: ['client.example.com', 'alt.example.com'],
    })
    const expected =
      'By=spiffe://cluster.local/ns/ingress/sa/gateway;' +
      `Hash=${HASH1};` +
      `Cert="${PEM_ENVOY}";` +
      `Chain="${PEM_ENVOY}${PEM2_ENVOY}";` +
      'Subject="CN=Test Client,OU=Lyft Engineering,O=Lyft,C=US";' +
      'URI=spiffe://cluster.local/ns/foo/sa/client;' +
      'DNS=client.example.com;DNS=alt.example.com'
    assert.equal(formatXfcc([el]), expected)
    assert.deepEqual(parseXfcc(expected), [el])
  })

  it('joins elements with a comma', () => {
    const header = formatXfcc([element({ hash: HASH1 }), element({ hash: HASH2, subject: '' })])
    assert.equal(header, `Hash=${HASH1},Hash=${HASH2};Subject=""`)
  })

  it('quotes and escapes By, URI and DNS only when needed', () => {
    const el = element({
      by: ['', 'a;b', 'a,b', 'a=b', 'a"b', 'a\\b', ' a', 'a\t', 'a b'],
      uri: ['plain'],
      dns: [''],
    })
    assert.equal(
      formatXfcc([el]),
      'By="";By="a;b";By="a,b";By="a=b";By="a\\"b";By="a\\\\b";By=" a";By="a\t";By=a b;' +
        'URI=plain;DNS=""'
    )
  })

  it('always quotes and escapes Subject', () => {
    assert.equal(formatXfcc([element({ subject: 'CN=a\\,b "q"' })]), 'Subject="CN=a\\\\,b \\"q\\""')
  })

  it('round-trips tricky hand-picked values', () => {
    const elements: XfccElement[] = [
      element({
        by: ['', ' ', '"', '\\', '\\"', 'a,b;c=d', 'ü→🙂', '\n'],
        hash: 'x;y',
        cert: '%%0A+/= "\\,;\n',
        chain: '🙂%ZZ',
        subject: 'CN=Doe\\, John,O="A;B"\\',
        uri: ['', 'URI=', 'a"b"'],
        dns: ['\\\\', '"";'],
      }),
      element({ subject: '' }),
      element({ uri: [''] }),
    ]
    assert.deepEqual(parseXfcc(formatXfcc(elements)), elements)
  })

  it('treats an empty Hash, Cert or Chain as absent', () => {
    assert.equal(formatXfcc([element({ hash: '', cert: '', chain: '', uri: ['u'] })]), 'URI=u')
  })

  it('throws a RangeError for no elements or an element with no values', () => {
    assert.throws(() => formatXfcc([]), RangeError)
    assert.throws(() => formatXfcc([element({ hash: HASH1 }), element({})]), RangeError)
  })
})

describe('properties', () => {
  const specialChar = fc.constantFrom(...'",;=\\ \n%+/')
  const oneGrapheme = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })
  const text = fc.oneof(
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: specialChar }),
    fc.string({ unit: fc.oneof(specialChar, oneGrapheme) })
  )
  const nonEmpty = text.filter((s) => s !== '')
  const list = fc.array(text, { maxLength: 3 })
  const elementArb: fc.Arbitrary<XfccElement> = fc
    .record(
      {
        by: list,
        hash: nonEmpty,
        cert: nonEmpty,
        chain: nonEmpty,
        subject: text,
        uri: list,
        dns: list,
      },
      { requiredKeys: ['by', 'uri', 'dns'] }
    )
    // fc.record builds null-prototype objects; deepStrictEqual compares prototypes.
    .map((el) => ({ ...el }))
    .filter(
      (el) =>
        el.by.length + el.uri.length + el.dns.length > 0 ||
        el.hash !== undefined ||
        el.cert !== undefined ||
        el.chain !== undefined ||
        el.subject !== undefined
    )

  it('parseXfcc(formatXfcc(x)) deep-equals x', () => {
    fc.assert(
      fc.property(fc.array(elementArb, { minLength: 1, maxLength: 3 }), (elements) => {
        assert.deepEqual(parseXfcc(formatXfcc(elements)), elements)
      }),
      { numRuns: 300 }
    )
  })

  it('parseXfcc returns elements or throws a CertgateError with an XFCC code', () => {
    const tokens = fc.constantFrom(
      ...['By=', 'Hash=', 'Cert=', 'Subject=', 'URI=', 'DNS=', '%', '%2', '{', '[', '\t']
    )
    const input = fc.oneof(
      fc.string({ unit: fc.oneof(specialChar, tokens, fc.constantFrom('a', 'B', '0')) }),
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'binary' })
    )
    fc.assert(
      fc.property(input, (header) => {
        let result: unknown
        try {
          result = parseXfcc(header)
        } catch (e) {
          assert.ok(e instanceof CertgateError, 'not a CertgateError')
          assert.ok(e.code === 'ERR_HEADER_MALFORMED' || e.code === 'ERR_XFCC_UNSUPPORTED_FORMAT')
          return
        }
        assert.ok(Array.isArray(result) && result.length > 0)
      }),
      { numRuns: 300 }
    )
  })
})
