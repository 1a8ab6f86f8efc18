import { createIdentity, issueToken } from '@qflow/adapters-squid'
import type { QflowEvent } from '@qflow/scheduler'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually, refusedUpgrade, startWsServer, TestClient, transformFlow, type WsServer } from './fixtures.js'

const COMPLETED = 'q.qflow.exec.completed.v1'

/** A token whose payload was edited after signing (the signature no longer covers it). */
function tampered(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
  change(claims)
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`
}

describe('WebSocket endpoint', () => {
  let server: WsServer
  const clients: TestClient[] = []
  const open = async (token?: string, options?: Parameters<typeof TestClient.open>[2]) => {
    const client = await TestClient.open(server.wsUrl, token ?? (await server.token()), options)
    clients.push(client)
    return client
  }
  /** Runs flow `flowId` to its end as the admin. */
  const run = async (flowId: string, executionId?: string) => {
    const result = await server.node.parts.engine.run(flowId, { n: 1 }, { ...(await server.node.asAdmin()), ...(executionId === undefined ? {} : { executionId }) })
    expect(result.status).toBe('completed')
    return result.executionId
  }

  beforeAll(async () => {
    server = await startWsServer()
    const { engine, admin } = server.node.parts
    for (const id of ['orders', 'billing', 'visible', 'hidden']) await engine.createFlow(transformFlow(id, admin.did, 3) as never, await server.node.asAdmin())
  })
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close()
    await eventually(() => server.endpoint.gateway.stats().connections === 0, 'the sockets to close')
  })
  afterAll(async () => server?.close())

  describe('authentication', () => {
    it('refuses an upgrade without a token with 401 and the error envelope', async () => {
      const refused = await refusedUpgrade(server.wsUrl)
      expect(refused.status).toBe(401)
      expect(refused.headers['www-authenticate']).toMatch(/^Bearer/)
      expect(refused.body).toMatchObject({ success: false, error: { code: 'UNAUTHENTICATED' }, requestId: expect.any(String) })
      expect(server.endpoint.gateway.stats().connections).toBe(0)
    })

    it('refuses forged, foreign, expired and malformed tokens, in the header and in the query', async () => {
      const { admin } = server.node.parts
      const mallory = createIdentity()
      const forged = [
        // admin's token with the subject changed to someone else
        tampered(await server.token(), (claims) => {
          claims.sub = mallory.did
        }),
        // mallory's token with the issuer and subject changed to the admin
        tampered(await server.token(mallory), (claims) => {
          claims.iss = admin.did
          claims.sub = admin.did
        }),
        // mallory claiming to speak for the admin without a delegation
        await issueToken(mallory, { audience: 'qflow', subject: admin.did }),
        await issueToken(admin, { audience: 'another-service' }),
        await issueToken(admin, { audience: 'qflow', ttlMs: 1_000, now: Date.now() - 120_000 }),
        'not-a-token'
      ]
      for (const token of forged) {
        expect((await refusedUpgrade(server.wsUrl, { headers: { authorization: `Bearer ${token}` } })).body.error?.code).toBe('UNAUTHENTICATED')
        expect((await refusedUpgrade(`${server.wsUrl}?token=${encodeURIComponent(token)}`)).status).toBe(401)
      }
      expect((await refusedUpgrade(server.wsUrl, { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } })).status).toBe(401)
      expect(server.endpoint.gateway.stats().connections).toBe(0)
    })

    it('accepts the token in the query string, for clients that cannot set headers', async () => {
      const client = await open(await server.token(), { viaQuery: true })
      expect(await client.subscribe('all')).toEqual({ type: 'subscribed', id: 'all' })
    })

    it('answers a plain GET with 426 and an upgrade to another path with 404', async () => {
      const response = await fetch(`${server.httpUrl}/api/v1/ws`)
      expect(response.status).toBe(426)
      expect(response.headers.get('upgrade')).toBe('websocket')
      expect(await response.json()).toMatchObject({ success: false, error: { code: 'UPGRADE_REQUIRED' } })
      const elsewhere = await refusedUpgrade(server.wsUrl.replace('/api/v1/ws', '/api/v1/nowhere'), { headers: { authorization: `Bearer ${await server.token()}` } })
      expect(elsewhere.status).toBe(404)
    })
  })

  describe('subscriptions', () => {
    it('delivers the events of a real flow run, in order, in their envelope', async () => {
      const client = await open()
      await client.subscribe('orders', { flowId: 'orders' })
      const emitted: QflowEvent[] = []
      const off = server.node.parts.engine.onEvent((event) => {
        if ((event.data as { flowId?: string }).flowId === 'orders' || (event.data as { resource?: string }).resource === 'qflow:flow:orders') emitted.push(event)
      })
      const executionId = await run('orders')
      off()
      await client.next((m) => m.type === 'event' && m.event.type === COMPLETED)
      const received = client.events('orders')
      expect(received).toEqual(emitted)
      expect(received.map((e) => e.type)).toEqual([
        'q.qflow.validation.pipeline.executed.v1',
        // The steps are pure: the run is one entry (its start, their completions and its end),
        // announced once it is durable, after the steps' pipeline runs.
        ...Array.from({ length: 3 }, () => 'q.qflow.validation.pipeline.executed.v1'),
        'q.qflow.exec.started.v1',
        ...Array.from({ length: 3 }, () => 'q.qflow.exec.step.completed.v1'),
        COMPLETED
      ])
      expect(received.filter((e) => e.type === 'q.qflow.exec.step.completed.v1').map((e) => (e.data as { stepId: string }).stepId)).toEqual(['s0', 's1', 's2'])
      for (const event of received) {
        expect(event).toMatchObject({ eventId: expect.any(String), timestamp: expect.any(String), version: '1.0.0', source: `qflow://${server.node.parts.node.did}`, actor: server.node.parts.admin.did })
      }
      expect(received.at(-1)?.data).toMatchObject({ executionId, flowId: 'orders', status: 'completed' })
    })

    it('filters by flow, execution and event name', async () => {
      const client = await open()
      await client.subscribe('billing', { flowId: 'billing' })
      await client.subscribe('one-execution', { executionId: 'billing-run-2' })
      await client.subscribe('ends', { events: [COMPLETED] })
      await client.subscribe('ends-of-orders', { flowId: 'orders', events: [COMPLETED] })
      await run('orders', 'orders-run-1')
      await run('billing', 'billing-run-1')
      await run('billing', 'billing-run-2')
      await client.until(() => client.events('ends').length === 3, 'three completions')
      const data = (id: string) => client.events(id).map((e) => e.data as { flowId?: string; executionId?: string; resource?: string })
      expect(data('billing').every((d) => d.flowId === 'billing' || d.resource === 'qflow:flow:billing')).toBe(true)
      expect(new Set(data('billing').map((d) => d.executionId).filter(Boolean))).toEqual(new Set(['billing-run-1', 'billing-run-2']))
      expect(data('one-execution').length).toBe(5)
      expect(data('one-execution').every((d) => d.executionId === 'billing-run-2')).toBe(true)
      expect(data('ends').map((d) => d.executionId)).toEqual(['orders-run-1', 'billing-run-1', 'billing-run-2'])
      expect(data('ends-of-orders').map((d) => d.executionId)).toEqual(['orders-run-1'])
    })

    it('refuses a subscription to what the caller may not read, and delivers only what it may', async () => {
      const reader = await server.reader('qflow:flow:visible')
      const client = await open(await server.token(reader))
      expect(await client.subscribe('hidden', { flowId: 'hidden' })).toEqual({ type: 'error', code: 'FORBIDDEN', id: 'hidden', message: 'Not allowed to read qflow:flow:hidden' })
      expect(await client.subscribe('everything')).toMatchObject({ type: 'error', code: 'FORBIDDEN', id: 'everything' })
      expect(await client.subscribe('an-execution', { executionId: 'hidden-run' })).toMatchObject({ type: 'error', code: 'FORBIDDEN' })
      expect(await client.subscribe('visible', { flowId: 'visible' })).toEqual({ type: 'subscribed', id: 'visible' })
      await run('hidden', 'hidden-run')
      await run('visible')
      await client.next((m) => m.type === 'event' && m.event.type === COMPLETED)
      const seen = client.messages.flatMap((m) => (m.type === 'event' ? [m.event.data as { flowId?: string; resource?: string }] : []))
      expect(seen.length).toBe(9)
      expect(seen.every((d) => d.flowId === 'visible' || d.resource === 'qflow:flow:visible')).toBe(true)
    })

    it('ends a subscription whose read access is revoked', async () => {
      const reader = await server.reader('qflow:flow:orders')
      const [grant] = server.node.parts.qonsent.list({ subject: reader.did })
      const client = await open(await server.token(reader))
      await client.subscribe('orders', { flowId: 'orders' })
      await run('orders')
      await client.next((m) => m.type === 'event' && m.event.type === COMPLETED)
      const before = client.events('orders').length
      await server.node.parts.qonsent.revoke(grant?.id ?? '', server.node.parts.admin.did)
      await client.next((m) => m.type === 'unsubscribed')
      await run('orders')
      // a second socket with read on everything sees the run end; the revoked one got nothing of it
      const witness = await open()
      await witness.subscribe('orders', { flowId: 'orders' })
      await run('orders')
      await witness.next((m) => m.type === 'event' && m.event.type === COMPLETED)
      expect(client.events('orders')).toHaveLength(before)
      expect(client.messages.filter((m) => m.type === 'error')).toEqual([{ type: 'error', code: 'FORBIDDEN', id: 'orders', message: 'Read access to qflow:flow:orders was withdrawn' }])
    })

    it('stops the events of a subscription once unsubscribed', async () => {
      const client = await open()
      await client.subscribe('a', { flowId: 'orders' })
      await client.subscribe('b', { flowId: 'orders' })
      await run('orders')
      await client.until(() => client.events('b').some((e) => e.type === COMPLETED), 'the first run on b')
      const before = client.events('a').length
      client.send({ type: 'unsubscribe', id: 'a' })
      expect(await client.next((m) => m.type === 'unsubscribed')).toEqual({ type: 'unsubscribed', id: 'a' })
      await run('orders')
      await client.until(() => client.events('b').filter((e) => e.type === COMPLETED).length === 2, 'the second run on b')
      expect(client.events('a')).toHaveLength(before)
      expect(client.events('b')).toHaveLength(2 * before)
      client.send({ type: 'unsubscribe', id: 'a' })
      expect(await client.next((m) => m.type === 'error')).toMatchObject({ code: 'NOT_FOUND', id: 'a' })
      expect(server.endpoint.gateway.hub.stats().subscriptions).toBe(1)
    })

    it('answers bad messages and keeps the socket open', async () => {
      const client = await open()
      client.send('{"type":"subscribe"')
      expect(await client.next((m) => m.type === 'error')).toEqual({ type: 'error', code: 'VALIDATION_FAILED', message: 'The message is not JSON' })
      client.send({ type: 'subscribe', id: 'x', filter: { events: ['q.qflow.nothing.v1'] } })
      expect(await client.next((m) => m.type === 'error' && m.id === 'x')).toMatchObject({ code: 'VALIDATION_FAILED' })
      expect(await client.subscribe('ok')).toEqual({ type: 'subscribed', id: 'ok' })
    })

    it('closes a socket that sends a message over the size limit with 1009', async () => {
      const client = await open()
      client.send({ type: 'subscribe', id: 'x'.repeat(20_000) })
      expect((await client.closed).code).toBe(1009)
    })

    it('counts its sockets and subscriptions in the metrics', async () => {
      const client = await open()
      await client.subscribe('a')
      await client.subscribe('b', { flowId: 'orders' })
      const metrics = await server.ctx.metrics.registry.metrics()
      expect(metrics).toMatch(/^qflow_ws_connections 1$/m)
      expect(metrics).toMatch(/^qflow_ws_subscriptions 2$/m)
      expect(metrics).toMatch(/^qflow_ws_consumers_dropped_total\{reason="lagging"\} 0$/m)
    })
  })
})

describe('WebSocket endpoint shutdown', () => {
  it('closes every socket with 1001 when the server closes', async () => {
    const server = await startWsServer()
    try {
      const client = await TestClient.open(server.wsUrl, await server.token())
      await client.subscribe('all')
      await server.app.close()
      expect(await client.closed).toEqual({ code: 1001, reason: 'node stopping' })
      expect(server.endpoint.gateway.stats()).toMatchObject({ connections: 0, hub: { consumers: 0, subscriptions: 0 } })
    } finally {
      await server.close()
    }
  })
})
