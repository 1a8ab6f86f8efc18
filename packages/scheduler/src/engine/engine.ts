import { randomUUID } from 'node:crypto'
import type { ActorCredentials, IndexRecord, Pipeline, PipelineResult, Qerberos, Qindex } from '@qflow/pipeline'
import { PipelineHaltedError, payloadDigest } from '@qflow/pipeline'
import { assertValidFlow, MAX_EVENT_WAIT_MS, templateExpression } from '@qflow/flow-schema'
import type { AppendInput, ExecutionLog, FlowRegistry, FlowVersion, LogEntry } from '@qflow/state'
import { type Action, type ActionContext, type ActionRegistry, InvalidActionParamsError, UnknownActionError } from '../actions/action.js'
import { retryDelay } from '../backoff.js'
import { DEFAULT_SNAPSHOT_EVERY, DEFAULT_STEP_TIMEOUT_MS, MAX_CACHED_GRAPHS, MAX_HELD_COMPLETIONS } from '../constants.js'
import { createEvent, type QflowEvent, type QflowEventData, type QflowEventName } from '../events/envelope.js'
import {
  EngineNotStartedError,
  EventTimeoutError,
  ExecutionStateError,
  FlowReferenceError,
  InvalidExecutionInputError,
  StepIntegrityError,
  StepTimeoutError,
  UnknownExecutionError
} from './errors.js'
import {
  applyEntry,
  CARRIER_KINDS,
  type CarriedStart,
  type CompletedPayload,
  completesExecution,
  type ErrorInfo,
  type ExecutionState,
  type ExecutionStatusName,
  initialState,
  OPENING_KINDS,
  type PrecedingCompletion,
  type StartedPayload,
  type StateEntry,
  startOf,
  type StepRecord,
  type TokenRecord
} from './execution-state.js'
import { type ExpressionContext, evaluateExpression, evaluateTemplates } from './expressions.js'
import type { EngineFlow, EngineStep } from './flow-model.js'
import { buildFlowGraph, type FlowGraph, type StepOutcome } from './graph.js'
import { type ModuleRegistry, UnknownModuleError } from './modules.js'
import { plainData } from './plain-data.js'

/** How an execution ended. */
export interface ExecutionResult {
  readonly executionId: string
  readonly status: 'completed' | 'failed' | 'aborted'
  readonly output?: unknown
  readonly error?: ErrorInfo
}

/** An execution just started, or found started, by {@link Engine.launch}. */
export interface LaunchedExecution {
  readonly executionId: string
  /**
   * Its status once its start was durable. A run of pure steps (conditions, `data.transform`,
   * `log`) may have ended by then: its start and its end are one entry.
   */
  readonly status: ExecutionStatusName
  /** Waits for its end; at once when it has ended. */
  wait(): Promise<ExecutionResult>
}

/** Which flow to run: a stored flow's hash, its id (current version) or `id@version`. */
export type FlowRef = string

/** Options of {@link Engine.startExecution}. */
export interface StartOptions {
  /** Who starts it, with their credentials (checked by the pipeline's Qlock stage). */
  readonly actor: { readonly did: string; readonly credentials?: ActorCredentials }
  /** The DAO subnet; default the flow's `metadata.daoSubnet`, else the engine's. */
  readonly subnet?: string
  /** What started it (`manual`, `webhook:<id>`, `schedule:<id>`, …). */
  readonly trigger?: string
  /** The execution id; a new one is made when absent. Starting an id that exists returns it. */
  readonly executionId?: string
  /** For sub-flows: the parent step. */
  readonly parent?: { readonly executionId: string; readonly stepId: string }
  /**
   * The `payloadDigest` of `input` when the caller has it already (from its own pipeline run over
   * the same input, as the webhook route does), so the start does not digest the input again. It
   * is recorded as given: pass only a digest of this very input.
   */
  readonly inputDigest?: string
}

/** Options of {@link Engine.onEvent}. */
export interface EventListenOptions {
  /** The event types the listener takes; default every one. */
  readonly types?: readonly QflowEventName[]
  /**
   * Whether the listener reads the output digests events carry (`outputDigest` of
   * `exec.step.completed` and `exec.completed`); default true. With false the engine digests no
   * output for it (a canonical JSON encoding and a SHA-256 of every output): its events carry one
   * only when another listener of that type reads digests.
   */
  readonly digests?: boolean
}

/** Options of {@link engine}; all optional. */
export interface EngineInit {
  /** Default step timeout when a step sets none, ms. Default 5 minutes. */
  defaultStepTimeoutMs?: number
  /** Take a snapshot every this many log entries. Default 500. */
  snapshotEvery?: number
  /** Subnet of executions whose flow names none. Default `default`. */
  subnet?: string
  /**
   * Told of failures that belong to no caller: a store failure while driving an execution (the
   * execution then stops here and resumes from its log on the next start).
   */
  onError?: (executionId: string, error: unknown) => void
}

/** What the engine is given. */
export interface EngineComponents {
  /** The node identity: it vouches for actors it authenticated and signs through the state store. */
  identity: { readonly did: string }
  /** The execution logs (from `@qflow/state`). */
  log: Pick<ExecutionLog, 'append' | 'resume' | 'listExecutions' | 'snapshot' | 'head'>
  /** The flow registry (from `@qflow/state`). */
  flows: Pick<FlowRegistry, 'getByHash' | 'get' | 'history' | 'register'>
  /** The universal pipeline; runs before an execution starts and before every step. */
  pipeline: Pick<Pipeline, 'run'>
  /** Actions `task` steps run. */
  actions: ActionRegistry
  /** Modules `module-call` steps reach. */
  modules?: ModuleRegistry
  /** Integrity checks of step outputs against `outputSchema`. */
  qerberos?: Pick<Qerberos, 'checkIntegrity'>
  /** Indexes executions as they change. */
  qindex?: Pick<Qindex, 'put'>
}

/** The engine. */
export interface Engine {
  /** Recovers unfinished executions and starts serving. */
  start(): Promise<void>
  /** Stops timers and waits; running steps are abandoned and resume on the next start. */
  stop(): Promise<void>
  /**
   * Validates a flow, lets the pipeline check the actor may write it, stores it as a new version
   * and announces it.
   *
   * @throws `FlowValidationError` (from `@qflow/flow-schema`) listing every problem; nothing is stored.
   */
  createFlow(flow: EngineFlow & Record<string, unknown>, options: { readonly actor: { readonly did: string; readonly credentials?: ActorCredentials } }): Promise<FlowVersion>
  /** Starts an execution; resolves with its id once the start is durable. */
  startExecution(flow: FlowRef, input: unknown, options: StartOptions): Promise<string>
  /**
   * Starts an execution as `startExecution` does and resolves, once the start is durable, with
   * its id, its status then and a way to wait for its end (no second lookup: a run that ended
   * already is no longer live).
   */
  launch(flow: FlowRef, input: unknown, options: StartOptions): Promise<LaunchedExecution>
  /** Starts an execution and waits for its end. */
  run(flow: FlowRef, input: unknown, options: StartOptions): Promise<ExecutionResult>
  /** Waits for an execution (live or finished) to end. */
  wait(executionId: string): Promise<ExecutionResult>
  /** Stops dispatching new steps of an execution until resumed. */
  pause(executionId: string, reason?: string): Promise<void>
  /** Resumes a paused execution. */
  resume(executionId: string): Promise<void>
  /** Ends an execution; running steps are aborted. */
  abort(executionId: string, reason?: string): Promise<void>
  /** Delivers an event to the event-trigger steps waiting for it; resolves with how many it ended. */
  deliverEvent(name: string, payload: unknown): Promise<number>
  /** The state of a live execution, or undefined. */
  live(executionId: string): Readonly<ExecutionState> | undefined
  /** The state of any execution this node holds, replayed from its log when not live. */
  state(executionId: string): Promise<ExecutionState>
  /** Pauses the live executions of a flow, or of an actor (containment). */
  contain(target: { readonly flowId?: string; readonly actor?: string }, reason: string): Promise<number>
  /**
   * Subscribes to the engine's `q.qflow.*` events: every one, or only those of `options.types`.
   * Events no listener takes are never built (nor the digests they carry). Subscribing a listener
   * that is subscribed already changes nothing.
   */
  onEvent(listener: (event: QflowEvent) => void, options?: EventListenOptions): () => void
}

