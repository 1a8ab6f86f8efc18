import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { AuditVerdict } from '@qflow/pipeline'
import { AuditSinkError } from './errors.js'

/** What an audit record is about: an inspected operation, a containment decision, or its lifting. */
export type AuditRecordType = 'inspect' | 'decision' | 'lift'

/** An audit record, in the ecosystem Qerberos shape. */
export interface AuditRecord {
  /** Unique id (a UUID). */
  readonly id: string
  readonly type: AuditRecordType
  /** What it is about: the operation's resource, or the decision's target. */
  readonly ref: string
  /** Who acted: the operation's actor, or Qerberos itself for decisions. */
  readonly actor: string
  /** The ecosystem layer (`qflow` by default). */
  readonly layer: string
  readonly verdict: AuditVerdict
  /** Why, when not ALLOW. */
  readonly reason?: string
  /** Structured facts (trace id, code, integrity failures, alerts, the decision). */
  readonly details?: Readonly<Record<string, unknown>>
  /** When, ms since the epoch. */
  readonly at: number
}

/** Options of the audit trail. */
export interface AuditInit {
  /** Records kept in memory (a ring; the oldest go first). Default 1 000. */
  capacity?: number
  /** Append every record as one JSON line to this file (created with its directory). Default: none. */
  file?: string
  /** How long records wait before they are written, ms. Default 1 000. */
  flushIntervalMs?: number
  /** Records that make the sink write at once. Default 256. */
  maxBatch?: number
  /** Records held while the file cannot be written; past it the oldest are dropped. Default 10 000. */
  maxPending?: number
  /** The `layer` of records. Default `qflow`. */
  layer?: string
  /** The `actor` of records Qerberos writes as itself. Default `qerberos`. */
  actor?: string
}

/** Appends JSON lines to a file in batches, one write at a time. */
class JsonlFileSink {
  private pending: string[] = []
  private chain: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private madeDirectory = false
  /** Lines dropped because the file could not be written for too long. */
  dropped = 0

  constructor(
    readonly file: string,
    private readonly flushIntervalMs: number,
    private readonly maxBatch: number,
    private readonly maxPending: number
  ) {}

  get queued(): number {
    return this.pending.length
  }

  enqueue(line: string): void {
    this.pending.push(line)
    if (this.pending.length > this.maxPending) {
      const excess = this.pending.length - this.maxPending
      this.pending.splice(0, excess)
      this.dropped += excess
    }
    if (this.pending.length >= this.maxBatch) {
      this.flush().catch(() => {
        // Kept queued; the next flush retries, and an explicit flush reports the error.
      })
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.flush().catch(() => {})
      }, this.flushIntervalMs)
      this.timer.unref()
    }
  }

  /** Writes everything queued so far; rejects with {@link AuditSinkError} when the file cannot be written. */
  flush(): Promise<void> {
    const next = this.chain.then(() => this.write())
    this.chain = next.catch(() => {})
    return next
  }

  /** Stops the timer and writes what is queued. */
  async close(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    await this.flush()
  }

  private async write(): Promise<void> {
    if (this.pending.length === 0) return
    const lines = this.pending
    this.pending = []
    try {
      if (!this.madeDirectory) {
        await mkdir(dirname(this.file), { recursive: true })
        this.madeDirectory = true
      }
      await appendFile(this.file, `${lines.join('\n')}\n`, { flag: 'a' })
    } catch (err) {
      this.pending = lines.concat(this.pending)
      if (this.pending.length > this.maxPending) {
        const excess = this.pending.length - this.maxPending
        this.pending.splice(0, excess)
        this.dropped += excess
      }
      throw new AuditSinkError(this.file, this.pending.length, err)
    }
  }
}

/** The audit trail: a bounded in-memory ring, optionally mirrored to a JSONL file. */
export class AuditTrail {
  private readonly ring: (AuditRecord | undefined)[]
  private next = 0
  private count = 0
  private readonly sink: JsonlFileSink | undefined
  /** Records written to the trail in all. */
  total = 0

  constructor(
    capacity: number,
    sink?: { file: string; flushIntervalMs: number; maxBatch: number; maxPending: number }
  ) {
    this.ring = new Array<AuditRecord | undefined>(capacity)
    this.sink = sink === undefined ? undefined : new JsonlFileSink(sink.file, sink.flushIntervalMs, sink.maxBatch, sink.maxPending)
  }

  /** Adds a record. */
  append(record: AuditRecord): void {
    this.total++
    const capacity = this.ring.length
    if (capacity > 0) {
      this.ring[this.next] = record
      this.next = this.next + 1 === capacity ? 0 : this.next + 1
      if (this.count < capacity) this.count++
    }
    if (this.sink !== undefined) {
      let line: string
      try {
        line = JSON.stringify(record)
      } catch {
        line = JSON.stringify({ ...record, details: { unserializable: true } })
      }
      this.sink.enqueue(line)
    }
  }

  /** The records held in memory, oldest first. */
  records(): AuditRecord[] {
    const out: AuditRecord[] = []
    const capacity = this.ring.length
    const start = (this.next - this.count + capacity) % (capacity || 1)
    for (let i = 0; i < this.count; i++) out.push(this.ring[(start + i) % capacity] as AuditRecord)
    return out
  }

  /** Sink figures: lines waiting and lines dropped. */
  sinkStats(): { pending: number; dropped: number } {
    return { pending: this.sink?.queued ?? 0, dropped: this.sink?.dropped ?? 0 }
  }

  /** Writes what the file sink holds. */
  async flush(): Promise<void> {
    await this.sink?.flush()
  }

  /** Stops the sink's timer after writing what it holds. */
  async close(): Promise<void> {
    await this.sink?.close()
  }
}
