import type { IndexPage, IndexQuery, IndexRecord, Qindex } from '@qflow/pipeline'
import type { IndexCorruptError, InvalidIndexRecordError } from './errors.js'
import { SqliteQindexImpl } from './sqlite-qindex.js'
import type { IndexHistoryEntry } from './store.js'

/** Records to (re)build the index from: the state store's current records. */
export type IndexRecordSource = AsyncIterable<IndexRecord> | Iterable<IndexRecord>

/** Options of {@link qindex}; every one is optional. */
export interface QindexInit {
  /** The database file, or `':memory:'`. Default `':memory:'`. Rebuilds use `<path>.rebuilding` beside it. */
  path?: string
  /**
   * Called when the database turns out corrupt: at start (before the index is rebuilt from the
   * source, with `movedTo` naming where the broken file went) or when a call hits SQLite's
   * corruption error.
   */
  onCorrupt?: (error: IndexCorruptError) => void
  /**
   * How many broken databases moved aside (`<path>.corrupt-<ms>`) are kept for inspection; older
   * ones are deleted when another is moved aside. Default 3.
   */
  keepCorruptCopies?: number
  /** Whether `start()` runs `PRAGMA quick_check` on an existing database. Default true. */
  integrityCheck?: boolean
  /** Whether `start()` fills a missing (or empty) database from the injected source. Default true. */
  rebuildWhenMissing?: boolean
  /** The clock for history entries and `archive`. Default `Date.now`. */
  now?: () => number
  /** SQLite page cache ceiling in MiB; large bulk loads run faster when the index fits. Default 64. */
  cacheSizeMB?: number
  /**
   * Whether a file database writes `put`s (group-committed per turn) on a worker thread with its
   * own connection, so SQLite's work on them leaves the event loop. Default true; `':memory:'`
   * databases always write on the calling thread.
   */
  writerThread?: boolean
  /**
   * How a file database outlives a machine crash (power loss, kernel panic):
   * - `'sync'` (default): SQLite syncs the WAL at each checkpoint (`synchronous = NORMAL`); the
   *   database stays sound, though it may lack its last commits.
   * - `'rebuild'`: nothing is synced while the index runs (`synchronous = OFF`: commits and
   *   checkpoints cost no fsync, and a process crash still loses nothing). Instead the index keeps
   *   `<path>.open` holding the machine's boot id while it is open, and a start that finds the
   *   mark of another boot treats the database as damaged (`IndexCorruptError`, reason
   *   `machine-restarted`, reported through `onCorrupt`): it is moved aside and rebuilt from the
   *   source. `stop()` syncs the files and removes the mark. Needs the `source` component (a
   *   start without one throws `MissingIndexSourceError`); where the system tells no boot id
   *   (not Linux) it acts as `'sync'`. For an index that is a view of a store, as the node's is.
   */
  crashRecovery?: 'sync' | 'rebuild'
}

/** What the index is given. */
export interface QindexComponents {
  /** Yields every current record of the state store; used to rebuild a corrupt or missing index. */
  source?: () => IndexRecordSource
}

/** Options of {@link SqliteQindex.archive}. */
export interface ArchiveOptions {
  /** The archived record's new `updatedAt`. Default now. */
  at?: number
}

/** Options of {@link SqliteQindex.delete} and {@link SqliteQindex.deleteMany}. */
export interface DeleteOptions {
  /**
   * What becomes of the keys' history: `keep` (default) adds a `delete` entry and keeps the rest;
   * `drop` removes every history entry of the keys too, for retention (nothing of them is left).
   */
  history?: 'keep' | 'drop'
}

/** What a rebuild did. */
export interface RebuildResult {
  /** Records written to the new database. */
  readonly indexed: number
  /** Source records that were malformed and left out. */
  readonly rejected: number
  /** Why they were left out (the first 100). */
  readonly errors: readonly InvalidIndexRecordError[]
}

