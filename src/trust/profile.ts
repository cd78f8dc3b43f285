/**
 * The certificate profile every certificate on a path is held to, beyond what links the path
 * (signatures, the CA bit, path length, validity): acceptable keys, the purpose (extended key
 * usage) on the leaf and on every CA, key identifiers present and not critical, basicConstraints
 * critical on CAs, and keyCertSign only with the CA bit. (A v1 or v2 certificate cannot be a CA
 * at all: it has no extensions, so no basicConstraints.)
 *
 * Web-PKI server rules (a CN repeated in the SAN, the fields of a root's AKI, EKU on roots) are
 * left out on purpose: client certificates and private CAs commonly break them harmlessly.
 * @module
 */
import { CertgateError } from '../errors.ts'
import {
  EXT_AUTHORITY_KEY_IDENTIFIER,
  EXT_BASIC_CONSTRAINTS,
  EXT_INHIBIT_ANY_POLICY,
  EXT_POLICY_CONSTRAINTS,
  EXT_SUBJECT_KEY_IDENTIFIER,
} from '../x509/extensions.ts'
import type { ParsedCertificate } from '../x509/fields.ts'
import { describePublicKey, keyRefusal, MAX_RSA_BITS, MIN_RSA_BITS } from '../x509/keys.ts'
import {
  ANY_EXTENDED_KEY_USAGE,
  leafAllowsPurpose,
  type Purpose,
  PURPOSE_OIDS,
} from '../x509/purpose.ts'
import { certificateSignedObject, SignerKey, verifySignature } from '../x509/signature.ts'
import { nameKeys } from './store.ts'
import { equalBytes } from '../bytes.ts'

export type { Purpose }

/** The profile's settings, from `TrustOptions`. */
export interface ProfileOptions {
  /** The extended key usage the leaf and every CA with an EKU extension must allow. */
  readonly purpose: Purpose
  /** False: a leaf's EKU is not checked (CAs' still are). */
  readonly requireClientAuthEku: boolean
  /** RSA moduli shorter than this are refused (2048 or more). */
  readonly minRsaBits: number
}

/** Per check: what the runtime can verify. */
export interface ProfileCheckOptions extends ProfileOptions {
  /** This runtime's Web Crypto verifies Ed25519. */
  readonly ed25519: boolean
}

/** Per path: also whether its trust anchor may go without an AKI ({@link anchorMayOmitAki}). */
export interface PathProfileOptions extends ProfileCheckOptions {
  readonly anchorMayOmitAki: boolean
}

const KU_KEY_CERT_SIGN = 32

/** Validates and defaults the profile's options; throws TypeError naming the bad one. */
export function profileOptions(options: {
  purpose?: unknown
  requireClientAuthEku?: unknown
  minRsaBits?: unknown
}): ProfileOptions {
  const {
    purpose = 'clientAuth',
    requireClientAuthEku = true,
    minRsaBits = MIN_RSA_BITS,
  } = options
  if (purpose !== 'clientAuth' && purpose !== 'serverAuth') {
    throw new TypeError("trust.purpose must be 'clientAuth' or 'serverAuth'.")
  }
  if (typeof requireClientAuthEku !== 'boolean') {
    throw new TypeError('trust.requireClientAuthEku must be a boolean.')
  }
  if (
    typeof minRsaBits !== 'number' ||
    !Number.isInteger(minRsaBits) ||
    minRsaBits < MIN_RSA_BITS ||
    minRsaBits > MAX_RSA_BITS
  ) {
    throw new TypeError(
      `trust.minRsaBits must be an integer from ${MIN_RSA_BITS} to ${MAX_RSA_BITS}.`
    )
  }
  return { purpose, requireClientAuthEku, minRsaBits }
}

/**
 * Checks the profile on a path, leaf first and trust anchor last. Throws CertgateError:
 * ERR_CERT_KEY_REFUSED for a key, ERR_CERT_USAGE for the leaf's purpose, ERR_CHAIN_INVALID for
 * the rest.
 */
