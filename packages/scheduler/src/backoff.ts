import { createHash } from 'node:crypto'

/** A step's retry policy, as the flow format writes it. */
export interface RetryPolicyLike {
  maxAttempts?: number
  backoff?: 'fixed' | 'exponential'
  initialDelay?: number
  maxDelay?: number
  jitter?: boolean | number
}

/** Defaults for a retry policy's absent fields. */
export const DEFAULT_RETRY = Object.freeze({ maxAttempts: 1, backoff: 'exponential', initialDelay: 1_000, maxDelay: 60_000 } as const)

/**
 * A fraction in [0, 1) derived from the attempt's idempotency key, so that every node replaying
 * the same execution waits the same time (jitter must spread retries of different executions,
 * not differ between replays of one).
 */
function jitterFraction(key: string): number {
  const digest = createHash('sha256').update(key).digest()
  return digest.readUInt32BE(0) / 0x1_0000_0000
}

/**
 * Milliseconds to wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed, or
 * `undefined` when the policy allows no further attempt. `jitter: true` spreads the delay over
 * ±50 %; a number j spreads it over ±j (0..1).
 */
export function retryDelay(policy: RetryPolicyLike | undefined, attempt: number, idempotencyKey: string): number | undefined {
  const maxAttempts = policy?.maxAttempts ?? DEFAULT_RETRY.maxAttempts
  if (attempt >= maxAttempts) return undefined
  const initial = policy?.initialDelay ?? DEFAULT_RETRY.initialDelay
  const max = policy?.maxDelay ?? DEFAULT_RETRY.maxDelay
  const base = (policy?.backoff ?? DEFAULT_RETRY.backoff) === 'fixed' ? initial : initial * 2 ** (attempt - 1)
  let delay = Math.min(base, max)
  const jitter = policy?.jitter === true ? 0.5 : typeof policy?.jitter === 'number' ? Math.min(Math.max(policy.jitter, 0), 1) : 0
  if (jitter > 0) delay = delay * (1 - jitter + 2 * jitter * jitterFraction(idempotencyKey))
  return Math.max(0, Math.round(Math.min(delay, max)))
}
