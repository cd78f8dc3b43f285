/**
 * AWS Application Load Balancer mutual TLS.
 * @module
 */
import { decodeCertificates } from '../x509/pem.ts'
import { pemLeafSource } from './pem-leaf.ts'
import { type CertificateSource, decodeHeaderPercent, singleHeaderSource } from './source.ts'

/** Options for {@link albSource}. */
export interface AlbSourceOptions {
  /**
   * The listener's mutual TLS mode. `'verify'` (default): ALB verified the client against its
   * trust store and sends the leaf in `X-Amzn-Mtls-Clientcert-Leaf`. `'passthrough'`: ALB
   * verified nothing and sends the whole chain in `X-Amzn-Mtls-Clientcert`; configure chain
   * validation (`trust`), or anyone with any certificate gets in.
   */
  mode?: 'verify' | 'passthrough'
}

/**
 * AWS ALB mutual TLS. Verify mode (default): `X-Amzn-Mtls-Clientcert-Leaf`, the leaf ALB
 * verified. Passthrough mode: `X-Amzn-Mtls-Clientcert`, the whole chain the client sent, leaf to
 * root, which ALB did NOT verify. Both are URL-encoded PEM "with +=/ as safe characters", so a
 * `+` is base64's and never a space. Only the configured mode's header is read: the other one
 * in a request can only have come from the client.
 */
export function albSource(options: AlbSourceOptions = {}): CertificateSource {
  const mode = options.mode ?? 'verify'
  if (mode === 'verify') return pemLeafSource('alb', 'x-amzn-mtls-clientcert-leaf', null)
  if (mode !== 'passthrough') {
    throw new TypeError("mode must be 'verify' or 'passthrough'.")
  }
  return singleHeaderSource('alb-passthrough', 'x-amzn-mtls-clientcert', (value, limits) => {
    const ders = decodeCertificates(decodeHeaderPercent(value, 'X-Amzn-Mtls-Clientcert'), {
      maxCertificates: limits.maxChainLength,
    })
    return { leaf: ders[0]!, chain: ders.slice(1) }
  })
}
