/**
 * Azure Application Gateway mutual TLS, through rewrite rules.
 * @module
 */
import { headerNameOption } from '../bytes.ts'
import { pemLeafSource } from './pem-leaf.ts'
import type { CertificateSource } from './source.ts'
import { verifyHeaderOption } from './verdict.ts'

/** Options for {@link appGatewaySource}. */
export interface AppGatewaySourceOptions {
  /** The header a rewrite rule fills with `{var_client_certificate}`. */
  certHeader: string
  /** The header a rewrite rule fills with `{var_client_certificate_verification}`. */
  verifyHeader?: string
}

/**
 * Azure Application Gateway: the headers your rewrite rules fill from `client_certificate`
 * (PEM; read URL-encoded or not, with newlines, spaces or none) and, optionally,
 * `client_certificate_verification` (`SUCCESS`, `NONE`, `FAILED:<reason>`). The leaf only.
 */
export function appGatewaySource(options: AppGatewaySourceOptions): CertificateSource {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('appGatewaySource options must be { certHeader, verifyHeader? }.')
  }
  const certHeader = headerNameOption('certHeader', options.certHeader)
  return pemLeafSource('app-gateway', certHeader, verifyHeaderOption(options.verifyHeader, null))
}
