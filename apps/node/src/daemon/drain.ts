import type { Engine, EngineFlow } from '@qflow/scheduler'
import type { ExecutionLog, FlowRegistry } from '@qflow/state'
import { DRAINED_STEP_TYPES, TIMER_ACTIONS } from './constants.js'

/** What a step drain reads: the engine's live state and events, the logs and the flows. */
export interface StepDrainComponents {
  /** The engine whose in-flight steps are waited for. */
  readonly engine: Pick<Engine, 'live' | 'onEvent'>
  /** Which executions are unfinished. */
  readonly log: Pick<ExecutionLog, 'listExecutions'>
  /** The flows, to know each running step's type. */
  readonly flows: Pick<FlowRegistry, 'getByHash'>
}

/** One step attempt that was in flight when a drain began. */
export interface InFlightStep {
  /** Its execution. */
  readonly executionId: string
  /** The step. */
  readonly stepId: string
  /** The attempt. */
  readonly attempt: number
}

/** What a drain found and how it ended. */
export interface DrainReport {
  /** Step attempts in flight when the drain began (work, not durable waits). */
  readonly inFlight: number
  /** How many of them reached a commit point (completed or failed, or their execution ended). */
  readonly settled: number
  /** The ones still running when the bound was reached; they run again on the next start. */
  readonly pending: readonly InFlightStep[]
  /** Whether the bound was reached before every step settled. */
  readonly timedOut: boolean
}

/** Options of {@link drainSteps}. */
export interface DrainOptions {
  /** Told the steps the drain waits for, once it knows them (before any can be missed). */
  onWaiting?: (steps: readonly InFlightStep[]) => void
}

function keyOf(executionId: string, stepId: string): string {
  return `${executionId}\u0000${stepId}`
}

/**
 * Waits, at most `timeoutMs`, for the step attempts in flight right now to reach a commit point:
 * their `step-completed` or `step-failed` entry (or the `completed` entry naming them) is in the log (or their execution ended).
 * Durable waits (`delay`, `event-trigger`), `parallel` joins and `sub-flow` parents are not work
 * in flight: the log re-arms them on the next start. Steps dispatched after the drain began are
 * not waited for; stopping the engine abandons them and the next start runs them again (with the
 * same idempotency key).
 */
export async function drainSteps(components: StepDrainComponents, timeoutMs: number, options: DrainOptions = {}): Promise<DrainReport> {
  const { engine, log, flows } = components
  const pending = new Map<string, InFlightStep>()
  const byExecution = new Map<string, Set<string>>()
  let settled = 0
  let scanning = true
  let wake: (() => void) | undefined

  const settle = (key: string): void => {
    const step = pending.get(key)
    if (step === undefined) return
    pending.delete(key)
    byExecution.get(step.executionId)?.delete(key)
    settled++
    if (!scanning && pending.size === 0) wake?.()
  }

  // Listen first, so nothing that settles while the executions are scanned is missed.
  const off = engine.onEvent(
    (event) => {
      if (event.type === 'q.qflow.exec.step.completed.v1') {
        const data = event.data as { executionId: string; stepId: string; attempt: number }
        const key = keyOf(data.executionId, data.stepId)
        if (pending.get(key)?.attempt === data.attempt) settle(key)
      } else if (event.type === 'q.qflow.exec.completed.v1') {
        const { executionId } = event.data as { executionId: string }
        for (const key of [...(byExecution.get(executionId) ?? [])]) settle(key)
      }
    },
    { types: ['q.qflow.exec.step.completed.v1', 'q.qflow.exec.completed.v1'], digests: false }
  )
  try {
    const types = new Map<string, Map<string, { type: string; action?: string }>>()
    const stepTypes = async (flowHash: string) => {
      let known = types.get(flowHash)
      if (known === undefined) {
        const flow = (await flows.getByHash(flowHash)) as unknown as EngineFlow
        known = new Map(flow.steps.map((s) => [s.id, s.action === undefined ? { type: s.type } : { type: s.type, action: s.action }]))
        types.set(flowHash, known)
      }
      return known
    }
    for (const head of await log.listExecutions({ status: ['running', 'paused'] })) {
      const state = engine.live(head.executionId)
      if (state === undefined) continue
      for (const [stepId, record] of Object.entries(state.steps)) {
        if (record.status !== 'running' || record.dueAt !== undefined || record.wait !== undefined) continue
        const step = (await stepTypes(state.flowHash)).get(stepId)
        if (step === undefined || !DRAINED_STEP_TYPES.includes(step.type)) continue
        if (step.type === 'task' && TIMER_ACTIONS.includes(step.action ?? '')) continue
        const key = keyOf(state.id, stepId)
        pending.set(key, { executionId: state.id, stepId, attempt: record.attempt })
        let keys = byExecution.get(state.id)
        if (keys === undefined) {
          keys = new Set()
          byExecution.set(state.id, keys)
        }
        keys.add(key)
      }
    }
    // What settled while the scan was awaiting the store shows in the live state.
    for (const [key, step] of [...pending]) {
      const record = engine.live(step.executionId)?.steps[step.stepId]
      if (record === undefined || record.status !== 'running' || record.attempt !== step.attempt) settle(key)
    }
    scanning = false
    const inFlight = pending.size + settled
    options.onWaiting?.([...pending.values()])
    let timedOut = false
    if (pending.size > 0) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        wake = resolve
        timer = setTimeout(() => {
          timedOut = true
          resolve()
        }, timeoutMs)
      })
      clearTimeout(timer)
    }
    return { inFlight, settled, pending: [...pending.values()], timedOut: timedOut && pending.size > 0 }
  } finally {
    off()
  }
}
