import { describe, expect, it } from 'vitest'
import { applyEntry, completesExecution, initialState, type StateEntry } from '../src/engine/execution-state.js'
import type { EngineFlow } from '../src/engine/flow-model.js'
import { buildFlowGraph } from '../src/engine/graph.js'

const flow = {
  id: 'fan',
  name: 'fan',
  version: '1.0.0',
  owner: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
  steps: [
    { id: 'split', type: 'parallel', branches: [['a1'], ['b1']], join: 'any' },
    { id: 'a1', type: 'task', action: 'data.transform', params: { expression: '1' } },
    { id: 'b1', type: 'task', action: 'slow', params: {} },
    { id: 'after', type: 'task', action: 'data.transform', params: { expression: '2' } }
  ]
} as unknown as EngineFlow

describe('execution state', () => {
  const graph = buildFlowGraph(flow, 'hash')
  let seq = 0
  const entry = (kind: string, payload: unknown, stepId?: string): StateEntry => ({ seq: seq++, kind, ts: 1_000 + seq, payload, ...(stepId === undefined ? {} : { stepId, attempt: 1 }) })

  it('keeps a branch step’s late result, written after an any-join cancelled its branch, without changing anything', () => {
    seq = 0
    const state = initialState('x', graph, entry('started', { flowId: 'fan', flowVersion: '1.0.0', flowHash: 'hash', actor: flow.owner, subnet: 'default', input: null }))
    applyEntry(state, graph, entry('step-dispatched', { token: 't', idempotencyKey: 'x:split:1' }, 'split'))
    applyEntry(state, graph, entry('step-dispatched', { token: 't/split.1', idempotencyKey: 'x:b1:1' }, 'b1'))
    applyEntry(state, graph, entry('step-completed', { token: 't/split.0', idempotencyKey: 'x:a1:1', output: 1 }, 'a1'))
    // The join needed one branch: b1's branch is cancelled and the flow goes on at `after`.
    expect(state.steps['b1']?.status).toBe('cancelled')
    expect(state.tokens['t']).toMatchObject({ stepId: 'after', state: 'ready' })
    expect(Object.keys(state.cancelled ?? {})).toEqual(['t/split.1'])
    // b1 was already running and its result was logged after the join: it changes nothing.
    const before = structuredClone(state)
    applyEntry(state, graph, entry('step-completed', { token: 't/split.1', idempotencyKey: 'x:b1:1', output: 'late' }, 'b1'))
    expect({ ...state, seq: 0, updatedAt: 0 }).toEqual({ ...before, seq: 0, updatedAt: 0 })
    applyEntry(state, graph, entry('step-failed', { token: 't/split.1', idempotencyKey: 'x:b1:1', error: { name: 'Error', message: 'late' } }, 'b1'))
    expect(state.steps['b1']?.status).toBe('cancelled')
    applyEntry(state, graph, entry('step-completed', { token: 't', idempotencyKey: 'x:after:1', output: 2 }, 'after'))
    expect(state.ending).toEqual({ status: 'completed', output: 2 })
  })

  it('reads a completed entry naming a step as that step’s completion and the execution’s, and refuses one that would not end it', () => {
    seq = 0
    const line = buildFlowGraph({ ...flow, id: 'line', steps: [flow.steps[1], flow.steps[3]] } as unknown as EngineFlow, 'hash')
    const started = () => initialState('z', line, entry('started', { flowId: 'line', flowVersion: '1.0.0', flowHash: 'hash', actor: flow.owner, subnet: 'default', input: null }))
    const state = started()
    applyEntry(state, line, entry('step-completed', { token: 't', idempotencyKey: 'z:a1:1', output: 1 }, 'a1'))
    expect(completesExecution(state, line, 't', 'after', 'success')).toBe(true)
    applyEntry(state, line, entry('completed', { token: 't', idempotencyKey: 'z:after:1', output: { done: true } }, 'after'))
    expect(state).toMatchObject({ status: 'completed', output: { done: true }, tokens: {} })
    expect(state.steps['after']).toMatchObject({ status: 'succeeded', output: { done: true } })
    expect(state.ending).toBeUndefined()
    const early = started()
    expect(completesExecution(early, line, 't', 'a1', 'success')).toBe(false)
    expect(() => applyEntry(early, line, entry('completed', { token: 't', idempotencyKey: 'z:a1:1', output: 1 }, 'a1'))).toThrow(
      expect.objectContaining({ name: 'InconsistentLogError' })
    )
  })

  it('still refuses an entry for a token that never existed (InconsistentLogError)', () => {
    seq = 0
    const state = initialState('y', graph, entry('started', { flowId: 'fan', flowVersion: '1.0.0', flowHash: 'hash', actor: flow.owner, subnet: 'default', input: null }))
    expect(() => applyEntry(state, graph, entry('step-completed', { token: 't/split.7', idempotencyKey: 'y:b1:1', output: 1 }, 'b1'))).toThrow(
      expect.objectContaining({ name: 'InconsistentLogError' })
    )
  })
  it('applies the completions an entry carries (preceding) before it, as separate entries would, and refuses malformed ones', () => {
    seq = 0
    const chain = buildFlowGraph(
      {
        ...flow,
        id: 'chain',
        steps: [
          { id: 'p1', type: 'task', action: 'data.transform', params: { expression: '1' } },
          { id: 'p2', type: 'condition', expression: 'true', onTrue: 'call', onFalse: 'call' },
          { id: 'call', type: 'task', action: 'slow', params: {} }
        ]
      } as unknown as EngineFlow,
      'hash'
    )
    const started = { flowId: 'chain', flowVersion: '1.0.0', flowHash: 'hash', actor: flow.owner, subnet: 'default', input: null }
    const p1 = { token: 't', idempotencyKey: 'c:p1:1', output: 1 }
    const p2 = { token: 't', idempotencyKey: 'c:p2:1', output: { result: true }, outcome: 'true' }
    const dispatch = { token: 't', idempotencyKey: 'c:call:1' }
    // One entry each…
    const separate = initialState('c', chain, { seq: 0, kind: 'started', ts: 10, payload: started })
    applyEntry(separate, chain, { seq: 1, kind: 'step-completed', stepId: 'p1', attempt: 1, ts: 11, payload: p1 })
    applyEntry(separate, chain, { seq: 2, kind: 'step-completed', stepId: 'p2', attempt: 1, ts: 12, payload: p2 })
    applyEntry(separate, chain, { seq: 3, kind: 'step-dispatched', stepId: 'call', attempt: 1, ts: 13, payload: dispatch })
    // …or the dispatch carrying both completions.
    const carried = initialState('c', chain, { seq: 0, kind: 'started', ts: 10, payload: started })
    const preceding = [
      { ...p1, stepId: 'p1', attempt: 1, ts: 11 },
      { ...p2, stepId: 'p2', attempt: 1, ts: 12 }
    ]
    applyEntry(carried, chain, { seq: 1, kind: 'step-dispatched', stepId: 'call', attempt: 1, ts: 13, payload: { ...dispatch, preceding } })
    expect({ ...carried, seq: 0 }).toEqual({ ...separate, seq: 0 })
    expect(carried.steps['p1']).toEqual({ status: 'succeeded', attempt: 1, idempotencyKey: 'c:p1:1', startedAt: 11, endedAt: 11, output: 1 })
    expect(carried.tokens['t']).toMatchObject({ stepId: 'call', state: 'running' })

    const fresh = () => initialState('c', chain, { seq: 0, kind: 'started', ts: 10, payload: started })
    const bad = (value: unknown) => () => applyEntry(fresh(), chain, { seq: 1, kind: 'step-dispatched', stepId: 'call', attempt: 1, ts: 13, payload: { ...dispatch, preceding: value } })
    expect(bad('p1')).toThrow(expect.objectContaining({ name: 'InconsistentLogError', seq: 1 }))
    expect(bad([{ ...p1, attempt: 1, ts: 11 }])).toThrow(expect.objectContaining({ name: 'InconsistentLogError' }))
    expect(bad([{ ...p1, stepId: 'p1', attempt: 1, ts: 11, token: 'nope' }])).toThrow(expect.objectContaining({ name: 'InconsistentLogError' }))
    // Kinds that carry nothing ignore the member.
    const paused = fresh()
    applyEntry(paused, chain, { seq: 1, kind: 'paused', ts: 13, payload: { reason: 'x', preceding } })
    expect(paused.steps).toEqual({})
  })
})
