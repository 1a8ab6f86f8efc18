import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { IndexSchemaVersionError, qindex, QindexNotStartedError, SCHEMA_VERSION } from '../src/index.js'
import { ANALYSIS_LIMIT } from '../src/constants.js'
import { IndexStore } from '../src/store.js'
import { record, tempDir } from './fixtures/records.js'

const dirs: (() => void)[] = []
afterEach(() => {
  for (const cleanup of dirs.splice(0)) cleanup()
})
function dbPath(): string {
  const { dir, cleanup } = tempDir()
  dirs.push(cleanup)
  return join(dir, 'qindex.sqlite')
}

describe('lifecycle and persistence', () => {
  it('opens a live database in WAL mode with bounded ANALYZE and the sync asked for; a bulk (rebuild) one unjournaled', () => {
    const at = (options: Partial<Parameters<typeof IndexStore.open>[1]>) => {
      const store = IndexStore.open(dbPath(), { now: Date.now, cacheSizeMB: 8, ...options })
      const read = (name: string) => store.db.pragma(name, { simple: true })
      const seen = { journal: read('journal_mode'), synchronous: read('synchronous'), analysisLimit: read('analysis_limit') }
      store.close()
      return seen
    }
    // synchronous: 0 OFF, 1 NORMAL; analysis_limit 0 means no limit.
    expect(at({})).toEqual({ journal: 'wal', synchronous: 1, analysisLimit: ANALYSIS_LIMIT })
    expect(at({ synchronous: 'off' })).toEqual({ journal: 'wal', synchronous: 0, analysisLimit: ANALYSIS_LIMIT })
    expect(at({ bulk: true })).toEqual({ journal: 'memory', synchronous: 0, analysisLimit: 0 })
  })

  it('rejects calls before start and after stop with QindexNotStartedError', async () => {
    const index = qindex()()
    await expect(index.put(record('a'))).rejects.toBeInstanceOf(QindexNotStartedError)
    await expect(index.query({})).rejects.toMatchObject({ name: 'QindexNotStartedError' })
    await index.start()
    await index.start()
    await index.put(record('a'))
    await index.stop()
    await index.stop()
    await expect(index.get('a')).rejects.toMatchObject({ name: 'QindexNotStartedError' })
  })

  it('persists records, tags, text and history across restarts, in WAL mode', async () => {
    const path = dbPath()
    const first = qindex({ path })()
    await first.start()
    await first.put(record('f1', { name: 'invoice approval', tags: ['finance'], attributes: { steps: 3 } }))
    await first.put(record('f1', { name: 'invoice approval v2', tags: ['finance'], attributes: { steps: 3 }, updatedAt: 1_700_000_000_001 }))
    await first.stop()

    const raw = new Database(path, { readonly: true })
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(raw.prepare('SELECT max(version) FROM schema_version').pluck().get()).toBe(SCHEMA_VERSION)
    raw.close()

    const second = qindex({ path })()
    await second.start()
    expect(await second.get('f1')).toMatchObject({ name: 'invoice approval v2', tags: ['finance'], attributes: { steps: 3 } })
    expect((await second.query({ text: 'invoice', tagsAll: ['finance'] })).records.map((r) => r.key)).toEqual(['f1'])
    expect(await second.history('f1')).toHaveLength(2)
    await second.stop()
  })

  it('refuses a database written by a newer schema, without touching it', async () => {
    const path = dbPath()
    const index = qindex({ path })()
    await index.start()
    await index.put(record('f1'))
    await index.stop()
    const raw = new Database(path)
    raw.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, 0)').run(SCHEMA_VERSION + 1)
    raw.close()
    const before = readFileSync(path)
    const err = await qindex({ path })()
      .start()
      .then(
        () => undefined,
        (e: unknown) => e
      )
    expect(err).toBeInstanceOf(IndexSchemaVersionError)
    expect((err as IndexSchemaVersionError).found).toBe(SCHEMA_VERSION + 1)
    expect(readFileSync(path).equals(before)).toBe(true)
  })

  it('creates an empty database when the file is missing and no source is given', async () => {
    const path = dbPath()
    const index = qindex({ path })()
    await index.start()
    expect(existsSync(path)).toBe(true)
    expect((await index.query({})).records).toEqual([])
    await index.stop()
  })
})
