/**
 * The checks a certificate must pass, each a small pure function, and the allowlists they use,
 * normalised once when the options are compiled.
 * @module
 */
import type { ClientCertificate } from './x509/certificate.ts'
import { countNameAttributes, distinguishedNameKey } from './x509/name.ts'
import { parseSpiffeId } from './x509/spiffe.ts'
import { leafAllowsPurpose, type Purpose } from './x509/purpose.ts'
import { validityStatus } from './x509/validity.ts'
import { CertgateError } from './errors.ts'

/**
 * Who may in. A certificate passes when ANY list matches it (thumbprint OR CN, never AND).
 * Empty lists match nothing.
 */
export interface AllowList {
  /** SHA-256 thumbprints; any case, `:` or spaces between bytes, optional `sha256:` prefix. */
  thumbprints?: readonly string[]
  /**
   * Exact subject CNs (case-sensitive, as the certificate spells them). A subject with more than
   * one CN (`CN=a,CN=b` or `CN=a+CN=b`) matches none: which one counts is ambiguous.
   */
  commonNames?: readonly string[]
  /**
   * DNS SANs, compared case-insensitively. `*.contoso.com` matches exactly one more label
   * (`api.contoso.com`, not `contoso.com` nor `a.b.contoso.com`).
   */
  dnsNames?: readonly string[]
  /** URI SANs, compared exactly. */
  uris?: readonly string[]
  /**
   * Issuer DNs in RFC 4514 form (`CN=Issuing CA,O=Contoso,C=US`), compared as names are: case and
   * spaces around `,`, `+` and `=` are ignored.
   */
  issuers?: readonly string[]
  /**
   * Serial numbers in hex; any case, `:` or spaces, leading zeros ignored. A negative serial is
   * written with a leading `-` (`-80` is −128, `80` is +128).
   */
  serialNumbers?: readonly string[]
  /**
   * SPIFFE IDs: exact (`spiffe://contoso.com/ns/prod/sa/api`) or a path prefix ending in `/*`
   * (`spiffe://contoso.com/ns/prod/*`). The trust domain is compared case-insensitively; a
   * certificate with more than one URI SAN has no SPIFFE ID and matches none, and so does a URI
   * with a percent-encoded, empty, `.` or `..` segment, which is not a SPIFFE ID.
   */
  spiffeIds?: readonly string[]
}

/** An allowlist ready to match: every entry normalised, in Sets. */
export interface CompiledAllowList {
  readonly thumbprints: ReadonlySet<string>
  readonly commonNames: ReadonlySet<string>
  readonly dnsNames: ReadonlySet<string>
  readonly uris: ReadonlySet<string>
  readonly issuers: ReadonlySet<string>
  readonly serialNumbers: ReadonlySet<string>
  readonly dnsWildcards: ReadonlySet<string>
  readonly spiffeIds: ReadonlySet<string>
  readonly spiffePrefixes: readonly string[]
  /** True when thumbprints are the only non-empty list, so a refusal needs no certificate parse. */
  readonly thumbprintsOnly: boolean
  readonly size: number
}

/** Normalises an allowlist; throws TypeError naming a bad entry. */
export function compileAllowList(allow: AllowList): CompiledAllowList {
  const thumbprints = new Set((allow.thumbprints ?? []).map(normaliseThumbprint))
  const commonNames = new Set(allow.commonNames ?? [])
  const dnsEntries = (allow.dnsNames ?? []).map((name) => name.toLowerCase())
  const dnsNames = new Set(dnsEntries.filter((name) => !name.startsWith('*.')))
  const dnsWildcards = new Set(dnsEntries.filter((name) => name.startsWith('*.')).map((name) => name.slice(1)))
  const uris = new Set(allow.uris ?? [])
  const issuers = new Set((allow.issuers ?? []).map(distinguishedNameKey))
  const serialNumbers = new Set((allow.serialNumbers ?? []).map(normaliseSerialNumber))
  const spiffeEntries = (allow.spiffeIds ?? []).map(normaliseSpiffeEntry)
  const spiffeIds = new Set(spiffeEntries.filter((id) => !id.endsWith('/')))
  const spiffePrefixes = spiffeEntries.filter((id) => id.endsWith('/'))
  const others =
    commonNames.size + dnsEntries.length + uris.size + issuers.size + serialNumbers.size + spiffeEntries.length
  return {
    thumbprints,
    commonNames,
    dnsNames,
    uris,
    issuers,
    serialNumbers,
    dnsWildcards,
    spiffeIds,
    spiffePrefixes,
    thumbprintsOnly: thumbprints.size > 0 && others === 0,
    size: thumbprints.size + others,
  }
}

/** Which list let the certificate in, or null. */
export function matchAllowList(list: CompiledAllowList, cert: ClientCertificate): string | null {
  if (list.thumbprints.has(cert.thumbprint)) return 'thumbprint'
  if (cert.commonName !== null && list.commonNames.has(cert.commonName) && !hasSeveralCommonNames(cert)) {
    return 'commonName'
  }
  if (list.dnsNames.size + list.dnsWildcards.size > 0 && cert.dnsNames.some((name) => matchesDnsName(list, name))) {
    return 'dnsName'
  }
  if (list.uris.size > 0 && cert.uris.some((uri) => list.uris.has(uri))) return 'uri'
  if (list.issuers.size > 0 && list.issuers.has(distinguishedNameKey(cert.issuer))) return 'issuer'
  if (list.serialNumbers.has(normaliseSerialNumber(cert.serialNumber))) return 'serialNumber'
  if (cert.spiffeId !== null && matchesSpiffeId(list, cert.spiffeId)) return 'spiffeId'
  return null
}

