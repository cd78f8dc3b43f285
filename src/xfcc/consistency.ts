/**
 * Whether an XFCC element agrees with the certificate it carries. Envoy copies a certificate's
 * URI and DNS SANs into its element raw, unquoted and unescaped: a SAN holding `,` ends the
 * element there and everything after it reads as pairs and elements the client wrote (a `Hash`
 * and `Cert` of someone else's public certificate, say), and a SAN holding `;` or `"` shifts the
 * pairs. Such a SAN can never come back out of the header equal to itself, so comparing an
 * element's values with its certificate's SANs catches every one of them.
 * @module
 */
import { CertgateError } from '../errors.ts'
import type { XfccElement, XfccSanKeys } from './parse.ts'

/** The URI and DNS SANs of the certificate an element carries. */
export interface CertificateSans {
  readonly uris: readonly string[]
  readonly dnsNames: readonly string[]
}

/** The refusal for a header whose elements do not agree with their certificates. */
export function inconsistent(message: string): CertgateError {
  return new CertgateError('ERR_HEADER_INCONSISTENT', message)
}

/**
 * Throws ERR_HEADER_INCONSISTENT unless `element` could have been written by a proxy for the
 * certificate it carries. With a certificate (`sans`): each SAN key the element carries (a bare
 * `URI=` included) holds exactly that certificate's SANs of the kind, compared as sets, since a
 * proxy writes one pair per SAN. Without one (`sans` null): an element with URI or DNS values
 * must carry a Hash; a proxy that saw a certificate always writes its Hash, so SAN values
 * without one are the tail of an element cut short.
 */
export function checkElementSans(element: XfccElement, keys: XfccSanKeys, sans: CertificateSans | null): void {
  if (sans === null) {
    if (element.hash === undefined && element.uri.length + element.dns.length > 0) {
      throw inconsistent('An XFCC element has URI or DNS values but no certificate hash.')
    }
    return
  }
  if ((keys.uri && !sameSet(element.uri, sans.uris)) || (keys.dns && !sameSet(element.dns, sans.dnsNames))) {
    throw inconsistent("An XFCC element's URI or DNS values are not its certificate's SANs.")
  }
}

function sameSet(values: readonly string[], sans: readonly string[]): boolean {
  const expected = new Set(sans)
  const seen = new Set(values)
  if (seen.size !== expected.size) return false
  for (const value of seen) if (!expected.has(value)) return false
  return true
}
