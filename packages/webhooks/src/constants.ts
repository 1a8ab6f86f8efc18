/** How far a webhook's timestamp may be from the receiver's clock, either way, ms (5 minutes). */
export const DEFAULT_TOLERANCE_MS = 5 * 60 * 1000

/** Prefix of a serialized Standard Webhooks symmetric secret (`whsec_` + base64). */
export const STANDARD_WEBHOOKS_SECRET_PREFIX = 'whsec_'

/** Signature version identifier of Standard Webhooks' symmetric (HMAC-SHA256) signatures. */
export const STANDARD_WEBHOOKS_SIGNATURE_VERSION = 'v1'

/** Bytes of a secret made by `generateStandardWebhooksSecret` (the spec asks for at least 24). */
export const STANDARD_WEBHOOKS_SECRET_BYTES = 32

/** The Standard Webhooks headers, lower-case. */
export const STANDARD_WEBHOOKS_HEADERS = {
  /** Unique message id; the same on every retry of one message. */
  id: 'webhook-id',
  /** Unix time of the attempt, seconds. */
  timestamp: 'webhook-timestamp',
  /** Space-separated `v1,<base64>` signatures. */
  signature: 'webhook-signature'
} as const

/** GitHub's delivery headers, lower-case. */
export const GITHUB_HEADERS = {
  /** `sha256=<hex>` HMAC-SHA256 of the raw body. */
  signature: 'x-hub-signature-256',
  /** GUID of the delivery (kept on redelivery). */
  delivery: 'x-github-delivery',
  /** The event name (`push`, `issues`, …). */
  event: 'x-github-event'
} as const

/** Prefix of GitHub's `X-Hub-Signature-256` value. */
export const GITHUB_SIGNATURE_PREFIX = 'sha256='

/** Longest id a replay cache keeps (longer ids are refused as malformed). */
export const MAX_WEBHOOK_ID_LENGTH = 256

/** Ids a replay cache holds at most; the oldest is forgotten past it. */
export const DEFAULT_REPLAY_CACHE_ENTRIES = 100_000

/** Media type of a CloudEvent in structured mode (JSON event format). */
export const CLOUDEVENTS_JSON_TYPE = 'application/cloudevents+json'

/** Media type of a batch of CloudEvents (not accepted by `parseCloudEvent`). */
export const CLOUDEVENTS_BATCH_TYPE = 'application/cloudevents-batch+json'

/** Prefix of CloudEvents attribute headers in binary mode. */
export const CLOUDEVENTS_HEADER_PREFIX = 'ce-'

/** The CloudEvents spec version accepted. */
export const CLOUDEVENTS_SPEC_VERSION = '1.0'

/** Requests per second a source may make, sustained, by default. */
export const DEFAULT_SOURCE_RATE_PER_SECOND = 50

/** Requests a source may make in one burst, by default. */
export const DEFAULT_SOURCE_BURST = 100

/** Requests per second a tenant may receive, sustained, by default. */
export const DEFAULT_TENANT_RATE_PER_SECOND = 500

/** Requests a tenant may receive in one burst, by default. */
export const DEFAULT_TENANT_BURST = 1_000

/** Buckets kept per dimension at most; idle ones go first, then the least recently used. */
export const DEFAULT_MAX_BUCKETS = 10_000

/** Entries examined for expiry on each call to a cache or limiter (amortized sweeping). */
export const SWEEP_PER_CALL = 2
