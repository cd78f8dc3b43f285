/**
 * Decoders for what name constraints act on: a CA's nameConstraints extension (permitted and
 * excluded subtrees of GeneralNames) and a certificate's own names (subject RDNs, the subject's
 * emailAddress attributes, subjectAltName entries). Decoding only: what they mean for a path is
 * decided in `trust/name-constraints.ts`. Structural errors throw ERR_CERT_MALFORMED; what is
 * well-formed but cannot be honoured is reported in `NameConstraints.problem`.
 * @module
 */
import { toHexLower } from '../bytes.ts'
import { type DerReader, derMalformed, TAG_OID, TAG_SEQUENCE, TAG_SET, type Tlv } from './der.ts'
import { checkOid, isStringTag, readIa5String, readOid, readString } from './der-values.ts'
import {
  type Extension,
  GN_DIRECTORY_NAME,
  GN_DNS_NAME,
  GN_EDI_PARTY_NAME,
  GN_IP_ADDRESS,
  GN_OTHER_NAME,
  GN_REGISTERED_ID,
  GN_RFC822_NAME,
  GN_URI,
  GN_X400_ADDRESS,
} from './extensions.ts'
import { foldNameText } from './name.ts'

const MAX_SUBTREES = 256
const OID_EMAIL_ADDRESS = '1.2.840.113549.1.9.1'
// GeneralSubtree's minimum [0] and maximum [1], implicitly tagged INTEGERs.
const TAG_MINIMUM = 0x80
const TAG_MAXIMUM = 0x81
// NameConstraints' permittedSubtrees [0] and excludedSubtrees [1], implicitly tagged SEQUENCE OFs.
const TAG_PERMITTED = 0xa0
const TAG_EXCLUDED = 0xa1

/** The GeneralName forms certgate reads the value of. */
export type TextNameType = 'dns' | 'email' | 'uri'

/** The GeneralName forms certgate recognises but does not read (no constraint semantics). */
export type OpaqueNameType = 'otherName' | 'x400Address' | 'ediPartyName' | 'registeredID'

/** One GeneralName, decoded. */
export type GeneralName =
  | { readonly type: TextNameType; readonly text: string }
  /** 4 or 16 octets in a certificate; address then mask (8 or 32 octets) in a constraint. */
  | { readonly type: 'ip'; readonly octets: Uint8Array }
  /** One key per RDN (`rdnKey`), least specific first, as encoded. */
  | { readonly type: 'directory'; readonly rdns: readonly string[] }
  | { readonly type: OpaqueNameType }

/** A nameConstraints extension, decoded. */
export interface NameConstraints {
  readonly critical: boolean
  readonly permitted: readonly GeneralName[]
  readonly excluded: readonly GeneralName[]
  /** Why it cannot be honoured as written (no subtrees, a minimum or maximum), or null. */
  readonly problem: string | null
}

/** The names of one certificate that name constraints apply to. */
export interface CertificateNames {
  /** The subject's RDN keys, least specific first; empty for an empty subject. */
  readonly subject: readonly string[]
  /** Values of the subject's emailAddress attributes. */
  readonly subjectEmails: readonly string[]
  /** subjectAltName entries, or null without the extension. */
  readonly altNames: readonly GeneralName[] | null
  readonly altNamesCritical: boolean
}

/** Decodes a nameConstraints extension. */
export function readNameConstraints(r: DerReader, extension: Extension): NameConstraints {
  const c = r.children(r.encapsulated(extension.value, TAG_SEQUENCE))
  const permittedTlv = c.optional(TAG_PERMITTED)
  const excludedTlv = c.optional(TAG_EXCLUDED)
  c.finish()
  const permitted = permittedTlv ? readSubtrees(r, permittedTlv) : null
  const excluded = excludedTlv ? readSubtrees(r, excludedTlv) : null
  let problem = permitted?.problem ?? excluded?.problem ?? null
  const count = (permitted?.bases.length ?? 0) + (excluded?.bases.length ?? 0)
  // GeneralSubtrees is SIZE (1..MAX), and an extension with neither constrains nothing.
  if (count === 0 || permitted?.bases.length === 0 || excluded?.bases.length === 0) {
    problem ??= 'empty subtrees'
  }
  return {
    critical: extension.critical,
    permitted: permitted?.bases ?? [],
    excluded: excluded?.bases ?? [],
    problem,
  }
}

