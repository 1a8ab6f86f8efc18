import type { STAGE_ORDER } from './constants.js'
import type { OperationContext } from './operation.js'

/** The name of one of the four pipeline stages. */
export type StageName = (typeof STAGE_ORDER)[number]

/** A stage let the operation through. `details` are visible to later stages and in the trace. */
export interface StagePass {
  readonly ok: true
  readonly details?: Readonly<Record<string, unknown>>
}

/** A stage stopped the operation. */
export interface StageFail {
  readonly ok: false
  /** A stable machine-readable code, e.g. `TOKEN_EXPIRED`, `CONSENT_DENIED`. */
  readonly code: string
  /** What a person reads. */
  readonly reason: string
  /** Structured facts callers act on. */
  readonly details?: Readonly<Record<string, unknown>>
  /** Whether the same operation may pass later unchanged (an expired consent renewed, a service back). */
  readonly retryable?: boolean
}

/** What a stage returns. */
export type StageVerdict = StagePass | StageFail

/** One stage that ran, as the trace records it. */
export interface StageTraceEntry {
  readonly stage: StageName
  readonly verdict: StageVerdict
  /** Milliseconds the stage took. */
  readonly durationMs: number
}

/**
 * The v1 stage contract. A stage returns its verdict synchronously or as a promise; it sees the
 * operation and the entries of the stages that ran before it (Qonsent reads the identity Qlock
 * verified, for example). A stage that throws is a failing verdict with code `STAGE_ERROR`.
 */
export interface PipelineStageV1 {
  /** Which of the four stages this is. */
  readonly name: StageName
  /** The contract version the stage was written against. */
  readonly apiVersion: 1
  /** Judges one operation. */
  evaluate(
    operation: OperationContext,
    earlier: readonly StageTraceEntry[],
    signal?: AbortSignal
  ): StageVerdict | Promise<StageVerdict>
}

/** Any stage the pipeline accepts (a union over the contract versions it supports). */
export type PipelineStage = PipelineStageV1

/** A verdict that lets the operation through with no details. */
export const PASS: StagePass = Object.freeze({ ok: true })

/** A stage that lets everything through: for modules that have no use for one of the stages. */
export function passThroughStage(name: StageName): PipelineStageV1 {
  return { name, apiVersion: 1, evaluate: () => PASS }
}

/** Finds the pass details a stage that ran earlier left, if it passed. */
export function earlierDetails(earlier: readonly StageTraceEntry[], stage: StageName): Readonly<Record<string, unknown>> | undefined {
  for (const entry of earlier) {
    if (entry.stage === stage && entry.verdict.ok) return entry.verdict.details
  }
  return undefined
}
