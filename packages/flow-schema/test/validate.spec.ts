import { describe, expect, it } from 'vitest'
import {
  assertValidFlow,
  createActionRegistry,
  type FlowProblem,
  FlowValidationError,
  loadFlow,
  parseFlow,
  validateFlow
} from '../src/index.js'
import { chainFlow, fixture, flowWith, logStep, OWNER } from './fixtures/flows.js'

function errorsOf(doc: unknown, options = {}): FlowProblem[] {
  const result = validateFlow(doc, options)
  expect(result.valid).toBe(false)
  return result.errors
}

function find(problems: FlowProblem[], code: string, pointer?: string): FlowProblem {
  const p = problems.find((x) => x.code === code && (pointer === undefined || x.pointer === pointer))
  expect(p, `no ${code}${pointer === undefined ? '' : ` at ${pointer}`} in ${JSON.stringify(problems, null, 1)}`).toBeDefined()
  return p as FlowProblem
}

describe('validateFlow: valid documents', () => {
  it('accepts the fixture that uses every step and trigger type, without warnings', () => {
    const result = validateFlow(parseFlow(fixture('order-flow.yaml')))
    expect(result.errors).toEqual([])
    expect(result.warnings).toEqual([])
    expect(result.valid).toBe(true)
    expect(result.flow?.id).toBe('order-fulfilment')
  })

  it('accepts a legacy-format document unchanged (valid, with warnings that name the legacy forms)', () => {
    const text = fixture('legacy-flow.json')
    const doc = parseFlow(text)
    const before = JSON.stringify(doc)
    const result = validateFlow(doc)
    expect(result.errors).toEqual([])
    expect(result.valid).toBe(true)
    expect(JSON.stringify(doc)).toBe(before)
    const codes = new Set(result.warnings.map((w) => w.code))
    expect(codes).toEqual(new Set(['legacy-step-form', 'unknown-action']))
    expect(result.warnings.find((w) => w.code === 'legacy-step-form' && w.stepId === 'check-amount')?.message).toMatch(/condition step in the earlier format/)
    expect(loadFlow(text).createdAt).toBe('2025-01-15T10:30:00Z')
  })

  it('accepts x- extension fields silently and warns about other unknown top-level and metadata fields', () => {
    const result = validateFlow(flowWith(undefined, { 'x-editor': { pos: 1 }, stpes: [], metadata: { tags: [], colour: 'red' } }))
    expect(result.valid).toBe(true)
    expect(result.warnings.map((w) => [w.pointer, w.code])).toEqual([
      ['/metadata/colour', 'unknown-field'],
      ['/stpes', 'unknown-field']
    ])
    expect(result.warnings[1]?.message).toContain('did you mean "steps"')
    const strict = validateFlow(flowWith(undefined, { stpes: [] }), { unknownFields: 'error' })
    expect(strict.valid).toBe(false)
    find(strict.errors, 'unknown-field', '/stpes')
  })
})

