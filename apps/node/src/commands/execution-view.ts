import type { Engine, ExecutionResult, ExecutionState } from '@qflow/scheduler'
import { InputError } from '../errors.js'
import type { CliIo } from '../io.js'
import { iso, renderTable } from '../output.js'

/** Milliseconds as people read them: `840ms`, `2.4s`, `3m12s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-'
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`
}

/**
 * A plain object's copy with its members in name order, so that a log entry's payload reads the
 * same whatever order it was stored in (the log keeps plain-JSON payloads as they were written).
 */
function sortedMembers(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return value
  const record = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(record).sort()) out[key] = record[key]
  return out
}

/** A value as one short line (JSON, cut to `max` characters; with `sorted`, object members in name order). */
export function summarize(value: unknown, max = 60, order: 'as-is' | 'sorted' = 'as-is'): string {
  let text: string
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : order === 'sorted' ? sortedMembers(v) : v)) ?? 'null'
  } catch {
    text = String(value)
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** Steps that have ended (succeeded, failed or cancelled) out of those the flow has. */
export function stepProgress(state: ExecutionState, total: number): { done: number; total: number; current: string[] } {
  let done = 0
  for (const record of Object.values(state.steps)) if (record.status === 'succeeded' || record.status === 'failed' || record.status === 'cancelled') done++
  const current = Object.values(state.tokens)
    .filter((t) => t.state === 'running' || t.state === 'waiting' || t.state === 'retry-wait' || t.state === 'ready')
    .map((t) => t.stepId)
  return { done, total, current }
}

/**
 * Whether an unfinished execution can only move on when an event arrives: every path that is not
 * joining waits on an `event-trigger` step (a delay or a retry will move on by itself).
 */
export function waitsForEvents(state: ExecutionState): boolean {
  const tokens = Object.values(state.tokens).filter((t) => t.state !== 'joining')
  if (tokens.length === 0) return false
  return tokens.every((t) => t.state === 'waiting' && state.steps[t.stepId]?.wait !== undefined)
}

/** An execution result for people: status, then the output or the error. */
export function describeResult(result: ExecutionResult): string {
  if (result.status === 'completed') return JSON.stringify(result.output ?? null, null, 2)
  const error = result.error
  if (error === undefined) return `${result.status}`
  const at = error.stepId === undefined ? '' : ` at step ${error.stepId}`
  return `${result.status}${at}: ${error.name}: ${error.message}`
}

/** Parses `--input`: inline JSON, `@file` (JSON read from a file) or `@-` (standard input). */
export async function parseInput(raw: string | undefined, io: CliIo): Promise<unknown> {
  if (raw === undefined) return {}
  let text = raw
  let where = '--input'
  if (raw.startsWith('@')) {
    const path = raw.slice(1)
    where = path === '-' ? 'standard input' : path
    if (path === '-') text = await io.readStdin()
    else {
      const { readFile } = await import('node:fs/promises')
      const { resolve } = await import('node:path')
      try {
        text = await readFile(resolve(io.cwd, path), 'utf8')
      } catch (err) {
        throw new InputError(where, `Cannot read the input file ${path}: ${(err as Error).message}`)
      }
    }
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new InputError(where, `The input in ${where} is not JSON: ${(err as Error).message}`)
  }
}

/** What became of an execution a command waited for. */
export interface ExecutionOutcome {
  executionId: string
  status: 'completed' | 'failed' | 'aborted' | 'waiting' | 'paused'
  output?: unknown
  error?: ExecutionResult['error']
  /** Why it is paused. */
  reason?: string
}

/** How often an unfinished execution is looked at while waiting for it, ms. */
const SETTLE_POLL_MS = 50

/**
 * Waits until an execution ends, waits only for events (`waiting`: an event must be delivered,
 * which no command here does) or is paused; resolves with what became of it.
 */
export async function settleExecution(engine: Pick<Engine, 'live' | 'wait'>, executionId: string): Promise<ExecutionOutcome> {
  for (;;) {
    const state = engine.live(executionId)
    if (state === undefined || state.status === 'completed' || state.status === 'failed' || state.status === 'aborted') {
      const result = await engine.wait(executionId)
      return {
        executionId,
        status: result.status,
        ...(result.output === undefined ? {} : { output: result.output }),
        ...(result.error === undefined ? {} : { error: result.error })
      }
    }
    if (state.status === 'paused') return { executionId, status: 'paused', reason: state.pausedReason ?? 'paused' }
    if (waitsForEvents(state)) return { executionId, status: 'waiting' }
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS))
  }
}

