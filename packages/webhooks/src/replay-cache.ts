import { DEFAULT_REPLAY_CACHE_ENTRIES, DEFAULT_TOLERANCE_MS, SWEEP_PER_CALL } from './constants.js'
import { InvalidWebhookOptionError, ReplayedWebhookError } from './errors.js'

/** Options of {@link replayCache}; all optional. */
export interface ReplayCacheInit {
  /** How long an id is remembered when `claim` is given no expiry, ms. Default 5 minutes (the timestamp window). */
  ttlMs?: number
  /** Ids held at most; past it the oldest is forgotten (and counted in `evicted`). Default 100,000. */
  maxEntries?: number
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** Remembers the ids of received webhooks for as long as a replay of them would be accepted. */
export interface ReplayCache {
  /**
   * Records an id as received, until `expiresAt` (ms since the epoch; default now + `ttlMs`).
   * Pass the moment the message's timestamp leaves the window, so the id is remembered exactly as
   * long as a replay would otherwise pass.
   *
   * @throws {@link ReplayedWebhookError} when the id is already recorded and not expired.
   */
  claim(id: string, expiresAt?: number): void
  /** Forgets an id (a request refused after `claim` that its sender may retry). */
  release(id: string): void
  /** Whether an id is recorded and not expired. */
  has(id: string): boolean
  /** Ids recorded (expired ones not yet swept included). */
  readonly size: number
  /** Unexpired ids forgotten because the cache was full. */
  readonly evicted: number
  /** Forgets everything. */
  clear(): void
}

const LATIN1 = /^[\u0000-\u00ff]*$/

/**
 * A flat copy of `s` that shares no memory with the strings it was built from. An id made by
 * concatenation (`${flowId}\n${triggerId}\n${key}`) is a tree of string pieces, and a piece cut
 * from a request's URL keeps the whole URL alive: kept for minutes as a key, such an id held
 * ~300 bytes more than its own characters. The copy is exact (UTF-16 code units, lone surrogates
 * included).
 */
function detached(s: string): string {
  return LATIN1.test(s) ? Buffer.from(s, 'latin1').toString('latin1') : Buffer.from(s, 'utf16le').toString('utf16le')
}

class BoundedReplayCache implements ReplayCache {
  // Insertion order: a claim re-inserts, so the front holds the oldest claims.
  private readonly ids = new Map<string, number>()
  private readonly ttl: number
  private readonly max: number
  private readonly now: () => number
  evicted = 0

  constructor(init: ReplayCacheInit) {
    this.ttl = init.ttlMs ?? DEFAULT_TOLERANCE_MS
    this.max = init.maxEntries ?? DEFAULT_REPLAY_CACHE_ENTRIES
    this.now = init.now ?? Date.now
    if (!Number.isFinite(this.ttl) || this.ttl <= 0) throw new InvalidWebhookOptionError('ttlMs', `ttlMs must be a positive number of ms, not ${this.ttl}`)
    if (!Number.isInteger(this.max) || this.max < 1) throw new InvalidWebhookOptionError('maxEntries', `maxEntries must be a positive integer, not ${this.max}`)
  }

  get size(): number {
    return this.ids.size
  }

  private sweep(now: number, budget: number): void {
    for (const [id, expiresAt] of this.ids) {
      if (budget-- <= 0) return
      if (expiresAt > now) return
      this.ids.delete(id)
    }
  }

  claim(id: string, expiresAt?: number): void {
    const now = this.now()
    this.sweep(now, SWEEP_PER_CALL)
    const known = this.ids.get(id)
    if (known !== undefined && known > now) throw new ReplayedWebhookError(id)
    if (known !== undefined) this.ids.delete(id)
    if (this.ids.size >= this.max) {
      this.sweep(now, this.ids.size)
      while (this.ids.size >= this.max) {
        const oldest = this.ids.keys().next().value as string
        this.ids.delete(oldest)
        this.evicted++
      }
    }
    this.ids.set(detached(id), Math.max(expiresAt ?? now + this.ttl, now + 1))
  }

  release(id: string): void {
    this.ids.delete(id)
  }

  has(id: string): boolean {
    const expiresAt = this.ids.get(id)
    return expiresAt !== undefined && expiresAt > this.now()
  }

  clear(): void {
    this.ids.clear()
  }
}

/**
 * A bounded cache of received webhook ids that refuses a second claim of an id until it expires.
 * Memory stays bounded: expired ids are swept as calls come in, and past `maxEntries` the oldest
 * ids are forgotten first.
 *
 * @throws {@link InvalidWebhookOptionError} for an unusable option.
 */
export function replayCache(init: ReplayCacheInit = {}): ReplayCache {
  return new BoundedReplayCache(init)
}
