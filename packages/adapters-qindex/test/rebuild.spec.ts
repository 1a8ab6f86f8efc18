import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { IndexRecord } from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import {
  IndexCorruptError,
  IndexRebuildError,
  MissingIndexSourceError,
  qindex,
} from '../src/index.js'
import { asyncSource, record, seeded } from './fixtures/records.js'
import { testScope } from './fixtures/scope.js'

const { dbPath, track } = testScope()
function garbage(length: number, seed = 1): Buffer {
  const rnd = seeded(seed)
  return Buffer.from(Array.from({ length }, () => Math.floor(rnd() * 256)))
}
const STATE: IndexRecord[] = Array.from({ length: 25 }, (_, i) =>
  record(`flow-${i}`, { name: `flow number ${i}`, tags: i % 2 === 0 ? ['even'] : ['odd'], status: 'active', updatedAt: 1000 + i })
)

/** Writes an index file holding `records`, then closes it. */
async function writeIndex(path: string, records: readonly IndexRecord[]): Promise<void> {
  const index = qindex({ path })()
  await index.start()
  await index.putMany(records)
  await index.stop()
}

/**
 * Damages the root page of a table's b-tree: the whole page becomes garbage, or with `from`/`to`
 * only that byte range is zeroed (bytes 8-12 of a leaf page are its first cell pointers).
 */
async function corruptTablePage(path: string, table: string, range?: { from: number; to: number }): Promise<void> {
  const raw = new Database(path, { readonly: true })
  const pageSize = raw.pragma('page_size', { simple: true }) as number
  const root = raw.prepare('SELECT rootpage FROM sqlite_schema WHERE name = ?').pluck().get(table) as number
  raw.close()
  const bytes = range === undefined ? garbage(pageSize, root) : Buffer.alloc(range.to - range.from)
  const file = await open(path, 'r+')
  await file.write(bytes, 0, bytes.length, (root - 1) * pageSize + (range?.from ?? 0))
  await file.close()
}

function siblings(path: string): string[] {
  return readdirSync(dirname(path)).filter((name) => name.startsWith(basename(path)))
}

describe('rebuild', () => {
  it('rebuilds from a source into a fresh file, carrying the history over', async () => {
    const path = dbPath()
    const index = track(qindex({ path })())
    await index.start()
    await index.put(record('stale', { name: 'not in the state store' }))
    await index.put(record('flow-0', { status: 'draft' }))
    const result = await index.rebuild(asyncSource([...STATE, { key: 'broken' } as unknown as IndexRecord]))
    expect(result.indexed).toBe(25)
    expect(result.rejected).toBe(1)
    expect(result.errors[0]).toMatchObject({ name: 'InvalidIndexRecordError', field: 'kind', key: 'broken' })
    expect(await index.get('stale')).toBeUndefined()
    expect((await index.query({ tagsAll: ['even'], limit: 100 })).records).toHaveLength(13)
    expect((await index.query({ text: 'number' , limit: 100 })).records).toHaveLength(25)
    expect((await index.history('flow-0')).map((h) => [h.change, h.record.status])).toEqual([
      ['put', 'draft'],
      ['rebuild', 'active']
    ])
    expect(siblings(path).sort()).toEqual(['qindex.sqlite', 'qindex.sqlite-shm', 'qindex.sqlite-wal'])
    await index.stop()
    const reopened = track(qindex({ path })())
    await reopened.start()
    expect((await reopened.query({ limit: 100 })).records).toHaveLength(25)
  })

  it('uses the injected source when called without one, and accepts sync iterables', async () => {
    const index = track(qindex()({ source: () => STATE }))
    await index.start()
    expect((await index.query({ limit: 100 })).records).toHaveLength(25)
    await index.put(record('extra'))
    expect((await index.rebuild()).indexed).toBe(25)
    expect(await index.get('extra')).toBeUndefined()
  })

  it('throws MissingIndexSourceError without a source', async () => {
    const index = track(qindex()())
    await index.start()
    await expect(index.rebuild()).rejects.toBeInstanceOf(MissingIndexSourceError)
  })

  it('keeps the old index when the source fails, and leaves no temporary file', async () => {
    const path = dbPath()
    const index = track(qindex({ path })())
    await index.start()
    await index.putMany(STATE)
    async function* failing(): AsyncIterable<IndexRecord> {
      yield record('x')
      throw new Error('state store went away')
    }
    const err = await index.rebuild(failing()).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(IndexRebuildError)
    expect((err as IndexRebuildError).retryable).toBe(true)
    expect(((err as Error).cause as Error).message).toBe('state store went away')
    expect((await index.query({ limit: 100 })).records).toHaveLength(25)
    expect(existsSync(`${path}.rebuilding`)).toBe(false)
  })

  it('applies writes made during the rebuild to the new database', async () => {
    const path = dbPath()
    const index = track(qindex({ path })())
    await index.start()
    const { source, halfway, release } = gatedSource(STATE, 10)
    const rebuilding = index.rebuild(source)
    await halfway
    await expect(index.rebuild([])).rejects.toMatchObject({ name: 'IndexRebuildError' })
    await index.put(record('written-meanwhile', { tags: ['even'] }))
    await index.put(record('flow-3', { status: 'completed', updatedAt: 5000 }))
    expect(await index.get('written-meanwhile')).toBeDefined() // visible in the old database at once
    release()
    await rebuilding
    expect(await index.get('written-meanwhile')).toMatchObject({ tags: ['even'] })
    // The write made during the rebuild is newer than the source's snapshot of flow-3.
    expect(await index.get('flow-3')).toMatchObject({ status: 'completed', updatedAt: 5000 })
    expect((await index.query({ tagsAll: ['even'], limit: 100 })).records).toHaveLength(14)
  })

  it('keeps a delete that dropped history during the rebuild, though the old history was carried over', async () => {
    const path = dbPath()
    const index = track(qindex({ path })())
    await index.start()
    await index.putMany(STATE)
    const { source, halfway, release } = gatedSource(STATE, 10)
    const rebuilding = index.rebuild(source)
    await halfway
    expect(await index.deleteMany(['flow-2', 'flow-15'], { history: 'drop' })).toBe(2)
    release()
    await rebuilding
    // The source still held both: the delete, newer, wins, and no history of theirs is left.
    expect(await index.get('flow-2')).toBeUndefined()
    expect(await index.get('flow-15')).toBeUndefined()
    expect(await index.history('flow-2')).toEqual([])
    expect(await index.history('flow-15')).toEqual([])
    expect((await index.history('flow-3')).map((h) => h.change)).toEqual(['put', 'rebuild'])
  })

  it('abandons a rebuild when the index stops', async () => {
    const path = dbPath()
    const index = qindex({ path })()
    await index.start()
    let reached!: () => void
    const halfway = new Promise<void>((resolve) => {
      reached = resolve
    })
    async function* slow(): AsyncIterable<IndexRecord> {
      yield* STATE.slice(0, 5)
      reached()
      await new Promise((resolve) => setTimeout(resolve, 20))
      yield* STATE.slice(5)
    }
    const rebuilding = index.rebuild(slow())
    await halfway
    await index.stop()
    await expect(rebuilding).rejects.toMatchObject({ name: 'IndexRebuildError' })
    expect(existsSync(`${path}.rebuilding`)).toBe(false)
  })
})

