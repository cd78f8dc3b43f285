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
} from './source.ts'
import { behindVerdict } from './verdict.ts'

/** A source reading the leaf from `certHeader`, behind the verdict in `verifyHeader` if not null. */
export function pemLeafSource(
  name: string,
  certHeader: string,
  verifyHeader: string | null
): CertificateSource {
  function decode(value: string, limits: SourceLimits): ForwardedCertificate {
    return { leaf: decodeLeafOnly(decodeHeaderPercent(value, certHeader), limits), chain: [] }
  }
  const certificate = singleHeaderSource(name, certHeader, decode)
  return behindVerdict(name, verifyHeader, (headers, limits) => certificate.read(headers, limits))
}
