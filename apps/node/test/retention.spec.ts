import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createQflowNode, type QflowNode } from '../src/node/node.js'
import { useTempDir } from './fixtures/cli.js'
import { doublingFlow } from './fixtures/flows.js'
import { useNodes } from './fixtures/open-nodes.js'

const FLOW = doublingFlow('pruned')
/** A pass every day: the tests run the passes they want with `prune()`, after the first. */
const DAY = 24 * 60 * 60_000

describe('retention', () => {
  const temp = useTempDir()
  const open = useNodes()

  /** Runs the flow `count` times, one after the other; resolves with the execution ids, oldest first. */
  async function runs(node: QflowNode, count: number): Promise<string[]> {
    const ids: string[] = []
    for (let n = 0; n < count; n++) {
      const result = await node.parts.engine.run('pruned', { n }, await node.asAdmin())
      expect(result).toMatchObject({ status: 'completed', output: 2 * n })
      ids.push(result.executionId)
    }
    return ids
  }

  it('keeps the most recent executions past maxCount: store, index records and index history go', async () => {
    const dataDir = join(temp(), 'data')
    const first = await open({ dataDir })
    await first.parts.engine.createFlow(FLOW as never, await first.asAdmin())
    const ids = await runs(first, 5)
    expect(first.parts.pruner).toBeUndefined()
    await first.stop()

    const node = await open({ dataDir, retention: { maxAgeMs: 0, maxCount: 2, intervalMs: DAY } })
    const { store, qindex, pruner } = node.parts
    // The first pass runs once the node has started; prune() joins it, or runs another after it.
    await pruner?.prune()
    expect((await store.log.listExecutions()).map((h) => h.executionId).sort()).toEqual(ids.slice(3).sort())
    for (const id of ids.slice(0, 3)) {
      expect(await qindex.get(id)).toBeUndefined()
      expect(await qindex.history(id)).toEqual([])
      await expect(store.log.head(id)).resolves.toBeUndefined()
    }
    for (const id of ids.slice(3)) expect(await qindex.get(id)).toMatchObject({ kind: 'execution', status: 'completed' })
    expect((await qindex.query({ kind: 'execution', limit: 100 })).records.map((r) => r.key).sort()).toEqual(ids.slice(3).sort())
    // The flow is not an execution: it stays.
    expect(await qindex.get('pruned')).toMatchObject({ kind: 'flow' })
    expect(pruner?.stats).toMatchObject({ removedExecutions: 3, failures: 0, policy: { maxAgeMs: 0, maxCount: 2, intervalMs: DAY } })
    // Nothing more to remove: a later pass removes nothing.
    expect((await pruner?.prune())?.removedExecutions).toEqual([])
  })

  it('removes finished executions past maxAge, never a running one', async () => {
    const dataDir = join(temp(), 'data')
    const node = await open({ dataDir, retention: { maxAgeMs: 1, maxCount: 0, intervalMs: DAY } })
    const { engine, store, pruner } = node.parts
    await pruner?.prune()
    await engine.createFlow(FLOW as never, await node.asAdmin())
    await engine.createFlow({ ...FLOW, id: 'waits', name: 'waits', steps: [{ id: 'hold', type: 'event-trigger', event: 'go' }] } as never, await node.asAdmin())
    const done = await runs(node, 2)
    const waiting = await engine.startExecution('waits', {}, await node.asAdmin())
    await new Promise((resolve) => setTimeout(resolve, 5)) // older than 1 ms
    const report = await pruner?.prune()
    expect([...(report?.removedExecutions ?? [])].sort()).toEqual([...done].sort())
    expect((await store.log.listExecutions()).map((h) => h.executionId)).toEqual([waiting])
  })

  it('keeps a sub-flow execution while its parent is live, and removes both once the parent has ended', async () => {
    const node = await open({ dataDir: join(temp(), 'data'), retention: { maxAgeMs: 1, maxCount: 0, intervalMs: DAY } })
    const { engine, store, pruner } = node.parts
    await pruner?.prune()
    await engine.createFlow(doublingFlow('child') as never, await node.asAdmin())
    await engine.createFlow(
      {
        ...doublingFlow('parent'),
        steps: [
          { id: 'sub', type: 'sub-flow', flow: 'child@1.0.0', input: { n: 3 } },
          { id: 'hold', type: 'event-trigger', event: 'parent.go' }
        ]
      } as never,
      await node.asAdmin()
    )
    const parent = await engine.startExecution('parent', {}, await node.asAdmin())
    const child = `${parent}.sub.1`
    for (let i = 0; i < 500 && engine.live(parent)?.steps.hold?.status !== 'waiting'; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(engine.live(parent)?.steps.hold?.status).toBe('waiting')
    expect((await store.log.head(child))?.status).toBe('completed')
    await new Promise((resolve) => setTimeout(resolve, 5)) // older than 1 ms
    expect((await pruner?.prune())?.removedExecutions).toEqual([])
    expect(await engine.deliverEvent('parent.go', {})).toBe(1)
    expect(await engine.wait(parent)).toMatchObject({ status: 'completed' })
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect([...((await pruner?.prune())?.removedExecutions ?? [])].sort()).toEqual([parent, child].sort())
  })

  it('stops a pass it is running when the node stops, and removes nothing after that', async () => {
    const dataDir = join(temp(), 'data')
    const first = await open({ dataDir })
    await first.parts.engine.createFlow(FLOW as never, await first.asAdmin())
    const ids = await runs(first, 3)
    await first.stop()
    const node = await open({ dataDir, retention: { maxAgeMs: 0, maxCount: 1, intervalMs: DAY } })
    const pruner = node.parts.pruner as NonNullable<QflowNode['parts']['pruner']>
    const pass = pruner.prune()
    await node.stop()
    expect((await pass).removedExecutions).toEqual([])
    // The store it pruned is closed now.
    await expect(pruner.prune()).rejects.toMatchObject({ name: 'StoreNotStartedError' })
    const reopened = await open({ dataDir })
    expect((await reopened.parts.store.log.listExecutions()).map((h) => h.executionId).sort()).toEqual([...ids].sort())
  })

  it('refuses a retention policy it cannot keep (NodeConfigError)', () => {
    for (const retention of [
      { maxAgeMs: -1, maxCount: 0, intervalMs: 1000 },
      { maxAgeMs: 0, maxCount: 1.5, intervalMs: 1000 },
      { maxAgeMs: 0, maxCount: 0, intervalMs: 0 },
      { maxAgeMs: 0, maxCount: 0, intervalMs: 2 ** 31 }
    ]) {
      expect(() => createQflowNode({ dataDir: temp(), retention })).toThrow(expect.objectContaining({ name: 'NodeConfigError', option: 'retention' }))
    }
  })
})
