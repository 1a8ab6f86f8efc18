import { jsonPointer } from './pointer.js'
import { suggest } from './schema.js'
import type { Flow, FlowProblem, Step } from './types.js'

/** What an edge of the step graph means: which outcome of its source step leads to its target. */
export type StepEdgeKind = 'success' | 'failure' | 'true' | 'false' | 'timeout' | 'branch'

/** An edge of the step graph. */
export interface StepEdge {
  /** The outcome that takes it. */
  readonly kind: StepEdgeKind
  /** Target step id. */
  readonly to: string
  /** True when it comes from list order (no `onSuccess`/`onTrue`/… field names the target). */
  readonly implicit: boolean
  /** JSON pointer of the field that declares it (of the step itself for implicit edges). */
  readonly pointer: string
  /** For `branch` edges: the branch's index in the parallel step. */
  readonly branch?: number
}

/** Where a step sits inside a parallel step. */
export interface BranchMembership {
  /** Id of the parallel step. */
  readonly parallel: string
  /** Index of the branch. */
  readonly branch: number
  /** Index of the step in the branch. */
  readonly position: number
}

/** Successors of a step by outcome (see {@link nextSteps}). */
export interface StepSuccessors {
  /** After success (for a parallel step: after the join). */
  success?: string
  /** After failure. */
  failure?: string
  /** A condition step's true outcome. */
  true?: string
  /** A condition step's false outcome. */
  false?: string
  /** An event-trigger step's timeout. */
  timeout?: string
  /** A parallel step's branches: the first step of each. */
  branches?: string[]
}

/**
 * The compiled step graph of a flow: each step's outgoing edges by outcome, with list-order
 * defaults resolved. The engine walks it; validation checks it (references, parallel branches,
 * cycles, reachability), so both read the flow the same way.
 */
export interface StepGraph {
  /** Id of the entry step (the first step). */
  readonly entry: string | undefined
  /** Step ids in document order (the first occurrence of a duplicated id only). */
  readonly stepIds: readonly string[]
  /** A step by id. */
  step(id: string): Step | undefined
  /** Index of a step in the flow's `steps` array. */
  indexOf(id: string): number | undefined
  /** Outgoing edges of a step (empty for an unknown id). */
  edges(id: string): readonly StepEdge[]
  /** Target ids of a step's outgoing edges, of one kind or all. */
  successors(id: string, kind?: StepEdgeKind): string[]
  /** Where a step sits in a parallel step, if it belongs to a branch. */
  branchOf(id: string): BranchMembership | undefined
  /** A parallel step's branches, resolved to known step ids. */
  branches(id: string): readonly (readonly string[])[]
}

