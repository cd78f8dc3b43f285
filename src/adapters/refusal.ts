/**
 * The adapters' default answer to a refusal: the problem response, and for a server fault (a
 * 5xx, such as an authorize hook that threw) a line on the console with the error and its cause,
 * so that a bug does not pass unseen among ordinary refusals. With its own `onError`, the
 * application decides what to log.
 * @module
 */
import { type CertgateError, problemResponse } from '../errors.ts'

/** The default refusal response; logs a server fault. */
export function defaultRefusal(error: CertgateError): Response {
  reportServerFault(error)
  return problemResponse(error)
}

/** Logs a refusal that is a server fault (5xx), with its cause; an ordinary refusal is not. */
export function reportServerFault(error: CertgateError): void {
  if (error.status >= 500) console.error('certgate: refused with a server fault', error)
}
