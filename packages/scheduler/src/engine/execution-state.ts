import type { FlowGraph, StepOutcome } from './graph.js'

/** An error as the log records it. */
export interface ErrorInfo {
  name: string
  message: string
  retryable?: boolean
  code?: string
  stepId?: string
}

/** Where a step of an execution stands. */
export interface StepRecord {
  status: 'running' | 'waiting' | 'retry-wait' | 'succeeded' | 'failed' | 'cancelled'
  attempt: number
  idempotencyKey: string
  startedAt: number
  endedAt?: number
  output?: unknown
  error?: ErrorInfo
  /** When the next attempt is due (retry-wait). */
  retryAt?: number
  /** When a durable delay ends. */
  dueAt?: number
  /** What an event-trigger step waits for. */
  wait?: { event: string; filter?: unknown; deadline?: number }
}

/** A thread of control: the main path, or one branch of a parallel step. */
export interface TokenRecord {
  id: string
  stepId: string
  state: 'ready' | 'running' | 'waiting' | 'retry-wait' | 'joining'
  /** The token of the parallel step this branch belongs to. */
  parent?: string
  branch?: number
}

/** A parallel step waiting for its branches. */
export interface JoinRecord {
  parallel: string
  needed: number
  total: number
  succeeded: number[]
  failed: number[]
  outputs: Record<string, unknown>
  errors: Record<string, ErrorInfo>
}

/** Status of an execution. */
export type ExecutionStatusName = 'running' | 'paused' | 'completed' | 'failed' | 'aborted'

/**
 * The reduced state of an execution: a pure function of its log, so any node replaying the same
 * entries reaches the same state. Plain data (no `undefined`), so it can be snapshotted as dag-json.
 */
export interface ExecutionState {
  id: string
  flowId: string
  flowVersion: string
  flowHash: string
  actor: string
  subnet: string
  trigger?: string
  parent?: { executionId: string; stepId: string }
  input: unknown
  status: ExecutionStatusName
  pausedReason?: string
  startedAt: number
  updatedAt: number
  seq: number
  steps: Record<string, StepRecord>
  tokens: Record<string, TokenRecord>
  joins: Record<string, JoinRecord>
  /** Tokens a join cancelled, with when: entries their steps wrote afterwards change nothing. */
  cancelled?: Record<string, number>
  /** Set when the last path ended: the terminal entry the engine must append. */
  ending?: { status: 'completed' | 'failed'; output?: unknown; error?: ErrorInfo }
  output?: unknown
  error?: ErrorInfo
}

/** A log entry as the reducer reads it. */
export interface StateEntry {
  seq: number
  kind: string
  stepId?: string
  attempt?: number
  ts: number
  payload: unknown
}

/** Payload of `started`. */
export interface StartedPayload {
  flowId: string
  flowVersion: string
  flowHash: string
  actor: string
  subnet: string
  input: unknown
  trigger?: string
  parent?: { executionId: string; stepId: string }
}

/**
 * The completion of a pure step (a condition, `data.transform`, `log`) that an execution's next
 * entry carries instead of an entry of its own: pure steps have no effects, so nothing needs the
 * completion durable before the next step runs, and a crash before that entry runs them again.
 */
export interface PrecedingCompletion extends CompletedPayload {
  stepId: string
  attempt: number
  ts: number
}

/**
 * The start that a final entry opening its execution's log carries (`payload.started`): a run
 * that ended before it wrote anything else (a chain of pure steps) records its start and its end
 * in that one entry. `ts` is when it started.
 */
export interface CarriedStart extends StartedPayload {
  ts: number
}

/** The kinds of entry that may open a log carrying the start (`payload.started`). */
export const OPENING_KINDS: ReadonlySet<string> = new Set(['completed', 'failed', 'aborted'])

/** The kinds of entry whose payload may carry `preceding` completions, applied before the entry itself. */
export const CARRIER_KINDS: ReadonlySet<string> = new Set(['step-dispatched', 'step-completed', 'step-failed', 'completed', 'log'])

/** Payload of `step-dispatched`. */
export interface DispatchedPayload {
  token: string
  idempotencyKey: string
  dueAt?: number
  wait?: { event: string; filter?: unknown; deadline?: number }
  preceding?: PrecedingCompletion[]
}

