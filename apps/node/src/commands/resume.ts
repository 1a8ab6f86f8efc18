import type { ExecutionResult } from '@qflow/scheduler'
import type { Command } from 'commander'
import { ExitCode } from '../constants.js'
import type { CommandContext } from '../program.js'
import { describeResult, waitsForEvents } from './execution-view.js'
import { addNodeOptions, NODE_ENV_HELP, type NodeCommandOptions, nodeConfig, withNode } from './node-options.js'

/** How often unfinished executions are looked at while waiting for them, ms. */
const POLL_INTERVAL_MS = 50

/** What became of one recovered execution. */
interface ResumeOutcome {
  executionId: string
  status: 'completed' | 'failed' | 'aborted' | 'waiting' | 'paused'
  output?: unknown
  error?: unknown
  reason?: string
}

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
        const outcomes = await Promise.all(heads.map((head) => settle(head.executionId)))
        async function settle(executionId: string): Promise<ResumeOutcome> {
          for (;;) {
            const state = engine.live(executionId)
            if (state === undefined || state.status === 'completed' || state.status === 'failed' || state.status === 'aborted') {
              const result: ExecutionResult = await engine.wait(executionId)
              return {
                executionId,
                status: result.status,
                ...(result.output === undefined ? {} : { output: result.output }),
                ...(result.error === undefined ? {} : { error: result.error })
              }
            }
            if (state.status === 'paused') return { executionId, status: 'paused', reason: state.pausedReason ?? 'paused' }
            if (waitsForEvents(state)) return { executionId, status: 'waiting' }
            await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS))
          }
        }
        output.result(outcomes, () => {
          if (outcomes.length === 0) return 'nothing to resume'
          return outcomes
            .map((o) => {
              if (o.status === 'waiting') return `${o.executionId}: waiting for an event`
              if (o.status === 'paused') return `${o.executionId}: paused (${o.reason})`
              return `${o.executionId}: ${describeResult(o as ExecutionResult)}`
            })
            .join('\n')
        })
        if (outcomes.some((o) => o.status === 'failed' || o.status === 'aborted')) context.outcome.exitCode = ExitCode.invalid
      })
    })
}
