import { CID } from 'multiformats/cid'
import type { ActionRegistry } from './actions.js'
import {
  DEFAULT_MAX_STEPS,
  MAX_CPU_MS,
  MAX_EVENT_WAIT_MS,
  MAX_MEMORY_MB,
  MAX_RETRY_ATTEMPTS,
  MAX_RETRY_DELAY_MS,
  MAX_RETRY_INITIAL_DELAY_MS,
  MAX_STEP_TIMEOUT_MS,
  MIN_TIMEOUT_MS
} from './constants.js'
import { parseCron } from './cron.js'
import { publicKeyFromDidKey } from './did.js'
import { checkExpression, findTemplates, forEachTemplate, templateExpression } from './expressions.js'
import { type CompiledStepGraph, compileStepGraph } from './graph.js'
import { checkJsonSchema } from './json-schema.js'
import { LruCache } from './lru.js'
import { escapePointerToken } from './pointer.js'
import { flowSchema, schemaProblems, suggest } from './schema.js'
import type { FlowProblem } from './types.js'

/** Bounds that validation enforces (defaults in constants.ts). */
export interface FlowLimits {
  /** Most steps. */
  maxSteps: number
  /** Shortest step timeout, ms. */
  minTimeoutMs: number
  /** Longest step timeout (and `resourceLimits.timeoutMs`), ms. */
  maxTimeoutMs: number
  /** Longest `event-trigger` wait, ms. */
  maxEventWaitMs: number
  /** Most attempts of a retry policy. */
  maxRetryAttempts: number
  /** Longest first retry delay, ms. */
  maxRetryInitialDelayMs: number
  /** Longest retry delay, ms. */
  maxRetryDelayMs: number
  /** Most memory of a step, MiB. */
  maxMemoryMB: number
  /** Most CPU time of a step, ms. */
  maxCpuMs: number
}

/** The bounds validation enforces unless told otherwise. */
export const DEFAULT_FLOW_LIMITS: Readonly<FlowLimits> = Object.freeze({
  maxSteps: DEFAULT_MAX_STEPS,
  minTimeoutMs: MIN_TIMEOUT_MS,
  maxTimeoutMs: MAX_STEP_TIMEOUT_MS,
  maxEventWaitMs: MAX_EVENT_WAIT_MS,
  maxRetryAttempts: MAX_RETRY_ATTEMPTS,
  maxRetryInitialDelayMs: MAX_RETRY_INITIAL_DELAY_MS,
  maxRetryDelayMs: MAX_RETRY_DELAY_MS,
  maxMemoryMB: MAX_MEMORY_MB,
  maxCpuMs: MAX_CPU_MS
})

/** Settings of the semantic checks. */
export interface SemanticSettings {
  actions: ActionRegistry
  unknownActions: 'error' | 'warning'
  unknownFields: 'error' | 'warning'
  limits: FlowLimits
}

/** Collects errors and warnings. */
export class ProblemSink {
  readonly errors: FlowProblem[] = []
  readonly warnings: FlowProblem[] = []

  error(problem: FlowProblem): void {
    this.errors.push(problem)
  }

  warning(problem: FlowProblem): void {
    this.warnings.push(problem)
  }

  add(severity: 'error' | 'warning', problem: FlowProblem): void {
    if (severity === 'error') this.errors.push(problem)
    else this.warnings.push(problem)
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

const SCHEMA_DEFS = (flowSchema as { $defs: Record<string, { properties?: Record<string, unknown> }> }).$defs
const TOP_LEVEL_FIELDS = Object.keys((flowSchema as { properties: Record<string, unknown> }).properties)
const METADATA_FIELDS = Object.keys(SCHEMA_DEFS.metadata?.properties ?? {})

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/
const SUB_FLOW_BY_VERSION = /^([A-Za-z0-9_-]{1,128})@(.+)$/

const timezoneCache = new Map<string, boolean>()

function isTimezone(zone: string): boolean {
  let ok = timezoneCache.get(zone)
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone })
      ok = true
    } catch {
      ok = false
    }
    if (timezoneCache.size < 1000) timezoneCache.set(zone, ok)
  }
  return ok
}

/** Results of pure checks of strings (CIDs, DIDs, cron expressions), cached: `''` means fine. */
const checked = new LruCache<string, string>(10_000)

