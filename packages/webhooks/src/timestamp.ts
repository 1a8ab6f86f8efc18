import { DEFAULT_TOLERANCE_MS } from './constants.js'
import { InvalidWebhookOptionError, MalformedWebhookHeaderError, StaleWebhookTimestampError } from './errors.js'

/** How a timestamp window is judged. */
export interface TimestampWindowOptions {
  /** Accepted distance from the clock either way, ms. Default 5 minutes. */
  toleranceMs?: number
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

const UNIX_SECONDS = /^\d{1,12}$/

/**
 * Parses a unix timestamp in seconds as a header carries it (digits only).
 *
 * @throws {@link MalformedWebhookHeaderError} (naming `header`) when it is not a non-negative integer.
 */
export function parseUnixSeconds(value: string, header: string): number {
  const trimmed = value.trim()
  if (!UNIX_SECONDS.test(trimmed)) throw new MalformedWebhookHeaderError(header, `"${trimmed.slice(0, 32)}" is not a unix timestamp in seconds`)
  return Number(trimmed)
}

/** The tolerance of a window, checked. */
export function toleranceOf(options: TimestampWindowOptions): number {
  const tolerance = options.toleranceMs ?? DEFAULT_TOLERANCE_MS
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new InvalidWebhookOptionError('toleranceMs', `toleranceMs must be a non-negative number of ms, not ${tolerance}`)
  return tolerance
}

/**
 * Checks that a unix timestamp (seconds) is within the window around the clock, and returns
 * when it leaves the window (ms since the epoch): how long a replay cache must remember its id.
 *
 * @throws {@link StaleWebhookTimestampError} when it is older, or further in the future, than the tolerance.
 */
export function assertFreshTimestamp(timestamp: number, options: TimestampWindowOptions = {}): number {
  const tolerance = toleranceOf(options)
  const now = (options.now ?? Date.now)()
  const at = timestamp * 1000
  if (Math.abs(now - at) > tolerance) throw new StaleWebhookTimestampError(timestamp, now, tolerance)
  return at + tolerance
}
