import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { IndexPage, IndexQuery, IndexRecord } from '@qflow/pipeline'
import { DEFAULT_CACHE_SIZE_MB, DEFAULT_KEEP_CORRUPT_COPIES, DEFAULT_PATH, DENSE_CANDIDATES, REBUILD_BATCH_SIZE } from './constants.js'
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js'
import {
  IndexCorruptError,
  type IndexCorruptionReason,
  IndexRebuildError,
  IndexRecordNotFoundError,
  IndexStorageError,
  InvalidIndexQueryError,
  InvalidIndexRecordError,
  MissingIndexSourceError,
  QindexNotStartedError
} from './errors.js'
import {
  currentBootId,
  durableRename,
  fileSize,
  hasSqliteHeader,
  moveDatabaseFiles,
  pruneCorruptCopies,
  readOpenMark,
  removeDatabaseFiles,
  removeSidecars,
  syncAndClearOpenMark,
  writeOpenMark
} from './files.js'
import { ftsMatchExpression } from './fts.js'
import type { ArchiveOptions, DeleteOptions, IndexRecordSource, QindexComponents, QindexInit, RebuildResult, SqliteQindex } from './qindex.js'
import { buildPageQuery, type SqlStatement, tagsAnyProbe, textProbe } from './query-sql.js'
import { type IndexHistoryEntry, IndexStore } from './store.js'
import { type NormalizedQuery, type StoredRecord, validateKey, validateQuery, validateRecord } from './validate.js'
import { IndexWriterThread } from './writer-thread.js'

const MEMORY = ':memory:'
const MAX_REPORTED_REJECTIONS = 100
const HISTORY_COPY_BATCH = 5000

/** A put waiting for its group commit. */
interface PendingPut {
  readonly stored: StoredRecord
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

/** A write made while a rebuild runs, replayed into the new database before the swap. */
type JournalEntry =
  | { readonly op: 'put'; readonly records: readonly StoredRecord[]; readonly recordedAt: number }
  | { readonly op: 'archive'; readonly key: string; readonly at: number; readonly recordedAt: number }
  | { readonly op: 'delete'; readonly keys: readonly string[]; readonly recordedAt: number; readonly dropHistory: boolean }

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined
}

function corruptionReason(code: string | undefined): IndexCorruptionReason | undefined {
  if (code === undefined) return undefined
  if (code.startsWith('SQLITE_NOTADB')) return 'not-a-database'
  if (code.startsWith('SQLITE_CORRUPT')) return 'corrupt'
  return undefined
}

function isTyped(err: unknown): boolean {
  return (
    err instanceof InvalidIndexRecordError ||
    err instanceof InvalidIndexQueryError ||
    err instanceof IndexCorruptError ||
    err instanceof IndexRebuildError ||
    err instanceof IndexStorageError ||
    err instanceof IndexRecordNotFoundError ||
    err instanceof MissingIndexSourceError ||
    err instanceof QindexNotStartedError
  )
}

/** The SQLite Qindex. Private: made by `qindex()`. */
export class SqliteQindexImpl implements SqliteQindex {
  readonly path: string
  private readonly init: QindexInit
  private readonly components: QindexComponents
  private readonly now: () => number
  private readonly cacheSizeMB: number
  private readonly keepCorruptCopies: number
  private store: IndexStore | undefined
  private starting: Promise<void> | undefined
  /** Bumped by `stop()`: a rebuild started under another generation abandons its work. */
  private generation = 0
  private journal: JournalEntry[] | undefined
  /** Writes group-committed puts on its own thread (file databases); undefined: they are written here. */
  private writer: IndexWriterThread | undefined
  /** Batches handed to the writer thread and not yet answered. */
  private readonly handedOff = new Set<Promise<void>>()
  /** The boot id in this database's open mark while it runs unsynced (`crashRecovery: 'rebuild'`); undefined: synced. */
  private bootId: string | undefined

