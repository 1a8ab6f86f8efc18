import { createEvent } from '@qflow/scheduler'
import { describe, expect, it } from 'vitest'
import type { InvalidWsMessageError } from '../../src/server/ws/errors.js'
import { eventFrame, eventFramePrefix, eventScope, parseClientMessage } from '../../src/server/ws/protocol.js'

function refusal(data: string): InvalidWsMessageError {
  try {
    parseClientMessage(data)
  } catch (err) {
    return err as InvalidWsMessageError
  }
  throw new Error(`accepted ${data}`)
}

describe('parseClientMessage', () => {
  it('reads subscribe messages with every filter field, and unsubscribe messages', () => {
    expect(
      parseClientMessage(JSON.stringify({ type: 'subscribe', id: 's1', filter: { events: ['q.qflow.exec.completed.v1', 'q.qflow.exec.completed.v1'], flowId: 'f', executionId: 'e' } }))
    ).toEqual({ type: 'subscribe', id: 's1', filter: { events: ['q.qflow.exec.completed.v1'], flowId: 'f', executionId: 'e' } })
    expect(parseClientMessage('{"type":"subscribe","id":"all"}')).toEqual({ type: 'subscribe', id: 'all', filter: {} })
    expect(parseClientMessage(Buffer.from('{"type":"unsubscribe","id":"s1"}'))).toEqual({ type: 'unsubscribe', id: 's1' })
  })

  it('refuses what is not a message, naming the id when there is one', () => {
    expect(refusal('{not json')).toMatchObject({ name: 'InvalidWsMessageError', code: 'VALIDATION_FAILED', id: undefined })
    expect(refusal('[1,2]').message).toMatch(/not a JSON object/)
    expect(refusal('{"type":"publish","id":"x"}')).toMatchObject({ id: 'x', message: expect.stringMatching(/type must be/) })
    expect(refusal('{"type":"subscribe"}').message).toMatch(/id must be a string/)
    expect(refusal(JSON.stringify({ type: 'subscribe', id: 'x'.repeat(129) })).message).toMatch(/id must be a string of 1-128/)
    expect(refusal('{"type":"subscribe","id":7}').message).toMatch(/id must be a string/)
    expect(refusal('{"type":"subscribe","id":"a","extra":1}')).toMatchObject({ id: 'a', message: expect.stringMatching(/unknown field "extra"/) })
    expect(refusal('{"type":"unsubscribe","id":"a","filter":{}}').message).toMatch(/unknown field "filter"/)
  })

  it('refuses bad filters', () => {
    expect(refusal('{"type":"subscribe","id":"a","filter":[]}').message).toMatch(/filter must be an object/)
    expect(refusal('{"type":"subscribe","id":"a","filter":{"flowID":"f"}}').message).toMatch(/unknown field "flowID"/)
    expect(refusal('{"type":"subscribe","id":"a","filter":{"events":[]}}').message).toMatch(/non-empty array/)
    expect(refusal('{"type":"subscribe","id":"a","filter":{"events":["q.qflow.exec.done.v1"]}}').message).toMatch(/"q\.qflow\.exec\.done\.v1", which is none of q\.qflow\.flow\.created\.v1/)
    expect(refusal('{"type":"subscribe","id":"a","filter":{"flowId":""}}').message).toMatch(/filter\.flowId must be a string of 1-512/)
    expect(refusal('{"type":"subscribe","id":"a","filter":{"executionId":5}}').message).toMatch(/filter\.executionId/)
  })
})

describe('event frames', () => {
  it('frame an already serialised event as the event message JSON.stringify would make', () => {
    const event = createEvent('q.qflow.exec.completed.v1', { executionId: 'e1', flowId: 'f1', status: 'completed', durationMs: 3 }, { source: 'qflow://n', actor: 'did:key:a' })
    const frame = eventFrame(eventFramePrefix('sub "1"'), Buffer.from(JSON.stringify(event)))
    expect(JSON.parse(frame.toString('utf8'))).toEqual({ type: 'event', subscription: 'sub "1"', event })
  })

  it('scope events by the flow and execution their data names, a pipeline event by its resource', () => {
    const source = { source: 'qflow://n', actor: 'did:key:a' }
    expect(eventScope(createEvent('q.qflow.exec.started.v1', { executionId: 'e', flowId: 'f', flowVersion: '1', flowHash: 'h', inputDigest: 'd' }, source))).toEqual({ flowId: 'f', executionId: 'e' })
    expect(eventScope(createEvent('q.qflow.flow.created.v1', { flowId: 'f', version: '1', hash: 'h', owner: 'o', name: 'n' }, source))).toEqual({ flowId: 'f', executionId: undefined })
    const pipeline = { traceId: 't', kind: 'exec.start', resource: 'qflow:flow:billing', outcome: 'passed' as const, stages: [] }
    expect(eventScope(createEvent('q.qflow.validation.pipeline.executed.v1', pipeline, source))).toEqual({ flowId: 'billing', executionId: undefined })
    expect(eventScope(createEvent('q.qflow.validation.pipeline.executed.v1', { ...pipeline, resource: 'qflow:secret:x' }, source))).toEqual({ flowId: undefined, executionId: undefined })
  })
})
