import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  generateStandardWebhooksSecret,
  parseStandardWebhooksSecret,
  signStandardWebhook,
  verifyStandardWebhook
} from '../src/index.js'

/**
 * The published test vector of the Standard Webhooks reference libraries: the same key, message
 * id, timestamp, payload and expected signature appear in
 * standard-webhooks/standard-webhooks `libraries/javascript/src/webhook.test.ts` ("sign function
 * works") and `libraries/go/webhook_test.go` (`TestWebhookSign`), and the fixed secret/id/payload
 * in every other library's tests. The signing scheme is `spec/standard-webhooks.md`
 * ("Signature scheme": `{msg_id}.{timestamp}.{payload}`, HMAC-SHA256, `v1,<base64>`).
 */
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
} as const

/** A clock at the vector's timestamp plus `skewMs`. */
const at = (skewMs = 0) => ({ now: () => VECTOR.timestamp * 1000 + skewMs })

const headersOf = (signature: string = VECTOR.signature, timestamp: number = VECTOR.timestamp) => ({
  'webhook-id': VECTOR.id,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': signature
})

describe('Standard Webhooks', () => {
  it('signs the published test vector', () => {
    expect(signStandardWebhook(VECTOR.secret, { id: VECTOR.id, timestamp: VECTOR.timestamp, payload: VECTOR.payload })).toBe(VECTOR.signature)
  })

  it('verifies the published test vector, with and without the whsec_ prefix, as bytes or text', () => {
    const expected = { id: VECTOR.id, timestamp: VECTOR.timestamp, validUntil: VECTOR.timestamp * 1000 + 5 * 60 * 1000 }
    expect(verifyStandardWebhook(VECTOR.secret, headersOf(), VECTOR.payload, at())).toEqual(expected)
    expect(verifyStandardWebhook(VECTOR.secret.slice('whsec_'.length), headersOf(), new TextEncoder().encode(VECTOR.payload), at())).toEqual(expected)
    expect(verifyStandardWebhook(parseStandardWebhooksSecret(VECTOR.secret), headersOf(), VECTOR.payload, at())).toEqual(expected)
  })

  it('accepts any one valid v1 signature among several, skipping other versions (reference "multi sig" case)', () => {
    const other = 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc='
    const header = [other, 'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', VECTOR.signature, other].join(' ')
    expect(verifyStandardWebhook(VECTOR.secret, headersOf(header), VECTOR.payload, at()).id).toBe(VECTOR.id)
  })

  it('verifies with a second secret during a rotation', () => {
    const fresh = generateStandardWebhooksSecret()
    expect(verifyStandardWebhook([fresh, VECTOR.secret], headersOf(), VECTOR.payload, at()).id).toBe(VECTOR.id)
  })

  it('refuses the reference invalid signature, a partial one and an empty one', () => {
    for (const bad of ['v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', VECTOR.signature.slice(0, 8), 'v1,', 'v1,dawfeoifkpqwoekfpqoekf']) {
      expect(() => verifyStandardWebhook(VECTOR.secret, headersOf(bad), VECTOR.payload, at())).toThrow(expect.objectContaining({ name: 'WebhookSignatureError', scheme: 'standard-webhooks' }))
    }
  })

  it('refuses a body, id or timestamp changed after signing', () => {
    expect(() => verifyStandardWebhook(VECTOR.secret, headersOf(), '{"test": 2432232315}', at())).toThrow(expect.objectContaining({ name: 'WebhookSignatureError' }))
    expect(() => verifyStandardWebhook(VECTOR.secret, { ...headersOf(), 'webhook-id': 'msg_other' }, VECTOR.payload, at())).toThrow(
      expect.objectContaining({ name: 'WebhookSignatureError' })
    )
    expect(() => verifyStandardWebhook(VECTOR.secret, headersOf(VECTOR.signature, VECTOR.timestamp + 1), VECTOR.payload, at())).toThrow(
      expect.objectContaining({ name: 'WebhookSignatureError' })
    )
  })

  it('refuses a signature made with another secret', () => {
    expect(() => verifyStandardWebhook(generateStandardWebhooksSecret(), headersOf(), VECTOR.payload, at())).toThrow(expect.objectContaining({ name: 'WebhookSignatureError' }))
  })

  it('names the missing header', () => {
    for (const header of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const headers: Record<string, string> = headersOf()
      delete headers[header]
      expect(() => verifyStandardWebhook(VECTOR.secret, headers, VECTOR.payload, at())).toThrow(expect.objectContaining({ name: 'MissingWebhookHeaderError', header }))
    }
  })

  it('refuses malformed headers', () => {
    expect(() => verifyStandardWebhook(VECTOR.secret, { ...headersOf(), 'webhook-timestamp': 'hello' }, VECTOR.payload, at())).toThrow(
      expect.objectContaining({ name: 'MalformedWebhookHeaderError', header: 'webhook-timestamp' })
    )
    expect(() => verifyStandardWebhook(VECTOR.secret, { ...headersOf(), 'webhook-id': 'msg.1' }, VECTOR.payload, at())).toThrow(
      expect.objectContaining({ name: 'MalformedWebhookHeaderError', header: 'webhook-id' })
    )
    expect(() => verifyStandardWebhook(VECTOR.secret, headersOf('g0hM9SsE'), VECTOR.payload, at())).toThrow(
      expect.objectContaining({ name: 'MalformedWebhookHeaderError', header: 'webhook-signature' })
    )
    expect(() => verifyStandardWebhook(VECTOR.secret, { ...headersOf(), 'webhook-id': [VECTOR.id, 'msg_2'] }, VECTOR.payload, at())).toThrow(
      expect.objectContaining({ name: 'MalformedWebhookHeaderError', header: 'webhook-id' })
    )
  })

  it('refuses timestamps outside the window either way, and accepts its edges', () => {
    const window = 5 * 60 * 1000
    for (const skew of [window + 1000, -(window + 1000)]) {
      expect(() => verifyStandardWebhook(VECTOR.secret, headersOf(), VECTOR.payload, at(skew))).toThrow(
        expect.objectContaining({ name: 'StaleWebhookTimestampError', timestamp: VECTOR.timestamp, toleranceMs: window })
      )
    }
    expect(verifyStandardWebhook(VECTOR.secret, headersOf(), VECTOR.payload, at(window)).id).toBe(VECTOR.id)
    expect(verifyStandardWebhook(VECTOR.secret, headersOf(), VECTOR.payload, at(-window)).id).toBe(VECTOR.id)
    expect(() => verifyStandardWebhook(VECTOR.secret, headersOf(), VECTOR.payload, { ...at(2000), toleranceMs: 1000 })).toThrow(
      expect.objectContaining({ name: 'StaleWebhookTimestampError', toleranceMs: 1000 })
    )
  })

  it('reads headers in any case and from a fetch Headers', () => {
    const upper = { 'Webhook-Id': VECTOR.id, 'WEBHOOK-TIMESTAMP': String(VECTOR.timestamp), 'Webhook-Signature': VECTOR.signature }
    expect(verifyStandardWebhook(VECTOR.secret, upper, VECTOR.payload, at()).id).toBe(VECTOR.id)
    expect(verifyStandardWebhook(VECTOR.secret, new Headers(headersOf()), VECTOR.payload, at()).id).toBe(VECTOR.id)
  })

  it('refuses unusable secrets, saying why', () => {
    const cases: [unknown, string][] = [
      ['', 'empty'],
      ['whsec_', 'empty'],
      ['whsec_not base64!', 'not-base64'],
      [new Uint8Array(0), 'empty'],
      [7, 'wrong-type']
    ]
    for (const [secret, reason] of cases) {
      expect(() => parseStandardWebhooksSecret(secret as string)).toThrow(expect.objectContaining({ name: 'InvalidWebhookSecretError', reason }))
    }
    expect(() => verifyStandardWebhook([], headersOf(), VECTOR.payload, at())).toThrow(expect.objectContaining({ name: 'InvalidWebhookSecretError', reason: 'empty' }))
  })

  it('generates whsec_ secrets of 32 random bytes that sign like any other', () => {
    const secret = generateStandardWebhooksSecret()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(parseStandardWebhooksSecret(secret)).toHaveLength(32)
    const signature = signStandardWebhook(secret, { id: 'msg_x', timestamp: 1700000000, payload: 'body' })
    const manual = createHmac('sha256', parseStandardWebhooksSecret(secret)).update('msg_x.1700000000.body').digest('base64')
    expect(signature).toBe(`v1,${manual}`)
    expect(() => generateStandardWebhooksSecret(8)).toThrow(expect.objectContaining({ name: 'InvalidWebhookSecretError', reason: 'wrong-length' }))
  })
})
