import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AppendResult, StateStore } from '../src/index.js'
import { testQlock, testSigner, testVerifier } from './fixtures/crypto.js'
import { checkpointPosition, segmentFiles } from './fixtures/segments.js'
import { collect, openStore, testIdentity } from './fixtures/store.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
// tsx's loader in this very process (its CLI would spawn a grandchild that SIGKILL does not reach).
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const open: StateStore[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop().catch(() => undefined)))
  await temp.cleanup()
})

describe('durability', () => {
  it('fsync mode: a new instance on the same dir, without stop, sees every acknowledged entry', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const crashed = await openStore(dir, identity, { durability: 'fsync' })
    open.push(crashed)
    const acked: AppendResult[] = [await crashed.log.append('crash', { kind: 'started', payload: 0 })]
    for (let i = 1; i < 40; i++) acked.push(await crashed.log.append('crash', { kind: 'step-completed', payload: i }))
    const fresh = await openStore(dir, identity)
    open.push(fresh)
    const entries = await collect(fresh.log.entries('crash'))
    expect(entries.map((e) => e.cid.toString())).toEqual(acked.map((a) => a.cid.toString()))
    expect(entries.map((e) => e.payload)).toEqual(Array.from({ length: 40 }, (_, i) => i))
    expect((await fresh.verifyExecution('crash')).ok).toBe(true)
  })

  it('loads the index checkpoint and scans the frames after it; without it, rebuilds by scanning every segment', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const crashed = await openStore(dir, identity)
    open.push(crashed)
    const acked: AppendResult[] = [await crashed.log.append('lost', { kind: 'started' })]
    for (let i = 1; i < 5; i++) acked.push(await crashed.log.append('lost', { kind: 'step-completed', payload: i }))
    await crashed.checkpoint()
    const covered = await checkpointPosition(dir)
    for (let i = 5; i < 10; i++) acked.push(await crashed.log.append('lost', { kind: 'step-completed', payload: i }))
    const [segment] = await segmentFiles(dir)
    // Five entries were appended after the checkpoint: it covers less than the segment holds.
    expect(covered?.off).toBeGreaterThan(0)
    expect(covered?.off).toBeLessThan((await stat(segment as string)).size)
    const fresh = await openStore(dir, identity)
    open.push(fresh)
    expect((await fresh.log.head('lost'))?.seq).toBe(9)
    expect((await collect(fresh.log.entries('lost'))).map((e) => e.cid.toString())).toEqual(acked.map((a) => a.cid.toString()))
    await rm(join(dir, 'log', 'index.ckpt'))
    const rescanned = await openStore(dir, identity)
    open.push(rescanned)
    expect((await rescanned.log.head('lost'))?.seq).toBe(9)
    expect((await collect(rescanned.log.entries('lost'))).length).toBe(10)
    expect((await rescanned.verifyExecution('lost')).ok).toBe(true)
  })

  it('ignores a torn frame at a segment tail, keeps everything acknowledged and appends after it', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const crashed = await openStore(dir, identity)
    open.push(crashed)
    await crashed.log.append('torn', { kind: 'started' })
    await crashed.log.append('torn', { kind: 'paused' })
    const [segment] = await segmentFiles(dir)
    // A frame header whose body never reached the disk.
    await appendFile(segment as string, new Uint8Array([0x51, 0x46, 0x4c, 0x31, 0, 0, 1, 0, 9, 9, 9, 9, 1, 2, 3]))
    const fresh = await openStore(dir, identity)
    open.push(fresh)
    expect((await fresh.log.head('torn'))?.status).toBe('paused')
    expect((await collect(fresh.log.entries('torn'))).map((e) => e.kind)).toEqual(['started', 'paused'])
    await fresh.log.append('torn', { kind: 'resumed' })
    await fresh.stop()
    await rm(join(dir, 'log', 'index.ckpt'))
    const again = await openStore(dir, identity)
    open.push(again)
    expect((await collect(again.log.entries('torn'))).map((e) => e.kind)).toEqual(['started', 'paused', 'resumed'])
  })

  it('batched mode: concurrent appends share fsyncs and all survive a reopen without stop', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const crashed = await openStore(dir, identity, { durability: 'batched', batchDelayMs: 5, batchMaxEntries: 16 })
    open.push(crashed)
    const ids = ['b1', 'b2', 'b3', 'b4']
    await Promise.all(ids.map((id) => crashed.log.append(id, { kind: 'started' })))
    await Promise.all(ids.flatMap((id) => Array.from({ length: 25 }, (_, i) => crashed.log.append(id, { kind: 'step-completed', payload: i }))))
    const fresh = await openStore(dir, identity)
    open.push(fresh)
    for (const id of ids) {
      const entries = await collect(fresh.log.entries(id, { fromSeq: 1 }))
      expect(entries.map((e) => e.payload)).toEqual(Array.from({ length: 25 }, (_, i) => i))
    }
  })

  it('checkpoints the index when the log grows past checkpointBytes, and on stop', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const store = await openStore(dir, identity, { checkpointBytes: 4096 })
    open.push(store)
    await store.log.append('cp', { kind: 'started' })
    expect(await checkpointPosition(dir)).toBeUndefined()
    const [segment] = await segmentFiles(dir)
    for (let i = 0; i < 30; i++) {
      await store.log.append('cp', { kind: 'step-completed', payload: 'x'.repeat(200) })
      // Checkpoints are written in the background, commits going on meanwhile: one lands soon after.
      await vi.waitFor(async () => {
        const covered = (await checkpointPosition(dir))?.off ?? 0
        expect((await stat(segment as string)).size - covered).toBeLessThan(4096)
      })
    }
    await store.log.append('cp', { kind: 'completed' })
    await store.stop()
    expect((await checkpointPosition(dir))?.off).toBe((await stat(segment as string)).size)
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    expect((await reopened.log.head('cp'))?.seq).toBe(31)
  })

  it('refuses writes with StoreFailedError after a failed commit; a reopen has everything acknowledged', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    // Tiny segments: every commit starts a new segment file.
    const store = await openStore(dir, identity, { segmentBytes: 1 })
    open.push(store)
    await store.log.append('fail', { kind: 'started' })
    // Make the log directory unusable: it becomes a file, so no new segment can be created.
    await rename(join(dir, 'log'), join(dir, 'log.away'))
    await writeFile(join(dir, 'log'), 'not a directory')
    await expect(store.log.append('fail', { kind: 'step-completed', payload: 'lost' })).rejects.toMatchObject({ name: 'StoreFailedError' })
    await expect(store.log.append('fail', { kind: 'completed' })).rejects.toMatchObject({ name: 'StoreFailedError' })
    await store.stop()
    open.splice(0)
    await rm(join(dir, 'log'))
    await rename(join(dir, 'log.away'), join(dir, 'log'))
    const fresh = await openStore(dir, identity)
    open.push(fresh)
    expect((await fresh.verifyExecution('fail')).ok).toBe(true)
    expect((await collect(fresh.log.entries('fail'))).map((e) => e.kind)).toEqual(['started'])
    await fresh.log.append('fail', { kind: 'completed' })
    expect((await fresh.log.head('fail'))?.status).toBe('completed')
  })
})

