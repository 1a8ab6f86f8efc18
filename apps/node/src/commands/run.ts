import type { Command } from 'commander'
import { ExitCode } from '../constants.js'
import { loadFlowFile } from '../flow-file.js'
import type { CommandContext } from '../program.js'
import { describeOutcome, type ExecutionOutcome, formatDuration, parseInput, settleExecution, stepProgress } from './execution-view.js'
import { addNodeOptions, NODE_ENV_HELP, type NodeCommandOptions, nodeConfig, withNode } from './node-options.js'

interface RunOptions extends NodeCommandOptions {
  input?: string
  progress?: boolean
  executionId?: string
}

/** How often the progress line is redrawn, ms. */
const PROGRESS_INTERVAL_MS = 500

/** Adds `qflow run`: store a flow and run it in-process on the embedded node. */
export function registerRunCommand(program: Command, context: CommandContext): void {
  const run = program
    .command('run')
    .description('validate and store a flow, run it on the embedded node, and print its output')
    .argument('<flow-file>', 'flow definition, JSON or YAML (- for standard input)')
    .option('-i, --input <json|@file>', 'the execution input: inline JSON, @file with JSON, or @- for standard input', undefined)
    .option('--execution-id <id>', 'run under this id; when it exists, wait for that execution instead of starting another')
    .option('--progress', 'show a progress line on stderr even when it is not a terminal')
    .option('--no-progress', 'never show the progress line')
  addNodeOptions(run).addHelpText(
    'after',
    `
The flow is stored first (the same content is the same version, so running a file twice adds no
revision), then executed by the engine in this process. Every transition is written to the
execution log before it is acted on: if the process dies, "qflow resume" continues from there.
Other unfinished executions in the data directory are recovered and driven while this one runs.

An execution that reaches a point where only an event can move it on (an event-trigger step) is
reported as waiting, and the command exits 0: it stays in the log. One that is paused (a lapsed
consent, a containment) is reported as paused.

Exit codes: 0 the execution completed (or waits for an event), 1 it failed, was aborted or is
paused (or the flow is invalid), 2 usage error.
${NODE_ENV_HELP}

Examples:
  $ qflow run hello.yaml --input '{"name":"Ada"}'
  $ qflow run flow.yaml --input @input.json --data-dir ./node-a
  $ qflow --json run flow.yaml | jq .output
  $ QFLOW_ALLOW_PRIVATE_NETWORKS=127.0.0.0/8 qflow run local-api.yaml`
  )
  run.action(async (file: string, options: RunOptions, command: Command) => {
    const output = context.output(command)
    const { io } = context
    const { flow } = await loadFlowFile(file, io)
    const input = await parseInput(options.input, io)
    const showProgress = options.progress ?? io.stderrIsTTY === true
    const tty = io.stderrIsTTY === true
    await withNode(nodeConfig(options, io), async (node) => {
      const { engine } = node.parts
      const version = await engine.createFlow(flow as never, await node.asAdmin())
      const began = Date.now()
      const executionId = await engine.startExecution(version.flowHash, input, {
        ...(await node.asAdmin()),
        trigger: 'cli',
        ...(options.executionId === undefined ? {} : { executionId: options.executionId })
      })
      let ticker: NodeJS.Timeout | undefined
      if (showProgress) {
        ticker = setInterval(() => {
          const state = engine.live(executionId)
          if (state === undefined) return
          const { done, total, current } = stepProgress(state, flow.steps.length)
          const line = `${executionId}: ${done}/${total} steps, at ${current.length === 0 ? '-' : current.join(', ')}, ${formatDuration(Date.now() - began)}`
          io.stderr(tty ? `\r\x1b[2K${line}` : `${line}\n`)
        }, PROGRESS_INTERVAL_MS)
      }
      let result: ExecutionOutcome
      try {
        result = await settleExecution(engine, executionId)
      } finally {
        if (ticker !== undefined) clearInterval(ticker)
        if (showProgress && tty) io.stderr('\r\x1b[2K')
      }
      output.result(
        {
          executionId,
          flowId: flow.id,
          flowVersion: flow.version,
          flowHash: version.flowHash,
          status: result.status,
          ...(result.output === undefined ? {} : { output: result.output }),
          ...(result.error === undefined ? {} : { error: result.error }),
          ...(result.reason === undefined ? {} : { reason: result.reason })
        },
        () => (result.status === 'completed' ? describeOutcome(result) : '')
      )
      if (result.status === 'waiting') {
        if (!output.json) io.stderr(`${executionId} is waiting for an event; it stays in the log (qflow exec status, qflow resume)\n`)
      } else if (result.status !== 'completed') {
        context.outcome.exitCode = ExitCode.invalid
        output.error(`execution ${executionId} ${describeOutcome(result)}`, { executionId, status: result.status, error: result.error })
      } else if (!output.json) {
        io.stderr(`${executionId} completed in ${formatDuration(Date.now() - began)}\n`)
      }
    })
  })
}
