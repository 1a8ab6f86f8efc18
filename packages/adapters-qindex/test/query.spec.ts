import type { IndexRecord } from '@qflow/pipeline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidCursorError, qindex, type SqliteQindex } from '../src/index.js'
import { allPages, record, seeded } from './fixtures/records.js'

const STATUSES = ['active', 'draft', 'running', 'completed', 'failed']
const KINDS = ['flow', 'flow-version', 'execution']
const TAGS = ['finance', 'hr', 'ops', 'legal', 'eu', 'us', 'urgent']
const WORDS = ['invoice', 'approval', 'payroll', 'onboarding', 'audit', 'report', 'sync', 'backup']

/** 300 varied records; the tests compare the index's answers with a plain filter over this array. */
function dataset(): IndexRecord[] {
  const rnd = seeded(7)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  return Array.from({ length: 300 }, (_, i) => {
    const tags = [...new Set(Array.from({ length: Math.floor(rnd() * 4) }, () => pick(TAGS)))]
    const updatedAt = 1_000 + Math.floor(rnd() * 50) // many ties, to exercise the key tie-breaker
    const named = i % 10 !== 0
    return record(`k${String(i).padStart(3, '0')}`, {
      kind: pick(KINDS),
      owner: `did:key:owner${i % 7}`,
      subnet: i % 3 === 0 ? undefined : `subnet-${i % 2}`,
      name: named ? `${pick(WORDS)} ${pick(WORDS)} ${i}` : undefined,
      description: i % 4 === 0 ? `Handles the ${pick(WORDS)} of the team` : undefined,
      tags,
      category: pick(['billing', 'people', 'infra']),
      status: pick(STATUSES),
      archived: i % 11 === 0,
      createdAt: 500 + i,
      updatedAt
    })
  })
}

const records = dataset()
let index: SqliteQindex

beforeAll(async () => {
  index = qindex()()
  await index.start()
  expect(await index.putMany(records)).toBe(300)
})
afterAll(async () => {
  await index.stop()
})

type Sort = { field: 'updatedAt' | 'createdAt' | 'name' | 'key'; order: 'asc' | 'desc' }

function expected(filter: (r: IndexRecord) => boolean, sort: Sort = { field: 'updatedAt', order: 'desc' }): string[] {
  const value = (r: IndexRecord): number | string => (sort.field === 'name' ? (r.name ?? '') : sort.field === 'key' ? r.key : r[sort.field])
  const compare = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0)
  return records
    .filter(filter)
    .sort((a, b) => {
      const c = compare(value(a), value(b)) || compare(a.key, b.key)
      return sort.order === 'asc' ? c : -c
    })
    .map((r) => r.key)
}

describe('query criteria', () => {
  const cases: [string, Parameters<SqliteQindex['query']>[0], (r: IndexRecord) => boolean][] = [
    ['everything', {}, () => true],
    ['kind', { kind: 'execution' }, (r) => r.kind === 'execution'],
    ['owner', { owner: 'did:key:owner3' }, (r) => r.owner === 'did:key:owner3'],
    ['subnet', { subnet: 'subnet-1' }, (r) => r.subnet === 'subnet-1'],
    ['category', { category: 'people' }, (r) => r.category === 'people'],
    ['status', { status: 'active' }, (r) => r.status === 'active'],
    ['tagsAll', { tagsAll: ['finance', 'eu'] }, (r) => ['finance', 'eu'].every((t) => r.tags?.includes(t))],
    ['tagsAny', { tagsAny: ['legal', 'urgent'] }, (r) => ['legal', 'urgent'].some((t) => r.tags?.includes(t))],
    [
      'tagsAll + tagsAny + status',
      { tagsAll: ['ops'], tagsAny: ['eu', 'us'], status: 'running' },
      (r) => r.status === 'running' && r.tags?.includes('ops') === true && ['eu', 'us'].some((t) => r.tags?.includes(t))
    ],
    ['updated range', { updatedFrom: 1010, updatedTo: 1020 }, (r) => r.updatedAt >= 1010 && r.updatedAt < 1020],
    ['tag + updated range', { tagsAll: ['hr'], updatedFrom: 1030 }, (r) => r.tags?.includes('hr') === true && r.updatedAt >= 1030],
    ['archived excluded', { includeArchived: false }, (r) => r.archived !== true],
    ['archived included by default', { owner: 'did:key:owner0' }, (r) => r.owner === 'did:key:owner0'],
    ['empty tag lists are no criterion', { tagsAll: [], tagsAny: [] }, () => true],
    ['nothing matches', { owner: 'did:key:nobody' }, () => false]
  ]
  it.each(cases)('%s', async (_label, query, filter) => {
    const want = expected(filter)
    const { keys } = await allPages(index, { ...query, limit: 1000 })
    expect(keys).toEqual(want)
  })

  it('finds archived records unless told not to', async () => {
    const archived = records.filter((r) => r.archived === true).map((r) => r.key)
    expect(archived.length).toBeGreaterThan(0)
    const found = await allPages(index, { limit: 1000 })
    expect(found.keys).toEqual(expect.arrayContaining(archived))
    const live = await allPages(index, { includeArchived: false, limit: 1000 })
    expect(live.keys.some((k) => archived.includes(k))).toBe(false)
  })
})

