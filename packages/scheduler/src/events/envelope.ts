import { randomUUID } from 'node:crypto'

/** The names of the events the engine emits. */
export const QFLOW_EVENTS = [
  'q.qflow.flow.created.v1',
  'q.qflow.exec.started.v1',
  'q.qflow.exec.step.dispatched.v1',
  'q.qflow.exec.step.completed.v1',
  'q.qflow.exec.completed.v1',
  'q.qflow.validation.pipeline.executed.v1'
] as const

/** One of {@link QFLOW_EVENTS}. */
export type QflowEventName = (typeof QFLOW_EVENTS)[number]

/** `q.qflow.flow.created.v1`: a flow version was stored. */
export interface FlowCreatedData {
  flowId: string
  version: string
  hash: string
  owner: string
  name: string
}

/** `q.qflow.exec.started.v1`: an execution began. */
export interface ExecStartedData {
  executionId: string
  flowId: string
  flowVersion: string
  flowHash: string
  inputDigest: string
  trigger?: string
}

/** `q.qflow.exec.step.dispatched.v1`: a step attempt was handed to its executor. */
export interface ExecStepDispatchedData {
  executionId: string
  flowId: string
  stepId: string
  stepType: string
  attempt: number
  idempotencyKey: string
}

/** `q.qflow.exec.step.completed.v1`: a step attempt finished, well or not. */
export interface ExecStepCompletedData {
  executionId: string
  flowId: string
  stepId: string
  attempt: number
  status: 'succeeded' | 'failed'
  durationMs: number
  outputDigest?: string
  error?: { name: string; message: string; retryable: boolean }
}

/** `q.qflow.exec.completed.v1`: an execution reached an end. */
export interface ExecCompletedData {
  executionId: string
  flowId: string
  status: 'completed' | 'failed' | 'aborted'
  durationMs: number
  outputDigest?: string
  error?: { name: string; message: string; stepId?: string }
}

/** `q.qflow.validation.pipeline.executed.v1`: an operation went through the universal pipeline. */
export interface PipelineExecutedData {
  traceId: string
  kind: string
  resource: string
  outcome: 'passed' | 'halted'
  stage?: string
  code?: string
  stages: { stage: string; ok: boolean; durationMs: number }[]
}

/** The data each event carries. */
export interface QflowEventData {
  'q.qflow.flow.created.v1': FlowCreatedData
  'q.qflow.exec.started.v1': ExecStartedData
  'q.qflow.exec.step.dispatched.v1': ExecStepDispatchedData
  'q.qflow.exec.step.completed.v1': ExecStepCompletedData
  'q.qflow.exec.completed.v1': ExecCompletedData
  'q.qflow.validation.pipeline.executed.v1': PipelineExecutedData
}

/** The ecosystem's event envelope. */
export interface QflowEvent<N extends QflowEventName = QflowEventName> {
  /** Unique id of this event. */
  eventId: string
  /** When it happened, ISO 8601. */
  timestamp: string
  /** The event name (`q.qflow.<noun>.<verb>.v<major>`). */
  type: N
  /** Envelope and data schema version. */
  version: '1.0.0'
  /** Which node emitted it (`qflow://<node did>`). */
  source: string
  /** The identity on whose behalf it happened. */
  actor: string
  /** The event's facts. */
  data: QflowEventData[N]
}

/** Wraps event data in the ecosystem envelope. */
export function createEvent<N extends QflowEventName>(
  type: N,
  data: QflowEventData[N],
  init: { source: string; actor: string; now?: number }
): QflowEvent<N> {
  return {
    eventId: randomUUID(),
    timestamp: new Date(init.now ?? Date.now()).toISOString(),
    type,
    version: '1.0.0',
    source: init.source,
    actor: init.actor,
    data
  }
}
