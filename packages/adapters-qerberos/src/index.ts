/**
 * Qerberos for Qflow: checks what a step receives and returns (payload digests, signatures over
 * canonical JSON, output schemas), learns per-flow, per-step, per-identity and per-node
 * baselines from streams of executions and raises anomalies, turns severe ones into containment
 * decisions (pause a flow, block an identity, cordon a node), and keeps an audit trail of every
 * judgement. It implements the `Qerberos` contract of `@qflow/pipeline`.
 *
 * @example
 * ```ts
 * import { qerberos } from '@qflow/adapters-qerberos'
 * import { payloadDigest } from '@qflow/pipeline'
 *
 * const guard = qerberos()()
 * const output = { total: 3 }
 * const report = await guard.checkIntegrity(output, {
 *   expectedDigest: payloadDigest(output),
 *   schema: { type: 'object', required: ['total'], properties: { total: { type: 'integer' } } }
 * })
 * console.log(report.ok) // true
 * ```
 *
 * @packageDocumentation
 */
export type {
  AnomalyInit,
  AnomalyMetric,
  AnomalyThresholds,
  ExecutionObservation,
  Severity,
  SubjectBaseline,
  SubjectKind
} from './anomaly-detector.js'
export type { AuditInit, AuditRecord, AuditRecordType } from './audit.js'
export {
  DEFAULT_CONTAINMENT_TTL_MS,
  DEFAULT_CRITICAL_THRESHOLD,
  DEFAULT_HIGH_THRESHOLD,
  DEFAULT_LOW_THRESHOLD,
  DEFAULT_MEDIUM_THRESHOLD,
  DEFAULT_WARMUP
} from './constants.js'
export type { ContainmentAction, ContainmentDecision, ContainmentInit, ContainmentRequest } from './containment.js'
export {
  AuditSinkError,
  InvalidContainmentError,
  InvalidExpectationsError,
  InvalidObservationError,
  InvalidQerberosInitError,
  InvalidSchemaError
} from './errors.js'
export type { IntegrityFailureCode } from './integrity.js'
export {
  type QerberosComponents,
  type QerberosInit,
  type QerberosMonitor,
  type QerberosStats,
  qerberos
} from './qerberos.js'