describe('full-text search', () => {
  const mentions = (word: string) => (r: IndexRecord) =>
    `${r.name ?? ''} ${r.description ?? ''}`.toLowerCase().split(/[^a-z0-9]+/).includes(word)

  it('searches name and description', async () => {
    const want = expected(mentions('payroll'))
    expect(want.length).toBeGreaterThan(0)
    expect((await allPages(index, { text: 'payroll', limit: 1000 })).keys).toEqual(want)
    expect((await allPages(index, { text: 'team', limit: 1000 })).keys).toEqual(expected(mentions('team')))
  })

  it('ANDs terms, ignores case and combines with other criteria', async () => {
    const want = expected((r) => mentions('audit')(r) && mentions('sync')(r) && r.status === 'active')
    expect((await allPages(index, { text: 'AUDIT  Sync', status: 'active', limit: 1000 })).keys).toEqual(want)
  })

  it('matches a prefix when a term ends in *', async () => {
    expect((await allPages(index, { text: 'onboard*', limit: 1000 })).keys).toEqual(expected(mentions('onboarding')))
    expect((await index.query({ text: 'onboard' })).records).toEqual([])
  })

  it('treats FTS5 syntax in user text as words', async () => {
    for (const text of ['"', 'invoice"', 'NEAR(a b)', 'a AND', 'OR', 'name:invoice', '-audit', '(audit', 'audit)', '*', '^report', 'x\u0000y', '{name}: q']) {
      await expect(index.query({ text })).resolves.toHaveProperty('records')
    }
    // Quoted, "name:invoice" is the two words name and invoice, not a column filter.
    expect((await index.query({ text: 'name:invoice' })).records).toEqual([])
  })

  it('finds nothing for text without a searchable character, everything for blank text', async () => {
    expect((await index.query({ text: '!!! ???' })).records).toEqual([])
    expect((await index.query({ text: '   ', limit: 5 })).records).toHaveLength(5)
  })
})

