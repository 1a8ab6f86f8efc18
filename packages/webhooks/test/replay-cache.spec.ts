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

  it('keeps ids built from pieces of other strings as they are, any UTF-16 included (its key is a copy of them)', () => {
    const cache = replayCache({ now: () => 1_000 })
    const url = '/webhooks/orders-flow/stripe?x=1'
    const ids = [
      `${url.slice(10, 21)}\n${url.slice(22, 28)}\nid:${'msg_'.concat('2KWPBgLlAfxdpx2AI54pPJ85f1W')}`,
      `ce:urn:source\n${'évt'.concat('-ü')}`,
      `emoji \u{1F600} and a lone \uD800 surrogate`
    ]
    for (const id of ids) cache.claim(id)
    for (const id of ids) {
      // Looked up by an equal string made anew, and by the very one claimed.
      expect(cache.has(id.split('').join(''))).toBe(true)
      expect(() => cache.claim(id)).toThrow(expect.objectContaining({ name: 'ReplayedWebhookError' }))
    }
    expect(cache.has(`emoji \u{1F600} and a lone \uD801 surrogate`)).toBe(false)
    cache.release(ids[2] as string)
    expect(cache.has(ids[2] as string)).toBe(false)
    expect(cache.size).toBe(2)
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
