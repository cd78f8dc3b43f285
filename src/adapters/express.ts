/**
 * Client certificate middleware for Express 4 and 5, and Connect (`certgate/express`): verifies
 * the certificate a TLS-terminating proxy forwards, sets `req.clientCert`, or refuses with 403
 * problem+json (or hands the CertgateError to Express's error handlers).
 * @module
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { ClientCertificate } from '../x509/certificate.ts'
import type { CertgateError } from '../errors.ts'
import type { ClientCertMode, ClientCertOptions, RefusedEvent, VerifiedEvent } from '../verify.ts'
import { createIncomingVerifier, PROBLEM_HEADERS, refusalBody } from './incoming.ts'

declare global {
  // Express's own way to type what a middleware adds to every request.
  namespace Express {
    interface Request {
      /** Set by certgate's `clientCert` middleware: null only in `accept` mode without a certificate. */
      clientCert?: ClientCertificate | null
    }
  }
}

/** Options for {@link clientCert}: the core's, with `authorize` and the hooks handed Express's `req`. */
export interface ExpressClientCertOptions
  extends Omit<ClientCertOptions, 'authorize' | 'onVerified' | 'onRefused' | 'mode'> {
  mode?: ClientCertMode
  /**
   * Your own decision, after the checks and the allowlist, with Express's `req` (what earlier
   * middleware put on it included). False refuses (ERR_CERT_NOT_ALLOWED); a CertgateError thrown
   * refuses with its code; anything else thrown is ERR_AUTHORIZE_FAILED (500). Never cached.
   */
  authorize?: (cert: ClientCertificate, req: Request) => boolean | Promise<boolean>
  /**
   * Observes each admitted request (see `ClientCertOptions.onVerified`), with `req`. Setting a
   * hook builds a Web Request (method, URL, headers) per request for the event's `request`.
   */
  onVerified?: (event: VerifiedEvent, req: Request) => void
  /** Observes each refused request (see `ClientCertOptions.onRefused`), with `req`. */
  onRefused?: (event: RefusedEvent, req: Request) => void
  /**
   * Where a refusal goes. `'respond'` (default): the middleware answers with the
   * `application/problem+json` response itself. `'next'`: it calls `next(error)` with the
   * CertgateError (its `status` and `toProblem()` say what to send), for your error handler.
   */
  errors?: 'respond' | 'next'
}

/**
 * Client certificate middleware for Express and Connect. `trustedProxies` is checked against
 * `req.socket.remoteAddress`, the peer that connected (never `req.ip`, which Express may take from
 * a forwarded header).
 *
 * @param {ExpressClientCertOptions} options - what to accept; see `ClientCertOptions`.
 * @returns {RequestHandler} the middleware.
 * @throws {TypeError} when the options would admit nobody or are malformed.
 *
 * @example
 * ```ts
 * app.use('/api', clientCert({ allow: { commonNames: ['api-client.contoso.com'] } }))
 * app.get('/api/cert-info', (req, res) => res.json(req.clientCert))
 * ```
 */
export function clientCert(options: ExpressClientCertOptions): RequestHandler {
  const verify = createIncomingVerifier<Request>(options)
  const toNext = options.errors === 'next'
  if (options.errors !== undefined && options.errors !== 'respond' && !toNext) {
    throw new TypeError("errors must be 'respond' or 'next'.")
  }
  return function clientCert(req: Request, res: Response, next: NextFunction): void {
    verify(req, req).then((result) => {
      if (result.ok) {
        req.clientCert = result.certificate
        next()
      } else if (toNext) {
        next(result.error)
      } else {
        refuse(res, result.error)
      }
    }, next)
  }
}

function refuse(res: Response, error: CertgateError): void {
  const { status, problem } = refusalBody(error)
  // Written as is: Express's res.set() and res.send() would add a charset and an ETag.
  res.writeHead(status, PROBLEM_HEADERS).end(JSON.stringify(problem))
}
