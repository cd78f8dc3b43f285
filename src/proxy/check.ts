/**
 * Honour a forwarded certificate header only when it came from the proxy: by the connection's
 * remote address (`trustedProxies`, CIDRs or plain IPs, IPv4 and IPv6) and/or by a shared secret
 * the proxy adds in a header, compared in constant time. A client that reaches the app without
 * passing the proxy (an internal call that skips the ingress, a mis-set network rule) can write
 * any header it likes; these checks are what tells its request apart from the proxy's.
 *
 * Runtime-neutral: the caller supplies the remote address (Hono's `getConnInfo`, or a function
 * of its own). Options are checked when the check is created, never per request.
 * @module
 */
import { CertgateError } from '../errors.ts'

/** Options for {@link createProxyCheck}. */
export interface ProxyTrustOptions {
  /**
   * The proxies' addresses: CIDRs or plain IPs, IPv4 and IPv6, e.g. `'10.0.0.0/8'`,
   * `'fd00::/8'`, `'127.0.0.1'`. A request from any other address, or from an unknown one, is
   * refused with ERR_PROXY_UNTRUSTED.
   */
  trustedProxies?: readonly string[]
  /**
   * A header the proxy adds with a secret value (printable ASCII, no surrounding spaces).
   * A request without it, or with another value, is refused with ERR_PROXY_UNTRUSTED.
   */
  sharedSecret?: { header: string; value: string }
}

/** A compiled trust check. */
export interface ProxyCheck {
  /** Throws CertgateError ERR_PROXY_UNTRUSTED unless every configured check passes. */
  check(remoteAddress: string | undefined, headers: Headers): void
}

/** An address range. IPv4-mapped IPv6 ranges (`::ffff:a.b.c.d/104`) are stored as IPv4. */
export interface Cidr {
  readonly family: 4 | 6
  /** The network address, host bits cleared: 4 or 16 bytes. */
  readonly bytes: Uint8Array
  readonly prefix: number
}

/** A parsed address. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) is IPv4. */
export interface IpAddress {
  readonly family: 4 | 6
  readonly bytes: Uint8Array
}

function untrusted(): CertgateError {
  return new CertgateError(
    'ERR_PROXY_UNTRUSTED',
    'The request did not come through a trusted proxy.'
  )
}

/**
 * Compiles the options into a check, or null when neither option is set. A bad CIDR, an empty
 * list, an empty secret or a bad header name throws a TypeError here, at startup.
 */
export function createProxyCheck(options: ProxyTrustOptions): ProxyCheck | null {
  const { trustedProxies, sharedSecret } = options
  if (trustedProxies === undefined && sharedSecret === undefined) return null
  const ranges = trustedProxies === undefined ? null : compileRanges(trustedProxies)
  const secret = sharedSecret === undefined ? null : compileSecret(sharedSecret)
  return {
    check(remoteAddress: string | undefined, headers: Headers): void {
      // Both checks always run, so the response time does not tell which one failed.
      let ok = true
      if (ranges !== null) ok = isTrustedAddress(remoteAddress, ranges) && ok
      if (secret !== null) ok = secretMatches(secret, headers.get(secret.header)) && ok
      if (!ok) throw untrusted()
    },
  }
}

function compileRanges(trustedProxies: readonly string[]): Cidr[] {
  if (!Array.isArray(trustedProxies) || trustedProxies.length === 0) {
    // An empty list would refuse every request: almost surely an unset variable, not a choice.
    throw new TypeError('certgate: trustedProxies must list at least one CIDR or IP')
  }
  return trustedProxies.map((entry) => {
    if (typeof entry !== 'string') {
      throw new TypeError('certgate: trustedProxies entries must be strings')
    }
    return parseCidr(entry)
  })
}

function isTrustedAddress(remoteAddress: string | undefined, ranges: readonly Cidr[]): boolean {
  if (remoteAddress === undefined) return false
  const address = parseIpAddress(remoteAddress)
  if (address === null) return false
  for (const range of ranges) {
    if (addressInRange(address, range)) return true
  }
  return false
}

