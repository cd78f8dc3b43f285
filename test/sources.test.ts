// Certificate sources: each proxy's headers built exactly as that proxy writes them, including
// the escaping quirks, then read and decoded. Every test asserts the decoded DER,
// the chain, the hash, or the exact refusal code.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CertgateError, type CertgateErrorCode } from '../src/errors.ts'
import {
  albSource,
  appGatewaySource,
  appServiceSource,
  type CertificateSource,
  chooseXfccElement,
  cloudflareSource,
  customSource,
  type ForwardedCertificate,
  nginxSource,
  rfc9440Source,
  SOURCE_NAMES,
  type SourceLimits,
  type SourceRead,
  sourceByName,
  traefikSource,
  xfccSource,
} from '../src/sources/index.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'
import { encodeBase64 } from '../src/x509/pem.ts'
import { parseXfcc } from '../src/xfcc/parse.ts'

const LIMITS: SourceLimits = { maxHeaderBytes: 16384, maxChainLength: 8 }

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function read(
  source: CertificateSource,
  headers: Record<string, string>,
  limits: SourceLimits = LIMITS
): SourceRead | null {
  return source.read(new Headers(headers), limits)
}

function decode(
  source: CertificateSource,
  headers: Record<string, string>,
  limits: SourceLimits = LIMITS
): ForwardedCertificate {
  const result = read(source, headers, limits)
  assert.notEqual(result, null, 'expected a certificate')
  return result!.decode()
}

function assertCertificate(
  actual: ForwardedCertificate,
  leaf: TestCertificate,
  chain: readonly TestCertificate[] = []
): void {
  assert.equal(hex(actual.leaf), hex(leaf.der))
  assert.deepEqual(
    actual.chain.map(hex),
    chain.map((c) => hex(c.der))
  )
}

function throwsCode(fn: () => unknown, code: CertgateErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CertgateError, `expected a CertgateError, got ${String(e)}`)
    assert.equal(e.code, code)
    return true
  })
}

/** The header Traefik's sanitize() writes for one certificate: PEM minus armour and newlines. */
function traefikPiece(cert: TestCertificate): string {
  return cert.pem
    .replace('-----BEGIN CERTIFICATE-----', '')
    .replace('-----END CERTIFICATE-----', '')
    .replace(/\n/g, '')
}

/** Go's url.QueryEscape: everything but A-Z a-z 0-9 - _ . ~ escaped, a space becomes '+'. */
function goQueryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

/**
 * nginx's $ssl_client_escaped_cert (ngx_escape_uri, NGX_ESCAPE_URI_COMPONENT): everything but
 * A-Z a-z 0-9 - . _ ~ escaped, as encodeURIComponent does for the characters PEM holds.
 */
function nginxEscape(pem: string): string {
  return encodeURIComponent(pem)
}

/** ALB: "URL-encoded PEM format … with +=/ as safe characters" (Python's quote(safe='+=/')). */
function albEscape(pem: string): string {
  return encodeURIComponent(pem).replace(/%2B/g, '+').replace(/%3D/g, '=').replace(/%2F/g, '/')
}

/** nginx's deprecated $ssl_client_cert: a tab after every newline but the dropped last one. */
function nginxTabbed(pem: string): string {
  return pem.slice(0, -1).replace(/\n/g, '\n\t')
}

