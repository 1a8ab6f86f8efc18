import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { IndexRecordNotFoundError, qindex, type SqliteQindex } from '../src/index.js'
import { record } from './fixtures/records.js'

let clock = 10_000
let index: SqliteQindex
beforeEach(async () => {
  clock = 10_000
  index = qindex({ now: () => ++clock })()
  await index.start()
})
afterEach(async () => {
  await index.stop()
})

describe('history', () => {
  it('keeps every put of a key, oldest first', async () => {
    await index.put(record('exec-1', { kind: 'execution', status: 'running', updatedAt: 1 }))
    await index.put(record('exec-1', { kind: 'execution', status: 'completed', updatedAt: 2 }))
    await index.put(record('exec-2', { kind: 'execution', status: 'running' }))
    const history = await index.history('exec-1')
    expect(history.map((h) => [h.change, h.record.status, h.record.updatedAt])).toEqual([
      ['put', 'running', 1],
      ['put', 'completed', 2]
    ])
    expect(history[0]?.recordedAt).toBeLessThan(history[1]?.recordedAt as number)
    expect(history[0]?.seq).toBeLessThan(history[1]?.seq as number)
    expect((await index.get('exec-1'))?.status).toBe('completed')
    expect(await index.history('nope')).toEqual([])
  })

  it('replaces tags and text on update', async () => {
    await index.put(record('f', { name: 'old title', tags: ['a', 'b'] }))
    await index.put(record('f', { name: 'new title', tags: ['c'] }))
    expect((await index.query({ tagsAny: ['a', 'b'] })).records).toEqual([])
    expect((await index.query({ tagsAll: ['c'] })).records.map((r) => r.key)).toEqual(['f'])
    expect((await index.query({ text: 'old' })).records).toEqual([])
    expect((await index.query({ text: 'new' })).records.map((r) => r.key)).toEqual(['f'])
  })
})

describe('archive', () => {
  it('marks the record archived at the given time; it stays searchable and in history', async () => {
    await index.put(record('flow-1', { name: 'payroll', tags: ['hr'], updatedAt: 100 }))
    const archived = await index.archive('flow-1', { at: 200 })
    expect(archived).toMatchObject({ key: 'flow-1', archived: true, updatedAt: 200 })
    expect(await index.get('flow-1')).toEqual(archived)
    expect((await index.query({ text: 'payroll' })).records.map((r) => r.key)).toEqual(['flow-1'])
    expect((await index.query({ tagsAll: ['hr'], updatedFrom: 200 })).records.map((r) => r.key)).toEqual(['flow-1'])
    expect((await index.query({ tagsAll: ['hr'], includeArchived: false })).records).toEqual([])
    expect((await index.history('flow-1')).map((h) => h.change)).toEqual(['put', 'archive'])
  })

  it('is idempotent and uses the clock by default', async () => {
    await index.put(record('flow-1'))
    const first = await index.archive('flow-1')
    expect(first.updatedAt).toBe(clock)
    expect(await index.archive('flow-1')).toEqual(first)
    expect((await index.history('flow-1')).map((h) => h.change)).toEqual(['put', 'archive'])
  })

  it('throws IndexRecordNotFoundError for an unknown key', async () => {
    const err = await index.archive('ghost').then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(IndexRecordNotFoundError)
    expect((err as IndexRecordNotFoundError).key).toBe('ghost')
  })
})

describe('delete', () => {
  it('removes the record from searches and keeps its history', async () => {
    await index.put(record('f', { name: 'payroll', tags: ['hr'] }))
    expect(await index.delete('f')).toBe(true)
    expect(await index.delete('f')).toBe(false)
    expect(await index.get('f')).toBeUndefined()
    expect((await index.query({})).records).toEqual([])
    expect((await index.query({ tagsAll: ['hr'] })).records).toEqual([])
    expect((await index.query({ text: 'payroll' })).records).toEqual([])
    expect((await index.history('f')).map((h) => [h.change, h.record.name])).toEqual([
      ['put', 'payroll'],
      ['delete', 'payroll']
    ])
  })
})