interface Waiter {
  readonly exec: LiveExecution
  readonly token: string
  readonly stepId: string
  readonly filter: unknown
}

interface LiveExecution {
  state: ExecutionState
  readonly graph: FlowGraph
  /** Appends in flight, applied in call order. */
  tail: Promise<void>
  /** Tokens with a step in flight, a timer or a wait armed. */
  readonly busy: Set<string>
  readonly controllers: Map<string, AbortController>
  readonly timers: Map<string, NodeJS.Timeout>
  readonly done: Promise<ExecutionResult>
  resolve(result: ExecutionResult): void
  terminal: boolean
  ending: boolean
  lastSnapshot: number
  /** Entries appended (or completions held) whose effect is not in the state yet: a snapshot waits until there are none. */
  unapplied: number
  /**
   * Completions of pure steps applied here but not written yet: the execution's next entry
   * carries them (`preceding`), so a chain of pure steps costs one entry and one commit wait.
   */
  held: HeldCompletion[]
  failure?: unknown
  /**
   * Set from the start until the entry that opens the log is durable. The start is written with
   * the execution's first entry (see `write`), so a run of pure steps that ends at once writes
   * one entry, a final one carrying its start.
   */
  opening?: Opening | undefined
  /**
   * The `steps` of the expression scope, kept up to date entry by entry, for flows without
   * parallel steps: one step is in flight at a time there, so nothing can change the scope while
   * a step evaluates and every dispatch can share it (no O(steps) copy per step). Flows with
   * parallel steps copy the scope per dispatch (a sibling branch may complete meanwhile).
   */
  scope?: ExpressionContext['steps']
}

interface Opening {
  readonly payload: StartedPayload
  readonly ts: number
  readonly subnet: string
  /** The `exec.started` event, emitted once the start is durable. */
  readonly event: QflowEventData['q.qflow.exec.started.v1']
  /** Whether the entry that opens the log was appended. */
  written: boolean
  /** Settles once that entry is durable, or failed. */
  readonly durable: Promise<void>
  resolve(): void
  reject(err: unknown): void
}

interface HeldCompletion {
  readonly completion: PrecedingCompletion
  readonly payload: CompletedPayload
  /** Emits the step's event once the entry that carries it is durable. */
  readonly announce: () => void
}

function stepScope(record: StepRecord): ExpressionContext['steps'][string] {
  return record.error === undefined ? { output: record.output, status: record.status } : { output: record.output, status: record.status, error: record.error }
}

const PURE_ACTIONS = new Set(['data.transform', 'log'])

/** The signal pure steps' actions get: they compute without waiting on anything, so nothing aborts them. */
const NEVER_ABORTED = new AbortController().signal

function errorInfo(err: unknown): ErrorInfo {
  const e = err as { name?: unknown; message?: unknown; retryable?: unknown; code?: unknown } | null
  const info: ErrorInfo = {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err)
  }
  if (typeof e?.retryable === 'boolean') info.retryable = e.retryable
  if (typeof e?.code === 'string') info.code = e.code
  return info
}

function matchesFilter(filter: unknown, payload: unknown): boolean | Promise<boolean> {
  if (filter === undefined || filter === null) return true
  if (typeof filter === 'string') {
    return evaluateExpression(filter, payload as ExpressionContext).then((v) => v === true)
  }
  if (typeof filter !== 'object' || payload === null || typeof payload !== 'object') return false
  for (const [k, expected] of Object.entries(filter as Record<string, unknown>)) {
    const actual = (payload as Record<string, unknown>)[k]
    if (expected !== null && typeof expected === 'object') {
      if (!matchesFilterSync(expected, actual)) return false
    } else if (actual !== expected) return false
  }
  return true
}

function matchesFilterSync(filter: unknown, payload: unknown): boolean {
  const result = matchesFilter(filter, payload)
  return result === true
}

class QflowEngine implements Engine {
  private readonly executions = new Map<string, LiveExecution>()
  private readonly waiters = new Map<string, Set<Waiter>>()
  /** Each listener with the event types it takes (undefined: every type) and whether it reads output digests. */
  private readonly listeners = new Map<(event: QflowEvent) => void, { readonly types: ReadonlySet<string> | undefined; readonly digests: boolean }>()
  /** How many listeners take each event type (those taking every type count under '*'). */
  private readonly wanted = new Map<string, number>()
  /** The same, of the listeners that read output digests. */
  private readonly digested = new Map<string, number>()
  private readonly graphs = new Map<string, FlowGraph>()
  private readonly stepTimeout: number
  private readonly snapshotEvery: number
  private readonly subnet: string
  private readonly onError: EngineInit['onError']
  private started = false

  constructor(
    init: EngineInit,
    private readonly components: EngineComponents
  ) {
    this.stepTimeout = init.defaultStepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS
    this.snapshotEvery = init.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY
    this.subnet = init.subnet ?? 'default'
    this.onError = init.onError
  }

