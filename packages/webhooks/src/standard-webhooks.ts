import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  MAX_WEBHOOK_ID_LENGTH,
  STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION,
  STANDARD_WEBHOOKS_HEADERS,
  STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX,
  STANDARD_WEBHOOKS_SECRET_BYTES,
  STANDARD_WEBHOOKS_SECRET_KEY_PREFIX,
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

/** Standard base64 (padding optional); the length is checked apart (`length % 4 !== 1`). */
export const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const encoder = new TextEncoder()
const KNOWN_VERSIONS = [STANDARD_WEBHOOKS_SIGNATURE_VERSION, STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION] as const

/**
 * The key bytes of a Standard Webhooks secret (`whsec_` prefix optional, base64).
 *
 * @throws {@link InvalidWebhookSecretError} when it is empty, not base64, or a `whpk_`/`whsk_`
 *   ed25519 key (never an HMAC key: a public key is public), with its `reason`.
 */
export function parseStandardWebhooksSecret(secret: StandardWebhooksSecret): Uint8Array {
  if (secret instanceof Uint8Array) {
    if (secret.length === 0) throw new InvalidWebhookSecretError('The Standard Webhooks secret is empty', 'empty')
    return secret
  }
  if (typeof secret !== 'string') throw new InvalidWebhookSecretError('The Standard Webhooks secret must be a string or bytes', 'wrong-type')
  if (secret.startsWith(STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX)) {
    throw new InvalidWebhookSecretError('This is a Standard Webhooks whpk_ public key: it verifies v1a (ed25519) signatures, not v1 (HMAC) ones', 'wrong-prefix')
  }
  if (secret.startsWith(STANDARD_WEBHOOKS_SECRET_KEY_PREFIX)) {
    throw new InvalidWebhookSecretError("This is a Standard Webhooks whsk_ secret key: it signs v1a (ed25519) signatures, and the receiver needs only its whpk_ public key", 'wrong-prefix')
  }
  const encoded = secret.startsWith(STANDARD_WEBHOOKS_SECRET_PREFIX) ? secret.slice(STANDARD_WEBHOOKS_SECRET_PREFIX.length) : secret
  if (encoded.length === 0) throw new InvalidWebhookSecretError('The Standard Webhooks secret is empty', 'empty')
  if (!BASE64.test(encoded) || encoded.length % 4 === 1) throw new InvalidWebhookSecretError('The Standard Webhooks secret is not base64 (after the whsec_ prefix)', 'not-base64')
  const key = Buffer.from(encoded, 'base64')
  if (key.length === 0) throw new InvalidWebhookSecretError('The Standard Webhooks secret decodes to no bytes', 'empty')
  return new Uint8Array(key.buffer, key.byteOffset, key.length)
}

/** A new random secret, serialized as Standard Webhooks asks (`whsec_` + base64 of 32 bytes). */
export function generateStandardWebhooksSecret(bytes: number = STANDARD_WEBHOOKS_SECRET_BYTES): string {
  if (!Number.isInteger(bytes) || bytes < 24 || bytes > 64) throw new InvalidWebhookSecretError(`A Standard Webhooks secret has 24 to 64 bytes, not ${bytes}`, 'wrong-length')
  return STANDARD_WEBHOOKS_SECRET_PREFIX + randomBytes(bytes).toString('base64')
}

/**
 * Checks a message id as both versions sign it.
 *
 * @throws {@link MalformedWebhookHeaderError} for an empty or long id, or one with a `.` or a character outside printable ASCII.
 */
export function assertId(id: string): void {
  if (id.length === 0 || id.length > MAX_WEBHOOK_ID_LENGTH) throw new MalformedWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.id, `must have 1 to ${MAX_WEBHOOK_ID_LENGTH} characters`)
  // The id is part of the signed content `{id}.{timestamp}.{body}`: a `.` in it would make two
  // different (id, timestamp, body) triples sign the same bytes.
  if (!/^[\x21-\x7e]+$/.test(id) || id.includes('.')) throw new MalformedWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.id, 'must be printable ASCII without spaces or "."')
}

/**
 * Checks the id and timestamp of a message to sign.
 *
 * @throws {@link MalformedWebhookHeaderError} for an id with `.` or a timestamp that is not a non-negative integer.
 */
export function assertSignable(message: StandardWebhookToSign): void {
  assertId(message.id)
  if (!Number.isInteger(message.timestamp) || message.timestamp < 0) throw new MalformedWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.timestamp, 'must be a non-negative integer of seconds')
}

/** The first part of the signed content, `{id}.{timestamp}.` (the body follows). */
export function signedPrefix(id: string, timestamp: number): Uint8Array {
  return encoder.encode(`${id}.${timestamp}.`)
}

function digest(key: Uint8Array, id: string, timestamp: number, payload: Uint8Array): Buffer {
  return createHmac('sha256', key).update(signedPrefix(id, timestamp)).update(payload).digest()
}

