import { createHmac, timingSafeEqual } from 'node:crypto'
import { GITHUB_HEADERS, GITHUB_SIGNATURE_PREFIX, MAX_WEBHOOK_ID_LENGTH } from './constants.js'
import { InvalidWebhookSecretError, MalformedWebhookHeaderError, MissingWebhookHeaderError, WebhookSignatureError } from './errors.js'
import { headerValue, payloadBytes, type WebhookHeaders, type WebhookPayload } from './headers.js'

/** A GitHub webhook secret: the text typed into the webhook's settings, or its bytes. */
export type GitHubWebhookSecret = string | Uint8Array

/** A verified GitHub delivery. */
export interface GitHubDelivery {
  /** `X-GitHub-Delivery`, the delivery's GUID, when sent (kept on redelivery: use it to drop duplicates). */
  readonly deliveryId: string | undefined
  /** `X-GitHub-Event`, when sent. */
  readonly event: string | undefined
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i

function keyOf(secret: GitHubWebhookSecret): string | Uint8Array {
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) throw new InvalidWebhookSecretError('The GitHub webhook secret must be a string or bytes')
  if (secret.length === 0) throw new InvalidWebhookSecretError('The GitHub webhook secret is empty')
  return secret
}

/**
 * The `X-Hub-Signature-256` value GitHub sends for a body: `sha256=` and the hex HMAC-SHA256 of
 * the raw body under the secret.
 *
 * @throws {@link InvalidWebhookSecretError} for an empty secret.
 */
export function signGitHubWebhook(secret: GitHubWebhookSecret, payload: WebhookPayload): string {
  return GITHUB_SIGNATURE_PREFIX + createHmac('sha256', keyOf(secret)).update(payloadBytes(payload)).digest('hex')
}

/**
 * Verifies a GitHub delivery's `X-Hub-Signature-256` over the raw body, in constant time, under
 * any one of the secrets. GitHub signs no timestamp: replays can be refused only by remembering
 * `X-GitHub-Delivery` ids (see `replayCache`).
 *
 * @throws {@link MissingWebhookHeaderError}, {@link MalformedWebhookHeaderError}, {@link WebhookSignatureError}, {@link InvalidWebhookSecretError}.
 */
export function verifyGitHubWebhook(secret: GitHubWebhookSecret | readonly GitHubWebhookSecret[], headers: WebhookHeaders, payload: WebhookPayload): GitHubDelivery {
  const secrets = Array.isArray(secret) ? (secret as readonly GitHubWebhookSecret[]) : [secret as GitHubWebhookSecret]
  const keys = secrets.map(keyOf)
  if (keys.length === 0) throw new InvalidWebhookSecretError('No GitHub webhook secret to verify with')
  const value = headerValue(headers, GITHUB_HEADERS.signature)
  if (value === undefined) throw new MissingWebhookHeaderError(GITHUB_HEADERS.signature)
  const trimmed = value.trim()
  if (!trimmed.startsWith(GITHUB_SIGNATURE_PREFIX) || !HEX_SHA256.test(trimmed.slice(GITHUB_SIGNATURE_PREFIX.length))) {
    throw new MalformedWebhookHeaderError(GITHUB_HEADERS.signature, 'expected "sha256=" and 64 hex digits')
  }
  const deliveryId = headerValue(headers, GITHUB_HEADERS.delivery)
  if (deliveryId !== undefined && (deliveryId.length === 0 || deliveryId.length > MAX_WEBHOOK_ID_LENGTH)) {
    throw new MalformedWebhookHeaderError(GITHUB_HEADERS.delivery, `must have 1 to ${MAX_WEBHOOK_ID_LENGTH} characters`)
  }
  const given = Buffer.from(trimmed.slice(GITHUB_SIGNATURE_PREFIX.length), 'hex')
  const body = payloadBytes(payload)
  let matched = false
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(body).digest()
    if (timingSafeEqual(given, expected)) matched = true
  }
  if (!matched) throw new WebhookSignatureError('github')
  return { deliveryId, event: headerValue(headers, GITHUB_HEADERS.event) }
}
