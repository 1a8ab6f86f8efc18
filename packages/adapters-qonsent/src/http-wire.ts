import type { ConsentDecision } from '@qflow/pipeline'

/** The body of `POST /api/v1/qonsent/check`, as the Qonsent service takes it. */
export interface CheckRequestBody {
  /** The resource (`qflow:flow:<id>`). */
  readonly resource: string
  /** The identity asking (the request's `subject`). */
  readonly identity: string
  /** The action. */
  readonly action: string
  /** Facts conditions may test. */
  readonly context?: Readonly<Record<string, unknown>>
}

/** The answer of `POST /api/v1/qonsent/check` (bare, or as `data` inside `{ status: 'ok', data }`). */
export interface CheckResponseBody {
  /** Whether the action is allowed. */
  readonly allowed: boolean
  /** Why. */
  readonly reason?: string
  /** The grant or policy that decided it (`{ id, name?, type? }`; a bare id string is accepted too). */
  readonly policy?: { readonly id?: string; readonly name?: string; readonly type?: string } | string
  /** When the deciding permission expires (or expired), ISO 8601 (ms since the epoch accepted). */
  readonly expiresAt?: string | number
  /** Qflow's extension: the decision's status, so an expiry survives clock skew. */
  readonly decision?: ConsentDecision['status']
}

/** What went wrong reading a check answer. */
export type WireProblem = { readonly problem: string }

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/**
 * Reads a check answer (bare or in the service's `{ status: 'ok', data }` envelope) into a
 * decision. An answer that is not allowed and whose `expiresAt` has passed is `expired`.
 */
export function decisionFromWire(body: unknown, now: number): ConsentDecision | WireProblem {
  if (!isRecord(body)) return { problem: 'the answer is not a JSON object' }
  const answer = body.status === 'ok' && isRecord(body.data) ? body.data : body
  if (typeof answer.allowed !== 'boolean') return { problem: 'the answer has no boolean `allowed`' }
  if (answer.reason !== undefined && typeof answer.reason !== 'string') return { problem: '`reason` is not a string' }
  let grantId: string | undefined
  const policy = answer.policy
  if (typeof policy === 'string') grantId = policy
  else if (isRecord(policy)) {
    if (policy.id !== undefined && typeof policy.id !== 'string') return { problem: '`policy.id` is not a string' }
    grantId = policy.id
  } else if (policy !== undefined && policy !== null) return { problem: '`policy` is neither an object nor an id' }
  let expiresAt: number | undefined
  const rawExpiry = answer.expiresAt
  if (typeof rawExpiry === 'string') {
    expiresAt = Date.parse(rawExpiry)
    if (Number.isNaN(expiresAt)) return { problem: '`expiresAt` is not a date-time' }
  } else if (typeof rawExpiry === 'number') {
    if (!Number.isFinite(rawExpiry)) return { problem: '`expiresAt` is not finite' }
    expiresAt = rawExpiry
  } else if (rawExpiry !== undefined && rawExpiry !== null) return { problem: '`expiresAt` is neither a date-time nor a number' }
  const declared = answer.decision
  if (declared !== undefined && declared !== 'allowed' && declared !== 'denied' && declared !== 'expired') {
    return { problem: '`decision` is not allowed, denied or expired' }
  }
  if (declared !== undefined && (declared === 'allowed') !== answer.allowed) return { problem: '`decision` contradicts `allowed`' }
  const status: ConsentDecision['status'] = answer.allowed
    ? 'allowed'
    : (declared ?? (expiresAt !== undefined && expiresAt <= now ? 'expired' : 'denied'))
  const reason = typeof answer.reason === 'string' && answer.reason !== '' ? answer.reason : `${status} by the Qonsent service`
  return {
    allowed: answer.allowed,
    status,
    reason,
    ...(grantId === undefined || grantId === '' ? {} : { grantId }),
    ...(expiresAt === undefined ? {} : { expiresAt })
  }
}

/** Writes a decision as the service's check answer. */
export function decisionToWire(decision: ConsentDecision): CheckResponseBody {
  return {
    allowed: decision.allowed,
    reason: decision.reason,
    ...(decision.grantId === undefined ? {} : { policy: { id: decision.grantId } }),
    ...(decision.expiresAt === undefined ? {} : { expiresAt: new Date(decision.expiresAt).toISOString() }),
    decision: decision.status
  }
}
