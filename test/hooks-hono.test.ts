// certgate/hono hands authorize and the observer hooks the Hono Context: authorize reads the
// runtime's bindings (c.env, passed as app.request's third argument) and what an earlier
// middleware set (c.var), typed through the app's Env; the hooks see the Context and a failing
// hook changes neither status nor body. The type-level checks run under `tsc -p .`.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type Context, Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { clientCert, type ClientCertEnv } from '../src/adapters/hono.ts'
import type { ClientCertificate, RefusedEvent, VerifiedEvent } from '../src/index.ts'
import { type TestCertificate, xfccHeader } from '../src/testing/index.ts'
import { adapterCerts } from './support/node-frameworks.ts'
import { capturingConsoleError, FAILING_HOOKS, reportedMessages } from './support/console.ts'

const CN = 'api-client.contoso.com'

/** An app's own Env: a binding from the runtime, a variable from an earlier middleware. */
type AppEnv = { Bindings: { ALLOWED_TENANT: string }; Variables: { tenant: string } }

/** Sets c.var.tenant from the x-tenant header, as an app's own middleware would. */
const tenant = createMiddleware<AppEnv>(async (c, next) => {
  c.set('tenant', c.req.header('x-tenant') ?? 'none')
  await next()
})

// CN is the allowed certificate's common name.
const certs = adapterCerts()

function init(cert?: TestCertificate, tenantName?: string): RequestInit {
  const headers: Record<string, string> = {}
  if (cert !== undefined) headers['x-forwarded-client-cert'] = xfccHeader(cert)
  if (tenantName !== undefined) headers['x-tenant'] = tenantName
  return { headers }
}

async function code(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code
}

describe('certgate/hono: authorize gets the Context', () => {
  it('reads c.env (the runtime bindings) and c.var (set by an earlier middleware)', async () => {
    const seen: string[] = []
    const app = new Hono<AppEnv & ClientCertEnv>()
    app.use('/api/*', tenant)
    app.use(
      '/api/*',
      clientCert<'require', AppEnv>({
        allow: { commonNames: [CN] },
        authorize: (cert, c) => {
          seen.push(`${cert.commonName} ${c.req.path} ${c.var.tenant} ${c.env.ALLOWED_TENANT}`)
          return c.var.tenant === c.env.ALLOWED_TENANT
        },
      })
    )
    app.get('/api/cert-info', (c) => c.json({ cn: c.var.clientCert.commonName, tenant: c.var.tenant }))
    const env = { ALLOWED_TENANT: 'contoso' }

    const ok = await app.request('/api/cert-info', init(certs().allowed, 'contoso'), env)
    assert.equal(ok.status, 200)
    assert.deepEqual(await ok.json(), { cn: CN, tenant: 'contoso' })

    const otherTenant = await app.request('/api/cert-info', init(certs().allowed, 'fabrikam'), env)
    assert.equal(otherTenant.status, 403)
    assert.equal(await code(otherTenant), 'ERR_CERT_NOT_ALLOWED')

    const otherEnv = await app.request('/api/cert-info', init(certs().allowed, 'contoso'), { ALLOWED_TENANT: 'fabrikam' })
    assert.equal(otherEnv.status, 403)
    assert.equal(await code(otherEnv), 'ERR_CERT_NOT_ALLOWED')

    // The allowlist decides first: a stranger never reaches authorize.
    const strangerRes = await app.request('/api/cert-info', init(certs().stranger, 'contoso'), env)
    assert.equal(await code(strangerRes), 'ERR_CERT_NOT_ALLOWED')
    assert.deepEqual(seen, [
      `${CN} /api/cert-info contoso contoso`,
      `${CN} /api/cert-info fabrikam contoso`,
      `${CN} /api/cert-info contoso fabrikam`,
    ])
  })

  it('keeps the core semantics: a thrown CertgateError is that refusal, another throw is 500 ERR_AUTHORIZE_FAILED', async () => {
    const { CertgateError } = await import('../src/errors.ts')
    const app = new Hono<AppEnv>()
    app.use('/api/*', tenant)
    app.use(
      '/api/*',
      clientCert<'require', AppEnv>({
        authorize: (_cert, c) => {
          if (c.var.tenant === 'revoked') throw new CertgateError('ERR_CERT_REVOKED', 'Revoked by the app.')
          if (c.var.tenant === 'bug') throw new Error('bug in the hook')
          return true
        },
        onError: (error, c) => c.json({ code: error.code }, error.status as 403 | 500),
      })
    )
    app.get('/api/cert-info', (c) => c.text('ok'))
    const revoked = await app.request('/api/cert-info', init(certs().allowed, 'revoked'), { ALLOWED_TENANT: 'x' })
    assert.equal(revoked.status, 403)
    assert.deepEqual(await revoked.json(), { code: 'ERR_CERT_REVOKED' })
    const bug = await app.request('/api/cert-info', init(certs().allowed, 'bug'), { ALLOWED_TENANT: 'x' })
    assert.equal(bug.status, 500)
    assert.deepEqual(await bug.json(), { code: 'ERR_AUTHORIZE_FAILED' })
    const fine = await app.request('/api/cert-info', init(certs().allowed, 'contoso'), { ALLOWED_TENANT: 'x' })
    assert.equal(fine.status, 200)
    assert.equal(await fine.text(), 'ok')
  })
})

