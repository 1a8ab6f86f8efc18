import { createIdentity, issueToken } from '@qflow/adapters-squid'
import { generateStandardWebhooksSecret } from '@qflow/webhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { githubHeaders, standardHeaders, startWebhookNode, type WebhookNode, webhookFlow } from './fixtures.js'

const ORDER_SCHEMA = {
  type: 'object',
  required: ['order'],
  properties: { order: { type: 'object', required: ['id'], properties: { id: { type: 'string' }, items: { type: 'array' } } } }
}
const ORDER_TRANSFORM = '{ "orderId": steps.receive.output.order.id, "items": $count(steps.receive.output.order.items) }'
const EVENT_TRANSFORM = '{ "type": steps.receive.output.type, "source": steps.receive.output.source, "orderId": steps.receive.output.data.order.id }'
const order = (id: string) => JSON.stringify({ order: { id, items: [1, 2, 3] } })

describe('POST /webhooks/:flowId/:triggerId', () => {
  let api: WebhookNode
  const stdSecret = generateStandardWebhooksSecret()
  const ghSecret = 'gh: a secret to everybody'

  beforeAll(async () => {
    api = await startWebhookNode({ rateLimit: { source: { ratePerSecond: 1000, burst: 1000 }, tenant: { ratePerSecond: 1000, burst: 1000 } } })
    const owner = api.node.parts.admin.did
    const std = { scheme: 'standard-webhooks', secretRef: 'orders-secret' }
    await api.registerFlow(
      webhookFlow(
        'orders',
        owner,
        [
          { id: 'shop', type: 'webhook', auth: std, eventSchema: ORDER_SCHEMA },
          { id: 'shop-sync', type: 'webhook', auth: std, eventSchema: ORDER_SCHEMA, respond: 'on-completion' },
          { id: 'no-secret', type: 'webhook', auth: { scheme: 'standard-webhooks', secretRef: 'never-stored' } },
          { id: 'manual', type: 'manual' }
        ],
        ORDER_TRANSFORM
      )
    )
    await api.registerFlow(webhookFlow('pushes', owner, [{ id: 'github', type: 'webhook', auth: { scheme: 'github', secretRef: 'gh-secret' } }], '{ "ref": steps.receive.output.ref }'))
    await api.registerFlow(
      webhookFlow('tokens', owner, [{ id: 'squid', type: 'webhook', auth: { scheme: 'squid-token' }, respond: 'on-completion' }], ORDER_TRANSFORM)
    )
    await api.registerFlow(
      webhookFlow('events', owner, [{ id: 'ce', type: 'webhook', auth: { scheme: 'standard-webhooks', secretRef: 'orders-secret' }, respond: 'on-completion' }], EVENT_TRANSFORM)
    )
    for (const [name, value] of [
      ['orders-secret', stdSecret],
      ['gh-secret', ghSecret]
    ] as const) {
      const stored = await api.request('PUT', `/api/v1/secrets/${name}`, JSON.stringify({ value }), {
        authorization: `Bearer ${await api.adminToken()}`,
        'content-type': 'application/json'
      })
      expect(stored.status).toBe(201)
    }
  })

  afterAll(async () => {
    await api?.close()
  })

  /** Sends a refused request and checks its status, code and that no execution was stored. */
  async function refused(path: string, body: string | Uint8Array, headers: Record<string, string>, status: number, code: string) {
    const before = await api.executionCount()
    const answer = await api.request('POST', path, body, headers)
    expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code })
    expect(answer.body.success).toBe(false)
    expect(await api.executionCount()).toBe(before)
    return answer
  }

  it('accepts a valid Standard Webhooks request: 202 with the execution id, and the run completes', async () => {
    const body = order('o-1')
    const answer = await api.request('POST', '/webhooks/orders/shop', body, standardHeaders(stdSecret, body))
    expect(answer.status).toBe(202)
    expect(answer.body).toMatchObject({ success: true, data: { flowId: 'orders', executionId: expect.stringMatching(/^exec-wh-/) } })
    const result = await api.node.parts.engine.wait(answer.body.data.executionId)
    expect(result).toMatchObject({ status: 'completed', output: { orderId: 'o-1', items: 3 } })
    const state = await api.node.parts.engine.state(answer.body.data.executionId)
    expect(state.flowId).toBe('orders')
    expect(state.actor).toBe(api.node.parts.admin.did)
  })

  it('records the trigger on the started execution', async () => {
    const body = order('o-trigger')
    const answer = await api.request('POST', '/webhooks/orders/shop', body, standardHeaders(stdSecret, body))
    const executionId: string = answer.body.data.executionId
    // Its steps are pure: it ended before its start was durable, and the answer says so.
    expect(answer.body.data).toEqual({ executionId, flowId: 'orders', status: 'completed' })
    await api.node.parts.engine.wait(executionId)
    const entries = []
    for await (const entry of api.node.parts.store.log.entries(executionId)) entries.push(entry)
    // One entry, the final one, carrying the start.
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ kind: 'completed', payload: { started: { trigger: 'webhook:shop', flowId: 'orders', input: { order: { id: 'o-trigger' } } } } })
    expect(await api.node.parts.engine.state(executionId)).toMatchObject({ trigger: 'webhook:shop', flowId: 'orders', input: { order: { id: 'o-trigger' } }, status: 'completed' })
  })

  it('answers with the flow result when the trigger asks for on-completion', async () => {
    const body = order('o-sync')
    const answer = await api.request('POST', '/webhooks/orders/shop-sync', body, standardHeaders(stdSecret, body))
    expect(answer.status).toBe(200)
    expect(answer.body.data).toEqual({ executionId: expect.stringMatching(/^exec-wh-/), flowId: 'orders', status: 'completed', output: { orderId: 'o-sync', items: 3 } })
  })

  it('accepts a valid GitHub X-Hub-Signature-256 delivery, and refuses its redelivery naming the delivery id', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main' })
    const headers = githubHeaders(ghSecret, body)
    const answer = await api.request('POST', '/webhooks/pushes/github', body, headers)
    expect(answer.status).toBe(202)
    expect(await api.node.parts.engine.wait(answer.body.data.executionId)).toMatchObject({ status: 'completed', output: { ref: 'refs/heads/main' } })
    const redelivered = await refused('/webhooks/pushes/github', body, headers, 409, 'WEBHOOK_REPLAYED')
    expect(redelivered.body.error.details).toEqual({ id: headers['x-github-delivery'], from: 'x-github-delivery', flowId: 'pushes', triggerId: 'github' })
  })

  it('accepts an sQuid token sender (token reusable), and refuses a missing, foreign-audience or unconsented token', async () => {
    const body = order('o-token')
    const token = await api.adminToken()
    const answer = await api.request('POST', '/webhooks/tokens/squid', body, { authorization: `Bearer ${token}`, 'content-type': 'application/json' })
    expect(answer.status).toBe(200)
    expect(answer.body.data).toMatchObject({ status: 'completed', output: { orderId: 'o-token', items: 3 } })
    // a bearer token is reusable until it expires: the same sender sends again
    const again = await api.request('POST', '/webhooks/tokens/squid', order('o-token-2'), { authorization: `Bearer ${token}`, 'content-type': 'application/json' })
    expect(again.status).toBe(200)
    expect(again.body.data.output).toEqual({ orderId: 'o-token-2', items: 3 })
    await refused('/webhooks/tokens/squid', body, { 'content-type': 'application/json' }, 401, 'UNAUTHENTICATED')
    // an identity with a valid token but no consent to execute the flow
    const bob = createIdentity()
    const bobs = await refused('/webhooks/tokens/squid', body, { authorization: `Bearer ${await issueToken(bob, { audience: 'qflow', ttlMs: 60_000 })}`, 'content-type': 'application/json' }, 403, 'FORBIDDEN')
    expect(bobs.body.error.details).toMatchObject({ stage: 'qonsent', code: 'CONSENT_DENIED' })
    const foreign = await issueToken(api.node.parts.admin, { audience: 'elsewhere', ttlMs: 60_000 })
    await refused('/webhooks/tokens/squid', body, { authorization: `Bearer ${foreign}`, 'content-type': 'application/json' }, 401, 'UNAUTHENTICATED')
  })

  it('refuses forged signatures of each scheme, and starts nothing', async () => {
    const body = order('o-forged')
    const other = generateStandardWebhooksSecret()
    const forged = await refused('/webhooks/orders/shop', body, standardHeaders(other, body), 401, 'UNAUTHENTICATED')
    expect(forged.body.error.details).toMatchObject({ scheme: 'standard-webhooks', reason: 'bad-signature' })
    // signed for one body, sent with another
    await refused('/webhooks/orders/shop', order('o-altered'), standardHeaders(stdSecret, body), 401, 'UNAUTHENTICATED')
    const gh = await refused('/webhooks/pushes/github', body, githubHeaders('not the secret', body), 401, 'UNAUTHENTICATED')
    expect(gh.body.error.details).toMatchObject({ scheme: 'github', reason: 'bad-signature' })
    const missing = await refused('/webhooks/orders/shop', body, { 'content-type': 'application/json' }, 401, 'UNAUTHENTICATED')
    expect(missing.body.error.details).toMatchObject({ reason: 'missing-header', header: 'webhook-id' })
  })

  it('refuses a replayed webhook-id, and keeps the first run only', async () => {
    const body = order('o-replay')
    const headers = standardHeaders(stdSecret, body)
    const first = await api.request('POST', '/webhooks/orders/shop', body, headers)
    expect(first.status).toBe(202)
    const replay = await refused('/webhooks/orders/shop', body, headers, 409, 'WEBHOOK_REPLAYED')
    // The sender's own id and the trigger, never the replay cache's internal key.
    expect(replay.body.error.details).toEqual({ id: headers['webhook-id'], from: 'webhook-id', flowId: 'orders', triggerId: 'shop' })
    expect(JSON.stringify(replay.body)).not.toContain('\\n')
    // the same id re-signed with a fresh timestamp is still the same message
    const resigned = standardHeaders(stdSecret, body, { id: headers['webhook-id'] as string, timestamp: Math.floor(Date.now() / 1000) + 1 })
    await refused('/webhooks/orders/shop', body, resigned, 409, 'WEBHOOK_REPLAYED')
  })

  it('refuses a stale or future timestamp', async () => {
    const body = order('o-stale')
    const old = Math.floor(Date.now() / 1000) - 10 * 60
    const stale = await refused('/webhooks/orders/shop', body, standardHeaders(stdSecret, body, { timestamp: old }), 401, 'UNAUTHENTICATED')
    expect(stale.body.error.details).toMatchObject({ reason: 'stale-timestamp' })
    const future = Math.floor(Date.now() / 1000) + 10 * 60
    await refused('/webhooks/orders/shop', body, standardHeaders(stdSecret, body, { timestamp: future }), 401, 'UNAUTHENTICATED')
  })

  it('refuses an oversized body with 413, before reading it all', async () => {
    const big = JSON.stringify({ order: { id: 'big', blob: 'x'.repeat(300 * 1024) } })
    await refused('/webhooks/orders/shop', big, standardHeaders(stdSecret, big), 413, 'PAYLOAD_TOO_LARGE')
  })

  it('refuses a body failing the eventSchema with the problems, and lets the sender retry the same id fixed', async () => {
    const bad = JSON.stringify({ order: { number: 7 } })
    const headers = standardHeaders(stdSecret, bad)
    const answer = await refused('/webhooks/orders/shop', bad, headers, 400, 'VALIDATION_FAILED')
    expect(answer.body.error.details.problems).toEqual([{ pointer: '/order', keyword: 'required', message: "must have required property 'id'" }])
    // the refusal did not burn the id: a corrected delivery under the same id goes through
    const fixed = order('o-fixed')
    const retry = await api.request('POST', '/webhooks/orders/shop', fixed, standardHeaders(stdSecret, fixed, { id: headers['webhook-id'] as string }))
    expect(retry.status).toBe(202)
  })

  it('refuses bodies that are not JSON, and unknown flows or triggers', async () => {
    const text = 'order=1'
    await refused('/webhooks/orders/shop', text, { ...standardHeaders(stdSecret, text), 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE')
    await refused('/webhooks/orders/shop', '{"order":', standardHeaders(stdSecret, '{"order":'), 400, 'VALIDATION_FAILED')
    await refused('/webhooks/nope/shop', '{}', standardHeaders(stdSecret, '{}'), 404, 'NOT_FOUND')
    await refused('/webhooks/orders/manual', '{}', standardHeaders(stdSecret, '{}'), 404, 'NOT_FOUND')
    await refused('/webhooks/orders/no-secret', '{}', standardHeaders(stdSecret, '{}'), 500, 'WEBHOOK_MISCONFIGURED')
  })

  it('accepts a CloudEvent in structured mode', async () => {
    const event = { specversion: '1.0', id: 'ce-1', source: 'https://shop.example/orders', type: 'shop.order.created', data: { order: { id: 'o-ce1' } } }
    const body = JSON.stringify(event)
    const answer = await api.request('POST', '/webhooks/events/ce', body, { ...standardHeaders(stdSecret, body), 'content-type': 'application/cloudevents+json' })
    expect(answer.status).toBe(200)
    expect(answer.body.data.output).toEqual({ type: 'shop.order.created', source: 'https://shop.example/orders', orderId: 'o-ce1' })
  })

  it('accepts a CloudEvent in binary mode', async () => {
    const body = JSON.stringify({ order: { id: 'o-ce2' } })
    const headers = {
      ...standardHeaders(stdSecret, body),
      'ce-specversion': '1.0',
      'ce-id': 'ce-2',
      'ce-source': '/orders',
      'ce-type': 'shop.order.paid',
      'content-type': 'application/json'
    }
    const answer = await api.request('POST', '/webhooks/events/ce', body, headers)
    expect(answer.status).toBe(200)
    expect(answer.body.data.output).toEqual({ type: 'shop.order.paid', source: '/orders', orderId: 'o-ce2' })
  })

  it('refuses an invalid CloudEvent and a repeated CloudEvent source + id', async () => {
    const missingType = JSON.stringify({ specversion: '1.0', id: 'ce-3', source: '/orders' })
    const invalid = await refused('/webhooks/events/ce', missingType, { ...standardHeaders(stdSecret, missingType), 'content-type': 'application/cloudevents+json' }, 400, 'VALIDATION_FAILED')
    expect(invalid.body.error.details).toMatchObject({ attribute: 'type' })
    const event = JSON.stringify({ specversion: '1.0', id: 'ce-4', source: '/orders', type: 't', data: { order: { id: 'o-ce4' } } })
    const first = await api.request('POST', '/webhooks/events/ce', event, { ...standardHeaders(stdSecret, event), 'content-type': 'application/cloudevents+json' })
    expect(first.status).toBe(200)
    // another webhook-id, the same event
    const again = await refused('/webhooks/events/ce', event, { ...standardHeaders(stdSecret, event), 'content-type': 'application/cloudevents+json' }, 409, 'WEBHOOK_REPLAYED')
    expect(again.body.error.details).toEqual({ id: 'ce-4', from: 'cloudevent', source: '/orders', flowId: 'events', triggerId: 'ce' })
  })

  it('passes the external event through the universal pipeline: a flow owner without consent is refused', async () => {
    const stranger = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
    await api.registerFlow(webhookFlow('strangers', stranger, [{ id: 'hook', type: 'webhook', auth: { scheme: 'standard-webhooks', secretRef: 'orders-secret' } }], ORDER_TRANSFORM))
    const body = order('o-stranger')
    const answer = await refused('/webhooks/strangers/hook', body, standardHeaders(stdSecret, body), 403, 'FORBIDDEN')
    expect(answer.body.error.details).toMatchObject({ stage: 'qonsent', code: 'CONSENT_DENIED' })
  })

  it('counts refusals by reason in /metrics', async () => {
    const metrics = await api.request('GET', '/metrics')
    expect(metrics.status).toBe(200)
    const count = (reason: string) => Number(new RegExp(`qflow_webhook_refusals_total\\{reason="${reason}"\\} (\\d+)`).exec(String(metrics.body))?.[1] ?? 0)
    expect(count('bad-signature')).toBeGreaterThanOrEqual(3)
    expect(count('stale-timestamp')).toBe(2)
    expect(count('WEBHOOK_REPLAYED')).toBeGreaterThanOrEqual(2)
    expect(count('PAYLOAD_TOO_LARGE')).toBe(1)
  })

  it('is listed in the OpenAPI document', async () => {
    const doc = await api.request('GET', '/api/v1/openapi.json', undefined, { authorization: `Bearer ${await api.adminToken()}` })
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/webhooks/{flowId}/{triggerId}', '/api/v1/secrets', '/api/v1/secrets/{name}']))
  })
})

