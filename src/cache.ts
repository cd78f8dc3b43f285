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