export function checkProfile(
  path: readonly ParsedCertificate[],
  options: PathProfileOptions
): void {
  path.forEach((cert, i) => checkKey(cert, i === 0 ? LEAF : CA, options))
  for (let i = 0; i < path.length; i++) {
    const cert = path[i]!
    const above = i + 1 < path.length ? path[i + 1]! : null
    checkExtensionsAndSerial(cert, i === 0 ? LEAF : CA, {
      mayOmitAki: above === null ? options.anchorMayOmitAki : isSelfSignedBy(cert, above),
      isAnchor: above === null,
    })
    if (i > 0) checkCaProfile(cert, options.purpose)
  }
  checkLeafUsage(path[0]!, options)
}

/**
 * The checks a pinned self-signed leaf gets in place of a path: its key, its key identifiers,
 * and the leaf's purpose.
 */
export function checkSelfSignedProfile(
  leaf: ParsedCertificate,
  options: ProfileCheckOptions
): void {
  checkKey(leaf, LEAF, options)
  checkExtensionsAndSerial(leaf, LEAF, { mayOmitAki: true, isAnchor: false })
  checkLeafUsage(leaf, options)
}

// How messages name the certificate at fault.
const LEAF = 'The client certificate'
const CA = 'A CA certificate on the chain'

function checkKey(cert: ParsedCertificate, who: string, options: ProfileCheckOptions): void {
  const key = describePublicKey(cert.signatureParts().subjectPublicKeyInfo)
  const refusal = keyRefusal(key, options)
  if (refusal !== null) {
    throw new CertgateError('ERR_CERT_KEY_REFUSED', `${who} carries ${refusal}.`)
  }
  // Only a CA's key is used here; a leaf's Ed25519 key is the proxy's business.
  if (who === CA && key.kind === 'Ed25519' && !options.ed25519) {
    throw new CertgateError(
      'ERR_CERT_KEY_REFUSED',
      `${who} carries an Ed25519 key, which this runtime's Web Crypto cannot verify.`
    )
  }
}

/**
 * Key identifiers, the criticality of policy constraints, and the serial number: positive and at
 * most 20 octets, except on a trust anchor (configured, and old roots with serial 0 exist).
 */
function checkExtensionsAndSerial(
  cert: ParsedCertificate,
  who: string,
  { mayOmitAki, isAnchor }: { mayOmitAki: boolean; isAnchor: boolean }
): void {
  if (!isAnchor && !isConformingSerial(cert.fields.serialNumber)) {
    throw chainInvalid(`${who} has a serial number that is not positive or is over 20 octets.`)
  }
  const critical = cert.extras().idCeCritical
  if (critical.get(EXT_AUTHORITY_KEY_IDENTIFIER) || critical.get(EXT_SUBJECT_KEY_IDENTIFIER)) {
    throw chainInvalid(`${who} marks a key identifier extension critical.`)
  }
  // Policies are not processed, so these are refused when critical (an unhandled critical
  // extension) and, as they must always be critical, when not.
  const policyRule = [EXT_POLICY_CONSTRAINTS, EXT_INHIBIT_ANY_POLICY]
  if (policyRule.some((arc) => critical.get(arc) === false)) {
    throw chainInvalid(`${who} carries a policy constraint not marked critical.`)
  }
  // A self-signed certificate may leave the extension out; one that has it names the key.
  const akiPresent = critical.has(EXT_AUTHORITY_KEY_IDENTIFIER)
  if (cert.fields.authorityKeyIdentifier === null && (akiPresent || !mayOmitAki)) {
    throw chainInvalid(`${who} has no authority key identifier.`)
  }
}

