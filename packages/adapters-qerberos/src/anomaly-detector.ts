import { createHash } from 'node:crypto'
import type { AnomalyAlert } from '@qflow/pipeline'
import { ErrorWindow, RateWindow, RobustEwma } from './baselines.js'
import { MAX_ID_LENGTH, RATE_CATCH_UP_SLICES } from './constants.js'
import { InvalidObservationError } from './errors.js'

/** How bad an anomaly is, from `low` to `critical`. */
export type Severity = AnomalyAlert['severity']

/** The metrics the detector keeps baselines of. */
export type AnomalyMetric = 'duration' | 'output-size' | 'error-rate' | 'run-rate'

/** One finished execution (of a step, or of a whole flow run when `stepId` is absent). */
export interface ExecutionObservation {
  /** The flow that ran. */
  readonly flowId: string
  /** The step that ran; absent when the observation covers a whole run. */
  readonly stepId?: string
  /** The identity the execution ran as. */
  readonly actor?: string
  /** The node that executed it. */
  readonly node?: string
  /** How long it took, ms (finite, ≥ 0). */
  readonly durationMs: number
  /** Size of what it returned, bytes (finite, ≥ 0). */
  readonly outputBytes: number
  /** Whether it succeeded. */
  readonly ok: boolean
  /** When it finished, ms since the epoch: the detector's only clock. */
  readonly at: number
}

/** z-scores from which alerts take each severity. */
export interface AnomalyThresholds {
  /** Alerts start here. Default 4.5. */
  low?: number
  /** Default 6. */
  medium?: number
  /** Default 8. */
  high?: number
  /** Default 12. */
  critical?: number
}

/** Options of the anomaly detector (all optional; defaults in `constants.ts`). */
export interface AnomalyInit {
  /** z-scores per severity. */
  thresholds?: AnomalyThresholds
  /**
   * Per-metric overrides of `thresholds`, e.g. `{ duration: { low: 7 } }` where durations have
   * heavier tails than a log-normal (cold caches, pauses) but rates should stay sensitive.
   */
  metricThresholds?: Partial<Record<AnomalyMetric, AnomalyThresholds>>
  /** Samples a baseline needs before it alerts. Default 30. */
  warmup?: number
  /** EWMA weight of a sample in duration and output-size baselines. Default 0.02. */
  alpha?: number
  /** Samples are clipped to this many spreads before they update a baseline. Default 3. */
  clipSigmas?: number
  /** Smallest spread of `ln(1 + x)` a duration or size is judged with. Default 0.1. */
  minSpread?: number
  /** Outcomes in the sliding error-rate window (2 to 30). Default 20. */
  errorWindow?: number
  /** EWMA weight of one outcome (once it leaves the window) in the baseline error probability. Default 0.005. */
  errorAlpha?: number
  /** Floor of the baseline error probability. Default 0.01. */
  minErrorRate?: number
  /** Errors the window must hold before an error-rate alert. Default 4. */
  minErrors?: number
  /** Width of the run-rate window, ms. Default 10 000. */
  rateWindowMs?: number
  /** Slices the run-rate window slides by. Default 5. */
  rateSlices?: number
  /** EWMA weight of a closed slice in the run-rate baseline. Default 0.02. */
  rateAlpha?: number
  /** Closed slices before run-rate alerts. Default 30. */
  rateWarmupSlices?: number
  /** Runs the window must hold before a burst alert. Default 10. */
  minBurstRuns?: number
  /** Subjects whose baselines are kept (least recently seen dropped first). Default 10 000. */
  maxSubjects?: number
}

/** Resolved detector settings. */
export interface DetectorSettings {
  /** Thresholds per metric: `[low, medium, high, critical]` for duration, output-size, error-rate, run-rate. */
  readonly levels: readonly (readonly [number, number, number, number])[]
  readonly warmup: number
  readonly alpha: number
  readonly clipSigmas: number
  readonly minSpread: number
  readonly errorWindow: number
  readonly errorAlpha: number
  readonly minErrorRate: number
  readonly minErrors: number
  readonly sliceMs: number
  readonly rateSlices: number
  readonly rateAlpha: number
  readonly rateWarmupSlices: number
  readonly minBurstRuns: number
  readonly maxSubjects: number
}

