/** A question put to Qonsent. */
export interface ConsentRequest {
  /** The identity asking (a did or sub-identity did). */
  readonly subject: string
  /** The resource, e.g. `qflow:flow:<id>`, `qflow:exec:<id>`. */
  readonly resource: string
  /** The action: read, write, execute, admin, share (or a module's own verb). */
  readonly action: string
  /** Facts conditions may test (subnet, time, client address, ...). */
  readonly context?: Readonly<Record<string, unknown>>
}

/**
 * Qonsent's answer. `expired` is distinct from `denied`: a consent that lapsed can be renewed, so
 * an engine pauses instead of failing.
 */
export interface ConsentDecision {
  /** Whether the action is allowed now. */
  readonly allowed: boolean
  /** Why: allowed, denied (by a deny rule or no grant), or expired (renewable). */
  readonly status: 'allowed' | 'denied' | 'expired'
  /** For people. */
  readonly reason: string
  /** The grant or rule that decided it. */
  readonly grantId?: string
  /** When the deciding grant expires (or expired), ms since the epoch. */
  readonly expiresAt?: number
}

/** Qonsent: dynamic permissions and consent. */
export interface Qonsent {
  /** Decides whether `subject` may do `action` on `resource`. */
  check(request: ConsentRequest): Promise<ConsentDecision>
}