/** A CA on the path (an intermediate or the trust anchor). */
function checkCaProfile(ca: ParsedCertificate, purpose: Purpose): void {
  const { fields } = ca
  const extras = ca.extras()
  if (fields.subjectKeyIdentifier === null) {
    throw chainInvalid('A CA certificate on the chain has no subject key identifier.')
  }
  if (fields.basicConstraints !== null && extras.idCeCritical.get(EXT_BASIC_CONSTRAINTS) !== true) {
    throw chainInvalid('A CA certificate on the chain does not mark basicConstraints critical.')
  }
  const ekus = fields.extendedKeyUsages
  const allowed = ekus === null || ekus.includes(PURPOSE_OIDS[purpose])
  if (!allowed && !ekus.includes(ANY_EXTENDED_KEY_USAGE)) {
    throw chainInvalid(`A CA certificate on the chain may not issue for ${purpose}.`)
  }
}

/** The leaf's purpose, and keyCertSign only with the CA bit (a CA leaf is refused elsewhere). */
function checkLeafUsage(leaf: ParsedCertificate, options: ProfileCheckOptions): void {
  const { fields } = leaf
  const keyCertSign = fields.keyUsage !== null && (fields.keyUsage & KU_KEY_CERT_SIGN) !== 0
  if (keyCertSign && fields.basicConstraints?.ca !== true) {
    throw new CertgateError(
      'ERR_CERT_USAGE',
      'The client certificate may sign certificates but is not a CA.'
    )
  }
  const purposeOk = leafAllowsPurpose(fields.extendedKeyUsages, options.purpose)
  if (options.requireClientAuthEku && !purposeOk) {
    const meant = options.purpose === 'clientAuth' ? 'client' : 'server'
    throw new CertgateError(
      'ERR_CERT_USAGE',
      `The client certificate is not meant for ${meant} authentication.`
    )
  }
}

/** A serial number (hex, without DER's sign octet, `-` when negative) from 1 to 20 DER octets. */
function isConformingSerial(hex: string): boolean {
  if (hex.startsWith('-') || /^0*$/.test(hex)) return false
  // DER adds a sign octet in front of a high first bit.
  return hex.length / 2 + (Number.parseInt(hex[0]!, 16) >= 8 ? 1 : 0) <= 20
}

/** Subject and issuer are the same name (a root, or a CA's certificate for its own new key). */
export function isSelfIssued(cert: ParsedCertificate): boolean {
  const [subject, issuer] = nameKeys(cert)
  return subject === issuer
}

// Per configured anchor, for the life of its verifier.
const selfSignedAnchors = new WeakMap<ParsedCertificate, Promise<boolean>>()

/**
 * Whether a trust anchor may go without an authority key identifier, as a self-signed one may:
 * true when it has one anyway or its subject is its issuer; otherwise, whether its own key
 * verifies it (checked once per anchor). A cross-signed anchor must name its signer's key.
 */
export function anchorMayOmitAki(anchor: ParsedCertificate): Promise<boolean> {
  if (anchor.fields.authorityKeyIdentifier !== null || isSelfIssued(anchor)) {
    return Promise.resolve(true)
  }
  let known = selfSignedAnchors.get(anchor)
  if (known === undefined) {
    const parts = anchor.signatureParts()
    const { subjectPublicKeyInfo, publicKeyAlgorithm, namedCurve } = parts
    const own = new SignerKey(subjectPublicKeyInfo, publicKeyAlgorithm, namedCurve)
    const verdict = verifySignature(certificateSignedObject(parts), own)
    known = verdict.then((outcome) => outcome === 'valid')
    selfSignedAnchors.set(anchor, known)
  }
  return known
}

/** Self-issued and carrying the same key as the certificate that signed it. */
function isSelfSignedBy(cert: ParsedCertificate, above: ParsedCertificate): boolean {
  if (!isSelfIssued(cert)) return false
  return equalBytes(
    cert.signatureParts().subjectPublicKeyInfo,
    above.signatureParts().subjectPublicKeyInfo
  )
}

function chainInvalid(message: string): CertgateError {
  return new CertgateError('ERR_CHAIN_INVALID', message)
}
