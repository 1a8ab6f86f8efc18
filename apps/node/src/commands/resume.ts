import type { Command } from 'commander'
import { ExitCode } from '../constants.js'
import type { CommandContext } from '../program.js'
import { describeOutcome, settleExecution } from './execution-view.js'
import { addNodeOptions, NODE_ENV_HELP, type NodeCommandOptions, nodeConfig, withNode } from './node-options.js'

/** Adds `qflow resume`: recover every unfinished execution and drive it to its end. */
export function registerResumeCommand(program: Command, context: CommandContext): void {
  const resume = program.command('resume').description('recover every unfinished execution in the data directory and wait for each to end')
  addNodeOptions(resume)
    .addHelpText(
      'after',
      `
Each execution continues from its last committed transition: a step whose completion is in the
log is not run again; a step that was dispatched but not completed runs again with the same
attempt number and idempotency key. Executions waiting for an event are reported as waiting, and
paused ones as paused; neither is waited for.

Exit codes: 0 every recovered execution completed (or waits / is paused), 1 one failed or was
aborted, 2 usage error.
${NODE_ENV_HELP}

Examples:
  $ qflow resume
  $ qflow resume --data-dir ./node-a
  $ qflow --json resume | jq '.[] | select(.status != "completed")'`
    )
    .action(async (options: NodeCommandOptions, command: Command) => {
      const output = context.output(command)
      await withNode(nodeConfig(options, context.io), async (node) => {
        const { engine, store } = node.parts
        const heads = await store.log.listExecutions({ status: ['running', 'paused'] })
        const outcomes = await Promise.all(heads.map((head) => settleExecution(engine, head.executionId)))
        output.result(outcomes, () => {
          if (outcomes.length === 0) return 'nothing to resume'
          return outcomes.map((o) => `${o.executionId}: ${describeOutcome(o)}`).join('\n')
        })
        if (outcomes.some((o) => o.status === 'failed' || o.status === 'aborted')) context.outcome.exitCode = ExitCode.invalid
      })
    })
}
