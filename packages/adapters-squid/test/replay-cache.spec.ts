import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { replayCache } from '../src/index.js'
import { thrown } from './fixtures/index.js'

describe('replay cache', () => {
  it('refuses a key it holds until the key expires', () => {
    const cache = replayCache({ capacity: 10 })
    expect(cache.remember('a', 100, 0)).toBe(true)
    expect(cache.remember('a', 100, 50)).toBe(false)
    expect(cache.has('a', 99)).toBe(true)
    expect(cache.remember('a', 200, 100)).toBe(true) // evicted at its expiry, so new again
    expect(cache.size).toBe(1)
  })

  it('evicts expired keys and refuses new ones when full of live keys', () => {
    const cache = replayCache({ capacity: 3 })
    cache.remember('a', 30, 0)
    cache.remember('b', 10, 0)
    cache.remember('c', 20, 0)
    const err = thrown(() => cache.remember('d', 40, 5))
    expect([err.name, (err as unknown as { retryable: boolean }).retryable]).toEqual(['ReplayCacheFullError', true])
    expect(cache.remember('d', 40, 10)).toBe(true) // 'b' expired at 10
    expect(cache.has('b', 10)).toBe(false)
    expect(cache.size).toBe(3)
    expect(cache.remember('e', 50, 30)).toBe(true) // 'c' and 'a' gone
    expect(cache.size).toBe(2)
  })

  it('evicts in expiry order whatever the insertion order (model check)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 100 })), { maxLength: 200 }), (ops) => {
        const cache = replayCache({ capacity: 1_000 })
        const model = new Map<string, number>()
        let now = 0
        for (const [key, ttl] of ops) {
          now += 1
          for (const [k, exp] of model) if (exp <= now) model.delete(k)
          const fresh = !model.has(String(key))
          expect(cache.remember(String(key), now + ttl, now)).toBe(fresh)
          if (fresh) model.set(String(key), now + ttl)
          expect(cache.size).toBe(model.size)
        }
      }),
      { numRuns: 200 }
    )
  })
})