/** A source that yields `records` up to `at`, then waits for `release()`; `halfway` settles once it waits. */
function gatedSource(records: readonly IndexRecord[], at: number): { source: AsyncIterable<IndexRecord>; halfway: Promise<void>; release: () => void } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  let reached!: () => void
  const halfway = new Promise<void>((resolve) => {
    reached = resolve
  })
  async function* source(): AsyncIterable<IndexRecord> {
    yield* records.slice(0, at)
    reached()
    await gate
    yield* records.slice(at)
  }
  return { source: source(), halfway, release }
}

describe('corruption', () => {
  it('detects garbage written over the file, moves it aside, reports it and rebuilds', async () => {
    const path = dbPath()
    await writeIndex(path, [record('old')])
    const junk = garbage(8192)
    writeFileSync(path, junk)
    const reported: IndexCorruptError[] = []
    const index = track(qindex({ path, onCorrupt: (e) => reported.push(e) })({ source: () => asyncSource(STATE) }))
    await index.start()
    expect(reported).toHaveLength(1)
    expect(reported[0]).toBeInstanceOf(IndexCorruptError)
    expect(reported[0]?.name).toBe('IndexCorruptError')
    expect(reported[0]?.reason).toBe('bad-header')
    const movedTo = reported[0]?.movedTo as string
    expect(movedTo).toMatch(/qindex\.sqlite\.corrupt-\d+$/)
    expect(readFileSync(movedTo).equals(junk)).toBe(true)
    expect((await index.query({ limit: 100 })).records).toHaveLength(25)
    expect(await index.get('old')).toBeUndefined()
    await index.stop()
    // The rebuilt file is a sound database.
    const raw = new Database(path, { readonly: true })
    expect(raw.pragma('quick_check', { simple: true })).toBe('ok')
    raw.close()
  })

  it('keeps only the newest keepCorruptCopies broken files it moved aside', async () => {
    const path = dbPath()
    let clock = 1_000
    const moved: string[] = []
    for (let round = 0; round < 4; round++) {
      writeFileSync(path, garbage(4096))
      const index = qindex({ path, keepCorruptCopies: 2, now: () => (clock += 1_000), onCorrupt: (e) => moved.push(e.movedTo as string) })({ source: () => STATE })
      await index.start()
      await index.stop()
    }
    expect(moved).toHaveLength(4)
    const left = readdirSync(dirname(path)).filter((name) => name.startsWith(`${basename(path)}.corrupt-`))
    expect(left.sort()).toEqual(moved.slice(2).map((p) => basename(p)).sort())
  })

  it('detects a damaged page behind a valid header with quick_check', async () => {
    const path = dbPath()
    await writeIndex(path, STATE)
    await corruptTablePage(path, 'record_tags', { from: 8, to: 12 })
    const reported: IndexCorruptError[] = []
    const index = track(qindex({ path, onCorrupt: (e) => reported.push(e) })({ source: () => STATE }))
    await index.start()
    expect(reported.map((e) => e.reason)).toEqual(['quick-check-failed'])
    expect(reported[0]?.message).toContain('out of range')
    expect((await index.query({ tagsAll: ['odd'], limit: 100 })).records).toHaveLength(12)
  })

  it('detects a page of garbage in a table', async () => {
    const path = dbPath()
    await writeIndex(path, STATE)
    await corruptTablePage(path, 'records')
    const reported: IndexCorruptError[] = []
    const index = track(qindex({ path, onCorrupt: (e) => reported.push(e) })({ source: () => STATE }))
    await index.start()
    expect(reported).toHaveLength(1)
    expect(['corrupt', 'quick-check-failed']).toContain(reported[0]?.reason)
    expect((await index.query({ limit: 100 })).records).toHaveLength(25)
  })

  it('detects an unreadable schema at open', async () => {
    const path = dbPath()
    await writeIndex(path, STATE)
    const file = await open(path, 'r+')
    await file.write(garbage(3000, 9), 0, 3000, 100) // page 1 behind the 100-byte header: sqlite_schema
    await file.close()
    const reported: IndexCorruptError[] = []
    const index = track(qindex({ path, onCorrupt: (e) => reported.push(e) })({ source: () => STATE }))
    await index.start()
    expect(reported).toHaveLength(1)
    expect(['corrupt', 'not-a-database', 'quick-check-failed']).toContain(reported[0]?.reason)
    expect((await index.query({ limit: 100 })).records).toHaveLength(25)
  })

  it('without a source, reports the corruption and refuses to start, leaving the file in place', async () => {
    const path = dbPath()
    writeFileSync(path, garbage(4096))
    const reported: IndexCorruptError[] = []
    const index = qindex({ path, onCorrupt: (e) => reported.push(e) })()
    const err = await index.start().then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(IndexCorruptError)
    expect(reported).toEqual([err])
    expect((err as IndexCorruptError).movedTo).toBeUndefined()
    expect(readFileSync(path).equals(garbage(4096))).toBe(true)
  })

  it('retries at the next start when the rebuild after corruption fails', async () => {
    const path = dbPath()
    writeFileSync(path, garbage(4096))
    let healthy = false
    async function* source(): AsyncIterable<IndexRecord> {
      if (!healthy) throw new Error('state store offline')
      yield* STATE
    }
    const first = qindex({ path })({ source })
    await expect(first.start()).rejects.toMatchObject({ name: 'IndexRebuildError' })
    expect(existsSync(path)).toBe(false)
    healthy = true
    const second = track(qindex({ path })({ source }))
    await second.start()
    expect((await second.query({ limit: 100 })).records).toHaveLength(25)
  })

  it('reports corruption met at runtime as IndexCorruptError, and rebuild() recovers', async () => {
    const path = dbPath()
    await writeIndex(path, STATE)
    await corruptTablePage(path, 'history')
    const reported: IndexCorruptError[] = []
    const index = track(qindex({ path, integrityCheck: false, onCorrupt: (e) => reported.push(e) })({ source: () => STATE }))
    await index.start()
    const err = await index.history('flow-1').then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(IndexCorruptError)
    expect(reported).toEqual([err])
    const result = await index.rebuild()
    expect(result.indexed).toBe(25)
    expect((await index.history('flow-1')).map((h) => h.change)).toEqual(['rebuild'])
  })

  it('fills a missing or empty database from the source at start', async () => {
    const missing = dbPath()
    const index = track(qindex({ path: missing })({ source: () => asyncSource(STATE) }))
    await index.start()
    expect((await index.query({ limit: 100 })).records).toHaveLength(25)
    const empty = dbPath()
    writeFileSync(empty, '')
    const other = track(qindex({ path: empty })({ source: () => STATE }))
    await other.start()
    expect((await other.query({ limit: 100 })).records).toHaveLength(25)
    const off = track(qindex({ path: dbPath(), rebuildWhenMissing: false })({ source: () => STATE }))
    await off.start()
    expect((await off.query({})).records).toEqual([])
  })
})

describe('onCorrupt hook', () => {
  it('a throwing hook does not stop the recovery', async () => {
    const path = dbPath()
    writeFileSync(path, garbage(4096))
    const index = track(
      qindex({
        path,
        onCorrupt: () => {
          throw new Error('hook failed')
        }
      })({ source: () => STATE })
    )
    await index.start()
    expect((await index.query({ limit: 100 })).records).toHaveLength(25)
  })
})
