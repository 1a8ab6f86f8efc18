import { createHash, randomUUID } from 'node:crypto'
import type {
  AnomalyAlert,
  IdentityVerifier,
  IntegrityExpectations,
  IntegrityFailure,
  IntegrityReport,
  OperationContext,
  Qerberos,
  QerberosVerdict
} from '@qflow/pipeline'
import {
  AnomalyDetector,
  type AnomalyInit,
  type AnomalyMetric,
  type AnomalyThresholds,
  METRICS,
  checkObservation,
  type DetectorSettings,
  type ExecutionObservation,
  type Severity,
  type SubjectBaseline,
  type SubjectKind
} from './anomaly-detector.js'
import { type AuditInit, type AuditRecord, type AuditRecordType, AuditTrail } from './audit.js'
import * as C from './constants.js'
import {
  type ContainmentAction,
  type ContainmentDecision,
  type ContainmentInit,
  ContainmentRegistry,
  type ContainmentRequest
} from './containment.js'
import { InvalidContainmentError, InvalidQerberosInitError } from './errors.js'
import { checkExpectations, IntegrityChecker } from './integrity.js'
import { Listeners } from './listeners.js'
import { SchemaCache } from './schema-cache.js'

/** Options of {@link qerberos}; every one optional. */
export interface QerberosInit {
  /** Baselines and thresholds of the anomaly detector. */
  anomaly?: AnomalyInit
  /** Which alerts become containment decisions, and for how long. */
  containment?: ContainmentInit
  /** The audit ring and its optional JSONL file. */
  audit?: AuditInit
  /** Compiled output schemas kept (LRU, by canonical hash). Default 256. */
  schemaCacheSize?: number
  /** Schema-mismatch failures listed per report. Default 50. */
  maxSchemaFailures?: number
}

