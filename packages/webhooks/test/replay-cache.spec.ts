import { describe, expect, it } from 'vitest'
import { replayCache } from '../src/index.js'

function clock(start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe('replayCache', () => {
  it('refuses a second claim of an id until it expires', () => {
    const c = clock()
    const cache = replayCache({ ttlMs: 1000, now: c.now })
    cache.claim('msg_1')
    expect(() => cache.claim('msg_1')).toThrow(expect.objectContaining({ name: 'ReplayedWebhookError', id: 'msg_1' }))
    expect(cache.has('msg_1')).toBe(true)
    c.advance(999)
    expect(() => cache.claim('msg_1')).toThrow(expect.objectContaining({ name: 'ReplayedWebhookError' }))
    c.advance(1)
    expect(cache.has('msg_1')).toBe(false)
    cache.claim('msg_1')
    expect(cache.has('msg_1')).toBe(true)
  })

  it('keeps an id until the given expiry (when its timestamp leaves the window)', () => {
    const c = clock()
    const cache = replayCache({ ttlMs: 1000, now: c.now })
    cache.claim('msg_1', c.now() + 10_000)
    c.advance(5_000)
    expect(() => cache.claim('msg_1')).toThrow(expect.objectContaining({ name: 'ReplayedWebhookError' }))
    c.advance(5_000)
    cache.claim('msg_1')
  })

  it('forgets a released id, so its sender may retry', () => {
    const cache = replayCache()
    cache.claim('msg_1')
    cache.release('msg_1')
    expect(cache.has('msg_1')).toBe(false)
    cache.claim('msg_1')
  })

  it('stays within maxEntries: expired ids are swept first, then the oldest forgotten and counted', () => {
    const c = clock()
    const cache = replayCache({ ttlMs: 100, maxEntries: 3, now: c.now })
    cache.claim('a')
    cache.claim('b')
    c.advance(100)
    cache.claim('c')
    cache.claim('d')
    expect(cache.size).toBeLessThanOrEqual(3)
    expect(cache.evicted).toBe(0)
    cache.claim('e')
    cache.claim('f')
    expect(cache.size).toBe(3)
    expect(cache.evicted).toBe(1)
    expect(cache.has('c')).toBe(false)
    expect(['d', 'e', 'f'].every((id) => cache.has(id))).toBe(true)
  })

  it('sweeps expired ids as claims come in, so a steady stream stays small', () => {
    const c = clock()
    const cache = replayCache({ ttlMs: 10, now: c.now })
    for (let i = 0; i < 10_000; i++) {
      cache.claim(`msg_${i}`)
      c.advance(1)
    }
    expect(cache.size).toBeLessThanOrEqual(12)
    expect(cache.evicted).toBe(0)
  })

  it('refuses unusable options', () => {
    expect(() => replayCache({ ttlMs: 0 })).toThrow(expect.objectContaining({ name: 'InvalidWebhookOptionError', option: 'ttlMs' }))
    expect(() => replayCache({ maxEntries: 0 })).toThrow(expect.objectContaining({ name: 'InvalidWebhookOptionError', option: 'maxEntries' }))
  })
})
