/**
 * IP addresses and CIDR ranges as trusted-proxy lists and runtimes write them: IPv4 and IPv6,
 * IPv4-mapped IPv6 matched as IPv4, zone ids and brackets as runtimes report remote addresses.
 * @module
 */

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

/**
 * Parses `'10.0.0.0/8'`, `'fd00::/8'`, `'::ffff:10.0.0.0/104'` or a plain IP (a /32 or /128).
 * Host bits past the prefix are cleared, as Go's ParseCIDR does. Throws a TypeError for
 * anything else: a prefix out of range or with a sign or leading zero, a zone id, octets with
 * leading zeros (which some parsers read as octal).
 */
export function parseCidr(text: string): Cidr {
  function invalid(): TypeError {
    return new TypeError(`${JSON.stringify(text)} is not a CIDR or IP.`)
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
  return inAnyRange(address, [typeof cidr === 'string' ? parseCidr(cidr) : cidr])
}

/** True when `address` lies in one of `ranges`, read as {@link matchesCidr} reads it. */
export function inAnyRange(address: string, ranges: readonly Cidr[]): boolean {
  const parsed = parseIpAddress(address)
  if (parsed === null) return false
  return ranges.some((range) => addressInRange(parsed, range))
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