function cachedCheck(kind: string, text: string, check: (text: string) => void): string {
  const key = `${kind}\u0000${text}`
  let result = checked.get(key)
  if (result === undefined) {
    try {
      check(text)
      result = ''
    } catch (err) {
      result = err instanceof Error ? err.message || 'invalid' : 'invalid'
    }
    checked.set(key, result)
  }
  return result
}

/** Whether a string parses as a CID. */
export function isCid(text: string): boolean {
  return cachedCheck('cid', text, (t) => CID.parse(t)) === ''
}

function checkDid(sink: ProblemSink, value: unknown, pointer: string): void {
  if (typeof value !== 'string' || !value.startsWith('did:key:')) return
  const error = cachedCheck('did', value, publicKeyFromDidKey)
  if (error !== '') sink.error({ pointer, code: 'invalid-did', message: error })
}

function checkSchema(sink: ProblemSink, schema: unknown, pointer: string, what: string, stepId?: string): void {
  if (schema === undefined || (typeof schema !== 'boolean' && !isRecord(schema))) return
  const check = checkJsonSchema(schema)
  const withStep = (p: FlowProblem): FlowProblem => (stepId === undefined ? p : { ...p, stepId })
  if (check.error !== undefined) {
    sink.error(withStep({ pointer, code: 'invalid-json-schema', message: `${what} does not compile: ${check.error}` }))
  } else if (check.warning !== undefined) {
    sink.warning(withStep({ pointer, code: 'json-schema-unknown-keyword', message: `${what}: ${check.warning} (ignored)` }))
  }
}

/** Compiles one expression text, reporting a syntax error at `pointer`. */
function checkExpressionAt(sink: ProblemSink, text: string, pointer: string, stepId?: string): void {
  const error = checkExpression(text)
  if (error === undefined) return
  const problem: FlowProblem = { pointer, code: 'invalid-expression', message: error.message }
  if (stepId !== undefined) problem.stepId = stepId
  sink.error(problem)
}

/** Compiles every `{{ … }}` template in a value, reporting syntax errors; returns whether it has any. */
function checkTemplates(sink: ProblemSink, value: unknown, pointer: string, stepId?: string): boolean {
  let any = false
  forEachTemplate(value, (expression, relative) => {
    any = true
    const error = checkExpression(expression)
    if (error === undefined) return
    const problem: FlowProblem = { pointer: pointer + relative(), code: 'invalid-expression', message: error.message }
    if (stepId !== undefined) problem.stepId = stepId
    sink.error(problem)
  })
  return any
}

/** A condition expression or a string filter: plain JSONata, or wrapped in `{{ }}`. */
function checkPlainExpression(sink: ProblemSink, value: unknown, pointer: string, stepId?: string): void {
  if (typeof value !== 'string') return
  checkExpressionAt(sink, templateExpression(value) ?? value, pointer, stepId)
}

function checkFilter(sink: ProblemSink, filter: unknown, pointer: string, stepId?: string): void {
  if (typeof filter === 'string') checkPlainExpression(sink, filter, pointer, stepId)
  else if (isRecord(filter)) checkTemplates(sink, filter, pointer, stepId)
}

function unknownFields(sink: ProblemSink, settings: SemanticSettings, value: Record<string, unknown>, known: readonly string[], pointer: string, where: string): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key) || key.startsWith('x-')) continue
    const hint = suggest(key, known)
    sink.add(settings.unknownFields, {
      pointer: `${pointer}/${escapePointerToken(key)}`,
      code: 'unknown-field',
      message: `unknown ${where} field "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; it is kept but has no meaning (prefix extensions with "x-")`
    })
  }
}

function inRange(value: unknown, min: number, max: number): boolean {
  return typeof value !== 'number' || (value >= min && value <= max)
}

