/**
 * The name rules of a path: every certificate's names well-formed, and every CA's name
 * constraints applied to the certificates below it.
 *
 * Well-formed: a dNSName SAN is an LDH host name or `*.` and a name of two labels or more; an
 * rfc822Name SAN is a mailbox (`local@host`); a certificate with an empty subject has a critical
 * subjectAltName; no CA has an empty subject.
 *
 * Constraints: a CA's permitted and excluded subtrees apply to the subject and subjectAltName of
 * every certificate below it on the path, self-issued intermediates excepted (the leaf never is).
 * Checking each CA's constraints on their own equals intersecting them down the path. For a name
 * of one form, a matching excluded subtree refuses; when permitted subtrees of that form exist,
 * one must match; subtrees of other forms do not constrain it. Forms: dNSName (the name and
 * names below it), iPAddress (address and mask, v4 and v6), rfc822Name (a mailbox, a host, or
 * `.domain` for hosts below it), URI (its host, as rfc822Name's host and domain forms; a URI
 * without a host name never matches), directoryName (an RDN prefix of the subject, when not
 * empty, and of directoryName SANs; with no subjectAltName, the subject's emailAddress attributes
 * count as rfc822Names). Subtrees of forms certgate has no rules for (otherName, x400Address,
 * ediPartyName, registeredID) refuse only a path where a name of that form appears below them:
 * with none, there is nothing to decide. The subject CN is never read as a DNS name: client
 * certificates commonly carry CNs that are not host names.
 * @module
 */
import { CertgateError } from '../errors.ts'
import type { ParsedCertificate } from '../x509/fields.ts'
import { nameKeys } from './store.ts'
import type { CertificateNames, GeneralName, NameConstraints } from '../x509/name-constraints.ts'

/** Options for {@link checkPathNames}. */
export interface NameCheckOptions {
  /** Enforce name constraints a CA did not mark critical, instead of refusing the CA. */
  allowNonCriticalNameConstraints: boolean
}

// A label of letters, digits and hyphens, neither first nor last a hyphen, at most 63 long.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i
const MAX_HOST_NAME = 253
const ALL_DIGITS = /^[0-9]+$/
// RFC 5321 local parts: a dot-atom, or a quoted string.
const DOT_ATOM = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i
const QUOTED_STRING = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/
const MAX_LOCAL_PART = 64
const URI_AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i

function nameConstraintsError(message: string, reason?: string): CertgateError {
  return new CertgateError('ERR_NAME_CONSTRAINTS', message, { cause: reason })
}

function chainInvalid(message: string): CertgateError {
  return new CertgateError('ERR_CHAIN_INVALID', message)
}

/** Checks the names on a path (leaf first, trust anchor last). Throws CertgateError. */
export function checkPathNames(
  path: readonly ParsedCertificate[],
  options: NameCheckOptions
): void {
  for (let i = 0; i < path.length; i++) checkWellFormed(path[i]!, i, path.length - 1)
  if (path[0]!.nameConstraints() !== null) {
    throw nameConstraintsError(
      'The client certificate has name constraints, which only a CA may have.'
    )
  }
  for (let i = path.length - 1; i > 0; i--) {
    const constraints = path[i]!.nameConstraints()
    if (constraints === null) continue
    checkConstraintsUsable(constraints, options)
    for (let j = i - 1; j >= 0; j--) {
      if (j > 0 && isSelfIssued(path[j]!)) continue
      for (const name of constrainedNames(path[j]!.names())) checkName(name, constraints)
    }
  }
}

/** The certificate at `index` (0 the leaf, `anchor` the trust anchor), on its own. */
function checkWellFormed(cert: ParsedCertificate, index: number, anchor: number): void {
  const { subject, dnsNames, emails } = cert.fields
  if (index > 0 && subject === '') throw chainInvalid('A CA on the chain has an empty subject.')
  // The trust anchor is configured, not presented: its own names are not judged.
  if (index === anchor) return
  if (subject === '' && !cert.names().altNamesCritical) {
    throw chainInvalid(
      'A certificate on the chain has an empty subject and no critical subjectAltName.'
    )
  }
  if (!dnsNames.every(isDnsNameOrWildcard)) {
    throw chainInvalid('A certificate on the chain has a malformed DNS name.')
  }
  if (!emails.every((email) => splitMailbox(email) !== null)) {
    throw chainInvalid('A certificate on the chain has a malformed email address.')
  }
}