/** What Qerberos is given. */
export interface QerberosComponents {
  /** Verifies signatures over payloads; without it, an expected signature fails with `NO_SIGNATURE_VERIFIER`. */
  identity?: Pick<IdentityVerifier, 'verifySignature'>
  /** The clock for `inspect()`, decisions and their expiry, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** Counters for health pages and tests. */
export interface QerberosStats {
  /** Observations and inspected runs the detector learned from. */
  readonly recorded: number
  /** Subjects with baselines. */
  readonly subjects: number
  /** Alerts raised. */
  readonly alerts: number
  /** Containment decisions in force. */
  readonly activeDecisions: number
  /** Schemas in the compile cache. */
  readonly schemas: number
  /** Audit records written in all. */
  readonly auditRecords: number
  /** Audit lines waiting for the file sink. */
  readonly auditPending: number
  /** Audit lines the file sink dropped (it could not write for too long). */
  readonly auditDropped: number
}

/** Qerberos: the pipeline contract plus streaming anomaly detection, containment and audit. */
export interface QerberosMonitor extends Qerberos {
  /**
   * Learns one finished execution and returns the alerts it raised (usually none). Alerts at or
   * above the containment severity also produce decisions.
   *
   * @throws {@link InvalidObservationError} when the observation is malformed.
   */
  observe(observation: ExecutionObservation): readonly AnomalyAlert[]
  /**
   * Compiles (and caches) a schema ahead of use, e.g. a step's `outputSchema` when a flow is loaded.
   *
   * @throws {@link InvalidSchemaError} when it does not compile.
   */
  compileSchema(schema: unknown): void
  /**
   * Contains by hand (an operator's decision): recorded, audited and delivered like automatic ones.
   *
   * @throws {@link InvalidContainmentError} when the request is malformed.
   */
  contain(request: ContainmentRequest): ContainmentDecision
  /** Lifts a decision before it expires; false when no such decision is in force. */
  lift(decisionId: string, reason?: string): boolean
  /** The decisions in force now, oldest first. */
  activeDecisions(): readonly ContainmentDecision[]
  /** A snapshot of one subject's baselines (`flow:<id>`, `step:<flow>/<step>`, `actor:<did>`, `node:<id>`). */
  baseline(subject: string): SubjectBaseline | undefined
  /** The audit records held in memory, oldest first. */
  auditTrail(): readonly AuditRecord[]
  /** Counters. */
  stats(): QerberosStats
  /** Every alert, as it is raised. Returns the unsubscribe function. */
  onAlert(listener: (alert: AnomalyAlert) => void): () => void
  /** Every containment decision, as it is made. Returns the unsubscribe function. */
  onDecision(listener: (decision: ContainmentDecision) => void): () => void
  /** Every decision lifted before its expiry. Returns the unsubscribe function. */
  onLift(listener: (decision: ContainmentDecision) => void): () => void
  /** Every audit record. Returns the unsubscribe function. */
  onAudit(listener: (record: AuditRecord) => void): () => void
  /**
   * Writes the audit records the file sink holds.
   *
   * @throws {@link AuditSinkError} when the file cannot be written (the records stay queued).
   */
  flushAudit(): Promise<void>
  /** Starts the component (nothing to open: the audit file is created on first write). */
  start(): Promise<void>
  /**
   * Flushes the audit file sink and stops its timer.
   *
   * @throws {@link AuditSinkError} when the last records cannot be written.
   */
  stop(): Promise<void>
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { low: 1, medium: 2, high: 3, critical: 4 }
const ACTIONS: readonly ContainmentAction[] = ['pause-flow', 'block-identity', 'cordon-node']
const ACTION_OF: Readonly<Record<SubjectKind, ContainmentAction>> = {
  flow: 'pause-flow',
  step: 'pause-flow',
  actor: 'block-identity',
  node: 'cordon-node'
}
const FLOW_RESOURCE = /^qflow:flow:([^/:#?]+)/

function positive(value: number | undefined, fallback: number, option: string, integer = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidQerberosInitError(option, integer ? 'Expected a positive integer' : 'Expected a positive finite number')
  }
  return value
}

function fraction(value: number | undefined, fallback: number, option: string): number {
  const v = positive(value, fallback, option)
  if (v > 1) throw new InvalidQerberosInitError(option, 'Expected a number in (0, 1]')
  return v
}

function resolveThresholds(
  t: AnomalyThresholds,
  fallback: readonly [number, number, number, number],
  option: string
): [number, number, number, number] {
  const low = positive(t.low, fallback[0], `${option}.low`)
  const medium = positive(t.medium, Math.max(fallback[1], low), `${option}.medium`)
  const high = positive(t.high, Math.max(fallback[2], medium), `${option}.high`)
  const critical = positive(t.critical, Math.max(fallback[3], high), `${option}.critical`)
  if (!(low <= medium && medium <= high && high <= critical)) {
    throw new InvalidQerberosInitError(option, 'Thresholds must rise from low to critical')
  }
  return [low, medium, high, critical]
}

function resolveDetector(init: AnomalyInit = {}): DetectorSettings {
  const defaults: readonly [number, number, number, number] = [
    C.DEFAULT_LOW_THRESHOLD,
    C.DEFAULT_MEDIUM_THRESHOLD,
    C.DEFAULT_HIGH_THRESHOLD,
    C.DEFAULT_CRITICAL_THRESHOLD
  ]
  const common = resolveThresholds(init.thresholds ?? {}, defaults, 'anomaly.thresholds')
  const overrides = init.metricThresholds ?? {}
  for (const metric of Object.keys(overrides)) {
    if (!METRICS.includes(metric as AnomalyMetric)) throw new InvalidQerberosInitError(`anomaly.metricThresholds.${metric}`, 'Unknown metric')
  }
  const levels = METRICS.map((metric) => {
    const own = overrides[metric]
    return own === undefined ? common : resolveThresholds(own, common, `anomaly.metricThresholds.${metric}`)
  })
  const errorWindow = positive(init.errorWindow, C.DEFAULT_ERROR_WINDOW, 'anomaly.errorWindow', true)
  if (errorWindow < 2 || errorWindow > 30) throw new InvalidQerberosInitError('anomaly.errorWindow', 'Expected 2 to 30 outcomes')
  const rateWindowMs = positive(init.rateWindowMs, C.DEFAULT_RATE_WINDOW_MS, 'anomaly.rateWindowMs')
  const rateSlices = positive(init.rateSlices, C.DEFAULT_RATE_SLICES, 'anomaly.rateSlices', true)
  const minErrors = positive(init.minErrors, C.DEFAULT_MIN_ERRORS, 'anomaly.minErrors', true)
  if (minErrors > errorWindow) throw new InvalidQerberosInitError('anomaly.minErrors', 'Cannot exceed errorWindow')
  return {
    levels,
    warmup: positive(init.warmup, C.DEFAULT_WARMUP, 'anomaly.warmup', true),
    alpha: fraction(init.alpha, C.DEFAULT_ALPHA, 'anomaly.alpha'),
    clipSigmas: positive(init.clipSigmas, C.DEFAULT_CLIP_SIGMAS, 'anomaly.clipSigmas'),
    minSpread: positive(init.minSpread, C.DEFAULT_MIN_SPREAD, 'anomaly.minSpread'),
    errorWindow,
    errorAlpha: fraction(init.errorAlpha, C.DEFAULT_ERROR_ALPHA, 'anomaly.errorAlpha'),
    minErrorRate: fraction(init.minErrorRate, C.DEFAULT_MIN_ERROR_RATE, 'anomaly.minErrorRate'),
    minErrors,
    sliceMs: rateWindowMs / rateSlices,
    rateSlices,
    rateAlpha: fraction(init.rateAlpha, C.DEFAULT_RATE_ALPHA, 'anomaly.rateAlpha'),
    rateWarmupSlices: positive(init.rateWarmupSlices, C.DEFAULT_RATE_WARMUP_SLICES, 'anomaly.rateWarmupSlices', true),
    minBurstRuns: positive(init.minBurstRuns, C.DEFAULT_MIN_BURST_RUNS, 'anomaly.minBurstRuns', true),
    maxSubjects: positive(init.maxSubjects, C.DEFAULT_MAX_SUBJECTS, 'anomaly.maxSubjects', true)
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown } | null
  const name = typeof e?.name === 'string' ? e.name : 'Error'
  return typeof e?.message === 'string' && e.message !== '' ? `${name}: ${e.message}` : name
}

function short(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3)
}

function hashId(prefix: string, text: string): string {
  return `${prefix}-${createHash('sha256').update(text).digest('hex').slice(0, 20)}`
}

/** The flow an operation concerns: its `qflow:flow:<id>` resource, or a `flowId` attribute. */
function flowOf(resource: string, attributes: Record<string, unknown> | undefined): string | undefined {
  const match = FLOW_RESOURCE.exec(resource)
  if (match?.[1] !== undefined) return match[1].slice(0, C.MAX_ID_LENGTH)
  const flowId = attributes?.flowId
  return typeof flowId === 'string' && flowId !== '' ? flowId.slice(0, C.MAX_ID_LENGTH) : undefined
}

/** The node an operation runs on, from its `node` or `nodeId` attribute. */
function nodeOf(attributes: Record<string, unknown> | undefined): string | undefined {
  const node = attributes?.node ?? attributes?.nodeId
  return typeof node === 'string' && node !== '' ? node : undefined
}

class QerberosMonitorImpl implements QerberosMonitor {
  private readonly detector: AnomalyDetector
  private readonly schemas: SchemaCache
  private readonly integrity: IntegrityChecker
  private readonly registry: ContainmentRegistry
  private readonly trail: AuditTrail
  private readonly now: () => number
  private readonly alertListeners = new Listeners<AnomalyAlert>()
  private readonly decisionListeners = new Listeners<ContainmentDecision>()
  private readonly liftListeners = new Listeners<ContainmentDecision>()
  private readonly auditListeners = new Listeners<AuditRecord>()
  private readonly containSeverity: number
  private readonly containActions: ReadonlySet<ContainmentAction>
  private readonly ttlMs: number
  private readonly layer: string
  private readonly auditActor: string
  private alertCount = 0
  private manualSequence = 0

