import type { Flow } from '@qflow/flow-schema'
import { flowHash } from '@qflow/flow-schema'
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { canonicalBlockBytes } from '../src/codec.js'
import { FLOW_HASHES_PREFIX, FLOWS_PREFIX } from '../src/constants.js'
import type { StateStore } from '../src/index.js'
import { collect, openStore, testIdentity } from './fixtures/store.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
const open: StateStore[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()))
  await temp.cleanup()
})

function flow(version: string, message: string): Flow {
  return {
    id: 'invoice-approval',
    name: 'Invoice approval',
    version,
    owner: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
    steps: [{ id: 'notify', type: 'task', action: 'log', params: { message } }]
  }
}

describe('flow registry', () => {
  it('stores versions by content hash with a history chain, and reopens from disk', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const store = await openStore(dir, identity)
    open.push(store)
    const v1 = await store.flows.register(flow('1.0.0', 'first'))
    const v2 = await store.flows.register(flow('1.1.0', 'second'))
    expect(v1).toMatchObject({ flowId: 'invoice-approval', revision: 1, action: 'register', flowVersion: '1.0.0', archived: false, prev: null, actor: identity.signer.did })
    expect(v1.flowHash).toBe(await flowHash(flow('1.0.0', 'first')))
    expect(v2).toMatchObject({ revision: 2, flowVersion: '1.1.0' })
    expect(v2.prev?.toString()).toBe(v1.cid.toString())
    // Registering identical content again changes nothing.
    expect((await store.flows.register(flow('1.1.0', 'second'))).cid.toString()).toBe(v2.cid.toString())
    expect((await store.flows.get('invoice-approval')).flow).toEqual(flow('1.1.0', 'second'))
    expect((await store.flows.get('invoice-approval', { revision: 1 })).flow).toEqual(flow('1.0.0', 'first'))
    expect(await store.flows.getByHash(v1.flowHash)).toEqual(flow('1.0.0', 'first'))
    await store.stop()
    open.splice(0)
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    expect((await collect(reopened.flows.history('invoice-approval'))).map((v) => v.revision)).toEqual([2, 1])
    expect(await reopened.flows.getByHash(v2.flowHash)).toEqual(flow('1.1.0', 'second'))
  })

  it('rolls back as a new version pointing at earlier content', async () => {
    const store = await openStore(await temp.make(), testIdentity())
    open.push(store)
    const v1 = await store.flows.register(flow('1.0.0', 'first'))
    await store.flows.register(flow('2.0.0', 'broken'))
    const v3 = await store.flows.rollback('invoice-approval', 1)
    expect(v3).toMatchObject({ revision: 3, action: 'rollback', rolledBackTo: 1, flowHash: v1.flowHash, flowVersion: '1.0.0' })
    expect(v3.flow.toString()).toBe(v1.flow.toString())
    expect((await store.flows.current('invoice-approval'))?.revision).toBe(3)
    expect((await store.flows.get('invoice-approval')).flow).toEqual(flow('1.0.0', 'first'))
    expect((await collect(store.flows.history('invoice-approval'))).map((v) => v.action)).toEqual(['rollback', 'register', 'register'])
    await expect(store.flows.rollback('invoice-approval', 9)).rejects.toMatchObject({ name: 'FlowNotFoundError', version: 9 })
    await expect(store.flows.rollback('invoice-approval', 0)).rejects.toMatchObject({ name: 'InvalidInputError' })
  })

  it('archives flows: kept and retrievable, out of the default list', async () => {
    const store = await openStore(await temp.make(), testIdentity())
    open.push(store)
    await store.flows.register(flow('1.0.0', 'first'))
    await store.flows.register({ ...flow('1.0.0', 'other'), id: 'other-flow' })
    const archived = await store.flows.archive('invoice-approval')
    expect(archived).toMatchObject({ revision: 2, action: 'archive', archived: true })
    expect((await store.flows.list()).map((v) => v.flowId)).toEqual(['other-flow'])
    expect((await store.flows.list({ includeArchived: true })).map((v) => v.flowId)).toEqual(['invoice-approval', 'other-flow'])
    expect((await store.flows.get('invoice-approval')).flow).toEqual(flow('1.0.0', 'first'))
    expect((await store.flows.restore('invoice-approval')).archived).toBe(false)
    expect((await store.flows.list()).map((v) => v.flowId)).toEqual(['invoice-approval', 'other-flow'])
  })

  it('gives typed errors for unknown flows, bad input and damaged records', async () => {
    const dir = await temp.make()
    const identity = testIdentity()
    const store = await openStore(dir, identity)
    open.push(store)
    await expect(store.flows.get('nope')).rejects.toMatchObject({ name: 'FlowNotFoundError', ref: 'nope' })
    await expect(store.flows.archive('nope')).rejects.toMatchObject({ name: 'FlowNotFoundError' })
    await expect(store.flows.getByHash('bagaaieraxxxx')).rejects.toMatchObject({ name: 'FlowNotFoundError' })
    await expect(store.flows.getByHash('../x')).rejects.toMatchObject({ name: 'InvalidInputError' })
    await expect(store.flows.register({ ...flow('1.0.0', 'x'), id: 'bad id!' })).rejects.toMatchObject({ name: 'InvalidInputError', pointer: '/id' })
    expect(await store.flows.list({ includeArchived: true })).toEqual([])
    await store.flows.register(flow('1.0.0', 'first'))
    await store.helia.datastore.put(new Key(`${FLOWS_PREFIX}/invoice-approval`), new TextEncoder().encode('{"v":1,"head":7}'))
    // The registry keeps the head it wrote in memory; the damage shows once the store is read anew.
    expect((await store.flows.get('invoice-approval')).flow.steps[0]?.params).toEqual({ message: 'first' })
    await store.stop()
    const reopened = await openStore(dir, identity)
    open.push(reopened)
    await expect(reopened.flows.get('invoice-approval')).rejects.toMatchObject({ name: 'CorruptRecordError' })
  })

  it('checks a document against the flow hash it is filed under, on every pairing', async () => {
    const store = await openStore(await temp.make(), testIdentity())
    open.push(store)
    const v1 = await store.flows.register(flow('1.0.0', 'first'))
    const v2 = await store.flows.register(flow('1.1.0', 'second'))
    expect((await store.flows.getByHash(v1.flowHash)).version).toBe('1.0.0')
    expect((await store.flows.getByHash(v1.flowHash)).version).toBe('1.0.0')
    // File v2's document under v1's hash: the (already checked) document does not hash to it.
    await store.helia.datastore.put(new Key(`${FLOW_HASHES_PREFIX}/${v1.flowHash}`), canonicalBlockBytes({ v: 1, flow: v2.flow }))
    await expect(store.flows.getByHash(v1.flowHash)).rejects.toMatchObject({ name: 'CorruptRecordError' })
    expect((await store.flows.getByHash(v2.flowHash)).version).toBe('1.1.0')
  })
})