function isSelfIssued(cert: ParsedCertificate): boolean {
  const [subject, issuer] = nameKeys(cert)
  return subject === issuer
}

/** Refuses constraints that cannot be honoured as written. */
function checkConstraintsUsable(constraints: NameConstraints, options: NameCheckOptions): void {
  if (constraints.problem !== null) {
    throw nameConstraintsError(
      "A CA's name constraints cannot be processed.",
      constraints.problem
    )
  }
  if (!constraints.critical && !options.allowNonCriticalNameConstraints) {
    throw nameConstraintsError('A CA on the chain has name constraints not marked critical.')
  }
  for (const base of [...constraints.permitted, ...constraints.excluded]) {
    if (!isValidBase(base)) {
      throw nameConstraintsError("A CA's name constraints are malformed.", `bad ${base.type} base`)
    }
  }
}

function isValidBase(base: GeneralName): boolean {
  switch (base.type) {
    case 'dns':
      return base.text === '' || isHostName(base.text)
    case 'email':
      return base.text === '' || splitMailbox(base.text) !== null || isHostOrDomain(base.text)
    case 'uri':
      return base.text === '' || isHostOrDomain(base.text)
    case 'ip':
      return (base.octets.length === 8 || base.octets.length === 32) && isPrefixMask(base.octets)
    default:
      return true
  }
}

/** The names constraints apply to: subject, subjectAltName, and emailAddress without a SAN. */
function constrainedNames(names: CertificateNames): GeneralName[] {
  const found: GeneralName[] = []
  if (names.subject.length > 0) found.push({ type: 'directory', rdns: names.subject })
  if (names.altNames !== null) found.push(...names.altNames)
  else for (const text of names.subjectEmails) found.push({ type: 'email', text })
  return found
}

/** Checks one name against one CA's constraints. */
function checkName(name: GeneralName, constraints: NameConstraints): void {
  const excluded = constraints.excluded.filter((base) => base.type === name.type)
  const permitted = constraints.permitted.filter((base) => base.type === name.type)
  if (excluded.length === 0 && permitted.length === 0) return
  const reason = `${name.type} name`
  if (!hasRules(name)) {
    throw nameConstraintsError(
      'A certificate on the chain has a name of a form whose constraints certgate cannot process.',
      reason
    )
  }
  if (excluded.some((base) => matches(base, name, 'excluded'))) {
    const message = "A name on the chain is excluded by a CA's name constraints."
    throw nameConstraintsError(message, reason)
  }
  if (permitted.length > 0 && !permitted.some((base) => matches(base, name, 'permitted'))) {
    throw nameConstraintsError("A name on the chain is outside a CA's permitted names.", reason)
  }
}

function hasRules(name: GeneralName): boolean {
  const { type } = name
  return (
    type === 'dns' || type === 'email' || type === 'uri' || type === 'ip' || type === 'directory'
  )
}

/**
 * Whether `name` lies in the subtree `base` (same form). `mode` says which answer is safe when
 * the name cannot be judged (it is malformed): inside for excluded subtrees, outside for
 * permitted ones.
 */
function matches(base: GeneralName, name: GeneralName, mode: 'permitted' | 'excluded'): boolean {
  if (base.type === 'dns' && name.type === 'dns') return dnsMatches(base.text, name.text, mode)
  if (base.type === 'email' && name.type === 'email') {
    return emailMatches(base.text, name.text, mode)
  }
  if (base.type === 'uri' && name.type === 'uri') {
    const host = uriHost(name.text)
    return host === null ? mode === 'excluded' : hostMatches(base.text, host)
  }
  if (base.type === 'ip' && name.type === 'ip') return ipMatches(base.octets, name.octets, mode)
  if (base.type === 'directory' && name.type === 'directory') {
    return base.rdns.length <= name.rdns.length && base.rdns.every((rdn, i) => rdn === name.rdns[i])
  }
  return false
}

/** Whether `name` is `base` or below it, label by label ('' is the whole DNS). */
function isWithin(name: string, base: string): boolean {
  return base === '' || name === base || name.endsWith(`.${base}`)
}

/**
 * A DNS name against a DNS subtree. A wildcard `*.b` stands for every name one label below `b`:
 * it is inside a subtree when all of them are, and meets an excluded one when any of them does.
 */