  constructor(init: QerberosInit, components: QerberosComponents) {
    const containment = init.containment ?? {}
    const minSeverity = containment.minSeverity ?? C.DEFAULT_CONTAINMENT_SEVERITY
    if (!(minSeverity in SEVERITY_RANK)) throw new InvalidQerberosInitError('containment.minSeverity', 'Expected low, medium, high or critical')
    this.containSeverity = SEVERITY_RANK[minSeverity]
    const actions = containment.actions ?? ACTIONS
    for (const action of actions) {
      if (!ACTIONS.includes(action)) throw new InvalidQerberosInitError('containment.actions', `Unknown action ${String(action)}`)
    }
    this.containActions = new Set(actions)
    this.ttlMs = positive(containment.ttlMs, C.DEFAULT_CONTAINMENT_TTL_MS, 'containment.ttlMs')
    this.registry = new ContainmentRegistry(positive(containment.maxDecisions, C.DEFAULT_MAX_DECISIONS, 'containment.maxDecisions', true))

    const audit = init.audit ?? {}
    const capacity = audit.capacity ?? C.DEFAULT_AUDIT_CAPACITY
    if (!Number.isInteger(capacity) || capacity < 0) throw new InvalidQerberosInitError('audit.capacity', 'Expected an integer ≥ 0')
    if (audit.file !== undefined && (typeof audit.file !== 'string' || audit.file === '')) {
      throw new InvalidQerberosInitError('audit.file', 'Expected a file path')
    }
    this.trail = new AuditTrail(
      capacity,
      audit.file === undefined
        ? undefined
        : {
            file: audit.file,
            flushIntervalMs: positive(audit.flushIntervalMs, C.DEFAULT_AUDIT_FLUSH_MS, 'audit.flushIntervalMs'),
            maxBatch: positive(audit.maxBatch, C.DEFAULT_AUDIT_BATCH, 'audit.maxBatch', true),
            maxPending: positive(audit.maxPending, C.DEFAULT_AUDIT_MAX_PENDING, 'audit.maxPending', true)
          }
    )
    this.layer = audit.layer ?? C.DEFAULT_AUDIT_LAYER
    this.auditActor = audit.actor ?? C.DEFAULT_AUDIT_ACTOR

    this.schemas = new SchemaCache(positive(init.schemaCacheSize, C.DEFAULT_SCHEMA_CACHE_SIZE, 'schemaCacheSize', true))
    this.integrity = new IntegrityChecker(
      this.schemas,
      components.identity,
      positive(init.maxSchemaFailures, C.DEFAULT_MAX_SCHEMA_FAILURES, 'maxSchemaFailures', true)
    )
    if (components.identity !== undefined && typeof components.identity.verifySignature !== 'function') {
      throw new InvalidQerberosInitError('components.identity', 'identity must have verifySignature()')
    }
    this.now = components.now ?? Date.now
    this.detector = new AnomalyDetector(resolveDetector(init.anomaly), (alert, kind, target) => this.raised(alert, kind, target))
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await this.trail.close()
  }