function readSubtrees(
  r: DerReader,
  tlv: Tlv
): { bases: GeneralName[]; problem: string | null } {
  const subtrees = r.children(tlv)
  const bases: GeneralName[] = []
  let problem: string | null = null
  while (subtrees.more()) {
    if (bases.length >= MAX_SUBTREES) derMalformed('too many name constraint subtrees')
    const subtree = r.children(subtrees.expect(TAG_SEQUENCE))
    bases.push(readGeneralName(r, subtree.next()))
    // minimum is DEFAULT 0, so DER omits a 0; any minimum or maximum bounds the subtree's depth,
    // which RFC 5280 leaves unused and certgate does not implement.
    const minimum = subtree.optional(TAG_MINIMUM)
    const maximum = subtree.optional(TAG_MAXIMUM)
    subtree.finish()
    if (minimum || maximum) problem ??= 'subtree with a minimum or maximum'
  }
  return { bases, problem }
}

/** Decodes a certificate's names from its subject Name and subjectAltName extension. */
export function readCertificateNames(
  r: DerReader,
  subject: Tlv,
  subjectAltName: Extension | null
): CertificateNames {
  const subjectEmails: string[] = []
  const rdns = readRdnKeys(r, subject, (oid, value) => {
    if (oid !== OID_EMAIL_ADDRESS) return
    if (!isStringTag(value.tag)) derMalformed('emailAddress is not a string')
    subjectEmails.push(readString(r.bytes, value))
  })
  let altNames: GeneralName[] | null = null
  if (subjectAltName !== null) {
    altNames = []
    const names = r.children(r.encapsulated(subjectAltName.value, TAG_SEQUENCE))
    while (names.more()) altNames.push(readGeneralName(r, names.next()))
  }
  return {
    subject: rdns,
    subjectEmails,
    altNames,
    altNamesCritical: subjectAltName?.critical ?? false,
  }
}

/** One GeneralName (a SAN entry or a constraint's base). */
export function readGeneralName(r: DerReader, name: Tlv): GeneralName {
  const bytes = r.bytes
  switch (name.tag) {
    case GN_DNS_NAME:
      return { type: 'dns', text: readIa5String(bytes, name) }
    case GN_RFC822_NAME:
      return { type: 'email', text: readIa5String(bytes, name) }
    case GN_URI:
      return { type: 'uri', text: readIa5String(bytes, name) }
    case GN_IP_ADDRESS:
      return { type: 'ip', octets: bytes.slice(name.contentStart, name.end) }
    case GN_DIRECTORY_NAME: {
      // [4] is EXPLICIT (Name is a CHOICE): it wraps the RDNSequence.
      const wrapper = r.children(name)
      const rdns = readRdnKeys(r, wrapper.expect(TAG_SEQUENCE))
      wrapper.finish()
      return { type: 'directory', rdns }
    }
    case GN_REGISTERED_ID:
      checkOid(bytes, { ...name, tag: TAG_OID })
      return { type: 'registeredID' }
    case GN_OTHER_NAME:
      return { type: 'otherName' }
    case GN_X400_ADDRESS:
      return { type: 'x400Address' }
    case GN_EDI_PARTY_NAME:
      return { type: 'ediPartyName' }
    default:
      return derMalformed('unknown GeneralName')
  }
}

/**
 * A Name → one key per RDN, least specific first. A key is the RDN's attributes, each as
 * `oid=value` (string values folded as names are compared, others as hex DER), sorted, so that
 * two RDNs are equal when their keys are. `visit` sees every attribute on the way.
 */
function readRdnKeys(
  r: DerReader,
  name: Tlv,
  visit?: (oid: string, value: Tlv) => void
): string[] {
  const keys: string[] = []
  const rdns = r.children(name)
  while (rdns.more()) {
    const set = r.children(rdns.expect(TAG_SET))
    const attributes: string[] = []
    do {
      const atv = r.children(set.expect(TAG_SEQUENCE))
      const oid = readOid(r.bytes, atv.expect(TAG_OID))
      const value = atv.next()
      atv.finish()
      visit?.(oid, value)
      const text = isStringTag(value.tag)
        ? foldNameText(readString(r.bytes, value))
        : `#${toHexLower(r.encoding(value))}`
      attributes.push(`${oid}=${text}`)
    } while (set.more())
    keys.push(JSON.stringify(attributes.sort()))
  }
  return keys
}
