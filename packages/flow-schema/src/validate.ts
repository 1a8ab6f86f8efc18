import { type ActionRegistry, createActionRegistry } from './actions.js'
import { DEFAULT_MAX_PROBLEMS } from './constants.js'
import { FlowValidationError } from './errors.js'
import { type ParseFlowOptions, parseFlow } from './parse.js'
import { flowSchemaValidator } from './schema.js'
import { DEFAULT_FLOW_LIMITS, type FlowLimits, ProblemSink, type SemanticSettings, schemaProblems, semanticProblems } from './semantic.js'
import type { Flow, FlowProblem, FlowValidationResult } from './types.js'

/** Options of {@link validateFlow}. */
export interface ValidateFlowOptions {
  /** Actions `task` steps may name, with their params schemas. Default: the built-in actions. */
  actions?: ActionRegistry
  /**
   * How to report a task's action that is not in the registry. Default `warning`: the action set is
   * open (node plugins, actions of the earlier format) and a flow naming an action this node lacks is
   * well formed; pass `error` where every action must be known (say, before a node accepts a flow).
   */
  unknownActions?: 'error' | 'warning'
  /** How to report unknown top-level and metadata fields (other than `x-…`). Default `warning`. */
  unknownFields?: 'error' | 'warning'
  /** Bounds to enforce instead of the defaults ({@link DEFAULT_FLOW_LIMITS}). */
  limits?: Partial<FlowLimits>
  /** Most problems reported; the rest are summarized in one last error. Default 1,000. */
  maxProblems?: number
}

let builtinActions: ActionRegistry | undefined

function cap(problems: FlowProblem[], max: number, what: string): FlowProblem[] {
  if (problems.length <= max) return problems
  const kept = problems.slice(0, max)
  kept.push({ pointer: '', code: 'too-many-problems', message: `${problems.length - max} more ${what} not listed` })
  return kept
}

/**
 * Validates a parsed flow document (from {@link parseFlow}, `JSON.parse` or code): the JSON Schema,
 * then everything a schema cannot say — unique step and trigger ids, references that resolve,
 * parallel branches that are well formed, an acyclic step graph (cycles are errors, with their
 * path: retries are expressed with `retryPolicy`), timeouts and retry bounds, cron expressions,
 * JSONata expressions that compile, JSON Schemas (`inputSchema`, `outputSchema`, `eventSchema`)
 * that compile, action params against the action registry. Unreachable steps, unknown fields and
 * legacy forms are warnings. Every problem is reported at once, each with a JSON pointer; it never
 * throws on bad input.
 */
export function validateFlow(doc: unknown, options: ValidateFlowOptions = {}): FlowValidationResult {
  builtinActions ??= createActionRegistry()
  const settings: SemanticSettings = {
    actions: options.actions ?? builtinActions,
    unknownActions: options.unknownActions ?? 'warning',
    unknownFields: options.unknownFields ?? 'warning',
    limits: { ...DEFAULT_FLOW_LIMITS, ...options.limits }
  }
  const maxProblems = options.maxProblems ?? DEFAULT_MAX_PROBLEMS
  const sink = new ProblemSink()
  const steps = (doc as { steps?: unknown } | null)?.steps
  if (Array.isArray(steps) && steps.length > settings.limits.maxSteps) {
    sink.error({ pointer: '/steps', code: 'too-many-steps', message: `${steps.length} steps; at most ${settings.limits.maxSteps} are allowed` })
    return { valid: false, errors: sink.errors, warnings: [] }
  }
  const validate = flowSchemaValidator()
  const fromSchema = validate(doc) ? [] : schemaProblems(validate.errors ?? [])
  semanticProblems(doc, settings, sink)
  // a bound checked by both the schema and the semantic checks is reported once, by the latter
  const semanticPointers = new Set(sink.errors.map((p) => p.pointer))
  const kept = fromSchema.filter((p) => p.code !== 'out-of-range' || !semanticPointers.has(p.pointer))
  const errors = cap(sortProblems([...kept, ...sink.errors]), maxProblems, 'errors')
  const warnings = cap(sortProblems(sink.warnings), maxProblems, 'warnings')
  // name the step each problem is in
  if (Array.isArray(steps)) {
    for (const p of errors) addStepId(p, steps)
    for (const p of warnings) addStepId(p, steps)
  }
  if (errors.length > 0) return { valid: false, errors, warnings }
  return { valid: true, flow: doc as Flow, errors, warnings }
}

function comparePointers(a: string, b: string): number {
  const x = a.split('/')
  const y = b.split('/')
  const n = Math.min(x.length, y.length)
  for (let i = 1; i < n; i++) {
    const p = x[i] as string
    const q = y[i] as string
    if (p === q) continue
    const pn = /^\d+$/.test(p)
    const qn = /^\d+$/.test(q)
    if (pn && qn) return Number(p) - Number(q)
    return p < q ? -1 : 1
  }
  return x.length - y.length
}

/** Problems in document order (stable: problems at one pointer keep their order). */
function sortProblems(problems: FlowProblem[]): FlowProblem[] {
  return problems.map((p, i) => [p, i] as const).sort((a, b) => comparePointers(a[0].pointer, b[0].pointer) || a[1] - b[1]).map(([p]) => p)
}

const STEP_POINTER = /^\/steps\/(\d+)(?:\/|$)/

function addStepId(problem: FlowProblem, steps: unknown[]): void {
  if (problem.stepId !== undefined) return
  const m = STEP_POINTER.exec(problem.pointer)
  if (m === null) return
  const id = (steps[Number(m[1])] as { id?: unknown } | null | undefined)?.id
  if (typeof id === 'string') problem.stepId = id
}

/**
 * Validates a document and returns it typed as a flow.
 *
 * @throws {@link FlowValidationError} listing every error (`problems`) and the warnings.
 */
export function assertValidFlow(doc: unknown, options: ValidateFlowOptions = {}): Flow {
  const result = validateFlow(doc, options)
  if (!result.valid || result.flow === undefined) throw new FlowValidationError(result.errors, result.warnings)
  return result.flow
}

/** Options of {@link loadFlow}: parsing and validation options together. */
export interface LoadFlowOptions extends ParseFlowOptions, ValidateFlowOptions {}

/**
 * Parses and validates a flow document.
 *
 * @throws {@link FlowParseError} when the text does not parse; {@link FlowValidationError} when it is not a valid flow.
 */
export function loadFlow(text: string, options: LoadFlowOptions = {}): Flow {
  return assertValidFlow(parseFlow(text, options), options)
}
