import { CanonicalizationError, canonicalize } from '@qflow/canonical-json'
import type { IndexQuery, IndexRecord } from '@qflow/pipeline'
import {
  DEFAULT_LIMIT,
  MAX_ATTRIBUTES_BYTES,
  MAX_CURSOR_LENGTH,
  MAX_DESCRIPTION_LENGTH,
  MAX_FIELD_LENGTH,
  MAX_KEY_LENGTH,
  MAX_LIMIT,
  MAX_NAME_LENGTH,
  MAX_QUERY_TAGS,
  MAX_RECORD_TAGS,
  MAX_TAG_LENGTH,
  MAX_TEXT_LENGTH
} from './constants.js'
import { InvalidIndexQueryError, InvalidIndexRecordError } from './errors.js'

/** A record as the index stores it: normalized, with its JSON columns ready. */
export interface StoredRecord {
  /** The normalized record: known fields only, `tags` deduplicated and always present, `archived` always a boolean. */
  readonly record: IndexRecord
  /** `record.tags` as JSON. */
  readonly tagsJson: string
  /** `record.attributes` as canonical JSON, or null. */
  readonly attributesJson: string | null
}

/** Sort fields a query may use. */
export type SortField = 'updatedAt' | 'createdAt' | 'name' | 'key'

/** A query with its defaults filled in and its values checked. */
export interface NormalizedQuery {
  readonly kind?: string
  readonly owner?: string
  readonly subnet?: string
  readonly category?: string
  readonly status?: string
  /** Deduplicated and sorted. */
  readonly tagsAll: readonly string[]
  /** Deduplicated and sorted. */
  readonly tagsAny: readonly string[]
  /** The search text, trimmed; absent when the query gave none or only whitespace. */
  readonly text?: string
  readonly updatedFrom?: number
  readonly updatedTo?: number
  readonly includeArchived: boolean
  readonly sort: { readonly field: SortField; readonly order: 'asc' | 'desc' }
  readonly limit: number
  readonly cursor?: string
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const SORT_FIELDS: readonly string[] = ['updatedAt', 'createdAt', 'name', 'key']
const QUERY_FIELDS = new Set([
  'kind',
  'owner',
  'subnet',
  'tagsAll',
  'tagsAny',
  'category',
  'status',
  'text',
  'updatedFrom',
  'updatedTo',
  'includeArchived',
  'sort',
  'limit',
  'cursor'
])
const MAX_TIME = 8.64e15

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** Why a string is unusable, or undefined when it is fine. */
function stringProblem(value: unknown, max: number, allowEmpty: boolean): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`
  if (!allowEmpty && value.length === 0) return 'must not be empty'
  if (value.length > max) return `is longer than ${max} characters`
  if (LONE_SURROGATE.test(value)) return 'holds a lone UTF-16 surrogate'
  return undefined
}

class RecordChecker {
  constructor(
    private readonly source: Record<string, unknown>,
    private readonly recordIndex: number | undefined
  ) {}

  key: string | undefined

  fail(field: string, message: string, pointer?: string, cause?: unknown): never {
    throw new InvalidIndexRecordError(message, {
      field,
      pointer: pointer ?? `/${field}`,
      key: this.key,
      recordIndex: this.recordIndex,
      cause
    })
  }

  required(field: string, max: number): string {
    const value = this.source[field]
    if (value === undefined) this.fail(field, `Index record field ${field} is required`)
    const problem = stringProblem(value, max, false)
    if (problem !== undefined) this.fail(field, `Index record field ${field} ${problem}`)
    return value as string
  }

  optional(field: string, max: number): string | undefined {
    const value = this.source[field]
    if (value === undefined) return undefined
    const problem = stringProblem(value, max, true)
    if (problem !== undefined) this.fail(field, `Index record field ${field} ${problem}`)
    return value as string
  }

  time(field: string): number {
    const value = this.source[field]
    if (value === undefined) this.fail(field, `Index record field ${field} is required`)
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_TIME) {
      this.fail(field, `Index record field ${field} must be a whole number of milliseconds since the epoch`)
    }
    return value
  }

  tags(): readonly string[] {
    const value = this.source['tags']
    if (value === undefined) return []
    if (!Array.isArray(value)) this.fail('tags', 'Index record field tags must be an array of strings')
    if (value.length > MAX_RECORD_TAGS) this.fail('tags', `Index record field tags holds ${value.length} tags; at most ${MAX_RECORD_TAGS} are allowed`)
    const seen = new Set<string>()
    for (let i = 0; i < value.length; i++) {
      const tag: unknown = value[i]
      const problem = stringProblem(tag, MAX_TAG_LENGTH, false)
      if (problem !== undefined) this.fail('tags', `Index record tag ${i} ${problem}`, `/tags/${i}`)
      seen.add(tag as string)
    }
    return [...seen]
  }

  archived(): boolean {
    const value = this.source['archived']
    if (value === undefined) return false
    if (typeof value !== 'boolean') this.fail('archived', 'Index record field archived must be a boolean')
    return value
  }

  attributes(): { value: Readonly<Record<string, unknown>>; json: string } | undefined {
    const value = this.source['attributes']
    if (value === undefined) return undefined
    if (!isPlainObject(value)) this.fail('attributes', 'Index record field attributes must be a plain object')
    let json: string
    try {
      json = canonicalize(value, { maxDepth: 64 })
    } catch (err) {
      if (err instanceof CanonicalizationError) {
        this.fail('attributes', `Index record field attributes is not JSON: ${err.message}`, `/attributes${err.pointer}`, err)
      }
      this.fail('attributes', 'Index record field attributes cannot be serialized', undefined, err)
    }
    if (Buffer.byteLength(json) > MAX_ATTRIBUTES_BYTES) {
      this.fail('attributes', `Index record field attributes is larger than ${MAX_ATTRIBUTES_BYTES} bytes of JSON`)
    }
    return { value: JSON.parse(json) as Record<string, unknown>, json }
  }
}

function checkRecord(input: unknown, recordIndex: number | undefined): StoredRecord {
  if (!isPlainObject(input)) {
    throw new InvalidIndexRecordError('An index record must be a plain object', { field: '', pointer: '', recordIndex })
  }
  const c = new RecordChecker(input, recordIndex)
  const key = c.required('key', MAX_KEY_LENGTH)
  c.key = key
  const kind = c.required('kind', MAX_FIELD_LENGTH)
  const owner = c.required('owner', MAX_FIELD_LENGTH)
  const subnet = c.optional('subnet', MAX_FIELD_LENGTH)
  const name = c.optional('name', MAX_NAME_LENGTH)
  const description = c.optional('description', MAX_DESCRIPTION_LENGTH)
  const tags = c.tags()
  const category = c.optional('category', MAX_FIELD_LENGTH)
  const status = c.optional('status', MAX_FIELD_LENGTH)
  const contentHash = c.optional('contentHash', MAX_FIELD_LENGTH)
  const archived = c.archived()
  const createdAt = c.time('createdAt')
  const updatedAt = c.time('updatedAt')
  const attributes = c.attributes()
  const record: Record<string, unknown> = { key, kind, owner }
  if (subnet !== undefined) record['subnet'] = subnet
  if (name !== undefined) record['name'] = name
  if (description !== undefined) record['description'] = description
  record['tags'] = Object.freeze(tags)
  if (category !== undefined) record['category'] = category
  if (status !== undefined) record['status'] = status
  if (contentHash !== undefined) record['contentHash'] = contentHash
  record['archived'] = archived
  record['createdAt'] = createdAt
  record['updatedAt'] = updatedAt
  if (attributes !== undefined) record['attributes'] = attributes.value
  return {
    record: Object.freeze(record) as unknown as IndexRecord,
    tagsJson: JSON.stringify(tags),
    attributesJson: attributes?.json ?? null
  }
}

/**
 * Checks and normalizes a record: unknown fields are dropped, duplicate tags removed, `tags` and
 * `archived` always set.
 *
 * @throws {@link InvalidIndexRecordError} naming the field that is wrong.
 */
export function validateRecord(input: unknown, recordIndex?: number): StoredRecord {
  try {
    return checkRecord(input, recordIndex)
  } catch (err) {
    if (err instanceof InvalidIndexRecordError) throw err
    // A hostile object (a throwing getter, a proxy) must still end in the typed error.
    throw new InvalidIndexRecordError('The index record could not be read', { field: '', pointer: '', recordIndex, cause: err })
  }
}

function queryString(query: Record<string, unknown>, field: string, max: number): string | undefined {
  const value = query[field]
  if (value === undefined) return undefined
  const problem = stringProblem(value, max, true)
  if (problem !== undefined) throw new InvalidIndexQueryError(`Query field ${field} ${problem}`, field)
  return value as string
}

function queryTags(query: Record<string, unknown>, field: string): readonly string[] {
  const value = query[field]
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new InvalidIndexQueryError(`Query field ${field} must be an array of strings`, field)
  if (value.length > MAX_QUERY_TAGS) throw new InvalidIndexQueryError(`Query field ${field} names ${value.length} tags; at most ${MAX_QUERY_TAGS} are allowed`, field)
  const tags = new Set<string>()
  for (let i = 0; i < value.length; i++) {
    const problem = stringProblem(value[i], MAX_TAG_LENGTH, false)
    if (problem !== undefined) throw new InvalidIndexQueryError(`Query field ${field} tag ${i} ${problem}`, field)
    tags.add(value[i] as string)
  }
  return [...tags].sort()
}

function queryTime(query: Record<string, unknown>, field: string): number | undefined {
  const value = query[field]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidIndexQueryError(`Query field ${field} must be a finite number`, field)
  return value
}

function checkQuery(input: unknown): NormalizedQuery {
  if (!isPlainObject(input)) throw new InvalidIndexQueryError('A query must be a plain object')
  for (const field of Object.keys(input)) {
    if (!QUERY_FIELDS.has(field) && input[field] !== undefined) throw new InvalidIndexQueryError(`Unknown query field ${JSON.stringify(field)}`, field)
  }
  const query: Record<string, unknown> = {}
  for (const field of ['kind', 'owner', 'subnet', 'category', 'status']) {
    const value = queryString(input, field, MAX_FIELD_LENGTH)
    if (value !== undefined) query[field] = value
  }
  query['tagsAll'] = queryTags(input, 'tagsAll')
  query['tagsAny'] = queryTags(input, 'tagsAny')
  const text = queryString(input, 'text', MAX_TEXT_LENGTH)?.trim()
  if (text !== undefined && text !== '') query['text'] = text
  const updatedFrom = queryTime(input, 'updatedFrom')
  if (updatedFrom !== undefined) query['updatedFrom'] = updatedFrom
  const updatedTo = queryTime(input, 'updatedTo')
  if (updatedTo !== undefined) query['updatedTo'] = updatedTo
  const includeArchived = input['includeArchived']
  if (includeArchived !== undefined && typeof includeArchived !== 'boolean') {
    throw new InvalidIndexQueryError('Query field includeArchived must be a boolean', 'includeArchived')
  }
  query['includeArchived'] = includeArchived ?? true
  const sort = input['sort']
  if (sort === undefined) {
    query['sort'] = { field: 'updatedAt', order: 'desc' }
  } else {
    if (!isPlainObject(sort)) throw new InvalidIndexQueryError('Query field sort must be an object { field, order }', 'sort')
    const field = sort['field']
    const order = sort['order'] ?? 'asc'
    if (typeof field !== 'string' || !SORT_FIELDS.includes(field)) {
      throw new InvalidIndexQueryError(`Unknown sort field ${JSON.stringify(String(field))}; use one of ${SORT_FIELDS.join(', ')}`, 'sort')
    }
    if (order !== 'asc' && order !== 'desc') throw new InvalidIndexQueryError('Sort order must be asc or desc', 'sort')
    query['sort'] = { field, order }
  }
  const limit = input['limit'] ?? DEFAULT_LIMIT
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidIndexQueryError(`Query limit must be a whole number from 1 to ${MAX_LIMIT}`, 'limit')
  }
  query['limit'] = limit
  const cursor = input['cursor']
  if (cursor !== undefined) {
    if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) {
      throw new InvalidIndexQueryError('Query cursor must be a cursor string a previous page returned', 'cursor')
    }
    query['cursor'] = cursor
  }
  return query as unknown as NormalizedQuery
}

/**
 * Checks a query and fills in its defaults (sort `updatedAt` descending, limit 50, archived
 * records included). Empty `tagsAll`/`tagsAny` and blank `text` are no criterion.
 *
 * @throws {@link InvalidIndexQueryError} naming the field that is wrong.
 */
export function validateQuery(input: IndexQuery | unknown): NormalizedQuery {
  try {
    return checkQuery(input)
  } catch (err) {
    if (err instanceof InvalidIndexQueryError) throw err
    throw new InvalidIndexQueryError('The query could not be read')
  }
}

/**
 * Checks a key given to `get`, `history`, `archive` or `delete`.
 *
 * @throws {@link InvalidIndexQueryError} when it is not a usable key.
 */
export function validateKey(key: unknown): string {
  const problem = stringProblem(key, MAX_KEY_LENGTH, false)
  if (problem !== undefined) throw new InvalidIndexQueryError(`Key ${problem}`, 'key')
  return key as string
}
