import { dagJson } from '@helia/dag-json'
import { afterEach, describe, expect, it } from 'vitest'
import { createLightHelia } from '../src/helia-node.js'
import { createStateStore, openStateStorage, type StateStore, stateStore } from '../src/index.js'
import { collect, testIdentity } from './fixtures/store.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
const open: StateStore[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()))
  await temp.cleanup()
})

describe('state store', () => {
  it('polyfills Promise.withResolvers for Node 20', () => {
    const { promise, resolve } = (Promise as unknown as { withResolvers<T>(): { promise: Promise<T>; resolve(v: T): void } }).withResolvers<number>()
    resolve(7)
    return expect(promise).resolves.toBe(7)
  })

  it('fails at construction when a component is missing', () => {
    const { qlock, signer, verifier } = testIdentity()
    expect(() => stateStore()({ qlock, signer } as never)).toThrow(expect.objectContaining({ name: 'MissingComponentError', component: 'verifier' }))
    expect(() => stateStore()({ signer, verifier } as never)).toThrow(expect.objectContaining({ name: 'MissingComponentError', component: 'qlock' }))
  })

  it('refuses use before start and after stop', async () => {
    const store = stateStore({ dataDir: await temp.make() })(testIdentity())
    expect(() => store.log).toThrow(expect.objectContaining({ name: 'StoreNotStartedError' }))
    await store.start()
    await store.start()
    await store.log.append('s', { kind: 'started' })
    await store.stop()
    await store.stop()
    expect(() => store.flows).toThrow(expect.objectContaining({ name: 'StoreNotStartedError' }))
  })

  it('runs a networkless Helia that knows dag-json over the same blocks', async () => {
    const store = await createStateStore({ dataDir: await temp.make() }, testIdentity())
    open.push(store)
    const { cid } = await store.log.append('h', { kind: 'started', payload: 'hello' })
    expect(store.helia.getCodec(0x0129)).toBeDefined()
    const block = (await dagJson(store.helia).get(cid)) as { seq: number; kind: string }
    expect(block).toMatchObject({ seq: 0, kind: 'started' })
  })

  it('shares storage with a Helia built by the caller', async () => {
    const dataDir = await temp.make()
    const identity = testIdentity()
    const storage = await openStateStorage({ dataDir })
    const helia = await createLightHelia(storage)
    await helia.start()
    try {
      const store = await createStateStore({}, { ...identity, storage, helia })
      await store.log.append('shared', { kind: 'started', payload: 1 })
      const extra = await dagJson(helia).add({ note: 'added through Helia' })
      expect(await storage.readBlock(extra)).toBeDefined()
      await store.stop()
      // The caller's Helia and storage stay open after the store stops.
      expect(helia.status).toBe('started')
      expect(await dagJson(helia).get(extra)).toEqual({ note: 'added through Helia' })
    } finally {
      await helia.stop()
      await storage.close()
    }
    const reopened = await createStateStore({ dataDir }, identity)
    open.push(reopened)
    expect((await collect(reopened.log.entries('shared'))).map((e) => e.payload)).toEqual([1])
    expect(() => stateStore()({ ...identity, helia })).toThrow(expect.objectContaining({ name: 'MissingComponentError', component: 'storage' }))
  })
})
