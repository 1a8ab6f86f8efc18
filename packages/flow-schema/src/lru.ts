/**
 * A bounded cache with cheap hits: two generations of at most `capacity / 2` entries each. Hits in
 * the older generation move to the newer one; when the newer one fills up, the older one is dropped.
 * Entries used recently survive, like an LRU, without reordering a map on every hit.
 */
export class LruCache<K, V> {
  private current = new Map<K, V>()
  private previous = new Map<K, V>()
  private readonly generation: number

  constructor(capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2))
  }

  get(key: K): V | undefined {
    const value = this.current.get(key)
    if (value !== undefined) return value
    const old = this.previous.get(key)
    if (old !== undefined) {
      this.previous.delete(key)
      this.set(key, old)
    }
    return old
  }

  set(key: K, value: V): void {
    if (this.current.size >= this.generation && !this.current.has(key)) {
      this.previous = this.current
      this.current = new Map()
    }
    this.current.set(key, value)
  }

  get size(): number {
    return this.current.size + this.previous.size
  }

  clear(): void {
    this.current.clear()
    this.previous.clear()
  }
}
