import { randomUUID } from 'node:crypto'
import { type Command, InvalidArgumentError } from 'commander'
import type { QflowClient } from '../client/client.js'
import type { ExecutionStateJson, ExecutionStatus, LogEntryRecord } from '../client/types.js'
import { DEBUG_ENV, ExitCode } from '../constants.js'
import { iso, renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import { describeOutcome, type ExecutionOutcome, executionStatusText, executionStatusValue, formatDuration, parseInput, summarize } from './execution-view.js'
import { LIST_PAGE_LIMIT, LOG_PAGE_LIMIT, REMOTE_POLL_MS, REMOTE_PROGRESS_INTERVAL_MS } from './remote-constants.js'
import { addApiOption, NodeNotConfiguredError, REMOTE_ENV_HELP, REMOTE_EXIT_HELP, type RemoteCommandOptions, requireClient } from './remote-target.js'
import { awaitsEvent, ExecutionSignals, ProgressLine, progressText, TERMINAL_STATUSES } from './remote-watch.js'

/** Tells standard error, under `--verbose` or `QFLOW_DEBUG=1`, that the event stream could not be used. */
function streamFallback(context: CommandContext, command: Command): (reason: string) => void {
  const debug = (command.optsWithGlobals() as { verbose?: boolean }).verbose === true || context.io.env[DEBUG_ENV] === '1'
  return (reason) => {
    if (debug) context.io.stderr(`qflow: no event stream (${reason}); polling the node instead\n`)
  }
}

/** Parses a whole number option (`--limit`, `--after`, `--timeout`). */
export function parseCount(min: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^-?[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`a whole number from ${min}`)
    return n
  }
}

// ---- views shared with the local commands' JSON shapes ------------------------------------

/** A log entry as `exec logs --json` prints it (the local shape, less what the API does not carry). */
function entryValue(entry: LogEntryRecord): Record<string, unknown> {
  return {
    seq: entry.seq,
    cid: entry.cid,
    ts: entry.ts,
    kind: entry.kind,
    ...(entry.stepId === undefined ? {} : { stepId: entry.stepId }),
    ...(entry.attempt === undefined ? {} : { attempt: entry.attempt }),
    actor: entry.actor,
    payload: entry.payload ?? null
  }
}

/** The columns of `exec logs`. */
export const LOG_HEADERS = ['SEQ', 'TIME', 'KIND', 'STEP', 'ATTEMPT', 'PAYLOAD'] as const

/** What a row of `exec logs` shows of an entry. */
interface LoggedEntry {
  readonly seq: number
  readonly ts: number
  readonly kind: string
  readonly stepId?: string | undefined
  readonly attempt?: number | undefined
  readonly payload?: unknown
}

/**
 * The rows of one entry in `exec logs`: the start it carries when it opened the log as a final
 * entry (a `started` row), the pure steps' completions it carries (`preceding`, each a
 * `step-completed` row), all with the entry's seq, then the entry itself.
 */
export function entryRows(e: LoggedEntry): string[][] {
  const cells = (kind: string, ts: number, stepId: string | undefined, attempt: number | undefined, payload: unknown): string[] => [
    String(e.seq),
    iso(ts),
    kind,
    stepId ?? '-',
    attempt === undefined ? '-' : String(attempt),
    summarize(payload, 60, 'sorted')
  ]
  const payload = e.payload as Record<string, unknown> | null
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return [cells(e.kind, e.ts, e.stepId, e.attempt, e.payload)]
  const rows: string[][] = []
  // (What the engine's `startOf` reads; the CLI does not load the engine to show a log.)
  const carried = e.seq === 0 && e.kind !== 'started' ? payload.started : undefined
  const start = carried !== null && typeof carried === 'object' ? (carried as Record<string, unknown>) : undefined
  if (start !== undefined) {
    const { ts, ...started } = start
    rows.push(cells('started', typeof ts === 'number' ? ts : e.ts, undefined, undefined, started))
  }
  const preceding = Array.isArray(payload.preceding) ? (payload.preceding as Record<string, unknown>[]) : []
  for (const c of preceding) {
    const { stepId, attempt, ts, ...rest } = c
    rows.push(cells('step-completed', typeof ts === 'number' ? ts : e.ts, typeof stepId === 'string' ? stepId : undefined, typeof attempt === 'number' ? attempt : undefined, rest))
  }
  if (rows.length === 0) return [cells(e.kind, e.ts, e.stepId, e.attempt, payload)]
  const { preceding: _preceding, ...own } = payload
  if (start !== undefined) delete own.started
  rows.push(cells(e.kind, e.ts, e.stepId, e.attempt, own))
  return rows
}

