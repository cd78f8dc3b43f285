/**
 * RFC 9440's Client-Cert and Client-Cert-Chain fields.
 * @module
 */
import { malformed } from '../errors.ts'
import {
  type CertificateSource,
  type ForwardedCertificate,
  readHeader,
  type SourceLimits,
  type SourceRead,
} from './source.ts'
import { parseByteSequenceItem, parseByteSequenceList } from './structured-field.ts'
import { behindVerdict, type VerdictHeaderOption, verifyHeaderOption } from './verdict.ts'

/**
 * RFC 9440: `Client-Cert`, the leaf as an RFC 8941 byte sequence (`:base64:`), and
 * `Client-Cert-Chain`, a list of byte sequences that excludes the leaf. Parsed strictly: no
 * parameters (RFC 9440 defines none), no whitespace inside a sequence; padding may be left
 * out, as RFC 8941 asks parsers to allow. Cloudflare fills these "regardless of the certificate
 * validation result": validate the chain, or pass `verifyHeader`.
 */
export function rfc9440Source(options: VerdictHeaderOption = {}): CertificateSource {
  return behindVerdict('rfc9440', verifyHeaderOption(options.verifyHeader, null), readClientCert)
}

function readClientCert(headers: Headers, limits: SourceLimits): SourceRead | null {
  const cert = readHeader(headers, 'client-cert', limits)
  const chain = readHeader(headers, 'client-cert-chain', limits)
  if (cert === null) {
    if (chain !== null) {
      throw malformed('ERR_HEADER_MALFORMED', 'Client-Cert-Chain was sent without Client-Cert.')
    }
    return null
  }
  return {
    key: chain === null ? cert : `${cert}\n${chain}`,
    decode(): ForwardedCertificate {
      return {
        leaf: parseByteSequenceItem(cert, 'Client-Cert'),
        chain: chain === null ? [] : parseByteSequenceList(chain, 'Client-Cert-Chain', limits),
      }
    },
  }
}