describe('sorting and pagination', () => {
  const sorts: Sort[] = [
    { field: 'updatedAt', order: 'desc' },
    { field: 'updatedAt', order: 'asc' },
    { field: 'createdAt', order: 'desc' },
    { field: 'createdAt', order: 'asc' },
    { field: 'name', order: 'asc' },
    { field: 'name', order: 'desc' },
    { field: 'key', order: 'asc' },
    { field: 'key', order: 'desc' }
  ]
  it.each(sorts)('pages through %j without gaps or repeats', async (sort) => {
    const { keys, pages } = await allPages(index, { sort, limit: 7 })
    expect(keys).toEqual(expected(() => true, sort))
    expect(pages).toBe(Math.ceil(300 / 7))
  })

  it.each(sorts)('pages a tag query sorted by %j', async (sort) => {
    const filter = (r: IndexRecord) => r.tags?.includes('finance') === true
    expect((await allPages(index, { tagsAll: ['finance'], sort, limit: 9 })).keys).toEqual(expected(filter, sort))
  })

  it('omits nextCursor on the last page, also when the last page is exactly full', async () => {
    const count = expected((r) => r.owner === 'did:key:owner1').length
    const page = await index.query({ owner: 'did:key:owner1', limit: count })
    expect(page.records).toHaveLength(count)
    expect(page.nextCursor).toBeUndefined()
  })

  it('keeps a cursor valid when the page size changes', async () => {
    const first = await index.query({ status: 'draft', limit: 3 })
    const next = await index.query({ status: 'draft', limit: 10, cursor: first.nextCursor as string })
    expect([...first.records, ...next.records].map((r) => r.key)).toEqual(expected((r) => r.status === 'draft').slice(0, 13))
  })

  it('pages stay stable when records are added before the cursor', async () => {
    const first = await index.query({ sort: { field: 'key', order: 'asc' }, limit: 5 })
    await index.put(record('k000-inserted', { updatedAt: 5 }))
    const next = await index.query({ sort: { field: 'key', order: 'asc' }, limit: 5, cursor: first.nextCursor as string })
    expect(next.records.map((r) => r.key)).toEqual(['k005', 'k006', 'k007', 'k008', 'k009'])
    await index.delete('k000-inserted')
  })

  it('rejects a cursor from a different query or sort', async () => {
    const page = await index.query({ status: 'active', limit: 2 })
    const cursor = page.nextCursor as string
    for (const other of [
      { status: 'draft', cursor },
      { status: 'active', sort: { field: 'updatedAt', order: 'asc' } as const, cursor },
      { status: 'active', includeArchived: false, cursor },
      { status: 'active', text: 'audit', cursor }
    ]) {
      const err = await index.query(other).then(
        () => undefined,
        (e: unknown) => e
      )
      expect(err).toBeInstanceOf(InvalidCursorError)
      expect((err as Error).name).toBe('InvalidCursorError')
    }
  })

  it('rejects forged and damaged cursors', async () => {
    const page = await index.query({ limit: 1 })
    const cursor = page.nextCursor as string
    const forged = [
      'not a cursor!',
      cursor.slice(0, -3),
      Buffer.from('[1,"x",1,"k"]').toString('base64url'),
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from(JSON.stringify([2, 'x', 1, 'k'])).toString('base64url')
    ]
    for (const bad of forged) {
      await expect(index.query({ limit: 1, cursor: bad })).rejects.toMatchObject({ name: 'InvalidCursorError' })
    }
    // A name cursor has a string value; reusing its shape with a number is rejected too.
    const byName = await index.query({ sort: { field: 'name', order: 'asc' }, limit: 1 })
    const [v, fp, , key] = JSON.parse(Buffer.from(byName.nextCursor as string, 'base64url').toString()) as unknown[]
    const tampered = Buffer.from(JSON.stringify([v, fp, 5, key])).toString('base64url')
    await expect(index.query({ sort: { field: 'name', order: 'asc' }, limit: 1, cursor: tampered })).rejects.toMatchObject({
      name: 'InvalidCursorError'
    })
  })

  it('plans a tag + status page as an ordered walk of the tag index', async () => {
    const plan = (await index.explain({ tagsAll: ['ops'], status: 'active' })).join('\n')
    expect(plan).not.toContain('SCAN r')
    const statusPlan = (await index.explain({ status: 'active' })).join('\n')
    expect(statusPlan).toContain('records_status_updated')
    expect(statusPlan).not.toContain('TEMP B-TREE')
  })

  it('seeks, rather than scans, to a cursor position for every sort', async () => {
    for (const sort of [
      { field: 'name', order: 'asc' },
      { field: 'name', order: 'desc' },
      { field: 'updatedAt', order: 'desc' },
      { field: 'createdAt', order: 'asc' }
    ] as const) {
      const cursor = (await index.query({ sort, limit: 100 })).nextCursor as string
      const plan = (await index.explain({ sort, limit: 100, cursor })).join(' | ')
      expect(plan).toMatch(/^SEARCH r USING INDEX records_\w+ \(/)
    }
  })
})

describe('dense candidate sets', () => {
  // 1,500 records sharing a word and a tag: more than DENSE_CANDIDATES, so the page walks the
  // sort index and probes the set instead of sorting every candidate. The answers must not change.
  const many: IndexRecord[] = Array.from({ length: 1500 }, (_, i) =>
    record(`d${String(i).padStart(4, '0')}`, {
      name: i % 3 === 0 ? `common ledger ${i}` : `common ${i}`,
      tags: [i % 2 === 0 ? 'bulk-a' : 'bulk-b', ...(i % 5 === 0 ? ['rare'] : [])],
      status: i % 4 === 0 ? 'active' : 'draft',
      updatedAt: 10_000 + (i % 97)
    })
  )
  let dense: SqliteQindex
  beforeAll(async () => {
    dense = qindex()()
    await dense.start()
    await dense.putMany(many)
  })
  afterAll(async () => {
    await dense.stop()
  })
  const sorted = (filter: (r: IndexRecord) => boolean, sort: Sort): string[] => {
    const value = (r: IndexRecord): number | string => (sort.field === 'name' ? (r.name ?? '') : sort.field === 'key' ? r.key : r[sort.field])
    const cmp = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0)
    return many
      .filter(filter)
      .sort((a, b) => (sort.order === 'asc' ? 1 : -1) * (cmp(value(a), value(b)) || cmp(a.key, b.key)))
      .map((r) => r.key)
  }

  it.each([
    [{ text: 'common' }, () => true],
    [{ text: 'common', status: 'active' }, (r: IndexRecord) => r.status === 'active'],
    [{ text: 'ledger' }, (r: IndexRecord) => r.name?.includes('ledger') === true],
    [{ tagsAny: ['bulk-a', 'bulk-b'] }, () => true],
    [{ tagsAny: ['bulk-a', 'rare'], text: 'common' }, (r: IndexRecord) => r.tags?.includes('bulk-a') === true || r.tags?.includes('rare') === true],
    [{ tagsAll: ['rare'], text: 'common' }, (r: IndexRecord) => r.tags?.includes('rare') === true]
  ] as const)('%j', async (query, filter) => {
    for (const sort of [
      { field: 'updatedAt', order: 'desc' },
      { field: 'name', order: 'asc' }
    ] as const) {
      const { keys } = await allPages(dense, { ...query, sort, limit: 200 })
      expect(keys).toEqual(sorted(filter, sort))
    }
  })

  it('walks the sort index for a dense text set and lets a sparse one drive', async () => {
    const densePlan = (await dense.explain({ text: 'common' })).join(' | ')
    expect(densePlan).toContain('SCAN r USING INDEX records_updated')
    expect(densePlan).not.toContain('TEMP B-TREE')
    const sparsePlan = (await dense.explain({ text: 'ledger 3' })).join(' | ')
    expect(sparsePlan).toContain('SEARCH r USING INTEGER PRIMARY KEY')
  })
})