/** Fixed column widths of a followed log (rows are printed as they come, so widths cannot be measured). */
const FOLLOW_WIDTHS = [5, 24, 16, 20, 7] as const

function followRow(cells: readonly string[]): string {
  return cells
    .map((cell, i) => {
      const width = FOLLOW_WIDTHS[i]
      if (width === undefined) return cell
      return i === 0 || i === 4 ? cell.padStart(width) : cell.padEnd(width)
    })
    .join('  ')
    .trimEnd()
}

// ---- handlers the local commands hand over to when a node is configured -------------------

/** Options of `exec list` against a node. */
export interface RemoteListOptions {
  status?: ExecutionStatus
  flow?: string
  limit?: number
}

/** `qflow exec list` against a node: every matching execution (up to `--limit`), oldest first. */
export async function remoteExecList(context: CommandContext, command: Command, client: QflowClient, options: RemoteListOptions): Promise<void> {
  const output = context.output(command)
  const rows: Record<string, unknown>[] = []
  const pageLimit = Math.min(options.limit ?? LIST_PAGE_LIMIT, LIST_PAGE_LIMIT)
  for await (const item of client.executions.listAll({
    ...(options.status === undefined ? {} : { status: options.status }),
    ...(options.flow === undefined ? {} : { flowId: options.flow }),
    limit: pageLimit
  })) {
    rows.push({
      executionId: item.executionId,
      status: item.status,
      flowId: item.flowId ?? null,
      entries: item.seq + 1,
      startedAt: item.startedAt,
      updatedAt: item.updatedAt
    })
    if (options.limit !== undefined && rows.length >= options.limit) break
  }
  rows.sort((a, b) => (a.startedAt as number) - (b.startedAt as number))
  output.result(rows, () =>
    rows.length === 0
      ? 'no executions'
      : renderTable(
          ['EXECUTION', 'STATUS', 'FLOW', 'ENTRIES', 'STARTED', 'UPDATED'],
          rows.map((r) => [String(r.executionId), String(r.status), r.flowId === null ? '-' : String(r.flowId), String(r.entries), iso(r.startedAt as number), iso(r.updatedAt as number)]),
          { alignRight: [3] }
        )
  )
}

/** `qflow exec status` against a node. */
export async function remoteExecStatus(context: CommandContext, command: Command, client: QflowClient, id: string): Promise<void> {
  const output = context.output(command)
  const state = await client.executions.get(id)
  const source = { ...state, id: state.executionId }
  output.result(executionStatusValue(source), () => executionStatusText(source))
}

/** Options of `exec logs` against a node. */
export interface RemoteLogsOptions {
  follow?: boolean
  after?: number
}

/**
 * `qflow exec logs` against a node; with `--follow`, keeps printing entries as they are written
 * (woken by the event stream, polling when there is none) until the execution ends, and exits 1
 * when it failed or was aborted.
 */