  observe(observation: ExecutionObservation): readonly AnomalyAlert[] {
    checkObservation(observation)
    return this.detector.observe(observation)
  }

  async checkIntegrity(payload: unknown, expectations: IntegrityExpectations): Promise<IntegrityReport> {
    checkExpectations(expectations)
    return this.integrity.check(payload, expectations)
  }

  compileSchema(schema: unknown): void {
    const entry = this.schemas.lookup(schema)
    if ('error' in entry) throw entry.error
  }

  async inspect(operation: OperationContext): Promise<QerberosVerdict> {
    const at = this.now()
    let verdict: QerberosVerdict
    try {
      verdict = await this.judge(operation, at)
    } catch (err) {
      verdict = { verdict: 'DENY', code: 'INSPECTION_FAILED', reason: `Qerberos could not inspect the operation: ${describe(err)}` }
    }
    try {
      this.auditInspection(operation, verdict, at)
    } catch {
      // An operation whose fields throw when read: audit what is known for sure.
      this.record('inspect', '', '', verdict.verdict, at, verdict.reason, verdict.code === undefined ? {} : { code: verdict.code })
    }
    return verdict
  }

  contain(request: ContainmentRequest): ContainmentDecision {
    if (!isRecord(request)) throw new InvalidContainmentError('', 'A containment request must be an object')
    if (!ACTIONS.includes(request.action)) throw new InvalidContainmentError('action', 'Expected pause-flow, block-identity or cordon-node')
    if (typeof request.target !== 'string' || request.target === '' || request.target.length > C.MAX_ID_LENGTH) {
      throw new InvalidContainmentError('target', 'Expected a non-empty flow id, identity or node id')
    }
    if (typeof request.reason !== 'string' || request.reason === '') throw new InvalidContainmentError('reason', 'Say why')
    const ttl = request.ttlMs ?? this.ttlMs
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) throw new InvalidContainmentError('ttlMs', 'Expected a positive duration')
    const at = this.now()
    const decision: ContainmentDecision = Object.freeze({
      id: hashId('decision', `${request.action}\n${request.target}\n${at}\nmanual-${++this.manualSequence}`),
      action: request.action,
      target: request.target,
      reason: request.reason,
      at,
      expiresAt: at + ttl
    })
    this.decide(decision)
    return decision
  }

