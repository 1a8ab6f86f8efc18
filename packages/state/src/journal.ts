import { performance } from 'node:perf_hooks'
import { SYNC_TIME_WEIGHT } from './constants.js'
import { StoreFailedError, StoreNotStartedError } from './errors.js'
import type { CompactionReport, SegmentLog, Transaction } from './segment-log.js'

export type { Transaction } from './segment-log.js'

/** Options of the commit journal. */
export interface CommitJournalInit {
  readonly log: SegmentLog
  /** Whether the log is in memory (no fdatasync, no batching window). */
  readonly memory: boolean
  /** `batched` mode's window; 0 in the other modes. */
  readonly batchDelayMs: number
  readonly batchMaxEntries: number
  readonly checkpointBytes: number
}

interface Pending {
  readonly tx: Transaction
  /** When it was queued (performance.now()). */
  readonly at: number
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

/**
 * Group commit over the segment log. A transaction is acknowledged once its frame is written to
 * the active segment and the segment fdatasync'ed; it is then applied to the in-memory index and
 * records. Transactions that arrive while a batch is being made durable share the next
 * fdatasync; in `batched` mode a batch also waits up to `batchDelayMs` (or `batchMaxEntries`), but
 * no longer than fdatasync has lately been taking.
 * When the log has grown by `checkpointBytes` since the last index checkpoint, a new one is written.
 */
export class CommitJournal {
  private readonly log: SegmentLog
  private readonly memory: boolean
  private readonly batchDelayMs: number
  private readonly batchMaxEntries: number
  private readonly checkpointBytes: number
  private readonly queue: Pending[] = []
  private draining: Promise<void> | undefined
  private wake: (() => void) | undefined
  private lockTail: Promise<void> = Promise.resolve()
  private closing = false
  private failure: unknown
  /** How long fdatasync has been taking (a moving average), in ms. */
  private syncMs = 0

  constructor(init: CommitJournalInit) {
    this.log = init.log
    this.memory = init.memory
    this.batchDelayMs = init.batchDelayMs
    this.batchMaxEntries = Math.max(1, init.batchMaxEntries)
    this.checkpointBytes = init.checkpointBytes
  }

  /** Resolves once `tx` is durable (per the durability mode) and visible to readers. */
  commit(tx: Transaction): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(new StoreFailedError(this.failure))
    if (this.closing) return Promise.reject(new StoreNotStartedError())
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ tx, at: performance.now(), resolve, reject })
      if (this.queue.length >= this.batchMaxEntries) this.wake?.()
      this.kick()
    })
  }

  /** Waits for the commits queued so far (cutting a batch's wait short). */
  async flush(): Promise<void> {
    while (this.draining !== undefined) {
      this.wake?.()
      await this.draining
    }
  }

  /**
   * Writes an index checkpoint, so an open scans nothing written before it. Its position is taken
   * between batches; the file is written while commits go on.
   */
  async checkpoint(): Promise<void> {
    // Wrapped, so that the exclusive section ends once the position is taken, not when the file is written.
    const taken = await this.exclusive(async () => (this.failure === undefined ? { written: this.log.checkpoint() } : undefined))
    await taken?.written
  }

  /** Rewrites the oldest segments whose blocks are mostly deleted and unlinks them. */
  compact(): Promise<CompactionReport> {
    return this.exclusive(() => this.log.compact())
  }

  /** Waits for queued commits, checkpoints and refuses further commits. */
  async close(): Promise<void> {
    this.closing = true
    await this.flush()
    await this.checkpoint()
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lockTail.then(fn)
    this.lockTail = run.then(
      () => undefined,
      () => undefined
    )
    return run
  }

  /** Starts the drain loop unless it runs; restarts it if commits arrived as it was ending. */
  private kick(): void {
    if (this.draining !== undefined) return
    this.draining = this.drain().finally(() => {
      this.draining = undefined
      if (this.queue.length > 0) this.kick()
    })
  }

  private async drain(): Promise<void> {
    // Let the commits of this tick queue up before the first batch is cut.
    await Promise.resolve()
    while (this.queue.length > 0) {
      // The window runs from the oldest queued commit: commits that queued up during the previous
      // batch's fdatasync have waited already and go at once.
      // Waiting longer than an fdatasync takes gains nothing (another batch could have been made
      // durable meanwhile): the window is capped by how long fdatasync has been taking.
      const wait = Math.min(this.batchDelayMs, this.syncMs) - (performance.now() - (this.queue[0] as Pending).at)
      if (wait >= 1 && this.queue.length < this.batchMaxEntries && !this.closing) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait)
          this.wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        this.wake = undefined
      }
      const batch = this.queue.splice(0, this.batchMaxEntries)
      try {
        await this.exclusive(() => this.writeBatch(batch))
        for (const p of batch) p.resolve()
      } catch (err) {
        this.failure = err
        const failed = new StoreFailedError(err)
        for (const p of [...batch, ...this.queue.splice(0)]) p.reject(failed)
      }
    }
  }

  private async writeBatch(batch: readonly Pending[]): Promise<void> {
    const located = this.log.write(batch.map((p) => p.tx))
    if (!this.memory) {
      const started = performance.now()
      await this.log.sync()
      this.syncMs += (performance.now() - started - this.syncMs) * SYNC_TIME_WEIGHT
    }
    this.log.apply(located)
    if (!this.memory && this.log.uncheckpointedBytes >= this.checkpointBytes) {
      // Written in the background: commits go on. A failed checkpoint write fails the store, as a
      // failed commit does (the disk is not taking writes).
      this.log.checkpoint().catch((err: unknown) => {
        this.failure ??= err
      })
    }
  }
}
