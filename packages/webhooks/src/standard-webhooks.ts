import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  MAX_WEBHOOK_ID_LENGTH,
  STANDARD_WEBHOOKS_HEADERS,
  STANDARD_WEBHOOKS_SECRET_BYTES,
  STANDARD_WEBHOOKS_SECRET_PREFIX,
  STANDARD_WEBHOOKS_SIGNATURE_VERSION
} from './constants.js'
import { InvalidWebhookSecretError, MalformedWebhookHeaderError, MissingWebhookHeaderError, WebhookSignatureError } from './errors.js'
import { headerValue, headerValues, payloadBytes, type WebhookHeaders, type WebhookPayload } from './headers.js'
import { assertFreshTimestamp, parseUnixSeconds, type TimestampWindowOptions } from './timestamp.js'

/** A Standard Webhooks symmetric secret: `whsec_<base64>`, bare base64, or the key bytes. */
export type StandardWebhooksSecret = string | Uint8Array

/** A verified Standard Webhooks message. */
export interface StandardWebhookMessage {
  /** The `webhook-id` (stable across retries: use it to drop duplicates). */
  readonly id: string
  /** The `webhook-timestamp`, unix seconds. */
  readonly timestamp: number
  /** When the timestamp leaves the window, ms since the epoch: how long to remember `id`. */
  readonly validUntil: number
}

/** Options of {@link verifyStandardWebhook}. */
export interface VerifyStandardWebhookOptions extends TimestampWindowOptions {}

/** What {@link signStandardWebhook} signs. */
export interface StandardWebhookToSign {
  /** The message id (no `.`). */
  readonly id: string
  /** Unix time of the attempt, seconds. */
  readonly timestamp: number
  /** The exact body sent. */
  readonly payload: WebhookPayload
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const encoder = new TextEncoder()

/**
 * The key bytes of a Standard Webhooks secret (`whsec_` prefix optional, base64).
 *
 * @throws {@link InvalidWebhookSecretError} when it is empty or not base64.
 */
export function parseStandardWebhooksSecret(secret: StandardWebhooksSecret): Uint8Array {
  if (secret instanceof Uint8Array) {
    if (secret.length === 0) throw new InvalidWebhookSecretError('The Standard Webhooks secret is empty')
    return secret
  }
  if (typeof secret !== 'string') throw new InvalidWebhookSecretError('The Standard Webhooks secret must be a string or bytes')
  const encoded = secret.startsWith(STANDARD_WEBHOOKS_SECRET_PREFIX) ? secret.slice(STANDARD_WEBHOOKS_SECRET_PREFIX.length) : secret
  if (encoded.length === 0) throw new InvalidWebhookSecretError('The Standard Webhooks secret is empty')
  if (!BASE64.test(encoded) || encoded.length % 4 === 1) throw new InvalidWebhookSecretError('The Standard Webhooks secret is not base64 (after the whsec_ prefix)')
  const key = Buffer.from(encoded, 'base64')
  if (key.length === 0) throw new InvalidWebhookSecretError('The Standard Webhooks secret decodes to no bytes')
  return new Uint8Array(key.buffer, key.byteOffset, key.length)
}

/** A new random secret, serialized as Standard Webhooks asks (`whsec_` + base64 of 32 bytes). */
export function generateStandardWebhooksSecret(bytes: number = STANDARD_WEBHOOKS_SECRET_BYTES): string {
  if (!Number.isInteger(bytes) || bytes < 24 || bytes > 64) throw new InvalidWebhookSecretError(`A Standard Webhooks secret has 24 to 64 bytes, not ${bytes}`)
  return STANDARD_WEBHOOKS_SECRET_PREFIX + randomBytes(bytes).toString('base64')
}

function assertId(id: string): void {
  if (id.length === 0 || id.length > MAX_WEBHOOK_ID_LENGTH) throw new MalformedWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.id, `must have 1 to ${MAX_WEBHOOK_ID_LENGTH} characters`)
  // The id is part of the signed content `{id}.{timestamp}.{body}`: a `.` in it would make two
  // different (id, timestamp, body) triples sign the same bytes.
  if (!/^[\x21-\x7e]+$/.test(id) || id.includes('.')) throw new MalformedWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.id, 'must be printable ASCII without spaces or "."')
}