export async function remoteExecLogs(context: CommandContext, command: Command, client: QflowClient, id: string, options: RemoteLogsOptions): Promise<void> {
  const output = context.output(command)
  if (options.follow !== true) {
    const entries: LogEntryRecord[] = []
    for await (const entry of client.executions.allLogs(id, { limit: LOG_PAGE_LIMIT, ...(options.after === undefined ? {} : { after: options.after }) })) entries.push(entry)
    output.result({ executionId: id, entries: entries.map(entryValue) }, () =>
      renderTable(LOG_HEADERS, entries.flatMap(entryRows), { alignRight: [0, 4] })
    )
    return
  }
  const { io } = context
  // Subscribe before reading, so that nothing written in between goes unnoticed.
  const signals = await ExecutionSignals.open(client, { executionId: id }, REMOTE_POLL_MS, streamFallback(context, command))
  let after = options.after
  let header = false
  const drain = async () => {
    for await (const entry of client.executions.allLogs(id, { limit: LOG_PAGE_LIMIT, ...(after === undefined ? {} : { after }) })) {
      after = entry.seq
      if (output.json) {
        io.stdout(`${JSON.stringify(entryValue(entry))}\n`)
        continue
      }
      if (!header) {
        io.stdout(`${followRow(LOG_HEADERS)}\n`)
        header = true
      }
      for (const row of entryRows(entry)) io.stdout(`${followRow(row)}\n`)
    }
  }
  try {
    let state = await client.executions.get(id)
    for (;;) {
      await drain()
      if (TERMINAL_STATUSES.has(state.status)) break
      // Any event of the execution means new entries; its state is re-read at its end, or on a poll tick.
      const event = await signals.next()
      if (event === undefined || event.type === 'q.qflow.exec.completed.v1') state = await client.executions.get(id)
    }
    await drain()
    if (state.status !== 'completed') {
      context.outcome.exitCode = ExitCode.invalid
      if (!output.json) io.stderr(`${id} ${state.status}${state.error === undefined ? '' : `: ${state.error.name}: ${state.error.message}`}\n`)
    } else if (!output.json) {
      io.stderr(`${id} completed\n`)
    }
  } finally {
    await signals.close()
  }
}

// ---- the commands only a node answers -----------------------------------------------------

interface StartOptions extends RemoteCommandOptions {
  input?: string
  flowVersion?: string
  executionId?: string
  wait?: boolean
  timeout?: number
  progress?: boolean
}

/** `flow` or `flow@version`. */
function parseFlowRef(ref: string): { flowId: string; version?: string } {
  const at = ref.lastIndexOf('@')
  if (at <= 0 || at === ref.length - 1) return { flowId: ref }
  return { flowId: ref.slice(0, at), version: ref.slice(at + 1) }
}

async function flowStepCount(client: QflowClient, flowId: string, version: string): Promise<number | undefined> {
  try {
    const stored = await client.flows.getVersion(flowId, version)
    return Array.isArray(stored.flow.steps) ? stored.flow.steps.length : undefined
  } catch {
    return undefined
  }
}

/** Watches an execution until it ends, is paused or only an event can move it on (or `timeoutMs` passes). */
async function settleRemote(
  client: QflowClient,
  signals: ExecutionSignals,
  executionId: string,
  options: { timeoutMs: number | undefined; progress: ProgressLine; began: number }
): Promise<{ outcome: ExecutionOutcome | { executionId: string; status: 'running' }; state: ExecutionStateJson }> {
  let state = await client.executions.get(executionId)
  let total: number | undefined
  let counted = false
  let quietSeq: number | undefined
  const deadline = options.timeoutMs === undefined ? undefined : options.began + options.timeoutMs
  let drawn = 0
  for (;;) {
    if (TERMINAL_STATUSES.has(state.status)) {
      const status = state.status as 'completed' | 'failed' | 'aborted'
      return {
        outcome: { executionId, status, ...(state.output === undefined ? {} : { output: state.output }), ...(state.error === undefined ? {} : { error: state.error }) },
        state
      }
    }
    if (state.status === 'paused') return { outcome: { executionId, status: 'paused', reason: state.pausedReason ?? 'paused' }, state }
    // Waiting for an event, seen twice at the same log position: nothing else will move it on.
    if (awaitsEvent(state)) {
      if (quietSeq === state.seq) return { outcome: { executionId, status: 'waiting' }, state }
      quietSeq = state.seq
    } else {
      quietSeq = undefined
    }
    if (deadline !== undefined && Date.now() >= deadline) return { outcome: { executionId, status: 'running' }, state }
    if (!counted) {
      counted = true
      total = await flowStepCount(client, state.flowId, state.flowVersion)
    }
    options.progress.show(progressText(state, total, options.began))
    drawn = Date.now()
    const event = await signals.next()
    if (event !== undefined && 'executionId' in event.data && event.data.executionId !== executionId) continue
    // Many events in a burst: redraw at most every REMOTE_PROGRESS_INTERVAL_MS, but never miss the end.
    if (event !== undefined && event.type !== 'q.qflow.exec.completed.v1' && Date.now() - drawn < REMOTE_PROGRESS_INTERVAL_MS) continue
    state = await client.executions.get(executionId)
  }
}