describe('validateFlow: schema errors', () => {
  it('reports every problem at once, each with a pointer and the step id', () => {
    const doc = {
      id: 'bad id!',
      version: '1.0',
      owner: 'alice',
      steps: [
        { id: 'a', type: 'task' },
        { id: 'b', type: 'task', action: 'log', timeout: 'soon', onSucess: 'a' },
        { id: 'c', type: 'tsak' },
        { id: 'd' },
        { id: 'e', type: 'condition' },
        { id: 'f', type: 'parallel', branches: [['a']], join: 'some' },
        { id: 'g', type: 'task', action: 'log', retryPolicy: { maxAttempts: 2, backoff: 'linear', jitter: 2 } },
        42
      ],
      triggers: [{ id: 't', type: 'cron' }, { id: 'w', type: 'webhook' }]
    }
    const errors = errorsOf(doc)
    find(errors, 'missing-field', '/name')
    expect(find(errors, 'invalid-format', '/id').message).toMatch(/letters, digits/)
    expect(find(errors, 'invalid-format', '/version').message).toMatch(/semantic version/)
    expect(find(errors, 'invalid-format', '/owner').message).toMatch(/sQuid identity/)
    expect(find(errors, 'missing-field', '/steps/0/action').stepId).toBe('a')
    expect(find(errors, 'wrong-type', '/steps/1/timeout').message).toBe('must be integer, got string')
    expect(find(errors, 'unknown-field', '/steps/1/onSucess').message).toContain('did you mean "onSuccess"')
    expect(find(errors, 'unknown-step-type', '/steps/2/type').message).toContain('did you mean "task"')
    find(errors, 'missing-field', '/steps/3/type')
    expect(find(errors, 'missing-field', '/steps/4/expression').message).toMatch(/needs an expression/)
    expect(find(errors, 'invalid-value', '/steps/5/join').message).toMatch(/"all", "any" or \{ count: n \}/)
    find(errors, 'invalid-value', '/steps/6/retryPolicy/backoff')
    find(errors, 'invalid-value', '/steps/6/retryPolicy/jitter')
    expect(find(errors, 'wrong-type', '/steps/7').message).toBe('must be object, got integer')
    find(errors, 'unknown-trigger-type', '/triggers/0/type')
    find(errors, 'missing-field', '/triggers/1/auth')
    // one problem per pointer and code: no oneOf noise from the other step variants
    const keys = errors.map((e) => `${e.pointer} ${e.code}`)
    expect(new Set(keys).size).toBe(keys.length)
    expect(errors.filter((e) => e.pointer.startsWith('/steps/0/')).map((e) => e.code)).toEqual(['missing-field'])
  })

  it('orders problems by document position', () => {
    const errors = errorsOf({ id: 'x', name: 'x', version: 'x', owner: OWNER, steps: [logStep('a', { timeout: 0 }), { id: 'b' }, logStep('c', { timeout: 'x' })] })
    const pointers = errors.map((e) => e.pointer)
    expect(pointers).toEqual(['/steps/0/timeout', '/steps/1/type', '/steps/2/timeout', '/version'])
  })

  it('rejects a document that is not an object, and an empty step list', () => {
    expect(errorsOf(null)[0]).toMatchObject({ pointer: '', code: 'wrong-type' })
    expect(errorsOf('flow')[0]).toMatchObject({ pointer: '', code: 'wrong-type' })
    find(errorsOf(flowWith([])), 'out-of-range', '/steps')
  })
})

describe('validateFlow: references, branches and cycles', () => {
  it('reports duplicate step and trigger ids', () => {
    const errors = errorsOf(
      flowWith([logStep('a'), logStep('b'), logStep('a')], {
        triggers: [
          { id: 't', type: 'manual' },
          { id: 't', type: 'manual' }
        ]
      })
    )
    expect(find(errors, 'duplicate-step-id', '/steps/2/id').message).toContain('/steps/0')
    find(errors, 'duplicate-trigger-id', '/triggers/1/id')
  })

  it('reports references that do not resolve, with a suggestion', () => {
    const errors = errorsOf(
      flowWith([
        { id: 'check', type: 'condition', expression: 'x > 1', onTrue: 'aproved', onFalse: 'rejected' },
        logStep('approved', { onFailure: 'nowhere' }),
        { id: 'wait', type: 'event-trigger', event: 'q.x.v1', timeout: 1000, onTimeout: 'gone' },
        { id: 'p', type: 'parallel', branches: [['approved2']] }
      ])
    )
    expect(find(errors, 'unknown-step-ref', '/steps/0/onTrue').message).toContain('did you mean "approved"')
    find(errors, 'unknown-step-ref', '/steps/0/onFalse')
    find(errors, 'unknown-step-ref', '/steps/1/onFailure')
    find(errors, 'unknown-step-ref', '/steps/2/onTimeout')
    find(errors, 'unknown-step-ref', '/steps/3/branches/0/0')
  })

  it('reports cycles with their path, including a retry loop through onFailure', () => {
    const errors = errorsOf(flowWith([logStep('a'), logStep('b'), logStep('c', { onSuccess: 'a' })]))
    const cycle = find(errors, 'cycle', '/steps/2/onSuccess')
    expect(cycle.related).toEqual(['a', 'b', 'c', 'a'])
    expect(cycle.message).toContain('a → b → c → a')
    expect(cycle.message).toContain('retryPolicy')
    const retry = errorsOf(flowWith([logStep('fetch'), logStep('store', { onFailure: 'fetch' })]))
    expect(find(retry, 'cycle', '/steps/1/onFailure').related).toEqual(['fetch', 'store', 'fetch'])
    const self = errorsOf(flowWith([logStep('a', { onSuccess: 'a' })]))
    expect(find(self, 'cycle').related).toEqual(['a', 'a'])
  })

  it('checks parallel branches: membership, entry, escape and join counts', () => {
    const doc = flowWith([
      { id: 'start', type: 'parallel', branches: [['a', 'b'], ['c'], ['a'], ['start']], join: { count: 5 } },
      logStep('a'),
      logStep('b', { onSuccess: 'after' }),
      logStep('c'),
      logStep('after', { onSuccess: 'c' })
    ])
    const errors = errorsOf(doc)
    find(errors, 'duplicate-branch-member', '/steps/0/branches/2/0')
    find(errors, 'branch-self', '/steps/0/branches/3/0')
    find(errors, 'join-out-of-range', '/steps/0/join/count')
    expect(find(errors, 'branch-escape', '/steps/2/onSuccess').stepId).toBe('b')
    expect(find(errors, 'branch-entry', '/steps/4/onSuccess').stepId).toBe('after')
    const entry = errorsOf(flowWith([logStep('x'), { id: 'p', type: 'parallel', branches: [['x']] }]))
    find(entry, 'entry-in-branch', '/steps/0')
  })

  it('warns about unreachable steps and treats list order as the default successor', () => {
    const result = validateFlow(
      flowWith([
        { id: 'check', type: 'condition', expression: 'ok', onTrue: 'yes', onFalse: 'no' },
        logStep('yes', { onSuccess: 'end' }),
        logStep('no', { onSuccess: 'end' }),
        logStep('orphan', { onSuccess: 'end' }),
        logStep('end')
      ])
    )
    expect(result.valid).toBe(true)
    expect(result.warnings.map((w) => [w.pointer, w.code, w.stepId])).toEqual([['/steps/3', 'unreachable-step', 'orphan']])
  })
})

