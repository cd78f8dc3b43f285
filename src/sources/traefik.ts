/**
 * Traefik's PassTLSClientCert middleware.
 * @module
 */
import { malformed } from '../errors.ts'
import { decodeBase64 } from '../x509/pem.ts'
import {
  type CertificateSource,
  chainTooLong,
  decodeHeaderPercent,
  type ForwardedCertificate,
  singleHeaderSource,
  type SourceLimits,
} from './source.ts'

const BASE64_ONLY = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * Traefik's PassTLSClientCert middleware (`pem: true`): `X-Forwarded-Tls-Client-Cert` holds
 * every peer certificate, leaf first, each as PEM without its BEGIN/END lines and newlines
 * (that is, base64 DER), joined by `,`. Traefik 2.8 to 2.9.1 also URL-escaped each
 * certificate; both forms are read. `-Info` is ignored: a summary of fields is no identity.
 * Traefik itself never removes a client-sent copy of the header unless the entry point's
 * `forwardedHeaders` does, so pair this with trusted proxies.
 */
export function traefikSource(): CertificateSource {
  return singleHeaderSource('traefik', 'x-forwarded-tls-client-cert', decodeTraefik)
}

function decodeTraefik(value: string, limits: SourceLimits): ForwardedCertificate {
  const text = decodeHeaderPercent(value, 'X-Forwarded-Tls-Client-Cert')
  const pieces = text.split(',')
  if (pieces.length > limits.maxChainLength) throw chainTooLong(limits)
  const ders = pieces.map((piece) => {
    // Traefik writes no whitespace; a `, ` means Headers.get joined two copies of the header.
    if (!BASE64_ONLY.test(piece)) {
      throw malformed('ERR_HEADER_MALFORMED', 'The X-Forwarded-Tls-Client-Cert header is not as Traefik writes it.')
    }
    return decodeBase64(piece)
  })
  return { leaf: ders[0]!, chain: ders.slice(1) }
}
