/** Keeps the writes in progress, so that `stop()` can let them finish before closing the journal. */
export class OperationTracker {
  private readonly pending = new Set<Promise<unknown>>()

  /** Tracks `operation` until it settles, and returns it. */
  track<T>(operation: Promise<T>): Promise<T> {
    const settled = operation.then(
      () => undefined,
      () => undefined
    )
    this.pending.add(settled)
    void settled.then(() => this.pending.delete(settled))
    return operation
  }

  /** Resolves once every tracked operation (including ones started meanwhile) has settled. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
  }
}
