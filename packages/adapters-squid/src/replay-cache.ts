import { DEFAULT_REPLAY_CACHE_SIZE } from './constants.js'
import { ReplayCacheFullError } from './errors.js'

/**
 * Remembers single-use token nonces until their tokens expire, to refuse a second use. Bounded:
 * expired entries are evicted as time passes, and a full cache of live entries refuses new ones.
 */
export interface ReplayCache {
  /**
   * Records `key` until `expiresAt` (ms since the epoch, judged against `now`).
   *
   * @returns false when `key` is already recorded and not yet expired (a replay), true when newly recorded.
   * @throws {@link ReplayCacheFullError} when `capacity` unexpired keys are already held.
   */
  remember(key: string, expiresAt: number, now: number): boolean
  /** Whether `key` is recorded and unexpired at `now`. */
  has(key: string, now: number): boolean
  /** How many keys are held (expired ones are dropped lazily). */
  readonly size: number
  /** The most keys held at once. */
  readonly capacity: number
}

/** Options of {@link replayCache}. */
export interface ReplayCacheInit {
  /** The most keys held at once. Default 100,000. */
  capacity?: number
}

/** Nonces in a map for lookup, and in a binary min-heap by expiry for eviction. */
class HeapReplayCache implements ReplayCache {
  readonly capacity: number
  private readonly expiries = new Map<string, number>()
  private readonly heapTimes: number[] = []
  private readonly heapKeys: string[] = []

  constructor(init: ReplayCacheInit) {
    this.capacity = init.capacity ?? DEFAULT_REPLAY_CACHE_SIZE
  }

  get size(): number {
    return this.expiries.size
  }

  has(key: string, now: number): boolean {
    const expiresAt = this.expiries.get(key)
    return expiresAt !== undefined && expiresAt > now
  }

  remember(key: string, expiresAt: number, now: number): boolean {
    this.evict(now)
    if (this.expiries.has(key)) return false
    if (this.expiries.size >= this.capacity) throw new ReplayCacheFullError(this.capacity)
    this.expiries.set(key, expiresAt)
    this.push(expiresAt, key)
    return true
  }

  private evict(now: number): void {
    const times = this.heapTimes
    while (times.length > 0 && (times[0] as number) <= now) {
      const key = this.pop()
      this.expiries.delete(key)
    }
  }

  private push(time: number, key: string): void {
    const times = this.heapTimes
    const keys = this.heapKeys
    let i = times.length
    times.push(time)
    keys.push(key)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((times[parent] as number) <= time) break
      times[i] = times[parent] as number
      keys[i] = keys[parent] as string
      i = parent
    }
    times[i] = time
    keys[i] = key
  }

  private pop(): string {
    const times = this.heapTimes
    const keys = this.heapKeys
    const top = keys[0] as string
    const lastTime = times.pop() as number
    const lastKey = keys.pop() as string
    const n = times.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        if (left >= n) break
        const right = left + 1
        const child = right < n && (times[right] as number) < (times[left] as number) ? right : left
        if ((times[child] as number) >= lastTime) break
        times[i] = times[child] as number
        keys[i] = keys[child] as string
        i = child
      }
      times[i] = lastTime
      keys[i] = lastKey
    }
    return top
  }
}

/** A bounded in-memory {@link ReplayCache}. Share one between verifiers that must not accept the same token twice. */
export function replayCache(init: ReplayCacheInit = {}): ReplayCache {
  return new HeapReplayCache(init)
}
