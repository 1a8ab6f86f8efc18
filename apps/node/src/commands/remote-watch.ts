import type { QflowClient } from '../client/client.js'
import type { EventSubscription } from '../client/events.js'
import type { EventFilter, ExecutionStateJson, QflowEventJson } from '../client/types.js'
import type { CliIo } from '../io.js'
import { formatDuration } from './execution-view.js'
import { FIRST_POLL_MS } from './remote-constants.js'

/** Statuses an execution does not leave. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'aborted'])

/**
 * Whether an unfinished execution can only move on when an event arrives: it has open steps and
 * every one waits on an `event-trigger` (a delay or a retry moves on by itself).
 */
export function awaitsEvent(state: ExecutionStateJson): boolean {
  const open = Object.values(state.steps).filter((s) => s.status === 'running' || s.status === 'waiting' || s.status === 'retry-wait')
  return open.length > 0 && open.every((s) => s.status === 'waiting' && s.wait !== undefined)
}

/** Steps that ended, and those that are running or waiting, of an execution's state. */
export function remoteStepProgress(state: ExecutionStateJson): { done: number; current: string[] } {
  let done = 0
  const current: string[] = []
  for (const [stepId, record] of Object.entries(state.steps)) {
    if (record.status === 'succeeded' || record.status === 'failed' || record.status === 'cancelled') done++
    else current.push(stepId)
  }
  return { done, current }
}

/**
 * What wakes a command that watches an execution: an event of the node's WebSocket stream when
 * one could be opened, else (and as a safety net) the poll interval. A stream that fails (lagging,
 * closed) falls back to polling; nothing is lost, because every wake-up re-reads the node.
 */
export class ExecutionSignals {
  private iterator: AsyncIterator<QflowEventJson> | undefined
  private pending: Promise<IteratorResult<QflowEventJson>> | undefined
  /** The next wait without a stream: short at first (quick executions end quickly), doubling up to `pollMs`. */
  private backoff = FIRST_POLL_MS

  private constructor(
    private readonly subscription: EventSubscription | undefined,
    private readonly pollMs: number
  ) {
    this.iterator = subscription?.[Symbol.asyncIterator]()
  }

  /**
   * Subscribes to `filter` (resolved once the node confirmed it), or polls when it cannot;
   * `onFallback` is told why.
   */
  static async open(client: QflowClient, filter: EventFilter, pollMs: number, onFallback?: (reason: string) => void): Promise<ExecutionSignals> {
    let subscription: EventSubscription | undefined
    try {
      subscription = await client.events.subscribe(filter)
    } catch (err) {
      onFallback?.(err instanceof Error ? `${err.name}: ${err.message}` : String(err))
      subscription = undefined
    }
    return new ExecutionSignals(subscription, pollMs)
  }

  /** Whether events come over the stream (else only polling). */
  get streaming(): boolean {
    return this.iterator !== undefined
  }

  /**
   * Resolves with the next event, or `undefined` after the poll interval (or when the stream
   * ended). Without a stream the interval starts at {@link FIRST_POLL_MS} and doubles up to `pollMs`.
   */
  async next(): Promise<QflowEventJson | undefined> {
    const iterator = this.iterator
    let timer: NodeJS.Timeout | undefined
    const wait = iterator === undefined ? this.backoff : this.pollMs
    if (iterator === undefined) this.backoff = Math.min(this.backoff * 2, this.pollMs)
    const tick = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), wait)
    })
    if (iterator === undefined) {
      await tick
      return undefined
    }
    this.pending ??= iterator.next()
    try {
      const result = await Promise.race([this.pending, tick])
      if (result === undefined) return undefined
      this.pending = undefined
      if (result.done === true) this.iterator = undefined
      return result.done === true ? undefined : result.value
    } catch {
      this.pending = undefined
      this.iterator = undefined
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }

  /** Closes the stream. */
  async close(): Promise<void> {
    this.iterator = undefined
    await this.subscription?.close()
  }
}

/** A one-line progress display on standard error: redrawn in place on a terminal, else one line per change. */
export class ProgressLine {
  private last = ''
  private drawn = false

  constructor(
    private readonly io: CliIo,
    private readonly enabled: boolean
  ) {}

  /** Shows `text` (nothing when disabled or unchanged). */
  show(text: string): void {
    if (!this.enabled || text === this.last) return
    this.last = text
    if (this.io.stderrIsTTY === true) {
      this.io.stderr(`\r\x1b[2K${text}`)
      this.drawn = true
    } else {
      this.io.stderr(`${text}\n`)
    }
  }

  /** Clears the line on a terminal. */
  clear(): void {
    if (this.drawn) this.io.stderr('\r\x1b[2K')
    this.drawn = false
  }
}

/** The progress text of an execution: `exec-…: running, 3/7 steps, at greet, 1.2s`. */
export function progressText(state: ExecutionStateJson, total: number | undefined, began: number): string {
  const { done, current } = remoteStepProgress(state)
  const steps = total === undefined ? `${done} steps done` : `${done}/${total} steps`
  const at = current.length === 0 ? '' : `, at ${current.join(', ')}`
  return `${state.executionId}: ${state.status}${state.pausedReason === undefined ? '' : ` (${state.pausedReason})`}, ${steps}${at}, ${formatDuration(Date.now() - began)}`
}
