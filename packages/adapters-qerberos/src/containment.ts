import type { Severity } from './anomaly-detector.js'

/** What a containment decision does: pause a flow, block an identity, or cordon a node. */
export type ContainmentAction = 'pause-flow' | 'block-identity' | 'cordon-node'

/** A containment decision: the engine enforces it; Qerberos' `inspect()` honours it until it expires or is lifted. */
export interface ContainmentDecision {
  /** Stable id (derived from the alert, or from the manual request). */
  readonly id: string
  readonly action: ContainmentAction
  /** The flow id, identity (DID) or node id it applies to. */
  readonly target: string
  /** Why, for people. */
  readonly reason: string
  /** Id of the alert that caused it; absent for a manual decision. */
  readonly alert?: string
  /** Severity of that alert. */
  readonly severity?: Severity
  /** When it was made, ms since the epoch. */
  readonly at: number
  /** When it stops applying, ms since the epoch. */
  readonly expiresAt: number
}

/** A manual containment, as an operator asks for it with `contain()`. */
export interface ContainmentRequest {
  readonly action: ContainmentAction
  /** The flow id, identity or node id. */
  readonly target: string
  /** Why. */
  readonly reason: string
  /** How long it lasts, ms. Default: the containment `ttlMs`. */
  readonly ttlMs?: number
}

/** Options of automatic containment. */
export interface ContainmentInit {
  /** Alerts at or above this severity produce decisions. Default `critical`. */
  minSeverity?: Severity
  /** Which actions Qerberos takes on its own. Default all three; `[]` only alerts. */
  actions?: readonly ContainmentAction[]
  /** How long a decision lasts, ms. Default 10 minutes. */
  ttlMs?: number
  /** Active decisions kept; past it the ones expiring first are dropped. Default 10 000. */
  maxDecisions?: number
}

/** The active decisions, by id and by what they apply to. Expired decisions are dropped when met. */
export class ContainmentRegistry {
  private readonly byId = new Map<string, ContainmentDecision>()
  private readonly byTarget = new Map<string, ContainmentDecision>()

  constructor(private readonly maxDecisions: number) {}

  /** The decision in force for an action on a target at time `now`, if any. */
  active(action: ContainmentAction, target: string, now: number): ContainmentDecision | undefined {
    if (this.byTarget.size === 0) return undefined
    const decision = this.byTarget.get(`${action}\u0000${target}`)
    if (decision === undefined) return undefined
    if (decision.expiresAt > now) return decision
    this.remove(decision)
    return undefined
  }

  /** Records a decision (replacing any earlier one on the same action and target). */
  add(decision: ContainmentDecision, now: number): void {
    const key = `${decision.action}\u0000${decision.target}`
    const previous = this.byTarget.get(key)
    if (previous !== undefined) this.byId.delete(previous.id)
    if (this.byId.size >= this.maxDecisions) {
      this.prune(now)
      if (this.byId.size >= this.maxDecisions) {
        let first: ContainmentDecision | undefined
        for (const d of this.byId.values()) if (first === undefined || d.expiresAt < first.expiresAt) first = d
        if (first !== undefined) this.remove(first)
      }
    }
    this.byId.set(decision.id, decision)
    this.byTarget.set(key, decision)
  }

  /** Removes a decision by id; returns it, or undefined when there was none. */
  lift(id: string): ContainmentDecision | undefined {
    const decision = this.byId.get(id)
    if (decision !== undefined) this.remove(decision)
    return decision
  }

  /** The decisions in force at `now`, oldest first. */
  list(now: number): ContainmentDecision[] {
    this.prune(now)
    return [...this.byId.values()].sort((a, b) => a.at - b.at)
  }

  private prune(now: number): void {
    for (const d of this.byId.values()) if (d.expiresAt <= now) this.remove(d)
  }

  private remove(decision: ContainmentDecision): void {
    this.byId.delete(decision.id)
    const key = `${decision.action}\u0000${decision.target}`
    if (this.byTarget.get(key) === decision) this.byTarget.delete(key)
  }
}
