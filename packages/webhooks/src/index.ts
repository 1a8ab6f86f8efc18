/**
 * Receiving webhooks safely, without a web framework: Standard Webhooks (`v1` HMAC, compared in
 * constant time, and `v1a` ed25519 signatures) and GitHub `X-Hub-Signature-256` verification over
 * the raw body, a timestamp window, a bounded replay cache of seen ids, CloudEvents 1.0 in
 * structured and binary mode, and token-bucket rate limits per source and per tenant that say how
 * long to wait.
 *
 * @example
 * ```ts
 * import { replayCache, signStandardWebhook, verifyStandardWebhook } from '@qflow/webhooks'
 *
 * const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
 * const body = '{"type":"invoice.paid"}'
 * const timestamp = Math.floor(Date.now() / 1000)
 * const headers = {
 *   'webhook-id': 'msg_1',
 *   'webhook-timestamp': String(timestamp),
 *   'webhook-signature': signStandardWebhook(secret, { id: 'msg_1', timestamp, payload: body })
 * }
 * const seen = replayCache()
 * const message = verifyStandardWebhook(secret, headers, body)
 * seen.claim(message.id, message.validUntil) // a second claim throws ReplayedWebhookError
 * console.log(message.id) // msg_1
 * ```
 *
 * @packageDocumentation
 */
export { type CloudEvent, type CloudEventExtensionValue, type CloudEventMode, cloudEventMode, parseCloudEvent, validateCloudEvent } from './cloudevents.js'
export {
  CLOUDEVENTS_BATCH_TYPE,
  CLOUDEVENTS_JSON_TYPE,
  DEFAULT_MAX_BUCKETS,
  DEFAULT_REPLAY_CACHE_ENTRIES,
  DEFAULT_SOURCE_BURST,
  DEFAULT_SOURCE_RATE_PER_SECOND,
  DEFAULT_TENANT_BURST,
  DEFAULT_TENANT_RATE_PER_SECOND,
  DEFAULT_TOLERANCE_MS,
  GITHUB_HEADERS,
  MAX_STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURES,
  STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION,
  STANDARD_WEBHOOKS_HEADERS,
  STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX,
  STANDARD_WEBHOOKS_SECRET_KEY_PREFIX,
  STANDARD_WEBHOOKS_SECRET_PREFIX,
  STANDARD_WEBHOOKS_SIGNATURE_VERSION
} from './constants.js'
export {
  InvalidCloudEventError,
  InvalidWebhookOptionError,
  InvalidWebhookSecretError,
  type InvalidWebhookSecretReason,
  MalformedWebhookHeaderError,
  MissingWebhookHeaderError,
  RateLimitedError,
  ReplayedWebhookError,
  StaleWebhookTimestampError,
  WebhookSignatureError
} from './errors.js'
export { type GitHubDelivery, type GitHubWebhookSecret, signGitHubWebhook, verifyGitHubWebhook } from './github.js'
export { headerValue, headerValues, isJsonMediaType, mediaType, type WebhookHeaders, type WebhookPayload } from './headers.js'
export {
  type RateDecision,
  type TokenBucketLimit,
  type TokenBuckets,
  type TokenBucketsInit,
  tokenBuckets,
  type WebhookRateDecision,
  type WebhookRateKeys,
  type WebhookRateLimiter,
  type WebhookRateLimiterInit,
  webhookRateLimiter
} from './rate-limiter.js'
export { type ReplayCache, type ReplayCacheInit, replayCache } from './replay-cache.js'
export {
  generateStandardWebhooksSecret,
  parseStandardWebhooksSecret,
  type StandardWebhookMessage,
  type StandardWebhooksSecret,
  type StandardWebhookToSign,
  signStandardWebhook,
  type VerifyStandardWebhookOptions,
  verifyStandardWebhook
} from './standard-webhooks.js'
export {
  generateStandardWebhooksKeyPair,
  parseStandardWebhooksPublicKey,
  parseStandardWebhooksSecretKey,
  type StandardWebhooksKeyPair,
  type StandardWebhooksPublicKey,
  type StandardWebhooksSecretKey,
  signStandardWebhookAsymmetric,
  standardWebhooksPublicKeyOf,
  standardWebhooksSigningKey,
  verifyStandardWebhookAsymmetric
} from './standard-webhooks-asymmetric.js'
export { assertFreshTimestamp, parseUnixSeconds, type TimestampWindowOptions } from './timestamp.js'