/** Payload of `step-completed`. */
export interface CompletedPayload {
  token: string
  idempotencyKey: string
  output: unknown
  outcome?: StepOutcome
  preceding?: PrecedingCompletion[]
}

/** Payload of `step-failed`. */
export interface FailedPayload {
  token: string
  idempotencyKey: string
  error: ErrorInfo
  retryAt?: number
  preceding?: PrecedingCompletion[]
}

/** Thrown when a log does not make sense for its flow (entries out of order, unknown tokens). */
export class InconsistentLogError extends Error {
  static override readonly name = 'InconsistentLogError'
  override readonly name = 'InconsistentLogError'
  readonly seq: number
  constructor(seq: number, message: string) {
    super(`Log entry ${seq}: ${message}`)
    this.seq = seq
  }
}

/**
 * The start an execution's first entry records, as a `started` entry: the entry itself, or the
 * start a final entry carries when it opened the log; undefined when it records none.
 */
export function startOf(first: StateEntry): StateEntry | undefined {
  if (first.kind === 'started') return first
  if (first.seq !== 0 || !OPENING_KINDS.has(first.kind)) return undefined
  const started = (first.payload as { started?: unknown } | null)?.started as Partial<CarriedStart> | null | undefined
  if (started === null || typeof started !== 'object' || typeof started.ts !== 'number' || typeof started.flowHash !== 'string') return undefined
  const { ts, ...payload } = started
  return { seq: first.seq, kind: 'started', ts, payload }
}

/** The state right after `started`. */
export function initialState(executionId: string, graph: FlowGraph, entry: StateEntry): ExecutionState {
  const p = entry.payload as StartedPayload
  const state: ExecutionState = {
    id: executionId,
    flowId: p.flowId,
    flowVersion: p.flowVersion,
    flowHash: p.flowHash,
    actor: p.actor,
    subnet: p.subnet,
    input: p.input ?? null,
    status: 'running',
    startedAt: entry.ts,
    updatedAt: entry.ts,
    seq: entry.seq,
    steps: {},
    tokens: { t: { id: 't', stepId: graph.entry, state: 'ready' } },
    joins: {}
  }
  if (p.trigger !== undefined) state.trigger = p.trigger
  if (p.parent !== undefined) state.parent = p.parent
  return state
}

/**
 * The active token an entry is about, or `undefined` when a join cancelled it before the entry was
 * written (its step was already running and settled after the join moved on: the entry is kept
 * and changes nothing). Any other unknown token means the log does not fit the flow.
 */
function token(state: ExecutionState, id: string, seq: number): TokenRecord | undefined {
  const t = state.tokens[id]
  if (t === undefined && state.cancelled?.[id] === undefined) throw new InconsistentLogError(seq, `no active token ${id}`)
  return t
}

function cancelDescendants(state: ExecutionState, parent: string, at: number): void {
  for (const t of Object.values(state.tokens)) {
    if (t.parent !== parent) continue
    if (t.state === 'joining') cancelDescendants(state, t.id, at)
    const step = state.steps[t.stepId]
    if (step !== undefined && (step.status === 'running' || step.status === 'waiting' || step.status === 'retry-wait')) {
      step.status = 'cancelled'
      step.endedAt = at
    }
    delete state.tokens[t.id]
    delete state.joins[t.id]
    state.cancelled ??= {}
    state.cancelled[t.id] = at
  }
}