describe('certgate/hono: onVerified and onRefused', () => {
  it('get the event and the Context, once per request', async () => {
    const log: string[] = []
    const app = new Hono<AppEnv>()
    app.use('/api/*', tenant)
    app.use(
      '/api/*',
      clientCert<'require', AppEnv>({
        allow: { commonNames: [CN] },
        onVerified: (event, c) => log.push(`verified ${event.thumbprint} ${event.cached} ${c.req.path} ${c.var.tenant}`),
        onRefused: (event, c) => log.push(`refused ${event.error.code} ${event.thumbprint} ${c.req.path} ${c.env.ALLOWED_TENANT}`),
      })
    )
    app.get('/api/cert-info', (c) => c.text('ok'))
    const env = { ALLOWED_TENANT: 'contoso' }
    for (let i = 0; i < 3; i++) {
      assert.equal((await app.request('/api/cert-info', init(certs().allowed, 'contoso'), env)).status, 200)
    }
    assert.equal((await app.request('/api/cert-info', init(certs().stranger), env)).status, 403)
    assert.equal((await app.request('/api/cert-info', init(), env)).status, 403)
    assert.deepEqual(log, [
      `verified ${certs().allowed.thumbprint} false /api/cert-info contoso`,
      `verified ${certs().allowed.thumbprint} false /api/cert-info contoso`,
      `verified ${certs().allowed.thumbprint} true /api/cert-info contoso`,
      `refused ERR_CERT_NOT_ALLOWED ${certs().stranger.thumbprint} /api/cert-info contoso`,
      'refused ERR_CERT_MISSING null /api/cert-info contoso',
    ])
  })

  it('a hook that throws or rejects changes neither status nor body', async () => {
    const app = new Hono<ClientCertEnv>()
    app.use(
      '/api/*',
      clientCert({
        allow: { commonNames: [CN] },
        ...FAILING_HOOKS,
      })
    )
    app.get('/api/cert-info', (c) => c.json({ cn: c.var.clientCert.commonName }))
    const logged = await capturingConsoleError(async () => {
      const ok = await app.request('/api/cert-info', init(certs().allowed))
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { cn: CN })
      const refused = await app.request('/api/cert-info', init(certs().stranger))
      assert.equal(refused.status, 403)
      assert.equal(refused.headers.get('content-type'), 'application/problem+json')
      assert.equal(await code(refused), 'ERR_CERT_NOT_ALLOWED')
    })
    assert.deepEqual(reportedMessages(logged), ['onVerified threw', 'onRefused rejected'])
  })
})

// Type-level: run by tsc, never called. The Context is typed by the app's Env.
export function typeChecks(): void {
  const app = new Hono<AppEnv>()
  app.use(
    '/api/*',
    clientCert<'require', AppEnv>({
      authorize: (cert: ClientCertificate, c) => {
        const binding: string = c.env.ALLOWED_TENANT
        const variable: string = c.var.tenant
        // @ts-expect-error not a binding of AppEnv
        void c.env.MISSING
        // @ts-expect-error not a variable of AppEnv
        void c.var.missing
        return cert.commonName === binding + variable
      },
      onVerified: (event: VerifiedEvent, c) => void [event.thumbprint, c.env.ALLOWED_TENANT],
      onRefused: (event: RefusedEvent, c) => void [event.error.code, c.var.tenant],
    })
  )
  // Annotating the Context infers the Env, without the type arguments.
  app.use(
    '/api/*',
    clientCert({ authorize: (_cert, c: Context<AppEnv>) => c.env.ALLOWED_TENANT === c.var.tenant })
  )
  // Behind the middleware, routes see both the app's Env and the certificate.
  app.use('/api/*', clientCert<'require', AppEnv>({ allow: 'any-valid' })).get('/api/x', (c) => {
    const cert: ClientCertificate = c.var.clientCert
    return c.text(`${cert.commonName} ${c.env.ALLOWED_TENANT} ${c.var.tenant}`)
  })
  // Without the app's Env, the Context knows no bindings.
  clientCert({
    // @ts-expect-error c.env is untyped here: an object, with no ALLOWED_TENANT
    authorize: (_cert, c) => c.env.ALLOWED_TENANT === 'x',
  })
}
