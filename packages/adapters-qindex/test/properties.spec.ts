import fc from 'fast-check'
import type { IndexQuery, IndexRecord } from '@qflow/pipeline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ftsMatchExpression, qindex, type SqliteQindex } from '../src/index.js'
import { allPages, record } from './fixtures/records.js'

const TYPED = new Set(['InvalidIndexRecordError', 'InvalidIndexQueryError', 'InvalidCursorError'])

/** Strings that break naive SQL or FTS5 query building, mixed with arbitrary code points (lone surrogates included). */
const hostile = fc.oneof(
  fc.constantFrom(
    '"',
    "'",
    '""',
    "'; DROP TABLE records; --",
    'a" OR "b',
    'NEAR(a b, 2)',
    'AND',
    'OR NOT',
    '*',
    '^',
    'name:x',
    '{name description}: x',
    '(',
    ')',
    'x\u0000y',
    '\u0000',
    '\uD800',
    'a\uDFFFb',
    '%_',
    '\\',
    '🙂',
    'Ünïcödé',
    ' ',
    '\n\t',
    'records_fts',
    '-x',
    '+',
    'x*'
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 40 })
)

let index: SqliteQindex
beforeAll(async () => {
  index = qindex()()
  await index.start()
  await index.putMany(
    Array.from({ length: 30 }, (_, i) =>
      record(`seed-${i}`, { name: `seed record ${i}`, tags: [`t${i % 3}`], status: i % 2 === 0 ? 'active' : 'draft', updatedAt: i })
    )
  )
})
afterAll(async () => {
  await index.stop()
})

async function typedOrOk(promise: Promise<unknown>): Promise<'ok' | string> {
  try {
    await promise
    return 'ok'
  } catch (err) {
    const name = (err as { name?: unknown }).name
    if (typeof name === 'string' && TYPED.has(name)) return name
    throw err
  }
}

describe('hostile input', () => {
  it('puts records with hostile strings, or rejects them with InvalidIndexRecordError; stored ones are found again', async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(
        hostile,
        hostile,
        fc.array(hostile, { maxLength: 8 }),
        hostile,
        fc.option(hostile, { nil: undefined }),
        async (owner, name, tags, description, category) => {
          const key = `h-${n++}`
          const input = record(key, { owner, name, tags, description, category })
          const outcome = await typedOrOk(index.put(input))
          if (outcome !== 'ok') {
            expect(outcome).toBe('InvalidIndexRecordError')
            expect(await index.get(key)).toBeUndefined()
            return
          }
          const stored = await index.get(key)
          expect(stored?.owner).toBe(owner)
          expect(stored?.name).toBe(name)
          expect(stored?.tags).toEqual([...new Set(tags)])
          const byOwnerAndTags = await index.query({ owner, tagsAll: tags, limit: 1000 })
          expect(byOwnerAndTags.records.map((r) => r.key)).toContain(key)
          if (tags.length > 0) {
            const byAny = await index.query({ tagsAny: tags, owner, limit: 1000 })
            expect(byAny.records.map((r) => r.key)).toContain(key)
          }
          await index.delete(key)
        }
      ),
      { numRuns: 300 }
    )
  })

  it('answers hostile queries or rejects them with a typed query error, never anything else', async () => {
    const value = fc.oneof(hostile, fc.anything({ maxDepth: 2 }))
    const query = fc.record(
      {
        text: value,
        owner: value,
        kind: value,
        status: value,
        subnet: value,
        category: value,
        tagsAll: fc.oneof(fc.array(hostile, { maxLength: 5 }), value),
        tagsAny: fc.oneof(fc.array(hostile, { maxLength: 5 }), value),
        updatedFrom: fc.oneof(fc.double(), value),
        includeArchived: fc.oneof(fc.boolean(), value),
        sort: fc.oneof(
          fc.record({ field: fc.constantFrom('updatedAt', 'createdAt', 'name', 'key'), order: fc.constantFrom('asc', 'desc') }),
          value
        ),
        limit: fc.oneof(fc.integer({ min: -5, max: 2000 }), value),
        cursor: fc.oneof(hostile, fc.base64String({ maxLength: 80 }), value)
      },
      { requiredKeys: [] }
    )
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        await typedOrOk(index.query(q as IndexQuery))
      }),
      { numRuns: 500 }
    )
  })

  it('never builds an FTS5 expression SQLite rejects', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostile, { maxLength: 6 }), async (terms) => {
        const text = terms.join(' ')
        const outcome = await typedOrOk(index.query({ text }))
        // Only a lone surrogate or too long a text is refused, and only as a query error.
        if (outcome !== 'ok') expect(outcome).toBe('InvalidIndexQueryError')
      }),
      { numRuns: 500 }
    )
  })

  it('quotes every term it emits', () => {
    fc.assert(
      fc.property(fc.array(hostile, { maxLength: 6 }), (terms) => {
        const expression = ftsMatchExpression(terms.join(' '))
        if (expression === null) return
        // Every phrase is a quoted string (inner quotes doubled), optionally followed by *.
        expect(expression).toMatch(/^"(?:[^"\u0000]|"")*"\*?(?: "(?:[^"\u0000]|"")*"\*?)*$/u)
      }),
      { numRuns: 1000 }
    )
  })
})

describe('search and paging properties', () => {
  it('finds a record by any word of its name', async () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9]{2,11}$/)
    let n = 0
    await fc.assert(
      fc.asyncProperty(fc.array(word, { minLength: 1, maxLength: 4 }), fc.nat({ max: 3 }), async (words, pick) => {
        const key = `w-${n++}`
        await index.put(record(key, { name: words.join(' '), updatedAt: 10_000 }))
        const target = words[pick % words.length] as string
        const { keys } = await allPages(index, { text: target.toUpperCase(), limit: 1000 })
        expect(keys).toContain(key)
        await index.delete(key)
      }),
      { numRuns: 150 }
    )
  })

  it('pages through any sort and page size exactly once per record', async () => {
    const sort = fc.record({ field: fc.constantFrom('updatedAt', 'createdAt', 'name', 'key'), order: fc.constantFrom('asc', 'desc') })
    await fc.assert(
      fc.asyncProperty(sort, fc.integer({ min: 1, max: 12 }), fc.constantFrom(undefined, 't0', 't1'), async (s, limit, tag) => {
        const query: IndexQuery = { sort: s as IndexQuery['sort'] & object, limit, ...(tag === undefined ? {} : { tagsAll: [tag] }) }
        const { keys } = await allPages(index, query)
        const all = (await index.query({ ...query, limit: 1000 })).records.map((r: IndexRecord) => r.key)
        expect(keys).toEqual(all)
        expect(new Set(keys).size).toBe(keys.length)
      }),
      { numRuns: 150 }
    )
  })
})
