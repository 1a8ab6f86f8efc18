import {
  DEFAULT_MAX_BUCKETS,
  DEFAULT_SOURCE_BURST,
  DEFAULT_SOURCE_RATE_PER_SECOND,
  DEFAULT_TENANT_BURST,
  DEFAULT_TENANT_RATE_PER_SECOND,
  SWEEP_PER_CALL
} from './constants.js'
import { InvalidWebhookOptionError, RateLimitedError } from './errors.js'

/** A token bucket's shape: it refills at `ratePerSecond` up to `burst` tokens. */
export interface TokenBucketLimit {
  /** Tokens added per second (the sustained rate). */
  ratePerSecond?: number
  /** Tokens the bucket holds at most (the largest burst); a new bucket starts full. */
  burst?: number
}

/** Options of {@link tokenBuckets}; all optional. */
export interface TokenBucketsInit extends TokenBucketLimit {
  /** Buckets kept at most; idle (full) ones are dropped first, then the least recently used. Default 10,000. */
  maxBuckets?: number
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** The answer of a bucket. */
export interface RateDecision {
  /** Whether the tokens were taken. */
  readonly allowed: boolean
  /** Whole tokens left after the call. */
  readonly remaining: number
  /** 0 when allowed; otherwise how long until the tokens would be there, ms. */
  readonly retryAfterMs: number
}

/** Token buckets keyed by a string (one per source, tenant, client, …), in bounded memory. */
export interface TokenBuckets {
  /** Takes `cost` tokens (default 1) from `key`'s bucket, or says how long to wait. */
  take(key: string, cost?: number): RateDecision
  /** Says whether `take` would succeed, without taking anything. */
  peek(key: string, cost?: number): RateDecision
  /** Buckets held. */
  readonly size: number
  /** Buckets that were not idle when dropped for room (their keys restarted with a full bucket). */
  readonly evicted: number
  /** Drops every bucket. */
  clear(): void
}

interface Bucket {
  tokens: number
  at: number
}

function checkedLimit(limit: TokenBucketLimit, defaults: Required<TokenBucketLimit>, where: string): Required<TokenBucketLimit> {
  const ratePerSecond = limit.ratePerSecond ?? defaults.ratePerSecond
  const burst = limit.burst ?? defaults.burst
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) throw new InvalidWebhookOptionError(`${where}ratePerSecond`, `ratePerSecond must be a positive number, not ${ratePerSecond}`)
  if (!Number.isFinite(burst) || burst < 1) throw new InvalidWebhookOptionError(`${where}burst`, `burst must be a number of at least 1, not ${burst}`)
  return { ratePerSecond, burst }
}

class BoundedTokenBuckets implements TokenBuckets {
  // Map order is recency: a touched bucket is re-inserted at the end, so the front is the least recently used.
  private readonly buckets = new Map<string, Bucket>()
  private readonly perMs: number
  private readonly burst: number
  private readonly max: number
  private readonly now: () => number
  evicted = 0

  constructor(init: TokenBucketsInit, defaults: Required<TokenBucketLimit>, where = '') {
    const limit = checkedLimit(init, defaults, where)
    this.perMs = limit.ratePerSecond / 1000
    this.burst = limit.burst
    this.max = init.maxBuckets ?? DEFAULT_MAX_BUCKETS
    this.now = init.now ?? Date.now
    if (!Number.isInteger(this.max) || this.max < 1) throw new InvalidWebhookOptionError('maxBuckets', `maxBuckets must be a positive integer, not ${this.max}`)
  }

  get size(): number {
    return this.buckets.size
  }

  private level(bucket: Bucket, now: number): number {
    return Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.perMs)
  }

  private makeRoom(now: number): void {
    let budget = SWEEP_PER_CALL
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size < this.max && budget-- <= 0) return
      if (this.level(bucket, now) >= this.burst) {
        // Idle: a full bucket is the same as no bucket, so dropping it loses nothing.
        this.buckets.delete(key)
      } else if (this.buckets.size >= this.max) {
        this.buckets.delete(key)
        this.evicted++
      } else return
    }
  }

  /** Refilled tokens of `key` now, the bucket made (full) and put at the back when new. */
  refill(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      this.makeRoom(now)
      bucket = { tokens: this.burst, at: now }
    } else {
      this.buckets.delete(key)
      bucket.tokens = this.level(bucket, now)
      bucket.at = now
    }
    this.buckets.set(key, bucket)
    return bucket
  }

  assertCost(cost: number): void {
    if (!Number.isFinite(cost) || cost <= 0 || cost > this.burst) throw new InvalidWebhookOptionError('cost', `cost must be more than 0 and at most the burst (${this.burst}), not ${cost}`)
  }

  decide(bucket: Bucket, cost: number): RateDecision {
    if (bucket.tokens >= cost) return { allowed: true, remaining: Math.floor(bucket.tokens - cost), retryAfterMs: 0 }
    return { allowed: false, remaining: Math.floor(bucket.tokens), retryAfterMs: Math.ceil((cost - bucket.tokens) / this.perMs) }
  }

  take(key: string, cost = 1): RateDecision {
    this.assertCost(cost)
    const bucket = this.refill(key, this.now())
    const decision = this.decide(bucket, cost)
    if (decision.allowed) bucket.tokens -= cost
    return decision
  }

  peek(key: string, cost = 1): RateDecision {
    this.assertCost(cost)
    return this.decide(this.refill(key, this.now()), cost)
  }

  clear(): void {
    this.buckets.clear()
  }
}

