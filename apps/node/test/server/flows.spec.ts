import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROKEN_YAML, GREETING_YAML } from '../fixtures/flows.js'
import { type Api, greetingFlow, startApi } from './api-fixture.js'

let api: Api

beforeAll(async () => {
  api = await startApi()
})

afterAll(async () => {
  await api?.close()
})

function expectOk(answer: { body: { success: boolean; requestId: string; timestamp: string } }): void {
  expect(answer.body.success).toBe(true)
  expect(answer.body.requestId).toEqual(expect.any(String))
  expect(new Date(answer.body.timestamp).toISOString()).toBe(answer.body.timestamp)
}

describe('POST /api/v1/flows', () => {
  it('stores a JSON flow and answers 201 with its version', async () => {
    const answer = await api.call('POST', '/api/v1/flows', { body: greetingFlow('json-flow') })
    expect(answer.status).toBe(201)
    expectOk(answer)
    expect(answer.body.data).toMatchObject({ flowId: 'json-flow', revision: 1, action: 'register', flowVersion: '1.0.0', archived: false })
    expect(answer.body.data.flowHash).toMatch(/^b/)
    const { flow } = await api.node.parts.store.flows.get('json-flow')
    expect(flow.name).toBe('Greeting')
  })

  it('stores a YAML flow sent as application/yaml', async () => {
    const answer = await api.call('POST', '/api/v1/flows', { body: GREETING_YAML, headers: { 'content-type': 'application/yaml' } })
    expect(answer.status).toBe(201)
    expect(answer.body.data).toMatchObject({ flowId: 'greeting', revision: 1 })
    const read = await api.call('GET', '/api/v1/flows/greeting')
    expect(read.body.data.flow.steps.map((s: { id: string }) => s.id)).toEqual(['compose', 'say'])
  })

  it('answers 400 VALIDATION_FAILED with every problem and its JSON pointer, storing nothing', async () => {
    const answer = await api.call('POST', '/api/v1/flows', { body: BROKEN_YAML, headers: { 'content-type': 'application/yaml' } })
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({ success: false, error: { code: 'VALIDATION_FAILED' } })
    const pointers = answer.body.error.details.problems.map((p: { pointer: string }) => p.pointer)
    expect(pointers).toEqual(expect.arrayContaining(['/steps/1/type']))
    expect(await api.node.parts.store.flows.current('broken')).toBeUndefined()
  })

  it('answers 400 with the line and column of a YAML syntax error', async () => {
    const answer = await api.call('POST', '/api/v1/flows', { body: 'id: x\n  steps: [\n', headers: { 'content-type': 'application/yaml' } })
    expect(answer.status).toBe(400)
    expect(answer.body.error.code).toBe('VALIDATION_FAILED')
    expect(answer.body.error.details).toMatchObject({ format: 'yaml', line: expect.any(Number), column: expect.any(Number) })
  })

  it('answers 400 for malformed JSON and 415 for another media type', async () => {
    const bad = await api.call('POST', '/api/v1/flows', { body: '{"id": ', headers: { 'content-type': 'application/json' } })
    expect([bad.status, bad.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
    const media = await api.call('POST', '/api/v1/flows', { body: 'id=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    expect([media.status, media.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE'])
  })
})

describe('GET /api/v1/flows/:id, versions, history, rollback, archive', () => {
  beforeAll(async () => {
    await api.call('POST', '/api/v1/flows', { body: greetingFlow('versioned') })
    await api.call('POST', '/api/v1/flows', { body: { ...greetingFlow('versioned'), version: '1.1.0', description: 'Says hello, louder' } })
  })

  it('answers the current document and version', async () => {
    const answer = await api.call('GET', '/api/v1/flows/versioned')
    expect(answer.status).toBe(200)
    expectOk(answer)
    expect(answer.body.data.version).toMatchObject({ flowId: 'versioned', revision: 2, flowVersion: '1.1.0' })
    expect(answer.body.data.flow.description).toBe('Says hello, louder')
  })

  it('answers a version by revision number and by document version', async () => {
    const byRevision = await api.call('GET', '/api/v1/flows/versioned/versions/1')
    expect(byRevision.body.data.version).toMatchObject({ revision: 1, flowVersion: '1.0.0' })
    expect(byRevision.body.data.flow.description).toBe('Says hello')
    const bySemver = await api.call('GET', '/api/v1/flows/versioned/versions/1.1.0')
    expect(bySemver.body.data.version).toMatchObject({ revision: 2, flowVersion: '1.1.0' })
  })

  it('answers 404 NOT_FOUND for an unknown flow, revision or version', async () => {
    for (const path of ['/api/v1/flows/no-such-flow', '/api/v1/flows/versioned/versions/9', '/api/v1/flows/versioned/versions/7.0.0', '/api/v1/flows/no-such-flow/history']) {
      const answer = await api.call('GET', path)
      expect([path, answer.status, answer.body.error.code]).toEqual([path, 404, 'NOT_FOUND'])
    }
  })

  it('rolls back to a revision as a new revision, and the history shows it newest first', async () => {
    const rolled = await api.call('POST', '/api/v1/flows/versioned/rollback', { body: { toVersion: 1 } })
    expect(rolled.status).toBe(200)
    expect(rolled.body.data).toMatchObject({ revision: 3, action: 'rollback', rolledBackTo: 1, flowVersion: '1.0.0' })
    const current = await api.call('GET', '/api/v1/flows/versioned')
    expect(current.body.data.flow.description).toBe('Says hello')
    const byName = await api.call('POST', '/api/v1/flows/versioned/rollback', { body: { toVersion: '1.1.0' } })
    expect(byName.body.data).toMatchObject({ revision: 4, rolledBackTo: 2, flowVersion: '1.1.0' })
    const history = await api.call('GET', '/api/v1/flows/versioned/history')
    expect(history.body.data.items.map((v: { revision: number; action: string }) => [v.revision, v.action])).toEqual([
      [4, 'rollback'],
      [3, 'rollback'],
      [2, 'register'],
      [1, 'register']
    ])
    // The index follows the registry: the listing shows the restored document's version.
    const listed = await api.call('GET', '/api/v1/flows?q=louder')
    expect(listed.body.data.items.map((f: { id: string; version: string }) => [f.id, f.version])).toEqual([['versioned', '1.1.0']])
  })

  it('answers 400 for a rollback body without toVersion', async () => {
    const answer = await api.call('POST', '/api/v1/flows/versioned/rollback', { body: { to: 1 } })
    expect([answer.status, answer.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
  })

  it('archives a flow: kept, left out of listings unless asked for', async () => {
    await api.call('POST', '/api/v1/flows', { body: greetingFlow('to-archive') })
    const archived = await api.call('POST', '/api/v1/flows/to-archive/archive')
    expect(archived.status).toBe(200)
    expect(archived.body.data).toMatchObject({ action: 'archive', archived: true })
    const ids = async (query: string) => (await api.call('GET', `/api/v1/flows${query}`)).body.data.items.map((f: { id: string }) => f.id)
    expect(await ids('?limit=500')).not.toContain('to-archive')
    expect(await ids('?status=archived')).toEqual(['to-archive'])
    expect(await ids('?includeArchived=true&limit=500')).toContain('to-archive')
    const read = await api.call('GET', '/api/v1/flows/to-archive')
    expect(read.body.data.version.archived).toBe(true)
  })
})

describe('GET /api/v1/flows (Qindex search and cursors)', () => {
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      const flow = greetingFlow(`paged-${i}`)
      await api.call('POST', '/api/v1/flows', {
        body: { ...flow, name: `Paged ${i}`, description: i === 3 ? 'The quarterly invoice run' : 'Paging', metadata: { tags: ['paged', i % 2 === 0 ? 'even' : 'odd'], category: 'paging' } }
      })
    }
  })

  it('walks every page with nextCursor, each flow once', async () => {
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const answer = await api.call('GET', `/api/v1/flows?category=paging&limit=2${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
      expect(answer.status).toBe(200)
      expect(answer.body.data.items.length).toBeLessThanOrEqual(2)
      seen.push(...answer.body.data.items.map((f: { id: string }) => f.id))
      cursor = answer.body.data.nextCursor
      pages++
    } while (cursor !== undefined)
    expect(pages).toBe(3)
    expect(seen.sort()).toEqual(['paged-0', 'paged-1', 'paged-2', 'paged-3', 'paged-4'])
  })

  it('filters by tags (every one), category, owner, status and text', async () => {
    const ids = async (query: string) =>
      (await api.call('GET', `/api/v1/flows?${query}`)).body.data.items.map((f: { id: string }) => f.id).sort()
    expect(await ids('tag=paged&tag=even')).toEqual(['paged-0', 'paged-2', 'paged-4'])
    expect(await ids('tag=odd')).toEqual(['paged-1', 'paged-3'])
    expect(await ids('q=quarterly')).toEqual(['paged-3'])
    expect(await ids('category=paging&owner=did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM&status=active')).toHaveLength(5)
    expect(await ids('owner=did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH')).toEqual([])
  })

  it('answers list items with the index facts', async () => {
    const answer = await api.call('GET', '/api/v1/flows?q=quarterly')
    expect(answer.body.data.items[0]).toMatchObject({ id: 'paged-3', name: 'Paged 3', tags: ['paged', 'odd'], category: 'paging', status: 'active', archived: false, version: '1.0.0' })
  })

  it('answers 400 for a cursor it did not issue and for a limit out of range', async () => {
    const cursor = await api.call('GET', '/api/v1/flows?cursor=not-a-cursor')
    expect([cursor.status, cursor.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
    const limit = await api.call('GET', '/api/v1/flows?limit=0')
    expect([limit.status, limit.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
    const unknown = await api.call('GET', '/api/v1/flows?colour=red')
    expect(unknown.status).toBe(400)
  })
})