describe('webhook rate limits', () => {
  let api: WebhookNode
  const secret = generateStandardWebhooksSecret()

  beforeAll(async () => {
    // slow refill (one token per 10 s) so the test never sees a refill between requests
    api = await startWebhookNode({ rateLimit: { source: { ratePerSecond: 0.1, burst: 3 }, tenant: { ratePerSecond: 0.1, burst: 5 } } })
    const owner = api.node.parts.admin.did
    const auth = { scheme: 'standard-webhooks', secretRef: 'limited' }
    await api.registerFlow(webhookFlow('first', owner, [{ id: 'hook', type: 'webhook', auth }], ORDER_TRANSFORM, 'tiny'))
    await api.registerFlow(webhookFlow('second', owner, [{ id: 'hook', type: 'webhook', auth }], ORDER_TRANSFORM, 'tiny'))
    await api.registerFlow(webhookFlow('elsewhere', owner, [{ id: 'hook', type: 'webhook', auth }], ORDER_TRANSFORM, 'roomy'))
    const stored = await api.request('PUT', '/api/v1/secrets/limited', JSON.stringify({ value: secret }), {
      authorization: `Bearer ${await api.adminToken()}`,
      'content-type': 'application/json'
    })
    expect(stored.status).toBe(201)
  })

  afterAll(async () => {
    await api?.close()
  })

  const send = (flow: string, id: string) => {
    const body = order(id)
    return api.request('POST', `/webhooks/${flow}/hook`, body, standardHeaders(secret, body))
  }

  it('answers a flood from one source with 429 and Retry-After, per source then per tenant, and starts nothing more', async () => {
    const flood = await Promise.all(Array.from({ length: 8 }, (_, i) => send('first', `f-${i}`)))
    const statuses = flood.map((a) => a.status).sort()
    expect(statuses).toEqual([202, 202, 202, 429, 429, 429, 429, 429])
    const limited = flood.find((a) => a.status === 429)
    expect(limited?.headers.get('retry-after')).toBe('10')
    expect(limited?.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { dimension: 'source' } })
    expect(await api.executionCount()).toBe(3)

    // another source of the same tenant: the tenant has 2 of its 5 tokens left
    const second = []
    for (let i = 0; i < 3; i++) second.push(await send('second', `s-${i}`))
    expect(second.map((a) => a.status)).toEqual([202, 202, 429])
    expect(second[2]?.body.error.details).toMatchObject({ dimension: 'tenant' })
    expect(Number(second[2]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await api.executionCount()).toBe(5)

    // another tenant is not affected
    expect((await send('elsewhere', 'e-1')).status).toBe(202)
    expect(await api.executionCount()).toBe(6)
  })
})

