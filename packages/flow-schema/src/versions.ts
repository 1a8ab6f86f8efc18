import { canonicalize } from '@qflow/canonical-json'
import { FlowVersionError } from './errors.js'
import { flowHash } from './hash.js'
import { escapePointerToken } from './pointer.js'
import { bumpVersion, compareVersions, type VersionBump } from './semver.js'
import type { Flow, Step } from './types.js'

/** Changes for {@link nextVersion}: members to set; a member set to `undefined` is removed. */
export type FlowChanges = { [K in Exclude<keyof Flow, 'version' | 'previousVersion' | 'signature'>]?: Flow[K] | undefined }

/** Options of {@link nextVersion} and {@link rollbackFlow}. */
export interface NextVersionOptions {
  /** Part of the version to bump (default `minor` for {@link nextVersion}, `patch` for {@link rollbackFlow}). */
  bump?: VersionBump
  /** The exact new version instead (must come after the current one). */
  version?: string
}

function withoutVersioning(flow: Flow): Omit<Flow, 'version' | 'previousVersion' | 'signature'> {
  const { version: _v, previousVersion: _p, signature: _s, ...content } = flow
  return content
}

function newVersion(current: string, options: NextVersionOptions, defaultBump: VersionBump): string {
  if (options.version === undefined) return bumpVersion(current, options.bump ?? defaultBump)
  if (compareVersions(options.version, current) <= 0) {
    throw new FlowVersionError('version-not-increasing', `version ${options.version} does not come after ${current}`)
  }
  return options.version
}

/**
 * Makes the next version of a flow: `changes` applied (an object of members to set, or a function
 * given a copy of `prev` that returns the new flow), the version bumped (default minor), and
 * `previousVersion` set to `prev`'s {@link flowHash}, so versions form a hash-linked chain. The
 * result is unsigned: validate and sign it before publishing. `prev` is not modified.
 *
 * @throws {@link FlowVersionError} when the changes alter the flow's id, or `options.version` does not increase.
 */
export function nextVersion(prev: Flow, changes: FlowChanges | ((draft: Flow) => Flow) = {}, options: NextVersionOptions = {}): Flow {
  let draft: Record<string, unknown>
  if (typeof changes === 'function') {
    draft = { ...changes(structuredClone(prev)) }
  } else {
    draft = { ...prev }
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) delete draft[key]
      else draft[key] = value
    }
  }
  if (draft.id !== prev.id) throw new FlowVersionError('different-flow', `a new version cannot change the flow id (${prev.id} → ${String(draft.id)})`)
  delete draft.signature
  draft.version = newVersion(prev.version, options, 'minor')
  draft.previousVersion = flowHash(prev)
  return draft as unknown as Flow
}

/** Whether two flows have the same content, apart from `version`, `previousVersion` and `signature`. */
export function sameFlowContent(a: Flow, b: Flow): boolean {
  return canonicalize(withoutVersioning(a)) === canonicalize(withoutVersioning(b))
}

/**
 * Rolls a flow back to an earlier version: a NEW version (bumped from `current`, default patch) whose
 * content equals `target`'s and whose `previousVersion` is `current`'s hash, so history stays
 * append-only. Call it with the target and the current head, or with the whole history (oldest
 * first; the last one is the head) and the version or hash to go back to.
 *
 * @throws {@link FlowVersionError} when the target is another flow, is missing from the history, or the version does not increase.
 */
export function rollbackFlow(target: Flow, current: Flow, options?: NextVersionOptions): Flow
export function rollbackFlow(history: readonly Flow[], to: string, options?: NextVersionOptions): Flow
export function rollbackFlow(targetOrHistory: Flow | readonly Flow[], currentOrTo: Flow | string, options: NextVersionOptions = {}): Flow {
  let target: Flow
  let current: Flow
  if (Array.isArray(targetOrHistory)) {
    const history = targetOrHistory as readonly Flow[]
    const head = history[history.length - 1]
    if (head === undefined) throw new FlowVersionError('empty-history', 'cannot roll back an empty history')
    const found = findFlowVersion(history, currentOrTo as string)
    if (found === undefined) throw new FlowVersionError('not-found', `no version or hash "${String(currentOrTo)}" in the history`)
    target = found
    current = head
  } else {
    target = targetOrHistory as Flow
    current = currentOrTo as Flow
  }
  if (target.id !== current.id) throw new FlowVersionError('different-flow', `cannot roll ${current.id} back to a version of ${target.id}`)
  const result: Record<string, unknown> = { ...structuredClone(withoutVersioning(target)) }
  result.version = newVersion(current.version, options, 'patch')
  result.previousVersion = flowHash(current)
  return result as unknown as Flow
}

