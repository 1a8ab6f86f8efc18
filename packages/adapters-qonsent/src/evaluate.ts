import type { ConsentDecision, ConsentRequest } from '@qflow/pipeline'
import type { ConditionName } from './conditions.js'
import { MAX_ACTION_LENGTH } from './constants.js'
import type { CompiledGrant, GrantEffect } from './grant.js'
import type { GrantIndex } from './grant-index.js'
import { truncate } from './text.js'

/** How one grant that names the subject, resource and action fared in a check. */
export interface GrantConsidered {
  /** The grant. */
  readonly grantId: string
  /** Allow or deny. */
  readonly effect: GrantEffect
  /** It applied, it had expired, or one of its conditions did not hold. */
  readonly outcome: 'applies' | 'expired' | 'conditions-unmet'
  /** The condition that did not hold (`error` when reading the context threw). */
  readonly failedCondition?: ConditionName | 'error'
  /** The grant's expiry, ms since the epoch. */
  readonly expiresAt?: number
}

/** The full story of a check: the decision and every grant that was weighed. */
export interface ConsentEvaluation {
  /** What {@link Qonsent.check} answers. */
  readonly decision: ConsentDecision
  /** The time the check was judged at, ms since the epoch. */
  readonly evaluatedAt: number
  /** The grants whose subject, resource pattern and actions matched the request, in index order (filled by `evaluate()`). */
  readonly considered: readonly GrantConsidered[]
  /** How many grants the index handed over for a closer look (out of all it holds). */
  readonly examined: number
  /** Set when the request itself was refused before any grant was looked at. */
  readonly malformed?: string
}

/** Limits a check applies to its request before matching. */
export interface EvaluationLimits {
  /** Longest subject matched. */
  readonly maxSubjectLength: number
  /** Longest resource matched. */
  readonly maxResourceLength: number
}

const REASON_STRING = 96

function malformed(request: unknown, limits: EvaluationLimits): string | undefined {
  if (request === null || typeof request !== 'object') return 'the request is not an object'
  const { subject, resource, action } = request as Record<string, unknown>
  if (typeof subject !== 'string' || subject === '') return 'the subject is not a non-empty string'
  if (typeof resource !== 'string' || resource === '') return 'the resource is not a non-empty string'
  if (typeof action !== 'string' || action === '') return 'the action is not a non-empty string'
  if (subject.length > limits.maxSubjectLength) return `the subject is longer than ${limits.maxSubjectLength} characters`
  if (resource.length > limits.maxResourceLength) return `the resource is longer than ${limits.maxResourceLength} characters`
  if (action.length > MAX_ACTION_LENGTH) return `the action is longer than ${MAX_ACTION_LENGTH} characters`
  return undefined
}

function withExpiry(expiresAt: number): { expiresAt?: number } {
  return Number.isFinite(expiresAt) ? { expiresAt } : {}
}

/**
 * Decides one request against the index. Deny rules that apply win; otherwise the live allow
 * grant that lasts longest decides; otherwise, if allow grants would have applied but have all
 * expired, the answer is `expired` (renewable); otherwise `denied`. Never throws: a malformed
 * or hostile request is denied, and a condition that throws while reading the context counts as
 * not holding for an allow and as holding for a deny (fail closed).
 */
