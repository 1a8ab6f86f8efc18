import { performance } from 'node:perf_hooks'
import { DEFAULT_PIPELINE_VERSION, PIPELINE_API_VERSION, STAGE_ORDER, SUPPORTED_STAGE_API_VERSIONS } from './constants.js'
import { MissingStageError, PipelineHaltedError, StageOrderError, UnsupportedStageVersionError } from './errors.js'
import { createOperationContext, type OperationContext, type OperationInput } from './operation.js'
import type { PipelineStage, StageName, StageTraceEntry, StageVerdict } from './stage.js'

/** Callbacks for metrics and audit. Absent hooks cost nothing. */
export interface PipelineHooks {
  /** Before a stage runs. */
  onStageStart?(stage: StageName, operation: OperationContext): void
  /** After a stage ran, whatever its verdict. */
  onStageEnd?(entry: StageTraceEntry, operation: OperationContext): void
  /** When a stage halted the run, before the error is thrown. */
  onHalt?(error: PipelineHaltedError): void
}

/** Options of {@link createPipeline}. */
export interface PipelineInit {
  /** The four stages, in the order Qlock, Qonsent, Qindex, Qerberos. */
  stages: readonly PipelineStage[]
  /** The version stamped on every operation context. Default `1.0.0`. */
  version?: string
  /** Metrics and audit callbacks. */
  hooks?: PipelineHooks
}

/** Options of one run. */
export interface RunOptions {
  /** Aborts the run between stages (and is handed to stages). */
  signal?: AbortSignal
}

/** A run every stage let through. */
export interface PipelineResult {
  /** The operation as the stages saw it. */
  readonly operation: OperationContext
  /** Every stage with its verdict and duration. */
  readonly trace: readonly StageTraceEntry[]
}

/** The universal validation pipeline. */
export interface Pipeline {
  /** The version stamped on operations. */
  readonly version: string
  /** The stage contract version the pipeline speaks. */
  readonly apiVersion: number
  /** The stages, in order. */
  readonly stages: readonly PipelineStage[]
  /**
   * Runs an operation through the four stages in order.
   *
   * @throws {@link PipelineHaltedError} at the first stage that fails; later stages do not run.
   */
  run(input: OperationInput, options?: RunOptions): Promise<PipelineResult>
}

function isPromiseLike(value: unknown): value is PromiseLike<StageVerdict> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function errorCode(err: unknown): string {
  const name = (err as { name?: unknown } | null)?.name
  if (typeof name !== 'string' || name === 'Error') return 'STAGE_ERROR'
  return name
    .replace(/Error$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
}

/**
 * Turns an error a stage (or a service it called) threw into a failing verdict: the code is the
 * error's name in SCREAMING_SNAKE without `Error` (`TokenExpiredError` → `TOKEN_EXPIRED`), and
 * its `retryable` flag is kept.
 */
export function verdictFromError(err: unknown): StageVerdict {
  const e = err as { name?: unknown; message?: unknown; retryable?: unknown } | null
  return {
    ok: false,
    code: errorCode(err),
    reason: typeof e?.message === 'string' && e.message !== '' ? e.message : String(err),
    details: { error: typeof e?.name === 'string' ? e.name : 'Error' },
    retryable: e?.retryable === true
  }
}

function checkStages(stages: readonly PipelineStage[]): void {
  for (const stage of stages) {
    if (!SUPPORTED_STAGE_API_VERSIONS.includes(stage.apiVersion)) {
      throw new UnsupportedStageVersionError(stage.name, stage.apiVersion, SUPPORTED_STAGE_API_VERSIONS)
    }
  }
  for (const expected of STAGE_ORDER) {
    if (!stages.some((stage) => stage.name === expected)) throw new MissingStageError(expected)
  }
  for (let i = 0; i < stages.length; i++) {
    const expected = STAGE_ORDER[Math.min(i, STAGE_ORDER.length - 1)] as StageName
    const found = (stages[i] as PipelineStage).name
    if (i >= STAGE_ORDER.length || found !== expected) throw new StageOrderError(found, expected, i)
  }
}

class UniversalPipeline implements Pipeline {
  readonly version: string
  readonly apiVersion = PIPELINE_API_VERSION
  readonly stages: readonly PipelineStage[]
  private readonly hooks: PipelineHooks | undefined

  constructor(init: PipelineInit) {
    checkStages(init.stages)
    this.stages = Object.freeze([...init.stages])
    this.version = init.version ?? DEFAULT_PIPELINE_VERSION
    const hooks = init.hooks
    this.hooks = hooks !== undefined && (hooks.onStageStart ?? hooks.onStageEnd ?? hooks.onHalt) !== undefined ? hooks : undefined
  }

  async run(input: OperationInput, options?: RunOptions): Promise<PipelineResult> {
    const operation = createOperationContext(input, this.version)
    const signal = options?.signal
    const hooks = this.hooks
    const trace: StageTraceEntry[] = []
    for (const stage of this.stages) {
      if (signal?.aborted === true) {
        this.halt(operation, trace, stage.name, { ok: false, code: 'ABORTED', reason: 'The operation was aborted', retryable: true }, signal.reason)
      }
      hooks?.onStageStart?.(stage.name, operation)
      const started = performance.now()
      let verdict: StageVerdict
      let cause: unknown
      try {
        const returned = stage.evaluate(operation, trace, signal)
        verdict = isPromiseLike(returned) ? await returned : returned
      } catch (err) {
        verdict = verdictFromError(err)
        cause = err
      }
      const entry: StageTraceEntry = { stage: stage.name, verdict, durationMs: performance.now() - started }
      trace.push(entry)
      hooks?.onStageEnd?.(entry, operation)
      if (!verdict.ok) this.halt(operation, trace, stage.name, verdict, cause)
    }
    return { operation, trace }
  }

  private halt(
    operation: OperationContext,
    trace: readonly StageTraceEntry[],
    stage: StageName,
    verdict: Extract<StageVerdict, { ok: false }>,
    cause: unknown
  ): never {
    const error = new PipelineHaltedError({
      stage,
      code: verdict.code,
      reason: verdict.reason,
      details: verdict.details,
      retryable: verdict.retryable,
      trace,
      operation,
      cause
    })
    this.hooks?.onHalt?.(error)
    throw error
  }
}

/**
 * Makes a pipeline. The stages must be exactly Qlock, Qonsent, Qindex and Qerberos in that order.
 *
 * @throws {@link MissingStageError} when a stage is missing, {@link StageOrderError} when misordered,
 * {@link UnsupportedStageVersionError} when a stage speaks a contract version this pipeline does not run.
 */
export function createPipeline(init: PipelineInit): Pipeline {
  return new UniversalPipeline(init)
}
