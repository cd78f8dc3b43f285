// certgate/express hands authorize and the observer hooks Express's own req, through real Express
// 4 and 5 servers on 127.0.0.1: authorize reads what Express and earlier middleware offer (req.get,
// req.originalUrl, res.locals), the hooks get the event (with a Web Request built for it) and req,
// and a hook that throws or rejects changes neither status nor body.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import express5 from 'express'
import express4 from 'express4'
import type { Express, Request } from 'express'
import { clientCert, type ExpressClientCertOptions } from '../src/adapters/express.ts'
import type { RefusedEvent, VerifiedEvent } from '../src/index.ts'
import { xfccHeader } from '../src/testing/index.ts'
import { loopbackSet } from './support/loopback.ts'
import { adapterCerts, assertRefused, assertRouteSaw, get } from './support/node-frameworks.ts'
import { capturingConsoleError, FAILING_HOOKS, reportedMessages } from './support/console.ts'

const CN = 'api-client.contoso.com'
const allow = { allow: { commonNames: [CN] } }
const servers = loopbackSet()
after(() => servers.closeAll())

// CN is the allowed certificate's common name.
const certs = adapterCerts()

const EXPRESSES: [string, () => Express][] = [
  ['Express 4', () => express4()],
  ['Express 5', () => express5()],
]

for (const [name, make] of EXPRESSES) {
  describe(`certgate/express on ${name}: authorize and hooks get req`, () => {
    /** `/api/cert-info` behind an app middleware setting res.locals.tenant, then certgate. */
    async function serve(options: ExpressClientCertOptions): Promise<string> {
      const app = make()
      app.use((req, res, next) => {
        res.locals.tenant = req.get('x-tenant') ?? 'none'
        next()
      })
      app.use('/api', clientCert(options))
      app.get('/api/cert-info', (req, res) => {
        res.json({ cert: req.clientCert ?? null })
      })
      return `${(await servers.listen(app)).url}/api/cert-info`
    }

    it("authorize gets Express's req: its path, headers and what earlier middleware set", async () => {
      const seen: string[] = []
      const url = await serve({
        ...allow,
        authorize: (cert, req) => {
          seen.push(`${cert.commonName} ${req.method} ${req.originalUrl} ${req.res?.locals.tenant}`)
          return req.get('x-forwarded-client-cert') === xfccHeader(certs().allowed) && req.res?.locals.tenant === 'contoso'
        },
      })
      const withTenant = await fetch(url, {
        headers: { 'x-forwarded-client-cert': xfccHeader(certs().allowed), 'x-tenant': 'contoso' },
        signal: AbortSignal.timeout(5000),
      })
      await assertRouteSaw(withTenant, certs().allowed)
      await assertRefused(await get(url, xfccHeader(certs().allowed)), 'ERR_CERT_NOT_ALLOWED')
      assert.deepEqual(seen, [`${CN} GET /api/cert-info contoso`, `${CN} GET /api/cert-info none`])
    })

    it('onVerified and onRefused get the event, with a Web Request, and req', async () => {
      const log: string[] = []
      const requests: Request[] = []
      const describeRequest = (event: VerifiedEvent | RefusedEvent): string =>
        `${event.request.method} ${new URL(event.request.url).pathname} ${event.request.headers.has('x-forwarded-client-cert')}`
      const url = await serve({
        ...allow,
        onVerified: (event, req) => {
          requests.push(req)
          log.push(`verified ${event.thumbprint} ${event.cached} ${describeRequest(event)} ${req.originalUrl}`)
        },
        onRefused: (event, req) => {
          requests.push(req)
          log.push(`refused ${event.error.code} ${event.thumbprint} ${describeRequest(event)} ${req.originalUrl}`)
        },
      })
      for (let i = 0; i < 3; i++) await assertRouteSaw(await get(url, xfccHeader(certs().allowed)), certs().allowed)
      await assertRefused(await get(url, xfccHeader(certs().stranger)), 'ERR_CERT_NOT_ALLOWED')
      await assertRefused(await get(url), 'ERR_CERT_MISSING')
      assert.deepEqual(log, [
        `verified ${certs().allowed.thumbprint} false GET /api/cert-info true /api/cert-info`,
        `verified ${certs().allowed.thumbprint} false GET /api/cert-info true /api/cert-info`,
        `verified ${certs().allowed.thumbprint} true GET /api/cert-info true /api/cert-info`,
        `refused ERR_CERT_NOT_ALLOWED ${certs().stranger.thumbprint} GET /api/cert-info true /api/cert-info`,
        'refused ERR_CERT_MISSING null GET /api/cert-info false /api/cert-info',
      ])
      // Express's own req: its methods are there.
      assert.ok(requests.every((req) => typeof req.get === 'function'))
    })

    it('a hook that throws or rejects changes neither status nor body', async () => {
      const url = await serve({
        ...allow,
        ...FAILING_HOOKS,
      })
      const logged = await capturingConsoleError(async () => {
        await assertRouteSaw(await get(url, xfccHeader(certs().allowed)), certs().allowed)
        await assertRefused(await get(url, xfccHeader(certs().stranger)), 'ERR_CERT_NOT_ALLOWED')
      })
      assert.deepEqual(reportedMessages(logged), ['onVerified threw', 'onRefused rejected'])
    })
  })
}
