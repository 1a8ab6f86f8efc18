import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { payloadDigest } from '@qflow/pipeline'
import type { LogEntry } from '@qflow/state'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_HELD_COMPLETIONS } from '../src/constants.js'
import { buildFlowGraph } from '../src/engine/graph.js'
import { type Action, applyEntry, eventSchemas, type ExecutionState, type QflowEvent } from '../src/index.js'
import { createTestEnv, flowOf, type TestEnv } from './fixtures/env.js'

let env: TestEnv | undefined
afterEach(async () => {
  await env?.close()
  env = undefined
})

async function setup(options: Parameters<typeof createTestEnv>[0] = {}): Promise<TestEnv> {
  env = await createTestEnv(options)
  return env
}

async function entriesOf(e: TestEnv, executionId: string): Promise<LogEntry[]> {
  const out: LogEntry[] = []
  for await (const entry of e.store.log.entries(executionId)) out.push(entry)
  return out
}

async function kinds(e: TestEnv, executionId: string): Promise<string[]> {
  return (await entriesOf(e, executionId)).map((entry) => (entry.stepId === undefined ? entry.kind : `${entry.kind}:${entry.stepId}`))
}

/** An action whose behaviour a test scripts, recording every call (a neighbour of the engine). */
function scripted(name: string, behave: (attempt: number, key: string) => unknown, sideEffects = true): Action<never> & { calls: string[] } {
  const calls: string[] = []
  return {
    name,
    sideEffects,
    calls,
    async execute(_params: never, context) {
      calls.push(context.idempotencyKey)
      return behave(context.attempt, context.idempotencyKey)
    }
  }
}

const threeSteps = (owner: string) =>
  flowOf(
    'orders',
    [
      { id: 'total', type: 'task', action: 'data.transform', params: { expression: '$sum(input.items.price)' } },
      { id: 'big', type: 'condition', expression: '{{ steps.total.output > 100 }}', onTrue: 'vip', onFalse: 'plain' },
      { id: 'vip', type: 'task', action: 'data.transform', params: { expression: '{ "tier": "vip", "total": steps.total.output }' }, onSuccess: 'done' },
      { id: 'plain', type: 'task', action: 'data.transform', params: { expression: '{ "tier": "plain", "total": steps.total.output }' } },
      { id: 'done', type: 'task', action: 'log', params: { message: '{{ "tier " & (steps.vip.output.tier ? steps.vip.output.tier : steps.plain.output.tier) }}' } }
    ],
    owner
  )

