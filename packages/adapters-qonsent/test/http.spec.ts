import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { createEmbeddedQonsent, createQonsentHttpHandler, type EmbeddedQonsent, httpQonsent } from '../src/index.js'
import { ALICE, BOB, OWNER } from './fixtures/identities.js'
import { closeServers, startServer } from './fixtures/server.js'

const T0 = Date.parse('2026-03-02T12:00:00Z')
const embedded: EmbeddedQonsent[] = []

afterEach(async () => {
  await closeServers()
  await Promise.all(embedded.splice(0).map((q) => q.stop()))
})

/** A server that answers every request with `status` and `body` (a string is sent as is), recording what it got. */
async function scripted(status: number, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const received: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = []
  const server = await startServer((req: IncomingMessage, res: ServerResponse) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString()))
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text })
      res.writeHead(status, headers)
      res.end(typeof body === 'string' ? body : JSON.stringify(body))
    })
  })
  return { ...server, received }
}

async function servedEmbedded() {
  const qonsent = await createEmbeddedQonsent({ persistence: 'memory' }, { now: () => T0 })
  embedded.push(qonsent)
  const server = await startServer(createQonsentHttpHandler(qonsent))
  return { qonsent, server }
}

const request = { subject: ALICE, resource: 'qflow:flow:f1', action: 'read', context: { subnet: 'dao-a' } }

describe('HTTP client against the embedded Qonsent served over HTTP', () => {
  it('answers allowed, denied and expired as the embedded Qonsent does', async () => {
    const { qonsent, server } = await servedEmbedded()
    await qonsent.grant({ id: 'g1', subject: ALICE, resource: 'qflow:flow:*', actions: ['read'], effect: 'allow', grantedBy: OWNER, expiresAt: T0 + 60_000 })
    await qonsent.grant({ id: 'old', subject: BOB, resource: 'qflow:flow:f1', actions: ['read'], effect: 'allow', grantedBy: OWNER, expiresAt: T0 - 1 })
    await qonsent.grant({ id: 'no', subject: ALICE, resource: 'qflow:flow:secret', actions: ['*'], effect: 'deny', grantedBy: OWNER })
    const client = httpQonsent({ url: server.url })({ now: () => T0 })
    for (const r of [request, { ...request, subject: BOB }, { ...request, resource: 'qflow:flow:secret' }, { ...request, action: 'write' }]) {
      expect(await client.check(r)).toEqual(await qonsent.check(r))
    }
    expect((await client.check({ ...request, subject: BOB })).status).toBe('expired')
    // The expiry survives clock skew: the server's `decision` says expired even if the client's clock is behind.
    const skewed = httpQonsent({ url: server.url })({ now: () => T0 - 3_600_000 })
    expect((await skewed.check({ ...request, subject: BOB })).status).toBe('expired')
  })

  it('serves errors in the service shape', async () => {
    const { server } = await servedEmbedded()
    const post = (path: string, body: string, method = 'POST') => fetch(`${server.url}${path}`, { method, body: method === 'GET' ? null : body, headers: { 'content-type': 'application/json' } })
    const bad = await post('/api/v1/qonsent/check', '{"resource":"r","identity":""}')
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ status: 'error', code: 'VALIDATION_ERROR', message: '`identity` must be a non-empty string', retryable: false })
    expect((await post('/api/v1/qonsent/check', 'not json')).status).toBe(400)
    expect((await post('/api/v1/qonsent/check', '{"resource":"r","identity":"i","action":"a","context":[1]}')).status).toBe(400)
    expect((await post('/api/v1/other', '{}')).status).toBe(404)
    const get = await post('/api/v1/qonsent/check', '', 'GET')
    expect(get.status).toBe(405)
    expect(get.headers.get('allow')).toBe('POST')
    const big = await post('/api/v1/qonsent/check', JSON.stringify({ resource: 'r', identity: 'i', action: 'a', context: { pad: 'x'.repeat(70_000) } }))
    expect(big.status).toBe(413)
  })

  it('answers 503 with the error name when the Qonsent behind it cannot answer now', async () => {
    const stopped = await createEmbeddedQonsent({ persistence: 'memory' })
    await stopped.stop()
    const server = await startServer(createQonsentHttpHandler(stopped))
    const client = httpQonsent({ url: server.url })()
    await expect(client.check(request)).rejects.toMatchObject({ name: 'QonsentUnavailableError', status: 503, retryable: true })
    const response = await fetch(`${server.url}/api/v1/qonsent/check`, { method: 'POST', body: JSON.stringify({ resource: 'r', identity: 'i', action: 'a' }) })
    expect(await response.json()).toMatchObject({ status: 'error', code: 'QonsentNotStartedError', retryable: true })
  })

  it('lets an authorize hook turn callers away', async () => {
    const qonsent = await createEmbeddedQonsent({ persistence: 'memory' })
    embedded.push(qonsent)
    const server = await startServer(createQonsentHttpHandler(qonsent, { authorize: (req) => req.headers.authorization === 'Bearer node-token' }))
    await expect(httpQonsent({ url: server.url })().check(request)).rejects.toMatchObject({ name: 'QonsentProtocolError', status: 401, code: 'INVALID_TOKEN' })
    expect((await httpQonsent({ url: server.url, token: () => 'node-token' })().check(request)).status).toBe('denied')
  })
})

