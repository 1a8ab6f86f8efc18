/**
 * Qindex on embedded SQLite: the persistent metadata index of flows, flow versions and
 * executions. Records are searchable by kind, owner, subnet, tags (all/any), category, status,
 * update time and full text over name and description; pages are sorted and keyset-paginated with
 * opaque cursors. Every change is kept in a per-key history. The index is a view of the state
 * store: a missing or corrupt database is rebuilt from the injected source.
 *
 * @example
 * ```ts
 * import { qindex } from '@qflow/adapters-qindex'
 *
 * const index = qindex({ path: ':memory:' })()
 * await index.start()
 * await index.put({
 *   key: 'flow-1', kind: 'flow', owner: 'did:key:z6MkAlice', name: 'Invoice approval',
 *   tags: ['finance'], status: 'active', createdAt: 1, updatedAt: 2
 * })
 * const page = await index.query({ tagsAll: ['finance'], text: 'invoice' })
 * console.log(page.records.map((r) => r.key)) // [ 'flow-1' ]
 * await index.stop()
 * ```
 *
 * @packageDocumentation
 */
export {
  DEFAULT_CACHE_SIZE_MB,
  DEFAULT_LIMIT,
  DEFAULT_PATH,
  MAX_ATTRIBUTES_BYTES,
  MAX_DESCRIPTION_LENGTH,
  MAX_FIELD_LENGTH,
  MAX_KEY_LENGTH,
  MAX_LIMIT,
  MAX_NAME_LENGTH,
  MAX_QUERY_TAGS,
  MAX_RECORD_TAGS,
  MAX_TAG_LENGTH,
  MAX_TEXT_LENGTH,
  MAX_TEXT_TERMS
} from './constants.js'
export {
  IndexCorruptError,
  type IndexCorruptionReason,
  IndexRebuildError,
  IndexRecordNotFoundError,
  IndexSchemaVersionError,
  IndexStorageError,
  InvalidCursorError,
  InvalidIndexQueryError,
  InvalidIndexRecordError,
  MissingIndexSourceError,
  QindexNotStartedError
} from './errors.js'
export { ftsMatchExpression } from './fts.js'
export {
  type ArchiveOptions,
  type DeleteOptions,
  type IndexRecordSource,
  type QindexComponents,
  type QindexInit,
  qindex,
  type RebuildResult,
  type SqliteQindex
} from './qindex.js'
export { SCHEMA_VERSION } from './schema.js'
export type { IndexHistoryChange, IndexHistoryEntry } from './store.js'
