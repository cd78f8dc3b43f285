/**
 * A bounded map whose entries expire: bounded by entry count and by an estimate of the bytes they
 * hold, so no pattern of requests can grow it without limit. Two segments:
 * - probation, two generations: new entries go to the young Map; when it holds half of what the
 *   protected segment leaves free, it becomes the old one and the previous old Map is dropped
 *   whole. A hit in the old generation moves the entry up, so what is used survives.
 * - protected (at most 80% of the budget): an entry hit PROMOTE_AFTER_HITS times moves here. Once
 *   it is full, a newcomer takes the place of the oldest entry only when it was hit more often;
 *   otherwise the oldest stays (moved to the back). So a returning client that goes idle is not
 *   pushed out by any number of keys used fewer times than it was — only by its expiry.
 * Why not a per-entry LRU: on a full 10,000-entry V8 Map each delete + set (an LRU move, or an
 * eviction) cost ~4 µs, paid by every returning client and every new certificate; here a hit in
 * the protected segment is one Map lookup and a counter.
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
  /** Hits since the entry was stored: what decides who stays in the protected segment. */
  hits: number
}

/** What a cache is keyed by: text, or a small integer (see TextMemo). */
type Key = string | number

interface Generation<V, K extends Key = string> {
  entries: Map<K, Entry<V>>
  bytes: number
}

function generation<V, K extends Key>(): Generation<V, K> {
  return { entries: new Map(), bytes: 0 }
}

/** The share of entries and bytes the protected segment may hold. */
const PROTECTED_SHARE = 0.8
/** Hits that move an entry to the protected segment: more than a flood's "send each twice". */
const PROMOTE_AFTER_HITS = 3

/**
 * Admission: a key is cached only when it was seen recently already. A flood of certificates
 * used once (an attacker's pattern) then never enters the cache, where retaining each would cost
 * memory and garbage collection; a returning client is cached from its second request. Remembers
 * keys in two generations of a Set, bounded like the cache.
 */
class Doorkeeper<K extends Key> {
  readonly #half: number
  #young = new Set<K>()
  #old = new Set<K>()

  constructor(maxEntries: number) {
    this.#half = Math.max(1, maxEntries)
  }

  /** True when `key` was offered before; otherwise remembers it and returns false. */
  admit(key: K): boolean {
    if (this.#young.has(key) || this.#old.has(key)) return true
    if (this.#young.size >= this.#half) {
      this.#old = this.#young
      this.#young = new Set()
    }
    this.#young.add(key)
    return false
  }
}

/** A probation segment of two generations and a protected segment, with expiry and admission. */
export class BoundedCache<V, K extends Key = string> {
  readonly #limits: BoundedCacheLimits
  readonly #protectedLimits: { readonly entries: number; readonly bytes: number }
  readonly #doorkeeper: Doorkeeper<K> | null
  #young: Generation<V, K> = generation()
  #old: Generation<V, K> = generation()
  readonly #protected: Generation<V, K> = generation()

  constructor(limits: BoundedCacheLimits) {
    this.#limits = limits
    this.#protectedLimits = {
      entries: Math.floor(limits.maxEntries * PROTECTED_SHARE),
      bytes: limits.maxBytes * PROTECTED_SHARE,
    }
    this.#doorkeeper = limits.admission === 'always' ? null : new Doorkeeper(limits.maxEntries)
  }

  get size(): number {
    return this.#young.entries.size + this.#old.entries.size + this.#protected.entries.size
  }

  get bytes(): number {
    return this.#young.bytes + this.#old.bytes + this.#protected.bytes
  }

