/** A map that forgets its oldest entry when it is full: bounded memory for caches. */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>()

  constructor(private readonly capacity: number) {}

  /** The value stored under `key`. */
  get(key: K): V | undefined {
    return this.map.get(key)
  }

  /** Stores `value` under `key`, forgetting the oldest entry when full. */
  set(key: K, value: V): void {
    if (this.map.size >= this.capacity && !this.map.has(key)) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) this.map.delete(oldest.value)
    }
    this.map.set(key, value)
  }

  /** How many entries are stored. */
  get size(): number {
    return this.map.size
  }
}
