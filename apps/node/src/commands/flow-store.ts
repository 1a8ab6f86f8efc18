import type { FlowVersion } from '@qflow/state'
import { type Command, InvalidArgumentError } from 'commander'
import type { CommandContext } from '../program.js'
import { flowHistoryTable, flowVersionView } from '../flow-version-view.js'
import { addNodeOptions, NODE_ENV_HELP, type NodeCommandOptions, nodeConfig, withNode } from './node-options.js'
import { remoteFlowHistory, remoteFlowRollback } from './remote-flow.js'
import { addApiOption, clientFor, REMOTE_ENV_HELP, REMOTE_EXIT_HELP, type RemoteCommandOptions, resolveTarget } from './remote-target.js'


function parseRevision(value: string): number {
  const n = Number(value)
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a revision is a whole number from 1')
  return n
}

/**
 * Adds `qflow flow history` and `qflow flow rollback` to the `flow` group: the stored revisions of
 * a flow, on a node when one is configured, else in the data directory.
 */
export function registerFlowStoreCommands(flow: Command, context: CommandContext): void {
  const readOnly = (options: NodeCommandOptions) => nodeConfig(options, context.io, { recover: false })

  addApiOption(addNodeOptions(flow.command('history').description("list a stored flow's revisions, newest first").argument('<id>', 'flow id')))
    .addHelpText('after', `${NODE_ENV_HELP}\n${REMOTE_ENV_HELP}\n${REMOTE_EXIT_HELP}\n\nExamples:\n  $ qflow flow history invoice-approval\n  $ qflow --json flow history invoice-approval | jq '.[0].flowHash'`)
    .action(async (id: string, options: NodeCommandOptions & RemoteCommandOptions, command: Command) => {
      const target = await resolveTarget(options, context.io)
      if (target !== undefined) return remoteFlowHistory(context, command, clientFor(target), id)
      const output = context.output(command)
      await withNode(readOnly(options), async (node) => {
        const versions: FlowVersion[] = []
        for await (const v of node.parts.store.flows.history(id)) versions.push(v)
        output.result(versions.map(flowVersionView), () => flowHistoryTable(versions))
      })
    })

  addApiOption(
    addNodeOptions(
      flow
        .command('rollback')
        .description('make an earlier revision of a stored flow current again (recorded as a new revision)')
        .argument('<id>', 'flow id')
        .argument('<revision>', 'the revision whose document becomes current', parseRevision)
    )
  )
    .addHelpText('after', `${NODE_ENV_HELP}\n${REMOTE_ENV_HELP}\n${REMOTE_EXIT_HELP}\n\nExamples:\n  $ qflow flow rollback invoice-approval 1\n  $ qflow --json flow rollback invoice-approval 2 | jq .revision`)
    .action(async (id: string, revision: number, options: NodeCommandOptions & RemoteCommandOptions, command: Command) => {
      const target = await resolveTarget(options, context.io)
      if (target !== undefined) return remoteFlowRollback(context, command, clientFor(target), id, revision)
      const output = context.output(command)
      await withNode(readOnly(options), async (node) => {
        const v = await node.parts.store.flows.rollback(id, revision)
        output.result(flowVersionView(v), () => `${id}: revision ${v.revision} restores revision ${revision} (version ${v.flowVersion}, ${v.flowHash})`)
      })
    })
}