describe('validateFlow: bounds, expressions, schemas, actions', () => {
  it('enforces timeout, retry and resource bounds (and accepts custom limits)', () => {
    const errors = errorsOf(
      flowWith([
        logStep('a', { timeout: 86_400_001 }),
        { id: 'w', type: 'event-trigger', event: 'q.x.v1', timeout: 31 * 86_400_000 },
        logStep('r', { retryPolicy: { maxAttempts: 101, initialDelay: 5000, maxDelay: 1000 } }),
        logStep('m', { resourceLimits: { memoryMB: 8192, timeoutMs: 0, maxMemoryMB: 100 } }),
        logStep('l', { retryPolicy: { maxAttempts: 2, backoff: 'fixed', backoffStrategy: 'exponential' } })
      ])
    )
    expect(find(errors, 'timeout-out-of-range', '/steps/0/timeout').message).toMatch(/24 hours/)
    expect(find(errors, 'timeout-out-of-range', '/steps/1/timeout').message).toMatch(/30 days/)
    find(errors, 'retry-out-of-range', '/steps/2/retryPolicy/maxAttempts')
    expect(find(errors, 'retry-out-of-range', '/steps/2/retryPolicy/maxDelay').message).toMatch(/shorter than initialDelay/)
    find(errors, 'limit-out-of-range', '/steps/3/resourceLimits/memoryMB')
    find(errors, 'limit-out-of-range', '/steps/3/resourceLimits/timeoutMs')
    find(errors, 'conflicting-fields', '/steps/3/resourceLimits/maxMemoryMB')
    find(errors, 'conflicting-fields', '/steps/4/retryPolicy/backoffStrategy')
    // a 30-day event wait is fine; a stricter limit can be imposed
    expect(validateFlow(flowWith([{ id: 'w', type: 'event-trigger', event: 'q.x.v1', timeout: 30 * 86_400_000 }])).valid).toBe(true)
    // a sub-flow or parallel step may hold event waits: it gets the event-wait bound too
    expect(validateFlow(flowWith([{ id: 's', type: 'sub-flow', flow: 'approval@1.0.0', timeout: 7 * 86_400_000 }])).valid).toBe(true)
    find(errorsOf(flowWith([logStep('t', { timeout: 7 * 86_400_000 })])), 'timeout-out-of-range', '/steps/0/timeout')
    const strict = validateFlow(flowWith([logStep('a', { timeout: 60_000 })]), { limits: { maxTimeoutMs: 1000 } })
    find(strict.errors, 'timeout-out-of-range', '/steps/0/timeout')
  })

  it('compiles every expression and points at the broken ones', () => {
    const errors = errorsOf(
      flowWith(
        [
          { id: 'c', type: 'condition', expression: 'amount >' },
          logStep('t', { params: { message: 'fine', nested: { list: ['{{ ok }}', '{{ 1 + }}'] }, text: 'not {{ an expression' } }),
          { id: 'w', type: 'event-trigger', event: 'q.x.v1', filter: '{{ a = }}' },
          { id: 's', type: 'sub-flow', flow: 'other@1.0.0', input: { v: '{{ ( }}' } },
          { id: 'd', type: 'task', action: 'data.transform', params: { expression: '$sum(' } }
        ],
        { triggers: [{ id: 'e', type: 'event', event: 'q.y.v1', filter: { who: '{{ ] }}' } }] }
      )
    )
    expect(find(errors, 'invalid-expression', '/steps/0/expression').message).toMatch(/^JSONata S\d{4} at position \d+:/)
    find(errors, 'invalid-expression', '/steps/1/params/nested/list/1')
    find(errors, 'invalid-expression', '/steps/2/filter')
    find(errors, 'invalid-expression', '/steps/3/input/v')
    find(errors, 'invalid-expression', '/steps/4/params/expression')
    find(errors, 'invalid-expression', '/triggers/0/filter/who')
    expect(errors.filter((e) => e.code === 'invalid-expression')).toHaveLength(6)
  })

  it('checks cron expressions and time zones of schedule triggers', () => {
    const errors = errorsOf(
      flowWith(undefined, {
        triggers: [
          { id: 'a', type: 'schedule', cron: '*/15 9-17 * * MON-FRI' },
          { id: 'b', type: 'schedule', cron: '0 25 * * *' },
          { id: 'c', type: 'schedule', cron: '0 0 * *' },
          { id: 'd', type: 'schedule', cron: '@daily', timezone: 'Mars/Olympus' }
        ]
      })
    )
    expect(find(errors, 'invalid-cron', '/triggers/1/cron').message).toMatch(/hour value 25/)
    expect(find(errors, 'invalid-cron', '/triggers/2/cron').message).toMatch(/5 or 6 fields/)
    find(errors, 'invalid-timezone', '/triggers/3/timezone')
    expect(errors.some((e) => e.pointer.startsWith('/triggers/0'))).toBe(false)
  })

  it('compiles inputSchema, outputSchema and eventSchema with ajv', () => {
    const errors = errorsOf(
      flowWith([logStep('a', { outputSchema: { type: 'object', properties: { n: { $ref: '#/$defs/missing' } } } })], {
        inputSchema: { type: 'object', properties: { id: { type: 'strnig' } } },
        triggers: [{ id: 'w', type: 'webhook', auth: { scheme: 'github' }, eventSchema: { type: 'string', pattern: '(' } }]
      })
    )
    expect(find(errors, 'invalid-json-schema', '/inputSchema').message).toMatch(/inputSchema does not compile/)
    find(errors, 'invalid-json-schema', '/steps/0/outputSchema')
    find(errors, 'invalid-json-schema', '/triggers/0/eventSchema')
    // unknown keywords compile leniently with a warning
    const lenient = validateFlow(flowWith(undefined, { inputSchema: { type: 'object', 'x-ui': 'form' } }))
    expect(lenient.valid).toBe(true)
    expect(lenient.warnings[0]).toMatchObject({ pointer: '/inputSchema', code: 'json-schema-unknown-keyword' })
  })

  it('validates params against the action registry, exempting expressions', () => {
    const errors = errorsOf(
      flowWith([
        { id: 'h', type: 'task', action: 'http.request', params: { method: 'FETCH', methd: 'GET' } },
        { id: 'x', type: 'task', action: 'http.request', params: { url: '{{ base & "/x" }}', timeoutMs: '{{ t }}' } },
        { id: 'd', type: 'task', action: 'delay', params: { ms: -1 } }
      ])
    )
    find(errors, 'missing-field', '/steps/0/params/url')
    find(errors, 'invalid-value', '/steps/0/params/method')
    expect(find(errors, 'unknown-field', '/steps/0/params/methd').message).toContain('did you mean "method"')
    expect(errors.some((e) => e.pointer.startsWith('/steps/1'))).toBe(false)
    find(errors, 'out-of-range', '/steps/2/params/ms')
  })

  it('reports unknown actions as warnings by default and errors on request, with custom registries', () => {
    const doc = flowWith([{ id: 'a', type: 'task', action: 'http.reqest', params: {} }])
    const lenient = validateFlow(doc)
    expect(lenient.valid).toBe(true)
    expect(lenient.warnings[0]?.message).toContain('did you mean "http.request"')
    find(errorsOf(doc, { unknownActions: 'error' }), 'unknown-action', '/steps/0/action')
    const registry = createActionRegistry().register({
      name: 'qpic.resize',
      paramsSchema: { type: 'object', required: ['width'], properties: { width: { type: 'integer', minimum: 1 } } }
    })
    const custom = flowWith([{ id: 'r', type: 'task', action: 'qpic.resize', params: { width: 0 } }])
    find(errorsOf(custom, { actions: registry, unknownActions: 'error' }), 'out-of-range', '/steps/0/params/width')
    expect(validateFlow(flowWith([{ id: 'r', type: 'task', action: 'qpic.resize', params: { width: 10 } }]), { actions: registry, unknownActions: 'error' }).valid).toBe(true)
  })

  it('checks identities, hashes and sub-flow references', () => {
    const errors = errorsOf(
      flowWith(
        [
          { id: 's1', type: 'sub-flow', flow: 'billing@1.x' },
          { id: 's2', type: 'sub-flow', flow: 'not a ref' },
          { id: 's3', type: 'sub-flow', flow: 'test-flow@1.0.0' },
          { id: 's4', type: 'sub-flow', flow: 'bagaaierakgu4nfi4xyr3axp6nzbxkkm5l2sbhrlweq2dlc3mxlj2jo5q7geq' }
        ],
        { owner: 'did:key:z6MkInvalidKeyxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', previousVersion: 'bafyNOTACID' }
      )
    )
    find(errors, 'invalid-did', '/owner')
    find(errors, 'invalid-cid', '/previousVersion')
    find(errors, 'invalid-sub-flow-ref', '/steps/0/flow')
    find(errors, 'invalid-sub-flow-ref', '/steps/1/flow')
    find(errors, 'recursive-sub-flow', '/steps/2/flow')
    expect(errors.some((e) => e.pointer === '/steps/3/flow')).toBe(false)
    // legacy sQuid ids are opaque and accepted
    expect(validateFlow(flowWith(undefined, { owner: 'did:squid:abc123' })).valid).toBe(true)
    expect(validateFlow(flowWith(undefined, { owner: 'squid:user-1' })).valid).toBe(true)
  })

  it('terminates on shared and cyclic values that only code (not a parser) can produce', () => {
    const shared: Record<string, unknown> = { message: '{{ ( }}' }
    const cyclic: Record<string, unknown> = { message: 'hi' }
    cyclic.self = cyclic
    const result = validateFlow(
      flowWith([logStep('a', { params: { message: 'x', data: { one: shared, two: shared } } }), logStep('b', { params: cyclic })], {
        inputSchema: cyclic
      })
    )
    expect(result.valid).toBe(false)
    find(result.errors, 'invalid-expression', '/steps/0/params/data/one/message')
    expect(find(result.errors, 'invalid-json-schema', '/inputSchema').message).toMatch(/circular/i)
  })

  it('refuses flows with more steps than allowed before doing any other work', () => {
    const result = validateFlow(chainFlow(20), { limits: { maxSteps: 10 } })
    expect(result.errors).toEqual([{ pointer: '/steps', code: 'too-many-steps', message: '20 steps; at most 10 are allowed' }])
  })

  it('caps the number of problems reported', () => {
    const steps = Array.from({ length: 50 }, (_, i) => logStep(`s${i}`, { onSuccess: `missing${i}` }))
    const errors = errorsOf(flowWith(steps), { maxProblems: 10 })
    expect(errors).toHaveLength(11)
    expect(errors[10]).toMatchObject({ code: 'too-many-problems', message: '40 more errors not listed' })
  })
})

describe('assertValidFlow and loadFlow', () => {
  it('throw FlowValidationError carrying problems and warnings', () => {
    try {
      assertValidFlow(flowWith([logStep('a', { onSuccess: 'b2' }), logStep('orphan-less')]))
      expect.unreachable()
    } catch (err) {
      expect((err as Error).name).toBe('FlowValidationError')
      expect(FlowValidationError.name).toBe('FlowValidationError')
      const e = err as FlowValidationError
      expect(e.problems.map((p) => p.code)).toEqual(['unknown-step-ref'])
      expect(e.warnings.map((p) => p.code)).toEqual(['unreachable-step'])
      expect(e.message).toMatch(/^Invalid flow: 1 problem; first at \/steps\/0\/onSuccess/)
    }
    expect(() => loadFlow('id: [')).toThrow(expect.objectContaining({ name: 'FlowParseError' }))
    expect(loadFlow(fixture('order-flow.yaml')).steps).toHaveLength(11)
  })
})
