import { describe, expect, it } from 'vitest'
import { buildStepGraph, type Flow, loadFlow, nextSteps, validateFlow } from '../src/index.js'
import { chainFlow, fixture, flowWith, logStep } from './fixtures/flows.js'

describe('step graph', () => {
  it('follows list order by default and explicit edges otherwise', () => {
    const flow = loadFlow(fixture('order-flow.yaml'))
    expect(nextSteps(flow, 'fetch-order')).toEqual({ success: 'is-large' })
    expect(nextSteps(flow, 'is-large')).toEqual({ true: 'review', false: 'process' })
    expect(nextSteps(flow, 'review')).toEqual({ success: 'process', timeout: 'cancel' })
    expect(nextSteps(flow, 'process')).toEqual({ branches: ['reserve', 'charge'], success: 'notify', failure: 'cancel' })
    // inside a branch: next within the branch; the last step of a branch ends it
    expect(nextSteps(flow, 'reserve')).toEqual({ success: 'confirm-reservation' })
    expect(nextSteps(flow, 'confirm-reservation')).toEqual({})
    expect(nextSteps(flow, 'charge')).toEqual({})
    // top-level list order skips the steps that belong to branches
    expect(nextSteps(flow, 'notify')).toEqual({ success: 'shape-report' })
    expect(nextSteps(flow, 'done')).toEqual({})
    expect(nextSteps(flow, 'nope')).toEqual({})
  })

  it('describes edges, membership and branches', () => {
    const flow = loadFlow(fixture('order-flow.yaml'))
    const graph = buildStepGraph(flow)
    expect(graph).toBe(buildStepGraph(flow))
    expect(graph.entry).toBe('fetch-order')
    expect(graph.stepIds).toHaveLength(11)
    expect(graph.edges('is-large')).toEqual([
      { kind: 'true', to: 'review', implicit: false, pointer: '/steps/1/onTrue' },
      { kind: 'false', to: 'process', implicit: false, pointer: '/steps/1/onFalse' }
    ])
    expect(graph.edges('fetch-order')).toEqual([{ kind: 'success', to: 'is-large', implicit: true, pointer: '/steps/0' }])
    expect(graph.branchOf('confirm-reservation')).toEqual({ parallel: 'process', branch: 0, position: 1 })
    expect(graph.branchOf('notify')).toBeUndefined()
    expect(graph.branches('process')).toEqual([['reserve', 'confirm-reservation'], ['charge']])
    expect(graph.successors('process', 'branch')).toEqual(['reserve', 'charge'])
    expect(graph.indexOf('charge')).toBe(6)
    expect(graph.step('charge')?.type).toBe('module-call')
  })

  it('uses onSuccess as the fallback of a condition without onTrue/onFalse, and list order after that', () => {
    const flow = flowWith([
      { id: 'c', type: 'condition', expression: 'x', onTrue: 'b', onSuccess: 'd' },
      { id: 'c2', type: 'condition', expression: 'x', onTrue: 'd' },
      logStep('b'),
      logStep('d')
    ])
    expect(nextSteps(flow, 'c')).toEqual({ true: 'b', false: 'd' })
    expect(nextSteps(flow, 'c2')).toEqual({ true: 'd', false: 'b' })
  })

  it('sends an event wait that runs out without onTimeout down its failure edge', () => {
    const flow = flowWith([{ id: 'w', type: 'event-trigger', event: 'q.x.v1', timeout: 1000, onFailure: 'f' }, logStep('ok'), logStep('f')])
    expect(nextSteps(flow, 'w')).toEqual({ success: 'ok', failure: 'f', timeout: 'f' })
    expect(buildStepGraph(flow).edges('w').find((e) => e.kind === 'timeout')).toEqual({ kind: 'timeout', to: 'f', implicit: true, pointer: '/steps/0/onFailure' })
    const bare = flowWith([{ id: 'w', type: 'event-trigger', event: 'q.x.v1', timeout: 1000 }, logStep('ok')])
    expect(nextSteps(bare, 'w')).toEqual({ success: 'ok' })
  })

  it('handles nested parallel steps', () => {
    const flow = flowWith([
      { id: 'outer', type: 'parallel', branches: [['inner', 'x'], ['y']] },
      { id: 'inner', type: 'parallel', branches: [['i1'], ['i2']], join: 'any' },
      logStep('x'),
      logStep('y'),
      logStep('i1'),
      logStep('i2'),
      logStep('end')
    ])
    expect(validateFlow(flow).errors).toEqual([])
    expect(nextSteps(flow, 'outer')).toEqual({ branches: ['inner', 'y'], success: 'end' })
    expect(nextSteps(flow, 'inner')).toEqual({ branches: ['i1', 'i2'], success: 'x' })
    expect(nextSteps(flow, 'i1')).toEqual({})
  })

  it('handles 100,000 steps without recursion: a chain, and a cycle through all of them', () => {
    const flow = chainFlow(100_000)
    const result = validateFlow(flow)
    expect(result.valid).toBe(true)
    expect(nextSteps(flow, 's99998')).toEqual({ success: 's99999' })
    const cyclic = chainFlow(100_000) as Flow
    ;(cyclic.steps[99_999] as { onSuccess?: string }).onSuccess = 's0'
    const errors = validateFlow(cyclic).errors
    expect(errors).toHaveLength(1)
    expect(errors[0]?.code).toBe('cycle')
    expect(errors[0]?.related).toHaveLength(1000)
    expect(errors[0]?.message).toContain('(100000 steps)')
  })
})