/** The graph plus the numeric tables validation works on (internal). */
export interface CompiledStepGraph extends StepGraph {
  /** Accepted step ids by internal index. */
  readonly ids: readonly string[]
  /** Index in the `steps` array, by internal index. */
  readonly docIndex: readonly number[]
  /** Steps by internal index. */
  readonly steps: readonly Record<string, unknown>[]
  /** Internal index by id. */
  readonly index: ReadonlyMap<string, number>
  /** Outgoing edges by internal index. */
  readonly out: readonly (readonly StepEdge[])[]
  /** Edge targets by internal index, aligned with `out`. */
  readonly targets: readonly (readonly number[])[]
  /** Internal index of the parallel step a step's branch belongs to, or -1. */
  readonly parallelOf: Int32Array
  /** Branch index within that parallel step, or -1. */
  readonly branchIndex: Int32Array
  /** Problems met while building: duplicate ids, unknown references, malformed branches. */
  readonly problems: FlowProblem[]
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Reference fields by step type (condition steps are linked separately). */
const REF_FIELDS: Record<string, readonly [string, StepEdgeKind][]> = {
  'event-trigger': [
    ['onSuccess', 'success'],
    ['onTimeout', 'timeout'],
    ['onFailure', 'failure']
  ]
}
const CONDITION_FIELDS: readonly (readonly ['onTrue' | 'onFalse', StepEdgeKind])[] = [
  ['onTrue', 'true'],
  ['onFalse', 'false']
]
const DEFAULT_REF_FIELDS: readonly [string, StepEdgeKind][] = [
  ['onSuccess', 'success'],
  ['onFailure', 'failure']
]

/**
 * Builds the step graph of a possibly invalid flow, collecting the structural problems it meets.
 * Linear in the number of steps and edges; no recursion.
 */
export function compileStepGraph(rawSteps: unknown): CompiledStepGraph {
  const problems: FlowProblem[] = []
  const list = Array.isArray(rawSteps) ? rawSteps : []
  const ids: string[] = []
  const docIndex: number[] = []
  const steps: Record<string, unknown>[] = []
  const index = new Map<string, number>()

  for (let d = 0; d < list.length; d++) {
    const step = list[d]
    if (!isRecord(step) || typeof step.id !== 'string') continue
    const id = step.id
    if (index.has(id)) {
      const first = docIndex[index.get(id) as number] as number
      problems.push({
        pointer: `/steps/${d}/id`,
        code: 'duplicate-step-id',
        message: `step id "${id}" is already used by /steps/${first}`,
        stepId: id
      })
      continue
    }
    index.set(id, ids.length)
    ids.push(id)
    docIndex.push(d)
    steps.push(step)
  }

  const n = ids.length
  // "did you mean" hints compare against every id: only for flows small enough for that to be cheap
  const hintFor = (ref: string): string => {
    if (n > 1000) return ''
    const hint = suggest(ref, index.keys())
    return hint === undefined ? '' : ` (did you mean "${hint}"?)`
  }
  const parallelOf = new Int32Array(n).fill(-1)
  const branchIndex = new Int32Array(n).fill(-1)
  const position = new Int32Array(n).fill(-1)
  const resolvedBranches = new Map<number, number[][]>()

  // branch membership first: list-order defaults depend on it
  for (let i = 0; i < n; i++) {
    const step = steps[i] as Record<string, unknown>
    if (step.type !== 'parallel' || !Array.isArray(step.branches)) continue
    const d = docIndex[i] as number
    const resolved: number[][] = []
    step.branches.forEach((branch: unknown, b: number) => {
      const members: number[] = []
      resolved.push(members)
      if (!Array.isArray(branch)) return
      branch.forEach((memberId: unknown, k: number) => {
        if (typeof memberId !== 'string') return
        const pointer = `/steps/${d}/branches/${b}/${k}`
        const m = index.get(memberId)
        if (m === undefined) {
          problems.push({
            pointer,
            code: 'unknown-step-ref',
            message: `branch names unknown step "${memberId}"${hintFor(memberId)}`,
            stepId: ids[i] as string
          })
          return
        }
        if (m === i) {
          problems.push({ pointer, code: 'branch-self', message: 'a parallel step cannot be a member of its own branch', stepId: ids[i] as string })
          return
        }
        if (parallelOf[m] !== -1) {
          const owner = ids[parallelOf[m] as number] as string
          problems.push({
            pointer,
            code: 'duplicate-branch-member',
            message: `step "${memberId}" is already in branch ${branchIndex[m]} of parallel step "${owner}"; a step belongs to at most one branch`,
            stepId: ids[i] as string,
            related: [memberId]
          })
          return
        }
        parallelOf[m] = i
        branchIndex[m] = b
        position[m] = members.length
        members.push(m)
      })
    })
    resolvedBranches.set(i, resolved)
  }

  // list-order successor of top-level steps: the next step that is not in a branch
  const nextTop = new Int32Array(n).fill(-1)
  for (let i = n - 1, next = -1; i >= 0; i--) {
    nextTop[i] = next
    if (parallelOf[i] === -1) next = i
  }
  const implicitNext = (i: number): number => {
    const p = parallelOf[i] as number
    if (p === -1) return nextTop[i] as number
    const members = (resolvedBranches.get(p) as number[][])[branchIndex[i] as number] as number[]
    return (members[(position[i] as number) + 1] as number | undefined) ?? -1
  }

  const out: StepEdge[][] = []
  const targets: number[][] = []
  // the step being linked; resolve() and add() read these instead of being re-created per step
  let step: Record<string, unknown> = {}
  let current = 0
  let base = ''
  let edges: StepEdge[] = []
  let to: number[] = []
  /** Target index of a reference field: undefined when absent or not a string, -1 when unknown. */
  const resolve = (field: string): number | undefined => {
    const ref = step[field]
    if (typeof ref !== 'string') return undefined
    const t = index.get(ref)
    if (t === undefined) {
      problems.push({
        pointer: `${base}/${field}`,
        code: 'unknown-step-ref',
        message: `${field} names unknown step "${ref}"${hintFor(ref)}`,
        stepId: ids[current] as string
      })
      return -1
    }
    return t
  }
  const add = (kind: StepEdgeKind, target: number, implicit: boolean, pointer: string, branch?: number): void => {
    edges.push(branch === undefined ? { kind, to: ids[target] as string, implicit, pointer } : { kind, to: ids[target] as string, implicit, pointer, branch })
    to.push(target)
  }
  for (let i = 0; i < n; i++) {
    step = steps[i] as Record<string, unknown>
    current = i
    base = `/steps/${docIndex[i] as number}`
    edges = []
    to = []
    out.push(edges)
    targets.push(to)
    const type = step.type
    if (type === 'parallel') {
      const resolved = resolvedBranches.get(i) ?? []
      for (let b = 0; b < resolved.length; b++) {
        const first = (resolved[b] as number[])[0]
        if (first !== undefined) add('branch', first, false, `${base}/branches/${b}/0`, b)
      }
    }
    if (type === 'condition') {
      // onSuccess on a condition is the fallback of a missing onTrue/onFalse
      const fallback = resolve('onSuccess')
      for (const [field, kind] of CONDITION_FIELDS) {
        const t = resolve(field)
        if (t !== undefined) {
          if (t >= 0) add(kind, t, false, `${base}/${field}`)
        } else if (fallback !== undefined) {
          if (fallback >= 0) add(kind, fallback, false, `${base}/onSuccess`)
        } else {
          const next = implicitNext(i)
          if (next >= 0) add(kind, next, true, base)
        }
      }
      const failure = resolve('onFailure')
      if (failure !== undefined && failure >= 0) add('failure', failure, false, `${base}/onFailure`)
      continue
    }
    let failureTarget: number | undefined
    let hasTimeout = false
    for (const [field, kind] of REF_FIELDS[type as string] ?? DEFAULT_REF_FIELDS) {
      const t = resolve(field)
      if (t !== undefined) {
        if (t >= 0) add(kind, t, false, `${base}/${field}`)
        if (kind === 'failure') failureTarget = t
        if (kind === 'timeout') hasTimeout = true
      } else if (kind === 'success') {
        const next = implicitNext(i)
        if (next >= 0) add('success', next, true, base)
      }
    }
    // a wait that runs out without onTimeout is a failure: it takes the failure edge
    if (type === 'event-trigger' && !hasTimeout && failureTarget !== undefined && failureTarget >= 0) {
      add('timeout', failureTarget, true, `${base}/onFailure`)
    }
  }

  const membership = (id: string): BranchMembership | undefined => {
    const i = index.get(id)
    if (i === undefined || parallelOf[i] === -1) return undefined
    return { parallel: ids[parallelOf[i] as number] as string, branch: branchIndex[i] as number, position: position[i] as number }
  }

  return {
    entry: ids[0],
    stepIds: ids,
    ids,
    docIndex,
    steps,
    index,
    out,
    targets,
    parallelOf,
    branchIndex,
    problems,
    step: (id) => {
      const i = index.get(id)
      return i === undefined ? undefined : (steps[i] as unknown as Step)
    },
    indexOf: (id) => {
      const i = index.get(id)
      return i === undefined ? undefined : docIndex[i]
    },
    edges: (id) => {
      const i = index.get(id)
      return i === undefined ? [] : (out[i] as StepEdge[])
    },
    successors: (id, kind) => {
      const i = index.get(id)
      if (i === undefined) return []
      const edges = out[i] as StepEdge[]
      return (kind === undefined ? edges : edges.filter((e) => e.kind === kind)).map((e) => e.to)
    },
    branchOf: membership,
    branches: (id) => {
      const i = index.get(id)
      if (i === undefined) return []
      return (resolvedBranches.get(i) ?? []).map((members) => members.map((m) => ids[m] as string))
    }
  }
}

const graphs = new WeakMap<object, StepGraph>()

/**
 * Builds the step graph of a flow: each step's successors by outcome, with list-order defaults
 * (a step without `onSuccess` continues with the next step in the list, or in its branch for a
 * step in a parallel branch; the last step of a branch ends the branch). The result is cached per
 * flow object, so treat flows as immutable.
 *
 * References that do not resolve get no edge; {@link validateFlow} reports them.
 */
export function buildStepGraph(flow: Pick<Flow, 'steps'>): StepGraph {
  let graph = graphs.get(flow)
  if (graph === undefined) {
    graph = compileStepGraph(flow.steps)
    graphs.set(flow, graph)
  }
  return graph
}

/**
 * Successors of one step by outcome: where a run goes after the step succeeds, fails, is true or
 * false (condition), times out (event-trigger: `onTimeout`, else `onFailure`), and the first steps
 * of its branches (parallel). A missing outcome means the path ends there: successfully after
 * success (or true/false), as a failure after failure or timeout.
 */
export function nextSteps(flow: Pick<Flow, 'steps'>, stepId: string): StepSuccessors {
  const graph = buildStepGraph(flow)
  const result: StepSuccessors = {}
  for (const edge of graph.edges(stepId)) {
    if (edge.kind !== 'branch') result[edge.kind] = edge.to
    else if (result.branches === undefined) result.branches = [edge.to]
    else result.branches.push(edge.to)
  }
  return result
}

/** JSON pointer of a step in the document, by internal index. */
export function stepPointer(graph: CompiledStepGraph, i: number, ...rest: (string | number)[]): string {
  return jsonPointer(['steps', graph.docIndex[i] as number, ...rest])
}