describe('certificate sources', () => {
  let pki: TestPki
  let leaf: TestCertificate
  let other: TestCertificate

  before(async () => {
    pki = await createTestPki()
    leaf = await pki.issue({ commonName: 'api-client.contoso.com' })
    other = await pki.issue({ commonName: 'someone-else' })
  })

  describe('xfccSource (Envoy, ACA)', () => {
    it('reads the rightmost element: Cert as leaf, Chain as forwarded, Hash in uppercase', () => {
      const value = xfccHeader(leaf)
      const result = read(xfccSource(), { 'x-forwarded-client-cert': value })
      assert.equal(result?.key, value)
      const decoded = result!.decode()
      assertCertificate(decoded, leaf, [leaf, pki.intermediate])
      assert.equal(decoded.hash, leaf.thumbprint)
    })

    it('reads ACA’s documented shape, trailing semicolon included', () => {
      const decoded = decode(xfccSource(), {
        'x-forwarded-client-cert': xfccHeader(leaf, { style: 'aca' }),
      })
      assertCertificate(decoded, leaf, [leaf, pki.intermediate])
    })

    it('takes the leaf from Chain when there is no Cert', () => {
      const chainPem = encodeURIComponent(leaf.pem + pki.intermediate.pem)
      const decoded = decode(xfccSource(), { 'x-forwarded-client-cert': `Chain="${chainPem}"` })
      assertCertificate(decoded, leaf, [leaf, pki.intermediate])
      assert.equal(decoded.hash, undefined)
    })

    it('picks the element asked for; by default not the client-sent one on the left', () => {
      const value = xfccHeader(leaf, { before: xfccHeader(other, { chain: false }) })
      assertCertificate(decode(xfccSource(), { 'x-forwarded-client-cert': value }), leaf, [
        leaf,
        pki.intermediate,
      ])
      assertCertificate(
        decode(xfccSource({ element: 'leftmost' }), { 'x-forwarded-client-cert': value }),
        other
      )
      assertCertificate(
        decode(xfccSource({ element: { fromRight: 1 } }), { 'x-forwarded-client-cert': value }),
        other
      )
      throwsCode(
        () =>
          decode(xfccSource({ element: { fromRight: 2 } }), { 'x-forwarded-client-cert': value }),
        'ERR_HEADER_MALFORMED'
      )
    })

    it('reads a configured header name', () => {
      const source = xfccSource({ header: 'X-Client-Cert' })
      assertCertificate(
        decode(source, { 'x-client-cert': xfccHeader(leaf, { chain: false }) }),
        leaf
      )
      assert.equal(read(source, { 'x-forwarded-client-cert': xfccHeader(leaf) }), null)
    })

    it('a Hash without Cert is a certificate nobody can check: ERR_CERT_MISSING', () => {
      const result = read(xfccSource(), { 'x-forwarded-client-cert': `Hash=${'ab'.repeat(32)}` })
      throwsCode(() => result!.decode(), 'ERR_CERT_MISSING')
    })

    it('normalises a Hash with colons, refuses one that is not SHA-256', () => {
      const colons = leaf.thumbprint.toLowerCase().match(/../g)!.join(':')
      const decoded = decode(xfccSource(), {
        'x-forwarded-client-cert': xfccHeader(leaf, { hash: colons, chain: false }),
      })
      assert.equal(decoded.hash, leaf.thumbprint)
      const sha1 = xfccHeader(leaf, { hash: 'ab'.repeat(20) })
      throwsCode(
        () => decode(xfccSource(), { 'x-forwarded-client-cert': sha1 }),
        'ERR_HEADER_MALFORMED'
      )
    })

    it('null without the header or with it blank; underscore spellings are never read', () => {
      assert.equal(read(xfccSource(), {}), null)
      assert.equal(read(xfccSource(), { 'x-forwarded-client-cert': '  ' }), null)
      assert.equal(read(xfccSource(), { x_forwarded_client_cert: xfccHeader(leaf) }), null)
      assert.throws(() => xfccSource({ header: 'x_forwarded_client_cert' }), TypeError)
    })

    it('oversized header refused in read(), malformed header and long chain in decode()', () => {
      const value = xfccHeader(leaf)
      throwsCode(
        () =>
          read(
            xfccSource(),
            { 'x-forwarded-client-cert': value },
            { ...LIMITS, maxHeaderBytes: 100 }
          ),
        'ERR_HEADER_TOO_LARGE'
      )
      throwsCode(
        () => decode(xfccSource(), { 'x-forwarded-client-cert': 'Cert="abc' }),
        'ERR_HEADER_MALFORMED'
      )
      throwsCode(
        () =>
          decode(
            xfccSource(),
            { 'x-forwarded-client-cert': value },
            { ...LIMITS, maxChainLength: 1 }
          ),
        'ERR_CHAIN_TOO_LONG'
      )
    })

    it('checks its options at creation', () => {
      assert.throws(() => xfccSource({ element: { fromRight: -1 } }), TypeError)
      assert.throws(() => xfccSource({ element: 'middle' as 'leftmost' }), TypeError)
      assert.throws(() => xfccSource({ header: 'bad header' }), TypeError)
    })

    it('chooseXfccElement picks as the source does: rightmost by default, leftmost, or counted', () => {
      const elements = parseXfcc('By=a;URI=,By=b;URI=,By=c;URI=')
      assert.deepEqual(chooseXfccElement(elements).by, ['c'])
      assert.deepEqual(chooseXfccElement(elements, 'leftmost').by, ['a'])
      assert.deepEqual(chooseXfccElement(elements, { fromRight: 1 }).by, ['b'])
      throwsCode(() => chooseXfccElement(elements, { fromRight: 3 }), 'ERR_HEADER_MALFORMED')
    })
  })

  describe('traefikSource', () => {
    const HEADER = 'x-forwarded-tls-client-cert'

    it('reads the base64 DER Traefik writes, leaf first, chain comma-joined', () => {
      const value = [leaf, pki.intermediate].map(traefikPiece).join(',')
      const result = read(traefikSource(), { [HEADER]: value })
      assert.equal(result?.key, value)
      const decoded = result!.decode()
      assertCertificate(decoded, leaf, [pki.intermediate])
      assert.equal(decoded.hash, undefined)
    })

    it('reads the leaf alone', () => {
      assertCertificate(decode(traefikSource(), { [HEADER]: traefikPiece(leaf) }), leaf)
    })

    it('reads the URL-escaped form of Traefik 2.8 to 2.9.1 (QueryEscape per certificate)', () => {
      const value = [leaf, pki.intermediate].map((c) => goQueryEscape(traefikPiece(c))).join(',')
      assert.match(value, /%2B|%2F|%3D/)
      assertCertificate(decode(traefikSource(), { [HEADER]: value }), leaf, [pki.intermediate])
    })

    it('ignores the -Info header for identity', () => {
      const info = goQueryEscape(
        'Subject="CN=admin";Issuer="CN=root";SerialNumber="1";NB="1";NA="2"'
      )
      assert.equal(read(traefikSource(), { [`${HEADER}-info`]: info }), null)
      assertCertificate(
        decode(traefikSource(), { [HEADER]: traefikPiece(leaf), [`${HEADER}-info`]: info }),
        leaf
      )
    })

    it('refuses two copies joined by Headers, full PEM, and junk: ERR_HEADER_MALFORMED', () => {
      const headers = new Headers()
      headers.append(HEADER, traefikPiece(other))
      headers.append(HEADER, traefikPiece(leaf))
      throwsCode(() => traefikSource().read(headers, LIMITS)!.decode(), 'ERR_HEADER_MALFORMED')
      throwsCode(
        () => decode(traefikSource(), { [HEADER]: leaf.pem.replace(/\n/g, ' ') }),
        'ERR_HEADER_MALFORMED'
      )
      throwsCode(
        () => decode(traefikSource(), { [HEADER]: `${traefikPiece(leaf)},` }),
        'ERR_HEADER_MALFORMED'
      )
      throwsCode(() => decode(traefikSource(), { [HEADER]: '%ZZ' }), 'ERR_HEADER_MALFORMED')
    })

    it('refuses bad base64, an oversized header and too many certificates', () => {
      throwsCode(() => decode(traefikSource(), { [HEADER]: 'QUJDR' }), 'ERR_CERT_MALFORMED')
      const value = [leaf, pki.intermediate, pki.root].map(traefikPiece).join(',')
      throwsCode(
        () => read(traefikSource(), { [HEADER]: value }, { ...LIMITS, maxHeaderBytes: 64 }),
        'ERR_HEADER_TOO_LARGE'
      )
      throwsCode(
        () => decode(traefikSource(), { [HEADER]: value }, { ...LIMITS, maxChainLength: 2 }),
        'ERR_CHAIN_TOO_LONG'
      )
    })

    it('never reads the X_ spelling', () => {
      assert.equal(read(traefikSource(), { x_forwarded_tls_client_cert: traefikPiece(leaf) }), null)
    })
  })

  describe('nginxSource (nginx, ingress-nginx)', () => {
    /** What ingress-nginx's nginx.tmpl sets with auth-tls-pass-certificate-to-upstream. */
    function ingressNginx(cert: TestCertificate, verify: string): Record<string, string> {
      return {
        'ssl-client-cert': nginxEscape(cert.pem),
        'ssl-client-verify': verify,
        'ssl-client-subject-dn': 'CN=admin',
        'ssl-client-issuer-dn': 'CN=Test Intermediate CA',
      }
    }

    it('SUCCESS with $ssl_client_escaped_cert: the leaf, no chain', () => {
      const headers = ingressNginx(leaf, 'SUCCESS')
      assert.match(headers['ssl-client-cert']!, /^-----BEGIN%20CERTIFICATE-----%0A/)
      const result = read(nginxSource(), headers)
      assert.equal(result?.key, headers['ssl-client-cert'])
      assertCertificate(result!.decode(), leaf)
    })

    it('reads the deprecated tab-prefixed $ssl_client_cert as it arrives unfolded', () => {
      const folded = nginxTabbed(leaf.pem)
      assert.match(folded, /-----\n\tMI/)
      // A lenient HTTP parser drops the line break and keeps the tab; RFC 9112 asks for a space.
      for (const value of [folded.replace(/\n/g, ''), folded.replace(/\n/g, ' ')]) {
        assertCertificate(
          decode(nginxSource(), { 'ssl-client-cert': value, 'ssl-client-verify': 'SUCCESS' }),
          leaf
        )
      }
    })

    it('NONE is no certificate, whatever else arrived', () => {
      assert.equal(read(nginxSource(), ingressNginx(leaf, 'NONE')), null)
      assert.equal(read(nginxSource(), { 'ssl-client-verify': 'NONE' }), null)
      assert.equal(read(nginxSource(), {}), null)
    })

    it('FAILED:<reason> is ERR_PROXY_VERIFY_FAILED; the reason stays out of the message', () => {
      const reason = 'FAILED:certificate has expired'
      throwsCode(() => read(nginxSource(), ingressNginx(leaf, reason)), 'ERR_PROXY_VERIFY_FAILED')
      throwsCode(
        () => read(nginxSource(), { 'ssl-client-verify': reason }),
        'ERR_PROXY_VERIFY_FAILED'
      )
      assert.throws(
        () => read(nginxSource(), ingressNginx(leaf, reason)),
        (e: unknown) => e instanceof CertgateError && !e.message.includes('expired')
      )
    })

    it('a certificate without a verdict, or an unknown verdict: ERR_HEADER_MALFORMED', () => {
      const cert = nginxEscape(leaf.pem)
      throwsCode(() => read(nginxSource(), { 'ssl-client-cert': cert }), 'ERR_HEADER_MALFORMED')
      throwsCode(() => read(nginxSource(), ingressNginx(leaf, 'success')), 'ERR_HEADER_MALFORMED')
      const twice = new Headers({ 'ssl-client-cert': cert })
      twice.append('ssl-client-verify', 'SUCCESS')
      twice.append('ssl-client-verify', 'SUCCESS')
      throwsCode(() => nginxSource().read(twice, LIMITS), 'ERR_HEADER_MALFORMED')
    })

    it('verifyHeader: false reads the certificate alone', () => {
      const source = nginxSource({ verifyHeader: false })
      assertCertificate(decode(source, { 'ssl-client-cert': nginxEscape(leaf.pem) }), leaf)
      assertCertificate(
        decode(source, { 'ssl-client-cert': nginxEscape(leaf.pem), 'ssl-client-verify': 'NONE' }),
        leaf
      )
    })

    it('SUCCESS without the certificate: ERR_CERT_MISSING', () => {
      throwsCode(() => read(nginxSource(), { 'ssl-client-verify': 'SUCCESS' }), 'ERR_CERT_MISSING')
    })

    it('verifyHeader is checked alike by every source that takes it; only nginx turns a default off', () => {
      const bad = 'ssl_client_verify'
      assert.throws(() => nginxSource({ verifyHeader: bad }), TypeError)
      assert.throws(() => appGatewaySource({ certHeader: 'x-client-cert', verifyHeader: bad }), TypeError)
      assert.throws(() => cloudflareSource({ verifyHeader: bad }), TypeError)
      assert.throws(() => rfc9440Source({ verifyHeader: bad }), TypeError)
      assert.throws(() => cloudflareSource({ verifyHeader: false as unknown as string }), TypeError)
      assert.throws(() => rfc9440Source({ verifyHeader: false as unknown as string }), TypeError)
    })

    it('configured header names', () => {
      const source = nginxSource({ certHeader: 'X-SSL-Cert', verifyHeader: 'X-SSL-Verify' })
      assertCertificate(
        decode(source, { 'x-ssl-cert': nginxEscape(leaf.pem), 'x-ssl-verify': 'SUCCESS' }),
        leaf
      )
      assert.throws(() => nginxSource({ certHeader: 'ssl_client_cert' }), TypeError)
      assert.equal(
        read(nginxSource(), {
          ssl_client_cert: nginxEscape(leaf.pem),
          ssl_client_verify: 'SUCCESS',
        }),
        null
      )
    })

    it('refuses a chain, bad escapes, oversized headers', () => {
      const two = nginxEscape(leaf.pem + pki.intermediate.pem)
      throwsCode(
        () => decode(nginxSource(), { 'ssl-client-cert': two, 'ssl-client-verify': 'SUCCESS' }),
        'ERR_CERT_MALFORMED'
      )
      throwsCode(
        () => decode(nginxSource(), { 'ssl-client-cert': '%0', 'ssl-client-verify': 'SUCCESS' }),
        'ERR_HEADER_MALFORMED'
      )
      const small = { ...LIMITS, maxHeaderBytes: 16 }
      throwsCode(
        () => read(nginxSource(), ingressNginx(leaf, 'SUCCESS'), small),
        'ERR_HEADER_TOO_LARGE'
      )
      throwsCode(
        () => read(nginxSource(), { 'ssl-client-verify': `FAILED:${'x'.repeat(40)}` }, small),
        'ERR_HEADER_TOO_LARGE'
      )
    })
  })

  describe('albSource (AWS ALB)', () => {
    it('verify mode: X-Amzn-Mtls-Clientcert-Leaf, URL-encoded with +=/ left as they are', () => {
      const value = albEscape(leaf.pem)
      assert.match(value, /^-----BEGIN%20CERTIFICATE-----%0A/)
      assert.doesNotMatch(value, /%2B|%2F|%3D/)
      const result = read(albSource(), {
        'x-amzn-mtls-clientcert-leaf': value,
        'x-amzn-mtls-clientcert-serial-number': '0A1B',
        'x-amzn-mtls-clientcert-subject': 'CN=api-client.contoso.com',
      })
      assert.equal(result?.key, value)
      assertCertificate(result!.decode(), leaf)
    })

    it('a literal + stays base64, never a space', () => {
      // The DER of some certificate has a '+' in its base64; make sure this one is checked.
      const withPlus = [leaf, other, pki.intermediate].find((c) => c.pem.includes('+'))
      assert.ok(withPlus, 'no test certificate has a + in its base64')
      assertCertificate(
        decode(albSource(), { 'x-amzn-mtls-clientcert-leaf': albEscape(withPlus.pem) }),
        withPlus
      )
    })

    it('passthrough mode: X-Amzn-Mtls-Clientcert, the whole chain leaf to root', () => {
      const value = albEscape(leaf.pem + pki.intermediate.pem + pki.root.pem)
      const source = albSource({ mode: 'passthrough' })
      assert.equal(source.name, 'alb-passthrough')
      assertCertificate(decode(source, { 'x-amzn-mtls-clientcert': value }), leaf, [
        pki.intermediate,
        pki.root,
      ])
      throwsCode(
        () => decode(source, { 'x-amzn-mtls-clientcert': value }, { ...LIMITS, maxChainLength: 2 }),
        'ERR_CHAIN_TOO_LONG'
      )
    })

    it('reads only the configured mode’s header: the other can only come from the client', () => {
      assert.equal(read(albSource(), { 'x-amzn-mtls-clientcert': albEscape(other.pem) }), null)
      assert.equal(
        read(albSource({ mode: 'passthrough' }), {
          'x-amzn-mtls-clientcert-leaf': albEscape(other.pem),
        }),
        null
      )
      assert.throws(() => albSource({ mode: 'both' as 'verify' }), TypeError)
    })

    it('refuses a chain in the leaf header, an oversized header, malformed PEM', () => {
      throwsCode(
        () =>
          decode(albSource(), {
            'x-amzn-mtls-clientcert-leaf': albEscape(leaf.pem + pki.intermediate.pem),
          }),
        'ERR_CERT_MALFORMED'
      )
      throwsCode(
        () =>
          read(
            albSource(),
            { 'x-amzn-mtls-clientcert-leaf': albEscape(leaf.pem) },
            { ...LIMITS, maxHeaderBytes: 99 }
          ),
        'ERR_HEADER_TOO_LARGE'
      )
      const key = albEscape(leaf.pem.replace('CERTIFICATE', 'PRIVATE KEY'))
      throwsCode(
        () => decode(albSource(), { 'x-amzn-mtls-clientcert-leaf': key }),
        'ERR_CERT_MALFORMED'
      )
    })
  })

  describe('appServiceSource (Azure App Service)', () => {
    it('X-ARR-ClientCert: base64 DER', () => {
      const value = encodeBase64(leaf.der)
      const result = read(appServiceSource(), { 'x-arr-clientcert': value })
      assert.equal(result?.key, value)
      assertCertificate(result!.decode(), leaf)
      assert.equal(read(appServiceSource(), {}), null)
    })

    it('refuses two copies, bad base64, an oversized header', () => {
      const headers = new Headers()
      headers.append('x-arr-clientcert', encodeBase64(other.der))
      headers.append('x-arr-clientcert', encodeBase64(leaf.der))
      throwsCode(() => appServiceSource().read(headers, LIMITS)!.decode(), 'ERR_CERT_MALFORMED')
      throwsCode(
        () => decode(appServiceSource(), { 'x-arr-clientcert': 'not*base64' }),
        'ERR_CERT_MALFORMED'
      )
      throwsCode(
        () =>
          read(
            appServiceSource(),
            { 'x-arr-clientcert': encodeBase64(leaf.der) },
            { ...LIMITS, maxHeaderBytes: 10 }
          ),
        'ERR_HEADER_TOO_LARGE'
      )
    })
  })

  describe('appGatewaySource (Azure Application Gateway)', () => {
    const options = { certHeader: 'X-Client-Cert', verifyHeader: 'X-Client-Cert-Verification' }

    it('reads the PEM in each shape a header can carry it, with its verdict', () => {
      const shapes = [
        encodeURIComponent(leaf.pem),
        leaf.pem.trimEnd().replace(/\n/g, ' '),
        leaf.pem.replace(/\n/g, ''),
      ]
      for (const pem of shapes) {
        assertCertificate(
          decode(appGatewaySource(options), {
            'x-client-cert': pem,
            'x-client-cert-verification': 'SUCCESS',
          }),
          leaf
        )
      }
    })

    it('honours NONE and FAILED:<reason>', () => {
      const pem = encodeURIComponent(leaf.pem)
      assert.equal(
        read(appGatewaySource(options), {
          'x-client-cert': pem,
          'x-client-cert-verification': 'NONE',
        }),
        null
      )
      throwsCode(
        () =>
          read(appGatewaySource(options), {
            'x-client-cert': pem,
            'x-client-cert-verification': 'FAILED:unable to get local issuer certificate',
          }),
        'ERR_PROXY_VERIFY_FAILED'
      )
    })

    it('without verifyHeader reads the certificate alone', () => {
      const source = appGatewaySource({ certHeader: 'x-client-cert' })
      assertCertificate(decode(source, { 'x-client-cert': encodeURIComponent(leaf.pem) }), leaf)
      assert.throws(() => appGatewaySource({} as { certHeader: string }), TypeError)
    })
  })

  describe('cloudflareSource', () => {
    it('Cf-Client-Cert-Der-Base64 with Cf-Client-Cert-Sha256 (lowercase hex) as the hash', () => {
      const der = encodeBase64(leaf.der)
      const sha = leaf.thumbprint.toLowerCase()
      const result = read(cloudflareSource(), {
        'cf-client-cert-der-base64': der,
        'cf-client-cert-sha256': sha,
      })
      assert.equal(result?.key, `${der}\n${sha}`)
      const decoded = result!.decode()
      assertCertificate(decoded, leaf)
      assert.equal(decoded.hash, leaf.thumbprint)
    })

    it('without the hash header; with a base64 hash; the key follows the hash', () => {
      const der = encodeBase64(leaf.der)
      const plain = read(cloudflareSource(), { 'cf-client-cert-der-base64': der })
      assert.equal(plain?.key, der)
      assert.equal(plain!.decode().hash, undefined)
      const b64 = encodeBase64(
        Uint8Array.from(leaf.thumbprint.match(/../g)!, (h) => parseInt(h, 16))
      )
      const decoded = decode(cloudflareSource(), {
        'cf-client-cert-der-base64': der,
        'cf-client-cert-sha256': b64,
      })
      assert.equal(decoded.hash, leaf.thumbprint)
    })

    it('hands on a wrong hash for the verifier to refuse, refuses one that is not SHA-256', () => {
      const der = encodeBase64(leaf.der)
      const wrong = decode(cloudflareSource(), {
        'cf-client-cert-der-base64': der,
        'cf-client-cert-sha256': other.thumbprint.toLowerCase(),
      })
      assert.equal(wrong.hash, other.thumbprint)
      throwsCode(
        () =>
          decode(cloudflareSource(), {
            'cf-client-cert-der-base64': der,
            'cf-client-cert-sha256': 'ab'.repeat(20),
          }),
        'ERR_HEADER_MALFORMED'
      )
    })

    it('null without a certificate; an oversized hash header is refused', () => {
      assert.equal(read(cloudflareSource(), { 'cf-client-cert-sha256': leaf.thumbprint }), null)
      throwsCode(
        () =>
          read(
            cloudflareSource(),
            { 'cf-client-cert-der-base64': 'AAAA', 'cf-client-cert-sha256': 'a'.repeat(200) },
            { ...LIMITS, maxHeaderBytes: 100 }
          ),
        'ERR_HEADER_TOO_LARGE'
      )
    })

    it('an optional verdict header filled from certVerified', () => {
      const source = cloudflareSource({ verifyHeader: 'cf-client-cert-verified' })
      const der = encodeBase64(leaf.der)
      throwsCode(
        () =>
          read(source, {
            'cf-client-cert-der-base64': der,
            'cf-client-cert-verified': 'FAILED:self signed certificate',
          }),
        'ERR_PROXY_VERIFY_FAILED'
      )
      assertCertificate(
        decode(source, { 'cf-client-cert-der-base64': der, 'cf-client-cert-verified': 'SUCCESS' }),
        leaf
      )
    })
  })

  describe('rfc9440Source', () => {
    function sf(cert: TestCertificate): string {
      return `:${encodeBase64(cert.der)}:`
    }

    it('Client-Cert and a Client-Cert-Chain that excludes the leaf', () => {
      const chain = `${sf(pki.intermediate)}, ${sf(pki.root)}`
      const result = read(rfc9440Source(), { 'client-cert': sf(leaf), 'client-cert-chain': chain })
      assert.equal(result?.key, `${sf(leaf)}\n${chain}`)
      assertCertificate(result!.decode(), leaf, [pki.intermediate, pki.root])
    })

    it('list members with no whitespace, tabs, and as two header lines', () => {
      for (const chain of [
        `${sf(pki.intermediate)},${sf(pki.root)}`,
        `${sf(pki.intermediate)}\t,\t${sf(pki.root)}`,
        `${sf(pki.intermediate)}   ,${sf(pki.root)}`,
      ]) {
        assertCertificate(
          decode(rfc9440Source(), { 'client-cert': sf(leaf), 'client-cert-chain': chain }),
          leaf,
          [pki.intermediate, pki.root]
        )
      }
      const headers = new Headers({ 'client-cert': sf(leaf) })
      headers.append('client-cert-chain', sf(pki.intermediate))
      headers.append('client-cert-chain', sf(pki.root))
      assertCertificate(rfc9440Source().read(headers, LIMITS)!.decode(), leaf, [
        pki.intermediate,
        pki.root,
      ])
    })

    it('the leaf alone, and base64 without padding', () => {
      assertCertificate(decode(rfc9440Source(), { 'client-cert': sf(leaf) }), leaf)
      const unpadded = `:${encodeBase64(leaf.der).replace(/=+$/, '')}:`
      assertCertificate(decode(rfc9440Source(), { 'client-cert': unpadded }), leaf)
    })

    it('refuses what is not a byte sequence: ERR_HEADER_MALFORMED', () => {
      const b64 = encodeBase64(leaf.der)
      for (const value of [
        b64,
        `:${b64}`,
        `:${b64.slice(0, 40)} ${b64.slice(40)}:`,
        `:${b64}:;a=1`,
        `${sf(leaf)}, ${sf(other)}`,
        `"${b64}"`,
      ]) {
        throwsCode(() => decode(rfc9440Source(), { 'client-cert': value }), 'ERR_HEADER_MALFORMED')
      }
      for (const chain of [
        `${sf(pki.intermediate)},`,
        `${sf(pki.intermediate)} ${sf(pki.root)}`,
        ',',
      ]) {
        throwsCode(
          () => decode(rfc9440Source(), { 'client-cert': sf(leaf), 'client-cert-chain': chain }),
          'ERR_HEADER_MALFORMED'
        )
      }
      throwsCode(
        () => read(rfc9440Source(), { 'client-cert-chain': sf(pki.intermediate) }),
        'ERR_HEADER_MALFORMED'
      )
      throwsCode(() => decode(rfc9440Source(), { 'client-cert': '::' }), 'ERR_CERT_MALFORMED')
    })

    it('refuses too many chain certificates and oversized headers', () => {
      const chain = [pki.intermediate, pki.root, other].map(sf).join(', ')
      throwsCode(
        () =>
          decode(
            rfc9440Source(),
            { 'client-cert': sf(leaf), 'client-cert-chain': chain },
            { ...LIMITS, maxChainLength: 2 }
          ),
        'ERR_CHAIN_TOO_LONG'
      )
      throwsCode(
        () =>
          read(
            rfc9440Source(),
            { 'client-cert': ':AAAA:', 'client-cert-chain': chain },
            { ...LIMITS, maxHeaderBytes: 100 }
          ),
        'ERR_HEADER_TOO_LARGE'
      )
    })

    it('null without Client-Cert; a verdict header when configured', () => {
      assert.equal(read(rfc9440Source(), {}), null)
      const source = rfc9440Source({ verifyHeader: 'client-cert-verified' })
      throwsCode(
        () => read(source, { 'client-cert': sf(leaf), 'client-cert-verified': 'FAILED:revoked' }),
        'ERR_PROXY_VERIFY_FAILED'
      )
      assert.equal(read(source, { 'client-cert': sf(leaf), 'client-cert-verified': 'NONE' }), null)
    })
  })

  describe('customSource', () => {
    it('reads what the function returns: PEM, DER bytes, a PEM bundle as chain, a hash', () => {
      const source = customSource('haproxy', (headers) => {
        const der = headers.get('x-ssl-client-der')
        if (der === null) return null
        return {
          key: der,
          leaf: der,
          chain: [pki.intermediate.der, pki.intermediate.pem + pki.root.pem],
          hash: leaf.thumbprint.toLowerCase(),
        }
      })
      assert.equal(source.name, 'haproxy')
      assert.equal(read(source, {}), null)
      const value = encodeBase64(leaf.der)
      const result = read(source, { 'x-ssl-client-der': value })
      assert.equal(result?.key, value)
      const decoded = result!.decode()
      assertCertificate(decoded, leaf, [pki.intermediate, pki.intermediate, pki.root])
      assert.equal(decoded.hash, leaf.thumbprint)
      assertCertificate(
        customSource('bytes', () => ({ key: 'k', leaf: leaf.der }))
          .read(new Headers(), LIMITS)!
          .decode(),
        leaf
      )
    })

    it('holds every header get() and every returned string to maxHeaderBytes', () => {
      const big = { 'x-cert': 'A'.repeat(200) }
      const small = { ...LIMITS, maxHeaderBytes: 100 }
      const viaGet = customSource('get', (headers) => ({
        key: 'k',
        leaf: headers.get('x-cert') ?? '',
      }))
      throwsCode(() => read(viaGet, big, small), 'ERR_HEADER_TOO_LARGE')
      const returned = customSource('returned', () => ({ key: 'k', leaf: 'A'.repeat(200) }))
      throwsCode(() => read(returned, {}, small), 'ERR_HEADER_TOO_LARGE')
      // The other Headers methods still work on the guarded view.
      const other = customSource('has', (headers) =>
        headers.has('x-cert') ? { key: 'k', leaf: leaf.der } : null
      )
      assertCertificate(read(other, { 'x-cert': 'x' })!.decode(), leaf)
      const iterated = customSource('iterate', (headers) => {
        for (const [name] of headers) if (name === 'x-cert') return { key: 'k', leaf: leaf.der }
        return null
      })
      assertCertificate(read(iterated, { 'x-cert': 'x' })!.decode(), leaf)
    })

    it('enforces maxChainLength, refuses a multi-certificate leaf and bad results', () => {
      const long = customSource('long', () => ({
        key: 'k',
        leaf: leaf.pem,
        chain: [pki.intermediate.pem + pki.root.pem, other.der],
      }))
      throwsCode(
        () => read(long, {}, { ...LIMITS, maxChainLength: 2 })!.decode(),
        'ERR_CHAIN_TOO_LONG'
      )
      const bundle = customSource('bundle', () => ({ key: 'k', leaf: leaf.pem + other.pem }))
      throwsCode(() => read(bundle, {})!.decode(), 'ERR_CERT_MALFORMED')
      const bad = customSource('bad', () => ({ key: 1 as unknown as string, leaf: leaf.der }))
      assert.throws(() => read(bad, {}), TypeError)
      assert.throws(() => customSource('', () => null), TypeError)
    })
  })

  describe('sourceByName', () => {
    it('knows every listed name and refuses others', () => {
      for (const name of SOURCE_NAMES) assert.equal(sourceByName(name).name, name)
      assert.throws(() => sourceByName('envoy'), TypeError)
      assert.throws(() => sourceByName('XFCC'), TypeError)
    })

    it('a named source reads its proxy’s header', () => {
      assertCertificate(
        decode(sourceByName('app-service'), { 'x-arr-clientcert': encodeBase64(leaf.der) }),
        leaf
      )
    })
  })
})