describe('webhook refusals per client address', () => {
  let api: WebhookNode
  const secret = generateStandardWebhooksSecret()

  beforeAll(async () => {
    // four refusals per address, refilling one per 10 s: no refill during the test
    api = await startWebhookNode({ refusalLimit: { ratePerSecond: 0.1, burst: 4 } })
    const owner = api.node.parts.admin.did
    await api.registerFlow(webhookFlow('guarded', owner, [{ id: 'hook', type: 'webhook', auth: { scheme: 'standard-webhooks', secretRef: 'guarded' } }], ORDER_TRANSFORM))
    const stored = await api.request('PUT', '/api/v1/secrets/guarded', JSON.stringify({ value: secret }), {
      authorization: `Bearer ${await api.adminToken()}`,
      'content-type': 'application/json'
    })
    expect(stored.status).toBe(201)
  })

  afterAll(async () => {
    await api?.close()
  })

  it('answers an address past its refusals with 429 before checking signatures, valid ones included, and starts nothing', async () => {
    const forger = generateStandardWebhooksSecret()
    const forged = []
    for (let i = 0; i < 6; i++) {
      const body = order(`forged-${i}`)
      forged.push(await api.request('POST', '/webhooks/guarded/hook', body, standardHeaders(forger, body)))
    }
    expect(forged.map((a) => a.status)).toEqual([401, 401, 401, 401, 429, 429])
    expect(forged[4]?.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { dimension: 'address' } })
    expect(Number(forged[4]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // The address is held back as a whole: even a correctly signed webhook waits.
    const body = order('genuine')
    const genuine = await api.request('POST', '/webhooks/guarded/hook', body, standardHeaders(secret, body))
    expect(genuine.status).toBe(429)
    expect(await api.executionCount()).toBe(0)
  })
})