/** The flow in `history` whose version, or flow hash, is `versionOrHash`. */
export function findFlowVersion(history: readonly Flow[], versionOrHash: string): Flow | undefined {
  return history.find((f) => f.version === versionOrHash) ?? history.find((f) => flowHash(f) === versionOrHash)
}

/** A problem found in a version history. */
export interface FlowHistoryProblem {
  /** Index of the offending version in the history. */
  index: number
  /** `different-flow`, `broken-chain` or `version-not-increasing`. */
  code: 'different-flow' | 'broken-chain' | 'version-not-increasing' | 'invalid-version'
  /** What is wrong. */
  message: string
}

/** What {@link checkFlowHistory} found. */
export interface FlowHistoryCheck {
  /** True when the history is one hash-linked chain of increasing versions of one flow. */
  valid: boolean
  /** Problems found. */
  problems: FlowHistoryProblem[]
}

/**
 * Checks a version history (oldest first): one flow id throughout, each version's
 * `previousVersion` equal to the hash of the one before it, and versions increasing.
 */
export function checkFlowHistory(history: readonly Flow[]): FlowHistoryCheck {
  const problems: FlowHistoryProblem[] = []
  for (let i = 1; i < history.length; i++) {
    const prev = history[i - 1] as Flow
    const cur = history[i] as Flow
    if (cur.id !== prev.id) {
      problems.push({ index: i, code: 'different-flow', message: `version ${i} is of flow ${cur.id}, not ${prev.id}` })
      continue
    }
    const expected = flowHash(prev)
    if (cur.previousVersion !== expected) {
      problems.push({ index: i, code: 'broken-chain', message: `previousVersion of ${cur.version} is ${String(cur.previousVersion)}, expected ${expected} (the hash of ${prev.version})` })
    }
    try {
      if (compareVersions(cur.version, prev.version) <= 0) {
        problems.push({ index: i, code: 'version-not-increasing', message: `version ${cur.version} does not come after ${prev.version}` })
      }
    } catch (err) {
      problems.push({ index: i, code: 'invalid-version', message: (err as Error).message })
    }
  }
  return { valid: problems.length === 0, problems }
}

/** One changed member in a {@link FlowDiff}. */
export interface FlowFieldChange {
  /** JSON pointer of the member (step members are pointed at in the newer flow, or the older one when removed). */
  pointer: string
  /** Whether the member was added, removed or changed. */
  kind: 'added' | 'removed' | 'changed'
  /** Value before (absent when added). */
  before?: unknown
  /** Value after (absent when removed). */
  after?: unknown
}

/** A step present in both flows whose content changed. */
export interface FlowStepChange {
  /** Step id. */
  id: string
  /** JSON pointer of the step in the newer flow. */
  pointer: string
  /** Its changed members. */
  changes: FlowFieldChange[]
}

/** A step whose position relative to the other steps changed (list order is sequential order). */
export interface FlowStepMove {
  /** Step id. */
  id: string
  /** Index in the older flow. */
  from: number
  /** Index in the newer flow. */
  to: number
}

/** What changed between two flows (see {@link diffFlows}). */
export interface FlowDiff {
  /** True when nothing changed. */
  equal: boolean
  /** Changed top-level members (all but `steps`). */
  changedFields: FlowFieldChange[]
  /** Ids of steps only in the newer flow. */
  addedSteps: string[]
  /** Ids of steps only in the older flow. */
  removedSteps: string[]
  /** Steps in both whose members changed. */
  changedSteps: FlowStepChange[]
  /** Steps in both whose relative order changed. */
  movedSteps: FlowStepMove[]
}