async function startCommand(context: CommandContext, command: Command, ref: string, options: StartOptions): Promise<void> {
  const output = context.output(command)
  const { io } = context
  const client = await requireClient(options, io)
  const { flowId, version: refVersion } = parseFlowRef(ref)
  const version = options.flowVersion ?? refVersion
  const input = await parseInput(options.input, io)
  const began = Date.now()
  if (options.wait !== true) {
    const started = await client.flows.start(flowId, {
      input,
      ...(version === undefined ? {} : { version }),
      ...(options.executionId === undefined ? {} : { executionId: options.executionId })
    })
    output.result(started, () => started.executionId)
    if (!output.json) io.stderr(`started ${started.executionId} (${started.status}); follow it: qflow exec logs --follow ${started.executionId}\n`)
    return
  }
  // The id is chosen here so that the event stream can be listened to before the start.
  const executionId = options.executionId ?? `exec-${randomUUID()}`
  const signals = await ExecutionSignals.open(client, { flowId }, REMOTE_POLL_MS, streamFallback(context, command))
  const progress = new ProgressLine(io, options.progress ?? io.stderrIsTTY === true)
  let result: Awaited<ReturnType<typeof settleRemote>>
  try {
    await client.flows.start(flowId, { input, executionId, ...(version === undefined ? {} : { version }) })
    result = await settleRemote(client, signals, executionId, {
      timeoutMs: options.timeout === undefined ? undefined : options.timeout * 1000,
      progress,
      began
    })
  } finally {
    progress.clear()
    await signals.close()
  }
  const { outcome, state } = result
  output.result(
    {
      executionId,
      flowId: state.flowId,
      flowVersion: state.flowVersion,
      flowHash: state.flowHash,
      status: outcome.status,
      ...('output' in outcome && outcome.output !== undefined ? { output: outcome.output } : {}),
      ...('error' in outcome && outcome.error !== undefined ? { error: outcome.error } : {}),
      ...('reason' in outcome && outcome.reason !== undefined ? { reason: outcome.reason } : {})
    },
    () => (outcome.status === 'completed' ? describeOutcome(outcome) : '')
  )
  if (outcome.status === 'waiting') {
    if (!output.json) io.stderr(`${executionId} is waiting for an event (qflow exec trigger <event>, qflow exec status ${executionId})\n`)
  } else if (outcome.status === 'running') {
    context.outcome.exitCode = ExitCode.invalid
    output.error(`execution ${executionId} is still running after ${options.timeout}s (qflow exec logs --follow ${executionId})`, { executionId, status: 'running' })
  } else if (outcome.status !== 'completed') {
    context.outcome.exitCode = ExitCode.invalid
    output.error(`execution ${executionId} ${describeOutcome(outcome)}`, { executionId, status: outcome.status, error: 'error' in outcome ? outcome.error : undefined })
  } else if (!output.json) {
    io.stderr(`${executionId} completed in ${formatDuration(Date.now() - began)}\n`)
  }
}

interface TriggerOptions extends RemoteCommandOptions {
  payload?: string
}

interface ControlOptions extends RemoteCommandOptions {
  reason?: string
}

/**
 * Adds the `exec` subcommands only a node answers: `start`, `trigger`, `pause`, `resume` and
 * `abort` (`list`, `status` and `logs` hand over to a node from their own modules).
 */