function digest(key: Uint8Array, id: string, timestamp: number, payload: Uint8Array): Buffer {
  return createHmac('sha256', key).update(encoder.encode(`${id}.${timestamp}.`)).update(payload).digest()
}

/**
 * Signs a message as a Standard Webhooks sender does: HMAC-SHA256 of `{id}.{timestamp}.{body}`
 * under the secret, serialized `v1,<base64>` (the value of `webhook-signature`).
 *
 * @throws {@link InvalidWebhookSecretError} for an unusable secret; {@link MalformedWebhookHeaderError} for an id with `.`.
 */
export function signStandardWebhook(secret: StandardWebhooksSecret, message: StandardWebhookToSign): string {
  assertId(message.id)
  if (!Number.isInteger(message.timestamp) || message.timestamp < 0) throw new MalformedWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.timestamp, 'must be a non-negative integer of seconds')
  const key = parseStandardWebhooksSecret(secret)
  return `${STANDARD_WEBHOOKS_SIGNATURE_VERSION},${digest(key, message.id, message.timestamp, payloadBytes(message.payload)).toString('base64')}`
}

/** The `v1` signatures of a `webhook-signature` value, decoded; other versions are skipped. */
function v1Signatures(values: readonly string[]): Buffer[] {
  const signatures: Buffer[] = []
  for (const value of values) {
    for (const part of value.split(' ')) {
      if (part === '') continue
      const comma = part.indexOf(',')
      if (comma <= 0) throw new MalformedWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.signature, 'each signature is "<version>,<base64>"')
      if (part.slice(0, comma) !== STANDARD_WEBHOOKS_SIGNATURE_VERSION) continue
      const encoded = part.slice(comma + 1)
      if (BASE64.test(encoded)) signatures.push(Buffer.from(encoded, 'base64'))
    }
  }
  return signatures
}

/**
 * Verifies a Standard Webhooks request: the `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` headers over the raw body. The timestamp must be within the window
 * (default ±5 minutes); any one of the space-separated `v1` signatures must match under any one of
 * the secrets (several during a rotation), compared in constant time.
 *
 * @throws {@link MissingWebhookHeaderError}, {@link MalformedWebhookHeaderError},
 *   {@link StaleWebhookTimestampError}, {@link WebhookSignatureError}, {@link InvalidWebhookSecretError}.
 */
export function verifyStandardWebhook(
  secret: StandardWebhooksSecret | readonly StandardWebhooksSecret[],
  headers: WebhookHeaders,
  payload: WebhookPayload,
  options: VerifyStandardWebhookOptions = {}
): StandardWebhookMessage {
  const keys = (Array.isArray(secret) ? (secret as readonly StandardWebhooksSecret[]) : [secret as StandardWebhooksSecret]).map(parseStandardWebhooksSecret)
  if (keys.length === 0) throw new InvalidWebhookSecretError('No Standard Webhooks secret to verify with')
  const id = headerValue(headers, STANDARD_WEBHOOKS_HEADERS.id)
  if (id === undefined) throw new MissingWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.id)
  assertId(id)
  const rawTimestamp = headerValue(headers, STANDARD_WEBHOOKS_HEADERS.timestamp)
  if (rawTimestamp === undefined) throw new MissingWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.timestamp)
  const timestamp = parseUnixSeconds(rawTimestamp, STANDARD_WEBHOOKS_HEADERS.timestamp)
  const signatureValues = headerValues(headers, STANDARD_WEBHOOKS_HEADERS.signature)
  if (signatureValues.length === 0) throw new MissingWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.signature)
  const candidates = v1Signatures(signatureValues)
  const validUntil = assertFreshTimestamp(timestamp, options)
  const body = payloadBytes(payload)
  let matched = false
  for (const key of keys) {
    const expected = digest(key, id, timestamp, body)
    // Every candidate is compared (no early exit), each in constant time.
    for (const candidate of candidates) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true
    }
  }
  if (!matched) throw new WebhookSignatureError('standard-webhooks')
  return { id, timestamp, validUntil }
}
