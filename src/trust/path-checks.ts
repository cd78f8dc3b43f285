/**
 * The rules a path must meet besides its signatures (RFC 5280 §6, the parts that matter for
 * client authentication): every issuing certificate is a CA allowed to sign certificates, within
 * its path length, valid now and without a critical extension certgate does not process; the leaf
 * is not a CA and its key usages allow client authentication; the names on the path are
 * well-formed and within every CA's name constraints (`name-constraints.ts`).
 * @module
 */
import { checkPathNames, type NameCheckOptions } from './name-constraints.ts'
import { CertgateError } from '../errors.ts'
import type { ParsedCertificate } from '../x509/fields.ts'
import { validityStatus } from '../x509/validity.ts'

/** Options for {@link checkPath}. */
export interface PathCheckOptions extends NameCheckOptions {
  nowMs: number
  /** Clock skew allowed on each side of an issuing CA's validity window. */
  toleranceMs: number
  /** A leaf with an extendedKeyUsage extension must list clientAuth. */
  requireClientAuthEku: boolean
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const KU_DIGITAL_SIGNATURE = 1
const KU_KEY_CERT_SIGN = 32

function chainInvalid(message: string): CertgateError {
  return new CertgateError('ERR_CHAIN_INVALID', message)
}

/** Checks every CA on the path (leaf first, root last), then the leaf. Throws CertgateError. */
export function checkPath(path: readonly ParsedCertificate[], options: PathCheckOptions): void {
  for (let i = 1; i < path.length; i++) checkIssuer(path[i]!, i - 1, options)
  checkLeaf(path[0]!, options)
  checkPathNames(path, options)
}

/** One issuing CA, with `below` CAs between it and the leaf. */
function checkIssuer(cert: ParsedCertificate, below: number, options: PathCheckOptions): void {
  const ca = cert.fields
  if (ca.basicConstraints?.ca !== true) {
    throw chainInvalid('An issuing certificate on the chain is not a CA.')
  }
  if (ca.basicConstraints.pathLength !== null && below > ca.basicConstraints.pathLength) {
    throw chainInvalid('An issuing CA exceeds its path length constraint.')
  }
  if (ca.keyUsage !== null && (ca.keyUsage & KU_KEY_CERT_SIGN) === 0) {
    throw chainInvalid('An issuing CA is not allowed to sign certificates.')
  }
  const validity = validityStatus(ca, options.nowMs, options.toleranceMs)
  if (validity === 'not-yet-valid') {
    throw new CertgateError('ERR_CERT_NOT_YET_VALID', 'An issuing CA certificate is not valid yet.')
  }
  if (validity === 'expired') {
    throw new CertgateError('ERR_CERT_EXPIRED', 'An issuing CA certificate has expired.')
  }
  if (cert.extras().unhandledCriticalExtension !== null) {
    throw chainInvalid(
      'An issuing CA certificate has a critical extension certgate does not process.'
    )
  }
}

function checkLeaf(cert: ParsedCertificate, options: PathCheckOptions): void {
  const leaf = cert.fields
  if (leaf.basicConstraints?.ca === true) {
    throw new CertgateError('ERR_CERT_USAGE', 'The client certificate is a CA certificate.')
  }
  const ekus = leaf.extendedKeyUsages
  if (options.requireClientAuthEku && ekus !== null && !ekus.includes(CLIENT_AUTH)) {
    throw new CertgateError(
      'ERR_CERT_USAGE',
      'The client certificate is not meant for client authentication.'
    )
  }
  if (leaf.keyUsage !== null && (leaf.keyUsage & KU_DIGITAL_SIGNATURE) === 0) {
    throw new CertgateError(
      'ERR_CERT_USAGE',
      'The client certificate key is not meant for signing.'
    )
  }
  if (cert.extras().unhandledCriticalExtension !== null) {
    throw new CertgateError(
      'ERR_CERT_USAGE',
      'The client certificate has a critical extension certgate does not process.'
    )
  }
}