describe('stop', () => {
  it('waits for in-flight batched appends, which are then durable', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const store = await openStore(dir, identity, { durability: 'batched', batchDelayMs: 50, batchMaxEntries: 1_000 })
    await store.log.append('late', { kind: 'started' })
    const pending = Array.from({ length: 20 }, (_, i) => store.log.append('late', { kind: 'step-completed', payload: i }))
    await store.stop()
    expect((await Promise.all(pending)).map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    const [segment] = await segmentFiles(dir)
    expect((await checkpointPosition(dir))?.off).toBe((await stat(segment as string)).size)
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    expect((await reopened.log.head('late'))?.seq).toBe(20)
  })
})

describe('kill -9', () => {
  for (const durability of ['fsync', 'batched'] as const) {
    it(`${durability} mode: every append acknowledged before SIGKILL is there after a reopen`, async () => {
      const dir = await temp.make()
      const key = randomBytes(32)
      const signer = testSigner()
      const child = spawn(process.execPath, ['--import', tsxLoader, fileURLToPath(new URL('./fixtures/append-child.ts', import.meta.url))], {
        env: { ...process.env, STATE_DIR: dir, STATE_DURABILITY: durability, STATE_KEY: key.toString('hex'), STATE_SIGNER: signer.privateKeyPem },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      const acked = new Map<number, string>()
      let buffered = ''
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString()
          const lines = buffered.split('\n')
          buffered = lines.pop() ?? ''
          for (const line of lines) {
            const [, seq, cid] = line.split(' ')
            acked.set(Number(seq), cid as string)
          }
          if (acked.size >= 200) {
            child.kill('SIGKILL')
            resolve()
          }
        })
        child.on('exit', (code) => (acked.size >= 200 ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`))))
      })
      await exited
      const store = await openStore(dir, { qlock: testQlock({ default: key }), signer, verifier: testVerifier() })
      open.push(store)
      const head = await store.log.head('killed')
      expect(head?.seq).toBeGreaterThanOrEqual(Math.max(...acked.keys()))
      const stored = new Map((await collect(store.log.entries('killed'))).map((e) => [e.seq, e.cid.toString()]))
      for (const [seq, cid] of acked) expect(stored.get(seq)).toBe(cid)
      expect((await store.verifyExecution('killed')).ok).toBe(true)
    })
  }
})
