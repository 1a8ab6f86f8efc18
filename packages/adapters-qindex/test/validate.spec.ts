import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  InvalidIndexQueryError,
  InvalidIndexRecordError,
  MAX_RECORD_TAGS,
  qindex,
  type SqliteQindex
} from '../src/index.js'
import { record } from './fixtures/records.js'

let index: SqliteQindex
beforeEach(async () => {
  index = qindex()()
  await index.start()
})
afterEach(async () => {
  await index.stop()
})

async function rejection(input: unknown): Promise<InvalidIndexRecordError> {
  const err = await index.put(input as never).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(InvalidIndexRecordError)
  return err as InvalidIndexRecordError
}

describe('record validation', () => {
  it.each([
    ['key', record('k', { key: undefined }), 'key', '/key'],
    ['kind', record('k', { kind: undefined }), 'kind', '/kind'],
    ['owner', record('k', { owner: undefined }), 'owner', '/owner'],
    ['empty key', record('k', { key: '' }), 'key', '/key'],
    ['numeric owner', record('k', { owner: 42 }), 'owner', '/owner'],
    ['null name', record('k', { name: null }), 'name', '/name'],
    ['string tags', record('k', { tags: 'a,b' }), 'tags', '/tags'],
    ['non-string tag', record('k', { tags: ['ok', 7] }), 'tags', '/tags/1'],
    ['empty tag', record('k', { tags: [''] }), 'tags', '/tags/0'],
    ['string archived', record('k', { archived: 'yes' }), 'archived', '/archived'],
    ['missing updatedAt', record('k', { updatedAt: undefined }), 'updatedAt', '/updatedAt'],
    ['fractional createdAt', record('k', { createdAt: 1.5 }), 'createdAt', '/createdAt'],
    ['NaN updatedAt', record('k', { updatedAt: Number.NaN }), 'updatedAt', '/updatedAt'],
    ['array attributes', record('k', { attributes: [1] }), 'attributes', '/attributes'],
    ['infinite attribute', record('k', { attributes: { a: { b: Number.POSITIVE_INFINITY } } }), 'attributes', '/attributes/a/b'],
    ['bigint attribute', record('k', { attributes: { n: 1n } }), 'attributes', '/attributes/n'],
    ['lone surrogate in owner', record('k', { owner: 'a\uD800b' }), 'owner', '/owner']
  ])('rejects %s, naming the field', async (_label, input, field, pointer) => {
    const err = await rejection(input)
    expect(err.name).toBe('InvalidIndexRecordError')
    expect(InvalidIndexRecordError.name).toBe('InvalidIndexRecordError')
    expect(err.field).toBe(field)
    expect(err.pointer).toBe(pointer)
    expect(await index.get('k')).toBeUndefined()
  })

  it('rejects a huge tag array', async () => {
    const err = await rejection(record('k', { tags: Array.from({ length: 10_000 }, (_, i) => `t${i}`) }))
    expect(err.field).toBe('tags')
    expect(err.message).toContain(`at most ${MAX_RECORD_TAGS}`)
    expect(err.key).toBe('k')
  })

  it('rejects oversized strings and attributes', async () => {
    expect((await rejection(record('k', { description: 'x'.repeat(20_000) }))).field).toBe('description')
    expect((await rejection(record('x'.repeat(600)))).field).toBe('key')
    expect((await rejection(record('k', { attributes: { blob: 'x'.repeat(70_000) } }))).field).toBe('attributes')
  })

  it('rejects things that are not records', async () => {
    for (const input of [null, 'record', 42, [], new Map()]) {
      expect((await rejection(input)).field).toBe('')
    }
  })

  it('turns a throwing getter into the typed error', async () => {
    const hostile = Object.defineProperty(record('k'), 'owner', {
      get() {
        throw new Error('boom')
      },
      enumerable: true
    })
    const err = await rejection(hostile)
    expect(err.cause).toBeInstanceOf(Error)
  })

  it('normalizes: unknown fields dropped, tags deduplicated, archived always a boolean', async () => {
    await index.put({ ...record('k', { tags: ['b', 'a', 'b'], attributes: { z: 1, a: [true] } }), extra: 'dropped' } as never)
    expect(await index.get('k')).toEqual({
      key: 'k',
      kind: 'flow',
      owner: 'did:key:z6MkAlice',
      tags: ['b', 'a'],
      archived: false,
      createdAt: 1_700_000_000_000,
      updatedAt: 1_700_000_000_000,
      attributes: { a: [true], z: 1 }
    })
  })

  it('writes nothing of a putMany batch holding one bad record', async () => {
    const err = await index.putMany([record('a'), record('b'), record('c', { kind: 3 })]).then(
      () => undefined,
      (e: unknown) => e as InvalidIndexRecordError
    )
    expect(err?.name).toBe('InvalidIndexRecordError')
    expect(err?.recordIndex).toBe(2)
    expect(err?.field).toBe('kind')
    expect(await index.get('a')).toBeUndefined()
    expect((await index.query({})).records).toEqual([])
  })
})

describe('query validation', () => {
  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: 1001 }, 'limit'],
    [{ limit: 2.5 }, 'limit'],
    [{ limit: '10' }, 'limit'],
    [{ sort: { field: 'owner', order: 'asc' } }, 'sort'],
    [{ sort: { field: 'name', order: 'up' } }, 'sort'],
    [{ sort: 'name' }, 'sort'],
    [{ tagsAll: 'x' }, 'tagsAll'],
    [{ tagsAny: [1] }, 'tagsAny'],
    [{ tagsAll: Array.from({ length: 33 }, (_, i) => `t${i}`) }, 'tagsAll'],
    [{ owner: 5 }, 'owner'],
    [{ updatedFrom: Number.NaN }, 'updatedFrom'],
    [{ includeArchived: 'no' }, 'includeArchived'],
    [{ text: 'x'.repeat(2000) }, 'text'],
    [{ text: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ') }, 'text'],
    [{ cursor: '' }, 'cursor'],
    [{ tag: 'typo' }, 'tag']
  ])('rejects %j naming %s', async (query, field) => {
    const err = (await index.query(query as never).then(
      () => undefined,
      (e: unknown) => e
    )) as InvalidIndexQueryError
    expect(err).toBeInstanceOf(InvalidIndexQueryError)
    expect(err.name).toBe('InvalidIndexQueryError')
    expect(err.field).toBe(field)
  })

  it('rejects a query that is not an object', async () => {
    await expect(index.query(null as never)).rejects.toMatchObject({ name: 'InvalidIndexQueryError' })
  })

  it('rejects bad keys on get, history, archive and delete', async () => {
    for (const call of [() => index.get(''), () => index.history(7 as never), () => index.archive(''), () => index.delete(null as never)]) {
      await expect(call()).rejects.toMatchObject({ name: 'InvalidIndexQueryError', field: 'key' })
    }
  })
})
