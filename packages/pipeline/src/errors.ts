import type { OperationContext } from './operation.js'
import type { StageName, StageTraceEntry } from './stage.js'

/**
 * Thrown when a stage rejects an operation. Nothing after that stage ran; `trace` holds every
 * stage that did, with its verdict and duration.
 */
export class PipelineHaltedError extends Error {
  static override readonly name = 'PipelineHaltedError'
  override readonly name = 'PipelineHaltedError'
  /** The stage that halted the run. */
  readonly stage: StageName
  /** The stage's code, e.g. `CONSENT_DENIED`. */
  readonly code: string
  /** The stage's reason, for people. */
  readonly reason: string
  /** Structured facts from the stage. */
  readonly details: Readonly<Record<string, unknown>>
  /** Whether the operation may pass later unchanged. */
  readonly retryable: boolean
  /** Every stage that ran, the failing one last. */
  readonly trace: readonly StageTraceEntry[]
  /** The operation that was halted. */
  readonly operation: OperationContext

  constructor(init: {
    stage: StageName
    code: string
    reason: string
    details?: Readonly<Record<string, unknown>> | undefined
    retryable?: boolean | undefined
    trace: readonly StageTraceEntry[]
    operation: OperationContext
    cause?: unknown
  }) {
    super(`Pipeline halted at ${init.stage}: ${init.code}: ${init.reason}`, init.cause === undefined ? undefined : { cause: init.cause })
    this.stage = init.stage
    this.code = init.code
    this.reason = init.reason
    this.details = init.details ?? {}
    this.retryable = init.retryable ?? false
    this.trace = init.trace
    this.operation = init.operation
  }
}

/** Thrown at construction when the stages are not given in the order Qlock, Qonsent, Qindex, Qerberos. */
export class StageOrderError extends Error {
  static override readonly name = 'StageOrderError'
  override readonly name = 'StageOrderError'
  /** The stage found where another was expected. */
  readonly found: string
  /** The stage expected at that position. */
  readonly expected: StageName
  /** The position, from 0. */
  readonly position: number

  constructor(found: string, expected: StageName, position: number) {
    super(`Stage ${position} is ${found}, expected ${expected}: stages run Qlock → Qonsent → Qindex → Qerberos`)
    this.found = found
    this.expected = expected
    this.position = position
  }
}

/** Thrown at construction when one of the four stages is missing. */
export class MissingStageError extends Error {
  static override readonly name = 'MissingStageError'
  override readonly name = 'MissingStageError'
  /** The stage that is missing. */
  readonly stage: StageName

  constructor(stage: StageName) {
    super(`The pipeline needs a ${stage} stage (use passThroughStage('${stage}') to let everything through)`)
    this.stage = stage
  }
}

/** Thrown at construction when a stage speaks a contract version this pipeline does not run. */
export class UnsupportedStageVersionError extends Error {
  static override readonly name = 'UnsupportedStageVersionError'
  override readonly name = 'UnsupportedStageVersionError'
  /** The stage. */
  readonly stage: string
  /** The version it declared. */
  readonly apiVersion: unknown
  /** The versions this pipeline runs. */
  readonly supported: readonly number[]

  constructor(stage: string, apiVersion: unknown, supported: readonly number[]) {
    super(`Stage ${stage} declares apiVersion ${String(apiVersion)}; this pipeline runs ${supported.join(', ')}`)
    this.stage = stage
    this.apiVersion = apiVersion
    this.supported = supported
  }
}