const DEFAULT_LIMIT: Required<TokenBucketLimit> = { ratePerSecond: DEFAULT_SOURCE_RATE_PER_SECOND, burst: DEFAULT_SOURCE_BURST }

/**
 * Token buckets keyed by a string: each key may take `burst` tokens at once and `ratePerSecond`
 * sustained; a refused take says how long to wait (for `Retry-After`). Memory stays bounded:
 * idle buckets (refilled to full, so equal to a fresh one) are dropped as calls come in, and past
 * `maxBuckets` the least recently used bucket goes.
 *
 * @throws {@link InvalidWebhookOptionError} for an unusable option.
 */
export function tokenBuckets(init: TokenBucketsInit = {}): TokenBuckets {
  return new BoundedTokenBuckets(init, DEFAULT_LIMIT)
}

/** Options of {@link webhookRateLimiter}; all optional. */
export interface WebhookRateLimiterInit {
  /** Limit of each source (a sender: a webhook endpoint, an identity). Default 50/s, bursts of 100. */
  source?: TokenBucketLimit
  /** Limit of each tenant (all sources of one DAO subnet together). Default 500/s, bursts of 1,000. */
  tenant?: TokenBucketLimit
  /** Buckets kept per dimension at most. Default 10,000. */
  maxBuckets?: number
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** Who a webhook request counts against. */
export interface WebhookRateKeys {
  /** The sender. */
  readonly source: string
  /** The tenant it is for. */
  readonly tenant: string
}

/** The answer of {@link WebhookRateLimiter.take}. */
export type WebhookRateDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false
      /** The dimension that refused (the one with the longer wait when both do). */
      readonly dimension: 'source' | 'tenant'
      /** Its key. */
      readonly key: string
      /** How long until the request would be allowed, ms. */
      readonly retryAfterMs: number
      /** The same in whole seconds, rounded up (for `Retry-After`). */
      readonly retryAfterSeconds: number
    }

/** Rate limits per source and per tenant, taken together. */
export interface WebhookRateLimiter {
  /**
   * Takes a token from the source's bucket and from the tenant's, or from neither: a request
   * refused by one dimension costs the other nothing.
   */
  take(keys: WebhookRateKeys, cost?: number): WebhookRateDecision
  /**
   * Like `take`, throwing when refused.
   *
   * @throws {@link RateLimitedError} with `retryAfterMs` and `retryAfterSeconds`.
   */
  consume(keys: WebhookRateKeys, cost?: number): void
  /** Buckets held per dimension. */
  readonly size: { readonly source: number; readonly tenant: number }
}

class TwoDimensionLimiter implements WebhookRateLimiter {
  private readonly source: BoundedTokenBuckets
  private readonly tenant: BoundedTokenBuckets
  private readonly now: () => number

  constructor(init: WebhookRateLimiterInit) {
    this.now = init.now ?? Date.now
    const shared = { ...(init.maxBuckets === undefined ? {} : { maxBuckets: init.maxBuckets }), now: this.now }
    this.source = new BoundedTokenBuckets({ ...init.source, ...shared }, DEFAULT_LIMIT, 'source.')
    this.tenant = new BoundedTokenBuckets({ ...init.tenant, ...shared }, { ratePerSecond: DEFAULT_TENANT_RATE_PER_SECOND, burst: DEFAULT_TENANT_BURST }, 'tenant.')
  }

  get size(): { source: number; tenant: number } {
    return { source: this.source.size, tenant: this.tenant.size }
  }

  take(keys: WebhookRateKeys, cost = 1): WebhookRateDecision {
    this.source.assertCost(cost)
    this.tenant.assertCost(cost)
    const now = this.now()
    const source = this.source.refill(keys.source, now)
    const tenant = this.tenant.refill(keys.tenant, now)
    const bySource = this.source.decide(source, cost)
    const byTenant = this.tenant.decide(tenant, cost)
    if (bySource.allowed && byTenant.allowed) {
      source.tokens -= cost
      tenant.tokens -= cost
      return { allowed: true }
    }
    const dimension = bySource.retryAfterMs >= byTenant.retryAfterMs ? 'source' : 'tenant'
    const retryAfterMs = Math.max(bySource.retryAfterMs, byTenant.retryAfterMs)
    return { allowed: false, dimension, key: keys[dimension], retryAfterMs, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) }
  }

  consume(keys: WebhookRateKeys, cost = 1): void {
    const decision = this.take(keys, cost)
    if (!decision.allowed) throw new RateLimitedError(decision.dimension, decision.key, decision.retryAfterMs)
  }
}

/**
 * A rate limiter for incoming webhooks: a token bucket per source and one per tenant, both of
 * which must have a token for a request to pass. Bounded memory as {@link tokenBuckets}.
 *
 * @throws {@link InvalidWebhookOptionError} for an unusable option.
 */
export function webhookRateLimiter(init: WebhookRateLimiterInit = {}): WebhookRateLimiter {
  return new TwoDimensionLimiter(init)
}
