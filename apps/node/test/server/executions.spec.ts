import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Api, greetingFlow, startApi } from './api-fixture.js'

let api: Api

/** A flow that waits for the event `go` (whose payload must carry this run's `ticket`), then echoes the payload. */
function waitingFlow(id: string): Record<string, unknown> {
  return {
    id,
    name: 'Waits for go',
    version: '1.0.0',
    owner: 'did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM',
    steps: [
      { id: 'hold', type: 'event-trigger', event: 'go', filter: { ticket: '{{ $.input.ticket }}' }, timeout: 600000, onSuccess: 'echo' },
      { id: 'echo', type: 'task', action: 'data.transform', params: { expression: 'steps.hold.output.payload' } }
    ]
  }
}

beforeAll(async () => {
  api = await startApi()
  expect((await api.call('POST', '/api/v1/flows', { body: greetingFlow('greet') })).status).toBe(201)
  expect((await api.call('POST', '/api/v1/flows', { body: waitingFlow('waiter') })).status).toBe(201)
})

afterAll(async () => {
  await api?.close()
})

describe('starting executions', () => {
  it('runs a flow created through the API end to end and reads the result back', async () => {
    const created = await api.call('POST', '/api/v1/flows', { body: greetingFlow('e2e') })
    expect(created.status).toBe(201)
    const started = await api.call('POST', '/api/v1/executions', { body: { flowId: 'e2e', input: { name: 'Ada' } } })
    expect(started.status).toBe(202)
    expect(started.body.data).toMatchObject({ flowId: 'e2e', executionId: expect.stringMatching(/^exec-/) })
    const id: string = started.body.data.executionId
    await api.node.parts.engine.wait(id)

    const state = await api.call('GET', `/api/v1/executions/${id}`)
    expect(state.status).toBe(200)
    expect(state.body.data).toMatchObject({
      executionId: id,
      flowId: 'e2e',
      flowVersion: '1.0.0',
      status: 'completed',
      trigger: 'api',
      input: { name: 'Ada' },
      output: { message: 'Hello, Ada', level: 'info' }
    })
    expect(state.body.data.steps.compose).toMatchObject({ status: 'succeeded', output: 'Hello, Ada' })
    expect(state.body.data.actor).toBe(api.node.parts.admin.did)

    const logs = await api.call('GET', `/api/v1/executions/${id}/logs`)
    const kinds = logs.body.data.items.map((e: { kind: string }) => e.kind)
    expect(kinds[0]).toBe('started')
    expect(kinds[kinds.length - 1]).toBe('completed')
    expect(logs.body.data.items.map((e: { seq: number }) => e.seq)).toEqual(kinds.map((_: string, i: number) => i))
  })

  it('waits for the result with wait: true (the ecosystem path POST /flows/:id/start)', async () => {
    const answer = await api.call('POST', '/api/v1/flows/greet/start', { body: { input: { name: 'Grace' }, wait: true, timeoutMs: 20000 } })
    expect(answer.status).toBe(200)
    expect(answer.body.data).toMatchObject({ flowId: 'greet', status: 'completed', output: { message: 'Hello, Grace' } })
  })

  it('answers 202 still running when the wait runs out, and the execution carries on', async () => {
    const answer = await api.call('POST', '/api/v1/flows/waiter/start', { body: { input: { ticket: 'slow' }, wait: true, timeoutMs: 50 } })
    expect(answer.status).toBe(202)
    expect(answer.body.data).toMatchObject({ flowId: 'waiter', status: 'running' })
    const id: string = answer.body.data.executionId
    const delivered = await api.call('POST', '/api/v1/events', { body: { name: 'go', payload: { ticket: 'slow', n: 1 } } })
    expect(delivered.body.data).toEqual({ name: 'go', delivered: 1 })
    expect(await api.node.parts.engine.wait(id)).toMatchObject({ status: 'completed', output: { ticket: 'slow', n: 1 } })
  })

  it('uses the executionId given, and starting it again answers the same execution', async () => {
    const first = await api.call('POST', '/api/v1/executions', { body: { flowId: 'greet', executionId: 'exec-chosen-1', input: { name: 'A' }, wait: true } })
    expect(first.body.data).toMatchObject({ executionId: 'exec-chosen-1', status: 'completed' })
    const again = await api.call('POST', '/api/v1/executions', { body: { flowId: 'greet', executionId: 'exec-chosen-1', input: { name: 'A' } } })
    expect(again.body.data.executionId).toBe('exec-chosen-1')
  })

  it('runs a named document version', async () => {
    await api.call('POST', '/api/v1/flows', { body: { ...greetingFlow('greet'), version: '2.0.0', steps: [{ id: 'compose', type: 'task', action: 'data.transform', params: { expression: "'Hi, ' & $.input.name" } }] } })
    const v2 = await api.call('POST', '/api/v1/flows/greet/start', { body: { input: { name: 'B' }, wait: true } })
    expect(v2.body.data.output).toBe('Hi, B')
    const v1 = await api.call('POST', '/api/v1/flows/greet/start', { body: { input: { name: 'B' }, version: '1.0.0', wait: true } })
    expect(v1.body.data.output).toMatchObject({ message: 'Hello, B' })
  })

  it('answers 404 for an unknown flow and 400 for a body it does not accept', async () => {
    const unknown = await api.call('POST', '/api/v1/flows/no-such-flow/start', { body: {} })
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NOT_FOUND'])
    const noFlow = await api.call('POST', '/api/v1/executions', { body: { input: {} } })
    expect([noFlow.status, noFlow.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
    const extra = await api.call('POST', '/api/v1/executions', { body: { flowId: 'greet', inptu: {} } })
    expect(extra.status).toBe(400)
    const tooLong = await api.call('POST', '/api/v1/executions', { body: { flowId: 'greet', wait: true, timeoutMs: 10_000_000 } })
    expect(tooLong.status).toBe(400)
  })

  it('starts with no body at all on the ecosystem path', async () => {
    const answer = await api.call('POST', '/api/v1/flows/greet/start', {})
    expect(answer.status).toBe(202)
  })
})

describe('controlling executions', () => {
  it('pauses, resumes and then completes a waiting execution by event', async () => {
    const started = await api.call('POST', '/api/v1/executions', { body: { flowId: 'waiter', input: { ticket: 't-1' } } })
    const id: string = started.body.data.executionId
    const paused = await api.call('POST', `/api/v1/executions/${id}/pause`, { body: { reason: 'maintenance' } })
    expect(paused.status).toBe(200)
    expect(paused.body.data).toEqual({ executionId: id, status: 'paused' })
    expect((await api.call('GET', `/api/v1/executions/${id}`)).body.data).toMatchObject({ status: 'paused', pausedReason: 'maintenance' })
    const pausedAgain = await api.call('POST', `/api/v1/executions/${id}/pause`)
    expect([pausedAgain.status, pausedAgain.body.error.code]).toEqual([409, 'CONFLICT'])
    const resumed = await api.call('POST', `/api/v1/executions/${id}/resume`)
    expect(resumed.body.data).toEqual({ executionId: id, status: 'running' })
    // An event for another ticket ends nothing; the matching one ends the wait.
    expect((await api.call('POST', '/api/v1/events', { body: { name: 'go', payload: { ticket: 'other' } } })).body.data.delivered).toBe(0)
    expect((await api.call('POST', '/api/v1/events', { body: { name: 'go', payload: { ticket: 't-1', ok: true } } })).body.data.delivered).toBe(1)
    await api.node.parts.engine.wait(id)
    const state = await api.call('GET', `/api/v1/executions/${id}`)
    expect(state.body.data).toMatchObject({ status: 'completed', output: { ticket: 't-1', ok: true } })
  })

  it('aborts an execution; controlling it afterwards answers 409 CONFLICT', async () => {
    const started = await api.call('POST', '/api/v1/executions', { body: { flowId: 'waiter', input: { ticket: 't-2' } } })
    const id: string = started.body.data.executionId
    const aborted = await api.call('POST', `/api/v1/executions/${id}/abort`, { body: { reason: 'not needed' } })
    expect(aborted.body.data).toEqual({ executionId: id, status: 'aborted' })
    expect((await api.call('GET', `/api/v1/executions/${id}`)).body.data.status).toBe('aborted')
    for (const verb of ['pause', 'resume', 'abort']) {
      const answer = await api.call('POST', `/api/v1/executions/${id}/${verb}`)
      expect([verb, answer.status, answer.body.error.code]).toEqual([verb, 409, 'CONFLICT'])
    }
  })

  it('answers 404 NOT_FOUND for an unknown execution on every execution route', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/executions/exec-missing'],
      ['GET', '/api/v1/executions/exec-missing/logs'],
      ['POST', '/api/v1/executions/exec-missing/pause'],
      ['POST', '/api/v1/executions/exec-missing/resume'],
      ['POST', '/api/v1/executions/exec-missing/abort']
    ] as const) {
      const answer = await api.call(method, path)
      expect([path, answer.status, answer.body.error.code]).toEqual([path, 404, 'NOT_FOUND'])
    }
  })
})

