/**
 * A bounded least-recently-used map whose entries expire: bounded by entry count and by an
 * estimate of the bytes they hold, so no pattern of requests can grow it without limit.
 * @module
 */

/** Limits for a {@link BoundedCache}. */
export interface BoundedCacheLimits {
  maxEntries: number
  maxBytes: number
}

interface Entry<V> {
  value: V
  expiresAt: number
  bytes: number
}

/** An LRU map with per-entry expiry and entry and byte bounds. */
export class BoundedCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #limits: BoundedCacheLimits
  #bytes = 0

  constructor(limits: BoundedCacheLimits) {
    this.#limits = limits
  }

  get size(): number {
    return this.#entries.size
  }

  get bytes(): number {
    return this.#bytes
  }

  /** The live value for a key, or undefined; a hit becomes the most recently used. */
  get(key: string, nowMs: number): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= nowMs) {
      this.#remove(key, entry)
      return undefined
    }
    // Re-inserting moves the key to the end of Map order, which is what makes this an LRU.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry.value
  }

  /** Stores a value until `expiresAt`; evicts the least recently used entries to stay in bounds. */
  set(key: string, value: V, expiresAt: number, bytes: number): void {
    const old = this.#entries.get(key)
    if (old !== undefined) this.#remove(key, old)
    if (bytes > this.#limits.maxBytes) return
    this.#entries.set(key, { value, expiresAt, bytes })
    this.#bytes += bytes
    while (this.#entries.size > this.#limits.maxEntries || this.#bytes > this.#limits.maxBytes) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Entry<V>]
      this.#remove(oldestKey, oldest)
    }
  }

  clear(): void {
    this.#entries.clear()
    this.#bytes = 0
  }

  #remove(key: string, entry: Entry<V>): void {
    this.#entries.delete(key)
    this.#bytes -= entry.bytes
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