function hasSeveralCommonNames(cert: ClientCertificate): boolean {
  return countNameAttributes(cert.subject, 'CN') > 1
}

/**
 * The refusal for a certificate on no list. A subject whose CN is listed but is one of several
 * gets its own message, so an operator sees why a listed name was refused.
 */
export function allowListRefusal(list: CompiledAllowList, cert: ClientCertificate): CertgateError {
  // A listed CN refused can only be one of several.
  const severalCns = cert.commonName !== null && list.commonNames.has(cert.commonName)
  return new CertgateError(
    'ERR_CERT_NOT_ALLOWED',
    severalCns
      ? 'The client certificate subject has more than one CN, so it matches no allowed common name.'
      : 'The client certificate is not allowed.'
  )
}

/**
 * Refuses a certificate that is not meant to identify a client: a CA certificate, or one whose
 * extendedKeyUsage lacks the purpose, clientAuth unless `trust.purpose` says otherwise (with
 * `requireClientAuthEku`; anyExtendedKeyUsage alone does not count). A certificate without the
 * extension may be used for anything.
 */
export function checkCertificateUse(
  cert: ClientCertificate,
  rules: { requireClientAuthEku: boolean; purpose: Purpose }
): void {
  const { basicConstraints, extendedKeyUsages } = cert.fields
  if (basicConstraints?.ca === true) {
    throw new CertgateError('ERR_CERT_USAGE', 'The client certificate is a CA certificate.')
  }
  if (rules.requireClientAuthEku && !leafAllowsPurpose(extendedKeyUsages, rules.purpose)) {
    throw new CertgateError('ERR_CERT_USAGE', 'The client certificate is not meant for client authentication.')
  }
}

function matchesDnsName(list: CompiledAllowList, name: string): boolean {
  const lower = name.toLowerCase()
  if (list.dnsNames.has(lower)) return true
  const dot = lower.indexOf('.')
  // A wildcard stands for exactly one label, and a certificate's own `*` never satisfies it.
  return dot > 0 && !lower.slice(0, dot).includes('*') && list.dnsWildcards.has(lower.slice(dot))
}

function matchesSpiffeId(list: CompiledAllowList, id: string): boolean {
  const normalised = parseSpiffeId(id)
  if (normalised === null) return false
  return list.spiffeIds.has(normalised) || list.spiffePrefixes.some((prefix) => normalised.startsWith(prefix))
}

function normaliseSpiffeEntry(entry: string): string {
  const prefix = entry.endsWith('/*')
  const normalised = parseSpiffeId(prefix ? entry.slice(0, -2) : entry)
  if (normalised === null) {
    throw new TypeError(`certgate: allow.spiffeIds entry "${entry}" is not a SPIFFE ID (spiffe://trust-domain/path, or a prefix ending in /*)`)
  }
  return prefix ? `${normalised}/` : normalised
}

/** Refuses a certificate outside its validity window, give or take the tolerance. */
export function checkValidity(cert: ClientCertificate, nowMs: number, toleranceMs: number): void {
  const status = validityStatus(cert, nowMs, toleranceMs)
  if (status === 'not-yet-valid') {
    throw new CertgateError('ERR_CERT_NOT_YET_VALID', 'The client certificate is not valid yet.')
  }
  if (status === 'expired') {
    throw new CertgateError('ERR_CERT_EXPIRED', 'The client certificate has expired.')
  }
}

/**
 * Refuses a certificate whose forwarded `Hash` is not its SHA-256. A proxy never sends a
 * mismatch, so one means the header was written by someone else.
 */
export function checkForwardedHash(thumbprint: string, hash: string | undefined): void {
  // Sources hand the hash on already normalised to uppercase hex (and refuse any other format).
  if (hash !== undefined && hash !== thumbprint) {
    throw new CertgateError(
      'ERR_CERT_HASH_MISMATCH',
      'The forwarded hash does not match the forwarded certificate.'
    )
  }
}

/** `sha256:AB:CD…`, `ab cd …` → `ABCD…`; anything but 64 hex digits is a configuration error. */
export function normaliseThumbprint(entry: string): string {
  const normalised = entry
    .trim()
    .replace(/^sha-?256:/i, '')
    .replace(/[\s:]/g, '')
    .toUpperCase()
  if (!/^[0-9A-F]{64}$/.test(normalised)) {
    const hint = /^[0-9A-F]{40}$/.test(normalised) ? ' (that is a SHA-1 thumbprint; use SHA-256)' : ''
    throw new TypeError(`certgate: allow.thumbprints entry "${entry}" is not a SHA-256 thumbprint of 64 hex digits${hint}`)
  }
  return normalised
}

/** `0a:1B` → `A1B`, `-00:80` → `-80`, `-0` → `0`; a non-hex entry is a configuration error. */
function normaliseSerialNumber(entry: string): string {
  const text = entry.replace(/[\s:]/g, '').toUpperCase()
  const sign = text.startsWith('-') ? '-' : ''
  const magnitude = text.slice(sign.length).replace(/^0+(?=.)/, '')
  const normalised = magnitude === '0' ? '0' : sign + magnitude
  if (!/^[0-9A-F]+$/.test(magnitude)) {
    throw new TypeError(`certgate: allow.serialNumbers entry "${entry}" is not a hex serial number`)
  }
  return normalised
}
