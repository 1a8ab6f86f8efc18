import type { OperationContext } from '../operation.js'
import type { DetachedSignature } from './identity.js'

/** What Qerberos must check of a payload. */
export interface IntegrityExpectations {
  /** The payload digest it must have (as {@link payloadDigest} names it). */
  readonly expectedDigest?: string
  /** A signature over the payload's canonical bytes that must verify. */
  readonly signature?: DetachedSignature
  /** A JSON Schema the payload must satisfy (a step's `outputSchema`). */
  readonly schema?: Readonly<Record<string, unknown>> | boolean
}

/** One integrity problem. */
export interface IntegrityFailure {
  /** `DIGEST_MISMATCH`, `BAD_SIGNATURE`, `SCHEMA_MISMATCH`, ... */
  readonly code: string
  readonly message: string
  /** JSON pointer into the payload, for schema problems. */
  readonly pointer?: string
}

/** The outcome of an integrity check. */
export interface IntegrityReport {
  readonly ok: boolean
  /** The payload's digest as computed. */
  readonly digest: string
  readonly failures: readonly IntegrityFailure[]
}

/** The three audit verdicts of the Qerberos ecosystem shape. */
export type AuditVerdict = 'ALLOW' | 'DENY' | 'WARN'

/** An anomaly raised about a flow, step, identity or node. */
export interface AnomalyAlert {
  /** Stable id of the alert. */
  readonly id: string
  /** What was unusual: `duration`, `output-size`, `error-rate`, `run-rate`, ... */
  readonly metric: string
  /** Whose baseline it broke (`flow:<id>`, `step:<flow>/<step>`, `actor:<did>`). */
  readonly subject: string
  readonly severity: 'low' | 'medium' | 'high' | 'critical'
  /** The observed value and the baseline it was judged against. */
  readonly observed: number
  readonly expected: number
  /** How far off, in the detector's score (e.g. standard deviations). */
  readonly score: number
  readonly at: number
}

/** Qerberos' judgement of one operation. */
export interface QerberosVerdict {
  readonly verdict: AuditVerdict
  /** Why, when not ALLOW. */
  readonly code?: string
  readonly reason?: string
  /** Integrity report, when the operation asked for checks. */
  readonly integrity?: IntegrityReport
  /** Anomalies the operation raised. */
  readonly alerts?: readonly AnomalyAlert[]
}

/** Qerberos: integrity and anomaly checks. */
export interface Qerberos {
  /** Judges one operation: its integrity expectations, and whether it is anomalous or contained. */
  inspect(operation: OperationContext): Promise<QerberosVerdict>
  /** Checks a payload against integrity expectations (before and after a step). */
  checkIntegrity(payload: unknown, expectations: IntegrityExpectations): Promise<IntegrityReport>
}