function endToken(state: ExecutionState, graph: FlowGraph, t: TokenRecord, ok: boolean, value: unknown, at: number): void {
  delete state.tokens[t.id]
  if (t.parent === undefined) {
    if (ok) state.ending = { status: 'completed', output: value ?? null }
    else state.ending = { status: 'failed', error: value as ErrorInfo }
    return
  }
  const join = state.joins[t.parent]
  const parentToken = state.tokens[t.parent]
  if (join === undefined || parentToken === undefined) return
  const branch = t.branch ?? 0
  if (ok) {
    join.succeeded.push(branch)
    join.outputs[String(branch)] = value ?? null
  } else {
    join.failed.push(branch)
    join.errors[String(branch)] = value as ErrorInfo
  }
  const done = join.succeeded.length >= join.needed
  const impossible = join.total - join.failed.length < join.needed
  if (!done && !impossible) return
  cancelDescendants(state, parentToken.id, at)
  delete state.joins[parentToken.id]
  const record = state.steps[join.parallel]
  if (done) {
    const output = { branches: Array.from({ length: join.total }, (_, i) => join.outputs[String(i)] ?? null), completed: join.succeeded }
    if (record !== undefined) {
      record.status = 'succeeded'
      record.output = output
      record.endedAt = at
    }
    advance(state, graph, parentToken, join.parallel, 'success', output, at)
  } else {
    const error: ErrorInfo = {
      name: 'ParallelJoinError',
      message: `${join.failed.length} of ${join.total} branches failed; the join needed ${join.needed}`,
      stepId: join.parallel
    }
    if (record !== undefined) {
      record.status = 'failed'
      record.error = error
      record.endedAt = at
    }
    advance(state, graph, parentToken, join.parallel, 'failure', error, at)
  }
}

function advance(state: ExecutionState, graph: FlowGraph, t: TokenRecord, from: string, outcome: StepOutcome, value: unknown, at: number): void {
  const next = graph.next(from, outcome)
  if (next !== undefined) {
    t.stepId = next
    t.state = 'ready'
    return
  }
  // A path that ends on a failure or an unhandled timeout fails; any other end is a success.
  const failed = outcome === 'failure' || outcome === 'timeout'
  endToken(state, graph, t, !failed, value, at)
}

function joinNeeded(join: 'all' | 'any' | { readonly count: number } | undefined, total: number): number {
  if (join === 'any') return Math.min(1, total)
  if (join === undefined || join === 'all') return total
  return Math.min(join.count, total)
}

/** Applies a step's completion (a `step-completed` entry, or a `completed` entry naming its last step). */
function completeStep(state: ExecutionState, graph: FlowGraph, entry: StateEntry): void {
  const p = entry.payload as CompletedPayload
  const stepId = entry.stepId as string
  const t = token(state, p.token, entry.seq)
  if (t === undefined) return
  const previous = state.steps[stepId]
  state.steps[stepId] = {
    status: 'succeeded',
    attempt: entry.attempt ?? 1,
    idempotencyKey: p.idempotencyKey,
    startedAt: previous?.startedAt ?? entry.ts,
    endedAt: entry.ts,
    output: p.output ?? null
  }
  advance(state, graph, t, stepId, p.outcome ?? 'success', p.output ?? null, entry.ts)
}

/**
 * Whether completing `stepId` (on token `tokenId`, with `outcome`) completes the execution: the
 * token is the only one, outside any branch, and no edge leads on. The engine then writes one
 * `completed` entry naming the step instead of a `step-completed` entry and a `completed` one.
 */
export function completesExecution(state: ExecutionState, graph: FlowGraph, tokenId: string, stepId: string, outcome: StepOutcome): boolean {
  const t = state.tokens[tokenId]
  if (state.status !== 'running' || t === undefined || t.parent !== undefined || outcome === 'failure' || outcome === 'timeout') return false
  for (const id in state.tokens) if (id !== tokenId) return false
  return graph.next(stepId, outcome) === undefined
}

/** Applies the pure-step completions an entry carries (`payload.preceding`), in order. */
function applyPreceding(state: ExecutionState, graph: FlowGraph, entry: StateEntry): void {
  const preceding = (entry.payload as { preceding?: unknown } | null)?.preceding
  if (preceding === undefined) return
  if (!Array.isArray(preceding)) throw new InconsistentLogError(entry.seq, 'preceding is not a list of step completions')
  for (const c of preceding as unknown[]) {
    const p = c as Partial<PrecedingCompletion> | null
    if (p === null || typeof p !== 'object' || typeof p.stepId !== 'string' || typeof p.token !== 'string' || typeof p.ts !== 'number' || typeof p.attempt !== 'number') {
      throw new InconsistentLogError(entry.seq, 'a preceding completion lacks its step, token, attempt or time')
    }
    completeStep(state, graph, { seq: entry.seq, kind: 'step-completed', stepId: p.stepId, attempt: p.attempt, ts: p.ts, payload: p })
  }
}