function canonicalOrUndefined(value: unknown): string | undefined {
  return value === undefined ? undefined : canonicalize(value)
}

function diffMembers(a: Record<string, unknown>, b: Record<string, unknown>, base: string, skip: ReadonlySet<string>, baseRemoved = base): FlowFieldChange[] {
  const changes: FlowFieldChange[] = []
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const key of keys) {
    if (skip.has(key)) continue
    const before = a[key]
    const after = b[key]
    const x = canonicalOrUndefined(before)
    const y = canonicalOrUndefined(after)
    if (x === y) continue
    const token = escapePointerToken(key)
    if (x === undefined) changes.push({ pointer: `${base}/${token}`, kind: 'added', after })
    else if (y === undefined) changes.push({ pointer: `${baseRemoved}/${token}`, kind: 'removed', before })
    else changes.push({ pointer: `${base}/${token}`, kind: 'changed', before, after })
  }
  return changes
}

/** Indexes (into `seq`) of a longest strictly increasing subsequence. O(n log n). */
function longestIncreasing(seq: readonly number[]): Set<number> {
  const tails: number[] = []
  const prev = new Int32Array(seq.length).fill(-1)
  for (let i = 0; i < seq.length; i++) {
    const v = seq[i] as number
    let lo = 0
    let hi = tails.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((seq[tails[mid] as number] as number) < v) lo = mid + 1
      else hi = mid
    }
    if (lo > 0) prev[i] = tails[lo - 1] as number
    tails[lo] = i
  }
  const keep = new Set<number>()
  for (let i = tails.length > 0 ? (tails[tails.length - 1] as number) : -1; i !== -1; i = prev[i] as number) keep.add(i)
  return keep
}

const NO_SKIP = new Set<string>()
const SKIP_STEPS = new Set(['steps'])

/**
 * Lists what changed from flow `a` to flow `b`: top-level members (with JSON pointers and values
 * before and after), steps added and removed (by id), steps whose members changed, and steps whose
 * relative order changed (which changes what follows what).
 */
export function diffFlows(a: Flow, b: Flow): FlowDiff {
  const changedFields = diffMembers(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>, '', SKIP_STEPS)
  const stepsA = Array.isArray(a.steps) ? a.steps : []
  const stepsB = Array.isArray(b.steps) ? b.steps : []
  const indexA = new Map<string, number>()
  stepsA.forEach((s, i) => {
    if (!indexA.has(s.id)) indexA.set(s.id, i)
  })
  const indexB = new Map<string, number>()
  stepsB.forEach((s, i) => {
    if (!indexB.has(s.id)) indexB.set(s.id, i)
  })
  const addedSteps: string[] = []
  const changedSteps: FlowStepChange[] = []
  const common: { id: string; from: number; to: number }[] = []
  stepsB.forEach((step: Step, to: number) => {
    if (indexB.get(step.id) !== to) return
    const from = indexA.get(step.id)
    if (from === undefined) {
      addedSteps.push(step.id)
      return
    }
    common.push({ id: step.id, from, to })
    const changes = diffMembers(stepsA[from] as unknown as Record<string, unknown>, step as unknown as Record<string, unknown>, `/steps/${to}`, NO_SKIP, `/steps/${from}`)
    if (changes.length > 0) changedSteps.push({ id: step.id, pointer: `/steps/${to}`, changes })
  })
  const removedSteps = stepsA.filter((s, i) => indexA.get(s.id) === i && !indexB.has(s.id)).map((s) => s.id)
  const inOrder = longestIncreasing(common.map((c) => c.from))
  const movedSteps = common.filter((_, k) => !inOrder.has(k))
  return {
    equal: changedFields.length === 0 && addedSteps.length === 0 && removedSteps.length === 0 && changedSteps.length === 0 && movedSteps.length === 0,
    changedFields,
    addedSteps,
    removedSteps,
    changedSteps,
    movedSteps
  }
}
