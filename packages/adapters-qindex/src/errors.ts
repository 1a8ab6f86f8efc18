/**
 * Thrown when a record handed to `put`, `putMany` or found in a rebuild source is malformed: a
 * required field is missing, a field has the wrong type, or a value is too large.
 */
export class InvalidIndexRecordError extends Error {
  static override readonly name = 'InvalidIndexRecordError'
  override readonly name = 'InvalidIndexRecordError'
  /** The top-level field that is wrong (`key`, `tags`, `attributes`, ...), or `''` for the record itself. */
  readonly field: string
  /** JSON pointer to the offending value inside the record, e.g. `/tags/3`. */
  readonly pointer: string
  /** The record's key, when it has a usable one. */
  readonly key: string | undefined
  /** Position of the record in a `putMany` batch. */
  readonly recordIndex: number | undefined

  constructor(
    message = 'Malformed index record',
    init: { field?: string; pointer?: string; key?: string | undefined; recordIndex?: number | undefined; cause?: unknown } = {}
  ) {
    const pointer = init.pointer ?? (init.field === undefined || init.field === '' ? '' : `/${init.field}`)
    const where = init.recordIndex === undefined ? pointer : `record ${init.recordIndex}${pointer}`
    super(where === '' ? message : `${message} (at ${where})`, init.cause === undefined ? undefined : { cause: init.cause })
    this.field = init.field ?? ''
    this.pointer = pointer
    this.key = init.key
    this.recordIndex = init.recordIndex
  }
}

/** Thrown when a query is malformed: an unknown sort field, a limit out of range, a wrongly typed criterion. */
export class InvalidIndexQueryError extends Error {
  static override readonly name: string = 'InvalidIndexQueryError'
  override readonly name: string = 'InvalidIndexQueryError'
  /** The query field that is wrong (`limit`, `sort`, `tagsAll`, ...), or `''` for the query itself. */
  readonly field: string

  constructor(message = 'Malformed index query', field = '') {
    super(field === '' ? message : `${message} (field ${field})`)
    this.field = field
  }
}

/**
 * Thrown when a query's `cursor` cannot be used: it is not a cursor this index issued, or it was
 * issued for a different query or sort order.
 */
export class InvalidCursorError extends InvalidIndexQueryError {
  static override readonly name = 'InvalidCursorError'
  override readonly name = 'InvalidCursorError'

  constructor(message = 'The cursor is not valid for this query') {
    super(message, 'cursor')
  }
}

/**
 * What gave a corrupted index database away. `machine-restarted`: the database may be damaged
 * rather than known to be: it was open without syncing its writes (`crashRecovery: 'rebuild'`)
 * when the machine went down.
 */
export type IndexCorruptionReason = 'bad-header' | 'not-a-database' | 'corrupt' | 'quick-check-failed' | 'machine-restarted'

/**
 * Thrown (and reported through `onCorrupt`) when the index database file is damaged: it does not
 * start with the SQLite header, SQLite calls it corrupt or not a database, or `PRAGMA quick_check`
 * fails, or (with `crashRecovery: 'rebuild'`) the machine went down while the database was open
 * unsynced. When a source is injected, the index moves the broken file aside and rebuilds.
 */
export class IndexCorruptError extends Error {
  static override readonly name = 'IndexCorruptError'
  override readonly name = 'IndexCorruptError'
  /** The database file. */
  readonly path: string
  /** What gave the damage away. */
  readonly reason: IndexCorruptionReason
  /** Where the broken file was moved to, once it was moved aside. */
  movedTo: string | undefined

  constructor(path: string, reason: IndexCorruptionReason, detail: string, cause?: unknown) {
    super(`Index database ${path} ${reason === 'machine-restarted' ? 'may be damaged' : 'is corrupt'} (${reason}): ${detail}`, cause === undefined ? undefined : { cause })
    this.path = path
    this.reason = reason
    this.movedTo = undefined
  }
}

/** Thrown when rebuilding the index fails (the source threw, or the index stopped meanwhile); the index in use is left as it was. */
export class IndexRebuildError extends Error {
  static override readonly name = 'IndexRebuildError'
  override readonly name = 'IndexRebuildError'
  /** Whether trying again later may succeed (true when the source failed). */
  readonly retryable: boolean

  constructor(message = 'Rebuilding the index failed', init: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
    this.retryable = init.retryable ?? true
  }
}

/** Thrown by `rebuild()` without an argument when no `source` component was injected. */
export class MissingIndexSourceError extends Error {
  static override readonly name = 'MissingIndexSourceError'
  override readonly name = 'MissingIndexSourceError'

  constructor(message = 'No record source to rebuild from: pass one to rebuild() or inject components.source') {
    super(message)
  }
}

/** Thrown when the index is used before `start()` resolved or after `stop()`. */
export class QindexNotStartedError extends Error {
  static override readonly name = 'QindexNotStartedError'
  override readonly name = 'QindexNotStartedError'
  /** Callers may retry once the index is started. */
  readonly retryable = true

  constructor(message = 'The index is not started: await start() first') {
    super(message)
  }
}

/** Thrown by `archive` when no record has the key. */
export class IndexRecordNotFoundError extends Error {
  static override readonly name = 'IndexRecordNotFoundError'
  override readonly name = 'IndexRecordNotFoundError'
  /** The key that was not found. */
  readonly key: string

  constructor(key: string) {
    super(`No index record has key ${JSON.stringify(key)}`)
    this.key = key
  }
}

/** Thrown at start when the database was written by a newer version of this adapter (its schema version is unknown here). */
export class IndexSchemaVersionError extends Error {
  static override readonly name = 'IndexSchemaVersionError'
  override readonly name = 'IndexSchemaVersionError'
  /** The schema version found in the file. */
  readonly found: number
  /** The newest schema version this adapter knows. */
  readonly supported: number

  constructor(found: number, supported: number) {
    super(`Index database has schema version ${found}; this adapter knows up to ${supported}`)
    this.found = found
    this.supported = supported
  }
}

/**
 * Thrown when SQLite fails for a reason other than bad input or corruption (disk full, I/O error,
 * database locked by another process). `code` is SQLite's code, e.g. `SQLITE_BUSY`.
 */
export class IndexStorageError extends Error {
  static override readonly name = 'IndexStorageError'
  override readonly name = 'IndexStorageError'
  /** SQLite's error code. */
  readonly code: string
  /** Whether the same call may succeed later (busy or locked database). */
  readonly retryable: boolean

  constructor(message: string, code: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.code = code
    this.retryable = /^SQLITE_(BUSY|LOCKED)/.test(code)
  }
}