// ---------------------------------------------------------------------------------------------
// Shared secret

interface CompiledSecret {
  readonly header: string
  /** The secret's bytes (ASCII, so one byte per character, as the header value arrives). */
  readonly bytes: Uint8Array
}

function compileSecret(sharedSecret: { header: string; value: string }): CompiledSecret {
  if (typeof sharedSecret !== 'object' || sharedSecret === null) {
    throw new TypeError('certgate: sharedSecret must be { header, value }')
  }
  const { header, value } = sharedSecret
  if (typeof header !== 'string' || !/^[!#$%&'*+.^`|~0-9A-Za-z-]+$/.test(header)) {
    throw new TypeError(
      'certgate: sharedSecret.header must be an HTTP header name without underscores'
    )
  }
  if (typeof value !== 'string' || value === '') {
    throw new TypeError('certgate: sharedSecret.value must be a non-empty string')
  }
  // Header values are byte strings with surrounding whitespace trimmed, so only a printable
  // ASCII secret without it can ever arrive intact.
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value)) {
    throw new TypeError(
      'certgate: sharedSecret.value must be printable ASCII without leading or trailing spaces'
    )
  }
  return { header: header.toLowerCase(), bytes: new TextEncoder().encode(value) }
}

/**
 * Constant-time comparison of the configured secret with a header value. Not SHA-256 digests:
 * WebCrypto is async and this check is sync. Instead one loop over the longer length, the
 * shorter side padded with zeros, OR-ing differences with no early exit, so the time depends on
 * the lengths only (and the attacker already knows the length of what they sent). Header
 * values are byte strings, so charCodeAt is the byte the client sent; a character past 0x7e
 * simply differs, as the secret is ASCII.
 */
function secretMatches(secret: CompiledSecret, actual: string | null): boolean {
  const value = actual ?? ''
  const expected = secret.bytes
  const length = Math.max(expected.length, value.length)
  let difference = expected.length ^ value.length
  for (let i = 0; i < length; i++) {
    // `?? 0` and NaN `| 0` pad the shorter side without a data-dependent branch on content.
    difference |= (expected[i] ?? 0) ^ (value.charCodeAt(i) | 0)
  }
  return actual !== null && difference === 0
}

// ---------------------------------------------------------------------------------------------
// Addresses and ranges

/**
 * Parses `'10.0.0.0/8'`, `'fd00::/8'`, `'::ffff:10.0.0.0/104'` or a plain IP (a /32 or /128).
 * Host bits past the prefix are cleared, as Go's ParseCIDR does. Throws a TypeError for
 * anything else: a prefix out of range or with a sign or leading zero, a zone id, octets with
 * leading zeros (which some parsers read as octal).
 */
export function parseCidr(text: string): Cidr {
  function invalid(): TypeError {
    return new TypeError(`certgate: ${JSON.stringify(text)} is not a CIDR or IP`)
  }
  if (typeof text !== 'string') throw invalid()
  const trimmed = text.trim()
  const slash = trimmed.indexOf('/')
  const addressText = slash === -1 ? trimmed : trimmed.slice(0, slash)
  // A zone names an interface of this host, meaningless in a list of trusted proxies.
  if (addressText.includes('%')) throw invalid()
  const parsed = parseRawAddress(addressText)
  if (parsed === null) throw invalid()
  let prefix = parsed.length * 8
  if (slash !== -1) {
    const prefixText = trimmed.slice(slash + 1)
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText)) throw invalid()
    prefix = Number(prefixText)
    if (prefix > parsed.length * 8) throw invalid()
  }
  if (parsed.length === 16 && isMapped(parsed) && prefix >= 96) {
    // A range inside ::ffff:0:0/96 is an IPv4 range, matched as such.
    return { family: 4, bytes: maskBytes(parsed.subarray(12), prefix - 96), prefix: prefix - 96 }
  }
  return { family: parsed.length === 4 ? 4 : 6, bytes: maskBytes(parsed, prefix), prefix }
}

