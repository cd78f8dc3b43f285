/**
 * Azure App Service.
 * @module
 */
import { decodeBase64 } from '../x509/pem.ts'
import { type CertificateSource, singleHeaderSource } from './source.ts'

/**
 * Azure App Service: `X-ARR-ClientCert`, the leaf as base64 DER. App Service checks nothing
 * about the certificate: validate the chain or pin thumbprints.
 */
export function appServiceSource(): CertificateSource {
  return singleHeaderSource('app-service', 'x-arr-clientcert', (value) => ({
    leaf: decodeBase64(value),
    chain: [],
  }))
}