/** A snapshot of one subject's baselines. */
export interface SubjectBaseline {
  /** `flow:<id>`, `step:<flow>/<step>`, `actor:<did>` or `node:<id>`. */
  readonly subject: string
  /** Typical duration (ms, the EWMA of `ln(1 + ms)` mapped back) and its spread in log space. */
  readonly duration?: { readonly samples: number; readonly typicalMs: number; readonly spread: number }
  /** Typical output size (bytes) and its spread in log space. */
  readonly outputSize?: { readonly samples: number; readonly typicalBytes: number; readonly spread: number }
  /** Baseline error probability and the sliding window's content. */
  readonly errorRate: { readonly samples: number; readonly baseline: number; readonly windowErrors: number; readonly windowSize: number }
  /** Runs per window: the baseline mean and spread, and the current window's count. */
  readonly runRate: { readonly closedSlices: number; readonly perWindow: number; readonly spread: number; readonly current: number }
}

const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical']
/** The metrics, in the order of {@link DetectorSettings.levels}. */
export const METRICS: readonly AnomalyMetric[] = ['duration', 'output-size', 'error-rate', 'run-rate']
const DURATION = 0
const OUTPUT_SIZE = 1
const ERROR_RATE = 2
const RUN_RATE = 3
const NO_ALERTS: readonly AnomalyAlert[] = Object.freeze([])

/** What a baseline is about. */
export type SubjectKind = 'flow' | 'step' | 'actor' | 'node'

class Subject {
  duration: RobustEwma | undefined
  size: RobustEwma | undefined
  readonly errors = new ErrorWindow()
  readonly rate: RateWindow
  durationLevel = 0
  sizeLevel = 0
  errorLevel = 0
  rateLevel = 0
  /** Detector tick of the last move to the recent end of the LRU. */
  touched: number

  constructor(
    readonly name: string,
    readonly kind: SubjectKind,
    /** The flow id (flow, step), identity (actor) or node id (node) a decision would target. */
    readonly target: string,
    slices: number,
    tick: number
  ) {
    this.rate = new RateWindow(slices)
    this.touched = tick
  }
}

function finiteNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}

function checkId(value: unknown, field: string, required: boolean): void {
  if (value === undefined && !required) return
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidObservationError(field, `${field} must be a non-empty string`)
  }
  if (value.length > MAX_ID_LENGTH) throw new InvalidObservationError(field, `${field} is longer than ${MAX_ID_LENGTH} characters`)
  if (value.includes('\u0000')) throw new InvalidObservationError(field, `${field} holds a NUL character`)
}

/**
 * Checks an observation's shape.
 *
 * @throws {@link InvalidObservationError} naming the first bad field.
 */
export function checkObservation(observation: unknown): asserts observation is ExecutionObservation {
  if (typeof observation !== 'object' || observation === null) {
    throw new InvalidObservationError('', 'An observation must be an object')
  }
  const o = observation as Record<string, unknown>
  checkId(o.flowId, 'flowId', true)
  checkId(o.stepId, 'stepId', false)
  checkId(o.actor, 'actor', false)
  checkId(o.node, 'node', false)
  if (!finiteNonNegative(o.durationMs)) throw new InvalidObservationError('durationMs', 'durationMs must be a finite number ≥ 0')
  if (!finiteNonNegative(o.outputBytes)) throw new InvalidObservationError('outputBytes', 'outputBytes must be a finite number ≥ 0')
  if (typeof o.ok !== 'boolean') throw new InvalidObservationError('ok', 'ok must be a boolean')
  if (!finiteNonNegative(o.at)) throw new InvalidObservationError('at', 'at must be a finite time ≥ 0 (ms since the epoch)')
}

/**
 * Per-subject online baselines of duration, output size, error rate and run rate, judged by
 * z-score. Deterministic: the same observations in the same order raise the same alerts with the
 * same ids. Memory is bounded by `maxSubjects`.
 */
export class AnomalyDetector {
  private readonly subjects = new Map<string, Subject>()
  private tick = 0
  private sequence = 0
  /** Observations and runs recorded. */
  recorded = 0

  /**
   * @param onRaise - called for every alert as it is raised, with the kind of subject and the
   *   flow id, identity or node id a containment decision would target.
   */
  constructor(
    private readonly settings: DetectorSettings,
    private readonly onRaise?: (alert: AnomalyAlert, kind: SubjectKind, target: string) => void
  ) {}

