import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { IndexRecordNotFoundError, InvalidIndexQueryError, qindex, type SqliteQindex } from '../src/index.js'
import { record, tempDir } from './fixtures/records.js'

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

describe('group commit', () => {
  it('writes puts made together in one transaction, keeping each in order and visible to the next read', async () => {
    const puts = Array.from({ length: 200 }, (_, i) => index.put(record(`exec-${i % 50}`, { kind: 'execution', status: i < 150 ? 'running' : 'completed', updatedAt: i })))
    // a read issued before the puts settled still sees them
    const early = await index.get('exec-0')
    expect(early?.updatedAt).toBe(150)
    await Promise.all(puts)
    const done = await index.query({ kind: 'execution', status: 'completed', limit: 100 })
    expect(done.records.map((r) => r.key).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `exec-${i}`).sort())
    expect((await index.history('exec-7')).map((h) => h.record.updatedAt)).toEqual([7, 57, 107, 157])
  })

  it('rejects only the invalid put of a batch', async () => {
    const good = index.put(record('ok-1'))
    const bad = index.put({ ...record('bad'), owner: 42 } as never).catch((err: Error) => err.name)
    const also = index.put(record('ok-2'))
    expect(await bad).toBe('InvalidIndexRecordError')
    await Promise.all([good, also])
    expect((await index.get('ok-1'))?.key).toBe('ok-1')
    expect((await index.get('ok-2'))?.key).toBe('ok-2')
  })
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

describe('tag rows follow updatedAt', () => {
  it('re-sorts a tagged record whose updatedAt changed while its tags did not', async () => {
    await index.put(record('a', { tags: ['x'], updatedAt: 1 }))
    await index.put(record('b', { tags: ['x'], updatedAt: 2 }))
    expect((await index.query({ tagsAll: ['x'] })).records.map((r) => r.key)).toEqual(['b', 'a'])
    await index.put(record('a', { tags: ['x'], updatedAt: 3, status: 'running' }))
    expect((await index.query({ tagsAll: ['x'] })).records.map((r) => r.key)).toEqual(['a', 'b'])
    expect((await index.query({ tagsAll: ['x'], updatedFrom: 3 })).records.map((r) => r.key)).toEqual(['a'])
    await index.archive('b', { at: 10 })
    expect((await index.query({ tagsAll: ['x'], updatedFrom: 5 })).records.map((r) => r.key)).toEqual(['b'])
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

  it('deleteMany removes many records at once, keeping or dropping their history', async () => {
    await index.putMany(['a', 'b', 'c', 'd'].map((key) => record(key, { name: `n-${key}`, tags: ['t'] })))
    await index.put(record('a', { name: 'n-a2', tags: ['t'] }))
    expect(await index.deleteMany(['a', 'b', 'ghost'], { history: 'drop' })).toBe(2)
    expect(await index.history('a')).toEqual([])
    expect(await index.history('b')).toEqual([])
    expect(await index.deleteMany(['c'])).toBe(1)
    expect((await index.history('c')).map((h) => h.change)).toEqual(['put', 'delete'])
    expect((await index.query({ tagsAll: ['t'] })).records.map((r) => r.key)).toEqual(['d'])
    // A kept history can be dropped later, once its record is gone.
    expect(await index.delete('c', { history: 'drop' })).toBe(false)
    expect(await index.history('c')).toEqual([])
    expect((await index.history('d')).map((h) => h.change)).toEqual(['put'])
  })

  it('deleteMany refuses a malformed key or option and removes nothing', async () => {
    await index.putMany([record('a'), record('b')])
    for (const call of [() => index.deleteMany(['a', '']), () => index.deleteMany(['a'], { history: 'forget' as never })]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e
      )
      expect(err).toBeInstanceOf(InvalidIndexQueryError)
    }
    expect((await index.query({})).records.map((r) => r.key).sort()).toEqual(['a', 'b'])
    expect(await index.deleteMany([])).toBe(0)
  })
})

describe('full-text index upkeep', () => {
  it('stays consistent with the records through inserts, renames, tag changes, archives and deletes', async () => {
    const { dir, cleanup } = tempDir()
    try {
      const path = join(dir, 'qindex.sqlite')
      const file = qindex({ path })()
      await file.start()
      for (let i = 0; i < 40; i++) await file.put(record(`k${i}`, { name: `alpha ${i}`, description: i % 2 === 0 ? 'beta gamma' : undefined, tags: ['x'] }))
      for (let i = 0; i < 40; i += 3) await file.put(record(`k${i}`, { name: i % 2 === 0 ? undefined : `delta ${i}`, description: 'epsilon', tags: ['y'] }))
      for (let i = 0; i < 40; i += 5) await file.archive(`k${i}`)
      for (let i = 0; i < 40; i += 7) await file.delete(`k${i}`)
      await file.put(record('k0', { name: 'alpha again' }))
      // Records with no text (executions) take no full-text row; text may come and go later.
      for (let i = 0; i < 10; i++) await file.put(record(`n${i}`, { kind: 'execution', status: 'running' }))
      for (let i = 0; i < 10; i += 2) await file.put(record(`n${i}`, { kind: 'execution', status: 'completed', name: `zeta ${i}` }))
      for (let i = 0; i < 10; i += 4) await file.put(record(`n${i}`, { kind: 'execution', status: 'failed' }))
      for (let i = 1; i < 10; i += 3) await file.delete(`n${i}`)
      expect((await file.query({ text: 'zeta', limit: 100 })).records.map((r) => r.key).sort()).toEqual(['n2', 'n6'])
      expect((await file.query({ text: 'alpha', limit: 100 })).records.map((r) => r.key).sort()).toEqual(
        Array.from({ length: 40 }, (_, i) => i)
          .filter((i) => i === 0 || (i % 3 !== 0 && i % 7 !== 0))
          .map((i) => `k${i}`)
          .sort()
      )
      expect((await file.query({ text: 'delta', limit: 100 })).records).toHaveLength(
        Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 3 === 0 && i % 2 === 1 && i % 7 !== 0).length
      )
      await file.stop()
      const raw = new Database(path)
      expect(() => raw.prepare("INSERT INTO records_fts (records_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow()
      raw.close()
    } finally {
      cleanup()
    }
  })
})