export function evaluateRequest(
  index: GrantIndex,
  request: ConsentRequest,
  now: number,
  limits: EvaluationLimits,
  scratch: CompiledGrant[],
  explain: boolean
): ConsentEvaluation {
  const problem = malformed(request, limits)
  if (problem !== undefined) {
    return {
      decision: { allowed: false, status: 'denied', reason: `Malformed consent request: ${problem}` },
      evaluatedAt: now,
      considered: [],
      examined: 0,
      malformed: problem
    }
  }
  const { subject, resource, action } = request
  let context: ConsentRequest['context']
  try {
    context = request.context
  } catch {
    context = undefined
  }
  scratch.length = 0
  index.candidates(subject, resource, scratch)
  const considered: GrantConsidered[] = []
  let segments: string[] | undefined
  let deny: CompiledGrant | undefined
  let allow: CompiledGrant | undefined
  let expired: CompiledGrant | undefined
  let unmet: CompiledGrant | undefined
  let unmetCondition: ConditionName | 'error' | undefined
  for (const entry of scratch) {
    if (!entry.allActions && !entry.actions.has(action)) continue
    if (!entry.pattern.exact) {
      segments ??= resource.split(':')
      if (!entry.pattern.matchesSegments(segments)) continue
    }
    let failing: ConditionName | 'error' | undefined
    if (entry.conditions !== undefined) {
      try {
        failing = entry.conditions.firstFailing(context, now)
      } catch {
        failing = 'error'
      }
    }
    const lapsed = entry.expiresAt <= now
    const isDeny = entry.grant.effect === 'deny'
    let outcome: GrantConsidered['outcome']
    if (isDeny) {
      // Fail closed: a deny rule whose context could not be read still applies.
      if (failing === 'error') failing = undefined
      outcome = failing !== undefined ? 'conditions-unmet' : lapsed ? 'expired' : 'applies'
      if (outcome === 'applies') deny ??= entry
    } else {
      outcome = failing !== undefined ? 'conditions-unmet' : lapsed ? 'expired' : 'applies'
      if (outcome === 'applies') {
        if (allow === undefined || entry.expiresAt > allow.expiresAt) allow = entry
      } else if (outcome === 'expired') {
        if (expired === undefined || entry.expiresAt > expired.expiresAt) expired = entry
      } else if (unmet === undefined) {
        unmet = entry
        unmetCondition = failing
      }
    }
    if (explain) {
      considered.push({
        grantId: entry.grant.id,
        effect: entry.grant.effect,
        outcome,
        ...(failing === undefined ? {} : { failedCondition: failing }),
        ...withExpiry(entry.expiresAt)
      })
    } else if (deny !== undefined) {
      break
    }
  }
  const examined = scratch.length
  scratch.length = 0
  return { examined, decision: decide(subject, resource, action, deny, allow, expired, unmet, unmetCondition), evaluatedAt: now, considered }
}

function decision(allowed: boolean, status: ConsentDecision['status'], reason: string, entry: CompiledGrant | undefined): ConsentDecision {
  // Built without spreads: this is the hot path of every check.
  if (entry === undefined) return { allowed, status, reason }
  if (!Number.isFinite(entry.expiresAt)) return { allowed, status, reason, grantId: entry.grant.id }
  return { allowed, status, reason, grantId: entry.grant.id, expiresAt: entry.expiresAt }
}

function decide(
  subject: string,
  resource: string,
  action: string,
  deny: CompiledGrant | undefined,
  allow: CompiledGrant | undefined,
  expired: CompiledGrant | undefined,
  unmet: CompiledGrant | undefined,
  unmetCondition: string | undefined
): ConsentDecision {
  if (deny !== undefined) return decision(false, 'denied', `Denied by rule ${deny.grant.id}`, deny)
  if (allow !== undefined) return decision(true, 'allowed', `Allowed by grant ${allow.grant.id}`, allow)
  if (expired !== undefined) {
    const when = new Date(expired.expiresAt).toISOString()
    return decision(false, 'expired', `Consent ${expired.grant.id} expired at ${when}; renew it to continue`, expired)
  }
  const who = truncate(subject, REASON_STRING)
  const what = truncate(resource, REASON_STRING)
  const verb = truncate(action, REASON_STRING)
  if (unmet !== undefined) {
    const reason = `No grant allows ${verb} on ${what} for ${who} now: grant ${unmet.grant.id}'s ${unmetCondition} condition does not hold`
    return decision(false, 'denied', reason, undefined)
  }
  return decision(false, 'denied', `No grant allows ${verb} on ${what} for ${who}`, undefined)
}
