import type { SqliteQindex } from '@qflow/adapters-qindex'
import type { ExecutionHead, StateStore } from '@qflow/state'

/** Index records one transaction deletes (each holds the event loop while SQLite runs it). */
const INDEX_DELETES_AT_ONCE = 256

/**
 * Which finished executions a node removes, and how often it looks. Running and paused executions
 * are never removed, nor pinned ones (`store.log.pin`).
 */
export interface RetentionPolicy {
  /** Finished executions that ended more than this long ago are removed, ms; 0: none for their age. */
  readonly maxAgeMs: number
  /** Finished executions beyond this many (the most recently finished are kept) are removed; 0: no limit. */
  readonly maxCount: number
  /** Time between the end of one pass and the start of the next, ms. */
  readonly intervalMs: number
}

/** What one pass removed. */
export interface PruneReport {
  /** When the pass began, ms since the epoch. */
  readonly at: number
  /** How long it took, ms. */
  readonly durationMs: number
  /** The executions removed (their logs, head records and index records, history included). */
  readonly removedExecutions: readonly string[]
  /** Log blocks deleted. */
  readonly removedBlocks: number
}

/** What a node's pruning has done since it started. */
export interface RetentionStats {
  /** The policy in force. */
  readonly policy: RetentionPolicy
  /** Passes run (failed ones included). */
  readonly passes: number
  /** Passes that failed. */
  readonly failures: number
  /** Executions removed in all. */
  readonly removedExecutions: number
  /** The last pass that succeeded. */
  readonly last: PruneReport | undefined
}

/** Removes finished executions per a policy, in passes: now, then every interval, one at a time. */
export class ExecutionPruner {
  private passes = 0
  private failures = 0
  private removed = 0
  private last: PruneReport | undefined
  /** Executions gone from the store whose index records are still to delete (a failed delete is retried next pass). */
  private readonly unindexed = new Set<string>()
  private running: Promise<PruneReport> | undefined
  private timer: NodeJS.Timeout | undefined
  /** Aborted by `stop()`: a running pass ends after the batch of removals it is in. */
  private readonly stopping = new AbortController()

  constructor(
    readonly policy: RetentionPolicy,
    private readonly parts: { readonly store: StateStore; readonly index: SqliteQindex; readonly isLive: (executionId: string) => boolean },
    private readonly listener: { onPrune?(report: PruneReport): void; onError?(error: unknown): void } = {}
  ) {}

  get stats(): RetentionStats {
    return { policy: this.policy, passes: this.passes, failures: this.failures, removedExecutions: this.removed, last: this.last }
  }

  /** Runs the first pass at once and the next ones every `intervalMs` after the last one ends. */
  start(): void {
    this.schedule(0)
  }

  /**
   * Runs one pass now (or joins the one running): the executions past `maxAgeMs`, then those
   * beyond `maxCount`, leave the state store, then their records and history leave the index.
   */
  prune(): Promise<PruneReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /** Stops scheduling passes, ends the one running after its current batch, and waits for it. */
  async stop(): Promise<void> {
    this.stopping.abort()
    clearTimeout(this.timer)
    this.timer = undefined
    await this.running?.catch(() => undefined)
  }

  /**
   * Whether an execution is a sub-flow of one still running or paused. The engine names a
   * sub-flow `<parent id>.<step id>.<attempt>`; the parent, re-running its step after a restart,
   * finds its result by that id, so it is kept while any execution its id extends is live.
   */
  private parentIsLive(executionId: string): boolean {
    for (let dot = executionId.lastIndexOf('.'); dot > 0; dot = executionId.lastIndexOf('.', dot - 1)) {
      if (this.parts.isLive(executionId.slice(0, dot))) return true
    }
    return false
  }

  private schedule(delayMs: number): void {
    if (this.stopping.signal.aborted) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.prune().then(
        (report) => this.listener.onPrune?.(report),
        (err: unknown) => this.listener.onError?.(err)
      ).finally(() => this.schedule(this.policy.intervalMs))
    }, delayMs)
    this.timer.unref()
  }

  private async pass(): Promise<PruneReport> {
    const { store, index } = this.parts
    const at = Date.now()
    const started = performance.now()
    this.passes++
    try {
      const removedExecutions: string[] = []
      let removedBlocks = 0
      const signal = this.stopping.signal
      const keep = (head: ExecutionHead): boolean => this.parentIsLive(head.executionId)
      const rules = [
        ...(this.policy.maxAgeMs > 0 ? [{ olderThan: this.policy.maxAgeMs, signal, keep }] : []),
        ...(this.policy.maxCount > 0 ? [{ keepLast: this.policy.maxCount, signal, keep }] : [])
      ]
      for (const rule of rules) {
        const report = await store.gc(rule)
        removedExecutions.push(...report.removedExecutions)
        removedBlocks += report.removedBlocks
      }
      // The index is a view of the store: what left the store leaves it, history and all.
      // In slices: each is one SQLite transaction on the event loop's thread.
      for (const id of removedExecutions) this.unindexed.add(id)
      while (this.unindexed.size > 0) {
        const slice: string[] = []
        for (const id of this.unindexed) if (slice.push(id) === INDEX_DELETES_AT_ONCE) break
        await index.deleteMany(slice, { history: 'drop' })
        for (const id of slice) this.unindexed.delete(id)
      }
      const report: PruneReport = { at, durationMs: Math.round(performance.now() - started), removedExecutions, removedBlocks }
      this.removed += removedExecutions.length
      this.last = report
      return report
    } catch (err) {
      this.failures++
      throw err
    }
  }
}
