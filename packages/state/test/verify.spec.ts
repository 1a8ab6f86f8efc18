import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import { canonicalBlockBytes, encodeBlock } from '../src/codec.js'
import { HEADS_PREFIX } from '../src/constants.js'
import { headToRecord } from '../src/entry.js'
import { EntrySigner } from '../src/entry-signer.js'
import type { AppendResult, BatchSignature, LogIntegrityError, StateStore } from '../src/index.js'
import { testQlock, testSigner } from './fixtures/crypto.js'
import { blockBytes, corruptInSegment } from './fixtures/segments.js'
import { collect, openStore, type TestIdentity, testIdentity } from './fixtures/store.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
const open: StateStore[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()))
  await temp.cleanup()
})

async function fixture(count = 8): Promise<{ dir: string; identity: TestIdentity; store: StateStore; appended: AppendResult[] }> {
  const dir = await temp.make()
  const identity = testIdentity()
  const store = await openStore(dir, identity)
  open.push(store)
  const appended = [await store.log.append('audit', { kind: 'started', payload: { n: 0 } })]
  for (let i = 1; i < count; i++) appended.push(await store.log.append('audit', { kind: 'step-completed', stepId: `s${i}`, attempt: 1, payload: { n: i } }))
  return { dir, identity, store, appended }
}

