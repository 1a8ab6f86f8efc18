import { createGrant } from '@qflow/adapters-qonsent'
import { createIdentity, type Identity, issueToken } from '@qflow/adapters-squid'
import type { FastifyPluginAsync } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ApiContext, createApiServer } from '../../src/server/index.js'
import { type Api, greetingFlow, startApi } from './api-fixture.js'

let api: Api
let stranger: Identity
let reader: Identity
let runner: Identity
let releaseSlow: (() => void) | undefined

/** A test route plugin (the same shape the webhook and WebSocket plugins have) that answers only when released. */
const slowRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/test/slow', async (request) => {
      await ctx.authenticate(request)
      await new Promise<void>((resolve) => {
        releaseSlow = resolve
      })
      return { late: true }
    })
  }

beforeAll(async () => {
  api = await startApi({ bodyLimit: 64 * 1024, handlerTimeoutMs: 2000, maxWaitTimeoutMs: 1000, plugins: [slowRoutes] })
  for (const id of ['open', 'secret', 'runnable']) expect((await api.call('POST', '/api/v1/flows', { body: greetingFlow(id) })).status).toBe(201)
  stranger = createIdentity()
  reader = createIdentity()
  runner = createIdentity()
  const { qonsent, node } = api.node.parts
  await qonsent.grant(createGrant({ subject: reader.did, resource: 'qflow:flow:open', actions: ['read'], grantedBy: node.did }))
  await qonsent.grant(createGrant({ subject: runner.did, resource: 'qflow:flow:runnable', actions: ['read', 'execute'], grantedBy: node.did }))
})

afterAll(async () => {
  releaseSlow?.()
  await api?.close()
})

