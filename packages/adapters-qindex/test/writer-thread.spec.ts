import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { qindex, type SqliteQindex } from '../src/index.js'
import { record, tempDir } from './fixtures/records.js'

// These tests need the built writer (`dist/index-writer.js`): `pnpm test` builds it first.
const dirs: (() => void)[] = []
const open: SqliteQindex[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((index) => index.stop()))
  for (const cleanup of dirs.splice(0)) cleanup()
})
function dbPath(): string {
  const { dir, cleanup } = tempDir()
  dirs.push(cleanup)
  return join(dir, 'qindex.sqlite')
}
async function started(init: Parameters<typeof qindex>[0], source?: () => Iterable<ReturnType<typeof record>>): Promise<SqliteQindex> {
  const index = qindex(init)(source === undefined ? {} : { source })
  open.push(index)
  await index.start()
  return index
}
const executions = (n: number, status: string, from = 0) =>
  Array.from({ length: n }, (_, i) => record(`exec-${from + i}`, { kind: 'execution', name: `run ${from + i}`, status, updatedAt: 1_700_000_000_000 + i }))

describe('the writer thread', () => {
  it('writes a file database’s puts off the event loop; reads, archives and deletes see every put made before them', async () => {
    const index = await started({ path: dbPath() })
    expect(index.writesOffThread).toBe(true)
    await Promise.all(executions(500, 'running').map((r) => index.put(r)))
    // Not awaited: a read still sees them, and a write made here comes after them.
    for (const r of executions(500, 'completed')) void index.put(r)
    expect((await index.query({ kind: 'execution', status: 'completed', limit: 1000 })).records).toHaveLength(500)
    for (const r of executions(10, 'failed')) void index.put(r)
    expect(await index.archive('exec-3')).toMatchObject({ key: 'exec-3', status: 'failed', archived: true })
    void index.put(record('exec-4', { kind: 'execution', status: 'aborted' }))
    expect(await index.delete('exec-4')).toBe(true)
    expect((await index.history('exec-3')).map((h) => h.change)).toEqual(['put', 'put', 'put', 'archive'])
    expect(await index.putMany(executions(2, 'paused', 1000))).toBe(2)
    expect((await index.get('exec-1001'))?.status).toBe('paused')
  })

  it('answers each put with its own outcome and loses none when stopped with puts in flight', async () => {
    const path = dbPath()
    const index = await started({ path })
    const puts = executions(300, 'running').map((r) => index.put(r))
    await index.stop()
    await Promise.all(puts)
    const raw = new Database(path, { readonly: true })
    expect(raw.prepare("SELECT count(*) FROM records WHERE kind = 'execution'").pluck().get()).toBe(300)
    expect(raw.prepare('SELECT count(*) FROM history').pluck().get()).toBe(300)
    expect(raw.pragma('quick_check', { simple: true })).toBe('ok')
    raw.close()
  })

  it('keeps puts made during a rebuild, then writes off the event loop again', async () => {
    const source = executions(50, 'completed')
    const index = await started({ path: dbPath() }, () => source)
    const during = index.rebuild()
    const puts = executions(20, 'running', 100).map((r) => index.put(r))
    expect((await during).indexed).toBe(50)
    await Promise.all(puts)
    expect(index.writesOffThread).toBe(true)
    await index.put(record('after', { kind: 'execution', status: 'running' }))
    expect((await index.query({ kind: 'execution', limit: 1000 })).records).toHaveLength(71)
  })

  it('when the writer thread dies, answers the puts it held with their outcome and writes the later ones on the calling thread', async () => {
    const path = dbPath()
    const index = await started({ path })
    await Promise.all(executions(100, 'running').map((r) => index.put(r)))
    // Puts in flight as the thread ends: each is written, or refused with IndexStorageError.
    const held = executions(200, 'completed', 1000).map((r) => index.put(r).then(
      () => ({ key: r.key, outcome: 'written' }),
      (err: unknown) => ({ key: r.key, outcome: (err as Error).name })
    ))
    await new Promise((resolve) => setImmediate(resolve))
    const thread = (index as unknown as { writer: { worker: { terminate(): Promise<number> } } }).writer
    await thread.worker.terminate()
    const outcomes = await Promise.all(held)
    for (const o of outcomes) expect(['written', 'IndexStorageError']).toContain(o.outcome)
    // Later puts are written on this thread; none is lost.
    expect(index.writesOffThread).toBe(false)
    await Promise.all(executions(50, 'paused', 2000).map((r) => index.put(r)))
    expect((await index.query({ kind: 'execution', status: 'paused', limit: 100 })).records).toHaveLength(50)
    for (const o of outcomes.filter((x) => x.outcome === 'written')) expect(await index.get(o.key)).toMatchObject({ key: o.key, status: 'completed' })
    expect((await index.query({ kind: 'execution', status: 'running', limit: 1000 })).records).toHaveLength(100)
    await index.stop()
    const raw = new Database(path, { readonly: true })
    expect(raw.pragma('quick_check', { simple: true })).toBe('ok')
    raw.close()
  })

  it('writes on the calling thread once the writer thread is gone, even with nothing in flight when it went', async () => {
    const index = await started({ path: dbPath() })
    await index.put(record('before', { kind: 'execution', status: 'running' }))
    await (index as unknown as { writer: { worker: { terminate(): Promise<number> } } }).writer.worker.terminate()
    expect(index.writesOffThread).toBe(false)
    await index.put(record('after', { kind: 'execution', status: 'running' }))
    expect((await index.query({ kind: 'execution', limit: 10 })).records.map((r) => r.key).sort()).toEqual(['after', 'before'])
  })

  it('writes on the calling thread when told to, and always for :memory:', async () => {
    expect((await started({ path: dbPath(), writerThread: false })).writesOffThread).toBe(false)
    const memory = await started({})
    expect(memory.writesOffThread).toBe(false)
    await memory.put(record('m'))
    expect(await memory.get('m')).toMatchObject({ key: 'm' })
  })
})