  /** The live value for a key, or undefined. */
  get(key: K, nowMs: number): V | undefined {
    const kept = this.#protected.entries.get(key)
    if (kept !== undefined) {
      if (kept.expiresAt > nowMs) {
        kept.hits++
        return kept.value
      }
      this.#remove(this.#protected, key, kept)
      return undefined
    }
    const young = this.#young.entries.get(key)
    if (young !== undefined) {
      if (young.expiresAt <= nowMs) {
        this.#remove(this.#young, key, young)
        return undefined
      }
      if (++young.hits >= PROMOTE_AFTER_HITS) this.#promote(key, young, this.#young, nowMs)
      return young.value
    }
    const old = this.#old.entries.get(key)
    if (old === undefined) return undefined
    this.#remove(this.#old, key, old)
    if (old.expiresAt <= nowMs) return undefined
    if (!(++old.hits >= PROMOTE_AFTER_HITS && this.#promote(key, old, null, nowMs))) this.#insert(key, old)
    return old.value
  }

  /** Stores a value until `expiresAt`, if the key was offered recently before (see Doorkeeper). */
  set(key: K, value: V, expiresAt: number, bytes: number): void {
    if (this.#doorkeeper !== null && !this.#doorkeeper.admit(key)) return
    for (const segment of [this.#young, this.#old, this.#protected]) {
      const entry = segment.entries.get(key)
      if (entry !== undefined) this.#remove(segment, key, entry)
    }
    // What the protected segment holds is not given up for a newcomer of unknown worth.
    if (bytes > this.#limits.maxBytes - this.#protected.bytes) return
    this.#insert(key, { value, expiresAt, bytes, hits: 0 })
  }

  /** Adds an entry to the young generation, within what the protected segment leaves free. */
  #insert(key: K, entry: Entry<V>): void {
    const roomEntries = this.#limits.maxEntries - this.#protected.entries.size
    const roomBytes = this.#limits.maxBytes - this.#protected.bytes
    const half = { entries: Math.max(1, Math.floor(roomEntries / 2)), bytes: roomBytes / 2 }
    if (this.#young.entries.size >= half.entries || this.#young.bytes + entry.bytes > half.bytes) {
      this.#old = this.#young
      this.#young = generation()
    }
    this.#young.entries.set(key, entry)
    this.#young.bytes += entry.bytes
    // An entry larger than half the room can push the total over it: then the old goes early.
    if (this.size > this.#limits.maxEntries || this.bytes > this.#limits.maxBytes) this.#old = generation()
  }

  /**
   * Moves a frequently hit entry into the protected segment, when there is room or when the
   * oldest protected entry has expired or was hit less often (it is then dropped). An oldest
   * entry hit at least as often stays, moved to the back so that the next newcomer meets another
   * one, and the newcomer stays in probation. True when the entry moved.
   */
  #promote(key: K, entry: Entry<V>, from: Generation<V, K> | null, nowMs: number): boolean {
    const kept = this.#protected
    const limits = this.#protectedLimits
    if (limits.entries < 1 || entry.bytes > limits.bytes) return false
    while (kept.entries.size >= limits.entries || kept.bytes + entry.bytes > limits.bytes) {
      const [oldestKey, oldest] = kept.entries.entries().next().value as [K, Entry<V>]
      if (oldest.expiresAt > nowMs && oldest.hits >= entry.hits) {
        kept.entries.delete(oldestKey)
        kept.entries.set(oldestKey, oldest)
        return false
      }
      this.#remove(kept, oldestKey, oldest)
    }
    if (from !== null) this.#remove(from, key, entry)
    kept.entries.set(key, entry)
    kept.bytes += entry.bytes
    return true
  }

  #remove(from: Generation<V, K>, key: K, entry: Entry<V>): void {
    from.entries.delete(key)
    from.bytes -= entry.bytes
  }
}

/**
 * A BoundedCache for long text keys — forwarded headers of a few KiB. Hashing such a key for a
 * Map costs more than the rest of a cache hit (V8 hashes every character of a new string: ~3 µs
 * for a 1.4 KB header), so entries are found by a cheap sampled hash, a small integer the Map
 * hashes for free (the head, where XFCC's Hash and a certificate's serial sit, then every 32nd
 * character), and confirmed by comparing the whole text: a collision is only a miss, never a
 * wrong answer.
 */
export class TextMemo<V> {
  readonly #cache: BoundedCache<{ text: string; value: V }, number>

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

const HEAD = 128
const STRIDE = 32

/**
 * FNV-1a over the text's head and every STRIDE-th character after it, mixed with its length; 30
 * bits, so that it is a small integer (no number-to-string conversion, no string to hash).
 */
function sampledHash(text: string): number {
  let hash = 0x811c9dc5
  const head = Math.min(HEAD, text.length)
  for (let i = 0; i < head; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  for (let i = head; i < text.length; i += STRIDE) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return (hash ^ Math.imul(text.length, 0x9e3779b1)) & 0x3fffffff
}
