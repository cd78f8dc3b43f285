// The Hono middleware end to end through app.request(): the everyday accept and refuse paths,
// then the edge cases of decoding, Hash, validity, allowlists and transport.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Hono } from 'hono'
import fc from 'fast-check'
import { clientCert, type ClientCertEnv, type ClientCertMiddlewareOptions } from '../src/adapters/hono.ts'
import { encodeXfccPem } from '../src/xfcc/format.ts'
import { createTestCertificate, createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'

const ALLOWED_CN = 'api-client.contoso.com'
const DAY = 24 * 60 * 60 * 1000

function appWith(options: ClientCertMiddlewareOptions<'require'> | ClientCertMiddlewareOptions<'accept'>): Hono<ClientCertEnv<'accept'>> {
  const app = new Hono<ClientCertEnv<'accept'>>()
  app.use('/api/*', clientCert(options as ClientCertMiddlewareOptions))
  app.get('/api/cert-info', (c) => c.json(c.var.clientCert))
  return app
}

function get(app: Hono<ClientCertEnv<'accept'>>, xfcc?: string | string[]): Promise<Response> {
  const headers = new Headers()
  for (const value of typeof xfcc === 'string' ? [xfcc] : (xfcc ?? [])) {
    headers.append('x-forwarded-client-cert', value)
  }
  return Promise.resolve(app.request(new Request('http://localhost/api/cert-info', { headers })))
}

async function assertRefused(res: Response, code: string): Promise<void> {
  assert.equal(res.status, 403)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = (await res.json()) as Record<string, unknown>
  assert.equal(body.code, code)
  assert.equal(body.status, 403)
  assert.equal(body.type, `urn:certgate:error:${code}`)
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'status', 'title', 'type'])
  assert.equal(typeof body.title, 'string')
  assert.equal(typeof body.detail, 'string')
}

async function assertAccepted(res: Response, cert: TestCertificate): Promise<void> {
  assert.equal(res.status, 200)
  const body = (await res.json()) as Record<string, unknown>
  assert.equal(body.thumbprint, cert.thumbprint)
  assert.equal(body.common_name, cert.commonName)
}

