/**
 * Cloudflare Access mutual TLS.
 * @module
 */
import { decodeBase64 } from '../x509/pem.ts'
import {
  type CertificateSource,
  type ForwardedCertificate,
  normaliseSha256,
  readHeader,
  type SourceLimits,
  type SourceRead,
} from './source.ts'
import { behindVerdict, type VerdictHeaderOption, verifyHeaderOption } from './verdict.ts'

/**
 * Cloudflare Access mTLS: `Cf-Client-Cert-Der-Base64` (the leaf, base64 DER) and, when present,
 * `Cf-Client-Cert-Sha256`, handed on as `hash` for the verifier to check against the DER. That
 * header's encoding is not pinned down; Cloudflare prints its SHA-256 fingerprints as lowercase
 * hex, so hex (any case, colons allowed) is read, and base64 of the 32 bytes too: accepting both
 * costs nothing, since a hash can only ever refuse. `verifyHeader`: a header you fill from
 * `certVerified` (e.g. in a Worker), in the nginx grammar.
 */
export function cloudflareSource(options: VerdictHeaderOption = {}): CertificateSource {
  return behindVerdict('cloudflare', verifyHeaderOption(options.verifyHeader, null), readCloudflare)
}

function readCloudflare(headers: Headers, limits: SourceLimits): SourceRead | null {
  const der = readHeader(headers, 'cf-client-cert-der-base64', limits)
  if (der === null) return null
  const hash = readHeader(headers, 'cf-client-cert-sha256', limits)
  return {
    // Header values never hold a newline, so `\n` separates them unambiguously.
    key: hash === null ? der : `${der}\n${hash}`,
    decode(): ForwardedCertificate {
      const result: ForwardedCertificate = { leaf: decodeBase64(der), chain: [] }
      if (hash !== null) result.hash = normaliseSha256(hash, 'Cf-Client-Cert-Sha256', true)
      return result
    },
  }
}
