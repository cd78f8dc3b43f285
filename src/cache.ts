/**
 * A bounded map whose entries expire: bounded by entry count and by an estimate of the bytes they
 * hold, so no pattern of requests can grow it without limit. Two generations: new entries go to
 * the young Map; when it holds half the budget it becomes the old one and the previous old Map is
 * dropped whole. A hit in the old generation moves the entry up, so what is used survives.
 * Why not a per-entry LRU: on a full 10,000-entry V8 Map each delete + set (an LRU move, or an
 * eviction) cost ~4 µs, paid by every returning client and every new certificate.
 * @module
 */

/** Limits for a {@link BoundedCache}. */
interface BoundedCacheLimits {
  maxEntries: number
  maxBytes: number
  /** `'second-sight'` (default): cache a key only when it was offered recently before. */
  admission?: 'second-sight' | 'always'
}

interface Entry<V> {
  value: V
  expiresAt: number
  bytes: number
}

interface Generation<V> {
  entries: Map<string, Entry<V>>
  bytes: number
}

function generation<V>(): Generation<V> {
  return { entries: new Map(), bytes: 0 }
}

/**
 * Admission: a key is cached only when it was seen recently already. A flood of certificates
 * used once (an attacker's pattern) then never enters the cache, where retaining each would cost
 * memory and garbage collection; a returning client is cached from its second request. Remembers
 * keys in two generations of a Set, bounded like the cache.
 */
class Doorkeeper {
  readonly #half: number
  #young = new Set<string>()
  #old = new Set<string>()

  constructor(maxEntries: number) {
    this.#half = Math.max(1, maxEntries)
  }

  /** True when `key` was offered before; otherwise remembers it and returns false. */
  admit(key: string): boolean {
    if (this.#young.has(key) || this.#old.has(key)) return true
    if (this.#young.size >= this.#half) {
      this.#old = this.#young
      this.#young = new Set()
    }
    this.#young.add(key)
    return false
  }
}

/** A two-generation map with per-entry expiry, entry and byte bounds, and admission. */
export class BoundedCache<V> {
  readonly #limits: BoundedCacheLimits
  readonly #doorkeeper: Doorkeeper | null
  #young: Generation<V> = generation()
  #old: Generation<V> = generation()

  constructor(limits: BoundedCacheLimits) {
    this.#limits = limits
    this.#doorkeeper = limits.admission === 'always' ? null : new Doorkeeper(limits.maxEntries)
  }

  get size(): number {
    return this.#young.entries.size + this.#old.entries.size
  }

  get bytes(): number {
    return this.#young.bytes + this.#old.bytes
  }

  /** The live value for a key, or undefined. */
  get(key: string, nowMs: number): V | undefined {
    const young = this.#young.entries.get(key)
    if (young !== undefined) {
      if (young.expiresAt > nowMs) return young.value
      this.#remove(this.#young, key, young)
      return undefined
    }
    const old = this.#old.entries.get(key)
    if (old === undefined) return undefined
    this.#remove(this.#old, key, old)
    if (old.expiresAt <= nowMs) return undefined
    this.#insert(key, old)
    return old.value
  }

  /** Stores a value until `expiresAt`, if the key was offered recently before (see Doorkeeper). */
  set(key: string, value: V, expiresAt: number, bytes: number): void {
    if (this.#doorkeeper !== null && !this.#doorkeeper.admit(key)) return
    const young = this.#young.entries.get(key)
    if (young !== undefined) this.#remove(this.#young, key, young)
    const old = this.#old.entries.get(key)
    if (old !== undefined) this.#remove(this.#old, key, old)
    if (bytes > this.#limits.maxBytes) return
    this.#insert(key, { value, expiresAt, bytes })
  }

  #insert(key: string, entry: Entry<V>): void {
    const half = { entries: Math.max(1, Math.floor(this.#limits.maxEntries / 2)), bytes: this.#limits.maxBytes / 2 }
    if (this.#young.entries.size >= half.entries || this.#young.bytes + entry.bytes > half.bytes) {
      this.#old = this.#young
      this.#young = generation()
    }
    this.#young.entries.set(key, entry)
    this.#young.bytes += entry.bytes
    // An entry larger than half the budget can push the total over it: then the old goes early.
    if (this.size > this.#limits.maxEntries || this.bytes > this.#limits.maxBytes) this.#old = generation()
  }

  #remove(from: Generation<V>, key: string, entry: Entry<V>): void {
    from.entries.delete(key)
    from.bytes -= entry.bytes
  }
}

/**
 * A BoundedCache for long text keys — forwarded headers of a few KiB. Hashing such a key for a
 * Map costs more than the rest of a cache hit, so entries are found by a cheap sampled hash
 * (the head, where XFCC's Hash and a certificate's serial sit, then every 8th character) and
 * confirmed by comparing the whole text: a collision is only a miss, never a wrong answer.
 */
export class TextMemo<V> {
  readonly #cache: BoundedCache<{ text: string; value: V }>

  constructor(limits: BoundedCacheLimits) {
    this.#cache = new BoundedCache(limits)
  }

  get(text: string, nowMs: number): V | undefined {
    const entry = this.#cache.get(sampledHash(text), nowMs)
    return entry !== undefined && entry.text === text ? entry.value : undefined
  }

  set(text: string, value: V, expiresAt: number, bytes: number): void {
    this.#cache.set(sampledHash(text), { text, value }, expiresAt, bytes + text.length)
  }
}

const HEAD = 160
const STRIDE = 8

/** FNV-1a over the text's head and every STRIDE-th character after it, plus its length. */
function sampledHash(text: string): string {
  let hash = 0x811c9dc5
  const head = Math.min(HEAD, text.length)
  for (let i = 0; i < head; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  for (let i = head; i < text.length; i += STRIDE) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return `${text.length}:${hash >>> 0}`
}
