// Shared by the Express and Fastify adapter tests: a bounded GET with an optional XFCC header,
// the assertions on what the route or the refusal answered, and the cases both must pass.
import { before, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ClientCertMode, ClientCertOptions } from '../../src/verify.ts'
import { createTestPki, type TestCertificate, xfccHeader } from '../../src/testing/index.ts'

/** A GET bounded to 5 s, with the XFCC header when given. */
export function get(url: string, xfcc?: string): Promise<Response> {
  const headers: Record<string, string> = xfcc === undefined ? {} : { 'x-forwarded-client-cert': xfcc }
  return fetch(url, { headers, signal: AbortSignal.timeout(5000) })
}

/** A 403 (or `status`) problem+json answer with `code`. */
export async function assertRefused(res: Response, code: string, status = 403): Promise<void> {
  assert.equal(res.status, status)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = (await res.json()) as Record<string, unknown>
  assert.equal(body.code, code)
  assert.equal(body.status, status)
  assert.equal(body.type, `urn:certgate:error:${code}`)
}

/** A 200 whose JSON `cert` is the certificate's (by thumbprint), or null for `null`. */
export async function assertRouteSaw(res: Response, cert: TestCertificate | null): Promise<void> {
  assert.equal(res.status, 200)
  const body = (await res.json()) as { cert: { thumbprint?: unknown } | null }
  if (cert === null) assert.equal(body.cert, null)
  else assert.equal(body.cert?.thumbprint, cert.thumbprint)
}

/** The allowed certificate (CN api-client.contoso.com) and a stranger, issued in a `before`. */
export function adapterCerts(): () => { allowed: TestCertificate; stranger: TestCertificate } {
  let certs: { allowed: TestCertificate; stranger: TestCertificate } | undefined
  before(async () => {
    const pki = await createTestPki()
    certs = {
      allowed: await pki.issue({ commonName: 'api-client.contoso.com' }),
      stranger: await pki.issue({ commonName: 'stranger.example' }),
    }
  })
  return () => certs!
}

/** What every adapter's suite needs: certificates, and a server for options, answering `{ cert }`. */
export interface AdapterUnderTest {
  /** The allowed certificate (CN api-client.contoso.com) and a stranger, once `before` has run. */
  certs: () => { allowed: TestCertificate; stranger: TestCertificate }
  /** Serves `/api/cert-info` behind the adapter with these options; resolves to its URL. */
  serve: (options: Omit<ClientCertOptions, 'authorize' | 'onVerified' | 'onRefused'> & { mode?: ClientCertMode }) => Promise<string>
}

/** The cases every framework adapter must pass the same way, as `it`s in the current describe. */
export function sharedAdapterCases({ certs, serve }: AdapterUnderTest): void {
  const allow = { allow: { commonNames: ['api-client.contoso.com'] } }

  it('an allowed certificate reaches the route, which sees it', async () => {
    await assertRouteSaw(await get(await serve(allow), xfccHeader(certs().allowed)), certs().allowed)
  })

  it('a stranger gets 403 problem+json ERR_CERT_NOT_ALLOWED', async () => {
    await assertRefused(await get(await serve(allow), xfccHeader(certs().stranger)), 'ERR_CERT_NOT_ALLOWED')
  })

  it('no certificate gets 403 ERR_CERT_MISSING', async () => {
    await assertRefused(await get(await serve(allow)), 'ERR_CERT_MISSING')
  })

  it('accept mode lets a request without a certificate through with null', async () => {
    await assertRouteSaw(await get(await serve({ ...allow, mode: 'accept' })), null)
  })

  it('trustedProxies refuses a peer (127.0.0.1) outside the list: ERR_PROXY_UNTRUSTED', async () => {
    const url = await serve({ ...allow, trustedProxies: ['10.0.0.0/8'] })
    await assertRefused(await get(url, xfccHeader(certs().allowed)), 'ERR_PROXY_UNTRUSTED')
  })

  it('trustedProxies admits the peer on the list', async () => {
    const url = await serve({ ...allow, trustedProxies: ['127.0.0.1'] })
    await assertRouteSaw(await get(url, xfccHeader(certs().allowed)), certs().allowed)
  })

  // authorize and the hooks get each framework's own request: test/hooks-express.test.ts and
  // test/hooks-fastify.test.ts.
}
