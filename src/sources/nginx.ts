/**
 * nginx and ingress-nginx.
 * @module
 */
import { headerNameOption } from '../bytes.ts'
import { pemLeafSource } from './pem-leaf.ts'
import type { CertificateSource } from './source.ts'
import { verifyHeaderOption } from './verdict.ts'

/** Options for {@link nginxSource}. */
export interface NginxSourceOptions {
  /** Default `ssl-client-cert`, as ingress-nginx sets it. */
  certHeader?: string
  /**
   * Default `ssl-client-verify`, as ingress-nginx sets it. `false` when your nginx sends no
   * verdict (it must then refuse unverified clients itself, `ssl_verify_client on`).
   */
  verifyHeader?: string | false
}

/**
 * nginx or ingress-nginx: `ssl-client-cert` from `$ssl_client_escaped_cert` (URL-encoded PEM)
 * or the deprecated `$ssl_client_cert` (PEM whose lines nginx prefixes with a tab, which
 * arrives as tab- or space-separated PEM), and `ssl-client-verify` from `$ssl_client_verify`:
 * `SUCCESS`, `NONE` (no certificate, whatever else arrived) or `FAILED:<reason>`
 * (ERR_PROXY_VERIFY_FAILED). The leaf only; nginx forwards no chain.
 *
 * A certificate without a verdict is refused (ERR_HEADER_MALFORMED): ingress-nginx always sets
 * both, and `proxy_set_header` drops a header whose variable is empty, so a lone certificate
 * header means the proxy is not configured as expected. Pass `verifyHeader: false` if your
 * nginx sends no verdict and refuses unverified clients itself.
 */
export function nginxSource(options: NginxSourceOptions = {}): CertificateSource {
  const certHeader = headerNameOption('certHeader', options.certHeader ?? 'ssl-client-cert')
  const verifyHeader = verifyHeaderOption(options.verifyHeader, 'ssl-client-verify')
  return pemLeafSource('nginx', certHeader, verifyHeader)
}
