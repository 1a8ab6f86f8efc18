import Database from 'better-sqlite3'
import type { Database as Db, Statement } from 'better-sqlite3'
import type { IndexRecord } from '@qflow/pipeline'
import { ANALYSIS_LIMIT, ANALYZE_BATCH_THRESHOLD, OPTIMIZE_EVERY_WRITES, STATEMENT_CACHE_SIZE, WAL_SIZE_LIMIT } from './constants.js'
import { RECORD_COLUMNS, type SqlStatement } from './query-sql.js'
import { migrate } from './schema.js'
import type { StoredRecord } from './validate.js'

/** The stored `tags` of a record without tags. */
const NO_TAGS = '[]'

/** Why a history entry was written. */
export type IndexHistoryChange = 'put' | 'archive' | 'delete' | 'rebuild'

/** One entry of a key's history. */
export interface IndexHistoryEntry {
  /** Position in the index's history, increasing across all keys. */
  readonly seq: number
  /** What happened: a put, an archive, a delete (the record as it was), or a rebuild from the source. */
  readonly change: IndexHistoryChange
  /** When the index recorded it, ms since the epoch. */
  readonly recordedAt: number
  /** The record after the change (before it, for a delete). */
  readonly record: IndexRecord
}

/** A raw history row, as copied between databases during a rebuild. */
export type HistoryRow = readonly [seq: number, key: string, change: string, recordedAt: number, record: string]

type RecordRow = [
  key: string,
  kind: string,
  owner: string,
  subnet: string | null,
  name: string | null,
  description: string | null,
  category: string | null,
  status: string | null,
  contentHash: string | null,
  archived: number,
  createdAt: number,
  updatedAt: number,
  tags: string,
  attributes: string | null
]

/** Turns a `RECORD_COLUMNS` row back into a record, in the shape `validateRecord` normalizes to. */
function rowToRecord(row: RecordRow): IndexRecord {
  const [key, kind, owner, subnet, name, description, category, status, contentHash, archived, createdAt, updatedAt, tags, attributes] = row
  const record: Record<string, unknown> = { key, kind, owner }
  if (subnet !== null) record['subnet'] = subnet
  if (name !== null) record['name'] = name
  if (description !== null) record['description'] = description
  record['tags'] = JSON.parse(tags) as string[]
  if (category !== null) record['category'] = category
  if (status !== null) record['status'] = status
  if (contentHash !== null) record['contentHash'] = contentHash
  record['archived'] = archived === 1
  record['createdAt'] = createdAt
  record['updatedAt'] = updatedAt
  if (attributes !== null) record['attributes'] = JSON.parse(attributes) as Record<string, unknown>
  return record as unknown as IndexRecord
}

/** How to open a database. */
export interface StoreOptions {
  /**
   * A database being filled by a rebuild: no WAL, no fsync (a crash leaves a temporary file that
   * is thrown away), a larger cache.
   */
  readonly bulk?: boolean
  /**
   * Outside bulk mode: whether commits and checkpoints are synced (`normal`, SQLite's
   * `synchronous = NORMAL` in WAL mode: a machine crash leaves the database sound) or not (`off`:
   * a process crash loses nothing, a machine crash may damage the database). Default `normal`.
   */
  readonly synchronous?: 'normal' | 'off'
  /** The clock, for the schema version table. */
  readonly now: () => number
  /** Page cache ceiling, MiB. */
  readonly cacheSizeMB: number
}

/**
 * One open index database: its prepared statements and synchronous operations. Every write is
 * one transaction. The class knows nothing of files, corruption or rebuilds.
 */
export class IndexStore {
  readonly db: Db
  private readonly selectForWrite: Statement
  private writesSinceOptimize = 0
  private readonly insertRecord: Statement
  private readonly updateRecord: Statement
  private readonly insertText: Statement
  private readonly deleteText: Statement
  private readonly clearTags: Statement
  private readonly insertTag: Statement
  private readonly touchTags: Statement
  private readonly insertHistory: Statement
  private readonly insertHistoryRow: Statement
  private readonly selectByKey: Statement
  private readonly selectRid: Statement
  private readonly setArchived: Statement
  private readonly deleteRecord: Statement
  private readonly selectText: Statement
  private readonly selectHistory: Statement
  private readonly selectHistoryBatch: Statement
  private readonly selectMaxSeq: Statement
  private readonly pages = new Map<string, Statement>()
  private readonly putTransaction: (records: readonly StoredRecord[], change: IndexHistoryChange, recordedAt: number) => void
  private readonly archiveTransaction: (key: string, at: number, recordedAt: number) => IndexRecord | undefined
  private readonly deleteTransaction: (keys: readonly string[], recordedAt: number, dropHistory: boolean) => number
  private readonly deleteHistory: Statement
  private readonly appendHistoryTransaction: (rows: readonly HistoryRow[]) => void

