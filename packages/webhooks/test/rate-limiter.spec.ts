import { describe, expect, it } from 'vitest'
import { RateLimitedError, tokenBuckets, webhookRateLimiter } from '../src/index.js'

function clock(start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe('tokenBuckets', () => {
  it('allows a burst, then refuses with the wait until the next token', () => {
    const c = clock()
    const buckets = tokenBuckets({ ratePerSecond: 10, burst: 3, now: c.now })
    expect([1, 2, 3].map(() => buckets.take('k'))).toEqual([
      { allowed: true, remaining: 2, retryAfterMs: 0 },
      { allowed: true, remaining: 1, retryAfterMs: 0 },
      { allowed: true, remaining: 0, retryAfterMs: 0 }
    ])
    expect(buckets.take('k')).toEqual({ allowed: false, remaining: 0, retryAfterMs: 100 })
    c.advance(40)
    expect(buckets.take('k')).toEqual({ allowed: false, remaining: 0, retryAfterMs: 60 })
    c.advance(60)
    expect(buckets.take('k').allowed).toBe(true)
    expect(buckets.take('other').allowed).toBe(true)
  })

  it('refills at the rate up to the burst, never beyond', () => {
    const c = clock()
    const buckets = tokenBuckets({ ratePerSecond: 2, burst: 4, now: c.now })
    for (let i = 0; i < 4; i++) buckets.take('k')
    c.advance(60_000)
    expect(buckets.peek('k')).toEqual({ allowed: true, remaining: 3, retryAfterMs: 0 })
    expect(buckets.take('k', 4)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 })
    expect(buckets.take('k', 2)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000 })
  })

  it('keeps memory bounded: idle buckets are dropped for free, busy ones by recency and counted', () => {
    const c = clock()
    const buckets = tokenBuckets({ ratePerSecond: 1, burst: 2, maxBuckets: 100, now: c.now })
    for (let i = 0; i < 10_000; i++) buckets.take(`ip-${i}`)
    expect(buckets.size).toBe(100)
    expect(buckets.evicted).toBe(9_900)
    c.advance(2_000) // every bucket refilled: idle
    for (let i = 0; i < 1_000; i++) buckets.take(`fresh-${i}`)
    expect(buckets.size).toBe(100)
    expect(buckets.evicted).toBe(9_900 + 900)
  })

  it('refuses unusable numbers and a cost above the burst', () => {
    expect(() => tokenBuckets({ ratePerSecond: 0 })).toThrow(expect.objectContaining({ name: 'InvalidWebhookOptionError', option: 'ratePerSecond' }))
    expect(() => tokenBuckets({ burst: 0.5 })).toThrow(expect.objectContaining({ name: 'InvalidWebhookOptionError', option: 'burst' }))
    expect(() => tokenBuckets({ maxBuckets: 0 })).toThrow(expect.objectContaining({ name: 'InvalidWebhookOptionError', option: 'maxBuckets' }))
    expect(() => tokenBuckets({ burst: 2 }).take('k', 3)).toThrow(expect.objectContaining({ name: 'InvalidWebhookOptionError', option: 'cost' }))
  })
})

describe('webhookRateLimiter', () => {
  it('limits each source on its own', () => {
    const c = clock()
    const limiter = webhookRateLimiter({ source: { ratePerSecond: 1, burst: 2 }, tenant: { ratePerSecond: 100, burst: 100 }, now: c.now })
    expect(limiter.take({ source: 'a', tenant: 't' }).allowed).toBe(true)
    expect(limiter.take({ source: 'a', tenant: 't' }).allowed).toBe(true)
    expect(limiter.take({ source: 'a', tenant: 't' })).toEqual({ allowed: false, dimension: 'source', key: 'a', retryAfterMs: 1000, retryAfterSeconds: 1 })
    expect(limiter.take({ source: 'b', tenant: 't' }).allowed).toBe(true)
  })

  it('limits a tenant across its sources', () => {
    const c = clock()
    const limiter = webhookRateLimiter({ source: { ratePerSecond: 100, burst: 100 }, tenant: { ratePerSecond: 0.5, burst: 3 }, now: c.now })
    for (const source of ['a', 'b', 'c']) expect(limiter.take({ source, tenant: 'dao-1' }).allowed).toBe(true)
    expect(limiter.take({ source: 'd', tenant: 'dao-1' })).toEqual({ allowed: false, dimension: 'tenant', key: 'dao-1', retryAfterMs: 2000, retryAfterSeconds: 2 })
    expect(limiter.take({ source: 'd', tenant: 'dao-2' }).allowed).toBe(true)
  })

  it('charges neither dimension when one refuses', () => {
    const c = clock()
    const limiter = webhookRateLimiter({ source: { ratePerSecond: 1, burst: 1 }, tenant: { ratePerSecond: 1, burst: 2 }, now: c.now })
    expect(limiter.take({ source: 'a', tenant: 't' }).allowed).toBe(true)
    // 'a' is empty: the tenant keeps its last token for another source
    for (let i = 0; i < 5; i++) expect(limiter.take({ source: 'a', tenant: 't' }).allowed).toBe(false)
    expect(limiter.take({ source: 'b', tenant: 't' }).allowed).toBe(true)
  })

  it('throws RateLimitedError with Retry-After seconds from consume', () => {
    const c = clock()
    const limiter = webhookRateLimiter({ source: { ratePerSecond: 0.25, burst: 1 }, now: c.now })
    limiter.consume({ source: 'a', tenant: 't' })
    let error: unknown
    try {
      limiter.consume({ source: 'a', tenant: 't' })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(RateLimitedError)
    expect(error).toMatchObject({ name: 'RateLimitedError', dimension: 'source', key: 'a', retryAfterMs: 4000, retryAfterSeconds: 4 })
  })

  it('keeps each dimension within maxBuckets', () => {
    // A stopped clock: on the real one, a slow run lets tenant buckets refill, go idle and be dropped.
    const limiter = webhookRateLimiter({ maxBuckets: 50, now: clock().now })
    for (let i = 0; i < 1_000; i++) limiter.take({ source: `s${i}`, tenant: `t${i % 200}` })
    expect(limiter.size).toEqual({ source: 50, tenant: 50 })
  })

  it('names the dimension of an unusable option', () => {
    expect(() => webhookRateLimiter({ tenant: { burst: 0 } })).toThrow(expect.objectContaining({ name: 'InvalidWebhookOptionError', option: 'tenant.burst' }))
  })
})
