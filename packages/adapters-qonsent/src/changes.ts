import type { ConsentRequest } from '@qflow/pipeline'
import type { CONSENT_EXPIRED_EVENT, CONSENT_GRANTED_EVENT, CONSENT_REVOKED_EVENT } from './constants.js'
import { ChangeStreamOverflowError } from './errors.js'
import { type ConsentGrant, compileGrant } from './grant.js'

/** A change to the grants: one was added, revoked, or expired. */
export interface ConsentChange {
  /** `q.qflow.consent.granted.v1`, `q.qflow.consent.revoked.v1` or `q.qflow.consent.expired.v1`. */
  readonly type: typeof CONSENT_GRANTED_EVENT | typeof CONSENT_REVOKED_EVENT | typeof CONSENT_EXPIRED_EVENT
  /** The grant concerned. */
  readonly grant: ConsentGrant
  /** When, ms since the epoch. */
  readonly at: number
  /** Who made the change: the grantor or the revoker (absent for expiries). */
  readonly by?: string
  /** Why, for revocations that gave a reason. */
  readonly reason?: string
}

/** Called with every change, synchronously, in order. */
export type ConsentChangeListener = (change: ConsentChange) => void | Promise<void>

/** Options of a change stream. */
export interface ChangeStreamOptions {
  /** Ends the stream. */
  signal?: AbortSignal
  /** Changes held for a slow consumer before the stream fails with {@link ChangeStreamOverflowError}. */
  bufferSize?: number
}

/**
 * Whether a change could alter the answer to `request`: the grant names the request's subject,
 * matches its resource and covers its action (conditions and expiry aside). A running execution
 * re-validates only the changes that concern it.
 */
export function changeAffects(change: ConsentChange, request: Pick<ConsentRequest, 'subject' | 'resource' | 'action'>): boolean {
  const entry = compileGrant(change.grant)
  const subject = entry.subject
  const subjectMatches =
    subject.kind === 'any' ||
    (subject.kind === 'exact' ? request.subject === subject.value : typeof request.subject === 'string' && request.subject.startsWith(subject.value))
  return (
    subjectMatches &&
    typeof request.resource === 'string' &&
    entry.pattern.matches(request.resource) &&
    (entry.allActions || entry.actions.has(request.action))
  )
}

/** Fans changes out to listeners and async-iterator streams. */
export class ChangeHub {
  private readonly listeners = new Set<ConsentChangeListener>()
  private readonly streams = new Set<() => void>()
  /** Errors listeners threw (they never reach the one who made the change). */
  listenerErrors = 0

  constructor(private readonly defaultBuffer: number) {}

  subscribe(listener: ConsentChangeListener): () => void {
    // Wrapped so one function subscribed twice gets two independent subscriptions.
    const wrapped: ConsentChangeListener = (change) => listener(change)
    this.listeners.add(wrapped)
    return () => {
      this.listeners.delete(wrapped)
    }
  }

  publish(change: ConsentChange): void {
    for (const listener of this.listeners) {
      try {
        const result = listener(change)
        if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
          ;(result as Promise<void>).then(undefined, () => {
            this.listenerErrors++
          })
        }
      } catch {
        this.listenerErrors++
      }
    }
  }

  stream(options: ChangeStreamOptions = {}): AsyncIterableIterator<ConsentChange> {
    const limit = options.bufferSize ?? this.defaultBuffer
    const buffer: ConsentChange[] = []
    let waiting: ((result: IteratorResult<ConsentChange>) => void) | undefined
    let overflowed = false
    let ended = false
    const end = (): void => {
      if (ended) return
      ended = true
      unsubscribe()
      this.streams.delete(end)
      options.signal?.removeEventListener('abort', end)
      if (waiting !== undefined) {
        const resolve = waiting
        waiting = undefined
        resolve({ value: undefined, done: true })
      }
    }
    const unsubscribe = this.subscribe((change) => {
      if (ended) return
      if (waiting !== undefined) {
        const resolve = waiting
        waiting = undefined
        resolve({ value: change, done: false })
        return
      }
      if (buffer.length >= limit) {
        overflowed = true
        buffer.length = 0
        unsubscribe()
        return
      }
      buffer.push(change)
    })
    this.streams.add(end)
    if (options.signal?.aborted === true) end()
    else options.signal?.addEventListener('abort', end, { once: true })
    const iterator: AsyncIterableIterator<ConsentChange> = {
      next: () => {
        if (overflowed) {
          overflowed = false
          const err = new ChangeStreamOverflowError(limit)
          end()
          return Promise.reject(err)
        }
        const change = buffer.shift()
        if (change !== undefined) return Promise.resolve({ value: change, done: false })
        if (ended) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => {
          waiting = resolve
        })
      },
      return: () => {
        end()
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]() {
        return iterator
      }
    }
    return iterator
  }

  /** Ends every stream (listeners stay subscribed). */
  close(): void {
    for (const end of [...this.streams]) end()
  }
}
