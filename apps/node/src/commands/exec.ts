import type { LogEntry } from '@qflow/state'
import { type Command, Option } from 'commander'
import { ExitCode } from '../constants.js'
import { iso, renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import { executionStatusText, executionStatusValue } from './execution-view.js'
import { addNodeOptions, NODE_ENV_HELP, type NodeCommandOptions, nodeConfig, withNode } from './node-options.js'
import { entryRows, LOG_HEADERS, parseCount, registerRemoteExecCommands, remoteExecList, remoteExecLogs, remoteExecStatus, requireNodeFor } from './remote-exec.js'
import { addApiOption, clientFor, REMOTE_ENV_HELP, REMOTE_EXIT_HELP, type RemoteCommandOptions, resolveTarget } from './remote-target.js'

interface ListOptions extends NodeCommandOptions, RemoteCommandOptions {
  status?: 'running' | 'paused' | 'completed' | 'failed' | 'aborted'
  flow?: string
  limit?: number
}

interface LogsOptions extends NodeCommandOptions, RemoteCommandOptions {
  follow?: boolean
  after?: number
}

/** A log entry as `exec logs --json` prints it. */
function entryJson(entry: LogEntry): Record<string, unknown> {
  return {
    seq: entry.seq,
    cid: entry.cid.toString(),
    prev: entry.prev === null ? null : entry.prev.toString(),
    ts: entry.ts,
    kind: entry.kind,
    ...(entry.stepId === undefined ? {} : { stepId: entry.stepId }),
    ...(entry.attempt === undefined ? {} : { attempt: entry.attempt }),
    actor: entry.actor,
    subnet: entry.subnet,
    payload: entry.payload
  }
}

/**
 * Adds `qflow exec …`: list, inspect and read executions (on a node when one is configured, else
 * in the data directory), verify them in the data directory, and start, trigger, pause, resume
 * and abort them on a node.
 */
export function registerExecCommands(program: Command, context: CommandContext): void {
  const exec = program
    .command('exec')
    .description('start, trigger, pause, resume, abort, list, inspect and read executions on a node; list, inspect, read and verify them in a data directory')
    .addHelpText(
      'after',
      `
list, status and logs talk to a node when one is configured (--api, $QFLOW_API or "qflow
login"; an explicit --data-dir keeps them local); start, trigger, pause, resume and abort need
one. Without a node, list, status, logs and verify read the data directory without running
anything; they need it to themselves (stop a "qflow run" or "qflow resume" on it first).

Examples:
  $ qflow exec start welcome --input '{"name":"Ada"}' --wait
  $ qflow exec logs --follow exec-1f0c…
  $ qflow exec list --status failed
  $ qflow exec status exec-1f0c…
  $ qflow --json exec logs exec-1f0c… | jq '.entries[] | select(.stepId == "fetch")'
  $ qflow exec verify exec-1f0c…`
    )

  const readOnly = (options: NodeCommandOptions) => nodeConfig(options, context.io, { recover: false })

  addApiOption(
    addNodeOptions(
      exec
        .command('list')
        .description('list executions: id, status, flow, start and last change')
        .addOption(new Option('-s, --status <status>', 'only executions with this status').choices(['running', 'paused', 'completed', 'failed', 'aborted']))
        .option('-f, --flow <id>', 'only executions of this flow (on a node)')
        .option('-n, --limit <n>', 'list at most this many (on a node)', parseCount(1))
    )
  )
    .addHelpText('after', `${NODE_ENV_HELP}\n${REMOTE_ENV_HELP}\n${REMOTE_EXIT_HELP}\n\nExamples:\n  $ qflow exec list\n  $ qflow exec list --status paused\n  $ qflow exec list --flow welcome --api http://127.0.0.1:7070\n  $ qflow --json exec list | jq -r '.[].executionId'`)
    .action(async (options: ListOptions, command: Command) => {
      const target = await resolveTarget(options, context.io)
      if (target !== undefined) return remoteExecList(context, command, clientFor(target), options)
      const output = context.output(command)
      await withNode(readOnly(options), async (node) => {
        const { store } = node.parts
        // Loaded with the node (the CLI loads neither for commands that do not open one).
        const { startOf } = await import('@qflow/scheduler')
        const heads = await store.log.listExecutions(options.status === undefined ? {} : { status: options.status })
        const rows: Record<string, unknown>[] = []
        for (const head of heads) {
          let flow: { flowId?: string; flowVersion?: string } = {}
          for await (const entry of store.log.entries(head.executionId)) {
            // `started`, or the final entry of a run that ended at once, carrying its start.
            flow = (startOf(entry)?.payload ?? {}) as typeof flow
            break
          }
          rows.push({
            executionId: head.executionId,
            status: head.status,
            flowId: flow.flowId ?? null,
            flowVersion: flow.flowVersion ?? null,
            entries: head.seq + 1,
            startedAt: head.startedAt,
            updatedAt: head.updatedAt
          })
        }
        rows.sort((a, b) => (a.startedAt as number) - (b.startedAt as number))
        output.result(rows, () =>
          rows.length === 0
            ? 'no executions'
            : renderTable(
                ['EXECUTION', 'STATUS', 'FLOW', 'ENTRIES', 'STARTED', 'UPDATED'],
                rows.map((r) => [
                  String(r.executionId),
                  String(r.status),
                  r.flowId === null ? '-' : `${String(r.flowId)}@${String(r.flowVersion)}`,
                  String(r.entries),
                  iso(r.startedAt as number),
                  iso(r.updatedAt as number)
                ]),
                { alignRight: [3] }
              )
        )
      })
    })

  addApiOption(addNodeOptions(exec.command('status').description('show an execution: status, flow, and every step with its status, attempt and duration').argument('<id>', 'execution id')))
    .addHelpText('after', `${NODE_ENV_HELP}\n${REMOTE_ENV_HELP}\n${REMOTE_EXIT_HELP}\n\nExamples:\n  $ qflow exec status exec-1f0c…\n  $ qflow --json exec status exec-1f0c… | jq .steps`)
    .action(async (id: string, options: NodeCommandOptions & RemoteCommandOptions, command: Command) => {
      const target = await resolveTarget(options, context.io)
      if (target !== undefined) return remoteExecStatus(context, command, clientFor(target), id)
      const output = context.output(command)
      await withNode(readOnly(options), async (node) => {
        const state = await node.parts.engine.state(id)
        output.result(executionStatusValue(state), () => executionStatusText(state))
      })
    })

  addApiOption(
    addNodeOptions(
      exec
        .command('logs')
        .description("print an execution's log entries: seq, time, kind, step, attempt and a payload summary")
        .argument('<id>', 'execution id')
        .option('-f, --follow', 'keep printing entries as they are written, until the execution ends (on a node)')
        .option('--after <seq>', 'only entries after this sequence number (on a node)', parseCount(-1))
    )
  )
    .addHelpText(
      'after',
      `\nWith --json every entry is printed in full (cid, actor, decrypted payload; prev too from a data\ndirectory). A step's result is a step-completed entry; the last step's is the execution's\ncompleted entry, which names the step. With --follow the entries stream over the node's event WebSocket, one row (one JSON\nline with --json) each, and the command ends when the execution does: exit 0 when it completed,\n1 when it failed or was aborted.\n${NODE_ENV_HELP}\n${REMOTE_ENV_HELP}\n${REMOTE_EXIT_HELP}\n\nExamples:\n  $ qflow exec logs exec-1f0c…\n  $ qflow exec logs --follow exec-1f0c…\n  $ qflow --json exec logs exec-1f0c… | jq '.entries | length'\n  $ qflow --json exec logs --follow exec-1f0c… | jq -c 'select(.stepId != null)'`
    )
    .action(async (id: string, options: LogsOptions, command: Command) => {
      const target = await resolveTarget(options, context.io)
      if (target !== undefined) return remoteExecLogs(context, command, clientFor(target), id, options)
      if (options.follow === true) requireNodeFor('--follow')
      const output = context.output(command)
      await withNode(readOnly(options), async (node) => {
        const entries: LogEntry[] = []
        for await (const entry of node.parts.store.log.entries(id)) entries.push(entry)
        output.result({ executionId: id, entries: entries.map(entryJson) }, () =>
          renderTable(LOG_HEADERS, entries.flatMap(entryRows), { alignRight: [0, 4] })
        )
      })
    })

  addNodeOptions(
    exec.command('verify').description("check an execution's log: every block's hash, links, sequence, signature and decryption").argument('<id>', 'execution id')
  )
    .addHelpText(
      'after',
      `\nExit code 1 when the log is broken; the message names the first broken entry's seq and why\n(missing-block, bad-cid, malformed-entry, bad-link, seq-gap, bad-signature, decrypt-failed).\n${NODE_ENV_HELP}\n\nExamples:\n  $ qflow exec verify exec-1f0c…\n  $ qflow --json exec verify exec-1f0c… | jq .ok`
    )
    .action(async (id: string, options: NodeCommandOptions, command: Command) => {
      const output = context.output(command)
      await withNode(readOnly(options), async (node) => {
        const report = await node.parts.store.verifyExecution(id)
        if (report.ok) {
          output.result({ ok: true, executionId: id, entries: report.entries, head: report.head.toString() }, () => `ok: ${id}: ${report.entries} entries verified`)
          return
        }
        const problems = report.problems.map((p) => ({ seq: p.seq, reason: p.reason, cid: p.cid ?? null, message: p.message }))
        const first = report.error
        output.result({ ok: false, executionId: id, error: { seq: first.seq, reason: first.reason, cid: first.cid ?? null, message: first.message }, problems }, () =>
          problems.map((p) => `entry ${p.seq}: ${p.reason}${p.cid === null ? '' : ` (${p.cid})`}`).join('\n')
        )
        output.error(`${id}: entry ${first.seq} is broken: ${first.reason}`, { executionId: id, seq: first.seq, reason: first.reason })
        context.outcome.exitCode = ExitCode.invalid
      })
    })

  registerRemoteExecCommands(exec, context)
}