/** An outcome for people: the result, or that it waits or is paused. */
export function describeOutcome(outcome: ExecutionOutcome): string {
  if (outcome.status === 'waiting') return 'waiting for an event'
  if (outcome.status === 'paused') return `paused (${outcome.reason ?? 'paused'})`
  return describeResult(outcome as ExecutionResult)
}

/** What `exec status` shows of an execution: a state held locally, or one read from a node's API. */
export interface StatusSource {
  readonly id: string
  readonly status: string
  readonly flowId: string
  readonly flowVersion: string
  readonly flowHash: string
  readonly actor: string
  readonly startedAt: number
  readonly updatedAt: number
  readonly pausedReason?: string | undefined
  readonly output?: unknown
  readonly error?: { readonly name: string; readonly message: string } | undefined
  readonly steps: Readonly<
    Record<string, { readonly status: string; readonly attempt: number; readonly startedAt: number; readonly endedAt?: number | undefined; readonly error?: unknown }>
  >
}

/** A step as `exec status --json` prints it. */
export interface StatusStep {
  readonly stepId: string
  readonly status: string
  readonly attempt: number
  readonly durationMs: number | null
  readonly error?: unknown
}

/** `exec status --json`: the execution and every step with its status, attempt and duration (the same local and remote). */
export function executionStatusValue(state: StatusSource): Record<string, unknown> & { steps: StatusStep[] } {
  const steps = Object.entries(state.steps).map(([stepId, record]) => ({
    stepId,
    status: record.status,
    attempt: record.attempt,
    durationMs: record.endedAt === undefined ? null : record.endedAt - record.startedAt,
    ...(record.error === undefined ? {} : { error: record.error })
  }))
  return {
    executionId: state.id,
    status: state.status,
    flowId: state.flowId,
    flowVersion: state.flowVersion,
    flowHash: state.flowHash,
    actor: state.actor,
    startedAt: state.startedAt,
    updatedAt: state.updatedAt,
    ...(state.pausedReason === undefined ? {} : { pausedReason: state.pausedReason }),
    ...(state.output === undefined ? {} : { output: state.output }),
    ...(state.error === undefined ? {} : { error: state.error }),
    steps
  }
}

/** `exec status` for people: a header and a table of the steps. */
export function executionStatusText(state: StatusSource): string {
  const lines = [
    `execution  ${state.id}`,
    `status     ${state.status}${state.pausedReason === undefined ? '' : ` (${state.pausedReason})`}`,
    `flow       ${state.flowId}@${state.flowVersion} (${state.flowHash})`,
    `started    ${iso(state.startedAt)}, last change ${iso(state.updatedAt)}`
  ]
  if (state.error !== undefined) lines.push(`error      ${state.error.name}: ${state.error.message}`)
  if (state.output !== undefined) lines.push(`output     ${summarize(state.output, 100)}`)
  lines.push('')
  lines.push(
    renderTable(
      ['STEP', 'STATUS', 'ATTEMPT', 'DURATION'],
      executionStatusValue(state).steps.map((s) => [s.stepId, s.status, String(s.attempt), s.durationMs === null ? '-' : formatDuration(s.durationMs)]),
      { alignRight: [2, 3] }
    )
  )
  return lines.join('\n')
}
