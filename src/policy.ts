/**
 * The checks a certificate must pass, each a small pure function, and the allowlists they use,
 * normalised once when the options are compiled.
 * @module
 */
import type { ClientCertificate } from './certificate.ts'
import { CertgateError } from './errors.ts'

/**
 * Who may in. A certificate passes when ANY list matches it (the recipe's "thumbprint OR CN").
 * Empty lists match nothing.
 */
export interface AllowList {
  /** SHA-256 thumbprints; any case, `:` or spaces between bytes, optional `sha256:` prefix. */
  thumbprints?: readonly string[]
  /** Exact subject CNs (case-sensitive, as the certificate spells them). */
  commonNames?: readonly string[]
  /** DNS SANs, compared case-insensitively. */
  dnsNames?: readonly string[]
  /** URI SANs, compared exactly. */
  uris?: readonly string[]
  /** Issuer DNs in RFC 4514 form (`CN=Issuing CA,O=Contoso,C=US`); spaces after `,` and attribute case are ignored. */
  issuers?: readonly string[]
  /** Serial numbers in hex; any case, `:` or spaces, leading zeros ignored. */
  serialNumbers?: readonly string[]
}

/** An allowlist ready to match: every entry normalised, in Sets. */
export interface CompiledAllowList {
  readonly thumbprints: ReadonlySet<string>
  readonly commonNames: ReadonlySet<string>
  readonly dnsNames: ReadonlySet<string>
  readonly uris: ReadonlySet<string>
  readonly issuers: ReadonlySet<string>
  readonly serialNumbers: ReadonlySet<string>
  /** True when thumbprints are the only non-empty list, so a refusal needs no certificate parse. */
  readonly thumbprintsOnly: boolean
  readonly size: number
}

/** Normalises an allowlist; throws TypeError naming a bad entry. */
export function compileAllowList(allow: AllowList): CompiledAllowList {
  const thumbprints = new Set((allow.thumbprints ?? []).map(normaliseThumbprint))
  const commonNames = new Set(allow.commonNames ?? [])
  const dnsNames = new Set((allow.dnsNames ?? []).map((name) => name.toLowerCase()))
  const uris = new Set(allow.uris ?? [])
  const issuers = new Set((allow.issuers ?? []).map(normaliseDistinguishedName))
  const serialNumbers = new Set((allow.serialNumbers ?? []).map(normaliseSerialNumber))
  const others = commonNames.size + dnsNames.size + uris.size + issuers.size + serialNumbers.size
  return {
    thumbprints,
    commonNames,
    dnsNames,
    uris,
    issuers,
    serialNumbers,
    thumbprintsOnly: thumbprints.size > 0 && others === 0,
    size: thumbprints.size + others,
  }
}

/** Which list let the certificate in, or null. */
export function matchAllowList(list: CompiledAllowList, cert: ClientCertificate): string | null {
  if (list.thumbprints.has(cert.thumbprint)) return 'thumbprint'
  if (cert.commonName !== null && list.commonNames.has(cert.commonName)) return 'commonName'
  if (list.dnsNames.size > 0 && cert.dnsNames.some((name) => list.dnsNames.has(name.toLowerCase()))) {
    return 'dnsName'
  }
  if (list.uris.size > 0 && cert.uris.some((uri) => list.uris.has(uri))) return 'uri'
  if (list.issuers.size > 0 && list.issuers.has(normaliseDistinguishedName(cert.issuer))) return 'issuer'
  if (list.serialNumbers.has(normaliseSerialNumber(cert.serialNumber))) return 'serialNumber'
  return null
}

/** Refuses a certificate outside its validity window, give or take the tolerance. */
export function checkValidity(cert: ClientCertificate, nowMs: number, toleranceMs: number): void {
  if (cert.notBefore.getTime() - toleranceMs > nowMs) {
    throw new CertgateError('ERR_CERT_NOT_YET_VALID', 'The client certificate is not valid yet.')
  }
  if (cert.notAfter.getTime() + toleranceMs < nowMs) {
    throw new CertgateError('ERR_CERT_EXPIRED', 'The client certificate has expired.')
  }
}

/**
 * Refuses a certificate whose forwarded `Hash` is not its SHA-256. A proxy never sends a
 * mismatch, so one means the header was written by someone else.
 */
export function checkForwardedHash(thumbprint: string, hash: string | undefined): void {
  if (hash === undefined) return
  const normalised = hash.replace(/:/g, '').toUpperCase()
  if (!/^[0-9A-F]{64}$/.test(normalised)) {
    throw new CertgateError('ERR_XFCC_MALFORMED', 'The XFCC Hash is not a SHA-256 hex digest.')
  }
  if (normalised !== thumbprint) {
    throw new CertgateError(
      'ERR_CERT_HASH_MISMATCH',
      'The XFCC Hash does not match the forwarded certificate.'
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

/** `0a:1B` → `A1B`; a non-hex entry is a configuration error. */
export function normaliseSerialNumber(entry: string): string {
  const normalised = entry.replace(/[\s:]/g, '').toUpperCase().replace(/^0+(?=.)/, '')
  if (!/^[0-9A-F]+$/.test(normalised)) {
    throw new TypeError(`certgate: allow.serialNumbers entry "${entry}" is not a hex serial number`)
  }
  return normalised
}

/** RFC 4514 DN → a comparable form: attribute types uppercased, spaces around separators dropped. */
export function normaliseDistinguishedName(dn: string): string {
  const parts: string[] = []
  let start = 0
  for (let i = 0; i <= dn.length; i++) {
    const code = dn.charCodeAt(i)
    if (code === 0x5c) {
      i++
      continue
    }
    if (i === dn.length || code === 0x2c || code === 0x2b) {
      parts.push(normaliseAttribute(dn.slice(start, i).trim()) + (i < dn.length ? dn[i] : ''))
      start = i + 1
    }
  }
  return parts.join('')
}

function normaliseAttribute(attribute: string): string {
  const equals = attribute.indexOf('=')
  if (equals === -1) return attribute
  return `${attribute.slice(0, equals).trim().toUpperCase()}=${attribute.slice(equals + 1).trim()}`
}