function checkRetryPolicy(sink: ProblemSink, policy: unknown, pointer: string, stepId: string, limits: FlowLimits): void {
  if (!isRecord(policy)) return
  const { maxAttempts, initialDelay, maxDelay, backoff, backoffStrategy } = policy
  if (!inRange(maxAttempts, 1, limits.maxRetryAttempts)) {
    sink.error({ pointer: `${pointer}/maxAttempts`, code: 'retry-out-of-range', message: `maxAttempts must be 1 to ${limits.maxRetryAttempts}`, stepId })
  }
  if (!inRange(initialDelay, 0, limits.maxRetryInitialDelayMs)) {
    sink.error({ pointer: `${pointer}/initialDelay`, code: 'retry-out-of-range', message: `initialDelay must be 0 to ${limits.maxRetryInitialDelayMs} ms`, stepId })
  }
  if (!inRange(maxDelay, 0, limits.maxRetryDelayMs)) {
    sink.error({ pointer: `${pointer}/maxDelay`, code: 'retry-out-of-range', message: `maxDelay must be 0 to ${limits.maxRetryDelayMs} ms`, stepId })
  } else if (typeof maxDelay === 'number' && typeof initialDelay === 'number' && maxDelay < initialDelay) {
    sink.error({ pointer: `${pointer}/maxDelay`, code: 'retry-out-of-range', message: `maxDelay (${maxDelay} ms) is shorter than initialDelay (${initialDelay} ms)`, stepId })
  }
  if (typeof backoff === 'string' && typeof backoffStrategy === 'string' && backoff !== backoffStrategy) {
    sink.error({ pointer: `${pointer}/backoffStrategy`, code: 'conflicting-fields', message: `backoffStrategy "${backoffStrategy}" contradicts backoff "${backoff}"`, stepId })
  }
}

function checkResourceLimits(sink: ProblemSink, limitsValue: unknown, pointer: string, stepId: string, limits: FlowLimits): void {
  if (!isRecord(limitsValue)) return
  const bounded: [string, number, number, string][] = [
    ['memoryMB', 1, limits.maxMemoryMB, 'MiB'],
    ['maxMemoryMB', 0, limits.maxMemoryMB, 'MiB'],
    ['cpuMs', 1, limits.maxCpuMs, 'ms'],
    ['timeoutMs', limits.minTimeoutMs, limits.maxTimeoutMs, 'ms'],
    ['maxExecutionTimeMs', 0, limits.maxTimeoutMs, 'ms']
  ]
  for (const [field, min, max, unit] of bounded) {
    if (!inRange(limitsValue[field], min, max)) {
      sink.error({ pointer: `${pointer}/${field}`, code: 'limit-out-of-range', message: `${field} must be ${min} to ${max} ${unit}`, stepId })
    }
  }
  for (const [now, legacy] of [
    ['memoryMB', 'maxMemoryMB'],
    ['timeoutMs', 'maxExecutionTimeMs']
  ] as const) {
    const a = limitsValue[now]
    const b = limitsValue[legacy]
    if (typeof a === 'number' && typeof b === 'number' && a !== b) {
      sink.error({ pointer: `${pointer}/${legacy}`, code: 'conflicting-fields', message: `${legacy} (${b}) contradicts ${now} (${a})`, stepId })
    }
  }
}

function checkParams(sink: ProblemSink, settings: SemanticSettings, step: Record<string, unknown>, pointer: string, stepId: string): void {
  const params = step.params
  const hasTemplates = isRecord(params) && checkTemplates(sink, params, `${pointer}/params`, stepId)
  if (step.type !== 'task' || typeof step.action !== 'string') return
  const action = step.action
  if (!settings.actions.has(action)) {
    const names = settings.actions.names()
    const hint = suggest(action, names)
    sink.add(settings.unknownActions, {
      pointer: `${pointer}/action`,
      code: 'unknown-action',
      message: `action "${action}" is not registered${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; known actions: ${names.join(', ')}`,
      stepId
    })
    return
  }
  const validate = settings.actions.paramsValidator(action)
  if (validate === undefined || (params !== undefined && !isRecord(params))) return
  if (validate(params ?? {})) return
  if (params === undefined) {
    const missing = (validate.errors ?? []).filter((e) => e.keyword === 'required').map((e) => `"${String((e.params as { missingProperty?: unknown }).missingProperty)}"`)
    sink.error({
      pointer: `${pointer}/params`,
      code: 'missing-field',
      message: `missing required field "params" (${action} needs ${missing.length > 0 ? missing.join(', ') : 'params'})`,
      stepId
    })
    return
  }
  // values that are expressions are only known at run time: they are exempt from the params schema
  const templates = hasTemplates ? findTemplates(params).map((t) => t.pointer) : []
  const errors = (validate.errors ?? []).filter((e) => !templates.some((t) => e.instancePath === t || e.instancePath.startsWith(`${t}/`)))
  const base = `${pointer}/params`
  for (const problem of schemaProblems(errors)) {
    let message = problem.message
    if (problem.code === 'invalid-format') {
      const error = errors.find((e) => e.instancePath === problem.pointer && e.keyword === 'format' && (e.params as { format?: unknown }).format === 'jsonata')
      if (error !== undefined && typeof error.data === 'string') {
        message = checkExpression(error.data)?.message ?? message
        problem.code = 'invalid-expression'
      }
    }
    sink.error({ ...problem, pointer: base + problem.pointer, message: `${action} params: ${message}`, stepId })
  }
}

