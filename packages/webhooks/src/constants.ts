/** How far a webhook's timestamp may be from the receiver's clock, either way, ms (5 minutes). */
export const DEFAULT_TOLERANCE_MS = 5 * 60 * 1000

/** Prefix of a serialized Standard Webhooks symmetric secret (`whsec_` + base64). */
export const STANDARD_WEBHOOKS_SECRET_PREFIX = 'whsec_'

/** Signature version identifier of Standard Webhooks' symmetric (HMAC-SHA256) signatures. */
export const STANDARD_WEBHOOKS_SIGNATURE_VERSION = 'v1'

/** Bytes of a secret made by `generateStandardWebhooksSecret` (the spec asks for at least 24). */
export const STANDARD_WEBHOOKS_SECRET_BYTES = 32

/** Prefix of a serialized Standard Webhooks public key (`whpk_` + base64 of the raw 32-byte ed25519 key). */
export const STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX = 'whpk_'

/** Prefix of a serialized Standard Webhooks secret key (`whsk_` + base64 of the 32-byte ed25519 seed). */
export const STANDARD_WEBHOOKS_SECRET_KEY_PREFIX = 'whsk_'

/** Signature version identifier of Standard Webhooks' asymmetric (ed25519) signatures. */
export const STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURE_VERSION = 'v1a'

/** Bytes of an ed25519 public key, and of the seed its secret key is made from (RFC 8032). */
export const ED25519_KEY_BYTES = 32

/** Bytes of an ed25519 signature (RFC 8032). */
export const ED25519_SIGNATURE_BYTES = 64

/**
 * `v1a` signatures one request may carry (more is a malformed `webhook-signature`): each costs an
 * ed25519 verification (~60 µs), and a rotation needs two or three.
 */
export const MAX_STANDARD_WEBHOOKS_ASYMMETRIC_SIGNATURES = 16

/** The Standard Webhooks headers, lower-case. */
export const STANDARD_WEBHOOKS_HEADERS = {
  /** Unique message id; the same on every retry of one message. */
  id: 'webhook-id',
  /** Unix time of the attempt, seconds. */
  timestamp: 'webhook-timestamp',
  /** Space-separated `<version>,<base64>` signatures (`v1` HMAC, `v1a` ed25519). */
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
