import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQflowClient, normalizeApiUrl, type QflowClient } from '../../src/client/client.js'
import { apiErrorClass, EventStreamError, type QflowApiError } from '../../src/client/errors.js'
import type { QflowEventJson } from '../../src/client/types.js'
import { APPROVAL_YAML, delayedYaml, HELLO_V2_YAML, HELLO_YAML, type RemoteNode, startRemoteNode } from './fixtures.js'

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<QflowApiError & Error> {
  try {
    await promise
  } catch (err) {
    return err as QflowApiError & Error
  }
  throw new Error('expected a rejection')
}

describe('createQflowClient against a listening node', () => {
  let remote: RemoteNode
  let client: QflowClient

  beforeAll(async () => {
    remote = await startRemoteNode()
    client = createQflowClient({ api: `${remote.url}/api/v1/`, token: remote.adminToken })
  })
  afterAll(async () => {
    await remote?.close()
  })

  it('normalises the API URL and rejects what is not http(s)', () => {
    expect(client.api).toBe(remote.url)
    expect(normalizeApiUrl('http://example.com:7070/qflow/api/v1/')).toBe('http://example.com:7070/qflow')
    expect(() => createQflowClient({ api: 'ftp://example.com' })).toThrow(expect.objectContaining({ name: 'InvalidApiUrlError', api: 'ftp://example.com' }))
    expect(() => createQflowClient({ api: 'not a url' })).toThrow(expect.objectContaining({ name: 'InvalidApiUrlError' }))
    expect(() => createQflowClient({ api: 'http://user:pw@example.com' })).toThrow(expect.objectContaining({ name: 'InvalidApiUrlError' }))
  })

  it('stores flows from YAML text and JSON documents, and reads them back by id, version and history', async () => {
    const first = await client.flows.create(HELLO_YAML)
    expect(first).toMatchObject({ flowId: 'hello', revision: 1, action: 'register', flowVersion: '1.0.0', archived: false })
    expect(first.flowHash).toMatch(/^b/)
    const again = await client.flows.create(HELLO_YAML, { format: 'yaml' })
    expect(again.revision).toBe(1)
    const second = await client.flows.create(HELLO_V2_YAML)
    expect(second).toMatchObject({ revision: 2, flowVersion: '1.1.0' })

    const current = await client.flows.get('hello')
    expect(current.version.revision).toBe(2)
    expect(current.flow).toMatchObject({ id: 'hello', version: '1.1.0' })
    expect((await client.flows.getVersion('hello', '1.0.0')).version.flowHash).toBe(first.flowHash)
    expect((await client.flows.getVersion('hello', '1')).flow.version).toBe('1.0.0')
    expect((await client.flows.history('hello')).map((v) => [v.revision, v.flowVersion])).toEqual([
      [2, '1.1.0'],
      [1, '1.0.0']
    ])

    const rolled = await client.flows.rollback('hello', 1)
    expect(rolled).toMatchObject({ revision: 3, action: 'rollback', rolledBackTo: 1, flowVersion: '1.0.0' })
    const json = await client.flows.create({ ...current.flow, id: 'hello-json' })
    expect(json).toMatchObject({ flowId: 'hello-json', revision: 1 })
  })

  it('lists and searches flows page by page', async () => {
    await client.flows.create(delayedYaml('pages-a', 10))
    await client.flows.create(delayedYaml('pages-b', 10))
    const tagged = await client.flows.list({ tag: ['delay'] })
    expect(tagged.items.map((f) => f.id).sort()).toEqual(['pages-a', 'pages-b'])
    expect(tagged.items[0]).toMatchObject({ tags: ['test', 'delay'], status: 'active', archived: false })
    const first = await client.flows.list({ tag: 'delay', limit: 1 })
    expect(first.items).toHaveLength(1)
    expect(typeof first.nextCursor).toBe('string')
    const all: string[] = []
    for await (const flow of client.flows.listAll({ tag: 'delay', limit: 1 })) all.push(flow.id)
    expect(all.sort()).toEqual(['pages-a', 'pages-b'])
    const archived = await client.flows.archive('pages-b')
    expect(archived).toMatchObject({ action: 'archive', archived: true })
    expect((await client.flows.list({ tag: 'delay' })).items.map((f) => f.id)).toEqual(['pages-a'])
    expect((await client.flows.list({ tag: 'delay', includeArchived: true })).items.map((f) => f.id).sort()).toEqual(['pages-a', 'pages-b'])
  })

  it('starts executions, waits for results, and reads state, logs and listings', async () => {
    // A log step between the two transforms: it writes an entry of its own, so the log has pages.
    const note = `  - id: note\n    type: task\n    action: log\n    params:\n      message: "{{ steps.compose.output }}"\n  - id: measure`
    await client.flows.create(HELLO_YAML.replace('id: hello', 'id: hello-run').replace('  - id: measure', note))
    const result = await client.flows.start('hello-run', { input: { name: 'Ada' }, wait: true, timeoutMs: 20_000 })
    expect(result).toMatchObject({ flowId: 'hello-run', status: 'completed', output: { greeting: 'Hello, Ada', length: 10 } })
    const accepted = await client.executions.start({ flowId: 'hello-run', input: { name: 'Grace' }, executionId: 'exec-client-1' })
    expect(accepted).toMatchObject({ executionId: 'exec-client-1', flowId: 'hello-run' })

    const state = await client.executions.get(result.executionId)
    expect(state).toMatchObject({ executionId: result.executionId, flowId: 'hello-run', status: 'completed', output: { greeting: 'Hello, Ada' } })
    expect(Object.keys(state.steps).sort()).toEqual(['compose', 'measure', 'note'])

    // compose is pure: its completion rides on the note's log entry (preceded by the start), the
    // note's on the entry that completes measure and the execution.
    const page = await client.executions.logs(result.executionId, { limit: 1 })
    expect(page.items.map((e) => e.seq)).toEqual([0])
    expect(page.items[0]?.kind).toBe('started')
    expect(page.next).toBe(0)
    const entries = []
    for await (const entry of client.executions.allLogs(result.executionId, { limit: 1 })) entries.push(entry)
    expect(entries.map((e) => [e.seq, e.kind, e.stepId])).toEqual([
      [0, 'started', undefined],
      [1, 'log', 'note'],
      [2, 'completed', 'measure']
    ])
    expect((entries[1]?.payload as { preceding?: { stepId: string; output: unknown }[] } | undefined)?.preceding).toMatchObject([{ stepId: 'compose', output: 'Hello, Ada' }])
    expect((entries[2]?.payload as { preceding?: { stepId: string }[] } | undefined)?.preceding).toMatchObject([{ stepId: 'note' }])

    const listed = await client.executions.list({ flowId: 'hello-run' })
    expect(listed.items.map((e) => e.executionId)).toContain(result.executionId)
    expect(listed.items.every((e) => e.flowId === 'hello-run')).toBe(true)
  })

  it('pauses, resumes and aborts an execution, and refuses to resume an ended one', async () => {
    await client.flows.create(delayedYaml('slow', 60_000))
    const { executionId } = await client.flows.start('slow')
    expect(await client.executions.pause(executionId, 'maintenance')).toEqual({ executionId, status: 'paused' })
    expect((await client.executions.get(executionId)).pausedReason).toBe('maintenance')
    expect(await client.executions.resume(executionId)).toEqual({ executionId, status: 'running' })
    expect(await client.executions.abort(executionId, 'test over')).toEqual({ executionId, status: 'aborted' })
    const err = await rejection(client.executions.resume(executionId))
    expect(err).toMatchObject({ name: 'ApiConflictError', status: 409, code: 'CONFLICT' })
  })

  it('delivers events to waiting event-trigger steps', async () => {
    await client.flows.create(APPROVAL_YAML)
    const { executionId } = await client.flows.start('approval', { input: { ticket: 'T-9' } })
    let delivered = 0
    for (let i = 0; i < 100 && delivered === 0; i++) {
      delivered = (await client.events.trigger('q.test.approved.v1', { ticket: 'T-9', by: 'Ada' })).delivered
      if (delivered === 0) await new Promise((r) => setTimeout(r, 50))
    }
    expect(delivered).toBe(1)
    expect(await client.events.trigger('q.test.approved.v1', { ticket: 'T-9', by: 'again' })).toEqual({ name: 'q.test.approved.v1', delivered: 0 })
    const result = await client.flows.start('approval', { input: { ticket: 'T-9' }, executionId, wait: true, timeoutMs: 10_000 })
    expect(result).toMatchObject({ status: 'completed', output: 'approved by Ada' })
  })

  it('streams the events of an execution over the WebSocket', async () => {
    await client.flows.create(HELLO_YAML.replace('id: hello', 'id: hello-events'))
    const subscription = await client.events.subscribe({ flowId: 'hello-events' })
    const { executionId } = await client.flows.start('hello-events', { input: { name: 'Lin' } })
    const seen: QflowEventJson[] = []
    for await (const event of subscription) {
      seen.push(event)
      if (event.type === 'q.qflow.exec.completed.v1') break
    }
    const types = seen.filter((e) => 'executionId' in e.data && e.data.executionId === executionId).map((e) => e.type)
    expect(types[0]).toBe('q.qflow.exec.started.v1')
    expect(types.at(-1)).toBe('q.qflow.exec.completed.v1')
    expect(types.filter((t) => t === 'q.qflow.exec.step.completed.v1')).toHaveLength(2)
    expect(seen.at(-1)?.data).toMatchObject({ executionId, status: 'completed' })
  })

  it('ends an iteration when the subscription is closed', async () => {
    const subscription = await client.events.subscribe({ executionId: 'exec-none' })
    const iterator = subscription[Symbol.asyncIterator]()
    const pending = iterator.next()
    await subscription.close()
    expect(await pending).toEqual({ value: undefined, done: true })
  })

  it('refuses a subscription with a bad filter, and an upgrade without a valid token', async () => {
    const bad = await rejection(client.events.subscribe({ events: ['q.nope.v1'] }))
    expect(bad).toBeInstanceOf(EventStreamError)
    expect(bad).toMatchObject({ name: 'EventStreamError', code: 'VALIDATION_FAILED' })
    const anonymous = createQflowClient({ api: remote.url })
    const refused = await rejection(anonymous.events.subscribe({}))
    expect(refused).toMatchObject({ name: 'ApiUnauthenticatedError', status: 401, code: 'UNAUTHENTICATED' })
  })

  it('turns error envelopes into typed errors with code, message, details, requestId and status', async () => {
    const anonymous = await rejection(createQflowClient({ api: remote.url }).flows.list())
    expect(anonymous).toMatchObject({ name: 'ApiUnauthenticatedError', status: 401, code: 'UNAUTHENTICATED', method: 'GET' })
    expect(anonymous.requestId).toMatch(/.+/)
    const forged = await rejection(createQflowClient({ api: remote.url, token: 'not.a.token' }).executions.list())
    expect(forged).toMatchObject({ name: 'ApiUnauthenticatedError', status: 401 })

    await client.flows.create(HELLO_YAML.replace('id: hello', 'id: private'))
    const stranger = createQflowClient({ api: remote.url, token: remote.strangerToken })
    const denied = await rejection(stranger.flows.get('private'))
    expect(denied).toMatchObject({ name: 'ApiForbiddenError', status: 403, code: 'FORBIDDEN', details: { resource: 'qflow:flow:private', action: 'read' } })
    expect((await stranger.flows.list()).items).toEqual([])

    const missing = await rejection(client.flows.get('no-such-flow'))
    expect(missing).toMatchObject({ name: 'ApiNotFoundError', status: 404, code: 'NOT_FOUND' })
    const noExecution = await rejection(client.executions.get('exec-missing'))
    expect(noExecution).toMatchObject({ name: 'ApiNotFoundError', status: 404 })

    const invalid = await rejection(client.flows.create({ id: 'broken', steps: [] }))
    expect(invalid).toMatchObject({ name: 'ApiValidationError', status: 400, code: 'VALIDATION_FAILED' })
    expect(invalid.details).toBeDefined()
    const badInput = await rejection(client.flows.start('hello', { executionId: 'has spaces' }))
    expect(badInput).toMatchObject({ name: 'ApiValidationError', status: 400 })
  })

  it('reads health and the OpenAPI document', async () => {
    expect(await client.live()).toEqual({ status: 'live' })
    expect((await client.ready()).status).toBe('ready')
    const doc = await client.openapi()
    expect(doc.openapi).toMatch(/^3\.1/)
    expect(Object.keys(doc.paths as object)).toContain('/api/v1/flows/{id}/start')
  })
})