describe('engine: sequential flows, conditions and the log', () => {
  it('runs transform → condition → transform, records each transition once and verifies', async () => {
    const e = await setup()
    await e.engine.createFlow(threeSteps(e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const big = await e.engine.run('orders', { items: [{ price: 70 }, { price: 50 }] }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(big.status).toBe('completed')
    expect(big.output).toEqual({ message: 'tier vip', level: 'info' })
    const small = await e.engine.run('orders', { items: [{ price: 7 }] }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(small.output).toEqual({ message: 'tier plain', level: 'info' })
    // Pure steps' completions ride on the execution's next entry (here the log entry of `done`);
    // the last step's completion completes the execution: one entry.
    expect(await kinds(e, big.executionId)).toEqual(['started', 'log:done', 'completed:done'])
    const logged = await entriesOf(e, big.executionId)
    expect((logged[1]?.payload as { preceding?: { stepId: string }[] } | undefined)?.preceding?.map((c) => c.stepId)).toEqual(['total', 'big', 'vip'])
    const state = await e.engine.state(small.executionId)
    expect(state).toMatchObject({ status: 'completed', output: { message: 'tier plain', level: 'info' } })
    expect(state.steps.done).toMatchObject({ status: 'succeeded', output: { message: 'tier plain', level: 'info' } })
    expect(state.steps.total?.output).toBe(7)
    expect(state.steps.big?.output).toEqual({ result: false })
    expect(state.steps.vip).toBeUndefined()
    expect((await e.store.verifyExecution(big.executionId)).ok).toBe(true)
    // Events keep their order: the last step completes, then the execution.
    const ofBig = e.events.filter((ev) => (ev.data as { executionId?: string }).executionId === big.executionId).map((ev) => ev.type)
    expect(ofBig.slice(-2)).toEqual(['q.qflow.exec.step.completed.v1', 'q.qflow.exec.completed.v1'])
    expect(ofBig.filter((t) => t === 'q.qflow.exec.step.completed.v1')).toHaveLength(4)
  })

  it('gives a listener only the event types it takes, and stops when it unsubscribes', async () => {
    const e = await setup()
    await e.engine.createFlow(threeSteps(e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const ends: QflowEvent[] = []
    const onEnd = (event: QflowEvent) => ends.push(event)
    const off = e.engine.onEvent(onEnd, { types: ['q.qflow.exec.completed.v1', 'q.qflow.exec.started.v1'] })
    // Subscribing the same listener again changes nothing: it still gets each event once.
    e.engine.onEvent(onEnd, { types: ['q.qflow.exec.step.completed.v1'] })
    const run = await e.engine.run('orders', { items: [{ price: 70 }, { price: 50 }] }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(ends.map((ev) => ev.type)).toEqual(['q.qflow.exec.started.v1', 'q.qflow.exec.completed.v1'])
    expect(ends[1]?.data).toMatchObject({ executionId: run.executionId, status: 'completed', outputDigest: payloadDigest(run.output) })
    // The listener of every type (the test env's) still got the step events, with their digests.
    const steps = e.events.filter((ev) => ev.type === 'q.qflow.exec.step.completed.v1' && (ev.data as { executionId: string }).executionId === run.executionId)
    expect(steps).toHaveLength(4)
    for (const ev of steps) expect((ev.data as { outputDigest?: string }).outputDigest).toMatch(/^sha256-/)
    off()
    off()
    await e.engine.run('orders', { items: [{ price: 7 }] }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(ends).toHaveLength(2)
  })

  it('digests outputs only for listeners that read them (digests: false)', async () => {
    const e = await setup({ listen: false })
    await e.engine.createFlow(threeSteps(e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const run = async () => e.engine.run('orders', { items: [{ price: 70 }, { price: 50 }] }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const digestsOf = (events: QflowEvent[], executionId: string) =>
      events.filter((ev) => (ev.data as { executionId?: string }).executionId === executionId).map((ev) => [ev.type, (ev.data as { outputDigest?: string }).outputDigest])
    const counted: QflowEvent[] = []
    const off = e.engine.onEvent((event) => counted.push(event), { types: ['q.qflow.exec.step.completed.v1', 'q.qflow.exec.completed.v1'], digests: false })
    const alone = await run()
    expect(digestsOf(counted, alone.executionId)).toEqual([
      ...Array.from({ length: 4 }, () => ['q.qflow.exec.step.completed.v1', undefined]),
      ['q.qflow.exec.completed.v1', undefined]
    ])
    // A listener of the execution's end that reads digests: the end carries one, the steps still not.
    const readers: QflowEvent[] = []
    const offReader = e.engine.onEvent((event) => readers.push(event), { types: ['q.qflow.exec.completed.v1'] })
    const shared = await run()
    expect(digestsOf(counted, shared.executionId).at(-1)).toEqual(['q.qflow.exec.completed.v1', payloadDigest(shared.output)])
    expect(digestsOf(counted, shared.executionId).slice(0, 4).every(([, digest]) => digest === undefined)).toBe(true)
    expect(digestsOf(readers, shared.executionId)).toEqual([['q.qflow.exec.completed.v1', payloadDigest(shared.output)]])
    offReader()
    const after = await run()
    expect(digestsOf(counted, after.executionId).at(-1)).toEqual(['q.qflow.exec.completed.v1', undefined])
    off()
  })

  it('refuses an invalid flow (a cycle) with every problem listed, storing nothing', async () => {
    const e = await setup()
    const cyclic = flowOf(
      'loop',
      [
        { id: 'a', type: 'task', action: 'log', params: { message: 'a' } },
        { id: 'b', type: 'task', action: 'log', params: { message: 'b' }, onSuccess: 'a' }
      ],
      e.user.did
    )
    const err = await e.engine.createFlow(cyclic, { actor: { did: e.user.did, credentials: { token: await e.token() } } }).catch((x) => x)
    expect(err.name).toBe('FlowValidationError')
    expect(err.problems.map((p: { code: string }) => p.code)).toContain('cycle')
    expect(await e.store.flows.current('loop')).toBeUndefined()
  })

  it('refuses an input that breaks the flow inputSchema, storing nothing', async () => {
    const e = await setup()
    const typed = flowOf('typed-input', [{ id: 'a', type: 'task', action: 'log', params: { message: '{{ input.email }}' } }], e.user.did, {
      inputSchema: { type: 'object', required: ['email'], properties: { email: { type: 'string', format: 'email' } } }
    })
    await e.engine.createFlow(typed, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const bad = await e.engine
      .startExecution('typed-input', { email: 'not an address' }, { actor: { did: e.user.did, credentials: { token: await e.token() } }, executionId: 'bad-input' })
      .catch((err) => err)
    expect(bad.name).toBe('InvalidExecutionInputError')
    expect(bad.problems).toEqual([{ pointer: '/email', message: 'must match format "email"' }])
    expect(await e.store.log.head('bad-input')).toBeUndefined()
    const good = await e.engine.run('typed-input', { email: 'ada@example.org' }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(good.output).toEqual({ message: 'ada@example.org', level: 'info' })
  })

  it('records the input digest a caller already has (inputDigest), the same the pipeline computes', async () => {
    const e = await setup()
    await e.engine.createFlow(threeSteps(e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const input = { items: [{ price: 70 }, { price: 50 }] }
    const computed = await e.engine.run('orders', input, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const given = await e.engine.run('orders', input, { actor: { did: e.user.did, credentials: { token: await e.token() } }, inputDigest: payloadDigest(input) })
    const digestOf = (id: string) => e.events.find((ev) => ev.type === 'q.qflow.exec.started.v1' && (ev.data as { executionId: string }).executionId === id)?.data
    expect(digestOf(computed.executionId)).toMatchObject({ inputDigest: payloadDigest(input) })
    expect(digestOf(given.executionId)).toMatchObject({ inputDigest: payloadDigest(input) })
    const other = await e.engine.run('orders', input, { actor: { did: e.user.did, credentials: { token: await e.token() } }, inputDigest: 'sha256-given' })
    expect(digestOf(other.executionId)).toMatchObject({ inputDigest: 'sha256-given' })
  })

  it('refuses to start without valid credentials, storing nothing', async () => {
    const e = await setup()
    await e.engine.createFlow(threeSteps(e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const token = await e.token()
    await e.engine.run('orders', { items: [] }, { actor: { did: e.user.did, credentials: { token } } })
    const replay = await e.engine.startExecution('orders', { items: [] }, { actor: { did: e.user.did, credentials: { token } }, executionId: 'replayed' }).catch((err) => err)
    expect([replay.name, replay.stage, replay.code]).toEqual(['PipelineHaltedError', 'qlock', 'TOKEN_REPLAYED'])
    expect(await e.store.log.head('replayed')).toBeUndefined()
  })
})

describe('engine: parallel branches and joins', () => {
  const parallelFlow = (owner: string, join: unknown) =>
    flowOf(
      'fan',
      [
        { id: 'split', type: 'parallel', branches: [['a1', 'a2'], ['b1'], ['c1']], join },
        { id: 'a1', type: 'task', action: 'data.transform', params: { expression: '1' } },
        { id: 'a2', type: 'task', action: 'data.transform', params: { expression: 'steps.a1.output + 1' } },
        { id: 'b1', type: 'task', action: 'flaky', params: {} },
        { id: 'c1', type: 'task', action: 'data.transform', params: { expression: '"c"' } },
        { id: 'after', type: 'task', action: 'data.transform', params: { expression: 'steps.split.output' } }
      ],
      owner
    )

  it('joins all branches, each running in order, then continues after the parallel step', async () => {
    const e = await setup({ actions: [scripted('flaky', () => 'b')] })
    await e.engine.createFlow(parallelFlow(e.user.did, 'all'), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const result = await e.engine.run('fan', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result.status).toBe('completed')
    expect(result.output).toEqual({ branches: [2, 'b', 'c'], completed: expect.arrayContaining([0, 1, 2]) })
  })

  it('snapshots only what the log holds: a replay from any snapshot of branches writing at once gives the run’s state', async () => {
    // Three branches of log steps write entries at the same time; a snapshot every 2 entries.
    const e = await setup({ init: { snapshotEvery: 2 } })
    const branch = (name: string) => Array.from({ length: 6 }, (_, i) => `${name}${i}`)
    const branches = [branch('a'), branch('b'), branch('c')]
    const steps = [
      { id: 'split', type: 'parallel', branches, join: 'all' },
      ...branches.flat().map((id) => ({ id, type: 'task', action: 'log', params: { message: id } })),
      { id: 'after', type: 'task', action: 'data.transform', params: { expression: '$count(steps.split.output.branches)' } }
    ]
    await e.engine.createFlow(flowOf('busy', steps, e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const result = await e.engine.run('busy', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result).toMatchObject({ status: 'completed', output: 3 })
    const logged = await entriesOf(e, result.executionId)
    // A snapshot waits for a moment with no entry in flight, so a burst like this one gets few.
    const snapshots = logged.filter((entry) => entry.kind === 'snapshot')
    expect(snapshots.length).toBeGreaterThan(0)
    // Each snapshot's state plus the entries after it must give the final state.
    const replayedEach = snapshots.map((snapshot) => {
      const state = structuredClone(snapshot.payload) as ExecutionState
      for (const entry of logged) {
        if (entry.seq <= snapshot.seq || entry.kind === 'snapshot') continue
        applyEntry(state, buildFlowGraph(flowOf('busy', steps, e.user.did) as never, state.flowHash), {
          seq: entry.seq,
          kind: entry.kind,
          ts: entry.ts,
          payload: entry.payload,
          ...(entry.stepId === undefined ? {} : { stepId: entry.stepId }),
          ...(entry.attempt === undefined ? {} : { attempt: entry.attempt })
        })
      }
      return Object.entries(state.steps)
        .filter(([, record]) => record.status === 'succeeded')
        .map(([id]) => id)
        .sort()
    })
    const all = [...branches.flat(), 'after', 'split'].sort()
    for (const succeeded of replayedEach) expect(succeeded).toEqual(all)
    expect(e.errors).toEqual([])
  })

  it('with any, continues at the first branch and cancels the rest; with count, fails when too few can succeed', async () => {
    const e = await setup({ actions: [scripted('flaky', () => Promise.reject(Object.assign(new Error('down'), { retryable: false })))] })
    await e.engine.createFlow(parallelFlow(e.user.did, 'any'), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const any = await e.engine.run('fan', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(any.status).toBe('completed')
    expect((any.output as { completed: number[] }).completed).toHaveLength(1)
    const fanCount = { ...parallelFlow(e.user.did, { count: 3 }), version: '1.1.0' }
    await e.engine.createFlow(fanCount, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const count = await e.engine.run('fan', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(count.status).toBe('failed')
    expect(count.error).toMatchObject({ name: 'ParallelJoinError', stepId: 'split' })
  })
})

describe('engine: retries, timeouts and failure edges', () => {
  it('retries a retryable failure per retryPolicy with a new idempotency key per attempt', async () => {
    const flaky = scripted('flaky', (attempt) => (attempt < 3 ? Promise.reject(Object.assign(new Error('busy'), { retryable: true })) : { ok: attempt }))
    const e = await setup({ actions: [flaky] })
    const flow = flowOf('retry', [{ id: 'call', type: 'task', action: 'flaky', retryPolicy: { maxAttempts: 3, backoff: 'fixed', initialDelay: 5 } }], e.user.did)
    await e.engine.createFlow(flow, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const result = await e.engine.run('retry', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result).toMatchObject({ status: 'completed', output: { ok: 3 } })
    expect(flaky.calls).toEqual([1, 2, 3].map((n) => `${result.executionId}:call:${n}`))
    expect(await kinds(e, result.executionId)).toEqual([
      'started',
      'step-dispatched:call',
      'step-failed:call',
      'step-dispatched:call',
      'step-failed:call',
      'step-dispatched:call',
      'completed:call'
    ])
  })

  it('does not retry a non-retryable error and follows onFailure; without one the execution fails', async () => {
    const broken = scripted('broken', () => Promise.reject(Object.assign(new Error('bad input'), { name: 'BadInputError', retryable: false })))
    const e = await setup({ actions: [broken] })
    const flow = flowOf(
      'fallback',
      [
        { id: 'call', type: 'task', action: 'broken', retryPolicy: { maxAttempts: 5, initialDelay: 1 }, onFailure: 'recover' },
        { id: 'ok', type: 'task', action: 'data.transform', params: { expression: '"unreached"' } },
        { id: 'recover', type: 'task', action: 'data.transform', params: { expression: 'steps.call.error.name' }, onSuccess: 'end' },
        { id: 'end', type: 'task', action: 'log', params: { message: 'recovered' } }
      ],
      e.user.did
    )
    await e.engine.createFlow(flow, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const result = await e.engine.run('fallback', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result.status).toBe('completed')
    expect(broken.calls).toHaveLength(1)
    expect((await e.engine.state(result.executionId)).steps.recover?.output).toBe('BadInputError')
    const bare = flowOf('bare', [{ id: 'call', type: 'task', action: 'broken' }], e.user.did)
    await e.engine.createFlow(bare, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const failed = await e.engine.run('bare', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(failed).toMatchObject({ status: 'failed', error: { name: 'BadInputError', stepId: 'call' } })
  })

  it('stops a step at its timeout with StepTimeoutError and aborts its signal', async () => {
    let aborted = false
    const hang: Action<never> = {
      name: 'hang',
      sideEffects: true,
      execute: (_p, context) =>
        new Promise((_, reject) =>
          context.signal.addEventListener('abort', () => {
            aborted = true
            reject(context.signal.reason)
          })
        )
    }
    const e = await setup({ actions: [hang] })
    await e.engine.createFlow(flowOf('slow', [{ id: 'wait', type: 'task', action: 'hang', timeout: 50 }], e.user.did), {
      actor: { did: e.user.did, credentials: { token: await e.token() } }
    })
    const result = await e.engine.run('slow', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result).toMatchObject({ status: 'failed', error: { name: 'StepTimeoutError', stepId: 'wait' } })
    expect(aborted).toBe(true)
  })

  it('fails a step whose output breaks its outputSchema (Qerberos integrity)', async () => {
    const e = await setup({
      qerberos: {
        async checkIntegrity(payload, expectations) {
          const ok = typeof payload === 'number' || expectations.schema === undefined
          return { ok, digest: 'x', failures: ok ? [] : [{ code: 'SCHEMA_MISMATCH', message: 'must be number', pointer: '' }] }
        }
      }
    })
    await e.engine.createFlow(
      flowOf('typed', [{ id: 's', type: 'task', action: 'data.transform', params: { expression: '"text"' }, outputSchema: { type: 'number' } }], e.user.did),
      { actor: { did: e.user.did, credentials: { token: await e.token() } } }
    )
    const result = await e.engine.run('typed', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result).toMatchObject({ status: 'failed', error: { name: 'StepIntegrityError', stepId: 's' } })
  })
})

describe('engine: events, delays, modules and sub-flows', () => {
  const waitFlow = (owner: string) =>
    flowOf(
      'approval',
      [
        { id: 'ask', type: 'event-trigger', event: 'approval.decided', filter: { requestId: '{{ input.requestId }}' }, timeout: 60_000, onTimeout: 'expired' },
        { id: 'decide', type: 'task', action: 'data.transform', params: { expression: 'steps.ask.output.payload.approved' }, onSuccess: 'end' },
        { id: 'expired', type: 'task', action: 'data.transform', params: { expression: '"expired"' } },
        { id: 'end', type: 'task', action: 'log', params: { message: 'done' } }
      ],
      owner
    )

  it('waits for a matching event, durably across a restart', async () => {
    const e = await setup()
    await e.engine.createFlow(waitFlow(e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const id = await e.engine.startExecution('approval', { requestId: 'r-7' }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    await e.store.log.head(id)
    for (let i = 0; i < 50 && e.engine.live(id)?.steps.ask?.status !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 10))
    expect(e.engine.live(id)?.steps.ask?.status).toBe('waiting')
    await e.restart()
    expect(await e.engine.deliverEvent('approval.decided', { requestId: 'other', approved: false })).toBe(0)
    expect(await e.engine.deliverEvent('approval.decided', { requestId: 'r-7', approved: true })).toBe(1)
    const result = await e.engine.wait(id)
    expect(result.status).toBe('completed')
    expect((await e.engine.state(id)).steps.decide?.output).toBe(true)
  })

  it('takes onTimeout when no event arrives in time', async () => {
    const e = await setup()
    const flow = waitFlow(e.user.did)
    ;(flow.steps[0] as unknown as { timeout: number }).timeout = 30
    await e.engine.createFlow(flow, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const result = await e.engine.run('approval', { requestId: 'r-8' }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result.status).toBe('completed')
    expect((await e.engine.state(result.executionId)).steps.expired?.output).toBe('expired')
  })

  it('runs a durable delay that survives a restart', async () => {
    const e = await setup()
    await e.engine.createFlow(flowOf('pause', [{ id: 'nap', type: 'task', action: 'delay', params: { ms: 150 } }], e.user.did), {
      actor: { did: e.user.did, credentials: { token: await e.token() } }
    })
    const id = await e.engine.startExecution('pause', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    for (let i = 0; i < 50 && e.engine.live(id)?.steps.nap === undefined; i++) await new Promise((r) => setTimeout(r, 5))
    const dueAt = e.engine.live(id)?.steps.nap?.dueAt
    await e.restart()
    const result = await e.engine.wait(id)
    expect(result.status).toBe('completed')
    expect(result.output).toEqual({ waitedUntil: new Date(dueAt as number).toISOString() })
  })

  it('gives every step of a long chain the outputs before it, across a restart mid-chain', async () => {
    const e = await setup()
    const chain = Array.from({ length: 40 }, (_, i) => ({
      id: `s${i}`,
      type: 'task',
      action: 'data.transform',
      params: { expression: i === 0 ? 'input.start' : `steps.s${i - 1}.output + 1` }
    }))
    // A durable delay in the middle, then a step that reads the first, the one before and the input.
    chain.splice(20, 0, { id: 'nap', type: 'task', action: 'delay', params: { ms: 150 } as never })
    chain.push({ id: 'sum', type: 'task', action: 'data.transform', params: { expression: '{ "first": steps.s0.output, "last": steps.s39.output, "napped": steps.nap.status, "start": input.start }' } })
    await e.engine.createFlow(flowOf('chain', chain, e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const id = await e.engine.startExecution('chain', { start: 5 }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    for (let i = 0; i < 200 && e.engine.live(id)?.steps.nap === undefined; i++) await new Promise((r) => setTimeout(r, 5))
    expect(e.engine.live(id)?.steps.s19?.output).toBe(24)
    await e.restart()
    const result = await e.engine.wait(id)
    expect(result.status).toBe('completed')
    expect(result.output).toEqual({ first: 5, last: 44, napped: 'succeeded', start: 5 })
  })

  it('writes pure steps’ completions with the next entry, announces them once it is durable, and replays them after a restart', async () => {
    let release: (() => void) | undefined
    const block = scripted('block', () => new Promise((resolve) => (release = () => resolve('shipped'))))
    const e = await setup({ actions: [block] })
    const flow = flowOf(
      'carry',
      [
        { id: 'a', type: 'task', action: 'data.transform', params: { expression: 'input.n + 1' } },
        { id: 'b', type: 'condition', expression: '{{ steps.a.output > 1 }}', onTrue: 'call', onFalse: 'call' },
        { id: 'call', type: 'task', action: 'block' },
        { id: 'after', type: 'task', action: 'data.transform', params: { expression: '{ "a": steps.a.output, "b": steps.b.output.result, "call": steps.call.output }' } }
      ],
      e.user.did
    )
    await e.engine.createFlow(flow, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const id = await e.engine.startExecution('carry', { n: 1 }, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    for (let i = 0; i < 200 && block.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    expect(block.calls).toEqual([`${id}:call:1`])
    // a and b wrote no entries of their own: the dispatch of `call` carries them.
    const logged = await entriesOf(e, id)
    expect(logged.map((entry) => `${entry.kind}:${entry.stepId ?? ''}`)).toEqual(['started:', 'step-dispatched:call'])
    expect((logged[1]?.payload as { preceding?: unknown } | undefined)?.preceding).toEqual([
      { token: 't', idempotencyKey: `${id}:a:1`, output: 2, stepId: 'a', attempt: 1, ts: expect.any(Number) },
      { token: 't', idempotencyKey: `${id}:b:1`, output: { result: true }, outcome: 'true', stepId: 'b', attempt: 1, ts: expect.any(Number) }
    ])
    // Their events came once that entry was durable, before the dispatch's own.
    const types = e.events
      .filter((ev) => (ev.data as { executionId?: string }).executionId === id && ev.type.startsWith('q.qflow.exec.step'))
      .map((ev) => `${ev.type.slice('q.qflow.exec.'.length, -3)}:${(ev.data as { stepId: string }).stepId}`)
    expect(types).toEqual(['step.completed:a', 'step.completed:b', 'step.dispatched:call'])
    // The live state and a replay of the log agree.
    const live = structuredClone(e.engine.live(id))
    await e.restart()
    expect(await e.engine.state(id)).toMatchObject({ steps: live?.steps, tokens: live?.tokens, seq: live?.seq })
    // The interrupted step runs again with the same key.
    for (let i = 0; i < 200 && block.calls.length < 2; i++) await new Promise((r) => setTimeout(r, 5))
    release?.()
    const result = await e.engine.wait(id)
    expect(result).toMatchObject({ status: 'completed', output: { a: 2, b: true, call: 'shipped' } })
    expect(block.calls).toEqual([`${id}:call:1`, `${id}:call:1`])
    expect((await e.store.verifyExecution(id)).ok).toBe(true)
    expect(e.errors).toEqual([])
  })

  it('snapshots a chain of pure steps: held completions are written before the snapshot, and a replay from it matches', async () => {
    const e = await setup({ init: { snapshotEvery: 3 } })
    // Transforms (held) between log steps (whose log entries carry them), 24 steps in all.
    const steps = Array.from({ length: 24 }, (_, i) =>
      i % 2 === 0
        ? { id: `t${i}`, type: 'task', action: 'data.transform', params: { expression: i === 0 ? '0' : `steps.t${i - 2}.output + 1` } }
        : { id: `l${i}`, type: 'task', action: 'log', params: { message: `{{ "at " & $string(steps.t${i - 1}.output) }}` } }
    )
    await e.engine.createFlow(flowOf('snappy', steps, e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const result = await e.engine.run('snappy', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result).toMatchObject({ status: 'completed', output: { message: 'at 11', level: 'info' } })
    const logged = await entriesOf(e, result.executionId)
    const snapshots = logged.filter((entry) => entry.kind === 'snapshot')
    expect(snapshots.length).toBeGreaterThan(0)
    // Every step's completion is in the log exactly once, before or after the snapshots.
    const completed = logged.flatMap((entry) => [
      ...((entry.payload as { preceding?: { stepId: string }[] } | null)?.preceding ?? []).map((c) => c.stepId),
      ...(entry.stepId !== undefined && (entry.kind === 'step-completed' || entry.kind === 'completed') ? [entry.stepId] : [])
    ])
    expect([...completed].sort()).toEqual(steps.map((step) => step.id).sort())
    // A replay from the latest snapshot gives the state the run ended with.
    const snapshot = await e.store.log.latestSnapshot(result.executionId)
    expect(snapshot?.seq).toBe(snapshots.at(-1)?.seq)
    const replayed = await e.engine.state(result.executionId)
    expect(Object.keys(replayed.steps)).toHaveLength(24)
    expect(replayed.steps.t22?.output).toBe(11)
    expect(replayed).toMatchObject({ status: 'completed', output: { message: 'at 11', level: 'info' } })
    expect(e.errors).toEqual([])
  })

  it('writes a held chain of pure steps once it reaches MAX_HELD_COMPLETIONS', async () => {
    const e = await setup()
    const steps = Array.from({ length: MAX_HELD_COMPLETIONS + 8 }, (_, i) => ({ id: `s${i}`, type: 'task', action: 'data.transform', params: { expression: i === 0 ? '0' : `steps.s${i - 1}.output + 1` } }))
    await e.engine.createFlow(flowOf('pure', steps, e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const result = await e.engine.run('pure', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result.output).toBe(MAX_HELD_COMPLETIONS + 7)
    const logged = await entriesOf(e, result.executionId)
    expect(logged.map((entry) => `${entry.kind}:${entry.stepId ?? ''}`)).toEqual(['started:', `step-completed:s${MAX_HELD_COMPLETIONS}`, `completed:s${MAX_HELD_COMPLETIONS + 7}`])
    expect(logged.map((entry) => (entry.payload as { preceding?: unknown[] }).preceding?.length)).toEqual([undefined, MAX_HELD_COMPLETIONS, 6])
    const replayed = await e.engine.state(result.executionId)
    expect(Object.keys(replayed.steps)).toHaveLength(MAX_HELD_COMPLETIONS + 8)
    expect(replayed.steps[`s${MAX_HELD_COMPLETIONS}`]?.output).toBe(MAX_HELD_COMPLETIONS)
  })

  it('writes a run of pure steps that ends at once as one entry: the final one, carrying its start', async () => {
    const e = await setup()
    const steps = [
      { id: 'a', type: 'task', action: 'data.transform', params: { expression: 'input.n + 1' } },
      { id: 'b', type: 'task', action: 'data.transform', params: { expression: 'steps.a.output * 2' } }
    ]
    const version = await e.engine.createFlow(flowOf('oneshot', steps, e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const launched = await e.engine.launch('oneshot', { n: 1 }, { actor: { did: e.user.did, credentials: { token: await e.token() } }, trigger: 'manual' })
    // Durable when launch resolves, and ended already.
    expect(launched.status).toBe('completed')
    expect(await launched.wait()).toEqual({ executionId: launched.executionId, status: 'completed', output: 4 })
    const id = launched.executionId
    const logged = await entriesOf(e, id)
    expect(logged.map((entry) => [entry.seq, entry.kind, entry.stepId])).toEqual([[0, 'completed', 'b']])
    const payload = logged[0]?.payload as { started?: Record<string, unknown>; preceding?: { stepId: string }[]; output?: unknown }
    expect(payload.started).toEqual({
      flowId: 'oneshot',
      flowVersion: '1.0.0',
      flowHash: version.flowHash,
      actor: e.user.did,
      subnet: 'default',
      input: { n: 1 },
      trigger: 'manual',
      ts: expect.any(Number)
    })
    expect(payload.preceding?.map((c) => c.stepId)).toEqual(['a'])
    expect(payload.output).toBe(4)
    expect(await e.store.log.head(id)).toMatchObject({ seq: 0, status: 'completed', startedAt: payload.started?.ts })
    expect((await e.store.verifyExecution(id)).ok).toBe(true)
    // Its events keep their order: started, each step, the end.
    const types = e.events.filter((ev) => (ev.data as { executionId?: string }).executionId === id).map((ev) => ev.type.slice('q.qflow.exec.'.length, -3))
    expect(types).toEqual(['started', 'step.completed', 'step.completed', 'completed'])
    // A replay of the one entry, after a restart, gives the run's state.
    await e.restart()
    const replayed = await e.engine.state(id)
    expect(replayed).toMatchObject({ status: 'completed', output: 4, seq: 0, input: { n: 1 }, trigger: 'manual', startedAt: payload.started?.ts, tokens: {} })
    expect([replayed.steps.a?.output, replayed.steps.b?.output]).toEqual([2, 4])
    // Starting the same id again finds it ended, and writes nothing.
    const again = await e.engine.launch('oneshot', { n: 1 }, { actor: { did: e.user.did, credentials: { token: await e.token() } }, executionId: id })
    expect(again.status).toBe('completed')
    expect(await again.wait()).toMatchObject({ status: 'completed', output: 4 })
    expect(await kinds(e, id)).toEqual(['completed:b'])
    expect(e.errors).toEqual([])
  })

  it('fails the launch, and keeps nothing live, when the entry that opens the log is refused', async () => {
    const e = await setup()
    const steps = [{ id: 'a', type: 'task', action: 'data.transform', params: { expression: 'input.n + 1' } }]
    await e.engine.createFlow(flowOf('raced', steps, e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    // Another writer starts the same id while this start passes the pipeline.
    e.consent.before = async () => {
      await e.store.log.append('dup', { kind: 'started', payload: { by: 'another writer' } })
    }
    const err = await e.engine.launch('raced', { n: 1 }, { actor: { did: e.user.did, credentials: { token: await e.token() } }, executionId: 'dup' }).catch((x) => x)
    expect(err.name).toBe('ExecutionExistsError')
    expect(e.engine.live('dup')).toBeUndefined()
    expect((await entriesOf(e, 'dup')).map((entry) => [entry.kind, entry.payload])).toEqual([['started', { by: 'another writer' }]])
    expect(e.events.filter((ev) => (ev.data as { executionId?: string }).executionId === 'dup')).toEqual([])
    // Its caller was told; nothing belongs to the engine's error channel.
    expect(e.errors).toEqual([])
  })

  it('calls modules and runs sub-flows', async () => {
    const sent: unknown[] = []
    const qmail = {
      call: async (operation: string, params: Record<string, unknown>) => {
        sent.push({ operation, params })
        return { messageId: 'm-1' }
      }
    }
    const e = await setup({ modules: [['qmail', qmail]] })
    const actor = async () => ({ actor: { did: e.user.did, credentials: { token: await e.token() } } })
    await e.engine.createFlow(flowOf('child', [{ id: 'double', type: 'task', action: 'data.transform', params: { expression: 'input.n * 2' } }], e.user.did), await actor())
    await e.engine.createFlow(
      flowOf(
        'parent',
        [
          { id: 'sub', type: 'sub-flow', flow: 'child@1.0.0', input: { n: '{{ input.n }}' } },
          { id: 'mail', type: 'module-call', module: 'qmail', operation: 'send', params: { to: 'a@b', body: '{{ $string(steps.sub.output.output) }}' } }
        ],
        e.user.did
      ),
      await actor()
    )
    const result = await e.engine.run('parent', { n: 21 }, await actor())
    expect(result).toMatchObject({ status: 'completed', output: { messageId: 'm-1' } })
    expect(sent).toEqual([{ operation: 'send', params: { to: 'a@b', body: '42' } }])
    expect((await e.engine.state(`${result.executionId}.sub.1`)).output).toBe(42)
  })
})

describe('engine: control, consent and recovery', () => {
  it('pauses on an expired consent and continues once renewed; a denial fails the execution', async () => {
    const gate = scripted('gate', () => 'passed')
    const e = await setup({ actions: [gate] })
    const actor = async () => ({ actor: { did: e.user.did, credentials: { token: await e.token() } } })
    await e.engine.createFlow(
      flowOf(
        'gated',
        [
          { id: 'first', type: 'task', action: 'gate' },
          { id: 'second', type: 'task', action: 'gate' }
        ],
        e.user.did
      ),
      await actor()
    )
    let calls = 0
    const original = e.consent.check.bind(e.consent)
    e.consent.check = async (request) => {
      calls++
      if (calls === 3) return { allowed: false, status: 'expired', reason: 'consent lapsed', expiresAt: 1 }
      return original(request)
    }
    const id = await e.engine.startExecution('gated', null, await actor())
    for (let i = 0; i < 100 && e.engine.live(id)?.status !== 'paused'; i++) await new Promise((r) => setTimeout(r, 5))
    expect(e.engine.live(id)).toMatchObject({ status: 'paused', pausedReason: 'CONSENT_EXPIRED' })
    expect(gate.calls).toHaveLength(1)
    await e.engine.resume(id)
    expect((await e.engine.wait(id)).status).toBe('completed')
    expect(gate.calls).toHaveLength(2)

    e.consent.check = original
    e.consent.decisions.set('qflow:flow:gated', { allowed: false, status: 'denied', reason: 'revoked' })
    const denied = await e.engine
      .run('gated', null, await actor())
      .catch((err: Error & { code?: string }) => ({ status: 'refused', code: err.code }))
    expect(denied).toEqual({ status: 'refused', code: 'CONSENT_DENIED' })
  })

  it('aborts a waiting execution and refuses to resume a finished one', async () => {
    const e = await setup()
    await e.engine.createFlow(flowOf('hold', [{ id: 'w', type: 'event-trigger', event: 'never' }], e.user.did), {
      actor: { did: e.user.did, credentials: { token: await e.token() } }
    })
    const id = await e.engine.startExecution('hold', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    await e.engine.abort(id, 'operator said so')
    expect(await e.engine.wait(id)).toMatchObject({ status: 'aborted', error: { message: 'operator said so' } })
    const resumeErr = await e.engine.resume(id).catch((err: Error) => err.name)
    expect(resumeErr).toBe('UnknownExecutionError')
  })

  it('aborting a parent aborts the sub-flow it is waiting for', async () => {
    const e = await setup()
    const actor = async () => ({ actor: { did: e.user.did, credentials: { token: await e.token() } } })
    await e.engine.createFlow(flowOf('slow-child', [{ id: 'w', type: 'event-trigger', event: 'never' }], e.user.did), await actor())
    await e.engine.createFlow(flowOf('waiting-parent', [{ id: 'sub', type: 'sub-flow', flow: 'slow-child@1.0.0' }], e.user.did), await actor())
    const id = await e.engine.startExecution('waiting-parent', null, await actor())
    const childId = `${id}.sub.1`
    for (let i = 0; i < 100 && e.engine.live(childId)?.steps.w?.status !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 10))
    expect(e.engine.live(childId)?.steps.w?.status).toBe('waiting')
    await e.engine.abort(id, 'stop everything')
    expect((await e.engine.wait(id)).status).toBe('aborted')
    expect(await e.engine.wait(childId)).toMatchObject({ status: 'aborted', error: { message: `parent ${id} aborted` } })
  })

  it('after a restart, never re-runs a committed step and re-runs an interrupted one with its idempotency key', async () => {
    let release: (() => void) | undefined
    const charge = scripted('charge', () => 'charged')
    const block = scripted('block', (attempt) => (attempt === 1 && release === undefined ? new Promise<void>((r) => (release = r)) : 'unblocked'))
    const e = await setup({ actions: [charge, block] })
    await e.engine.createFlow(
      flowOf(
        'pay',
        [
          { id: 'charge', type: 'task', action: 'charge' },
          { id: 'ship', type: 'task', action: 'block' }
        ],
        e.user.did
      ),
      { actor: { did: e.user.did, credentials: { token: await e.token() } } }
    )
    const id = await e.engine.startExecution('pay', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    for (let i = 0; i < 100 && block.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    expect(block.calls).toEqual([`${id}:ship:1`])
    await e.restart()
    const result = await e.engine.wait(id)
    expect(result).toMatchObject({ status: 'completed', output: 'unblocked' })
    expect(charge.calls).toEqual([`${id}:charge:1`])
    expect(block.calls).toEqual([`${id}:ship:1`, `${id}:ship:1`])
    release?.()
  })

  it('resumes from a snapshot and emits events that match their schemas', async () => {
    // Steps with effects: each writes a dispatch and a completion, so the log grows past snapshotEvery.
    const count = scripted('count', (_attempt, key) => Number(key.split(':')[1]?.slice(1)))
    const e = await setup({ init: { snapshotEvery: 3 }, actions: [count] })
    const steps = Array.from({ length: 8 }, (_, i) => ({ id: `s${i}`, type: 'task', action: 'count' }))
    await e.engine.createFlow(flowOf('long', steps, e.user.did), { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    const result = await e.engine.run('long', null, { actor: { did: e.user.did, credentials: { token: await e.token() } } })
    expect(result.output).toBe(7)
    expect(await e.store.log.latestSnapshot(result.executionId)).toBeDefined()
    expect((await e.engine.state(result.executionId)).steps.s3?.output).toBe(3)
    const ajv = new Ajv2020.default({ strict: false })
    addFormats.default(ajv)
    for (const [type, schema] of Object.entries(eventSchemas)) ajv.addSchema(schema, type)
    const types = new Set<string>()
    for (const event of e.events as QflowEvent[]) {
      const validate = ajv.getSchema(event.type)
      expect(validate?.(event), `${event.type} ${JSON.stringify(validate?.errors)}`).toBe(true)
      types.add(event.type)
    }
    expect([...types].sort()).toEqual([
      'q.qflow.exec.completed.v1',
      'q.qflow.exec.started.v1',
      'q.qflow.exec.step.completed.v1',
      'q.qflow.exec.step.dispatched.v1',
      'q.qflow.flow.created.v1',
      'q.qflow.validation.pipeline.executed.v1'
    ])
    expect(e.errors).toEqual([])
  })
})