describe('listing executions and paging logs', () => {
  let ids: string[] = []

  beforeAll(async () => {
    await api.call('POST', '/api/v1/flows', { body: greetingFlow('listed') })
    ids = []
    for (let i = 0; i < 5; i++) {
      const answer = await api.call('POST', '/api/v1/flows/listed/start', { body: { input: { name: `n${i}` }, wait: true } })
      ids.push(answer.body.data.executionId)
    }
    ids.sort()
  })

  it('walks every page of a flow’s executions with nextCursor', async () => {
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const answer = await api.call('GET', `/api/v1/executions?flowId=listed&limit=2${cursor === undefined ? '' : `&cursor=${cursor}`}`)
      expect(answer.status).toBe(200)
      for (const item of answer.body.data.items) {
        expect(item).toMatchObject({ flowId: 'listed', status: 'completed', subnet: 'default' })
        seen.push(item.executionId)
      }
      cursor = answer.body.data.nextCursor
      pages++
    } while (cursor !== undefined)
    expect(pages).toBe(3)
    expect(seen).toEqual(ids)
  })

  it('filters by status', async () => {
    const completed = await api.call('GET', '/api/v1/executions?status=completed&limit=500')
    expect(completed.body.data.items.every((i: { status: string }) => i.status === 'completed')).toBe(true)
    expect(completed.body.data.items.map((i: { executionId: string }) => i.executionId)).toEqual(expect.arrayContaining(ids))
    const paused = await api.call('GET', '/api/v1/executions?status=paused&flowId=listed')
    expect(paused.body.data.items).toEqual([])
  })

  it('refuses a cursor issued for another query', async () => {
    const first = await api.call('GET', '/api/v1/executions?flowId=listed&limit=2')
    const answer = await api.call('GET', `/api/v1/executions?flowId=greet&limit=2&cursor=${first.body.data.nextCursor}`)
    expect([answer.status, answer.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
  })

  it('pages an execution’s log with after/next, every entry once and in order', async () => {
    const id = ids[0] as string
    const all = await api.call('GET', `/api/v1/executions/${id}/logs?limit=1000`)
    const total = all.body.data.items.length
    expect(total).toBeGreaterThanOrEqual(3)
    expect(all.body.data.next).toBeUndefined()
    const seqs: number[] = []
    let after: number | undefined
    do {
      const answer = await api.call('GET', `/api/v1/executions/${id}/logs?limit=1${after === undefined ? '' : `&after=${after}`}`)
      seqs.push(...answer.body.data.items.map((e: { seq: number }) => e.seq))
      after = answer.body.data.next
    } while (after !== undefined)
    expect(seqs).toEqual([...Array(total).keys()])
    expect(all.body.data.items[0]).toMatchObject({ seq: 0, kind: 'started', payload: { flowId: 'listed' }, cid: expect.stringMatching(/^b/) })
  })
})
