/** A set of subscribers. A listener that throws is ignored: it cannot break the caller. */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>()

  /** Whether anyone listens (so callers can skip building what nobody reads). */
  get size(): number {
    return this.set.size
  }

  /** Adds a listener; returns its unsubscribe function. */
  add(listener: (value: T) => void): () => void {
    // Wrap so the same function subscribed twice is two subscriptions, each removed on its own.
    const entry = (value: T): void => listener(value)
    this.set.add(entry)
    return () => {
      this.set.delete(entry)
    }
  }

  /** Calls every listener with `value`. */
  emit(value: T): void {
    for (const listener of this.set) {
      try {
        listener(value)
      } catch {
        // A subscriber's failure is its own; Qerberos keeps judging.
      }
    }
  }
}
