import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagJson from '@ipld/dag-json'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeBlock } from '../src/codec.js'
import { openStateStorage, type StateStorage } from '../src/index.js'
import { segmentFiles } from './fixtures/segments.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
const open: StateStorage[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()))
  await temp.cleanup()
})

async function storageOn(dataDir: string | undefined, init: Parameters<typeof openStateStorage>[0] = {}): Promise<StateStorage> {
  const storage = await openStateStorage(dataDir === undefined ? { durability: 'memory', ...init } : { dataDir, ...init })
  open.push(storage)
  return storage
}

async function bytesOf(storage: StateStorage, block: ReturnType<typeof encodeBlock>): Promise<string> {
  const chunks: Uint8Array[] = []
  for await (const chunk of storage.blockstore.get(block.cid)) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

describe('log-backed blockstore and datastore', () => {
  for (const mode of ['file', 'memory'] as const) {
    it(`${mode}: the blockstore puts, gets, lists and deletes blocks`, async () => {
      const storage = await storageOn(mode === 'file' ? await temp.make() : undefined)
      const a = encodeBlock({ a: 1 })
      const b = encodeBlock({ b: 2 })
      await storage.blockstore.put(a.cid, a.bytes)
      await storage.blockstore.put(b.cid, (async function* () {
        yield b.bytes.subarray(0, 3)
        yield b.bytes.subarray(3)
      })())
      expect(await bytesOf(storage, a)).toBe('{"a":1}')
      expect(await bytesOf(storage, b)).toBe('{"b":2}')
      const all = []
      for await (const pair of storage.blockstore.getAll()) all.push(pair.cid.toString())
      expect(all.sort()).toEqual([a.cid.toString(), b.cid.toString()].sort())
      await storage.blockstore.delete(a.cid)
      expect(await storage.blockstore.has(a.cid)).toBe(false)
      expect(await storage.readBlock(a.cid)).toBeUndefined()
      await expect(bytesOf(storage, a)).rejects.toMatchObject({ name: 'NotFoundError' })
    })

    it(`${mode}: the datastore puts, gets, queries by prefix, batches and deletes keys`, async () => {
      const storage = await storageOn(mode === 'file' ? await temp.make() : undefined)
      const { datastore } = storage
      await datastore.put(new Key('/x/1'), new Uint8Array([1]))
      const batch = datastore.batch()
      batch.put(new Key('/x/2'), new Uint8Array([2]))
      batch.put(new Key('/y/1'), new Uint8Array([3]))
      batch.delete(new Key('/x/1'))
      await batch.commit()
      expect(await datastore.has(new Key('/x/1'))).toBe(false)
      expect([...(await datastore.get(new Key('/x/2')))]).toEqual([2])
      const keys = []
      for await (const key of datastore.queryKeys({ prefix: '/x' })) keys.push(key.toString())
      expect(keys).toEqual(['/x/2'])
      const pairs = []
      for await (const { key, value } of datastore.query({})) pairs.push([key.toString(), [...value]])
      expect(pairs).toEqual([
        ['/x/2', [2]],
        ['/y/1', [3]]
      ])
      await datastore.delete(new Key('/y/1'))
      await expect(Promise.resolve().then(() => datastore.get(new Key('/y/1')))).rejects.toMatchObject({ name: 'NotFoundError' })
    })
  }

  it('persists blocks, deletes and keys across a reopen, from the checkpoint or from a scan', async () => {
    const dataDir = await temp.make()
    const first = await storageOn(dataDir)
    const kept = encodeBlock({ kept: true })
    const gone = encodeBlock({ gone: true })
    await first.blockstore.put(kept.cid, kept.bytes)
    await first.blockstore.put(gone.cid, gone.bytes)
    await first.blockstore.delete(gone.cid)
    await first.datastore.put(new Key('/k'), new TextEncoder().encode('v1'))
    await first.datastore.put(new Key('/k'), new TextEncoder().encode('v2'))
    // Every byte value in a record, and blocks under a CIDv0 and a raw CIDv1 beside the dag-json
    // ones (the index keeps a block's codec and multihash and rebuilds its CID from them).
    const everyByte = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256)
    await first.datastore.put(new Key('/bytes'), everyByte)
    const rawBytes = new TextEncoder().encode('raw block')
    const rawCid = CID.createV1(raw.code, await sha256.digest(rawBytes))
    const v0Bytes = new TextEncoder().encode('a CIDv0 block')
    const v0Cid = CID.createV0(await sha256.digest(v0Bytes))
    await first.blockstore.put(rawCid, rawBytes)
    await first.blockstore.put(v0Cid, v0Bytes)
    const listed = async (storage: StateStorage) => {
      const cids: string[] = []
      for await (const { cid } of storage.blockstore.getAll()) cids.push(cid.toString())
      return cids.sort()
    }
    const all = [kept.cid, rawCid, v0Cid].map((c) => c.toString()).sort()
    expect(await listed(first)).toEqual(all)
    await first.close()
    open.splice(0)
    for (const checkpoint of [true, false]) {
      if (!checkpoint) await rm(join(dataDir, 'log', 'index.ckpt'))
      const reopened = await storageOn(dataDir)
      expect(dagJson.decode(await reopened.readBlock(kept.cid) as Uint8Array)).toEqual({ kept: true })
      expect(await reopened.blockstore.has(gone.cid)).toBe(false)
      expect(new TextDecoder().decode(await reopened.readRecord(new Key('/k')))).toBe('v2')
      expect(await reopened.readRecord(new Key('/bytes'))).toEqual(everyByte)
      expect(Buffer.from(await reopened.readBlock(rawCid) as Uint8Array).toString()).toBe('raw block')
      expect(Buffer.from(await reopened.readBlock(v0Cid) as Uint8Array).toString()).toBe('a CIDv0 block')
      expect(await listed(reopened)).toEqual(all)
      await reopened.close()
      open.splice(0)
    }
    expect((await segmentFiles(dataDir)).length).toBeGreaterThan(0)
  })

  it('rejects bad options with InvalidInputError', async () => {
    await expect(openStateStorage({ durability: 'sometimes' as never })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/durability' })
    await expect(openStateStorage({ durability: 'memory', segmentBytes: -1 })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/segmentBytes' })
  })
})
