// certgate/express through real Express 4 and Express 5 servers on 127.0.0.1: the cases every
// adapter shares (allowed, stranger, none, accept mode, trustedProxies, authorize), and a refusal
// handed to next() for Express's error handler.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import express5 from 'express'
import express4 from 'express4'
import type { ErrorRequestHandler, Express } from 'express'
import { clientCert, type ExpressClientCertOptions } from '../src/adapters/express.ts'
import { isCertgateError } from '../src/errors.ts'
import { xfccHeader } from '../src/testing/index.ts'
import { loopbackSet } from './support/loopback.ts'
import { adapterCerts, get, sharedAdapterCases } from './support/node-frameworks.ts'

const ALLOWED_CN = 'api-client.contoso.com'
const servers = loopbackSet()
after(() => servers.closeAll())

// Both majors share the API this adapter uses; express4 is `npm:express@^4`.
const EXPRESSES: [string, () => Express][] = [
  ['Express 4', () => express4()],
  ['Express 5', () => express5()],
]

const certs = adapterCerts()

for (const [name, make] of EXPRESSES) {
  describe(`certgate/express on ${name}`, () => {
    async function serve(options: ExpressClientCertOptions, onError?: ErrorRequestHandler): Promise<string> {
      const app = make()
      app.use('/api', clientCert(options))
      app.get('/api/cert-info', (req, res) => {
        res.json({ cert: req.clientCert ?? null })
      })
      if (onError !== undefined) app.use(onError)
      return `${(await servers.listen(app)).url}/api/cert-info`
    }
    sharedAdapterCases({ certs, serve: (options) => serve(options) })

    it("errors: 'next' hands the CertgateError to the error handler", async () => {
      const handler: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
        res.status(418).json({ certgate: isCertgateError(error), code: isCertgateError(error) ? error.code : null })
      }
      const options = { allow: { commonNames: [ALLOWED_CN] }, errors: 'next' as const }
      const res = await get(await serve(options, handler), xfccHeader(certs().stranger))
      assert.equal(res.status, 418)
      assert.deepEqual(await res.json(), { certgate: true, code: 'ERR_CERT_NOT_ALLOWED' })
    })
  })
}
