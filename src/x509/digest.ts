/**
 * SHA-256 and SHA-1 of certificate bytes as uppercase hex: a synchronous hash where the runtime
 * has one, WebCrypto everywhere else. WebCrypto's digest is asynchronous, and on Node, Bun and
 * Deno one call costs ~25 µs of promise and thread-pool machinery for ~1 µs of hashing — most of
 * what a new certificate cost. node:crypto's one-shot `hash()` (Node ≥ 20.12, Bun, Deno) does the
 * same work synchronously.
 *
 * It is reached through `globalThis.process.getBuiltinModule` (Node ≥ 20.16, Bun, Deno), never
 * a static `node:` import, so the core still loads and bundles unchanged for Workers and
 * browsers, which have no `process` and take WebCrypto. This is the one core module that looks at
 * `process` (test/layout.test.ts names it as the single exception): probing for the runtime's
 * hash is all it does with it. The probe checks a known digest before trusting what it found.
 * @module
 */
import { toHex } from '../bytes.ts'

/** The digests certificates are identified and displayed by. */
export type DigestAlgorithm = 'SHA-256' | 'SHA-1'

/** A synchronous hash: uppercase hex of the bytes' digest. */
export type SyncDigest = (algorithm: DigestAlgorithm, bytes: Uint8Array) => string

type NodeHash = (algorithm: string, data: Uint8Array, encoding: 'hex') => string
type BuiltinLoader = (id: string) => unknown

const NODE_NAMES: Readonly<Record<DigestAlgorithm, string>> = { 'SHA-256': 'sha256', 'SHA-1': 'sha1' }
// SHA-256 of "abc" (FIPS 180-2, appendix B.1): a hash() that gets it wrong is not used.
const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'

/** The runtime's synchronous node:crypto `hash()`, or null when there is none that works. */
export function findSyncDigest(runtime: unknown = globalThis): SyncDigest | null {
  try {
    const host = (runtime as { process?: { getBuiltinModule?: BuiltinLoader } }).process
    const load = host?.getBuiltinModule
    if (typeof load !== 'function') return null
    const hash = (load.call(host, 'node:crypto') as { hash?: unknown } | undefined)?.hash
    if (typeof hash !== 'function') return null
    const nodeHash = hash as NodeHash
    if (nodeHash('sha256', new TextEncoder().encode('abc'), 'hex') !== ABC_SHA256) return null
    return (algorithm, bytes) => nodeHash(NODE_NAMES[algorithm], bytes, 'hex').toUpperCase()
  } catch {
    // A host whose probe throws (a sandbox, a polyfill) has WebCrypto.
    return null
  }
}

/** This runtime's synchronous hash, null where only WebCrypto hashes (Workers, browsers). */
export const syncDigest: SyncDigest | null = findSyncDigest()

/** Uppercase hex digest with WebCrypto: the portable path, on every runtime. */
export async function webCryptoDigestHex(algorithm: DigestAlgorithm, bytes: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest(algorithm, bytes as Uint8Array<ArrayBuffer>)))
}

/**
 * SHA-1, uppercase hex, synchronously on every runtime: the runtime's hash where there is one,
 * else {@link sha1Hex}. For display only (Azure shows it); nothing is identified by it.
 */
export function sha1DisplayHex(bytes: Uint8Array): string {
  return syncDigest === null ? sha1Hex(bytes) : syncDigest('SHA-1', bytes)
}

/**
 * SHA-1 (FIPS 180-4) in JavaScript, uppercase hex: lets a certificate's SHA-1 thumbprint be
 * computed when it is read, on a runtime whose only hash is WebCrypto's asynchronous one, rather
 * than for every certificate in advance.
 */
export function sha1Hex(bytes: Uint8Array): string {
  const blocks = ((bytes.length + 8) >>> 6) + 1
  const padded = new Uint8Array(blocks * 64)
  padded.set(bytes)
  padded[bytes.length] = 0x80
  const view = new DataView(padded.buffer)
  // The length in bits, as a 64-bit big-endian integer (certificates stay far below 2^32 bits).
  view.setUint32(padded.length - 8, Math.floor(bytes.length / 0x20000000))
  view.setUint32(padded.length - 4, (bytes.length * 8) >>> 0)
  const h = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0])
  const w = new Int32Array(80)
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getInt32(offset + t * 4)
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!
      w[t] = (x << 1) | (x >>> 31)
    }
    let [a, b, c, d, e] = h as unknown as [number, number, number, number, number]
    for (let t = 0; t < 80; t++) {
      const f =
        t < 20 ? ((b & c) | (~b & d)) + 0x5a827999 : t < 40 ? (b ^ c ^ d) + 0x6ed9eba1 : t < 60 ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc : (b ^ c ^ d) + 0xca62c1d6
      const next = (((a << 5) | (a >>> 27)) + f + e + w[t]!) | 0
      e = d
      d = c
      c = (b << 30) | (b >>> 2)
      b = a
      a = next
    }
    h[0]! += a
    h[1]! += b
    h[2]! += c
    h[3]! += d
    h[4]! += e
  }
  const out = new Uint8Array(20)
  const outView = new DataView(out.buffer)
  for (let i = 0; i < 5; i++) outView.setInt32(i * 4, h[i]!)
  return toHex(out)
}

/** Uppercase hex digest of the bytes: synchronous where the runtime allows, else WebCrypto. */
export function digestHex(algorithm: DigestAlgorithm, bytes: Uint8Array): Promise<string> | string {
  return syncDigest === null ? webCryptoDigestHex(algorithm, bytes) : syncDigest(algorithm, bytes)
}
