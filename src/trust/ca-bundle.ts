/**
 * A CA bundle (a file of CA certificates, as operators keep them) split into the roots and
 * intermediates `createTrustVerifier` takes, so a bundle can be configured as it is.
 * @module
 */
import { encodePem } from '../x509/pem.ts'
import { type CertificateFields, readCertificateFields } from '../x509/fields.ts'
import { distinguishedNameKey } from '../x509/name.ts'
import { decodeConfigured } from './store.ts'

/** A bundle's CAs as `TrustOptions` takes them: one PEM certificate per entry. */
export interface CaBundle {
  /**
   * The bundle's self-issued CAs, and any CA whose issuer the bundle does not hold (listing an
   * intermediate without its root anchors trust at that intermediate).
   */
  roots: string[]
  /** The bundle's CAs issued by another certificate in the bundle. */
  intermediates: string[]
}

/**
 * Reads a CA bundle: PEM text (CERTIFICATE blocks; text around them, such as OpenSSL's
 * `subject=` lines, is skipped) or the DER of one certificate. Every certificate must be a CA: a
 * leaf in a CA bundle (a `fullchain.pem`) is a mistake worth stopping for. A certificate listed
 * twice counts once. Throws TypeError naming the problem.
 */
export function readCaBundle(input: string | Uint8Array): CaBundle {
  const certs = decodeConfigured(input, 'CA bundle').map((der, i) => ({
    der,
    fields: readBundleCa(der, `CA bundle certificate ${i + 1}`),
  }))
  const subjects = new Set(certs.map(({ fields }) => distinguishedNameKey(fields.subject)))
  const roots: string[] = []
  const intermediates: string[] = []
  for (const { der, fields } of certs) {
    const pem = encodePem(der)
    if (roots.includes(pem) || intermediates.includes(pem)) continue
    if (isSelfIssued(fields) || !subjects.has(distinguishedNameKey(fields.issuer))) roots.push(pem)
    else intermediates.push(pem)
  }
  return { roots, intermediates }
}

function readBundleCa(der: Uint8Array, what: string): CertificateFields {
  let fields: CertificateFields
  try {
    fields = readCertificateFields(der)
  } catch {
    throw new TypeError(`${what} is not a parsable X.509 certificate.`)
  }
  if (fields.basicConstraints?.ca !== true) {
    throw new TypeError(
      `${what} (${JSON.stringify(fields.subject)}) is not a CA certificate ` +
        '(basicConstraints cA is not true).'
    )
  }
  return fields
}

function isSelfIssued(fields: CertificateFields): boolean {
  const { authorityKeyIdentifier: aki, subjectKeyIdentifier: ski } = fields
  const sameName = distinguishedNameKey(fields.subject) === distinguishedNameKey(fields.issuer)
  return sameName && (aki === null || ski === null || aki === ski)
}
