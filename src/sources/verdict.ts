/**
 * The proxy's own verification result, in the grammar nginx's `$ssl_client_verify` made common
 * (`SUCCESS`, `NONE`, `FAILED:<reason>`), read beside the certificate by the nginx, Application
 * Gateway, Cloudflare and RFC 9440 sources.
 * @module
 */
import { headerNameOption } from '../bytes.ts'
import { CertgateError, malformed } from '../errors.ts'
import { type CertificateSource, readHeader, type SourceLimits, type SourceRead } from './source.ts'

/** Options for sources whose headers you name in the proxy's configuration. */
export interface VerdictHeaderOption {
  /**
   * The header carrying the proxy's verification result, `SUCCESS`, `NONE` or
   * `FAILED:<reason>` (nginx's `$ssl_client_verify`, App Gateway's
   * `client_certificate_verification`, Cloudflare's `certVerified`).
   */
  verifyHeader?: string
}

/**
 * The `verifyHeader` option, checked: its lowercased name, or null for none. Unset means
 * `defaultName`; `false` turns a default off, and only a source with a default accepts it.
 */
export function verifyHeaderOption(value: unknown, defaultName: string | null): string | null {
  if (value === undefined) return defaultName
  if (value === false && defaultName !== null) return null
  return headerNameOption('verifyHeader', value)
}

type Verdict = 'success' | 'none' | null

/**
 * The proxy's verification result, null when the header is absent. FAILED throws; anything
 * else unrecognised is refused rather than guessed at (two copies joined by `Headers.get` land
 * here too).
 */
function readVerdict(headers: Headers, name: string, limits: SourceLimits): Verdict {
  const value = readHeader(headers, name, limits)
  if (value === null) return null
  const verdict = value.trim()
  if (verdict === 'SUCCESS') return 'success'
  if (verdict === 'NONE') return 'none'
  if (verdict === 'FAILED' || verdict.startsWith('FAILED:')) {
    // The reason (e.g. "certificate has expired") helps the operator, so it goes in `cause`,
    // which the caller may log and which is never sent to the client.
    throw new CertgateError(
      'ERR_PROXY_VERIFY_FAILED',
      'The proxy reports that the client certificate failed verification.',
      { cause: new Error(`proxy verdict: ${verdict.slice(0, 200)}`) }
    )
  }
  throw malformed('ERR_HEADER_MALFORMED', 'The proxy verification result is not SUCCESS, NONE or FAILED:<reason>.')
}

/**
 * A source whose certificate `read` sits behind the verdict in `verifyHeader` (none when null):
 * FAILED throws, NONE means no certificate (whatever else arrived), SUCCESS without the
 * certificate is a certificate nobody can check, and a certificate without the verdict the
 * proxy always sends is refused.
 */
export function behindVerdict(
  name: string,
  verifyHeader: string | null,
  read: (headers: Headers, limits: SourceLimits) => SourceRead | null
): CertificateSource {
  return {
    name,
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      return withVerdict(headers, limits, verifyHeader, () => read(headers, limits))
    },
  }
}

function withVerdict(
  headers: Headers,
  limits: SourceLimits,
  verifyHeader: string | null,
  readCertificate: () => SourceRead | null
): SourceRead | null {
  const verdict = verifyHeader === null ? null : readVerdict(headers, verifyHeader, limits)
  if (verdict === 'none') return null
  const read = readCertificate()
  if (read === null) {
    if (verdict === 'success') {
      // As with an XFCC Hash without Cert: there was a certificate, so even `accept` refuses.
      throw new CertgateError(
        'ERR_CERT_MISSING',
        'The proxy verified a client certificate but did not forward it (configure it to).'
      )
    }
    return null
  }
  if (verifyHeader !== null && verdict === null) {
    throw malformed('ERR_HEADER_MALFORMED', 'The proxy sent a client certificate without its verification result.')
  }
  return read
}