describe('verifyExecution', () => {
  it('passes an intact chain, from the execution id or from a head CID', async () => {
    const { store, appended } = await fixture()
    expect(await store.verifyExecution('audit')).toMatchObject({ ok: true, executionId: 'audit', entries: 8 })
    const fromCid = await store.verifyExecution(appended[3]?.cid as CID)
    expect(fromCid).toMatchObject({ ok: true, executionId: 'audit', entries: 4 })
  })

  for (const checkpoint of [true, false]) {
    it(`names a block whose bytes were corrupted in its segment file (bad-cid)${checkpoint ? '' : ', with the index rebuilt by a scan'}`, async () => {
      const { dir, identity, store, appended } = await fixture()
      const target = appended[5] as AppendResult
      const bytes = await blockBytes(store, target.cid)
      await store.stop()
      open.splice(0)
      // Without the checkpoint the open scans the segment and meets the damaged frame mid-log.
      if (!checkpoint) await rm(join(dir, 'log', 'index.ckpt'))
      await corruptInSegment(dir, bytes, (block) => Buffer.from(block.toString('utf8').replace('"kind":"step-completed"', '"kind":"step-completes"')))
      const reopened = await openStore(dir, identity)
      open.push(reopened)
      const report = await reopened.verifyExecution('audit')
      expect(report.ok).toBe(false)
      if (report.ok) return
      expect(report.error.name).toBe('LogIntegrityError')
      expect(report.error).toMatchObject({ seq: 5, reason: 'bad-cid', cid: target.cid.toString() })
      expect(report.entries).toBe(2) // seq 7 and 6 passed before the walk hit 5
      await expect(collect(reopened.log.entries('audit'))).rejects.toMatchObject({ name: 'LogIntegrityError', seq: 5, reason: 'bad-cid' })
      // Entries after the broken one are still readable.
      expect((await collect(reopened.log.entries('audit', { fromSeq: 6 }))).map((e) => e.seq)).toEqual([6, 7])
    })
  }

  it('names a block whose bytes were zeroed on disk (bad-cid) and a deleted one (missing-block)', async () => {
    const { dir, identity, store, appended } = await fixture()
    const bytes = await blockBytes(store, (appended[2] as AppendResult).cid)
    await store.stop()
    open.splice(0)
    await corruptInSegment(dir, bytes, (block) => Buffer.concat([block.subarray(0, 10), Buffer.alloc(block.byteLength - 10)]))
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    let report = await reopened.verifyExecution('audit')
    expect(report.ok ? undefined : report.error).toMatchObject({ seq: 2, reason: 'bad-cid' })
    await reopened.helia.blockstore.delete((appended[4] as AppendResult).cid)
    report = await reopened.verifyExecution('audit')
    // The walk from the head stops at the first break it meets: the missing block at seq 4.
    expect(report.ok ? undefined : report.error).toMatchObject({ seq: 4, reason: 'missing-block' })
  })

  it('names a forged entry whose CID is right but whose signature is not the actor’s (bad-signature)', async () => {
    const { store, identity, appended } = await fixture(3)
    const head = await store.log.head('audit')
    if (head === undefined) throw new Error('no head')
    const intruder = testSigner()
    const payload = await identity.qlock.encrypt(canonicalBlockBytes({ n: 'forged' }), { subnet: 'default', executionId: 'audit', purpose: 'log-entry' })
    const unsigned = {
      v: 1,
      seq: 3,
      prev: (appended[2] as AppendResult).cid,
      executionId: 'audit',
      subnet: 'default',
      kind: 'completed',
      payload,
      actor: identity.signer.did, // claims to be the real actor
      ts: 5
    }
    const forged = encodeBlock({ ...unsigned, signature: await intruder.sign(canonicalBlockBytes(unsigned)) })
    await store.helia.blockstore.put(forged.cid, forged.bytes)
    await store.helia.datastore.put(new Key(`${HEADS_PREFIX}/audit`), canonicalBlockBytes(headToRecord({ ...head, cid: forged.cid, seq: 3, status: 'completed' })))
    const report = await store.verifyExecution('audit')
    expect(report.ok).toBe(false)
    if (report.ok) return
    expect(report.error).toMatchObject({ name: 'LogIntegrityError', seq: 3, reason: 'bad-signature' })
    expect(report.entries).toBe(3)
  })

  for (const forgery of ['an intruder’s batch signature', 'the actor’s batch signature of another entry'] as const) {
    it(`names a forged entry carrying ${forgery} (bad-signature)`, async () => {
      const { store, identity, appended } = await fixture(3)
      const head = await store.log.head('audit')
      if (head === undefined) throw new Error('no head')
      const payload = await identity.qlock.encrypt(canonicalBlockBytes({ n: 'forged' }), { subnet: 'default', executionId: 'audit', purpose: 'log-entry' })
      const unsigned = {
        actor: identity.signer.did,
        executionId: 'audit',
        kind: 'completed',
        payload,
        prev: (appended[2] as AppendResult).cid,
        seq: 3,
        subnet: 'default',
        ts: 5,
        v: 2
      }
      const { dagJson } = await import('@helia/dag-json')
      const genuine = ((await dagJson(store.helia).get((appended[2] as AppendResult).cid)) as { signature: BatchSignature }).signature
      const signature = forgery === 'an intruder’s batch signature' ? await new EntrySigner(testSigner()).sign(canonicalBlockBytes(unsigned)) : genuine
      const forged = encodeBlock({ ...unsigned, signature })
      await store.helia.blockstore.put(forged.cid, forged.bytes)
      await store.helia.datastore.put(new Key(`${HEADS_PREFIX}/audit`), canonicalBlockBytes(headToRecord({ ...head, cid: forged.cid, seq: 3, status: 'completed' })))
      const report = await store.verifyExecution('audit')
      expect(report.ok ? undefined : report.error).toMatchObject({ name: 'LogIntegrityError', seq: 3, reason: 'bad-signature' })
      expect(report.entries).toBe(3)
    })
  }

  it('names entries that do not decrypt under the given key (decrypt-failed), lowest first', async () => {
    const { dir, identity, store } = await fixture(4)
    await store.stop()
    open.splice(0)
    const wrongKey = await openStore(dir, { ...identity, qlock: testQlock() })
    open.push(wrongKey)
    const report = await wrongKey.verifyExecution('audit')
    expect(report.ok).toBe(false)
    if (report.ok) return
    expect(report.error).toMatchObject({ seq: 0, reason: 'decrypt-failed' })
    expect(report.problems.map((p: LogIntegrityError) => [p.seq, p.reason])).toEqual([
      [3, 'decrypt-failed'],
      [2, 'decrypt-failed'],
      [1, 'decrypt-failed'],
      [0, 'decrypt-failed']
    ])
    await expect(collect(wrongKey.log.entries('audit'))).rejects.toMatchObject({ name: 'LogIntegrityError', reason: 'decrypt-failed', seq: 0 })
    // Nothing stored was lost: the right key still reads everything.
    await wrongKey.stop()
    open.splice(0)
    const rightKey = await openStore(dir, identity)
    open.push(rightKey)
    expect((await collect(rightKey.log.entries('audit'))).length).toBe(4)
  })

  it('names a block of another execution spliced into the chain (bad-link) and an unknown execution', async () => {
    const { store } = await fixture(2)
    const other = await store.log.append('other', { kind: 'started' })
    const head = await store.log.head('audit')
    if (head === undefined) throw new Error('no head')
    await store.helia.datastore.put(new Key(`${HEADS_PREFIX}/audit`), canonicalBlockBytes(headToRecord({ ...head, cid: other.cid, seq: 0 })))
    const report = await store.verifyExecution('audit')
    expect(report.ok ? undefined : report.error).toMatchObject({ seq: 0, reason: 'bad-link' })
    await expect(store.verifyExecution('ghost')).rejects.toMatchObject({ name: 'ExecutionNotFoundError' })
  })

  it('names a head record pointing past the chain (seq-gap)', async () => {
    const { store, appended } = await fixture(3)
    const head = await store.log.head('audit')
    if (head === undefined) throw new Error('no head')
    await store.helia.datastore.put(new Key(`${HEADS_PREFIX}/audit`), canonicalBlockBytes(headToRecord({ ...head, cid: (appended[1] as AppendResult).cid, seq: 2 })))
    const report = await store.verifyExecution('audit')
    expect(report.ok ? undefined : report.error).toMatchObject({ seq: 2, reason: 'seq-gap' })
  })

  it('reports a corrupt head record with a typed error', async () => {
    const { store } = await fixture(1)
    await store.helia.datastore.put(new Key(`${HEADS_PREFIX}/audit`), new TextEncoder().encode('{"v":1,'))
    await expect(store.verifyExecution('audit')).rejects.toMatchObject({ name: 'CorruptRecordError' })
    await expect(store.log.listExecutions()).rejects.toMatchObject({ name: 'CorruptRecordError' })
  })
})