  constructor(init: QindexInit, components: QindexComponents) {
    this.init = init
    this.components = components
    this.path = init.path ?? DEFAULT_PATH
    this.now = init.now ?? Date.now
    const cache = init.cacheSizeMB ?? DEFAULT_CACHE_SIZE_MB
    this.cacheSizeMB = Number.isFinite(cache) && cache >= 1 ? cache : DEFAULT_CACHE_SIZE_MB
    const keep = init.keepCorruptCopies ?? DEFAULT_KEEP_CORRUPT_COPIES
    this.keepCorruptCopies = Number.isSafeInteger(keep) && keep >= 0 ? keep : DEFAULT_KEEP_CORRUPT_COPIES
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.store !== undefined) return
    if (this.starting === undefined) {
      this.starting = this.open()
        .then(() => this.attachWriter())
        .finally(() => {
          this.starting = undefined
        })
    }
    return this.starting
  }

  async stop(): Promise<void> {
    await this.quiesce()
    await this.detachWriter()
    this.generation++
    const store = this.store
    this.store = undefined
    if (store === undefined) return
    try {
      store.optimize()
    } catch {
      // Statistics are an optimisation; closing matters more.
    }
    store.close()
    if (this.bootId !== undefined) {
      // Every connection is closed: what SQLite left unsynced goes to disk before the mark goes.
      syncAndClearOpenMark(this.path)
      this.bootId = undefined
    }
  }

  private async open(): Promise<void> {
    const generation = this.generation
    const source = this.components.source
    const rebuildWhenMissing = this.init.rebuildWhenMissing ?? true
    if (this.path === MEMORY) {
      const store =
        source !== undefined && rebuildWhenMissing ? (await this.build(source(), generation)).store : this.openStore(MEMORY)
      this.install(store, generation)
      return
    }
    removeDatabaseFiles(this.rebuildPath())
    const restarted = this.markOpen(source !== undefined)
    const size = fileSize(this.path)
    if (size === undefined || size === 0) {
      if (source !== undefined && rebuildWhenMissing) {
        const built = await this.build(source(), generation)
        this.install(this.swapFileIn(built.store), generation)
      } else {
        this.install(this.openStore(this.path), generation)
      }
      return
    }
    let store: IndexStore
    try {
      if (restarted) {
        throw new IndexCorruptError(this.path, 'machine-restarted', 'the machine went down while the database was open without syncing its writes')
      }
      store = this.openChecked()
    } catch (err) {
      if (!(err instanceof IndexCorruptError)) throw err
      if (source === undefined) {
        this.report(err)
        throw err
      }
      // Keep the broken file for inspection; from here on the index counts as missing, so a
      // failed rebuild is retried at the next start.
      err.movedTo = moveDatabaseFiles(this.path, `${this.path}.corrupt-${this.now()}`)
      pruneCorruptCopies(this.path, this.keepCorruptCopies)
      this.report(err)
      const built = await this.build(source(), generation)
      store = this.swapFileIn(built.store)
    }
    this.install(store, generation)
  }

  /**
   * With `crashRecovery: 'rebuild'` (and a boot id to go by), marks the file database open in this
   * boot, durably, before anything is written to it unsynced. Returns whether the previous mark
   * was left by another boot: the machine went down while the database was open.
   */
  private markOpen(hasSource: boolean): boolean {
    this.bootId = undefined
    if (this.init.crashRecovery !== 'rebuild') return false
    if (!hasSource) throw new MissingIndexSourceError("crashRecovery 'rebuild' needs the source component to rebuild from")
    const bootId = currentBootId()
    if (bootId === undefined) return false
    const previous = readOpenMark(this.path)
    writeOpenMark(this.path, bootId)
    this.bootId = bootId
    return previous !== undefined && previous !== bootId
  }

  /** Hands a corruption to the `onCorrupt` hook; a throwing hook must not stop the recovery. */
  private report(error: IndexCorruptError): void {
    try {
      this.init.onCorrupt?.(error)
    } catch {
      // The hook is for reporting only.
    }
  }

  private install(store: IndexStore, generation: number): void {
    if (generation !== this.generation) {
      store.close()
      throw new IndexRebuildError('The index was stopped while starting', { retryable: true })
    }
    try {
      store.optimize()
    } catch {
      // Statistics are an optimisation.
    }
    this.store = store
  }

  private openStore(path: string, bulk = false): IndexStore {
    try {
      return IndexStore.open(path, { bulk, synchronous: this.synchronous, now: this.now, cacheSizeMB: this.cacheSizeMB })
    } catch (err) {
      throw this.classify(err, path)
    }
  }

  /** Opens the existing database file and proves it sound: header, SQLite's own checks, `quick_check`. */
  private openChecked(): IndexStore {
    if (!hasSqliteHeader(this.path)) {
      throw new IndexCorruptError(this.path, 'bad-header', 'the file does not start with the SQLite header')
    }
    const store = this.openStore(this.path)
    if (this.init.integrityCheck ?? true) {
      let problems: string[]
      try {
        problems = store.quickCheck()
      } catch (err) {
        store.close()
        throw this.classify(err, this.path)
      }
      if (problems.length > 0) {
        store.close()
        throw new IndexCorruptError(this.path, 'quick-check-failed', problems.slice(0, 5).join('; '))
      }
    }
    return store
  }

  /** Whether this index's connections sync their writes (see `crashRecovery`). */
  private get synchronous(): 'normal' | 'off' {
    return this.bootId === undefined ? 'normal' : 'off'
  }

  private rebuildPath(): string {
    return this.path === MEMORY ? MEMORY : `${this.path}.rebuilding`
  }

  /** Turns a SQLite failure into the typed error callers branch on. */
  private classify(err: unknown, path = this.path): Error {
    if (isTyped(err)) return err as Error
    const code = sqliteCode(err)
    const reason = corruptionReason(code)
    if (reason !== undefined) return new IndexCorruptError(path, reason, (err as Error).message, err)
    if (code !== undefined) return new IndexStorageError(`Index database ${path}: ${(err as Error).message}`, code, err)
    if (err instanceof Error && /database connection is not open/.test(err.message)) return new QindexNotStartedError()
    return err instanceof Error ? err : new Error(String(err))
  }

  /** Runs one synchronous database step, turning SQLite's errors into typed ones. */
  private run<T>(step: (store: IndexStore) => T): T {
    const store = this.store
    if (store === undefined) throw new QindexNotStartedError()
    try {
      return step(store)
    } catch (err) {
      const typed = this.classify(err)
      if (typed instanceof IndexCorruptError) this.report(typed)
      throw typed
    }
  }

  /** Counts records written on this thread's connection (statistics are refreshed now and then). */
  private wrote(count: number): void {
    this.store?.wrote(count)
  }

  /** Hands group-committed puts of a file database to a writer thread (when built and enabled). */
  private async attachWriter(): Promise<void> {
    if (this.path === MEMORY || this.init.writerThread === false || this.writer !== undefined || this.store === undefined) return
    const generation = this.generation
    const writer = await IndexWriterThread.open({ path: this.path, cacheSizeMB: this.cacheSizeMB, synchronous: this.synchronous })
    if (writer === undefined) return
    if (generation !== this.generation || this.store === undefined || this.writer !== undefined) {
      await writer.close()
      return
    }
    this.writer = writer
  }

  /** Waits for the writer thread's batches and ends it: writes go on this thread's connection again. */
  private async detachWriter(): Promise<void> {
    const writer = this.writer
    if (writer === undefined) return
    await this.quiesce()
    this.writer = undefined
    await writer.close()
  }

  /** Flushes pending puts and waits until every batch is written, so this thread may write (one writer at a time). */
  private async quiesce(): Promise<void> {
    this.flushPuts()
    while (this.handedOff.size > 0) await Promise.all(this.handedOff)
  }

  /** Flushes pending puts and waits for the batches handed off so far: a read then sees every put made before it. */
  private async settled(): Promise<void> {
    this.flushPuts()
    if (this.handedOff.size > 0) await Promise.all([...this.handedOff])
  }

  /** Whether group-committed puts are written on a worker thread (a file database, the writer built). */
  get writesOffThread(): boolean {
    return this.writer?.alive === true
  }

  // ---------------------------------------------------------------- writes

  /**
   * Group commit: puts made in the same turn of the event loop share one transaction (an engine
   * indexes many executions at once). Each caller's promise settles with its own outcome, and
   * reads flush what is pending first, so a query always sees the puts that preceded it.
   */
  async put(record: IndexRecord): Promise<void> {
    const stored = validateRecord(record)
    if (this.store === undefined) throw new QindexNotStartedError()
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ stored, resolve, reject })
      if (this.pending.length === 1) setImmediate(() => this.flushPuts())
    })
  }

  private pending: PendingPut[] = []

  private flushPuts(): void {
    const batch = this.pending
    if (batch.length === 0) return
    this.pending = []
    const recordedAt = this.now()
    const records = batch.map((p) => p.stored)
    // A writer thread that is gone takes no more puts: they are written here from now on.
    if (this.writer?.alive === false) this.writer = undefined
    const writer = this.writer
    if (writer !== undefined) {
      const handed: Promise<void> = writer.put(records, recordedAt).then(
        (errors) => this.settlePuts(batch, records, recordedAt, errors),
        (err: unknown) => {
          // The thread is gone: what it had may or may not be written; later puts are written here.
          if (this.writer === writer) this.writer = undefined
          for (const p of batch) p.reject(this.classify(err))
        }
      )
      this.handedOff.add(handed)
      void handed.finally(() => this.handedOff.delete(handed))
      return
    }
    let errors: (unknown | undefined)[] | undefined
    try {
      errors = this.run((store) => store.putEach(records, recordedAt))
    } catch (err) {
      for (const p of batch) p.reject(err)
      return
    }
    const written = errors === undefined ? records.length : errors.filter((e) => e === undefined).length
    if (written > 0) this.wrote(written)
    this.settlePuts(batch, records, recordedAt, errors)
  }

  /** Settles each caller's put with its record's outcome and journals what was written. */
  private settlePuts(batch: readonly PendingPut[], records: readonly StoredRecord[], recordedAt: number, errors: (unknown | undefined)[] | undefined): void {
    const written = errors === undefined ? records : records.filter((_, i) => errors[i] === undefined)
    if (written.length > 0) this.journal?.push({ op: 'put', records: written, recordedAt })
    for (let i = 0; i < batch.length; i++) {
      const err = errors?.[i]
      if (err === undefined) (batch[i] as PendingPut).resolve()
      else {
        const typed = this.classify(err)
        if (typed instanceof IndexCorruptError) this.report(typed)
        ;(batch[i] as PendingPut).reject(typed)
      }
    }
  }

  async putMany(records: Iterable<IndexRecord>): Promise<number> {
    if (records === null || typeof (records as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
      throw new InvalidIndexRecordError('putMany takes an iterable of records')
    }
    const stored: StoredRecord[] = []
    let i = 0
    for (const record of records) stored.push(validateRecord(record, i++))
    if (stored.length === 0) return 0
    await this.quiesce()
    const recordedAt = this.now()
    this.run((store) => store.put(stored, 'put', recordedAt))
    this.journal?.push({ op: 'put', records: stored, recordedAt })
    this.wrote(stored.length)
    return stored.length
  }

  async archive(key: string, options: ArchiveOptions = {}): Promise<IndexRecord> {
    await this.quiesce()
    validateKey(key)
    const recordedAt = this.now()
    const at = options.at ?? recordedAt
    if (!Number.isSafeInteger(at) || at < 0) throw new InvalidIndexQueryError('archive at must be a whole number of milliseconds since the epoch', 'at')
    const record = this.run((store) => store.archive(key, at, recordedAt))
    if (record === undefined) throw new IndexRecordNotFoundError(key)
    this.journal?.push({ op: 'archive', key, at, recordedAt })
    this.wrote(1)
    return record
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    return (await this.deleteMany([key], options)) === 1
  }

  async deleteMany(keys: Iterable<string>, options: DeleteOptions = {}): Promise<number> {
    await this.quiesce()
    const list = [...new Set(keys)]
    for (const key of list) validateKey(key)
    if (options.history !== undefined && options.history !== 'keep' && options.history !== 'drop') {
      throw new InvalidIndexQueryError("history must be 'keep' or 'drop'", 'history')
    }
    const dropHistory = options.history === 'drop'
    if (list.length === 0) return 0
    const recordedAt = this.now()
    const deleted = this.run((store) => store.delete(list, recordedAt, dropHistory))
    // A dropped history changes the database even when no record was there.
    if (deleted > 0 || dropHistory) {
      this.journal?.push({ op: 'delete', keys: list, recordedAt, dropHistory })
      this.wrote(Math.max(deleted, 1))
    }
    return deleted
  }

  // ---------------------------------------------------------------- reads

  async get(key: string): Promise<IndexRecord | undefined> {
    await this.settled()
    validateKey(key)
    return this.run((store) => store.get(key))
  }

  async history(key: string): Promise<readonly IndexHistoryEntry[]> {
    await this.settled()
    validateKey(key)
    return this.run((store) => store.history(key))
  }

  /**
   * Validates a query and builds its SQL, probing how dense its `tagsAny` and full-text sets are;
   * null when it can match nothing (search text without a searchable term).
   */
  private plan(input: IndexQuery): { query: NormalizedQuery; fingerprint: string; statement: SqlStatement | null } {
    const query = validateQuery(input)
    const match = query.text === undefined ? undefined : ftsMatchExpression(query.text)
    const fingerprint = queryFingerprint(query)
    const valueType = query.sort.field === 'updatedAt' || query.sort.field === 'createdAt' ? 'number' : 'string'
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, fingerprint, valueType)
    if (match === null) return { query, fingerprint, statement: null }
    const dense = this.run((store) => ({
      tagsAny: query.tagsAny.length > 0 && store.count(tagsAnyProbe(query.tagsAny, DENSE_CANDIDATES)) >= DENSE_CANDIDATES,
      text: match !== undefined && store.count(textProbe(match, DENSE_CANDIDATES)) >= DENSE_CANDIDATES
    }))
    return { query, fingerprint, statement: buildPageQuery(query, match, after, dense) }
  }

  async query(input: IndexQuery): Promise<IndexPage> {
    await this.settled()
    const { query, fingerprint, statement } = this.plan(input)
    if (statement === null) {
      this.run(() => undefined)
      return { records: [] }
    }
    const rows = this.run((store) => store.page(statement))
    if (rows.length <= query.limit) return { records: rows }
    const records = rows.slice(0, query.limit)
    const last = records[records.length - 1] as IndexRecord
    const field = query.sort.field
    const value = field === 'name' ? (last.name ?? '') : field === 'key' ? last.key : last[field]
    return { records, nextCursor: encodeCursor(fingerprint, { value, key: last.key }) }
  }

  async explain(input: IndexQuery): Promise<readonly string[]> {
    const { statement } = this.plan(input)
    if (statement === null) return ['NO SEARCHABLE TERM: matches nothing']
    return this.run((store) => store.explain(statement))
  }

  // ---------------------------------------------------------------- rebuild

  async rebuild(source?: IndexRecordSource): Promise<RebuildResult> {
    this.flushPuts()
    const records = source ?? this.components.source?.()
    if (records === undefined) throw new MissingIndexSourceError()
    if (this.store === undefined) throw new QindexNotStartedError()
    if (this.journal !== undefined) throw new IndexRebuildError('A rebuild is already running', { retryable: true })
    // From here every write is journaled and replayed into the new database before the swap.
    const journal: JournalEntry[] = []
    this.journal = journal
    try {
      // The rebuild swaps the file under the connections: puts go on this thread's until then.
      await this.detachWriter()
      return await this.rebuildNow(records, journal)
    } finally {
      this.journal = undefined
      await this.attachWriter()
    }
  }

  private async rebuildNow(records: IndexRecordSource, journal: readonly JournalEntry[]): Promise<RebuildResult> {
    const live = this.store
    if (live === undefined) throw new QindexNotStartedError()
    const generation = this.generation
    const built = await this.build(records, generation, live)
    // From here to the end everything is synchronous: no call can slip between replay and swap.
    if (generation !== this.generation || this.store !== live) {
      built.store.close()
      removeDatabaseFiles(this.rebuildPath())
      throw new IndexRebuildError('The index was stopped during the rebuild', { retryable: true })
    }
    try {
      this.replay(built.store, journal)
    } catch (err) {
      built.store.close()
      removeDatabaseFiles(this.rebuildPath())
      throw this.classify(err, this.rebuildPath())
    }
    if (this.path === MEMORY) {
      live.close()
      this.store = built.store
    } else {
      live.close()
      this.store = undefined
      this.store = this.swapFileIn(built.store)
    }
    return built.result
  }

  private replay(store: IndexStore, journal: readonly JournalEntry[]): void {
    for (const entry of journal) {
      if (entry.op === 'put') store.put(entry.records, 'put', entry.recordedAt)
      else if (entry.op === 'archive') store.archive(entry.key, entry.at, entry.recordedAt)
      else store.delete(entry.keys, entry.recordedAt, entry.dropHistory)
    }
  }

  /**
   * Closes a freshly built database, renames it over the index path (removing the closed old
   * database's stale sidecars first) and opens it in WAL mode.
   */
  private swapFileIn(built: IndexStore): IndexStore {
    built.close()
    const from = this.rebuildPath()
    try {
      removeSidecars(this.path)
      durableRename(from, this.path)
    } catch (err) {
      removeDatabaseFiles(from)
      throw new IndexStorageError(`Could not move the rebuilt index into place: ${(err as Error).message}`, 'SQLITE_IOERR', err)
    }
    return this.openStore(this.path)
  }

  /**
   * Fills a fresh database (`<path>.rebuilding`, or a new in-memory one) from a source, in
   * batches of one transaction each. Malformed source records are counted and left out. With
   * `carryFrom`, the live database's history is copied first.
   */
  private async build(
    records: IndexRecordSource,
    generation: number,
    carryFrom?: IndexStore
  ): Promise<{ store: IndexStore; result: RebuildResult }> {
    const target = this.rebuildPath()
    if (target !== MEMORY) removeDatabaseFiles(target)
    const fresh = this.openStore(target, true)
    const errors: InvalidIndexRecordError[] = []
    let indexed = 0
    let rejected = 0
    const abandoned = (): boolean => generation !== this.generation
    try {
      if (carryFrom !== undefined) await this.copyHistory(carryFrom, fresh, abandoned)
      let batch: StoredRecord[] = []
      const flush = (): void => {
        if (batch.length === 0) return
        fresh.put(batch, 'rebuild', this.now())
        indexed += batch.length
        batch = []
      }
      let seen = 0
      for await (const record of records) {
        if (abandoned()) break
        try {
          batch.push(validateRecord(record, seen))
        } catch (err) {
          rejected++
          if (errors.length < MAX_REPORTED_REJECTIONS) errors.push(err as InvalidIndexRecordError)
        }
        seen++
        if (batch.length >= REBUILD_BATCH_SIZE) {
          flush()
          await yieldToLoop()
        }
      }
      if (abandoned()) throw new IndexRebuildError('The index was stopped during the rebuild', { retryable: true })
      flush()
      fresh.analyze()
      return { store: fresh, result: { indexed, rejected, errors } }
    } catch (err) {
      fresh.close()
      if (target !== MEMORY) removeDatabaseFiles(target)
      if (err instanceof IndexRebuildError) throw err
      const code = sqliteCode(err)
      if (code !== undefined) throw this.classify(err, target)
      throw new IndexRebuildError(`Rebuilding the index failed: the source threw: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    }
  }

  /** Copies the live history into a fresh database; best effort: a damaged live database gives a fresh history. */
  private async copyHistory(from: IndexStore, to: IndexStore, abandoned: () => boolean): Promise<void> {
    try {
      const upTo = from.maxHistorySeq()
      let after = 0
      while (!abandoned()) {
        const rows = from.historyRows(after, upTo, HISTORY_COPY_BATCH)
        if (rows.length === 0) return
        to.appendHistoryRows(rows)
        after = (rows[rows.length - 1] as readonly [number, ...unknown[]])[0]
        await yieldToLoop()
      }
    } catch (err) {
      if (corruptionReason(sqliteCode(err)) === undefined && !(err instanceof TypeError)) throw err
      to.clearHistory()
    }
  }
}