  lift(decisionId: string, reason?: string): boolean {
    if (typeof decisionId !== 'string') return false
    const decision = this.registry.lift(decisionId)
    if (decision === undefined) return false
    this.record('lift', decision.target, this.auditActor, 'ALLOW', this.now(), reason ?? `Lifted ${decision.action} of ${decision.target}`, {
      decision
    })
    this.liftListeners.emit(decision)
    return true
  }

  activeDecisions(): readonly ContainmentDecision[] {
    return this.registry.list(this.now())
  }

  baseline(subject: string): SubjectBaseline | undefined {
    return this.detector.baseline(subject)
  }

  auditTrail(): readonly AuditRecord[] {
    return this.trail.records()
  }

  stats(): QerberosStats {
    const sink = this.trail.sinkStats()
    return {
      recorded: this.detector.recorded,
      subjects: this.detector.size,
      alerts: this.alertCount,
      activeDecisions: this.registry.list(this.now()).length,
      schemas: this.schemas.size,
      auditRecords: this.trail.total,
      auditPending: sink.pending,
      auditDropped: sink.dropped
    }
  }

  onAlert(listener: (alert: AnomalyAlert) => void): () => void {
    return this.alertListeners.add(listener)
  }

  onDecision(listener: (decision: ContainmentDecision) => void): () => void {
    return this.decisionListeners.add(listener)
  }

  onLift(listener: (decision: ContainmentDecision) => void): () => void {
    return this.liftListeners.add(listener)
  }

  onAudit(listener: (record: AuditRecord) => void): () => void {
    return this.auditListeners.add(listener)
  }

  async flushAudit(): Promise<void> {
    await this.trail.flush()
  }

  /** Called by the detector for every alert it raises. */
  private raised(alert: AnomalyAlert, kind: SubjectKind, target: string): void {
    this.alertCount++
    if (this.alertListeners.size > 0) this.alertListeners.emit(alert)
    if (SEVERITY_RANK[alert.severity] < this.containSeverity) return
    const action = ACTION_OF[kind]
    if (!this.containActions.has(action)) return
    const now = this.now()
    if (this.registry.active(action, target, now) !== undefined) return
    this.decide(
      Object.freeze({
        id: hashId('decision', `${alert.id}\n${action}\n${target}`),
        action,
        target,
        reason: `${alert.metric} anomaly on ${alert.subject}: observed ${short(alert.observed)} where ${short(alert.expected)} is usual (score ${alert.score.toFixed(1)}, ${alert.severity})`,
        alert: alert.id,
        severity: alert.severity,
        at: now,
        expiresAt: now + this.ttlMs
      })
    )
  }

  private decide(decision: ContainmentDecision): void {
    this.registry.add(decision, decision.at)
    this.record('decision', decision.target, this.auditActor, 'DENY', decision.at, decision.reason, { decision })
    this.decisionListeners.emit(decision)
  }