  /** Subjects currently tracked. */
  get size(): number {
    return this.subjects.size
  }

  /** Judges and learns one (already checked) execution observation. */
  observe(o: ExecutionObservation): readonly AnomalyAlert[] {
    this.recorded++
    let alerts: AnomalyAlert[] | undefined
    const flowId = o.flowId
    const at = o.at
    const stepId = o.stepId
    const flow = this.subject(`f${flowId}`, 'flow', flowId, flowId)
    if (stepId === undefined) {
      alerts = this.judgeOutput(flow, o, alerts)
    } else {
      const step = this.subject(`s${flowId}\u0000${stepId}`, 'step', flowId, `${flowId}/${stepId}`)
      alerts = this.judgeOutput(step, o, alerts)
      alerts = this.judgeErrors(step, o.ok, at, alerts)
      alerts = this.judgeRate(step, at, alerts)
    }
    alerts = this.judgeErrors(flow, o.ok, at, alerts)
    alerts = this.judgeRate(flow, at, alerts)
    if (o.actor !== undefined) {
      const actor = this.subject(`a${o.actor}`, 'actor', o.actor, o.actor)
      alerts = this.judgeErrors(actor, o.ok, at, alerts)
      alerts = this.judgeRate(actor, at, alerts)
    }
    if (o.node !== undefined) {
      const node = this.subject(`n${o.node}`, 'node', o.node, o.node)
      alerts = this.judgeErrors(node, o.ok, at, alerts)
      alerts = this.judgeRate(node, at, alerts)
    }
    return alerts ?? NO_ALERTS
  }

  /** Counts one run (an inspected operation) towards the run rates of its actor and flow. */
  recordRun(actor: string, flowId: string | undefined, at: number): readonly AnomalyAlert[] {
    this.recorded++
    let alerts: AnomalyAlert[] | undefined
    alerts = this.judgeRate(this.subject(`a${actor}`, 'actor', actor, actor), at, alerts)
    if (flowId !== undefined) alerts = this.judgeRate(this.subject(`f${flowId}`, 'flow', flowId, flowId), at, alerts)
    return alerts ?? NO_ALERTS
  }

  /** A snapshot of a subject's baselines (`flow:<id>`, `step:<flow>/<step>`, `actor:<did>`, `node:<id>`). */
  baseline(subjectName: string): SubjectBaseline | undefined {
    for (const s of this.subjects.values()) {
      if (s.name !== subjectName) continue
      const errors = s.errors
      const rate = s.rate
      const snapshot: {
        -readonly [K in keyof SubjectBaseline]: SubjectBaseline[K]
      } = {
        subject: s.name,
        errorRate: { samples: errors.n, baseline: errors.rate, windowErrors: errors.errors, windowSize: errors.filled },
        runRate: {
          closedSlices: rate.closed,
          perWindow: rate.mean,
          spread: Math.sqrt(rate.root.variance),
          current: rate.count
        }
      }
      if (s.duration !== undefined) {
        snapshot.duration = { samples: s.duration.n, typicalMs: Math.expm1(s.duration.mean), spread: Math.sqrt(s.duration.variance) }
      }
      if (s.size !== undefined) {
        snapshot.outputSize = { samples: s.size.n, typicalBytes: Math.expm1(s.size.mean), spread: Math.sqrt(s.size.variance) }
      }
      return snapshot
    }
    return undefined
  }

  private subject(key: string, kind: SubjectKind, target: string, label: string): Subject {
    const tick = ++this.tick
    const subjects = this.subjects
    let s = subjects.get(key)
    if (s !== undefined) {
      // Approximate LRU: a subject moves to the recent end at most once per half capacity of
      // ticks, so one seen within the last maxSubjects/2 accesses is never the one evicted.
      if (tick - s.touched > this.settings.maxSubjects >> 1) {
        subjects.delete(key)
        subjects.set(key, s)
        s.touched = tick
      }
      return s
    }
    if (subjects.size >= this.settings.maxSubjects) {
      const oldest = subjects.keys().next()
      if (oldest.done !== true) subjects.delete(oldest.value)
    }
    s = new Subject(`${kind}:${label}`, kind, target, this.settings.rateSlices, tick)
    subjects.set(key, s)
    return s
  }

