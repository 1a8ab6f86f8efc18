/**
 * What is wrong with a key or secret (`InvalidWebhookSecretError.reason`):
 * - `wrong-type`: neither a string nor bytes;
 * - `empty`: no key, or no bytes after the prefix;
 * - `wrong-prefix`: a string without the prefix its kind needs, or a key of another kind (a
 *   `whpk_` public key or `whsk_` secret key where a `whsec_` secret is expected, and so on);
 * - `not-base64`: the text after the prefix is not base64;
 * - `wrong-length`: the key has the wrong number of bytes (an ed25519 key has 32);
 * - `weak-key`: an ed25519 public key that is not a usable point (of small order, or encoded non-canonically),
 *   under which signatures could be forged without the secret key;
 * - `unusable`: any other reason.
 */
export type InvalidWebhookSecretReason = 'wrong-type' | 'empty' | 'wrong-prefix' | 'not-base64' | 'wrong-length' | 'weak-key' | 'unusable'

/**
 * Thrown when a webhook signing secret or key cannot be used (empty, not base64, wrong prefix,
 * wrong length, a weak ed25519 public key); `reason` says which.
 */
export class InvalidWebhookSecretError extends Error {
  static override readonly name = 'InvalidWebhookSecretError'
  override readonly name = 'InvalidWebhookSecretError'
  /** What is wrong with it. */
  readonly reason: InvalidWebhookSecretReason

  constructor(message = 'The webhook secret cannot be used', reason: InvalidWebhookSecretReason = 'unusable') {
    super(message)
    this.reason = reason
  }
}

/** Thrown when a request lacks a header its scheme needs (`header` names it, lower-case). */
export class MissingWebhookHeaderError extends Error {
  static override readonly name = 'MissingWebhookHeaderError'
  override readonly name = 'MissingWebhookHeaderError'
  /** The header, lower-case. */
  readonly header: string

  constructor(header: string, message = `The request has no ${header} header`) {
    super(message)
    this.header = header
  }
}

/**
 * Thrown when a header its scheme needs is present but unusable: a timestamp that is not an
 * integer, a signature without a known version, an id with forbidden characters, a header given
 * twice.
 */
export class MalformedWebhookHeaderError extends Error {
  static override readonly name = 'MalformedWebhookHeaderError'
  override readonly name = 'MalformedWebhookHeaderError'
  /** The header, lower-case. */
  readonly header: string
  /** What is wrong with it. */
  readonly reason: string

  constructor(header: string, reason: string) {
    super(`The ${header} header is malformed: ${reason}`)
    this.header = header
    this.reason = reason
  }
}

/**
 * Thrown when no signature of a request matches its body under the secret or key (forged or
 * altered, or signed only in a version the key does not verify).
 */
export class WebhookSignatureError extends Error {
  static override readonly name = 'WebhookSignatureError'
  override readonly name = 'WebhookSignatureError'
  /** The scheme whose signature failed (`standard-webhooks`, `github`). */
  readonly scheme: string
  /** The signature version the key verifies (`v1` or `v1a` for Standard Webhooks), when the scheme has versions. */
  readonly version: string | undefined

  constructor(scheme: string, message = `No ${scheme} signature of the request matches its body`, version?: string) {
    super(message)
    this.scheme = scheme
    this.version = version
  }
}

/** Thrown when a webhook's timestamp is outside the accepted window (too old, or in the future). */
export class StaleWebhookTimestampError extends Error {
  static override readonly name = 'StaleWebhookTimestampError'
  override readonly name = 'StaleWebhookTimestampError'
  /** The request's timestamp, unix seconds. */
  readonly timestamp: number
  /** The receiver's clock when it checked, ms since the epoch. */
  readonly now: number
  /** The accepted distance either way, ms. */
  readonly toleranceMs: number

  constructor(timestamp: number, now: number, toleranceMs: number) {
    const skew = Math.round(now / 1000 - timestamp)
    super(`The webhook timestamp ${timestamp} is ${Math.abs(skew)} s ${skew >= 0 ? 'old' : 'in the future'}, outside the ${toleranceMs / 1000} s window`)
    this.timestamp = timestamp
    this.now = now
    this.toleranceMs = toleranceMs
  }
}

/** Thrown when a webhook id was already received within its replay window. */
export class ReplayedWebhookError extends Error {
  static override readonly name = 'ReplayedWebhookError'
  override readonly name = 'ReplayedWebhookError'
  /** The id seen twice. */
  readonly id: string

  constructor(id: string, message = `The webhook ${id} was already received`) {
    super(message)
    this.id = id
  }
}

/**
 * Thrown when a request is not a valid CloudEvent 1.0: a required attribute missing or of the
 * wrong type, an unsupported `specversion`, a body that is not the JSON event format, or a batch.
 */
export class InvalidCloudEventError extends Error {
  static override readonly name = 'InvalidCloudEventError'
  override readonly name = 'InvalidCloudEventError'
  /** The attribute at fault, when one is. */
  readonly attribute: string | undefined
  /** What is wrong. */
  readonly reason: string

  constructor(reason: string, attribute?: string) {
    super(attribute === undefined ? `Invalid CloudEvent: ${reason}` : `Invalid CloudEvent attribute ${attribute}: ${reason}`)
    this.attribute = attribute
    this.reason = reason
  }
}

/** Thrown when a rate limit refuses a request; `retryAfterMs` says when it would be allowed. */
export class RateLimitedError extends Error {
  static override readonly name = 'RateLimitedError'
  override readonly name = 'RateLimitedError'
  /** The dimension that refused (`source`, `tenant`, …). */
  readonly dimension: string
  /** The key whose bucket is empty. */
  readonly key: string
  /** How long until the request would be allowed, ms. */
  readonly retryAfterMs: number
  /** The same, in whole seconds rounded up (a `Retry-After` header value). */
  readonly retryAfterSeconds: number

  constructor(dimension: string, key: string, retryAfterMs: number) {
    super(`Rate limit of ${dimension} ${key} reached: retry in ${Math.ceil(retryAfterMs)} ms`)
    this.dimension = dimension
    this.key = key
    this.retryAfterMs = retryAfterMs
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000))
  }
}

/**
 * Thrown when an option has an unusable value (a negative tolerance, a zero rate, a cache of no
 * entries), or a rate limiter is asked for more tokens than its burst holds.
 */
export class InvalidWebhookOptionError extends Error {
  static override readonly name = 'InvalidWebhookOptionError'
  override readonly name = 'InvalidWebhookOptionError'
  /** The option at fault. */
  readonly option: string

  constructor(option: string, message: string) {
    super(message)
    this.option = option
  }
}
