import { generateStandardWebhooksKeyPair, generateStandardWebhooksSecret, signStandardWebhookAsymmetric } from '@qflow/webhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { asymmetricHeaders, standardHeaders, startWebhookNode, type WebhookNode, webhookFlow } from './fixtures.js'

const TRANSFORM = '{ "orderId": steps.receive.output.order.id }'
const order = (id: string) => JSON.stringify({ order: { id } })

describe('POST /webhooks/:flowId/:triggerId with Standard Webhooks v1a (ed25519) signatures', () => {
  let api: WebhookNode
  // The sender's key pair: the node holds only the whpk_ public key.
  const sender = generateStandardWebhooksKeyPair()
  const BAD_KEYS = [
    ['malformed-public-key', `whpk_${Buffer.alloc(31, 1).toString('base64')}`, 'wrong-length'],
    ['weak-public-key', `whpk_${Buffer.alloc(32).toString('base64')}`, 'weak-key'],
    ['sender-secret-key', sender.secretKey, 'secret-key']
  ] as const

  beforeAll(async () => {
    // no refusal limit per address: this suite sends many refused requests from 127.0.0.1 on purpose
    api = await startWebhookNode({ refusalLimit: false })
    const owner = api.node.parts.admin.did
    const trigger = (id: string, secretRef: string, respond?: string) => ({
      id,
      type: 'webhook',
      auth: { scheme: 'standard-webhooks', secretRef },
      ...(respond === undefined ? {} : { respond })
    })
    await api.registerFlow(
      webhookFlow(
        'signed',
        owner,
        [
          trigger('ed', 'sender-public-key', 'on-completion'),
          trigger('ed-async', 'sender-public-key'),
          trigger('malformed', 'malformed-public-key'),
          trigger('weak', 'weak-public-key'),
          trigger('secret-key', 'sender-secret-key')
        ],
        TRANSFORM
      )
    )
    const stored = await api.request('PUT', '/api/v1/secrets/sender-public-key', JSON.stringify({ value: sender.publicKey }), {
      authorization: `Bearer ${await api.adminToken()}`,
      'content-type': 'application/json'
    })
    expect(stored.status).toBe(201)
    // Keys the API refuses to store (see below), put straight into the node's store: what a
    // trigger meets if one got there anyway.
    for (const [name, value] of BAD_KEYS) await api.node.parts.secrets.put(name, value)
  })

  afterAll(async () => {
    await api?.close()
  })

  it('PUT /api/v1/secrets refuses a whsk_ secret key and an unusable whpk_ key (400), without repeating them, and stores nothing', async () => {
    for (const [, value, reason] of BAD_KEYS) {
      const answer = await api.request('PUT', '/api/v1/secrets/refused-key', JSON.stringify({ value }), {
        authorization: `Bearer ${await api.adminToken()}`,
        'content-type': 'application/json'
      })
      expect(answer.status).toBe(400)
      expect(answer.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { pointer: '/value', reason } })
      expect(JSON.stringify(answer.body)).not.toContain(value.slice(5))
    }
    expect(api.node.parts.secrets.has('refused-key')).toBe(false)
  })

  /** Sends a refused request and checks its status, code and that no execution was stored. */
  async function refused(path: string, body: string, headers: Record<string, string>, status: number, code: string) {
    const before = await api.executionCount()
    const answer = await api.request('POST', path, body, headers)
    expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code })
    expect(await api.executionCount()).toBe(before)
    return answer
  }

  it("accepts a request signed with the sender's whsk_ key: 200 with the run's result", async () => {
    const body = order('o-ed')
    const answer = await api.request('POST', '/webhooks/signed/ed', body, asymmetricHeaders(sender.secretKey, body))
    expect(answer.status).toBe(200)
    expect(answer.body.data).toEqual({ executionId: expect.stringMatching(/^exec-wh-/), flowId: 'signed', status: 'completed', output: { orderId: 'o-ed' } })
  })

  it('accepts a v1a signature among others of mixed versions, and refuses its replay', async () => {
    const body = order('o-mixed')
    const junk = `v1,${Buffer.alloc(32, 3).toString('base64')}`
    const otherSender = generateStandardWebhooksKeyPair()
    const otherV1a = signStandardWebhookAsymmetric(otherSender.secretKey, { id: 'msg_unused', timestamp: 1, payload: body })
    const headers = asymmetricHeaders(sender.secretKey, body, { extra: [junk, otherV1a, 'v2,AAAA'] })
    const answer = await api.request('POST', '/webhooks/signed/ed-async', body, headers)
    expect(answer.status).toBe(202)
    const replay = await refused('/webhooks/signed/ed-async', body, headers, 409, 'WEBHOOK_REPLAYED')
    expect(replay.body.error.details).toMatchObject({ id: headers['webhook-id'], from: 'webhook-id' })
  })

  it('refuses a signature made with another key pair (401 bad-signature), and starts nothing', async () => {
    const body = order('o-forged')
    const forged = await refused('/webhooks/signed/ed', body, asymmetricHeaders(generateStandardWebhooksKeyPair().secretKey, body), 401, 'UNAUTHENTICATED')
    expect(forged.body.error.details).toEqual({ scheme: 'standard-webhooks', reason: 'bad-signature' })
  })

  it('refuses a body changed after signing', async () => {
    const headers = asymmetricHeaders(sender.secretKey, order('o-signed'))
    const altered = await refused('/webhooks/signed/ed', order('o-altered'), headers, 401, 'UNAUTHENTICATED')
    expect(altered.body.error.details).toMatchObject({ reason: 'bad-signature' })
  })

  it('refuses a stale or future timestamp, however well signed', async () => {
    const body = order('o-stale')
    for (const skew of [-10 * 60, 10 * 60]) {
      const headers = asymmetricHeaders(sender.secretKey, body, { timestamp: Math.floor(Date.now() / 1000) + skew })
      const answer = await refused('/webhooks/signed/ed', body, headers, 401, 'UNAUTHENTICATED')
      expect(answer.body.error.details).toMatchObject({ reason: 'stale-timestamp' })
    }
  })

  it('refuses v1 (HMAC) signatures, even one keyed with the public key itself: the trigger takes v1a only', async () => {
    const body = order('o-v1')
    // HMAC keyed with the public key's bytes (its base64 without the whpk_ prefix reads as a bare
    // whsec_ secret): anyone holding the public key could make this one, so it must never pass.
    const withPublicKey = standardHeaders(sender.publicKey.slice('whpk_'.length), body)
    const answer = await refused('/webhooks/signed/ed', body, withPublicKey, 401, 'UNAUTHENTICATED')
    expect(answer.body.error.details).toEqual({ scheme: 'standard-webhooks', reason: 'bad-signature' })
    expect(answer.body.error.message).toMatch(/no standard-webhooks v1a signature.*\(it carries v1\)/)
    // a genuine v1 sender's signature, under its own whsec_ secret
    await refused('/webhooks/signed/ed', body, standardHeaders(generateStandardWebhooksSecret(), body), 401, 'UNAUTHENTICATED')
  })

  it('answers 500 WEBHOOK_MISCONFIGURED for a stored key that cannot be used: malformed, weak, or the sender\'s secret key', async () => {
    const body = order('o-misconfigured')
    const headers = asymmetricHeaders(sender.secretKey, body)
    await refused('/webhooks/signed/malformed', body, headers, 500, 'WEBHOOK_MISCONFIGURED')
    // the all-zero key is a point of small order: an all-zero signature would pass a bare ed25519 check for some ids
    const zeroSignature = { ...headers, 'webhook-signature': `v1a,${Buffer.alloc(64).toString('base64')}` }
    await refused('/webhooks/signed/weak', body, zeroSignature, 500, 'WEBHOOK_MISCONFIGURED')
    // a whsk_ value is the sender's secret: neither a v1 secret nor a v1a public key
    await refused('/webhooks/signed/secret-key', body, headers, 500, 'WEBHOOK_MISCONFIGURED')
  })
})
