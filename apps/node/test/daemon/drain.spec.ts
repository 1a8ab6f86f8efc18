import type { QflowEvent } from '@qflow/scheduler'
import { afterEach, describe, expect, it } from 'vitest'
import { drainSteps, type InFlightStep } from '../../src/daemon/drain.js'
import { createQflowNode, type QflowNode } from '../../src/node/node.js'
import { useTempDir } from '../fixtures/cli.js'
import { callThenDelayFlow, type HeldServer, heldServer } from './fixtures.js'

/** Resolves on the first engine event `match` accepts. */
function nextEvent(node: QflowNode, match: (event: QflowEvent) => boolean): Promise<QflowEvent> {
  return new Promise((resolve) => {
    const off = node.parts.engine.onEvent((event) => {
      if (!match(event)) return
      off()
      resolve(event)
    })
  })
}

describe('drainSteps', () => {
  const tmp = useTempDir()
  let node: QflowNode | undefined
  let held: HeldServer | undefined

  afterEach(async () => {
    await node?.stop()
    await held?.close()
    node = undefined
    held = undefined
  })

  async function started(): Promise<QflowNode> {
    node = createQflowNode({ dataDir: tmp(), durability: 'batched', allowPrivateNetworks: ['127.0.0.0/8'] })
    await node.start()
    return node
  }

  /** Starts one execution in the delay (past its call) and one with its call in flight. */
  async function oneCallingOneDelaying(qflow: QflowNode, server: HeldServer): Promise<{ calling: string; delaying: string }> {
    const { engine } = qflow.parts
    const version = await engine.createFlow(callThenDelayFlow(server.url, 3_600_000) as never, await qflow.asAdmin())
    server.release()
    const delayed = nextEvent(qflow, (e) => e.type === 'q.qflow.exec.step.dispatched.v1' && (e.data as { stepId: string }).stepId === 'pause')
    const delaying = await engine.startExecution(version.flowHash, { tag: 'first', n: 1 }, { ...(await qflow.asAdmin()), trigger: 'test' })
    await delayed
    server.hold()
    const calling = await engine.startExecution(version.flowHash, { tag: 'second', n: 2 }, { ...(await qflow.asAdmin()), trigger: 'test' })
    await server.received(2)
    return { calling, delaying }
  }

  it('waits for the step in flight to commit, not for a durable delay', async () => {
    held = await heldServer()
    const server = held
    const qflow = await started()
    const { calling } = await oneCallingOneDelaying(qflow, server)
    let waitedFor: readonly InFlightStep[] = []
    const report = await drainSteps({ engine: qflow.parts.engine, log: qflow.parts.store.log, flows: qflow.parts.store.flows }, 60_000, {
      onWaiting: (steps) => {
        waitedFor = steps
        server.release()
      }
    })
    expect(waitedFor).toEqual([{ executionId: calling, stepId: 'call', attempt: 1 }])
    expect(report).toEqual({ inFlight: 1, settled: 1, pending: [], timedOut: false })
    // The commit point: the step's completion is in the log.
    const state = await qflow.parts.engine.state(calling)
    expect(state.steps.call?.status).toBe('succeeded')
    expect(state.steps.call?.output).toMatchObject({ body: { path: '/second', n: 2 } })
  })

  it('returns at the bound with what is still running, which runs again after a restart with the same idempotency key', async () => {
    held = await heldServer()
    const server = held
    const first = await started()
    const { calling, delaying } = await oneCallingOneDelaying(first, server)
    const report = await drainSteps({ engine: first.parts.engine, log: first.parts.store.log, flows: first.parts.store.flows }, 50)
    expect(report).toEqual({ inFlight: 1, settled: 0, pending: [{ executionId: calling, stepId: 'call', attempt: 1 }], timedOut: true })
    await first.stop()

    const second = await started()
    await server.received(3)
    expect(server.requests.map((r) => r.idempotencyKey)).toEqual([expect.any(String), `${calling}:call:1`, `${calling}:call:1`])
    const committed = nextEvent(second, (e) => e.type === 'q.qflow.exec.step.completed.v1' && (e.data as { executionId: string }).executionId === calling)
    server.release()
    expect((await committed).data).toMatchObject({ stepId: 'call', attempt: 1, status: 'succeeded' })
    const state = await second.parts.engine.state(calling)
    expect(state.steps.call?.output).toMatchObject({ body: { path: '/second', n: 3 } })
    // The delay was not waited for: it is re-armed from the log, still due when it was.
    const waiting = await second.parts.engine.state(delaying)
    expect(waiting.status).toBe('running')
    expect(waiting.steps.pause).toMatchObject({ status: 'running', dueAt: expect.any(Number) })
  })

  it('reports nothing in flight on an idle node', async () => {
    const qflow = await started()
    const report = await drainSteps({ engine: qflow.parts.engine, log: qflow.parts.store.log, flows: qflow.parts.store.flows }, 60_000)
    expect(report).toEqual({ inFlight: 0, settled: 0, pending: [], timedOut: false })
  })
})