  private constructor(db: Db) {
    this.db = db
    const columns = 'key, kind, owner, subnet, name, description, category, status, content_hash, archived, created_at, updated_at, tags, attributes'
    this.selectForWrite = db.prepare('SELECT rid, name, description, updated_at, tags FROM records WHERE key = ?')
    this.selectForWrite.raw(true)
    this.insertRecord = db.prepare(`INSERT INTO records (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    this.updateRecord = db.prepare(`
      UPDATE records SET key = ?, kind = ?, owner = ?, subnet = ?, name = ?, description = ?, category = ?, status = ?,
        content_hash = ?, archived = ?, created_at = ?, updated_at = ?, tags = ?, attributes = ?
      WHERE rid = ?`)
    this.insertText = db.prepare('INSERT INTO records_fts (rowid, name, description) VALUES (?, ?, ?)')
    this.deleteText = db.prepare("INSERT INTO records_fts (records_fts, rowid, name, description) VALUES ('delete', ?, ?, ?)")
    this.clearTags = db.prepare('DELETE FROM record_tags WHERE rid = ?')
    this.insertTag = db.prepare('INSERT INTO record_tags (tag, updated_at, key, rid) VALUES (?, ?, ?, ?)')
    this.touchTags = db.prepare('UPDATE record_tags SET updated_at = ? WHERE rid = ?')
    this.insertHistory = db.prepare('INSERT INTO history (key, change, recorded_at, record) VALUES (?, ?, ?, ?)')
    this.insertHistoryRow = db.prepare('INSERT INTO history (seq, key, change, recorded_at, record) VALUES (?, ?, ?, ?, ?)')
    this.selectByKey = db.prepare(`SELECT ${RECORD_COLUMNS} FROM records r WHERE r.key = ?`)
    this.selectByKey.raw(true)
    this.selectRid = db.prepare('SELECT rid FROM records WHERE key = ?')
    this.selectRid.pluck(true)
    this.setArchived = db.prepare('UPDATE records SET archived = 1, updated_at = ? WHERE rid = ?')
    this.deleteRecord = db.prepare('DELETE FROM records WHERE rid = ?')
    this.selectText = db.prepare('SELECT name, description FROM records WHERE rid = ?')
    this.selectText.raw(true)
    this.selectHistory = db.prepare('SELECT seq, change, recorded_at, record FROM history WHERE key = ? ORDER BY seq')
    this.selectHistory.raw(true)
    this.selectHistoryBatch = db.prepare('SELECT seq, key, change, recorded_at, record FROM history WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?')
    this.selectHistoryBatch.raw(true)
    this.selectMaxSeq = db.prepare('SELECT ifnull(max(seq), 0) FROM history')
    this.selectMaxSeq.pluck(true)
    this.putTransaction = db.transaction((records: readonly StoredRecord[], change: IndexHistoryChange, recordedAt: number) => {
      for (const stored of records) this.writeOne(stored, change, recordedAt)
    })
    this.archiveTransaction = db.transaction((key: string, at: number, recordedAt: number) => this.archiveOne(key, at, recordedAt))
    this.deleteHistory = db.prepare('DELETE FROM history WHERE key = ?')
    this.deleteTransaction = db.transaction((keys: readonly string[], recordedAt: number, dropHistory: boolean) => {
      let deleted = 0
      for (const key of keys) if (this.deleteOne(key, recordedAt, dropHistory)) deleted++
      return deleted
    })
    this.appendHistoryTransaction = db.transaction((rows: readonly HistoryRow[]) => {
      for (const row of rows) this.insertHistoryRow.run(...row)
    })
  }

  /**
   * Opens (creating if needed) a database, sets its pragmas and migrates it. SQLite's errors
   * propagate as they are; the caller classifies them.
   */
  static open(path: string, options: StoreOptions): IndexStore {
    const db = new Database(path)
    try {
      if (options.bulk === true) {
        db.pragma('journal_mode = MEMORY')
        db.pragma('synchronous = OFF')
      } else {
        db.pragma('journal_mode = WAL')
        db.pragma(options.synchronous === 'off' ? 'synchronous = OFF' : 'synchronous = NORMAL')
        db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`)
        // `PRAGMA optimize` (every OPTIMIZE_EVERY_WRITES puts) re-analyzes a table that grew
        // tenfold; unbounded, that ANALYZE held the writer ~70 ms at 50,000 records and ~340 ms at
        // 200,000, and every put waited. Sampled statistics are enough for the planner.
        db.pragma(`analysis_limit = ${ANALYSIS_LIMIT}`)
      }
      db.pragma(`cache_size = ${-Math.round(options.cacheSizeMB * 1024)}`)
      db.pragma('temp_store = MEMORY')
      db.pragma('foreign_keys = OFF')
      migrate(db, options.now())
      return new IndexStore(db)
    } catch (err) {
      db.close()
      throw err
    }
  }

  /** `PRAGMA quick_check`: the problems found, empty when the database is sound. */
  quickCheck(): string[] {
    const rows = this.db.pragma('quick_check') as { quick_check: string }[]
    return rows.map((row) => row.quick_check).filter((line) => line !== 'ok')
  }

  /**
   * Writes one record: an insert, or an update of the existing row that rewrites its full-text
   * entry only when the name or description changed and its tag rows only when the tags or
   * `updatedAt` changed.
   */
  private writeOne(stored: StoredRecord, change: IndexHistoryChange, recordedAt: number): void {
    const r = stored.record
    const name = r.name ?? null
    const description = r.description ?? null
    const values = [
      r.key,
      r.kind,
      r.owner,
      r.subnet ?? null,
      name,
      description,
      r.category ?? null,
      r.status ?? null,
      r.contentHash ?? null,
      r.archived === true ? 1 : 0,
      r.createdAt,
      r.updatedAt,
      stored.tagsJson,
      stored.attributesJson
    ]
    const existing = this.selectForWrite.get(r.key) as [number, string | null, string | null, number, string] | undefined
    let rid: number
    let writeTags = true
    if (existing === undefined) {
      rid = Number(this.insertRecord.run(...values).lastInsertRowid)
      this.insertText.run(rid, name, description)
    } else {
      const [oldRid, oldName, oldDescription, oldUpdatedAt, oldTags] = existing
      rid = oldRid
      this.updateRecord.run(...values, rid)
      if (oldName !== name || oldDescription !== description) {
        this.deleteText.run(rid, oldName, oldDescription)
        this.insertText.run(rid, name, description)
      }
      if (oldTags === stored.tagsJson && oldUpdatedAt === r.updatedAt) writeTags = false
      else if (oldTags !== NO_TAGS) this.clearTags.run(rid) // a record without tags has no rows to clear
    }
    if (writeTags) for (const tag of r.tags ?? []) this.insertTag.run(tag, r.updatedAt, r.key, rid)
    this.insertHistory.run(r.key, change, recordedAt, JSON.stringify(r))
  }

  /** Inserts or replaces records, each with a history entry, in one transaction. */
  put(records: readonly StoredRecord[], change: IndexHistoryChange, recordedAt: number): void {
    this.putTransaction(records, change, recordedAt)
  }

  /**
   * Group commit of separate callers' puts: one transaction for all of them; when one record spoils
   * it, each is written alone so every caller gets its own outcome. Returns `undefined` when all
   * were written, else each record's error (`undefined` for those written).
   */
  putEach(records: readonly StoredRecord[], recordedAt: number): (unknown | undefined)[] | undefined {
    try {
      this.put(records, 'put', recordedAt)
      return undefined
    } catch (batchError) {
      if (records.length === 1) return [batchError]
      return records.map((record) => {
        try {
          this.put([record], 'put', recordedAt)
          return undefined
        } catch (err) {
          return err
        }
      })
    }
  }

  /** The record with this key. */
  get(key: string): IndexRecord | undefined {
    const row = this.selectByKey.get(key) as RecordRow | undefined
    return row === undefined ? undefined : rowToRecord(row)
  }

  /** Marks a record archived at `at` (its new `updatedAt`); undefined when there is none. Already archived records are left alone. */
  archive(key: string, at: number, recordedAt: number): IndexRecord | undefined {
    return this.archiveTransaction(key, at, recordedAt)
  }

  private archiveOne(key: string, at: number, recordedAt: number): IndexRecord | undefined {
    const current = this.get(key)
    if (current === undefined || current.archived === true) return current
    const rid = this.selectRid.get(key) as number
    this.setArchived.run(at, rid)
    this.touchTags.run(at, rid)
    const record = { ...current, archived: true, updatedAt: at }
    this.insertHistory.run(key, 'archive', recordedAt, JSON.stringify(record))
    return record
  }

  /**
   * Removes records in one transaction; returns how many there were. Their history stays, ending
   * with a `delete` entry, unless `dropHistory`: then every history entry of the keys goes too.
   */
  delete(keys: readonly string[], recordedAt: number, dropHistory: boolean): number {
    return this.deleteTransaction(keys, recordedAt, dropHistory)
  }

  private deleteOne(key: string, recordedAt: number, dropHistory: boolean): boolean {
    if (dropHistory) this.deleteHistory.run(key)
    const current = this.get(key)
    if (current === undefined) return false
    const rid = this.selectRid.get(key) as number
    const [name, description] = this.selectText.get(rid) as [string | null, string | null]
    this.clearTags.run(rid)
    this.deleteText.run(rid, name, description)
    this.deleteRecord.run(rid)
    if (!dropHistory) this.insertHistory.run(key, 'delete', recordedAt, JSON.stringify(current))
    return true
  }

  /** A key's history, oldest first. */
  history(key: string): IndexHistoryEntry[] {
    const rows = this.selectHistory.all(key) as [number, IndexHistoryChange, number, string][]
    return rows.map(([seq, change, recordedAt, record]) => ({ seq, change, recordedAt, record: JSON.parse(record) as IndexRecord }))
  }

  /** The newest history position. */
  maxHistorySeq(): number {
    return this.selectMaxSeq.get() as number
  }

  /** History rows after `afterSeq` up to `upTo`, oldest first. */
  historyRows(afterSeq: number, upTo: number, limit: number): HistoryRow[] {
    return this.selectHistoryBatch.all(afterSeq, upTo, limit) as HistoryRow[]
  }

  /** Appends history rows copied from another index database, keeping their positions. */
  appendHistoryRows(rows: readonly HistoryRow[]): void {
    this.appendHistoryTransaction(rows)
  }

  /** Forgets every history row (when copying them failed half-way). */
  clearHistory(): void {
    this.db.exec('DELETE FROM history')
  }

  private statement(sql: string): Statement {
    let stmt = this.pages.get(sql)
    if (stmt !== undefined) {
      this.pages.delete(sql)
    } else {
      stmt = this.db.prepare(sql)
      stmt.raw(true)
      if (this.pages.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.pages.keys().next().value
        if (oldest !== undefined) this.pages.delete(oldest)
      }
    }
    this.pages.set(sql, stmt)
    return stmt
  }

  /** Runs a page query built by `buildPageQuery`; its statement is prepared once per SQL shape. */
  page(query: SqlStatement): IndexRecord[] {
    const rows = this.statement(query.sql).all(...query.params) as RecordRow[]
    return rows.map(rowToRecord)
  }

  /** Runs a counting probe built by `tagsAnyProbe` or `textProbe`. */
  count(probe: SqlStatement): number {
    const stmt = this.statement(probe.sql)
    const row = stmt.get(...probe.params) as [number]
    return row[0]
  }

  /** The plan SQLite chooses for a page query. */
  explain(query: SqlStatement): string[] {
    const rows = this.db.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.params) as { detail: string }[]
    return rows.map((row) => row.detail)
  }

  /** Refreshes the planner's statistics fully (after a bulk load). */
  analyze(): void {
    this.db.exec('ANALYZE')
  }

  /**
   * Counts written records and refreshes the planner's statistics (`PRAGMA optimize`) after a
   * large batch or every `OPTIMIZE_EVERY_WRITES` records. Statistics are an optimisation: a failure
   * to refresh them is ignored.
   */
  wrote(count: number): void {
    this.writesSinceOptimize += count
    if (count < ANALYZE_BATCH_THRESHOLD && this.writesSinceOptimize < OPTIMIZE_EVERY_WRITES) return
    this.writesSinceOptimize = 0
    try {
      this.optimize()
    } catch {
      // The write itself succeeded.
    }
  }

  /** Lets SQLite refresh the statistics it judges stale (cheap when nothing changed much). */
  optimize(): void {
    this.db.pragma('optimize = 0x10002')
  }

  /** Closes the database (SQLite checkpoints and removes the WAL file when it is the last connection). */
  close(): void {
    if (this.db.open) this.db.close()
  }
}
