import type { CursorPosition } from './cursor.js'
import type { NormalizedQuery, SortField } from './validate.js'

/** The columns a query reads, in the order `rowToRecord` expects. */
export const RECORD_COLUMNS =
  'r.key, r.kind, r.owner, r.subnet, r.name, r.description, r.category, r.status, r.content_hash, r.archived, r.created_at, r.updated_at, r.tags, r.attributes'

/** SQL text and its positional parameters. */
export interface SqlStatement {
  readonly sql: string
  readonly params: readonly (string | number)[]
}

/** The SQL expression a sort field orders by, when no tag table drives the query. */
const SORT_EXPRESSION: Readonly<Record<SortField, string>> = {
  updatedAt: 'r.updated_at',
  createdAt: 'r.created_at',
  name: "ifnull(r.name, '')",
  key: 'r.key'
}

/**
 * Which candidate sets (`tagsAny`, full text) hold many records. A dense set is only probed
 * (`+r.rid IN (...)` keeps SQLite from driving the query with it): the page walks a sort index
 * and stops after `limit` hits. A sparse set may drive the query: its few records are sorted.
 * SQLite cannot tell the two apart for FTS5, and misjudges multi-tag sets, hence the hint.
 */
export interface CandidateDensity {
  readonly tagsAny: boolean
  readonly text: boolean
}

/** A probe: how many records a candidate set holds, counted up to a cap. */
export function tagsAnyProbe(tags: readonly string[], cap: number): SqlStatement {
  return { sql: `SELECT count(*) FROM (SELECT 1 FROM record_tags WHERE tag IN (${tags.map(() => '?').join(', ')}) LIMIT ?)`, params: [...tags, cap] }
}

/** A probe: how many records a full-text match holds, counted up to a cap. */
export function textProbe(match: string, cap: number): SqlStatement {
  return { sql: 'SELECT count(*) FROM (SELECT 1 FROM records_fts WHERE records_fts MATCH ? LIMIT ?)', params: [match, cap] }
}

/**
 * Builds the SQL of one page. Equality criteria are `WHERE` terms the planner serves from the
 * `(column, updated_at, key)` indexes; every `tagsAll` tag is a join on `record_tags`, whose
 * primary key `(tag, updated_at, key)` lets the first one walk "tagged X, newest first" in order;
 * `tagsAny` and full text are `rid IN (...)` sets. The page is a keyset: `(sort value, key)` past
 * the cursor, ordered by both, one row more than the limit to learn whether a next page exists.
 * The SQL text depends only on the query's shape, so statements are prepared once per shape.
 */
export function buildPageQuery(
  query: NormalizedQuery,
  match: string | undefined,
  after: CursorPosition | undefined,
  dense: CandidateDensity = { tagsAny: false, text: false }
): SqlStatement {
  const params: (string | number)[] = []
  const joins: string[] = []
  const where: string[] = []
  query.tagsAll.forEach((tag, i) => {
    joins.push(`JOIN record_tags t${i} ON t${i}.rid = r.rid AND t${i}.tag = ?`)
    params.push(tag)
  })
  const driver = query.tagsAll.length > 0 ? 't0' : undefined
  for (const [field, column] of [
    ['kind', 'kind'],
    ['owner', 'owner'],
    ['subnet', 'subnet'],
    ['category', 'category'],
    ['status', 'status']
  ] as const) {
    const value = query[field]
    if (value !== undefined) {
      where.push(`r.${column} = ?`)
      params.push(value)
    }
  }
  if (!query.includeArchived) where.push('r.archived = 0')
  const updated = driver === undefined ? 'r.updated_at' : `${driver}.updated_at`
  if (query.updatedFrom !== undefined) {
    where.push(`${updated} >= ?`)
    params.push(query.updatedFrom)
  }
  if (query.updatedTo !== undefined) {
    where.push(`${updated} < ?`)
    params.push(query.updatedTo)
  }
  if (query.tagsAny.length > 0) {
    where.push(`${dense.tagsAny ? '+' : ''}r.rid IN (SELECT rid FROM record_tags WHERE tag IN (${query.tagsAny.map(() => '?').join(', ')}))`)
    params.push(...query.tagsAny)
  }
  if (match !== undefined) {
    where.push(`${dense.text ? '+' : ''}r.rid IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?)`)
    params.push(match)
  }
  const { field, order } = query.sort
  const direction = order === 'asc' ? 'ASC' : 'DESC'
  const sortExpr = field === 'updatedAt' && driver !== undefined ? `${driver}.updated_at` : SORT_EXPRESSION[field]
  const keyExpr = field === 'updatedAt' && driver !== undefined ? `${driver}.key` : 'r.key'
  const past = order === 'asc' ? '>' : '<'
  if (after !== undefined) {
    if (field === 'key') {
      where.push(`r.key ${past} ?`)
      params.push(after.key)
    } else if (field === 'name') {
      // SQLite does not seek an expression index with a row value; the expanded form it does.
      where.push(`${sortExpr} ${past}= ? AND (${sortExpr} ${past} ? OR ${keyExpr} ${past} ?)`)
      params.push(after.value, after.value, after.key)
    } else {
      where.push(`(${sortExpr}, ${keyExpr}) ${past} (?, ?)`)
      params.push(after.value, after.key)
    }
  }
  const orderBy = field === 'key' ? `r.key ${direction}` : `${sortExpr} ${direction}, ${keyExpr} ${direction}`
  params.push(query.limit + 1)
  const sql = [
    `SELECT ${RECORD_COLUMNS} FROM records r`,
    ...joins,
    where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`,
    `ORDER BY ${orderBy} LIMIT ?`
  ]
    .filter((part) => part !== '')
    .join(' ')
  return { sql, params }
}