/**
 * Signs a message as a Standard Webhooks sender does: HMAC-SHA256 of `{id}.{timestamp}.{body}`
 * under the secret, serialized `v1,<base64>` (the value of `webhook-signature`).
 *
 * @throws {@link InvalidWebhookSecretError} for an unusable secret; {@link MalformedWebhookHeaderError} for an id with `.`.
 */
export function signStandardWebhook(secret: StandardWebhooksSecret, message: StandardWebhookToSign): string {
  assertSignable(message)
  const key = parseStandardWebhooksSecret(secret)
  return `${STANDARD_WEBHOOKS_SIGNATURE_VERSION},${digest(key, message.id, message.timestamp, payloadBytes(message.payload)).toString('base64')}`
}

/** The headers of a Standard Webhooks request, checked, with the signatures of one version. */
export interface StandardWebhookHeaders extends StandardWebhookMessage {
  /** The decoded signatures of the version asked for (values that are not base64 are skipped). */
  readonly signatures: readonly Buffer[]
  /** Every version the `webhook-signature` header offers. */
  readonly offered: ReadonlySet<string>
}

/**
 * Reads and checks the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, in that
 * order, then the timestamp's window; keeps the signatures of `version` (other versions are skipped).
 *
 * @throws {@link MissingWebhookHeaderError}, {@link MalformedWebhookHeaderError}, {@link StaleWebhookTimestampError}.
 */
export function readStandardWebhookHeaders(headers: WebhookHeaders, version: string, options: TimestampWindowOptions): StandardWebhookHeaders {
  const id = headerValue(headers, STANDARD_WEBHOOKS_HEADERS.id)
  if (id === undefined) throw new MissingWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.id)
  assertId(id)
  const rawTimestamp = headerValue(headers, STANDARD_WEBHOOKS_HEADERS.timestamp)
  if (rawTimestamp === undefined) throw new MissingWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.timestamp)
  const timestamp = parseUnixSeconds(rawTimestamp, STANDARD_WEBHOOKS_HEADERS.timestamp)
  const signatureValues = headerValues(headers, STANDARD_WEBHOOKS_HEADERS.signature)
  if (signatureValues.length === 0) throw new MissingWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.signature)
  const signatures: Buffer[] = []
  const offered = new Set<string>()
  for (const value of signatureValues) {
    for (const part of value.split(' ')) {
      if (part === '') continue
      const comma = part.indexOf(',')
      if (comma <= 0) throw new MalformedWebhookHeaderError(STANDARD_WEBHOOKS_HEADERS.signature, 'each signature is "<version>,<base64>"')
      const partVersion = part.slice(0, comma)
      offered.add(partVersion)
      if (partVersion !== version) continue
      const encoded = part.slice(comma + 1)
      if (BASE64.test(encoded)) signatures.push(Buffer.from(encoded, 'base64'))
    }
  }
  const validUntil = assertFreshTimestamp(timestamp, options)
  return { id, timestamp, validUntil, signatures, offered }
}

/**
 * The error for a request none of whose signatures verifies: it says so plainly when the request
 * offers no signature of the version the key verifies (a `v1` HMAC sent to a `whpk_` key, say).
 */
export function signatureMismatch(version: string, offered: ReadonlySet<string>): WebhookSignatureError {
  if (offered.has(version)) return new WebhookSignatureError('standard-webhooks', undefined, version)
  // Only the versions the spec defines are named back (the header is the sender's text).
  const known = KNOWN_VERSIONS.filter((v) => offered.has(v))
  const carries = known.length === 0 ? '' : ` (it carries ${known.join(' and ')})`
  return new WebhookSignatureError('standard-webhooks', `The request has no standard-webhooks ${version} signature, the only version its key verifies${carries}`, version)
}

/**
 * Verifies a Standard Webhooks request: the `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` headers over the raw body. The timestamp must be within the window
 * (default ±5 minutes); any one of the space-separated `v1` signatures must match under any one of
 * the secrets (several during a rotation), compared in constant time. Asymmetric (`v1a`)
 * signatures are skipped: {@link verifyStandardWebhookAsymmetric} verifies those.
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
  if (keys.length === 0) throw new InvalidWebhookSecretError('No Standard Webhooks secret to verify with', 'empty')
  const { id, timestamp, validUntil, signatures, offered } = readStandardWebhookHeaders(headers, STANDARD_WEBHOOKS_SIGNATURE_VERSION, options)
  const body = payloadBytes(payload)
  let matched = false
  for (const key of keys) {
    const expected = digest(key, id, timestamp, body)
    // Every candidate is compared (no early exit), each in constant time.
    for (const candidate of signatures) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true
    }
  }
  if (!matched) throw signatureMismatch(STANDARD_WEBHOOKS_SIGNATURE_VERSION, offered)
  return { id, timestamp, validUntil }
}
