/** Database path used when none is given: an in-memory index (filled from the source at start, when one is injected). */
export const DEFAULT_PATH = ':memory:'

/** SQLite page cache of an open index, in MiB (a ceiling: memory is used as pages are read). */
export const DEFAULT_CACHE_SIZE_MB = 64

/**
 * Beside a database opened with `crashRecovery: 'rebuild'`: the machine's boot id while the
 * database is open (the file is removed once a stop has synced the database).
 */
export const OPEN_MARK_SUFFIX = '.open'

/** Where Linux tells the id of the current boot. */
export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id'

/** Size the WAL file is truncated back to after a checkpoint, in bytes. */
export const WAL_SIZE_LIMIT = 64 * 1024 * 1024

/** Page size when a query gives no `limit`. */
export const DEFAULT_LIMIT = 50

/** Largest `limit` a query may ask for. */
export const MAX_LIMIT = 1000

/** Most tags one record may carry. */
export const MAX_RECORD_TAGS = 64

/** Longest tag, in UTF-16 code units. */
export const MAX_TAG_LENGTH = 128

/** Longest key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 512

/** Longest kind, owner, subnet, category, status or content hash, in UTF-16 code units. */
export const MAX_FIELD_LENGTH = 512

/** Longest name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 1024

/** Longest description, in UTF-16 code units. */
export const MAX_DESCRIPTION_LENGTH = 16_384

/** Largest `attributes` object, as bytes of its canonical JSON. */
export const MAX_ATTRIBUTES_BYTES = 65_536

/** Most tags one query may name in `tagsAll` or `tagsAny`. */
export const MAX_QUERY_TAGS = 32

/** Longest full-text search string, in UTF-16 code units. */
export const MAX_TEXT_LENGTH = 1024

/** Most terms a full-text search string may hold. */
export const MAX_TEXT_TERMS = 32

/** Longest cursor accepted. */
export const MAX_CURSOR_LENGTH = 16_384

/** Records inserted per transaction while rebuilding from a source. */
export const REBUILD_BATCH_SIZE = 2000

/** Distinct dynamic query shapes whose prepared statements are kept per connection. */
export const STATEMENT_CACHE_SIZE = 128

/** A `putMany` of at least this many records refreshes the planner statistics afterwards. */
export const ANALYZE_BATCH_THRESHOLD = 1000

/** Single writes after which the planner statistics are refreshed (when SQLite judges it useful). */
export const OPTIMIZE_EVERY_WRITES = 10_000

/**
 * Rows of each index an `ANALYZE` of a live database reads (`PRAGMA analysis_limit`): bounded, so
 * the re-analysis `PRAGMA optimize` starts as a table grows costs milliseconds, not a full scan.
 * Rebuilds analyze their fresh database in full.
 */
export const ANALYSIS_LIMIT = 1000

/** The 16 bytes every SQLite database file starts with. */
export const SQLITE_HEADER = 'SQLite format 3\u0000'

/**
 * A \`tagsAny\` or full-text candidate set with at least this many records is dense: the page
 * walks a sort index and probes the set, rather than sorting every candidate.
 */
export const DENSE_CANDIDATES = 1000

/** Broken databases moved aside (`<path>.corrupt-<ms>`) kept for inspection by default. */
export const DEFAULT_KEEP_CORRUPT_COPIES = 3