describe('HTTP client against the service contract', () => {
  it('posts { resource, identity, action, context } with headers and reads the bare answer', async () => {
    const server = await scripted(200, { allowed: true, reason: 'Direct permission grant', policy: { id: 'p1', name: 'Direct Grant', type: 'direct' }, expiresAt: '2026-03-02T13:00:00.000Z' })
    const client = httpQonsent({ url: server.url, headers: { 'x-squid-id': 'node' }, token: async () => 'tok' })()
    expect(await client.check(request)).toEqual({ allowed: true, status: 'allowed', reason: 'Direct permission grant', grantId: 'p1', expiresAt: T0 + 3_600_000 })
    const [got] = server.received
    expect(got).toMatchObject({ method: 'POST', url: '/api/v1/qonsent/check' })
    expect(got?.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer tok', 'x-squid-id': 'node' })
    expect(JSON.parse(got?.body ?? '')).toEqual({ resource: 'qflow:flow:f1', identity: ALICE, action: 'read', context: { subnet: 'dao-a' } })
  })

  it('reads the answer inside the service envelope { status: ok, data }', async () => {
    const server = await scripted(200, { status: 'ok', data: { allowed: false, reason: 'No matching permission grants or policies found' }, timestamp: 'x' })
    expect(await httpQonsent({ url: server.url })().check(request)).toEqual({ allowed: false, status: 'denied', reason: 'No matching permission grants or policies found' })
  })

  it('maps a refusal whose expiresAt has passed to expired', async () => {
    const server = await scripted(200, { allowed: false, reason: 'Permission expired', policy: 'p9', expiresAt: '2026-03-02T11:00:00Z' })
    expect(await httpQonsent({ url: server.url })({ now: () => T0 }).check(request)).toEqual({
      allowed: false,
      status: 'expired',
      reason: 'Permission expired',
      grantId: 'p9',
      expiresAt: T0 - 3_600_000
    })
    const later = await scripted(200, { allowed: false, reason: 'Not yet', expiresAt: T0 + 1 })
    expect((await httpQonsent({ url: later.url })({ now: () => T0 }).check(request)).status).toBe('denied')
  })

  it('takes a 403 that carries a check answer as a refusal', async () => {
    const server = await scripted(403, { allowed: false, reason: 'Forbidden by policy' })
    expect(await httpQonsent({ url: server.url })().check(request)).toMatchObject({ allowed: false, status: 'denied', reason: 'Forbidden by policy' })
  })

  it.each([
    [200, 'not json'],
    [200, ''],
    [200, '[]'],
    [200, '{"allowed":"yes"}'],
    [200, '{"allowed":true,"reason":5}'],
    [200, '{"allowed":true,"policy":7}'],
    [200, '{"allowed":true,"policy":{"id":7}}'],
    [200, '{"allowed":false,"expiresAt":"tomorrow"}'],
    [200, '{"allowed":false,"expiresAt":true}'],
    [200, '{"allowed":false,"decision":"allowed"}'],
    [200, '{"allowed":false,"decision":"maybe"}'],
    [400, '{"status":"error","code":"VALIDATION_ERROR","message":"Request validation failed"}'],
    [401, ''],
    [404, '<html>not found</html>']
  ])('throws QonsentProtocolError (not retryable) for HTTP %i %s', async (status, body) => {
    const server = await scripted(status, body)
    const err = await httpQonsent({ url: server.url })()
      .check(request)
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'QonsentProtocolError', retryable: false, status })
  })

  it('carries the service error code of a refusal', async () => {
    const server = await scripted(400, { status: 'error', code: 'VALIDATION_ERROR', message: 'Request validation failed' })
    await expect(httpQonsent({ url: server.url })().check(request)).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('HTTP 400: VALIDATION_ERROR Request validation failed')
    })
  })

  it.each([500, 502, 503, 504, 429, 408])('throws QonsentUnavailableError (retryable) for HTTP %i', async (status) => {
    const server = await scripted(status, { status: 'error', code: 'X', retryable: true })
    await expect(httpQonsent({ url: server.url })().check(request)).rejects.toMatchObject({ name: 'QonsentUnavailableError', retryable: true, status })
  })

  it('refuses an answer larger than its limit', async () => {
    const server = await scripted(200, { allowed: true, reason: 'x'.repeat(2_000) })
    await expect(httpQonsent({ url: server.url, maxResponseBytes: 1_000 })().check(request)).rejects.toMatchObject({ name: 'QonsentProtocolError' })
    const chunked = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write(`{"allowed":true,"reason":"${'y'.repeat(800)}`)
      res.end(`${'y'.repeat(800)}"}`)
    })
    await expect(httpQonsent({ url: chunked.url, maxResponseBytes: 1_000 })().check(request)).rejects.toMatchObject({ name: 'QonsentProtocolError' })
  })

  it('gives up after its timeout with QonsentUnavailableError', async () => {
    const server = await startServer(() => {
      // Never answers.
    })
    const err = await httpQonsent({ url: server.url, timeoutMs: 100 })()
      .check(request)
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'QonsentUnavailableError', retryable: true, message: expect.stringContaining('did not answer within 100 ms') })
  })

  it('reports a refused connection as QonsentUnavailableError', async () => {
    const server = await startServer(() => undefined)
    const url = server.url
    await server.close()
    const err = await httpQonsent({ url })()
      .check(request)
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'QonsentUnavailableError', retryable: true, url: `${url}/api/v1/qonsent/check` })
  })

  it('aborts checks in flight on stop', async () => {
    const server = await startServer(() => undefined)
    const client = httpQonsent({ url: server.url, timeoutMs: 10_000 })()
    const pending = client.check(request).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 20))
    await client.stop()
    expect(await pending).toMatchObject({ name: 'QonsentUnavailableError', message: expect.stringContaining('the client stopped') })
  })

  it('refuses a context that cannot be sent as JSON', async () => {
    const client = httpQonsent({ url: 'http://127.0.0.1:9' })()
    await expect(client.check({ ...request, context: { n: 1n } })).rejects.toMatchObject({ name: 'InvalidConsentRequestError', field: 'context' })
  })
})
