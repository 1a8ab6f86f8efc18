import { verify } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { canonicalBlockBytes } from '../src/codec.js'
import { type BatchSignature, batchSignedMessage, leafHash, rootFromProof, type StateStore } from '../src/index.js'
import { testQlock, testSigner, testVerifier } from './fixtures/crypto.js'
import { collect, openStore, testIdentity } from './fixtures/store.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
const open: StateStore[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()))
  await temp.cleanup()
})

async function store(dir?: string, identity = testIdentity(), init = {}): Promise<StateStore> {
  const s = await openStore(dir ?? (await temp.make()), identity, init)
  open.push(s)
  return s
}

describe('execution log', () => {
  it('appends hash-linked entries and reads them back decrypted, in order', async () => {
    const s = await store()
    const a = await s.log.append('exec-1', { kind: 'started', payload: { input: 42 }, ts: 1000 })
    const b = await s.log.append('exec-1', { kind: 'step-dispatched', stepId: 'fetch', attempt: 1, payload: { url: 'x' }, ts: 1001 })
    const c = await s.log.append('exec-1', { kind: 'step-completed', stepId: 'fetch', attempt: 1, payload: new Uint8Array([1, 2, 3]), ts: 1002 })
    expect([a.seq, b.seq, c.seq]).toEqual([0, 1, 2])
    const entries = await collect(s.log.entries('exec-1'))
    expect(entries.map((e) => [e.seq, e.kind, e.stepId, e.attempt])).toEqual([
      [0, 'started', undefined, undefined],
      [1, 'step-dispatched', 'fetch', 1],
      [2, 'step-completed', 'fetch', 1]
    ])
    expect(entries[0]?.payload).toEqual({ input: 42 })
    expect(entries[2]?.payload).toEqual(new Uint8Array([1, 2, 3]))
    expect(entries[0]?.prev).toBeNull()
    expect(entries[1]?.prev?.toString()).toBe(a.cid.toString())
    expect(entries[2]?.prev?.toString()).toBe(b.cid.toString())
    expect(entries[2]?.cid.toString()).toBe(c.cid.toString())
    expect(entries[0]?.subnet).toBe('default')
    expect(c.cid.version).toBe(1)
    expect(c.cid.code).toBe(0x0129) // dag-json
    expect(c.cid.multihash.code).toBe(0x12) // sha2-256
  })

  it('stores the payload encrypted and the entry signed by the actor', async () => {
    const identity = testIdentity()
    const s = await store(undefined, identity)
    const { cid } = await s.log.append('exec-enc', { kind: 'started', payload: { secret: 'hunter2' } })
    const { dagJson } = await import('@helia/dag-json')
    const block = (await dagJson(s.helia).get(cid)) as Record<string, unknown>
    expect(block['actor']).toBe(identity.signer.did)
    expect(block['v']).toBe(2)
    // The signature covers the Merkle root of its batch; the entry carries its inclusion proof.
    const signature = block['signature'] as BatchSignature
    expect(signature).toMatchObject({ index: 0, size: 1 })
    expect(signature.value.length).toBe(64)
    const { signature: _signature, ...unsigned } = block
    const root = rootFromProof(leafHash(canonicalBlockBytes(unsigned)), signature.index, signature.size, signature.path)
    expect(root).toBeDefined()
    const publicKey = (identity.signer as ReturnType<typeof testSigner>).publicKey
    expect(verify(null, batchSignedMessage(root as Uint8Array), publicKey, signature.value)).toBe(true)
    expect(verify(null, batchSignedMessage(new Uint8Array(32)), publicKey, signature.value)).toBe(false)
    const bytes = new TextEncoder().encode(JSON.stringify(block))
    expect(new TextDecoder().decode(bytes)).not.toContain('hunter2')
    const payload = block['payload'] as Record<string, unknown>
    expect(payload['alg']).toBe('A256GCM')
  })

  it('signs the entries appended in one turn with one signature, each with its own proof', async () => {
    const signer = testSigner()
    let signatures = 0
    const counting = {
      did: signer.did,
      sign: (data: Uint8Array) => {
        signatures++
        return signer.sign(data)
      }
    }
    const s = await store(undefined, { qlock: testQlock(), signer: counting, verifier: testVerifier() })
    const started = await Promise.all(Array.from({ length: 40 }, (_, i) => s.log.append(`batch-${i}`, { kind: 'started', payload: { i } })))
    expect(signatures).toBe(1)
    const { dagJson } = await import('@helia/dag-json')
    const blocks = (await Promise.all(started.map((r) => dagJson(s.helia).get(r.cid)))) as { signature: BatchSignature }[]
    expect(new Set(blocks.map((b) => b.signature.index))).toEqual(new Set(Array.from({ length: 40 }, (_, i) => i)))
    // 40 leaves: a full tree of 32 (proofs of 6 hashes) beside one of 8 (4 hashes).
    const depths = blocks.map((b) => [b.signature.size, b.signature.index < 32 ? 6 : 4, b.signature.path.length / 32])
    expect(depths.filter(([size, want, got]) => size !== 40 || want !== got)).toEqual([])
    for (let i = 0; i < 40; i++) expect(await s.verifyExecution(`batch-${i}`)).toMatchObject({ ok: true, entries: 1 })
  })

  it('tracks the head, its status and lists executions by status', async () => {
    const s = await store()
    await s.log.append('run-a', { kind: 'started', ts: 10 })
    await s.log.append('run-b', { kind: 'started', ts: 11 })
    await s.log.append('run-b', { kind: 'paused', ts: 12 })
    await s.log.append('run-c', { kind: 'started', ts: 13 })
    const done = await s.log.append('run-c', { kind: 'completed', payload: { result: 1 }, ts: 14 })
    const head = await s.log.head('run-c')
    expect(head).toMatchObject({ executionId: 'run-c', seq: 1, status: 'completed', startedAt: 13, updatedAt: 14, snapshot: null, pinned: false })
    expect(head?.cid.toString()).toBe(done.cid.toString())
    expect(await s.log.head('nope')).toBeUndefined()
    expect((await s.log.listExecutions()).map((h) => [h.executionId, h.status])).toEqual([
      ['run-a', 'running'],
      ['run-b', 'paused'],
      ['run-c', 'completed']
    ])
    expect((await s.log.listExecutions({ status: 'paused' })).map((h) => h.executionId)).toEqual(['run-b'])
    expect((await s.log.listExecutions({ status: ['running', 'completed'] })).map((h) => h.executionId)).toEqual(['run-a', 'run-c'])
  })

  it('reads from a sequence number on', async () => {
    const s = await store()
    await s.log.append('e', { kind: 'started' })
    for (let i = 1; i < 10; i++) await s.log.append('e', { kind: 'step-completed', stepId: `s${i}`, payload: i })
    const tail = await collect(s.log.entries('e', { fromSeq: 7 }))
    expect(tail.map((e) => e.payload)).toEqual([7, 8, 9])
    expect(await collect(s.log.entries('e', { fromSeq: 10 }))).toEqual([])
    const all = await collect(s.log.entries('e', { verifySignatures: true }))
    expect(all).toHaveLength(10)
  })

  it('keeps call order for concurrent appends to one execution', async () => {
    const s = await store()
    await s.log.append('c', { kind: 'started' })
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => s.log.append('c', { kind: 'step-completed', payload: i })))
    expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    const entries = await collect(s.log.entries('c', { fromSeq: 1 }))
    expect(entries.map((e) => e.payload)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect((await s.verifyExecution('c')).ok).toBe(true)
  })

  it('rejects bad input with typed errors and stores nothing', async () => {
    const s = await store()
    await expect(s.log.append('x', { kind: 'step-completed' })).rejects.toMatchObject({ name: 'ExecutionNotFoundError', executionId: 'x' })
    await expect(s.log.append('../etc', { kind: 'started' })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/executionId' })
    await expect(s.log.append('x', { kind: 'Started!' })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/kind' })
    await expect(s.log.append('x', { kind: 'started', attempt: 0 })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/attempt' })
    await expect(s.log.append('x', { kind: 'started', payload: { f: () => 1 } })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/payload' })
    expect(await s.log.listExecutions()).toEqual([])
    await s.log.append('x', { kind: 'started' })
    await expect(s.log.append('x', { kind: 'started' })).rejects.toMatchObject({ name: 'ExecutionExistsError' })
    await s.log.append('x', { kind: 'aborted' })
    await expect(s.log.append('x', { kind: 'resumed' })).rejects.toMatchObject({ name: 'ExecutionFinishedError', status: 'aborted' })
    expect((await s.log.head('x'))?.seq).toBe(1)
    await expect(collect(s.log.entries('missing'))).rejects.toMatchObject({ name: 'ExecutionNotFoundError' })
    await expect(collect(s.log.entries('x', { fromSeq: -1 }))).rejects.toMatchObject({ name: 'InvalidInputError' })
  })

  it('opens a log with a final entry when asked (opens), and only a new one', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const first = await openStore(dir, identity)
    const { seq } = await first.log.append('one-shot', { kind: 'completed', opens: true, stepId: 'last', attempt: 1, payload: { output: 7 }, subnet: 'dao-3', ts: 5000, startedAt: 4990 })
    expect(seq).toBe(0)
    // Without `opens`, a final entry still needs an execution to end; with it, one that is new.
    await expect(first.log.append('other', { kind: 'completed', payload: { output: 1 } })).rejects.toMatchObject({ name: 'ExecutionNotFoundError' })
    await expect(first.log.append('one-shot', { kind: 'failed', opens: true })).rejects.toMatchObject({ name: 'ExecutionExistsError' })
    await expect(first.log.append('fresh', { kind: 'step-completed', opens: true })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/opens' })
    await expect(first.log.append('fresh', { kind: 'started', opens: 'yes' as never })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/opens' })
    await expect(first.log.append('fresh', { kind: 'started', startedAt: 1 })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/startedAt' })
    await expect(first.log.append('fresh', { kind: 'failed', opens: true, startedAt: -1 })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/startedAt' })
    expect((await first.log.listExecutions()).map((h) => h.executionId)).toEqual(['one-shot'])
    await first.stop()

    const second = await store(dir, identity)
    const head = await second.log.head('one-shot')
    expect(head).toMatchObject({ seq: 0, status: 'completed', subnet: 'dao-3', startedAt: 4990, updatedAt: 5000 })
    const entries = await collect(second.log.entries('one-shot', { verifySignatures: true }))
    expect(entries.map((e) => [e.seq, e.kind, e.stepId, e.attempt, e.prev, e.payload])).toEqual([[0, 'completed', 'last', 1, null, { output: 7 }]])
    expect((await second.verifyExecution('one-shot')).ok).toBe(true)
    await expect(second.log.append('one-shot', { kind: 'resumed' })).rejects.toMatchObject({ name: 'ExecutionFinishedError', status: 'completed' })
  })

  it('reopens from disk and reads everything back', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const first = await openStore(dir, identity)
    await first.log.append('persist', { kind: 'started', payload: { n: 0 }, subnet: 'dao-7' })
    for (let i = 1; i <= 20; i++) await first.log.append('persist', { kind: 'step-completed', stepId: `s${i}`, payload: { n: i } })
    const head = await first.log.head('persist')
    await first.stop()
    const second = await store(dir, identity)
    expect((await second.log.head('persist'))?.cid.toString()).toBe(head?.cid.toString())
    const entries = await collect(second.log.entries('persist'))
    expect(entries.map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: 21 }, (_, i) => i))
    expect(entries.every((e) => e.subnet === 'dao-7')).toBe(true)
    await second.log.append('persist', { kind: 'completed' })
    expect((await second.log.head('persist'))?.status).toBe('completed')
  })

  it('runs in batched and memory modes', async () => {
    for (const durability of ['batched', 'memory'] as const) {
      const s = await store(undefined, testIdentity(), { durability })
      await s.log.append('m', { kind: 'started' })
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => s.log.append('m', { kind: 'step-completed', payload: i })))
      expect(results.at(-1)?.seq).toBe(100)
      expect((await collect(s.log.entries('m'))).length).toBe(101)
      expect((await s.verifyExecution('m')).ok).toBe(true)
    }
  })
})
