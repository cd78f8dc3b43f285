/**
 * The rules a path must meet besides its signatures (RFC 5280 §6, the parts that matter for
 * client authentication): every issuing certificate is a CA allowed to sign certificates, within
 * its path length, valid now and without a critical extension certgate does not process; the leaf
 * is not a CA and its key usages allow client authentication; the names on the path are
 * well-formed and within every CA's name constraints (`name-constraints.ts`).
 * @module
 */
import { checkPathNames, type NameCheckOptions } from './name-constraints.ts'
import {
  checkProfile,
  checkSelfSignedProfile,
  isSelfIssued,
  type PathProfileOptions,
  type ProfileCheckOptions,
} from './profile.ts'
import { CertgateError } from '../errors.ts'
import type { ParsedCertificate } from '../x509/fields.ts'
import { validityStatus } from '../x509/validity.ts'

/** Options for {@link checkPath}. */
export interface PathCheckOptions extends NameCheckOptions, PathProfileOptions {
  nowMs: number
  /** Clock skew allowed on each side of an issuing CA's validity window. */
  toleranceMs: number
}

const KU_DIGITAL_SIGNATURE = 1
const KU_KEY_CERT_SIGN = 32

function chainInvalid(message: string): CertgateError {
  return new CertgateError('ERR_CHAIN_INVALID', message)
}

/** Checks every CA on the path (leaf first, root last), then the leaf. Throws CertgateError. */
export function checkPath(path: readonly ParsedCertificate[], options: PathCheckOptions): void {
  checkProfile(path, options)
  // Self-issued intermediates (a CA's certificate for its own new key) do not count.
  let below = 0
  for (let i = 1; i < path.length; i++) {
    checkIssuer(path[i]!, below, options)
    if (!isSelfIssued(path[i]!)) below++
  }
  checkLeaf(path[0]!)
  checkPathNames(path, options)
}

/** One issuing CA, with `below` CAs (not self-issued) between it and the leaf. */
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

/**
 * A pinned self-signed leaf, which has no path: the same leaf rules as an issued leaf, and its
 * key and key identifiers. Throws CertgateError.
 */
export function checkPinnedLeaf(cert: ParsedCertificate, options: ProfileCheckOptions): void {
  checkSelfSignedProfile(cert, options)
  checkLeaf(cert)
}

function checkLeaf(cert: ParsedCertificate): void {
  const leaf = cert.fields
  if (leaf.basicConstraints?.ca === true) {
    throw new CertgateError('ERR_CERT_USAGE', 'The client certificate is a CA certificate.')
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