describe('@qflow/node/client', () => {
  it('resolves to the built client alone', async () => {
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const script = "const m = await import('@qflow/node/client'); console.log(typeof m.createQflowClient, m.createQflowClient({ api: 'http://127.0.0.1:7070/api/v1' }).api, 'createQflowNode' in m)"
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] })
      let stdout = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
      })
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout }))
    })
    expect(result).toEqual({ code: 0, stdout: 'function http://127.0.0.1:7070 false\n' })
  })
})

describe('createQflowClient without a node', () => {
  it('reports a refused connection as NodeUnreachableError', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const client = createQflowClient({ api: `http://127.0.0.1:${port}`, token: 't' })
    const err = await rejection(client.flows.list())
    expect(err).toMatchObject({ name: 'NodeUnreachableError', reason: 'refused' })
    const stream = await rejection(client.events.subscribe({}))
    expect(stream).toMatchObject({ name: 'NodeUnreachableError', reason: 'refused' })
  })

  it('reports an answer that is not the API as UnexpectedResponseError, and an error status without envelope by its status', async () => {
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/flows')) {
        res.setHeader('content-type', 'text/html')
        res.end('<html>a proxy page</html>')
        return
      }
      res.statusCode = 502
      res.setHeader('retry-after', '3')
      res.end('bad gateway')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      const client = createQflowClient({ api: `http://127.0.0.1:${port}`, token: 't' })
      expect(await rejection(client.flows.list())).toMatchObject({ name: 'UnexpectedResponseError', status: 200 })
      const gateway = await rejection(client.executions.get('x'))
      expect(gateway).toMatchObject({ name: 'ApiServerError', status: 502, code: 'HTTP_502', retryAfterMs: 3000 })
      expect(gateway.message).toContain('bad gateway')
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('maps statuses to error classes', () => {
    expect([400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503, 418].map((s) => apiErrorClass(s).name)).toEqual([
      'ApiValidationError',
      'ApiUnauthenticatedError',
      'ApiForbiddenError',
      'ApiNotFoundError',
      'ApiConflictError',
      'ApiValidationError',
      'ApiValidationError',
      'ApiValidationError',
      'ApiRateLimitedError',
      'ApiServerError',
      'ApiServerError',
      'QflowApiError'
    ])
  })
})