describe('authentication (401 UNAUTHENTICATED)', () => {
  it('refuses every REST route without a token', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/flows'],
      ['POST', '/api/v1/flows'],
      ['GET', '/api/v1/flows/open'],
      ['GET', '/api/v1/flows/open/versions/1'],
      ['GET', '/api/v1/flows/open/history'],
      ['POST', '/api/v1/flows/open/rollback'],
      ['POST', '/api/v1/flows/open/archive'],
      ['POST', '/api/v1/flows/open/start'],
      ['POST', '/api/v1/executions'],
      ['GET', '/api/v1/executions'],
      ['POST', '/api/v1/events'],
      ['GET', '/api/v1/executions/x'],
      ['GET', '/api/v1/executions/x/logs'],
      ['POST', '/api/v1/executions/x/pause'],
      ['POST', '/api/v1/executions/x/resume'],
      ['POST', '/api/v1/executions/x/abort']
    ] as const) {
      const answer = await api.call(method, path, { token: null })
      expect([method, path, answer.status, answer.body.error.code]).toEqual([method, path, 401, 'UNAUTHENTICATED'])
      expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="qflow"')
    }
  })

  it('refuses a token that is not a bearer token, a forged one, one for another audience and an expired one', async () => {
    const admin = api.node.parts.admin
    const valid = await api.token()
    const [header, payload, signature] = valid.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    // Claims rewritten to speak for another identity, under the admin's signature.
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: stranger.did, jti: 'forged-1' })).toString('base64url')}.${signature}`
    // Signed by a stranger while claiming to be the admin.
    const impostor = await issueToken({ did: admin.did, sign: (data: Uint8Array) => stranger.sign(data) } as Identity, { audience: 'qflow' })
    const otherAudience = await issueToken(admin, { audience: 'not-qflow' })
    const expired = await issueToken(admin, { audience: 'qflow', now: Date.now() - 3_600_000, ttlMs: 60_000 })
    const cases: [string, Record<string, string>, string | null][] = [
      ['basic', { authorization: 'Basic dXNlcjpwYXNz' }, null],
      ['garbage', {}, 'not.a.token'],
      ['forged', {}, forged],
      ['impostor', {}, impostor],
      ['audience', {}, otherAudience],
      ['expired', {}, expired]
    ]
    for (const [label, headers, token] of cases) {
      const answer = await api.call('GET', '/api/v1/flows', { token, headers })
      expect([label, answer.status, answer.body.error.code]).toEqual([label, 401, 'UNAUTHENTICATED'])
    }
    const forgedAnswer = await api.call('GET', '/api/v1/flows', { token: forged })
    expect(forgedAnswer.body.error.details).toEqual({ reason: 'TokenSignatureError' })
  })

  it('accepts a bearer token again and again until it expires, including a year-long admin token', async () => {
    const admin = api.node.parts.admin
    const yearLong = await issueToken(admin, { audience: 'qflow', ttlMs: 365 * 24 * 3_600_000 })
    for (let i = 0; i < 5; i++) expect((await api.call('GET', '/api/v1/flows/open', { token: yearLong })).status).toBe(200)
    const tooLong = await issueToken(admin, { audience: 'qflow', ttlMs: 20 * 366 * 24 * 3_600_000 })
    const refused = await api.call('GET', '/api/v1/flows/open', { token: tooLong })
    expect([refused.status, refused.body.error.details]).toEqual([401, { reason: 'TokenLifetimeError' }])
  })

  it('accepts a valid token of another identity (authorization decides what it may do)', async () => {
    const answer = await api.call('GET', '/api/v1/flows/open', { token: await api.token(reader) })
    expect(answer.status).toBe(200)
  })
})

describe('authorization through Qonsent (403 FORBIDDEN)', () => {
  it('refuses an identity without a grant, naming the resource and action', async () => {
    const token = await api.token(stranger)
    const answer = await api.call('GET', '/api/v1/flows/open', { token })
    expect(answer.status).toBe(403)
    expect(answer.body.error).toMatchObject({ code: 'FORBIDDEN', details: { resource: 'qflow:flow:open', action: 'read' } })
    const create = await api.call('POST', '/api/v1/flows', { token: await api.token(stranger), body: greetingFlow('strangers-flow') })
    expect([create.status, create.body.error.code]).toEqual([403, 'FORBIDDEN'])
    expect(await api.node.parts.store.flows.current('strangers-flow')).toBeUndefined()
    const event = await api.call('POST', '/api/v1/events', { token: await api.token(stranger), body: { name: 'go' } })
    expect([event.status, event.body.error.code]).toEqual([403, 'FORBIDDEN'])
  })

  it('lets a read grant read its flow only, and lists only the flows the caller may read', async () => {
    expect((await api.call('GET', '/api/v1/flows/open/history', { token: await api.token(reader) })).status).toBe(200)
    expect((await api.call('GET', '/api/v1/flows/secret', { token: await api.token(reader) })).status).toBe(403)
    expect((await api.call('POST', '/api/v1/flows/open/archive', { token: await api.token(reader) })).status).toBe(403)
    expect((await api.call('POST', '/api/v1/flows/open/start', { token: await api.token(reader), body: {} })).status).toBe(403)
    const listed = await api.call('GET', '/api/v1/flows', { token: await api.token(reader) })
    expect(listed.body.data.items.map((f: { id: string }) => f.id)).toEqual(['open'])
  })

  it('lets an execute grant start its flow; the starter reads its own execution, others may not', async () => {
    const started = await api.call('POST', '/api/v1/flows/runnable/start', { token: await api.token(runner), body: { input: { name: 'R' }, wait: true } })
    expect(started.status).toBe(200)
    const id: string = started.body.data.executionId
    const own = await api.call('GET', `/api/v1/executions/${id}`, { token: await api.token(runner) })
    expect(own.body.data).toMatchObject({ actor: runner.did, status: 'completed' })
    const other = await api.call('GET', `/api/v1/executions/${id}`, { token: await api.token(reader) })
    expect([other.status, other.body.error.code]).toEqual([403, 'FORBIDDEN'])
    // An unknown execution is 403 (not 404) to a caller who could not see it either way.
    const unknown = await api.call('GET', '/api/v1/executions/exec-nope', { token: await api.token(reader) })
    expect(unknown.status).toBe(403)
    const mine = await api.call('GET', '/api/v1/executions?limit=500', { token: await api.token(runner) })
    expect(mine.body.data.items.map((e: { executionId: string }) => e.executionId)).toEqual([id])
    const admins = await api.call('GET', '/api/v1/executions?limit=500')
    expect(admins.body.data.items.map((e: { executionId: string }) => e.executionId)).toContain(id)
  })
})

describe('who started a run, read from its log', () => {
  it('lets the starter read a run written as one entry through a server that did not start it', async () => {
    const pure = { ...greetingFlow('quick'), steps: [{ id: 'compose', type: 'task', action: 'data.transform', params: { expression: "'Hello, ' & $.input.name" } }] }
    expect((await api.call('POST', '/api/v1/flows', { body: pure })).status).toBe(201)
    const { qonsent, node } = api.node.parts
    await qonsent.grant(createGrant({ subject: runner.did, resource: 'qflow:flow:quick', actions: ['execute'], grantedBy: node.did }))
    const started = await api.call('POST', '/api/v1/flows/quick/start', { token: await api.token(runner), body: { input: { name: 'Q' } } })
    // Pure steps only: the run ended before its one entry was durable, and the answer says so.
    expect([started.status, started.body.data.status]).toEqual([202, 'completed'])
    const id: string = started.body.data.executionId
    expect(await api.node.parts.store.log.head(id)).toMatchObject({ seq: 0, status: 'completed' })
    // A second server on the same node has seen nothing of the run: the start its entry carries says who ran it.
    const second = await createApiServer(api.node, { logLevel: 'silent' })
    try {
      const { url } = await second.listen({ host: '127.0.0.1', port: 0 })
      // The listing reads each run's flow and starter from its log (before any read of its state).
      const listed = await fetch(`${url}/api/v1/executions?flowId=quick`, { headers: { authorization: `Bearer ${await api.token(runner)}` } })
      const items = ((await listed.json()) as { data: { items: { executionId: string; flowId: string }[] } }).data.items
      expect(items.map((e) => [e.executionId, e.flowId])).toEqual([[id, 'quick']])
      const get = async (who: Identity) => fetch(`${url}/api/v1/executions/${id}`, { headers: { authorization: `Bearer ${await api.token(who)}` } })
      const own = await get(runner)
      expect(own.status).toBe(200)
      expect(((await own.json()) as { data: unknown }).data).toMatchObject({ executionId: id, actor: runner.did, flowId: 'quick', status: 'completed', output: 'Hello, Q' })
      expect((await get(reader)).status).toBe(403)
    } finally {
      await second.close()
    }
  })
})

describe('limits, timeouts and headers', () => {
  it('answers 413 PAYLOAD_TOO_LARGE for a body over the limit, storing nothing', async () => {
    const flow = { ...greetingFlow('huge'), description: 'x'.repeat(70 * 1024) }
    const answer = await api.call('POST', '/api/v1/flows', { body: flow })
    expect([answer.status, answer.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    expect(await api.node.parts.store.flows.current('huge')).toBeUndefined()
  })

  it('answers 504 TIMEOUT when a handler runs past the handler timeout, on plugin routes too', async () => {
    const answer = await api.call('GET', '/test/slow')
    expect([answer.status, answer.body.error.code]).toEqual([504, 'TIMEOUT'])
    expect(answer.body.error.details).toEqual({ timeoutMs: 2000 })
  })

  it('refuses a wait longer than the bound', async () => {
    const waited = await api.call('POST', '/api/v1/flows/open/start', { body: { wait: true, timeoutMs: 10_000 } })
    expect([waited.status, waited.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
  })

  it('puts security headers on every answer and no x-powered-by', async () => {
    for (const [path, token] of [
      ['/api/v1/flows', undefined],
      ['/api/v1/flows', null],
      ['/health/live', null],
      ['/metrics', null],
      ['/api/v1/openapi.json', null],
      ['/nowhere', null]
    ] as const) {
      const answer = await api.call('GET', path, { token })
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff')
      expect(answer.headers.get('x-frame-options')).toBe('DENY')
      expect(answer.headers.get('cache-control')).toBe('no-store')
      expect(answer.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'")
      expect(answer.headers.get('x-powered-by')).toBeNull()
      expect(answer.headers.get('x-request-id')).toEqual(expect.any(String))
    }
  })

  it('echoes a well-formed x-request-id and replaces a malformed one', async () => {
    const given = await api.call('GET', '/api/v1/flows', { headers: { 'x-request-id': 'trace-123' } })
    expect(given.body.requestId).toBe('trace-123')
    expect(given.headers.get('x-request-id')).toBe('trace-123')
    const bad = await api.call('GET', '/api/v1/flows', { headers: { 'x-request-id': 'bad id with spaces' } })
    expect(bad.body.requestId).not.toBe('bad id with spaces')
    expect(bad.body.requestId).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('answers an unknown route 404 NOT_FOUND in the envelope', async () => {
    const answer = await api.call('DELETE', '/api/v1/flows')
    expect(answer.status).toBe(404)
    expect(answer.body).toMatchObject({ success: false, error: { code: 'NOT_FOUND' }, requestId: expect.any(String) })
  })
})
