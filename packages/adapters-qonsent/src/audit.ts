import { mkdir, open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { AuditVerdict } from '@qflow/pipeline'

/** What an audit record is about. */
export type ConsentAuditType = 'CONSENT_CHECK' | 'GRANT_ADDED' | 'GRANT_REVOKED' | 'GRANT_EXPIRED' | 'AUDIT_DROPPED'

/**
 * One audit record, in the Qerberos shape (`type`, `ref`, `actor`, `verdict`, `reason`, `at`)
 * with the consent facts beside it.
 */
export interface ConsentAuditRecord {
  /** What happened. */
  readonly type: ConsentAuditType
  /** What it concerns: the resource checked, or the grant's id. */
  readonly ref: string
  /** Who: the identity checked, the grantor, the revoker (`qonsent` for expiries). */
  readonly actor: string
  /** `ALLOW` for an allowed check or an added grant, `DENY` for a refused or lapsed check, `WARN` for revocations, expiries and drops. */
  readonly verdict: AuditVerdict
  /** For people. */
  readonly reason: string
  /** When, ms since the epoch. */
  readonly at: number
  /** The action checked. */
  readonly action?: string
  /** The decision's status, for checks. */
  readonly status?: 'allowed' | 'denied' | 'expired'
  /** The grant that decided a check, or the grant a change concerns. */
  readonly grantId?: string
}

/** Counters of the audit trail. */
export interface AuditStats {
  /** Records taken. */
  readonly recorded: number
  /** Records written to the file. */
  readonly written: number
  /** Records the file never got (the writer fell too far behind, or a write failed). */
  readonly dropped: number
  /** Records waiting to be written. */
  readonly pending: number
  /** The last write error, if any. */
  readonly lastError: unknown
}

/** Options of the audit trail. */
export interface AuditTrailOptions {
  /** Records kept in memory. */
  ringSize: number
  /** Append-only JSONL file, or `undefined` for memory only. */
  file: string | undefined
  /** Records buffered before a write starts. */
  batchSize: number
  /** Longest wait before buffered records are written, ms. */
  flushMs: number
  /** Records held while the file lags; newer ones are dropped (and counted) past it. */
  maxPending: number
  /** The clock. */
  now: () => number
}

/**
 * The audit trail: a bounded ring of the latest records in memory and, optionally, an
 * append-only JSONL file written in batches off the check path (a check only pushes a record).
 */
export class AuditTrail {
  private readonly ring: (ConsentAuditRecord | undefined)[]
  private next = 0
  private count = 0
  private pending: ConsentAuditRecord[] = []
  private handle: FileHandle | undefined
  private writing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private recorded = 0
  private written = 0
  private dropped = 0
  private droppedUnreported = 0
  private lastError: unknown

  constructor(private readonly options: AuditTrailOptions) {
    this.ring = new Array<ConsentAuditRecord | undefined>(Math.max(0, options.ringSize))
  }

  /** Opens the file (creating its directory). */
  async open(): Promise<void> {
    if (this.options.file === undefined || this.handle !== undefined) return
    await mkdir(dirname(this.options.file), { recursive: true })
    this.handle = await open(this.options.file, 'a')
  }

  /** Takes one record. */
  record(record: ConsentAuditRecord): void {
    this.recorded++
    if (this.ring.length > 0) {
      this.ring[this.next] = record
      this.next = (this.next + 1) % this.ring.length
      if (this.count < this.ring.length) this.count++
    }
    if (this.handle === undefined) return
    if (this.pending.length >= this.options.maxPending) {
      // The file fell behind: newer records are counted and dropped (the file gets an
      // AUDIT_DROPPED record saying how many), which costs nothing on the check path.
      this.dropped++
      this.droppedUnreported++
    } else {
      this.pending.push(record)
    }
    if (this.pending.length >= this.options.batchSize) {
      if (this.writing === undefined) void this.flush()
    } else if (this.timer === undefined && this.writing === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.options.flushMs)
      this.timer.unref()
    }
  }

  /** The latest records, oldest first (at most `limit`). */
  recent(limit = this.count): ConsentAuditRecord[] {
    const n = Math.max(0, Math.min(limit, this.count))
    const out: ConsentAuditRecord[] = []
    const size = this.ring.length
    for (let i = n; i > 0; i--) out.push(this.ring[(this.next - i + size) % size] as ConsentAuditRecord)
    return out
  }

  /** The trail's counters. */
  stats(): AuditStats {
    return { recorded: this.recorded, written: this.written, dropped: this.dropped, pending: this.pending.length, lastError: this.lastError }
  }

  /** Writes every buffered record to the file. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    while (this.writing !== undefined) await this.writing
    const handle = this.handle
    if (handle === undefined || (this.pending.length === 0 && this.droppedUnreported === 0)) return
    const batch = this.pending
    this.pending = []
    if (this.droppedUnreported > 0) {
      batch.push({
        type: 'AUDIT_DROPPED',
        ref: 'audit',
        actor: 'qonsent',
        verdict: 'WARN',
        reason: `${this.droppedUnreported} audit records were dropped: the audit file fell behind`,
        at: this.options.now()
      })
      this.droppedUnreported = 0
    }
    let text = ''
    for (const record of batch) text += `${JSON.stringify(record)}\n`
    this.writing = handle.appendFile(text).then(
      () => {
        this.written += batch.length
      },
      (err: unknown) => {
        this.lastError = err
        this.dropped += batch.length
      }
    )
    try {
      await this.writing
    } finally {
      this.writing = undefined
    }
    if (this.pending.length >= this.options.batchSize) await this.flush()
    else if (this.pending.length > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.options.flushMs)
      this.timer.unref()
    }
  }

  /** Writes what is buffered and closes the file. */
  async close(): Promise<void> {
    await this.flush()
    const handle = this.handle
    this.handle = undefined
    await handle?.close()
  }
}