  private async judge(operation: OperationContext, at: number): Promise<QerberosVerdict> {
    const op = operation as unknown
    if (!isRecord(op) || !isRecord(op.actor) || typeof op.actor.did !== 'string' || op.actor.did === '' || typeof op.resource !== 'string') {
      return { verdict: 'DENY', code: 'INVALID_OPERATION', reason: 'The operation has no actor identity or no resource' }
    }
    const did = op.actor.did
    const attributes = isRecord(op.attributes) ? op.attributes : undefined
    const flowId = flowOf(op.resource, attributes)
    const node = nodeOf(attributes)
    const alerts = this.detector.recordRun(did.slice(0, C.MAX_ID_LENGTH), flowId, at)

    const contained =
      this.registry.active('block-identity', did, at) ??
      (flowId === undefined ? undefined : this.registry.active('pause-flow', flowId, at)) ??
      (node === undefined ? undefined : this.registry.active('cordon-node', node, at))
    if (contained !== undefined) {
      const code = contained.action === 'block-identity' ? 'IDENTITY_BLOCKED' : contained.action === 'pause-flow' ? 'FLOW_PAUSED' : 'NODE_CORDONED'
      return withAlerts(
        {
          verdict: 'DENY',
          code,
          reason: `${contained.action} of ${contained.target} in force until ${new Date(contained.expiresAt).toISOString()} (${contained.id}): ${contained.reason}`
        },
        alerts
      )
    }

    let report: IntegrityReport | undefined
    if (op.integrity !== undefined) {
      try {
        checkExpectations(op.integrity)
      } catch (err) {
        return withAlerts({ verdict: 'DENY', code: 'INVALID_EXPECTATIONS', reason: (err as Error).message }, alerts)
      }
      report = await this.integrityOf(op, op.integrity)
      if (!report.ok) {
        const first = report.failures[0] as IntegrityFailure
        return withAlerts(
          { verdict: 'DENY', code: first.code, reason: report.failures.map((f) => f.message).join('; '), integrity: report },
          alerts
        )
      }
    }
    if (alerts.length > 0) {
      const verdict: QerberosVerdict = {
        verdict: 'WARN',
        code: 'ANOMALY_DETECTED',
        reason: alerts.map((a) => `${a.metric} on ${a.subject} (${a.severity})`).join('; '),
        alerts
      }
      return report === undefined ? verdict : { ...verdict, integrity: report }
    }
    return report === undefined ? { verdict: 'ALLOW' } : { verdict: 'ALLOW', integrity: report }
  }

  private async integrityOf(op: Record<string, unknown>, expectations: IntegrityExpectations): Promise<IntegrityReport> {
    const carried = typeof op.payloadDigest === 'string' ? op.payloadDigest : undefined
    if (op.payload !== undefined) {
      const report = await this.integrity.check(op.payload, expectations)
      if (carried === undefined || report.digest === '' || carried === report.digest) return report
      return {
        ok: false,
        digest: report.digest,
        failures: [{ code: 'DIGEST_MISMATCH', message: `The operation's payloadDigest ${carried} is not its payload's ${report.digest}` }, ...report.failures]
      }
    }
    if (carried !== undefined) return this.integrity.checkDigest(carried, expectations)
    const needsPayload = expectations.expectedDigest !== undefined || expectations.signature !== undefined || expectations.schema !== undefined
    return needsPayload
      ? { ok: false, digest: '', failures: [{ code: 'PAYLOAD_MISSING', message: 'Integrity checks are expected but the operation carries no payload' }] }
      : { ok: true, digest: '', failures: [] }
  }

  private auditInspection(operation: OperationContext, verdict: QerberosVerdict, at: number): void {
    const op = (isRecord(operation) ? operation : {}) as Record<string, unknown>
    const actor = isRecord(op.actor) && typeof op.actor.did === 'string' ? op.actor.did : ''
    const details: Record<string, unknown> = {}
    if (typeof op.traceId === 'string') details.traceId = op.traceId
    if (typeof op.kind === 'string') details.kind = op.kind
    if (verdict.code !== undefined) details.code = verdict.code
    if (verdict.integrity !== undefined) details.integrity = verdict.integrity
    if (verdict.alerts !== undefined) details.alerts = verdict.alerts
    this.record('inspect', typeof op.resource === 'string' ? op.resource : '', actor, verdict.verdict, at, verdict.reason, details)
  }

  private record(
    type: AuditRecordType,
    ref: string,
    actor: string,
    verdict: AuditRecord['verdict'],
    at: number,
    reason: string | undefined,
    details: Readonly<Record<string, unknown>>
  ): void {
    const record: AuditRecord = Object.freeze({
      id: randomUUID(),
      type,
      ref,
      actor,
      layer: this.layer,
      verdict,
      ...(reason === undefined ? {} : { reason }),
      details,
      at
    })
    this.trail.append(record)
    this.auditListeners.emit(record)
  }
}

function withAlerts(verdict: QerberosVerdict, alerts: readonly AnomalyAlert[]): QerberosVerdict {
  return alerts.length === 0 ? verdict : { ...verdict, alerts }
}

/**
 * Makes Qerberos: integrity checks of payloads (digest, signature, output schema), anomaly
 * detection on streams of executions, containment decisions and an audit trail.
 *
 * @throws {@link InvalidQerberosInitError} when an option is out of range.
 */
export function qerberos(init: QerberosInit = {}): (components?: QerberosComponents) => QerberosMonitor {
  return (components = {}) => new QerberosMonitorImpl(init, components)
}