  // ---- lifecycle --------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const heads = await this.components.log.listExecutions({ status: ['running', 'paused'] })
    for (const head of heads) {
      try {
        await this.recover(head.executionId)
      } catch (err) {
        this.emitError(head.executionId, err)
      }
    }
  }

  async stop(): Promise<void> {
    this.started = false
    for (const exec of this.executions.values()) {
      for (const timer of exec.timers.values()) clearTimeout(timer)
      exec.timers.clear()
      for (const controller of exec.controllers.values()) controller.abort(new EngineNotStartedError())
    }
    await Promise.allSettled([...this.executions.values()].map((e) => e.tail))
    // Starts not durable yet never will be here: their callers learn the engine stopped.
    for (const exec of this.executions.values()) exec.opening?.reject(new EngineNotStartedError())
    this.executions.clear()
    this.waiters.clear()
  }

  private assertStarted(): void {
    if (!this.started) throw new EngineNotStartedError()
  }

  // ---- flows ------------------------------------------------------------------------------

  private async resolveFlow(ref: FlowRef): Promise<{ flow: EngineFlow; hash: string }> {
    const { flows } = this.components
    if (ref.startsWith('b') && !ref.includes('@')) {
      // A hash names one flow document forever: a graph built from it holds that very flow.
      const known = this.graphs.get(ref)
      if (known !== undefined) return { flow: known.flow, hash: ref }
      try {
        const flow = (await flows.getByHash(ref)) as unknown as EngineFlow
        return { flow, hash: ref }
      } catch {
        // not a hash: fall through to an id
      }
    }
    const at = ref.lastIndexOf('@')
    const id = at > 0 ? ref.slice(0, at) : ref
    const version = at > 0 ? ref.slice(at + 1) : undefined
    try {
      if (version === undefined) {
        const { flow, version: record } = await flows.get(id)
        return { flow: flow as unknown as EngineFlow, hash: record.flowHash }
      }
      for await (const record of flows.history(id)) {
        if (record.flowVersion === version) {
          return { flow: (await flows.getByHash(record.flowHash)) as unknown as EngineFlow, hash: record.flowHash }
        }
      }
    } catch (err) {
      throw new FlowReferenceError(ref, `No stored flow matches ${ref}: ${(err as Error).message}`)
    }
    throw new FlowReferenceError(ref)
  }

  private graphFor(flow: EngineFlow, hash: string): FlowGraph {
    let graph = this.graphs.get(hash)
    if (graph === undefined) {
      graph = buildFlowGraph(flow, hash)
      // A bounded cache: live executions hold their own graph, so evicting one costs a rebuild only.
      if (this.graphs.size >= MAX_CACHED_GRAPHS) this.graphs.delete(this.graphs.keys().next().value as string)
      this.graphs.set(hash, graph)
    }
    return graph
  }

  private async graphByHash(hash: string): Promise<FlowGraph> {
    const known = this.graphs.get(hash)
    if (known !== undefined) return known
    const flow = (await this.components.flows.getByHash(hash)) as unknown as EngineFlow
    return this.graphFor(flow, hash)
  }

  async createFlow(
    flow: EngineFlow & Record<string, unknown>,
    options: { readonly actor: { readonly did: string; readonly credentials?: ActorCredentials } }
  ): Promise<FlowVersion> {
    this.assertStarted()
    assertValidFlow(flow)
    const now = Date.now()
    const metadata = (flow.metadata ?? {}) as { tags?: unknown; category?: unknown; daoSubnet?: unknown }
    const record: IndexRecord = {
      key: flow.id,
      kind: 'flow',
      owner: flow.owner,
      subnet: typeof metadata.daoSubnet === 'string' ? metadata.daoSubnet : this.subnet,
      name: flow.name ?? flow.id,
      description: typeof flow.description === 'string' ? flow.description : '',
      tags: Array.isArray(metadata.tags) ? metadata.tags.filter((t): t is string => typeof t === 'string') : [],
      category: typeof metadata.category === 'string' ? metadata.category : '',
      status: 'active',
      createdAt: now,
      updatedAt: now,
      attributes: { version: flow.version }
    }
    await this.runPipeline({ kind: 'flow.create', actor: options.actor, resource: `qflow:flow:${flow.id}`, action: 'write', payload: flow, index: record })
    const version = await this.components.flows.register(flow as never)
    this.graphFor(flow, version.flowHash)
    if (this.components.qindex !== undefined) await this.components.qindex.put({ ...record, contentHash: version.flowHash })
    this.emit('q.qflow.flow.created.v1', { flowId: flow.id, version: flow.version, hash: version.flowHash, owner: flow.owner, name: flow.name ?? flow.id }, options.actor.did)
    return version
  }

  // ---- starting ---------------------------------------------------------------------------

  async startExecution(ref: FlowRef, input: unknown, options: StartOptions): Promise<string> {
    return (await this.launch(ref, input, options)).executionId
  }

  async launch(ref: FlowRef, input: unknown, options: StartOptions): Promise<LaunchedExecution> {
    this.assertStarted()
    const executionId = options.executionId ?? `exec-${randomUUID()}`
    const live = this.executions.get(executionId)
    if (live !== undefined) return this.launched(live)
    const head = await this.components.log.head(executionId)
    if (head !== undefined) return { executionId, status: head.status as ExecutionStatusName, wait: () => this.wait(executionId) }
    const { flow, hash } = await this.resolveFlow(ref)
    const graph = this.graphFor(flow, hash)
    const problems = graph.checkInput(input ?? null)
    if (problems.length > 0) throw new InvalidExecutionInputError(flow.id, problems)
    const subnet = options.subnet ?? flow.metadata?.daoSubnet ?? this.subnet
    const now = Date.now()
    const record: IndexRecord = {
      key: executionId,
      kind: 'execution',
      owner: options.actor.did,
      subnet,
      name: flow.name ?? flow.id,
      status: 'running',
      contentHash: hash,
      createdAt: now,
      updatedAt: now,
      attributes: { flowId: flow.id, flowVersion: flow.version }
    }
    const checked = await this.runPipeline({
      kind: 'exec.start',
      actor: options.actor,
      resource: `qflow:flow:${flow.id}`,
      action: 'execute',
      payload: input ?? null,
      ...(options.inputDigest === undefined ? {} : { payloadDigest: options.inputDigest }),
      subnet,
      index: record,
      attributes: { executionId, flowHash: hash }
    })
    const payload: StartedPayload = {
      flowId: flow.id,
      flowVersion: flow.version,
      flowHash: hash,
      actor: options.actor.did,
      subnet,
      input: plainData(input)
    }
    if (options.trigger !== undefined) payload.trigger = options.trigger
    if (options.parent !== undefined) payload.parent = { ...options.parent }
    const event: QflowEventData['q.qflow.exec.started.v1'] = {
      executionId,
      flowId: flow.id,
      flowVersion: flow.version,
      flowHash: hash,
      inputDigest: checked.operation.payloadDigest ?? payloadDigest(null)
    }
    if (options.trigger !== undefined) event.trigger = options.trigger
    // A start of the same id may have got here first while this one ran the pipeline.
    const raced = this.executions.get(executionId)
    if (raced !== undefined) return this.launched(raced)
    // Nothing is written yet: the execution's first entry carries the start (see `write`).
    const exec = this.track(initialState(executionId, graph, { seq: -1, kind: 'started', ts: now, payload }), graph)
    let resolve!: () => void
    let reject!: (err: unknown) => void
    const durable = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    exec.opening = { payload, ts: now, subnet, event, written: false, durable, resolve, reject }
    this.pump(exec)
    return this.launched(exec)
  }

  /** The handle of a live execution, once its start is durable. */
  private async launched(exec: LiveExecution): Promise<LaunchedExecution> {
    await exec.opening?.durable
    return { executionId: exec.state.id, status: exec.state.status, wait: () => exec.done }
  }

  async run(ref: FlowRef, input: unknown, options: StartOptions): Promise<ExecutionResult> {
    return (await this.launch(ref, input, options)).wait()
  }

  private track(state: ExecutionState, graph: FlowGraph): LiveExecution {
    let resolve!: (result: ExecutionResult) => void
    const done = new Promise<ExecutionResult>((r) => {
      resolve = r
    })
    const exec: LiveExecution = {
      state,
      graph,
      tail: Promise.resolve(),
      busy: new Set(),
      controllers: new Map(),
      timers: new Map(),
      done,
      resolve,
      terminal: false,
      ending: false,
      lastSnapshot: state.seq,
      unapplied: 0,
      held: []
    }
    if (!graph.parallel) {
      exec.scope = {}
      for (const [id, record] of Object.entries(state.steps)) exec.scope[id] = stepScope(record)
    }
    this.executions.set(state.id, exec)
    return exec
  }

  // ---- recovery ---------------------------------------------------------------------------

  private async replay(executionId: string): Promise<{ state: ExecutionState; graph: FlowGraph }> {
    const point = await this.components.log.resume(executionId)
    let state = point.snapshot?.state as ExecutionState | undefined
    let graph: FlowGraph | undefined
    const entries: readonly LogEntry[] = point.entries
    let i = 0
    if (state === undefined) {
      const first = entries[0]
      const start = first === undefined ? undefined : startOf(first)
      if (first === undefined || start === undefined) throw new UnknownExecutionError(executionId)
      graph = await this.graphByHash((start.payload as StartedPayload).flowHash)
      state = initialState(executionId, graph, start)
      // A final entry that opened the log is applied after the start it carries.
      i = start === first ? 1 : 0
    } else {
      graph = await this.graphByHash(state.flowHash)
    }
    for (; i < entries.length; i++) {
      const e = entries[i] as LogEntry
      const entry: StateEntry = { seq: e.seq, kind: e.kind, ts: e.ts, payload: e.payload }
      if (e.stepId !== undefined) entry.stepId = e.stepId
      if (e.attempt !== undefined) entry.attempt = e.attempt
      applyEntry(state, graph, entry)
    }
    return { state, graph }
  }

  private async recover(executionId: string): Promise<void> {
    if (this.executions.has(executionId)) return
    const { state, graph } = await this.replay(executionId)
    const exec = this.track(state, graph)
    exec.lastSnapshot = state.seq
    this.afterApply(exec)
  }

  async state(executionId: string): Promise<ExecutionState> {
    const live = this.executions.get(executionId)
    if (live !== undefined) return live.state
    if ((await this.components.log.head(executionId)) === undefined) throw new UnknownExecutionError(executionId)
    return (await this.replay(executionId)).state
  }

  live(executionId: string): Readonly<ExecutionState> | undefined {
    return this.executions.get(executionId)?.state
  }

  async wait(executionId: string): Promise<ExecutionResult> {
    const live = this.executions.get(executionId)
    if (live !== undefined) return live.done
    const state = await this.state(executionId)
    const result = resultOf(state)
    if (result !== undefined) return result
    // Unfinished and not live: this node holds it but has not recovered it (not started yet).
    await this.recover(executionId)
    return (this.executions.get(executionId) as LiveExecution).done
  }

  // ---- the log ----------------------------------------------------------------------------

  /**
   * Appends an entry, applies it once durable (in call order), then lets the execution move on;
   * `onApplied` runs right after the entry is applied, before anything it leads to. Completions
   * held for the execution go with it: in its payload (`preceding`) when it is a step's entry,
   * else as entries of their own before it. Never rejects: a store failure stops driving the
   * execution (reported through `onError`).
   */
  private append(exec: LiveExecution, kind: string, payload: unknown, stepId?: string, attempt?: number, onApplied?: () => void): Promise<void> {
    // After stop() the store may be closed: whatever was in flight resumes from the log next start.
    if (!this.driving(exec)) return Promise.resolve()
    const held = exec.held
    if (held.length > 0 && CARRIER_KINDS.has(kind)) {
      exec.held = []
      const logged = { ...(payload as Record<string, unknown>), preceding: held.map((h) => h.completion) }
      return this.write(exec, entryInput(kind, logged, stepId, attempt, Date.now()), payload, true, () => {
        for (const h of held) h.announce()
        onApplied?.()
      })
    }
    this.writeHeld(exec)
    return this.write(exec, entryInput(kind, payload, stepId, attempt, Date.now()), payload, true, onApplied)
  }

  /** Whether the engine drives the execution still (not stopped, no store failure, not ended and gone). */
  private driving(exec: LiveExecution): boolean {
    return this.started && exec.failure === undefined && this.executions.has(exec.state.id)
  }

  /** Writes the held completions as entries of their own (their effect is in the state already). */
  private writeHeld(exec: LiveExecution): void {
    const held = exec.held
    exec.held = []
    for (const h of held) {
      void this.write(exec, entryInput('step-completed', h.payload, h.completion.stepId, h.completion.attempt, h.completion.ts), h.payload, false, h.announce)
    }
  }

  /** Writes the execution's `started` entry, unless its start is written already. */
  private writeStart(exec: LiveExecution): void {
    const opening = exec.opening
    if (opening === undefined || opening.written) return
    void this.write(exec, { kind: 'started', payload: opening.payload, subnet: opening.subnet, ts: opening.ts }, opening.payload, false, undefined)
  }

  /**
   * Writes one entry (`input.payload` is its payload as written; `payload` what is applied once it
   * is durable, without the completions it carries, which were applied when they were held). An
   * entry written for a held completion, or the `started` entry (`apply` false), only moves the
   * state's seq on. The execution's first entry carries its start: a final entry opens the log
   * with the start in its payload (the run ended before it wrote anything), any other is preceded
   * by the `started` entry.
   */
  private write(exec: LiveExecution, input: EntryInput, payload: unknown, apply: boolean, onApplied: (() => void) | undefined): Promise<void> {
    let opening: Opening | undefined
    const pending = exec.opening
    if (pending !== undefined && !pending.written) {
      if (input.kind === 'started') {
        opening = pending
      } else if (apply && OPENING_KINDS.has(input.kind)) {
        opening = pending
        input.opens = true
        input.subnet = pending.subnet
        input.startedAt = pending.ts
        const started: CarriedStart = { ...pending.payload, ts: pending.ts }
        input.payload = { ...(input.payload as Record<string, unknown>), started }
      } else {
        this.writeStart(exec)
      }
      if (opening !== undefined) opening.written = true
    }
    const appended = this.components.log.append(exec.state.id, input)
    // Handled in order below; this keeps a rejection from counting as unhandled meanwhile.
    appended.catch(() => {})
    if (apply) exec.unapplied++
    const applied = exec.tail.then(async () => {
      const { seq } = await appended
      if (opening !== undefined) {
        // Durable: the execution exists. Its launch resumes after this turn, with the state it reaches.
        exec.opening = undefined
        opening.resolve()
        this.emit('q.qflow.exec.started.v1', opening.event, exec.state.actor)
      }
      if (!apply) {
        exec.state.seq = seq
        onApplied?.()
        return
      }
      exec.unapplied--
      const entry: StateEntry = { seq, kind: input.kind, ts: input.ts, payload }
      if (input.stepId !== undefined) entry.stepId = input.stepId
      if (input.attempt !== undefined) entry.attempt = input.attempt
      applyEntry(exec.state, exec.graph, entry)
      this.rescope(exec, input.stepId)
      onApplied?.()
      this.afterApply(exec)
    })
    exec.tail = applied.catch((err) => this.stopDriving(exec, err))
    return exec.tail
  }

  /**
   * Applies a pure step's completion now and holds it for the execution's next entry (see
   * `append`): the next step runs without waiting for a commit. Its event is emitted once that
   * entry is durable. A crash before then loses nothing that had effects: the step runs again.
   */
  private hold(exec: LiveExecution, stepId: string, attempt: number, payload: CompletedPayload, announce: () => void): Promise<void> {
    const completion: PrecedingCompletion = { ...payload, stepId, attempt, ts: Date.now() }
    exec.held.push({ completion, payload, announce })
    exec.unapplied++
    const applied = exec.tail.then(() => {
      exec.unapplied--
      applyEntry(exec.state, exec.graph, { seq: exec.state.seq, kind: 'step-completed', stepId, attempt, ts: completion.ts, payload })
      this.rescope(exec, stepId)
      this.afterApply(exec)
    })
    exec.tail = applied.catch((err) => this.stopDriving(exec, err))
    return exec.tail
  }

  /** Keeps the shared expression scope (flows without parallel steps) in step with the state. */
  private rescope(exec: LiveExecution, stepId: string | undefined): void {
    if (exec.scope !== undefined && stepId !== undefined) {
      // Without parallel steps an entry changes at most its own step's record.
      const record = exec.state.steps[stepId]
      if (record !== undefined) exec.scope[stepId] = stepScope(record)
    }
  }

  private stopDriving(exec: LiveExecution, err: unknown): void {
    // The log closed after a terminal entry (an abort racing a step): nothing is lost.
    if (isFinished(err)) return
    // Once stopped, the entries queued behind the one that failed fail too: told once.
    if (exec.failure !== undefined) return
    // The store refused or failed: stop driving this execution here; the log holds what was
    // committed and the next start resumes from it.
    exec.failure = err
    const opening = exec.opening
    if (opening !== undefined) {
      // The start never became durable: there is no execution; its launch fails with the reason.
      exec.opening = undefined
      for (const timer of exec.timers.values()) clearTimeout(timer)
      exec.timers.clear()
      if (this.executions.get(exec.state.id) === exec) this.executions.delete(exec.state.id)
      opening.reject(err)
      return
    }
    this.emitError(exec.state.id, err)
  }

  private afterApply(exec: LiveExecution): void {
    const { state } = exec
    if (state.status === 'completed' || state.status === 'failed' || state.status === 'aborted') {
      this.finish(exec)
      return
    }
    if (state.ending !== undefined && !exec.ending) {
      exec.ending = true
      const ending = state.ending
      void this.append(exec, ending.status, ending.status === 'completed' ? { output: ending.output ?? null } : { error: ending.error })
      return
    }
    if (state.seq - exec.lastSnapshot >= this.snapshotEvery) this.snapshot(exec)
    this.pump(exec)
  }

  /**
   * Snapshots the state once it holds the effect of every entry written before the snapshot
   * (else a later call does it): replay starts after the snapshot's entry, so a snapshot missing
   * an entry written before it would lose that entry. Held completions, already in the state, are
   * written first as entries of their own.
   */
  private snapshot(exec: LiveExecution): void {
    if (exec.unapplied > 0) return
    this.writeStart(exec)
    this.writeHeld(exec)
    exec.lastSnapshot = exec.state.seq
    const written = this.components.log.snapshot(exec.state.id, structuredClone(exec.state))
    written.catch(() => {})
    exec.tail = exec.tail
      .then(async () => {
        const { seq } = await written
        exec.state.seq = seq
        exec.lastSnapshot = seq
      })
      .catch((err) => this.stopDriving(exec, err))
  }

  private finish(exec: LiveExecution): void {
    if (exec.terminal) return
    exec.terminal = true
    for (const timer of exec.timers.values()) clearTimeout(timer)
    exec.timers.clear()
    for (const controller of exec.controllers.values()) controller.abort(new ExecutionStateError(exec.state.id, exec.state.status, 'ended'))
    for (const waiters of this.waiters.values()) {
      for (const w of waiters) if (w.exec === exec) waiters.delete(w)
    }
    const result = resultOf(exec.state) as ExecutionResult
    this.executions.delete(exec.state.id)
    const data: QflowEventData['q.qflow.exec.completed.v1'] = {
      executionId: exec.state.id,
      flowId: exec.state.flowId,
      status: result.status,
      durationMs: Math.max(0, exec.state.updatedAt - exec.state.startedAt)
    }
    if (result.output !== undefined && this.wantsDigests('q.qflow.exec.completed.v1')) data.outputDigest = payloadDigest(result.output)
    if (result.error !== undefined) {
      data.error = { name: result.error.name, message: result.error.message }
      if (result.error.stepId !== undefined) data.error.stepId = result.error.stepId
    }
    this.emit('q.qflow.exec.completed.v1', data, exec.state.actor)
    const qindex = this.components.qindex
    if (qindex !== undefined) {
      qindex
        .put({
          key: exec.state.id,
          kind: 'execution',
          owner: exec.state.actor,
          subnet: exec.state.subnet,
          // A put replaces the record: the name it was started with stays searchable.
          name: exec.graph.flow.name ?? exec.state.flowId,
          status: result.status,
          contentHash: exec.state.flowHash,
          createdAt: exec.state.startedAt,
          updatedAt: exec.state.updatedAt,
          attributes: { flowId: exec.state.flowId, flowVersion: exec.state.flowVersion }
        })
        .catch((err) => this.emitError(exec.state.id, err))
    }
    exec.resolve(result)
    if (result.status === 'aborted') {
      // Aborting a parent aborts the sub-flows it started.
      for (const child of [...this.executions.values()]) {
        if (child.state.parent?.executionId === exec.state.id) {
          this.abort(child.state.id, `parent ${exec.state.id} aborted`).catch((err) => this.emitError(child.state.id, err))
        }
      }
    }
  }

  // ---- driving ----------------------------------------------------------------------------

  private pump(exec: LiveExecution): void {
    if (!this.started || exec.terminal || exec.failure !== undefined) return
    const { state } = exec
    for (const t of Object.values(state.tokens)) {
      if (exec.busy.has(t.id)) continue
      if (t.state === 'joining') continue
      if (t.state === 'waiting') {
        exec.busy.add(t.id)
        this.arm(exec, t)
        continue
      }
      if (state.status !== 'running') continue
      if (t.state === 'retry-wait') {
        const due = state.steps[t.stepId]?.retryAt ?? 0
        exec.busy.add(t.id)
        this.setTimer(exec, t.id, due - Date.now(), () => {
          exec.busy.delete(t.id)
          if (exec.state.status === 'running') this.runToken(exec, t)
          else this.pump(exec)
        })
        continue
      }
      this.runToken(exec, t)
    }
  }

  private runToken(exec: LiveExecution, t: TokenRecord): void {
    exec.busy.add(t.id)
    this.dispatch(exec, t).catch((err) => {
      if (!isFinished(err)) this.emitError(exec.state.id, err)
    })
  }

  private setTimer(exec: LiveExecution, key: string, ms: number, fire: () => void): void {
    const previous = exec.timers.get(key)
    if (previous !== undefined) clearTimeout(previous)
    const timer = setTimeout(
      () => {
        exec.timers.delete(key)
        fire()
      },
      Math.max(0, Math.min(ms, 2_147_483_647))
    )
    exec.timers.set(key, timer)
  }

  private contextFor(exec: LiveExecution): ExpressionContext {
    const { state } = exec
    let steps = exec.scope
    if (steps === undefined) {
      steps = {}
      for (const [id, record] of Object.entries(state.steps)) steps[id] = stepScope(record)
    }
    return {
      input: state.input,
      steps,
      execution: { id: state.id, startedAt: state.startedAt, actor: state.actor },
      flow: { id: state.flowId, version: state.flowVersion }
    }
  }

  private stepOperation(exec: LiveExecution, step: EngineStep) {
    return {
      kind: 'exec.step',
      actor: { did: exec.state.actor, credentials: { vouchedBy: this.components.identity.did } },
      resource: `qflow:flow:${exec.state.flowId}`,
      action: 'execute',
      subnet: exec.state.subnet,
      attributes: { executionId: exec.state.id, stepId: step.id, stepType: step.type }
    } as const
  }

  private async runPipeline(operation: Parameters<Pipeline['run']>[0]): Promise<PipelineResult> {
    try {
      const result = await this.components.pipeline.run(operation)
      this.emitPipeline(result.operation.traceId, operation, 'passed', result.trace)
      return result
    } catch (err) {
      if (err instanceof PipelineHaltedError) this.emitPipeline(err.operation.traceId, operation, 'halted', err.trace, err.stage, err.code)
      throw err
    }
  }

  private async dispatch(exec: LiveExecution, t: TokenRecord): Promise<void> {
    const { state, graph } = exec
    const step = graph.step(t.stepId)
    const record = state.steps[step.id]
    const recovered = t.state === 'running' && record !== undefined
    const attempt = recovered ? record.attempt : t.state === 'retry-wait' && record !== undefined ? record.attempt + 1 : 1
    const idempotencyKey = `${state.id}:${step.id}:${attempt}`

    try {
      await this.runPipeline(this.stepOperation(exec, step))
    } catch (err) {
      exec.busy.delete(t.id)
      await this.onHalt(exec, t, step, attempt, idempotencyKey, err)
      return
    }
    if (exec.terminal || state.tokens[t.id] === undefined) {
      exec.busy.delete(t.id)
      return
    }

    const context = this.contextFor(exec)
    const pure = step.type === 'condition' || (step.type === 'task' && PURE_ACTIONS.has(step.action ?? ''))
    if (step.type === 'parallel') {
      await this.append(exec, 'step-dispatched', { token: t.id, idempotencyKey }, step.id, attempt)
      this.emitDispatched(exec, step, attempt, idempotencyKey)
      exec.busy.delete(t.id)
      this.pump(exec)
      return
    }
    if (step.type === 'event-trigger') {
      const wait: { event: string; filter?: unknown; deadline?: number } = { event: step.event ?? '' }
      if (step.filter !== undefined) {
        wait.filter = typeof step.filter === 'string' ? (templateExpression(step.filter) ?? step.filter) : await evaluateTemplates(step.filter, context)
      }
      // A wait without a timeout lasts as long as the format allows, never forever.
      wait.deadline = Date.now() + (step.timeout ?? MAX_EVENT_WAIT_MS)
      await this.append(exec, 'step-dispatched', { token: t.id, idempotencyKey, wait }, step.id, attempt)
      if (!this.driving(exec)) return
      this.emitDispatched(exec, step, attempt, idempotencyKey)
      const current = exec.state.tokens[t.id]
      if (current !== undefined) this.arm(exec, current)
      return
    }
    if (step.type === 'task' && step.action === 'delay') {
      let dueAt = record?.dueAt
      if (!recovered || dueAt === undefined) {
        const params = (await evaluateTemplates(step.params ?? {}, context)) as { ms?: unknown }
        const ms = Number(params.ms)
        if (!Number.isFinite(ms) || ms < 0) {
          await this.fail(exec, t, step, attempt, idempotencyKey, new InvalidActionParamsError('delay', 'ms', 'a number of milliseconds (0 or more) is required'), 0)
          return
        }
        dueAt = Date.now() + ms
        await this.append(exec, 'step-dispatched', { token: t.id, idempotencyKey, dueAt }, step.id, attempt)
        if (!this.driving(exec)) return
        this.emitDispatched(exec, step, attempt, idempotencyKey)
      }
      const due = dueAt
      this.setTimer(exec, t.id, due - Date.now(), () => {
        void this.complete(exec, t, step, attempt, idempotencyKey, { waitedUntil: new Date(due).toISOString() }, 'success', 0)
      })
      return
    }
    if (!pure && !recovered) {
      await this.append(exec, 'step-dispatched', { token: t.id, idempotencyKey }, step.id, attempt)
      // Not durable (the store failed, or the engine stopped): the step must not run.
      if (!this.driving(exec)) return
      this.emitDispatched(exec, step, attempt, idempotencyKey)
    }
    const started = performance.now()
    // A pure step computes without waiting on anything: nothing could stop it midway, so it gets
    // no controller of its own (nor a timer, below).
    const controller = pure ? undefined : new AbortController()
    if (controller !== undefined) exec.controllers.set(t.id, controller)
    const timeoutMs = step.timeout ?? step.resourceLimits?.timeoutMs ?? this.stepTimeout
    let output: unknown
    let outcome: StepOutcome = 'success'
    try {
      if (step.type === 'condition') {
        const text = step.expression ?? 'false'
        const value = await evaluateExpression(templateExpression(text) ?? text, context)
        outcome = value === true ? 'true' : 'false'
        output = { result: value === true }
      } else {
        output =
          controller === undefined
            ? await this.execute(exec, step, attempt, idempotencyKey, context, NEVER_ABORTED)
            : await this.withTimeout(step, timeoutMs, controller, (signal) => this.execute(exec, step, attempt, idempotencyKey, context, signal))
      }
      output = plainData(output)
      if (step.outputSchema !== undefined && this.components.qerberos !== undefined) {
        const report = await this.components.qerberos.checkIntegrity(output, { schema: step.outputSchema as Record<string, unknown> })
        if (!report.ok) throw new StepIntegrityError(step.id, report.failures)
      }
    } catch (err) {
      exec.controllers.delete(t.id)
      await this.fail(exec, t, step, attempt, idempotencyKey, err, performance.now() - started)
      return
    }
    exec.controllers.delete(t.id)
    await this.complete(exec, t, step, attempt, idempotencyKey, output, outcome, performance.now() - started, pure)
  }

  private async withTimeout<T>(step: EngineStep, timeoutMs: number, controller: AbortController, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new StepTimeoutError(step.id, timeoutMs)
        controller.abort(err)
        reject(err)
      }, timeoutMs)
    })
    try {
      return await Promise.race([run(controller.signal), timedOut])
    } finally {
      clearTimeout(timer)
    }
  }

  private async execute(exec: LiveExecution, step: EngineStep, attempt: number, idempotencyKey: string, context: ExpressionContext, signal: AbortSignal): Promise<unknown> {
    const actionContext: ActionContext = {
      executionId: exec.state.id,
      stepId: step.id,
      attempt,
      idempotencyKey,
      signal,
      actor: exec.state.actor,
      subnet: exec.state.subnet,
      scope: context,
      log: (level, message, data) => {
        void this.append(exec, 'log', plainData({ level, message, data: data ?? null }), step.id, attempt)
      }
    }
    switch (step.type) {
      case 'task': {
        const action = this.components.actions.get(step.action ?? '') as Action<Record<string, unknown>> | undefined
        if (action === undefined) throw new UnknownActionError(step.action ?? '')
        const params = (await evaluateTemplates(step.params ?? {}, context)) as Record<string, unknown>
        return action.execute(params, actionContext)
      }
      case 'module-call': {
        const handler = this.components.modules?.get(step.module ?? '')
        if (handler === undefined) throw new UnknownModuleError(step.module ?? '')
        const params = (await evaluateTemplates(step.params ?? {}, context)) as Record<string, unknown>
        return handler.call(step.operation ?? '', params, actionContext)
      }
      case 'sub-flow': {
        const input = await evaluateTemplates(step.input ?? (step.params as { input?: unknown } | undefined)?.input ?? null, context)
        const childId = `${exec.state.id}.${step.id}.${attempt}`
        const child = await this.launch(step.flow ?? '', input, {
          actor: { did: exec.state.actor, credentials: { vouchedBy: this.components.identity.did } },
          subnet: exec.state.subnet,
          trigger: `sub-flow:${exec.state.id}`,
          executionId: childId,
          parent: { executionId: exec.state.id, stepId: step.id }
        })
        const result = await Promise.race([
          child.wait(),
          new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))
        ])
        if (result.status !== 'completed') {
          throw Object.assign(new Error(`Sub-flow ${childId} ${result.status}: ${result.error?.message ?? ''}`), { name: 'SubFlowError', retryable: false })
        }
        return { executionId: childId, output: result.output ?? null }
      }
      default:
        throw new InvalidActionParamsError(step.type, 'type', `steps of type ${step.type} cannot be executed`)
    }
  }

  private async complete(
    exec: LiveExecution,
    t: TokenRecord,
    step: EngineStep,
    attempt: number,
    idempotencyKey: string,
    output: unknown,
    outcome: StepOutcome,
    durationMs: number,
    pure = false
  ): Promise<void> {
    if (exec.terminal || exec.state.tokens[t.id] === undefined) {
      exec.busy.delete(t.id)
      return
    }
    const payload: { token: string; idempotencyKey: string; output: unknown; outcome?: StepOutcome } = { token: t.id, idempotencyKey, output }
    if (outcome !== 'success') payload.outcome = outcome
    // The last step's completion completes the execution: one entry for both, not two.
    const kind = completesExecution(exec.state, exec.graph, t.id, step.id, outcome) ? 'completed' : 'step-completed'
    const announce = () => {
      const data: QflowEventData['q.qflow.exec.step.completed.v1'] = {
        executionId: exec.state.id,
        flowId: exec.state.flowId,
        stepId: step.id,
        attempt,
        status: 'succeeded',
        durationMs
      }
      if (this.wantsDigests('q.qflow.exec.step.completed.v1')) data.outputDigest = payloadDigest(output)
      this.emit('q.qflow.exec.step.completed.v1', data, exec.state.actor)
    }
    // A pure step's completion (without parallel steps, where one step runs at a time) waits for
    // the execution's next entry; any other is written and durable before the execution moves on.
    if (pure && kind === 'step-completed' && exec.scope !== undefined && exec.held.length < MAX_HELD_COMPLETIONS) {
      await this.hold(exec, step.id, attempt, payload, announce)
    } else {
      await this.append(exec, kind, payload, step.id, attempt, announce)
    }
    exec.busy.delete(t.id)
    this.pump(exec)
  }

  private async fail(exec: LiveExecution, t: TokenRecord, step: EngineStep, attempt: number, idempotencyKey: string, err: unknown, durationMs: number): Promise<void> {
    if (exec.terminal || exec.state.tokens[t.id] === undefined) {
      exec.busy.delete(t.id)
      return
    }
    const error = errorInfo(err)
    const payload: { token: string; idempotencyKey: string; error: ErrorInfo; retryAt?: number } = { token: t.id, idempotencyKey, error }
    if (error.retryable !== false) {
      const delay = retryDelay(step.retryPolicy, attempt, idempotencyKey)
      if (delay !== undefined) payload.retryAt = Date.now() + delay
    }
    await this.append(exec, 'step-failed', payload, step.id, attempt)
    this.emit(
      'q.qflow.exec.step.completed.v1',
      {
        executionId: exec.state.id,
        flowId: exec.state.flowId,
        stepId: step.id,
        attempt,
        status: 'failed',
        durationMs,
        error: { name: error.name, message: error.message, retryable: payload.retryAt !== undefined }
      },
      exec.state.actor
    )
    exec.busy.delete(t.id)
    this.pump(exec)
  }

  private async onHalt(exec: LiveExecution, t: TokenRecord, step: EngineStep, attempt: number, idempotencyKey: string, err: unknown): Promise<void> {
    if (!(err instanceof PipelineHaltedError)) {
      await this.fail(exec, t, step, attempt, idempotencyKey, err, 0)
      return
    }
    if (exec.terminal) return
    if (err.retryable || err.code === 'FLOW_PAUSED' || err.code === 'IDENTITY_BLOCKED') {
      // A lapsed consent or a containment decision: wait to be resumed rather than fail.
      if (exec.state.status === 'running') await this.append(exec, 'paused', { reason: err.code, stage: err.stage, stepId: step.id, message: err.reason })
      return
    }
    await this.append(exec, 'failed', { error: { name: 'PipelineHaltedError', code: err.code, message: `${err.stage}: ${err.reason}`, stepId: step.id } })
  }

  // ---- events and waits -------------------------------------------------------------------

  private arm(exec: LiveExecution, t: TokenRecord): void {
    const record = exec.state.steps[t.stepId]
    const wait = record?.wait
    if (record === undefined || wait === undefined) return
    let set = this.waiters.get(wait.event)
    if (set === undefined) {
      set = new Set()
      this.waiters.set(wait.event, set)
    }
    for (const w of set) if (w.exec === exec && w.token === t.id) return
    set.add({ exec, token: t.id, stepId: t.stepId, filter: wait.filter })
    if (wait.deadline !== undefined) {
      const step = exec.graph.step(t.stepId)
      this.setTimer(exec, `wait:${t.id}`, wait.deadline - Date.now(), () => {
        this.unwait(exec, t.id, wait.event)
        if (step.onTimeout !== undefined) {
          void this.complete(exec, t, step, record.attempt, record.idempotencyKey, null, 'timeout', 0)
        } else {
          void this.fail(exec, t, step, record.attempt, record.idempotencyKey, new EventTimeoutError(wait.event), 0)
        }
      })
    }
  }

  private unwait(exec: LiveExecution, token: string, event: string): void {
    const set = this.waiters.get(event)
    if (set === undefined) return
    for (const w of set) if (w.exec === exec && w.token === token) set.delete(w)
    if (set.size === 0) this.waiters.delete(event)
  }

  async deliverEvent(name: string, payload: unknown): Promise<number> {
    this.assertStarted()
    const set = this.waiters.get(name)
    if (set === undefined) return 0
    const data = plainData(payload)
    const matched: Waiter[] = []
    for (const w of [...set]) {
      if (await matchesFilter(w.filter, data)) matched.push(w)
    }
    await Promise.all(
      matched.map(async (w) => {
        this.unwait(w.exec, w.token, name)
        const timer = w.exec.timers.get(`wait:${w.token}`)
        if (timer !== undefined) clearTimeout(timer)
        w.exec.timers.delete(`wait:${w.token}`)
        const t = w.exec.state.tokens[w.token]
        const record = w.exec.state.steps[w.stepId]
        if (t === undefined || record === undefined) return
        await this.complete(w.exec, t, w.exec.graph.step(w.stepId), record.attempt, record.idempotencyKey, { event: name, payload: data }, 'success', 0)
      })
    )
    return matched.length
  }

  // ---- control ----------------------------------------------------------------------------

  private liveOrThrow(executionId: string): LiveExecution {
    const exec = this.executions.get(executionId)
    if (exec === undefined) throw new UnknownExecutionError(executionId)
    return exec
  }

  async pause(executionId: string, reason = 'paused by request'): Promise<void> {
    this.assertStarted()
    const exec = this.liveOrThrow(executionId)
    if (exec.state.status !== 'running') throw new ExecutionStateError(executionId, exec.state.status, 'only a running execution can be paused')
    await this.append(exec, 'paused', { reason })
  }

  async resume(executionId: string): Promise<void> {
    this.assertStarted()
    const exec = this.liveOrThrow(executionId)
    if (exec.state.status !== 'paused') throw new ExecutionStateError(executionId, exec.state.status, 'only a paused execution can be resumed')
    await this.append(exec, 'resumed', {})
  }

  async abort(executionId: string, reason = 'aborted by request'): Promise<void> {
    this.assertStarted()
    const exec = this.liveOrThrow(executionId)
    await this.append(exec, 'aborted', { reason })
  }

  async contain(target: { readonly flowId?: string; readonly actor?: string }, reason: string): Promise<number> {
    let paused = 0
    for (const exec of [...this.executions.values()]) {
      const hit = (target.flowId !== undefined && exec.state.flowId === target.flowId) || (target.actor !== undefined && exec.state.actor === target.actor)
      if (hit && exec.state.status === 'running') {
        await this.append(exec, 'paused', { reason })
        paused++
      }
    }
    return paused
  }

  // ---- events -----------------------------------------------------------------------------

  onEvent(listener: (event: QflowEvent) => void, options: EventListenOptions = {}): () => void {
    if (this.listeners.has(listener)) return () => this.unlisten(listener)
    const types = options.types === undefined ? undefined : new Set<string>(options.types)
    const digests = options.digests !== false
    this.listeners.set(listener, { types, digests })
    count(this.wanted, types, 1)
    if (digests) count(this.digested, types, 1)
    return () => this.unlisten(listener)
  }

  private unlisten(listener: (event: QflowEvent) => void): void {
    const listening = this.listeners.get(listener)
    if (listening === undefined) return
    this.listeners.delete(listener)
    count(this.wanted, listening.types, -1)
    if (listening.digests) count(this.digested, listening.types, -1)
  }

  /** Whether any listener takes events of this type. */
  private wants(type: QflowEventName): boolean {
    return counted(this.wanted, type)
  }

  /** Whether any listener of this type reads the output digests its events carry. */
  private wantsDigests(type: QflowEventName): boolean {
    return counted(this.digested, type)
  }

  private emit<N extends QflowEventName>(type: N, data: QflowEventData[N], actor: string): void {
    if (!this.wants(type)) return
    const event = createEvent(type, data, { source: `qflow://${this.components.identity.did}`, actor })
    for (const [listener, { types }] of this.listeners) {
      if (types !== undefined && !types.has(type)) continue
      try {
        listener(event as QflowEvent)
      } catch {
        // A listener's failure is its own; the engine goes on.
      }
    }
  }

  private emitDispatched(exec: LiveExecution, step: EngineStep, attempt: number, idempotencyKey: string): void {
    this.emit(
      'q.qflow.exec.step.dispatched.v1',
      { executionId: exec.state.id, flowId: exec.state.flowId, stepId: step.id, stepType: step.type, attempt, idempotencyKey },
      exec.state.actor
    )
  }

  private emitPipeline(
    traceId: string,
    operation: { kind: string; resource: string; actor: { did: string } },
    outcome: 'passed' | 'halted',
    trace: readonly { stage: string; verdict: { ok: boolean }; durationMs: number }[],
    stage?: string,
    code?: string
  ): void {
    if (!this.wants('q.qflow.validation.pipeline.executed.v1')) return
    const data: QflowEventData['q.qflow.validation.pipeline.executed.v1'] = {
      traceId,
      kind: operation.kind,
      resource: operation.resource,
      outcome,
      stages: trace.map((e) => ({ stage: e.stage, ok: e.verdict.ok, durationMs: e.durationMs }))
    }
    if (stage !== undefined) data.stage = stage
    if (code !== undefined) data.code = code
    this.emit('q.qflow.validation.pipeline.executed.v1', data, operation.actor.did)
  }

  private emitError(executionId: string, err: unknown): void {
    this.onError?.(executionId, err)
  }
}