/** Applies one log entry (and the completions it carries) to the state, in place, and returns it. */
export function applyEntry(state: ExecutionState, graph: FlowGraph, entry: StateEntry): ExecutionState {
  if (CARRIER_KINDS.has(entry.kind)) applyPreceding(state, graph, entry)
  const at = entry.ts
  state.seq = entry.seq
  state.updatedAt = at
  switch (entry.kind) {
    case 'step-dispatched': {
      const p = entry.payload as DispatchedPayload
      const stepId = entry.stepId as string
      const t = token(state, p.token, entry.seq)
      if (t === undefined) return state
      const step = graph.step(stepId)
      t.stepId = stepId
      const record: StepRecord = {
        status: step.type === 'event-trigger' ? 'waiting' : 'running',
        attempt: entry.attempt ?? 1,
        idempotencyKey: p.idempotencyKey,
        startedAt: at
      }
      if (p.dueAt !== undefined) record.dueAt = p.dueAt
      if (p.wait !== undefined) record.wait = p.wait
      state.steps[stepId] = record
      if (step.type === 'parallel') {
        const branches = graph.branches(stepId)
        t.state = 'joining'
        state.joins[t.id] = {
          parallel: stepId,
          needed: joinNeeded(step.join, branches.length),
          total: branches.length,
          succeeded: [],
          failed: [],
          outputs: {},
          errors: {}
        }
        branches.forEach((branch, b) => {
          const id = `${t.id}/${stepId}.${b}`
          state.tokens[id] = { id, stepId: branch[0] as string, state: 'ready', parent: t.id, branch: b }
        })
      } else {
        t.state = step.type === 'event-trigger' ? 'waiting' : 'running'
      }
      return state
    }
    case 'step-completed':
      completeStep(state, graph, entry)
      return state
    case 'step-failed': {
      const p = entry.payload as FailedPayload
      const stepId = entry.stepId as string
      const t = token(state, p.token, entry.seq)
      if (t === undefined) return state
      const previous = state.steps[stepId]
      const record: StepRecord = {
        status: p.retryAt === undefined ? 'failed' : 'retry-wait',
        attempt: entry.attempt ?? 1,
        idempotencyKey: p.idempotencyKey,
        startedAt: previous?.startedAt ?? at,
        error: p.error
      }
      state.steps[stepId] = record
      if (p.retryAt !== undefined) {
        record.retryAt = p.retryAt
        t.stepId = stepId
        t.state = 'retry-wait'
        return state
      }
      record.endedAt = at
      advance(state, graph, t, stepId, 'failure', { ...p.error, stepId }, at)
      return state
    }
    case 'paused':
      state.status = 'paused'
      state.pausedReason = String((entry.payload as { reason?: unknown } | null)?.reason ?? 'paused')
      return state
    case 'resumed':
      state.status = 'running'
      delete state.pausedReason
      return state
    case 'aborted':
      state.status = 'aborted'
      state.error = { name: 'ExecutionAbortedError', message: String((entry.payload as { reason?: unknown } | null)?.reason ?? 'aborted') }
      state.tokens = {}
      state.joins = {}
      delete state.ending
      return state
    case 'completed':
      if (entry.stepId === undefined) {
        state.output = (entry.payload as { output?: unknown } | null)?.output ?? null
      } else {
        // The completion of the last step and of the execution in one entry: the step's payload,
        // and the execution's output is where that step's completion leads.
        completeStep(state, graph, entry)
        if (state.ending?.status !== 'completed') throw new InconsistentLogError(entry.seq, `completing step ${entry.stepId} does not complete the execution`)
        state.output = state.ending.output ?? null
      }
      state.status = 'completed'
      state.tokens = {}
      delete state.ending
      return state
    case 'failed':
      state.status = 'failed'
      state.error = (entry.payload as { error: ErrorInfo }).error
      state.tokens = {}
      state.joins = {}
      delete state.ending
      return state
    default:
      // snapshot entries and kinds this engine version does not know change nothing.
      return state
  }
}