/**
 * True when `address` lies in `cidr` (a Cidr, or text for {@link parseCidr}). An address that
 * does not parse is in no range. IPv4-mapped IPv6 addresses (Node's dual-stack sockets report
 * `::ffff:10.1.2.3`) match IPv4 ranges; zone ids (`fe80::1%eth0`) and brackets are ignored.
 */
export function matchesCidr(address: string, cidr: Cidr | string): boolean {
  const parsed = parseIpAddress(address)
  if (parsed === null) return false
  return addressInRange(parsed, typeof cidr === 'string' ? parseCidr(cidr) : cidr)
}

/**
 * A remote address as runtimes report it: `10.1.2.3`, `::1`, `::ffff:10.1.2.3` (returned as
 * IPv4), `fe80::1%eth0` (zone dropped), `[::1]`. Null when it is not an IP address.
 */
export function parseIpAddress(text: string): IpAddress | null {
  if (typeof text !== 'string') return null
  let s = text.trim()
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1)
  const zone = s.indexOf('%')
  if (zone !== -1) s = s.slice(0, zone)
  const bytes = parseRawAddress(s)
  if (bytes === null) return null
  if (bytes.length === 16 && isMapped(bytes)) return { family: 4, bytes: bytes.slice(12) }
  return { family: bytes.length === 4 ? 4 : 6, bytes }
}

function addressInRange(address: IpAddress, range: Cidr): boolean {
  if (address.family !== range.family) return false
  const full = range.prefix >> 3
  for (let i = 0; i < full; i++) {
    if (address.bytes[i] !== range.bytes[i]) return false
  }
  const bits = range.prefix & 7
  if (bits === 0) return true
  const mask = (0xff << (8 - bits)) & 0xff
  return (address.bytes[full]! & mask) === range.bytes[full]
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice()
  for (let i = 0; i < out.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - i * 8))
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff)
  }
  return out
}

/** ::ffff:0:0/96, the IPv4-mapped block. */
function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false
  return bytes[10] === 0xff && bytes[11] === 0xff
}

/** 4 bytes for dotted-quad IPv4, 16 for IPv6 (RFC 4291 text forms), else null. */
function parseRawAddress(s: string): Uint8Array | null {
  if (s.includes(':')) return parseIpv6(s)
  return parseIpv4(s)
}

function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.')
  if (parts.length !== 4) return null
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!
    // Decimal only, no leading zeros: `010` is 8 to inet_aton and 10 to others.
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return null
    const value = Number(part)
    if (value > 255) return null
    out[i] = value
  }
  return out
}

function parseIpv6(s: string): Uint8Array | null {
  const double = s.indexOf('::')
  if (double !== -1 && s.indexOf('::', double + 1) !== -1) return null
  const head = double === -1 ? s : s.slice(0, double)
  const tail = double === -1 ? '' : s.slice(double + 2)
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = tail === '' ? [] : tail.split(':')
  const words: number[] = []
  const tailWords: number[] = []
  // An embedded IPv4 address may only end the whole address.
  if (!parseGroups(headGroups, words, double === -1)) return null
  if (!parseGroups(tailGroups, tailWords, true)) return null
  const total = words.length + tailWords.length
  if (double === -1 ? total !== 8 : total > 7) return null
  const out = new Uint8Array(16)
  words.forEach((word, i) => writeWord(out, i, word))
  tailWords.forEach((word, i) => writeWord(out, 8 - tailWords.length + i, word))
  return out
}

/** Hex groups of 1-4 digits into 16-bit words; the last may be dotted IPv4 if `mayEnd`. */
function parseGroups(groups: string[], words: number[], mayEnd: boolean): boolean {
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!
    if (group.includes('.')) {
      if (!mayEnd || i !== groups.length - 1) return false
      const v4 = parseIpv4(group)
      if (v4 === null) return false
      words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      continue
    }
    if (!/^[0-9A-Fa-f]{1,4}$/.test(group)) return false
    words.push(parseInt(group, 16))
  }
  return true
}

function writeWord(out: Uint8Array, index: number, word: number): void {
  out[index * 2] = word >> 8
  out[index * 2 + 1] = word & 0xff
}