  private level(z: number, metric: number): number {
    const t = this.settings.levels[metric] as readonly [number, number, number, number]
    if (!(z >= t[0])) return 0
    if (z >= t[3]) return 4
    if (z >= t[2]) return 3
    if (z >= t[1]) return 2
    return 1
  }

  private judgeOutput(s: Subject, o: ExecutionObservation, alerts: AnomalyAlert[] | undefined): AnomalyAlert[] | undefined {
    const t = this.settings
    if (s.duration === undefined) s.duration = new RobustEwma()
    if (s.size === undefined) s.size = new RobustEwma()
    const duration = s.duration
    const size = s.size
    const d = Math.log1p(o.durationMs)
    const b = Math.log1p(o.outputBytes)
    let out = alerts
    if (duration.n >= t.warmup) {
      const z = duration.score(d, t.minSpread)
      const level = this.level(z, DURATION)
      if (level === 0) s.durationLevel = 0
      else if (level > s.durationLevel) {
        s.durationLevel = level
        out = this.raise(out, s, 'duration', level, o.durationMs, Math.expm1(duration.mean), z, o.at)
      }
    }
    duration.push(d, t.alpha, t.clipSigmas, t.minSpread, t.warmup)
    if (size.n >= t.warmup) {
      const z = size.score(b, t.minSpread)
      const level = this.level(z, OUTPUT_SIZE)
      if (level === 0) s.sizeLevel = 0
      else if (level > s.sizeLevel) {
        s.sizeLevel = level
        out = this.raise(out, s, 'output-size', level, o.outputBytes, Math.expm1(size.mean), z, o.at)
      }
    }
    size.push(b, t.alpha, t.clipSigmas, t.minSpread, t.warmup)
    return out
  }

  private judgeErrors(s: Subject, ok: boolean, at: number, alerts: AnomalyAlert[] | undefined): AnomalyAlert[] | undefined {
    const t = this.settings
    const w = s.errors
    w.push(!ok, t.errorWindow, t.errorAlpha)
    if (w.learned < t.warmup || w.errors < t.minErrors) {
      s.errorLevel = 0
      return alerts
    }
    const z = w.score(t.minErrorRate, t.errorAlpha)
    const level = this.level(z, ERROR_RATE)
    if (level === 0) {
      s.errorLevel = 0
      return alerts
    }
    if (level <= s.errorLevel) return alerts
    s.errorLevel = level
    const expected = Math.max(w.rate, t.minErrorRate)
    return this.raise(alerts, s, 'error-rate', level, w.errors / w.filled, expected, z, at)
  }

  private judgeRate(s: Subject, at: number, alerts: AnomalyAlert[] | undefined): AnomalyAlert[] | undefined {
    const t = this.settings
    const r = s.rate
    r.push(at, t.sliceMs, t.rateAlpha, t.clipSigmas, t.rateWarmupSlices, RATE_CATCH_UP_SLICES)
    if (r.closed < t.rateWarmupSlices || r.count < t.minBurstRuns) {
      s.rateLevel = 0
      return alerts
    }
    const z = r.score()
    const level = this.level(z, RUN_RATE)
    if (level === 0) {
      s.rateLevel = 0
      return alerts
    }
    if (level <= s.rateLevel) return alerts
    s.rateLevel = level
    return this.raise(alerts, s, 'run-rate', level, r.count, r.mean, z, at)
  }

  private raise(
    alerts: AnomalyAlert[] | undefined,
    s: Subject,
    metric: AnomalyMetric,
    level: number,
    observed: number,
    expected: number,
    score: number,
    at: number
  ): AnomalyAlert[] {
    const seq = ++this.sequence
    const id = `alert-${createHash('sha256').update(`${s.name}\n${metric}\n${at}\n${seq}`).digest('hex').slice(0, 20)}`
    const alert: AnomalyAlert = Object.freeze({
      id,
      metric,
      subject: s.name,
      severity: SEVERITIES[level - 1] as Severity,
      observed,
      expected,
      score,
      at
    })
    this.onRaise?.(alert, s.kind, s.target)
    if (alerts === undefined) return [alert]
    alerts.push(alert)
    return alerts
  }
}
