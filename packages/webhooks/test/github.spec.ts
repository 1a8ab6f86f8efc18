import { describe, expect, it } from 'vitest'
import { signGitHubWebhook, verifyGitHubWebhook } from '../src/index.js'

/**
 * GitHub's documented example, "Testing the webhook payload validation" in
 * https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries : secret
 * "It's a Secret to Everybody", payload "Hello, World!".
 */
const SECRET = "It's a Secret to Everybody"
const PAYLOAD = 'Hello, World!'
const SIGNATURE = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'

describe('GitHub X-Hub-Signature-256', () => {
  it("signs GitHub's documented example", () => {
    expect(signGitHubWebhook(SECRET, PAYLOAD)).toBe(SIGNATURE)
    expect(signGitHubWebhook(new TextEncoder().encode(SECRET), new TextEncoder().encode(PAYLOAD))).toBe(SIGNATURE)
  })

  it("verifies GitHub's documented example and returns the delivery headers", () => {
    const headers = { 'X-Hub-Signature-256': SIGNATURE, 'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958', 'X-GitHub-Event': 'issues' }
    expect(verifyGitHubWebhook(SECRET, headers, PAYLOAD)).toEqual({ deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958', event: 'issues' })
    expect(verifyGitHubWebhook(SECRET, { 'x-hub-signature-256': SIGNATURE.toUpperCase().replace('SHA256=', 'sha256=') }, PAYLOAD)).toEqual({
      deliveryId: undefined,
      event: undefined
    })
  })

  it('verifies under any one of several secrets', () => {
    expect(verifyGitHubWebhook(['new secret', SECRET], { 'x-hub-signature-256': SIGNATURE }, PAYLOAD).event).toBeUndefined()
  })

  it('refuses a forged signature, another secret and an altered body', () => {
    const forged = `sha256=${'0'.repeat(64)}`
    expect(() => verifyGitHubWebhook(SECRET, { 'x-hub-signature-256': forged }, PAYLOAD)).toThrow(expect.objectContaining({ name: 'WebhookSignatureError', scheme: 'github' }))
    expect(() => verifyGitHubWebhook('another', { 'x-hub-signature-256': SIGNATURE }, PAYLOAD)).toThrow(expect.objectContaining({ name: 'WebhookSignatureError' }))
    expect(() => verifyGitHubWebhook(SECRET, { 'x-hub-signature-256': SIGNATURE }, 'Hello, World?')).toThrow(expect.objectContaining({ name: 'WebhookSignatureError' }))
  })

  it('refuses a missing or malformed header, and an empty secret', () => {
    expect(() => verifyGitHubWebhook(SECRET, {}, PAYLOAD)).toThrow(expect.objectContaining({ name: 'MissingWebhookHeaderError', header: 'x-hub-signature-256' }))
    for (const value of ['757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17', 'sha1=abc', 'sha256=xyz', `${SIGNATURE}00`]) {
      expect(() => verifyGitHubWebhook(SECRET, { 'x-hub-signature-256': value }, PAYLOAD)).toThrow(
        expect.objectContaining({ name: 'MalformedWebhookHeaderError', header: 'x-hub-signature-256' })
      )
    }
    expect(() => verifyGitHubWebhook('', { 'x-hub-signature-256': SIGNATURE }, PAYLOAD)).toThrow(expect.objectContaining({ name: 'InvalidWebhookSecretError' }))
  })
})