/** An entry as the engine appends it (the log's `AppendInput`, built up before it is written). */
type EntryInput = { -readonly [K in keyof AppendInput]: AppendInput[K] } & { payload: unknown; ts: number }

function entryInput(kind: string, payload: unknown, stepId: string | undefined, attempt: number | undefined, ts: number): EntryInput {
  const input: EntryInput = { kind, payload, ts }
  if (stepId !== undefined) input.stepId = stepId
  if (attempt !== undefined) input.attempt = attempt
  return input
}

/** Adds `by` to the count of each of `types` (every type: '*'), dropping counts that reach 0. */
function count(counts: Map<string, number>, types: ReadonlySet<string> | undefined, by: 1 | -1): void {
  for (const type of types ?? ['*']) {
    const next = (counts.get(type) ?? 0) + by
    if (next <= 0) counts.delete(type)
    else counts.set(type, next)
  }
}

/** Whether `counts` (see {@link count}) holds a listener of `type`. */
function counted(counts: ReadonlyMap<string, number>, type: string): boolean {
  return counts.size > 0 && (counts.has('*') || counts.has(type))
}

function isFinished(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'ExecutionFinishedError'
}

function resultOf(state: ExecutionState): ExecutionResult | undefined {
  const status: ExecutionStatusName = state.status
  if (status === 'completed') return { executionId: state.id, status, output: state.output ?? null }
  if (status === 'failed' || status === 'aborted') {
    return state.error === undefined ? { executionId: state.id, status } : { executionId: state.id, status, error: state.error }
  }
  return undefined
}

/**
 * The engine factory. It runs every step type, persists every transition to the execution log
 * before acting on it, runs the universal pipeline before an execution starts and before every
 * step, and on `start()` resumes unfinished executions from their last committed transition.
 */
export function engine(init: EngineInit = {}): (components: EngineComponents) => Engine {
  return (components) => new QflowEngine(init, components)
}
