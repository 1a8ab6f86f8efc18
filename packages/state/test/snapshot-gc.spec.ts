import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import type { AppendResult, StateStore } from '../src/index.js'
import { drain } from './fixtures/drain.js'
import { collect, openStore, testIdentity } from './fixtures/store.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
const open: StateStore[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()))
  await temp.cleanup()
})

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false
  )
}

function blockFile(dir: string, cid: CID): string {
  const { dir: shard, file } = new NextToLast().encode(cid)
  return join(dir, 'blocks', shard, file)
}

describe('snapshots', () => {
  it('records the latest snapshot in the head and resumes from it', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const store = await openStore(dir, identity)
    open.push(store)
    await store.log.append('long', { kind: 'started', payload: { total: 0 } })
    let total = 0
    for (let i = 1; i <= 30; i++) {
      await store.log.append('long', { kind: 'step-completed', stepId: `s${i}`, payload: { add: i } })
      total += i
      if (i % 10 === 0) await store.log.snapshot('long', { total, through: i })
    }
    await store.log.append('long', { kind: 'step-completed', stepId: 's31', payload: { add: 31 } })
    const head = await store.log.head('long')
    expect(head?.snapshot?.seq).toBe(33) // started at 0, snapshots at 11, 22 and 33, the last step at 34
    const snap = await store.log.latestSnapshot('long')
    expect(snap?.state).toEqual({ total: 465, through: 30 })
    const resume = await store.log.resume('long')
    expect(resume.snapshot?.seq).toBe(snap?.seq)
    expect(resume.entries.map((e) => e.payload)).toEqual([{ add: 31 }])
    // Reduce the resumed tail on top of the snapshot.
    const base = resume.snapshot?.state as { total: number } | undefined
    const state = resume.entries.reduce((acc, e) => acc + (e.payload as { add: number }).add, base?.total ?? 0)
    expect(state).toBe(496)
    await store.stop()
    open.splice(0)
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    expect((await reopened.log.latestSnapshot('long'))?.state).toEqual({ total: 465, through: 30 })
  })

  it('resumes an execution without snapshot from its first entry', async () => {
    const store = await openStore(await temp.make(), testIdentity(), { durability: 'memory' })
    open.push(store)
    await store.log.append('plain', { kind: 'started' })
    await store.log.append('plain', { kind: 'paused' })
    expect(await store.log.latestSnapshot('plain')).toBeUndefined()
    const resume = await store.log.resume('plain')
    expect(resume.snapshot).toBeUndefined()
    expect(resume.entries.map((e) => e.kind)).toEqual(['started', 'paused'])
    await expect(store.log.latestSnapshot('none')).rejects.toMatchObject({ name: 'ExecutionNotFoundError' })
  })
})

describe('gc', () => {
  async function run(store: StateStore, id: string, end: string | undefined, ts: number): Promise<AppendResult[]> {
    const out = [await store.log.append(id, { kind: 'started', ts })]
    out.push(await store.log.append(id, { kind: 'step-completed', ts: ts + 1 }))
    if (end !== undefined) out.push(await store.log.append(id, { kind: end, ts: ts + 2 }))
    return out
  }

  it('removes finished, unpinned executions by age and keepLast, never live ones', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    let now = 10_000
    const store = await openStore(dir, identity, { now: () => now })
    open.push(store)
    const old1 = await run(store, 'old-1', 'completed', 100)
    await run(store, 'old-2', 'failed', 200)
    await run(store, 'recent', 'completed', 9_000)
    const live = await run(store, 'live', undefined, 50)
    await run(store, 'paused', 'paused', 60)
    await run(store, 'kept', 'aborted', 10)
    await store.log.pin('kept')
    now = 10_000
    const report = await store.gc({ olderThan: 5_000, keepLast: 1 })
    // keepLast keeps the most recently finished one (recent, also too young); kept is pinned.
    expect([...report.removedExecutions].sort()).toEqual(['old-1', 'old-2'])
    expect(report.removedBlocks).toBe(6)
    for (const a of old1) expect(await exists(blockFile(dir, a.cid))).toBe(false)
    for (const a of live) expect(await exists(blockFile(dir, a.cid))).toBe(true)
    expect((await store.log.listExecutions()).map((h) => h.executionId)).toEqual(['kept', 'live', 'paused', 'recent'])
    expect((await store.verifyExecution('live')).ok).toBe(true)
    expect((await store.verifyExecution('kept')).ok).toBe(true)
    await expect(collect(store.log.entries('old-1'))).rejects.toMatchObject({ name: 'ExecutionNotFoundError' })
    // keepLast 0 and no age limit: everything finished and unpinned goes; live ones never.
    await store.log.unpin('kept')
    const second = await store.gc()
    expect([...second.removedExecutions].sort()).toEqual(['kept', 'recent'])
    expect((await store.log.listExecutions()).map((h) => h.executionId)).toEqual(['live', 'paused'])
    // Nothing comes back from the journal after a reopen.
    await store.stop()
    open.splice(0)
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    expect((await reopened.log.listExecutions()).map((h) => h.executionId)).toEqual(['live', 'paused'])
  })

  it('does not remove an execution pinned while gc runs', async () => {
    const store = await openStore(await temp.make(), testIdentity())
    open.push(store)
    await run(store, 'racing', 'completed', 1)
    await run(store, 'other', 'completed', 2)
    const pinned = store.log.pin('racing')
    const report = await store.gc()
    await pinned
    expect(report.removedExecutions).toEqual(['other'])
    expect((await store.log.head('racing'))?.pinned).toBe(true)
    expect((await store.verifyExecution('racing')).ok).toBe(true)
  })

  it('keeps blocks pinned in Helia', async () => {
    const dir = await temp.make()
    const store = await openStore(dir, testIdentity())
    open.push(store)
    const appended = await run(store, 'archived', 'completed', 1)
    await drain(store.helia.pins.add(appended[2]?.cid as CID))
    const report = await store.gc()
    expect(report.removedExecutions).toEqual(['archived'])
    expect(report.removedBlocks).toBe(0)
    for (const a of appended) expect(await exists(blockFile(dir, a.cid))).toBe(true)
    await expect(store.gc({ olderThan: -1 })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/olderThan' })
  })
})
