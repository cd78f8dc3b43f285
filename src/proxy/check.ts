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
import { headerNameOption } from '../bytes.ts'
import { CertgateError } from '../errors.ts'
import { type Cidr, inAnyRange, parseCidr } from './cidr.ts'

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
      if (ranges !== null) ok = remoteAddress !== undefined && inAnyRange(remoteAddress, ranges) && ok
      if (secret !== null) ok = secretMatches(secret, headers.get(secret.header)) && ok
      if (!ok) throw untrusted()
    },
  }
}

function compileRanges(trustedProxies: readonly string[]): Cidr[] {
  if (!Array.isArray(trustedProxies) || trustedProxies.length === 0) {
    // An empty list would refuse every request: almost surely an unset variable, not a choice.
    throw new TypeError('trustedProxies must list at least one CIDR or IP.')
  }
  return trustedProxies.map((entry) => {
    if (typeof entry !== 'string') {
      throw new TypeError('trustedProxies entries must be strings.')
    }
    return parseCidr(entry)
  })
}

interface CompiledSecret {
  readonly header: string
  /** The secret's bytes (ASCII, so one byte per character, as the header value arrives). */
  readonly bytes: Uint8Array
}

function compileSecret(sharedSecret: { header: string; value: string }): CompiledSecret {
  if (typeof sharedSecret !== 'object' || sharedSecret === null) {
    throw new TypeError('sharedSecret must be { header, value }.')
  }
  const header = headerNameOption('sharedSecret.header', sharedSecret.header)
  const { value } = sharedSecret
  if (typeof value !== 'string' || value === '') {
    throw new TypeError('sharedSecret.value must be a non-empty string.')
  }
  // Header values are byte strings with surrounding whitespace trimmed, so only a printable
  // ASCII secret without it can ever arrive intact.
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value)) {
    throw new TypeError('sharedSecret.value must be printable ASCII without leading or trailing spaces.')
  }
  return { header, bytes: new TextEncoder().encode(value) }
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