/** Go's url.QueryEscape: like encodeURIComponent, but a space becomes '+'. */
function queryEscape(text: string): string {
  return encodeURIComponent(text).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

describe('clientCert middleware', () => {
  let pki: TestPki
  let allowed: TestCertificate
  let unknown: TestCertificate
  let expired: TestCertificate
  let notYetValid: TestCertificate
  let app: Hono<ClientCertEnv<'accept'>>

  before(async () => {
    pki = await createTestPki()
    allowed = await pki.issue({ commonName: ALLOWED_CN })
    unknown = await pki.issue({ commonName: 'intruder.example' })
    expired = await pki.issue({
      commonName: ALLOWED_CN,
      notBefore: new Date(Date.now() - 30 * DAY),
      notAfter: new Date(Date.now() - DAY),
    })
    notYetValid = await pki.issue({
      commonName: ALLOWED_CN,
      notBefore: new Date(Date.now() + DAY),
      notAfter: new Date(Date.now() + 30 * DAY),
    })
    app = appWith({ allow: { commonNames: [ALLOWED_CN] } })
  })

  describe('accepting and refusing', () => {
    it('accepts an allowed certificate in an Envoy-encoded header with 200 and its JSON', async () => {
      const res = await get(app, xfccHeader(allowed))
      assert.equal(res.status, 200)
      const body = (await res.json()) as Record<string, unknown>
      assert.equal(body.thumbprint, allowed.thumbprint)
      assert.equal(body.common_name, ALLOWED_CN)
      assert.match(String(body.thumbprint), /^[0-9A-F]{64}$/)
      assert.match(String(body.thumbprint_sha1), /^[0-9A-F]{40}$/)
      assert.equal(body.issuer, pki.intermediate.subjectRfc4514)
      assert.equal(body.spiffe_id, null)
    })

    it('refuses a request without the header: ERR_CERT_MISSING', async () => {
      await assertRefused(await get(app), 'ERR_CERT_MISSING')
    })

    it('refuses a malformed header: ERR_HEADER_MALFORMED', async () => {
      await assertRefused(await get(app, 'Hash=abc;Cert="unterminated'), 'ERR_HEADER_MALFORMED')
    })

    it('refuses a malformed certificate: ERR_CERT_MALFORMED', async () => {
      const junk = encodeXfccPem('-----BEGIN CERTIFICATE-----\nTUlJQm9vb29vb28=\n-----END CERTIFICATE-----\n')
      await assertRefused(await get(app, `Cert="${junk}"`), 'ERR_CERT_MALFORMED')
    })

    it('refuses a Hash that is not the certificate SHA-256: ERR_CERT_HASH_MISMATCH', async () => {
      const header = xfccHeader(allowed, { hash: unknown.thumbprint.toLowerCase() })
      await assertRefused(await get(app, header), 'ERR_CERT_HASH_MISMATCH')
    })

    it('refuses an expired certificate: ERR_CERT_EXPIRED', async () => {
      await assertRefused(await get(app, xfccHeader(expired)), 'ERR_CERT_EXPIRED')
    })

    it('refuses a not-yet-valid certificate: ERR_CERT_NOT_YET_VALID', async () => {
      await assertRefused(await get(app, xfccHeader(notYetValid)), 'ERR_CERT_NOT_YET_VALID')
    })

    it('refuses a certificate on no list: ERR_CERT_NOT_ALLOWED', async () => {
      await assertRefused(await get(app, xfccHeader(unknown)), 'ERR_CERT_NOT_ALLOWED')
    })

    it('refuses an allowed certificate that appears only in a left-hand element', async () => {
      const forged = xfccHeader(allowed)
      const header = xfccHeader(unknown, { before: forged })
      await assertRefused(await get(app, header), 'ERR_CERT_NOT_ALLOWED')
    })

    it('reads the left-hand element only when told to, and then accepts the forged one', async () => {
      const header = xfccHeader(unknown, { before: xfccHeader(allowed) })
      const leftmost = appWith({ allow: { commonNames: [ALLOWED_CN] }, element: 'leftmost' })
      await assertAccepted(await get(leftmost, header), allowed)
      const second = appWith({ allow: { commonNames: [ALLOWED_CN] }, element: { fromRight: 1 } })
      await assertAccepted(await get(second, header), allowed)
      const tooFar = appWith({ allow: { commonNames: [ALLOWED_CN] }, element: { fromRight: 2 } })
      await assertRefused(await get(tooFar, header), 'ERR_HEADER_MALFORMED')
    })

    it('leaks nothing of the header in a refusal', async () => {
      const res = await get(app, 'Hash=SECRET-VALUE;Cert="%ZZ"')
      const text = await res.text()
      assert.equal(res.status, 403)
      assert.ok(!text.includes('SECRET-VALUE'))
      assert.ok(!text.includes('%ZZ'))
      assert.ok(!text.includes(' at '))
    })
  })

  describe('decoding the certificate', () => {
    it('decodes %0A %20 %2B %2F %3D as Envoy writes them', async () => {
      const encoded = encodeXfccPem(allowed.pem)
      assert.match(encoded, /%0A/)
      assert.match(encoded, /%20/)
      await assertAccepted(await get(app, `Cert="${encoded}"`), allowed)
    })

    it('accepts Go QueryEscape output, where the armour space became +', async () => {
      const escaped = queryEscape(allowed.pem)
      assert.match(escaped, /BEGIN\+CERTIFICATE/)
      await assertAccepted(await get(app, `Cert="${escaped}"`), allowed)
    })

    it('keeps a literal + in the base64 (ALB leaves + = / unescaped)', async () => {
      const alb = allowed.pem.replace(/\n/g, '%0A').replace(/ /g, '%20')
      await assertAccepted(await get(app, `Cert="${alb}"`), allowed)
    })

    it('accepts unencoded PEM inside quotes, as Azure Container Apps shows its header', async () => {
      // A header value cannot hold a newline, so raw PEM arrives with its lines joined by spaces.
      const raw = allowed.pem.trim().replace(/\n/g, ' ')
      await assertAccepted(await get(app, `Hash=${allowed.thumbprint.toLowerCase()};Cert="${raw}";Chain="${raw}";`), allowed)
    })

    it('accepts PEM with literal \\n, as hand-made test clients write it', async () => {
      const literal = allowed.pem.replace(/\n/g, '\\n')
      await assertAccepted(await get(app, `Cert="${literal}"`), allowed)
    })

    it('accepts bare base64 DER', async () => {
      const base64 = allowed.pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, '')
      await assertAccepted(await get(app, `Cert="${encodeXfccPem(base64)}"`), allowed)
    })

    it('refuses bad percent escapes %, %0, %ZZ', async () => {
      for (const bad of ['%', '%0', '%ZZ']) {
        await assertRefused(await get(app, `Cert="${encodeXfccPem(allowed.pem)}${bad}"`), 'ERR_HEADER_MALFORMED')
      }
    })

    it('refuses a non-CERTIFICATE PEM block', async () => {
      const key = allowed.pem.replace(/CERTIFICATE/g, 'PRIVATE KEY')
      await assertRefused(await get(app, `Cert="${encodeXfccPem(key)}"`), 'ERR_CERT_MALFORMED')
    })

    it('refuses junk between PEM blocks', async () => {
      const junk = `${allowed.pem}junk\n${pki.intermediate.pem}`
      await assertRefused(await get(app, `Cert="${encodeXfccPem(junk)}"`), 'ERR_CERT_MALFORMED')
    })

    it('refuses base64 that is not a certificate', async () => {
      await assertRefused(await get(app, 'Cert="aGVsbG8gd29ybGQ="'), 'ERR_CERT_MALFORMED')
    })

    it('refuses a Chain longer than maxChainLength: ERR_CHAIN_TOO_LONG', async () => {
      const long = Array.from({ length: 9 }, () => allowed.pem).join('')
      const header = `Cert="${encodeXfccPem(allowed.pem)}";Chain="${encodeXfccPem(long)}"`
      await assertRefused(await get(app, header), 'ERR_CHAIN_TOO_LONG')
      const lenient = appWith({ allow: { commonNames: [ALLOWED_CN] }, maxChainLength: 9 })
      await assertAccepted(await get(lenient, header), allowed)
    })

    it('uses the first Chain certificate when Cert is absent', async () => {
      const chain = encodeXfccPem(allowed.pem + pki.intermediate.pem)
      await assertAccepted(await get(app, `Hash=${allowed.thumbprint.toLowerCase()};Chain="${chain}"`), allowed)
    })
  })

  describe('Hash and Cert', () => {
    it('refuses a Hash without a Cert, even in accept mode: ERR_CERT_MISSING', async () => {
      const header = `Hash=${allowed.thumbprint.toLowerCase()};Subject="CN=${ALLOWED_CN}"`
      await assertRefused(await get(app, header), 'ERR_CERT_MISSING')
      const accept = appWith({ allow: { commonNames: [ALLOWED_CN] }, mode: 'accept' })
      await assertRefused(await get(accept, header), 'ERR_CERT_MISSING')
    })

    it('accepts the Hash in uppercase and with colons', async () => {
      const upper = xfccHeader(allowed, { hash: allowed.thumbprint })
      await assertAccepted(await get(app, upper), allowed)
      const colons = allowed.thumbprint.match(/../g)!.join(':')
      await assertAccepted(await get(app, xfccHeader(allowed, { hash: colons })), allowed)
    })

    it('refuses a 40-hex (SHA-1) Hash: ERR_HEADER_MALFORMED', async () => {
      const header = xfccHeader(allowed, { hash: 'a'.repeat(40) })
      await assertRefused(await get(app, header), 'ERR_HEADER_MALFORMED')
    })

    it('accepts a header without Hash (Hash is checked only when present)', async () => {
      await assertAccepted(await get(app, xfccHeader(allowed, { hash: false })), allowed)
    })
  })

  describe('validity', () => {
    it('honours the clock tolerance at the boundary', async () => {
      const at = (offsetMs: number, toleranceSeconds: number): Hono<ClientCertEnv<'accept'>> =>
        appWith({
          allow: { commonNames: [ALLOWED_CN] },
          clockToleranceSeconds: toleranceSeconds,
          now: () => expired.x509.notAfter.getTime() + offsetMs,
        })
      const header = xfccHeader(expired)
      await assertAccepted(await get(at(0, 0), header), expired)
      await assertRefused(await get(at(1000, 0), header), 'ERR_CERT_EXPIRED')
      await assertAccepted(await get(at(60_000, 60), header), expired)
      await assertRefused(await get(at(61_000, 60), header), 'ERR_CERT_EXPIRED')
    })

    it('checks validity even for a pinned thumbprint', async () => {
      const pinned = appWith({ allow: { thumbprints: [expired.thumbprint] } })
      await assertRefused(await get(pinned, xfccHeader(expired)), 'ERR_CERT_EXPIRED')
    })
  })

  describe('allowlists', () => {
    it('matches a thumbprint in any case, with colons, spaces or a sha256: prefix', async () => {
      const t = allowed.thumbprint
      for (const entry of [t, t.toLowerCase(), t.match(/../g)!.join(':'), t.match(/../g)!.join(' '), `sha256:${t}`, `SHA256:${t.toLowerCase()}`]) {
        const pinned = appWith({ allow: { thumbprints: [entry] } })
        await assertAccepted(await get(pinned, xfccHeader(allowed)), allowed)
        await assertRefused(await get(pinned, xfccHeader(unknown)), 'ERR_CERT_NOT_ALLOWED')
      }
    })

    it('a 40-hex thumbprint entry is a configuration error naming SHA-1', () => {
      assert.throws(() => clientCert({ allow: { thumbprints: ['a'.repeat(40)] } }), /SHA-1/)
      assert.throws(() => clientCert({ allow: { thumbprints: ['not hex'] } }), TypeError)
    })

    it('matches any of several CNs', async () => {
      const several = appWith({ allow: { commonNames: ['other.example', ALLOWED_CN] } })
      await assertAccepted(await get(several, xfccHeader(allowed)), allowed)
    })

    it('a certificate without a CN matches no CN list but may match a DNS list', async () => {
      const sanOnly = await pki.issue({ subject: [{ O: ['Contoso'] }], dnsNames: ['Api.Contoso.com'] })
      assert.equal(sanOnly.commonName, null)
      await assertRefused(await get(app, xfccHeader(sanOnly)), 'ERR_CERT_NOT_ALLOWED')
      const dns = appWith({ allow: { commonNames: [ALLOWED_CN], dnsNames: ['api.contoso.COM'] } })
      const res = await get(dns, xfccHeader(sanOnly))
      assert.equal(res.status, 200)
      assert.equal(((await res.json()) as { common_name: unknown }).common_name, null)
    })

    it('matches a CN with escapes and Unicode exactly', async () => {
      const cn = 'Zoë, "Ops" + Co; <Test>'
      const fancy = await pki.issue({ commonName: cn })
      const exact = appWith({ allow: { commonNames: [cn] } })
      await assertAccepted(await get(exact, xfccHeader(fancy)), fancy)
      const differentCase = appWith({ allow: { commonNames: [cn.toUpperCase()] } })
      await assertRefused(await get(differentCase, xfccHeader(fancy)), 'ERR_CERT_NOT_ALLOWED')
    })

    it('matches URI SANs exactly and exposes a single spiffe:// URI as spiffeId', async () => {
      const id = 'spiffe://contoso.com/ns/prod/sa/api'
      const svid = await pki.issue({ commonName: 'svid', uris: [id] })
      const byUri = appWith({ allow: { uris: [id] } })
      const res = await get(byUri, xfccHeader(svid))
      assert.equal(res.status, 200)
      const body = (await res.json()) as Record<string, unknown>
      assert.equal(body.spiffe_id, id)
      assert.deepEqual(body.uris, [id])
      const twoUris = await pki.issue({ commonName: 'svid', uris: [id, 'spiffe://contoso.com/other'] })
      const res2 = await get(byUri, xfccHeader(twoUris))
      assert.equal(((await res2.json()) as Record<string, unknown>).spiffe_id, null)
    })

    it('matches issuers in RFC 4514 form, ignoring spaces and attribute case', async () => {
      const loose = pki.intermediate.subjectRfc4514.replace(/,/g, ', ').replace(/CN=/, 'cn=')
      const byIssuer = appWith({ allow: { issuers: [loose] } })
      await assertAccepted(await get(byIssuer, xfccHeader(unknown)), unknown)
      const other = appWith({ allow: { issuers: [pki.root.subjectRfc4514] } })
      await assertRefused(await get(other, xfccHeader(unknown)), 'ERR_CERT_NOT_ALLOWED')
    })

    it('matches serial numbers with colons, any case and leading zeros', async () => {
      const cert = await pki.issue({ commonName: 'serial', serialNumber: '0a1b2c3d' })
      for (const entry of ['A1B2C3D', '0a:1b:2c:3d', '00 0A 1B 2C 3D']) {
        const bySerial = appWith({ allow: { serialNumbers: [entry] } })
        await assertAccepted(await get(bySerial, xfccHeader(cert)), cert)
      }
      assert.throws(() => clientCert({ allow: { serialNumbers: ['12-34'] } }), TypeError)
    })
  })

  describe('transport', () => {
    it('two header lines joined by Headers into ", " are two elements; the rightmost counts', async () => {
      const res = await get(app, [xfccHeader(allowed), xfccHeader(unknown)])
      await assertRefused(res, 'ERR_CERT_NOT_ALLOWED')
      const res2 = await get(app, [xfccHeader(unknown), xfccHeader(allowed)])
      await assertAccepted(res2, allowed)
    })

    it('an empty header counts as no certificate', async () => {
      await assertRefused(await get(app, ''), 'ERR_CERT_MISSING')
    })

    it('a header of a non-HTTP whitespace (NBSP) is malformed, not missing, even in accept mode', async () => {
      await assertRefused(await get(app, '\xa0'), 'ERR_HEADER_MALFORMED')
      const accept = appWith({ allow: { commonNames: [ALLOWED_CN] }, mode: 'accept' })
      await assertRefused(await get(accept, '\xa0'), 'ERR_HEADER_MALFORMED')
    })

    it('refuses a header over 16 KiB, and the limit is configurable', async () => {
      const header = `${xfccHeader(allowed)};By=${'x'.repeat(16 * 1024)}`
      await assertRefused(await get(app, header), 'ERR_HEADER_TOO_LARGE')
      const larger = appWith({ allow: { commonNames: [ALLOWED_CN] }, maxHeaderBytes: 64 * 1024 })
      await assertAccepted(await get(larger, header), allowed)
    })

    it('never reads an underscore spelling of the header', async () => {
      const req = new Request('http://localhost/api/cert-info', {
        headers: { x_forwarded_client_cert: xfccHeader(allowed) },
      })
      await assertRefused(await app.request(req), 'ERR_CERT_MISSING')
    })

    it('refuses a JSON-format XFCC: ERR_XFCC_UNSUPPORTED_FORMAT', async () => {
      await assertRefused(await get(app, '[{"hash":"abc"}]'), 'ERR_XFCC_UNSUPPORTED_FORMAT')
      await assertRefused(await get(app, '{"cert":"x"}'), 'ERR_XFCC_UNSUPPORTED_FORMAT')
    })

    it('reads another header name when configured', async () => {
      const custom = appWith({ allow: { commonNames: [ALLOWED_CN] }, header: 'x-client-cert' })
      const req = new Request('http://localhost/api/cert-info', { headers: { 'x-client-cert': xfccHeader(allowed) } })
      await assertAccepted(await custom.request(req), allowed)
    })
  })

  describe('modes and hooks', () => {
    it('accept mode lets a request without a certificate through with clientCert null', async () => {
      const accept = appWith({ allow: { commonNames: [ALLOWED_CN] }, mode: 'accept' })
      const res = await get(accept)
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'null')
    })

    it('accept mode still refuses a bad certificate', async () => {
      const accept = appWith({ allow: { commonNames: [ALLOWED_CN] }, mode: 'accept' })
      await assertRefused(await get(accept, xfccHeader(unknown)), 'ERR_CERT_NOT_ALLOWED')
      await assertRefused(await get(accept, xfccHeader(expired)), 'ERR_CERT_EXPIRED')
    })

    it("allow: 'any-valid' admits every valid certificate, and only valid ones", async () => {
      const any = appWith({ allow: 'any-valid' })
      await assertAccepted(await get(any, xfccHeader(unknown)), unknown)
      await assertRefused(await get(any, xfccHeader(expired)), 'ERR_CERT_EXPIRED')
    })

    it('authorize decides after the allowlist, with the certificate and the Hono Context', async () => {
      const seen: string[] = []
      const hooked = appWith({
        allow: { commonNames: [ALLOWED_CN] },
        authorize: (cert, c) => {
          seen.push(`${cert.commonName} ${c.req.path}`)
          return c.req.header('x-tenant') === 'contoso'
        },
      })
      const header = xfccHeader(allowed)
      const ok = await hooked.request('/api/cert-info', { headers: { 'x-forwarded-client-cert': header, 'x-tenant': 'contoso' } })
      await assertAccepted(ok, allowed)
      await assertRefused(await get(hooked, header), 'ERR_CERT_NOT_ALLOWED')
      await assertRefused(await get(hooked, xfccHeader(unknown)), 'ERR_CERT_NOT_ALLOWED')
      assert.deepEqual(seen, [`${ALLOWED_CN} /api/cert-info`, `${ALLOWED_CN} /api/cert-info`])
    })

    it('authorize alone is enough configuration; a throwing hook is refused as a server fault (500 ERR_AUTHORIZE_FAILED)', async () => {
      const throwing = appWith({
        authorize: () => {
          throw new Error('bug in the hook')
        },
      })
      const log = console.error
      console.error = () => {}
      const res = await get(throwing, xfccHeader(allowed)).finally(() => (console.error = log))
      assert.equal(res.status, 500)
      assert.equal(((await res.json()) as { code: string }).code, 'ERR_AUTHORIZE_FAILED')
      const asyncYes = appWith({ authorize: async (cert) => cert.commonName === ALLOWED_CN })
      await assertAccepted(await get(asyncYes, xfccHeader(allowed)), allowed)
    })

    it('onError shapes the refusal, and app.onError sees an HTTPException with the error as cause', async () => {
      const shaped = appWith({
        allow: { commonNames: [ALLOWED_CN] },
        onError: (error, c) => c.json({ denied: error.code }, 401),
      })
      const res = await get(shaped)
      assert.equal(res.status, 401)
      assert.deepEqual(await res.json(), { denied: 'ERR_CERT_MISSING' })

      const caught = new Hono()
      caught.use(clientCert({ allow: { commonNames: [ALLOWED_CN] } }))
      caught.get('/', (c) => c.text('ok'))
      caught.onError((err, c) => {
        const cause = (err as Error & { cause?: { code?: string } }).cause
        return c.text(`caught ${cause?.code}`, 418)
      })
      const res2 = await caught.request('/')
      assert.equal(res2.status, 418)
      assert.equal(await res2.text(), 'caught ERR_CERT_MISSING')
    })
  })

  describe('configuration', () => {
    it('refuses options that would admit nobody', () => {
      assert.throws(() => clientCert({}), /any-valid/)
      assert.throws(() => clientCert({ allow: {} }), /any-valid/)
      assert.throws(() => clientCert({ allow: { commonNames: [] } }), /any-valid/)
    })

    it('refuses malformed options', () => {
      assert.throws(() => clientCert({ allow: 'any-valid', mode: 'optional' as 'accept' }), TypeError)
      assert.throws(() => clientCert({ allow: 'any-valid', maxHeaderBytes: 0 }), TypeError)
      assert.throws(() => clientCert({ allow: 'any-valid', maxChainLength: 1.5 }), TypeError)
      assert.throws(() => clientCert({ allow: 'any-valid', clockToleranceSeconds: -1 }), TypeError)
      assert.throws(() => clientCert({ allow: 'any-valid', header: 'bad header' }), TypeError)
      assert.throws(() => clientCert({ allow: 'any-valid', element: { fromRight: -1 } }), TypeError)
    })
  })

  describe('hostile input', () => {
    it('answers 200 or 403 to arbitrary header values, never 5xx', async () => {
      const good = xfccHeader(allowed)
      const value = fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.string({ unit: fc.constantFrom('"', '\\', ',', ';', '=', '%', 'a', 'Cert', ' '), maxLength: 200 }),
        fc.tuple(fc.nat({ max: good.length }), fc.string({ maxLength: 8 })).map(([at, s]) => good.slice(0, at) + s + good.slice(at))
      )
      await fc.assert(
        fc.asyncProperty(value, async (raw) => {
          // Header values are byte strings without CR/LF/NUL; anything else cannot reach us.
          const header = raw.replace(/[^\x20-\x7e\x80-\xff\t]/g, '')
          const res = await get(app, header)
          assert.ok(res.status === 200 || res.status === 403, `status ${res.status}`)
          await res.arrayBuffer()
        }),
        { numRuns: 200 }
      )
    })
  })

  describe('the test kit with the middleware', () => {
    it('works with RSA-2048 certificates as well as P-256', async () => {
      const rsa = await createTestCertificate({ commonName: ALLOWED_CN, keyAlgorithm: 'RSA-2048', issuer: pki.intermediate })
      await assertAccepted(await get(app, xfccHeader(rsa)), rsa)
    })
  })
})