function checkStep(sink: ProblemSink, settings: SemanticSettings, step: Record<string, unknown>, pointer: string, flowId: unknown, flowVersion: unknown): void {
  const stepId = typeof step.id === 'string' ? step.id : ''
  const type = step.type
  const limits = settings.limits
  const isEvent = type === 'event-trigger'
  // steps that wait (an event, or branches and sub-flows that may hold event waits) may take up to
  // the longest event wait; steps that compute are held to the step timeout
  const waits = isEvent || type === 'parallel' || type === 'sub-flow'
  const maxTimeout = waits ? limits.maxEventWaitMs : limits.maxTimeoutMs
  if (!inRange(step.timeout, limits.minTimeoutMs, maxTimeout)) {
    sink.error({
      pointer: `${pointer}/timeout`,
      code: 'timeout-out-of-range',
      message: `timeout must be ${limits.minTimeoutMs} to ${maxTimeout} ms${waits ? ' (30 days: event-trigger, parallel and sub-flow steps may wait for events)' : ' (24 hours)'}`,
      stepId
    })
  }
  if (isEvent && typeof step.onTimeout === 'string' && step.timeout === undefined) {
    sink.warning({
      pointer: `${pointer}/onTimeout`,
      code: 'timeout-missing',
      message: `onTimeout is set but timeout is not: the wait lasts up to ${limits.maxEventWaitMs} ms`,
      stepId
    })
  }
  checkRetryPolicy(sink, step.retryPolicy, `${pointer}/retryPolicy`, stepId, limits)
  checkResourceLimits(sink, step.resourceLimits, `${pointer}/resourceLimits`, stepId, limits)
  checkParams(sink, settings, step, pointer, stepId)
  checkSchema(sink, step.outputSchema, `${pointer}/outputSchema`, 'outputSchema', stepId)
  switch (type) {
    case 'condition':
      checkPlainExpression(sink, step.expression, `${pointer}/expression`, stepId)
      if (step.expression === undefined && typeof step.action === 'string') legacyForm(sink, pointer, stepId, 'condition', 'expression', step.action)
      break
    case 'parallel':
      if (step.branches === undefined && typeof step.action === 'string') legacyForm(sink, pointer, stepId, 'parallel', 'branches', step.action)
      break
    case 'event-trigger':
      checkFilter(sink, step.filter, `${pointer}/filter`, stepId)
      if (step.event === undefined && typeof step.action === 'string') legacyForm(sink, pointer, stepId, 'event-trigger', 'event', step.action)
      break
    case 'module-call':
      if (step.module === undefined && typeof step.action === 'string') legacyForm(sink, pointer, stepId, 'module-call', 'module and operation', step.action)
      break
    case 'sub-flow': {
      checkTemplates(sink, step.input, `${pointer}/input`, stepId)
      const ref = step.flow
      if (typeof ref !== 'string') break
      const m = SUB_FLOW_BY_VERSION.exec(ref)
      if (m !== null) {
        if (!SEMVER.test(m[2] as string)) {
          sink.error({ pointer: `${pointer}/flow`, code: 'invalid-sub-flow-ref', message: `"${m[2]}" is not a semantic version (expected id@1.2.3)`, stepId })
        } else if (m[1] === flowId && m[2] === flowVersion) {
          sink.error({ pointer: `${pointer}/flow`, code: 'recursive-sub-flow', message: 'a flow cannot run itself as a sub-flow', stepId })
        }
      } else if (!isCid(ref)) {
        sink.error({ pointer: `${pointer}/flow`, code: 'invalid-sub-flow-ref', message: `sub-flow "${ref}" is neither id@version nor a flow hash (CID)`, stepId })
      }
      break
    }
  }
}

function legacyForm(sink: ProblemSink, pointer: string, stepId: string, type: string, field: string, action: string): void {
  sink.warning({
    pointer: `${pointer}/action`,
    code: 'legacy-step-form',
    message: `${type} step in the earlier format: no ${field}; it runs through its action "${action}"`,
    stepId
  })
}