function dnsMatches(baseText: string, nameText: string, mode: 'permitted' | 'excluded'): boolean {
  if (!isDnsNameOrWildcard(nameText)) return mode === 'excluded'
  const base = baseText.toLowerCase()
  const name = nameText.toLowerCase()
  if (!name.startsWith('*.')) return isWithin(name, base)
  const parent = name.slice(2)
  if (isWithin(parent, base)) return true
  return mode === 'excluded' && base.slice(base.indexOf('.') + 1) === parent
}

/** A mailbox against an rfc822Name subtree: a mailbox, a host, or `.domain` (hosts below it). */
function emailMatches(base: string, nameText: string, mode: 'permitted' | 'excluded'): boolean {
  const mailbox = splitMailbox(nameText)
  if (mailbox === null) return mode === 'excluded'
  const constraint = splitMailbox(base)
  if (constraint === null) return hostMatches(base, mailbox.host)
  // The local part is compared exactly (it may be case-sensitive); the host case-folded.
  return (
    constraint.local === mailbox.local &&
    constraint.host.toLowerCase() === mailbox.host.toLowerCase()
  )
}

/** A host against a host (itself only) or `.domain` (hosts below it) constraint; '' is all. */
function hostMatches(base: string, host: string): boolean {
  const b = base.toLowerCase()
  const h = host.toLowerCase()
  if (b === '') return true
  return b.startsWith('.') ? h.endsWith(b) : h === b
}

/**
 * An address against address-and-mask. Families never mix, except that an IPv4-mapped IPv6
 * address also meets the excluded IPv4 subtrees its IPv4 address is in.
 */
function ipMatches(base: Uint8Array, address: Uint8Array, mode: 'permitted' | 'excluded'): boolean {
  if (address.length * 2 === base.length) return inSubnet(base, address)
  if (mode === 'excluded' && base.length === 8 && isIpv4Mapped(address)) {
    return inSubnet(base, address.subarray(12))
  }
  return false
}

function inSubnet(base: Uint8Array, address: Uint8Array): boolean {
  const n = address.length
  for (let i = 0; i < n; i++) {
    if ((address[i]! & base[n + i]!) !== (base[i]! & base[n + i]!)) return false
  }
  return true
}

function isIpv4Mapped(address: Uint8Array): boolean {
  if (address.length !== 16) return false
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return false
  return address[10] === 0xff && address[11] === 0xff
}

/** Whether the second half of address-and-mask is a prefix mask (ones, then only zeros). */
function isPrefixMask(octets: Uint8Array): boolean {
  let zeros = false
  for (let i = octets.length / 2; i < octets.length; i++) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = ((octets[i]! >> bit) & 1) === 1
      if (one && zeros) return false
      if (!one) zeros = true
    }
  }
  return true
}

/**
 * An LDH host name: labels of letters, digits and inner hyphens, at most 253 long, the last one
 * not all digits (no top-level domain is, so `192.0.2.1` is an address, not a host name).
 */
function isHostName(text: string): boolean {
  if (text.length > MAX_HOST_NAME || ALL_DIGITS.test(text.slice(text.lastIndexOf('.') + 1))) {
    return false
  }
  return text.split('.').every((label) => LABEL.test(label))
}

function isHostOrDomain(text: string): boolean {
  return isHostName(text.startsWith('.') ? text.slice(1) : text)
}

/** A dNSName as a certificate may carry it: a host name, or `*.` and a name of two labels up. */
function isDnsNameOrWildcard(text: string): boolean {
  if (!text.startsWith('*.')) return isHostName(text)
  const parent = text.slice(2)
  return parent.includes('.') && isHostName(parent)
}

/** A mailbox split at its last `@`, or null when it is not `local@host`. */
function splitMailbox(text: string): { local: string; host: string } | null {
  const at = text.lastIndexOf('@')
  if (at <= 0) return null
  const local = text.slice(0, at)
  const host = text.slice(at + 1)
  if (local.length > MAX_LOCAL_PART || !(DOT_ATOM.test(local) || QUOTED_STRING.test(local))) {
    return null
  }
  return isHostName(host) ? { local, host } : null
}

/** The host name of a URI with an authority, or null (no authority, an IP address, bad host). */
function uriHost(uri: string): string | null {
  const authority = URI_AUTHORITY.exec(uri)?.[1]
  if (authority === undefined) return null
  const host = authority.slice(authority.lastIndexOf('@') + 1).replace(/:\d*$/, '')
  return isHostName(host) ? host : null
}
