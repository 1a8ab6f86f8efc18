import { buildStepGraph, compileJsonSchema, type StepGraph } from '@qflow/flow-schema'
import type { EngineFlow, EngineStep } from './flow-model.js'

/** How a step ended, which picks the edge followed. */
export type StepOutcome = 'success' | 'failure' | 'true' | 'false' | 'timeout'

/** A flow prepared for running: the flow-schema step graph (the one validation checks) plus its hash. */
export interface FlowGraph {
  readonly flow: EngineFlow
  /** The flow hash the execution runs. */
  readonly hash: string
  /** The first step. */
  readonly entry: string
  /** Whether any step is `parallel` (else one step at a time is ever in flight). */
  readonly parallel: boolean
  /** A step by id. */
  step(id: string): EngineStep
  /** A parallel step's branches (step ids, in order). */
  branches(id: string): readonly (readonly string[])[]
  /** The step that follows `id` for this outcome, or undefined where the path (or branch) ends. */
  next(id: string, outcome: StepOutcome): string | undefined
  /** Problems of an input against the flow's `inputSchema` (none when it has no schema). */
  checkInput(input: unknown): { pointer: string; message: string }[]
}

/** Thrown when an execution refers to a step its flow does not have (a corrupted or mismatched log). */
export class UnknownStepError extends Error {
  static override readonly name = 'UnknownStepError'
  override readonly name = 'UnknownStepError'
  readonly stepId: string
  constructor(stepId: string) {
    super(`The flow has no step ${stepId}`)
    this.stepId = stepId
  }
}

/**
 * Prepares a validated flow for running, over `buildStepGraph` from `@qflow/flow-schema`: without
 * `onSuccess` a step is followed by the next one in the list that belongs to no parallel branch;
 * a step in a branch continues only within its branch.
 */
export function buildFlowGraph(flow: EngineFlow, hash: string): FlowGraph {
  const graph: StepGraph = buildStepGraph(flow as never)
  const entry = graph.entry
  if (entry === undefined) throw new UnknownStepError('(the flow has no steps)')
  const validateInput = flow.inputSchema === undefined ? undefined : compileJsonSchema(flow.inputSchema as never)
  return {
    flow,
    hash,
    entry,
    parallel: (flow.steps as readonly { readonly type?: unknown }[]).some((step) => step.type === 'parallel'),
    step(id) {
      const step = graph.step(id)
      if (step === undefined) throw new UnknownStepError(id)
      return step as unknown as EngineStep
    },
    branches: (id) => graph.branches(id),
    next(id, outcome) {
      for (const edge of graph.edges(id)) if (edge.kind === outcome) return edge.to
      return undefined
    },
    checkInput(input) {
      if (validateInput === undefined || validateInput(input)) return []
      return (validateInput.errors ?? []).map((e) => ({ pointer: e.instancePath, message: e.message ?? 'is invalid' }))
    }
  }
}