function checkTriggers(sink: ProblemSink, triggers: unknown): void {
  if (!Array.isArray(triggers)) return
  const seen = new Map<string, number>()
  triggers.forEach((trigger: unknown, t: number) => {
    if (!isRecord(trigger)) return
    const pointer = `/triggers/${t}`
    if (typeof trigger.id === 'string') {
      const first = seen.get(trigger.id)
      if (first !== undefined) {
        sink.error({ pointer: `${pointer}/id`, code: 'duplicate-trigger-id', message: `trigger id "${trigger.id}" is already used by /triggers/${first}` })
      } else {
        seen.set(trigger.id, t)
      }
    }
    switch (trigger.type) {
      case 'schedule':
        if (typeof trigger.cron === 'string') {
          const error = cachedCheck('cron', trigger.cron, parseCron)
          if (error !== '') sink.error({ pointer: `${pointer}/cron`, code: 'invalid-cron', message: error })
        }
        if (typeof trigger.timezone === 'string' && !isTimezone(trigger.timezone)) {
          sink.error({ pointer: `${pointer}/timezone`, code: 'invalid-timezone', message: `unknown time zone "${trigger.timezone}" (use an IANA name such as Europe/Madrid)` })
        }
        break
      case 'webhook':
        checkSchema(sink, trigger.eventSchema, `${pointer}/eventSchema`, 'eventSchema')
        break
      case 'event':
        checkFilter(sink, trigger.filter, `${pointer}/filter`)
        break
    }
  })
}

