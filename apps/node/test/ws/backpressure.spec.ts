import { afterEach, describe, expect, it } from 'vitest'
import type { WsRoutesInit } from '../../src/server/ws/index.js'
import { eventually, refusedUpgrade, startWsServer, TestClient, transformFlow, type WsServer } from './fixtures.js'

const BOUND = 64 * 1024
/** Largest event message a run of the flood flow makes (a pipeline event is ~700 bytes). */
const LARGEST_MESSAGE = 4 * 1024

describe('WebSocket backpressure and liveness', () => {
  let server: WsServer | undefined
  const clients: TestClient[] = []
  const start = async (init: WsRoutesInit) => {
    server = await startWsServer(init)
    return server
  }
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close()
    await server?.close()
    server = undefined
  })
  const open = async (s: WsServer, options?: Parameters<typeof TestClient.open>[2]) => {
    const client = await TestClient.open(s.wsUrl, await s.token(), options)
    clients.push(client)
    return client
  }

  /** Runs a 20-step flow (about 40 events a run), 4 at a time, until `done()` or 3,000 runs. */
  async function flood(s: WsServer, done: () => boolean): Promise<number> {
    const { engine, admin } = s.node.parts
    await engine.createFlow(transformFlow('flood', admin.did, 20) as never, await s.node.asAdmin())
    let runs = 0
    while (!done() && runs < 3_000) {
      await Promise.all(Array.from({ length: 4 }, async () => engine.run('flood', { n: 1 }, await s.node.asAdmin())))
      runs += 4
    }
    return runs
  }

  it('drops a consumer that stops reading, frees what was queued for it, and keeps serving the others', async () => {
    const s = await start({ maxBufferedBytes: BOUND, closeGraceMs: 200 })
    const gateway = s.endpoint.gateway
    const stalled = await open(s)
    const reader = await open(s)
    await stalled.subscribe('all')
    await reader.subscribe('all')
    stalled.ws.pause()
    const runs = await flood(s, () => gateway.stats().hub.lagging > 0)
    expect(gateway.stats().hub.lagging).toBe(1)
    // the stalled socket never completes the closing handshake: it is destroyed after the grace time
    await eventually(() => gateway.stats().connections === 1, 'the stalled socket to be destroyed')
    const stats = gateway.stats()
    expect(stats.hub).toMatchObject({ consumers: 1, subscriptions: 1, lagging: 1, dropped: 1 })
    // nothing was ever queued past the bound (plus the one message that crossed it)
    expect(stats.hub.peakBufferedBytes).toBeLessThanOrEqual(BOUND + LARGEST_MESSAGE)
    // the reader got every event of every run, in order
    await reader.until(() => reader.events('all').filter((e) => e.type === 'q.qflow.exec.completed.v1').length === runs, 'every run on the reader')
    expect(reader.events('all').filter((e) => e.type === 'q.qflow.exec.step.completed.v1')).toHaveLength(runs * 20)
    await eventually(() => gateway.stats().bufferedBytes === 0, 'the reader to drain')
    expect(runs).toBeGreaterThan(0)
  })

  it('tells a slow consumer it lags and closes it with 1013', async () => {
    const s = await start({ maxBufferedBytes: BOUND, closeGraceMs: 30_000 })
    const gateway = s.endpoint.gateway
    const slow = await open(s)
    await slow.subscribe('all')
    slow.ws.pause()
    await flood(s, () => gateway.stats().hub.lagging > 0)
    slow.ws.resume()
    expect(await slow.closed).toEqual({ code: 1013, reason: 'consumer lagging' })
    expect(slow.messages.at(-1)).toEqual({ type: 'lagging', dropped: 1 })
    await eventually(() => gateway.stats().connections === 0, 'the socket to be forgotten')
    expect(gateway.stats()).toMatchObject({ bufferedBytes: 0, hub: { consumers: 0, subscriptions: 0 } })
    const metrics = await s.ctx.metrics.registry.metrics()
    expect(metrics).toMatch(/^qflow_ws_consumers_dropped_total\{reason="lagging"\} 1$/m)
  })

  it('drops a peer that does not answer pings, and keeps one that does', async () => {
    const s = await start({ heartbeatIntervalMs: 50 })
    const silent = await open(s, { autoPong: false })
    const alive = await open(s)
    await alive.subscribe('all')
    expect((await silent.closed).code).toBe(1006)
    await alive.until(() => alive.pings >= 4, 'four pings')
    expect(alive.ws.readyState).toBe(alive.ws.OPEN)
    expect(s.endpoint.gateway.stats()).toMatchObject({ connections: 1, heartbeatDrops: 1 })
  })

  it('closes a socket with 1008 once its token has expired', async () => {
    const s = await start({ heartbeatIntervalMs: 100 })
    const client = await TestClient.open(s.wsUrl, await s.token(undefined, 1_000))
    clients.push(client)
    await client.subscribe('all')
    expect(await client.closed).toEqual({ code: 1008, reason: 'token expired' })
    expect(s.endpoint.gateway.stats().expired).toBe(1)
  })

  it('refuses an upgrade past the connection limit with 503, and takes one again once a socket closes', async () => {
    const s = await start({ maxConnections: 1 })
    const first = await open(s)
    const refused = await refusedUpgrade(s.wsUrl, { headers: { authorization: `Bearer ${await s.token()}` } })
    expect(refused.status).toBe(503)
    expect(refused.headers['retry-after']).toBe('5')
    expect(refused.body.error?.code).toBe('UNAVAILABLE')
    first.close()
    await eventually(() => s.endpoint.gateway.stats().connections === 0, 'the first socket to close')
    const second = await open(s)
    expect(await second.subscribe('all')).toEqual({ type: 'subscribed', id: 'all' })
    expect(s.endpoint.gateway.stats().overCapacity).toBe(1)
  })

  it('refuses more subscriptions than the limit on one socket', async () => {
    const s = await start({ maxSubscriptions: 2 })
    const client = await open(s)
    await client.subscribe('a')
    await client.subscribe('b')
    expect(await client.subscribe('c')).toMatchObject({ type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS', id: 'c' })
  })
})
