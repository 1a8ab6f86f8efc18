import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import type { AppendResult, StateStore } from '../src/index.js'
import { drain } from './fixtures/drain.js'
import { blockBytes, findInSegments, segmentFiles } from './fixtures/segments.js'
import { collect, openStore, testIdentity } from './fixtures/store.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
const open: StateStore[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()))
  await temp.cleanup()
})

/** Whether a block's bytes are anywhere in the data dir's segment files. */
async function onDisk(dir: string, bytes: Uint8Array): Promise<boolean> {
  return (await findInSegments(dir, bytes)) !== undefined
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
    const old1Bytes = await Promise.all(old1.map((a) => blockBytes(store, a.cid)))
    const liveBytes = await Promise.all(live.map((a) => blockBytes(store, a.cid)))
    const report = await store.gc({ olderThan: 5_000, keepLast: 1 })
    // keepLast keeps the most recently finished one (recent, also too young); kept is pinned.
    expect([...report.removedExecutions].sort()).toEqual(['old-1', 'old-2'])
    expect(report.removedBlocks).toBe(6)
    for (const a of old1) expect(await store.helia.blockstore.has(a.cid)).toBe(false)
    for (const a of live) expect(await store.helia.blockstore.has(a.cid)).toBe(true)
    expect((await store.log.listExecutions()).map((h) => h.executionId)).toEqual(['kept', 'live', 'paused', 'recent'])
    expect((await store.verifyExecution('live')).ok).toBe(true)
    expect((await store.verifyExecution('kept')).ok).toBe(true)
    await expect(collect(store.log.entries('old-1'))).rejects.toMatchObject({ name: 'ExecutionNotFoundError' })
    // keepLast 0 and no age limit: everything finished and unpinned goes; live ones never.
    await store.log.unpin('kept')
    const second = await store.gc()
    expect([...second.removedExecutions].sort()).toEqual(['kept', 'recent'])
    expect((await store.log.listExecutions()).map((h) => h.executionId)).toEqual(['live', 'paused'])
    // Most of the first segment is now deleted: compaction rewrote what lives and unlinked it.
    for (const bytes of old1Bytes) expect(await onDisk(dir, bytes)).toBe(false)
    for (const bytes of liveBytes) expect(await onDisk(dir, bytes)).toBe(true)
    // Nothing comes back after a reopen, from the checkpoint or from a scan of the whole log.
    await store.stop()
    open.splice(0)
    for (const checkpoint of [true, false]) {
      if (!checkpoint) await rm(join(dir, 'log', 'index.ckpt'))
      const reopened = await openStore(dir, identity)
      expect((await reopened.log.listExecutions()).map((h) => h.executionId)).toEqual(['live', 'paused'])
      for (const a of old1) expect(await reopened.helia.blockstore.has(a.cid)).toBe(false)
      expect((await reopened.verifyExecution('live')).ok).toBe(true)
      await reopened.stop()
    }
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
    for (const a of appended) expect(await onDisk(dir, await blockBytes(store, a.cid))).toBe(true)
    await expect(store.gc({ olderThan: -1 })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/olderThan' })
  })

  it('compacts: segments that are mostly deleted are rewritten and unlinked, live blocks kept', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const store = await openStore(dir, identity, { segmentBytes: 8 * 1024 })
    open.push(store)
    for (let i = 0; i < 30; i++) await run(store, `done-${i}`, 'completed', i)
    const live = await run(store, 'live', undefined, 100)
    const doneBytes = await blockBytes(store, (await store.log.head('done-3'))?.cid as CID)
    const before = await segmentFiles(dir)
    expect(before.length).toBeGreaterThan(3)
    const report = await store.gc()
    expect(report.removedExecutions.length).toBe(30)
    expect(report.removedBlocks).toBe(90)
    const after = await segmentFiles(dir)
    // The sealed segments went; what is left is the live data copied forward and the new tail.
    expect(after.filter((f) => before.includes(f))).toEqual([])
    expect(await onDisk(dir, doneBytes)).toBe(false)
    for (const a of live) expect(await onDisk(dir, await blockBytes(store, a.cid))).toBe(true)
    expect((await store.verifyExecution('live')).ok).toBe(true)
    await store.log.append('live', { kind: 'completed' })
    await store.stop()
    open.splice(0)
    await rm(join(dir, 'log', 'index.ckpt'))
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    expect((await reopened.log.listExecutions()).map((h) => [h.executionId, h.status])).toEqual([['live', 'completed']])
    expect((await collect(reopened.log.entries('live'))).map((e) => e.kind)).toEqual(['started', 'step-completed', 'completed'])
  })

  it('removes more executions than it takes at once: exactly those beyond keepLast, for good', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const store = await openStore(dir, identity)
    open.push(store)
    const ids = Array.from({ length: 150 }, (_, i) => `run-${String(i).padStart(3, '0')}`)
    // Finished in id order: the 20 newest are run-130 to run-149.
    for (let i = 0; i < ids.length; i++) await run(store, ids[i] as string, 'completed', 1_000 + 10 * i)
    const report = await store.gc({ keepLast: 20 })
    expect([...report.removedExecutions].sort()).toEqual(ids.slice(0, 130))
    expect(report.removedBlocks).toBe(390)
    await store.stop()
    open.splice(0)
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    expect((await reopened.log.listExecutions()).map((h) => h.executionId)).toEqual(ids.slice(130))
    expect((await reopened.gc({ keepLast: 20 })).removedExecutions).toEqual([])
  })

  it('keeps the finished executions its keep predicate answers true for', async () => {
    const store = await openStore(await temp.make(), testIdentity())
    open.push(store)
    for (const id of ['parent.sub.1', 'other', 'lone']) await run(store, id, 'completed', 1)
    const asked: string[] = []
    const report = await store.gc({
      keep: (head) => {
        asked.push(head.executionId)
        return head.executionId.startsWith('parent.')
      }
    })
    expect([...report.removedExecutions].sort()).toEqual(['lone', 'other'])
    expect(asked.sort()).toEqual(['lone', 'other', 'parent.sub.1'])
    expect((await store.log.listExecutions()).map((h) => h.executionId)).toEqual(['parent.sub.1'])
  })

  it('ends early once its signal is aborted, leaving the rest for the next gc', async () => {
    const store = await openStore(await temp.make(), testIdentity())
    open.push(store)
    for (let i = 0; i < 3; i++) await run(store, `done-${i}`, 'completed', i)
    const controller = new AbortController()
    const stopped = store.gc({ signal: controller.signal })
    controller.abort()
    expect(await stopped).toEqual({ removedExecutions: [], removedBlocks: 0, aborted: true })
    expect(await store.log.listExecutions()).toHaveLength(3)
    expect(await store.gc({ signal: new AbortController().signal })).toMatchObject({ removedBlocks: 9, aborted: false })
    expect(await store.log.listExecutions()).toEqual([])
  })
})