/** The SQLite-backed Qindex: the pipeline's `Qindex` plus reads, history, lifecycle and rebuilds. */
export interface SqliteQindex extends Qindex {
  /** The database file (or `':memory:'`). */
  readonly path: string
  /** Whether `put`s are being written on the writer thread (see {@link QindexInit.writerThread}). */
  readonly writesOffThread: boolean
  /**
   * Opens the database: checks it (header, `PRAGMA quick_check`), migrates it, and rebuilds it from
   * the source when it is missing or corrupt.
   *
   * @throws {@link IndexCorruptError} when the database is corrupt and no source was injected.
   * @throws {@link IndexRebuildError} when rebuilding from the source failed.
   * @throws {@link IndexSchemaVersionError} when a newer adapter wrote the database.
   */
  start(): Promise<void>
  /** Closes the database. Safe to call twice; a running rebuild is abandoned. */
  stop(): Promise<void>
  /**
   * Inserts or replaces a record; the index keeps a history entry for every put.
   *
   * @throws {@link InvalidIndexRecordError} naming the malformed field; nothing is written.
   */
  put(record: IndexRecord): Promise<void>
  /**
   * Inserts or replaces many records in one transaction; all or nothing. Returns how many were written.
   *
   * @throws {@link InvalidIndexRecordError} naming the record (`recordIndex`) and field; nothing is written.
   */
  putMany(records: Iterable<IndexRecord>): Promise<number>
  /**
   * Runs a query: one page of records, sorted, and a cursor for the next page when there is one.
   *
   * @throws {@link InvalidIndexQueryError} when the query is malformed.
   * @throws {@link InvalidCursorError} when the cursor was issued for another query or sort.
   */
  query(query: IndexQuery): Promise<IndexPage>
  /** The record with this key (archived or not), or undefined. */
  get(key: string): Promise<IndexRecord | undefined>
  /** Every recorded version of a key, oldest first (kept after a delete). */
  history(key: string): Promise<readonly IndexHistoryEntry[]>
  /**
   * Marks a record archived (it stays searchable) and returns it.
   *
   * @throws {@link IndexRecordNotFoundError} when no record has the key.
   */
  archive(key: string, options?: ArchiveOptions): Promise<IndexRecord>
  /**
   * Removes a record from searches; its history stays unless `history: 'drop'`. Returns whether
   * there was one.
   */
  delete(key: string, options?: DeleteOptions): Promise<boolean>
  /**
   * Removes many records in one transaction (all or nothing), as {@link delete} does each; keys
   * without a record are skipped. Returns how many records there were.
   *
   * @throws {@link InvalidIndexQueryError} naming a malformed key; nothing is removed.
   */
  deleteMany(keys: Iterable<string>, options?: DeleteOptions): Promise<number>
  /**
   * Rebuilds the index from `source` (default: the injected source) into a fresh database file
   * and swaps it in atomically. Queries keep using the old database meanwhile; writes made during
   * the rebuild are applied to the new one too. History entries are carried over, and each
   * source record adds a `rebuild` entry.
   *
   * @throws {@link MissingIndexSourceError} when there is no source.
   * @throws {@link IndexRebuildError} when the source fails; the index in use is unchanged.
   */
  rebuild(source?: IndexRecordSource): Promise<RebuildResult>
  /** The plan SQLite chooses for a query (`EXPLAIN QUERY PLAN`), one line per step: for diagnostics. */
  explain(query: IndexQuery): Promise<readonly string[]>
}

/**
 * The Qindex metadata index on embedded SQLite (WAL, FTS5). The index is a view of the state
 * store: inject `source` and a missing or corrupt database is rebuilt from it.
 *
 * @example
 * ```ts
 * const records = [{ key: 'exec-1', kind: 'execution', owner: 'did:key:z6MkAlice', createdAt: 1, updatedAt: 2 }]
 * const index = qindex({ path: join(dataDir, 'qindex.sqlite') })({ source: () => records })
 * await index.start() // a missing or corrupt file is (re)built from the source
 * ```
 */
export function qindex(init: QindexInit = {}): (components?: QindexComponents) => SqliteQindex {
  return (components = {}) => new SqliteQindexImpl(init, components)
}
