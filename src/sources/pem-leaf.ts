/**
 * The source shape nginx, AWS ALB (verify mode) and Azure Application Gateway share: one header
 * holding the leaf as URL-encoded (or plain) PEM, optionally behind a verdict header.
 * @module
 */
import {
  type CertificateSource,
  decodeHeaderPercent,
  decodeLeafOnly,
  type ForwardedCertificate,
  singleHeaderSource,
  type SourceLimits,
  type SourceRead,
} from './source.ts'
import { withVerdict } from './verdict.ts'

export function pemLeafSource(
  name: string,
  certHeader: string,
  verifyHeader: string | null
): CertificateSource {
  function decode(value: string, limits: SourceLimits): ForwardedCertificate {
    return { leaf: decodeLeafOnly(decodeHeaderPercent(value, certHeader), limits), chain: [] }
  }
  const certificate = singleHeaderSource(name, certHeader, decode)
  return {
    name,
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      return withVerdict(headers, limits, verifyHeader, () => certificate.read(headers, limits))
    },
  }
}