export function registerRemoteExecCommands(exec: Command, context: CommandContext): void {
  addApiOption(
    exec
      .command('start')
      .description("start an execution of a flow stored on the node; with --wait, show its progress and print its result")
      .argument('<flow>', 'flow id, or id@version')
      .option('-i, --input <json|@file>', 'the execution input: inline JSON, @file with JSON, or @- for standard input')
      .option('--flow-version <version>', 'run this document version of the flow (default the current one)')
      .option('--execution-id <id>', 'start under this id; when it exists, that execution is answered')
      .option('-w, --wait', 'wait for the execution to end and print its result')
      .option('--timeout <seconds>', 'with --wait: stop waiting after this many seconds (exit 1, the execution goes on)', parseCount(1))
      .option('--progress', 'with --wait: show the progress line on stderr even when it is not a terminal')
      .option('--no-progress', 'with --wait: never show the progress line')
  )
    .addHelpText(
      'after',
      `
Without --wait, prints the execution id (the whole answer with --json) as soon as the node has
made the start durable. With --wait, shows a progress line on stderr (on a terminal) and prints
the output of a completed execution. An execution that reaches a point where only an event can
move it on is reported as waiting (exit 0): deliver the event with "qflow exec trigger".
${REMOTE_EXIT_HELP} With --wait, 1 also when the execution failed, was aborted or paused,
or --timeout passed.
${REMOTE_ENV_HELP}

Examples:
  $ qflow exec start welcome --input '{"name":"Ada"}'
  $ qflow exec start welcome@1.0.0 --input @input.json --wait
  $ qflow --json exec start welcome --wait --timeout 60 | jq .output
  $ id=$(qflow exec start welcome) && qflow exec logs --follow "$id"`
    )
    .action(async (ref: string, options: StartOptions, command: Command) => startCommand(context, command, ref, options))

  addApiOption(
    exec
      .command('trigger')
      .description('deliver an event to the event-trigger steps waiting for it on the node')
      .argument('<event>', 'the event name, e.g. q.qwallet.payment.received.v1')
      .option('-p, --payload <json|@file>', 'the event payload: inline JSON, @file with JSON, or @- for standard input (default {})')
  )
    .addHelpText(
      'after',
      `
Prints how many waiting steps the event ended (0 is not an error: nothing was waiting for it,
or no waiting step's filter matched).
${REMOTE_EXIT_HELP}
${REMOTE_ENV_HELP}

Examples:
  $ qflow exec trigger q.qwallet.payment.received.v1 --payload '{"reference":"inv-7","status":"settled"}'
  $ qflow --json exec trigger q.shop.order.placed.v1 --payload @order.json | jq .delivered`
    )
    .action(async (name: string, options: TriggerOptions, command: Command) => {
      const output = context.output(command)
      const client = await requireClient(options, context.io)
      const payload = await parseInput(options.payload, context.io)
      const result = await client.events.trigger(name, payload)
      output.result(result, () => `${result.name}: delivered to ${result.delivered} waiting step${result.delivered === 1 ? '' : 's'}`)
    })

  const controls = [
    ['pause', 'stop dispatching new steps of an execution until it is resumed (running steps finish)', 'paused'],
    ['resume', 'resume a paused execution', 'resumed'],
    ['abort', 'end an execution; running steps are aborted and it is recorded as aborted', 'aborted']
  ] as const
  for (const [verb, description, done] of controls) {
    addApiOption(exec.command(verb).description(description).argument('<id>', 'execution id').option('-r, --reason <text>', 'why (recorded in the log)'))
      .addHelpText(
        'after',
        `${REMOTE_EXIT_HELP} Resuming or aborting an execution that has ended is refused (exit 1).
${REMOTE_ENV_HELP}

Examples:
  $ qflow exec ${verb} exec-1f0c…${verb === 'resume' ? '' : ` --reason "${verb === 'pause' ? 'maintenance window' : 'wrong input'}"`}
  $ qflow --json exec ${verb} exec-1f0c… | jq -r .status`
      )
      .action(async (id: string, options: ControlOptions, command: Command) => {
        const output = context.output(command)
        const client = await requireClient(options, context.io)
        const result = await client.executions[verb](id, options.reason)
        output.result(result, () => `${result.executionId}: ${done} (now ${result.status})`)
      })
  }
}

/** Thrown by a local command given an option only a node answers (`exec logs --follow`). */
export function requireNodeFor(option: string): never {
  throw new NodeNotConfiguredError(`${option} needs a node: pass --api <url>, set QFLOW_API, or run "qflow login"`)
}