/** Checks the step graph: entry, branch scopes, join counts, cycles and reachability. */
function checkGraph(sink: ProblemSink, graph: CompiledStepGraph): void {
  for (const p of graph.problems) sink.error(p)
  const n = graph.ids.length
  if (n === 0) return
  const { parallelOf, branchIndex, out, targets, ids } = graph
  const where = (i: number): string =>
    parallelOf[i] === -1 ? 'the top level' : `branch ${branchIndex[i]} of parallel step "${ids[parallelOf[i] as number]}"`

  if (parallelOf[0] !== -1) {
    sink.error({ pointer: '/steps/0', code: 'entry-in-branch', message: `the entry step "${ids[0]}" is in ${where(0)}; the first step must be top-level`, stepId: ids[0] as string })
  }

  for (let u = 0; u < n; u++) {
    const edges = out[u] as (typeof out)[number]
    const to = targets[u] as readonly number[]
    for (let k = 0; k < edges.length; k++) {
      const edge = edges[k] as (typeof edges)[number]
      if (edge.kind === 'branch') continue
      const v = to[k] as number
      if (parallelOf[u] === parallelOf[v] && branchIndex[u] === branchIndex[v]) continue
      const entering = parallelOf[v] !== -1 && !(parallelOf[u] === parallelOf[v] && branchIndex[u] === branchIndex[v])
      sink.error({
        pointer: edge.pointer,
        code: entering && parallelOf[u] === -1 ? 'branch-entry' : 'branch-escape',
        message:
          entering && parallelOf[u] === -1
            ? `step "${edge.to}" is in ${where(v)}: only its parallel step starts it, so "${ids[u]}" cannot lead to it`
            : `step "${ids[u]}" is in ${where(u)}; its ${edge.kind} edge cannot lead to "${edge.to}" in ${where(v)}`,
        stepId: ids[u] as string
      })
    }
    const step = graph.steps[u] as Record<string, unknown>
    if (step.type === 'parallel' && isRecord(step.join) && typeof step.join.count === 'number' && Array.isArray(step.branches)) {
      if (step.join.count > step.branches.length) {
        sink.error({
          pointer: `/steps/${graph.docIndex[u]}/join/count`,
          code: 'join-out-of-range',
          message: `join count ${step.join.count} exceeds the ${step.branches.length} branches`,
          stepId: ids[u] as string
        })
      }
    }
  }

  findCycles(sink, graph)

  // reachability from the entry
  const seen = new Uint8Array(n)
  const queue = new Int32Array(n)
  let head = 0
  let tail = 0
  queue[tail++] = 0
  seen[0] = 1
  while (head < tail) {
    const u = queue[head++] as number
    for (const v of targets[u] as readonly number[]) {
      if (seen[v] === 0) {
        seen[v] = 1
        queue[tail++] = v
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (seen[i] === 0) {
      sink.warning({ pointer: `/steps/${graph.docIndex[i]}`, code: 'unreachable-step', message: `step "${ids[i]}" is never reached from the entry step "${ids[0]}"`, stepId: ids[i] as string })
    }
  }
}

/** Most cycles reported per flow (each back edge closes one). */
const MAX_REPORTED_CYCLES = 100
const MAX_CYCLE_IDS_IN_MESSAGE = 20

/** Iterative depth-first search; reports the path of every cycle closed by a back edge. */
function findCycles(sink: ProblemSink, graph: CompiledStepGraph): void {
  const n = graph.ids.length
  const { targets, out, ids } = graph
  const color = new Uint8Array(n) // 0 unvisited, 1 on the stack, 2 done
  const next = new Int32Array(n)
  const stackPos = new Int32Array(n).fill(-1)
  const stack: number[] = []
  let reported = 0
  for (let s = 0; s < n; s++) {
    if (color[s] !== 0) continue
    color[s] = 1
    stackPos[s] = 0
    stack.push(s)
    while (stack.length > 0) {
      const u = stack[stack.length - 1] as number
      const to = targets[u] as readonly number[]
      if ((next[u] as number) < to.length) {
        const k = next[u] as number
        next[u] = k + 1
        const v = to[k] as number
        if (color[v] === 0) {
          color[v] = 1
          stackPos[v] = stack.length
          stack.push(v)
        } else if (color[v] === 1 && reported < MAX_REPORTED_CYCLES) {
          reported++
          const path = stack.slice(stackPos[v] as number).map((i) => ids[i] as string)
          path.push(ids[v] as string)
          const shown = path.length <= MAX_CYCLE_IDS_IN_MESSAGE ? path.join(' → ') : `${path.slice(0, MAX_CYCLE_IDS_IN_MESSAGE).join(' → ')} → … (${path.length - 1} steps)`
          const edge = (out[u] as (typeof out)[number])[k] as (typeof out)[number][number]
          sink.error({
            pointer: edge.pointer,
            code: 'cycle',
            message: `cycle: ${shown}. The step graph must be acyclic; retry a step with retryPolicy instead of leading back to it`,
            stepId: ids[u] as string,
            related: path.length <= 1000 ? path : path.slice(0, 1000)
          })
        }
      } else {
        color[u] = 2
        stackPos[u] = -1
        stack.pop()
      }
    }
  }
}

/** Runs every check beyond the JSON Schema; works on any document shape without throwing. */
export function semanticProblems(doc: unknown, settings: SemanticSettings, sink: ProblemSink): void {
  if (!isRecord(doc)) return
  unknownFields(sink, settings, doc, TOP_LEVEL_FIELDS, '', 'top-level')
  if (isRecord(doc.metadata)) {
    unknownFields(sink, settings, doc.metadata, METADATA_FIELDS, '/metadata', 'metadata')
    if (doc.metadata.visibility === 'dao-only' && doc.metadata.daoSubnet === undefined) {
      sink.warning({ pointer: '/metadata/daoSubnet', code: 'missing-dao-subnet', message: 'a dao-only flow should name its daoSubnet' })
    }
  }
  checkDid(sink, doc.owner, '/owner')
  if (typeof doc.previousVersion === 'string' && !isCid(doc.previousVersion)) {
    sink.error({ pointer: '/previousVersion', code: 'invalid-cid', message: 'previousVersion is not a CID (the flowHash of the previous version)' })
  }
  if (isRecord(doc.signature)) {
    checkDid(sink, doc.signature.signer, '/signature/signer')
    if (typeof doc.signature.hash === 'string' && !isCid(doc.signature.hash)) {
      sink.error({ pointer: '/signature/hash', code: 'invalid-cid', message: 'signature hash is not a CID' })
    }
  }
  checkSchema(sink, doc.inputSchema, '/inputSchema', 'inputSchema')
  checkTriggers(sink, doc.triggers)
  if (!Array.isArray(doc.steps)) return
  const graph = compileStepGraph(doc.steps)
  checkGraph(sink, graph)
  const steps = doc.steps
  for (let d = 0; d < steps.length; d++) {
    const step = steps[d]
    if (isRecord(step)) checkStep(sink, settings, step, `/steps/${d}`, doc.id, doc.version)
  }
}

export { schemaProblems }
