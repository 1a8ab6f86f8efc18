import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { registerFlowCommands } from './commands/flow.js'
import { registerExecCommands } from './commands/exec.js'
import { registerFlowStoreCommands } from './commands/flow-store.js'
import { registerKeyCommands } from './commands/key.js'
import { registerNodeCommands } from './commands/node.js'
import { registerRemoteFlowCommands } from './commands/remote-flow.js'
import { registerGrantCommands } from './commands/remote-grant.js'
import { registerLoginCommands } from './commands/remote-login.js'
import { registerSecretCommands } from './commands/remote-secret.js'
import { remoteErrorReport } from './commands/remote-target.js'
import { registerResumeCommand } from './commands/resume.js'
import { registerRunCommand } from './commands/run.js'
import { registerTemplateCommands } from './commands/template.js'
import { registerTokenCommands } from './commands/token.js'
import { DEBUG_ENV, ExitCode, type ExitCodeValue } from './constants.js'
import type { CliIo } from './io.js'
import { createOutput, type Output } from './output.js'
import { describeError, isExpectedError } from './report.js'

/** Where a command run's exit code is recorded; actions set it, {@link runCli} returns it. */
export interface CommandOutcome {
  /** The exit code so far (starts at {@link ExitCode.ok}). */
  exitCode: ExitCodeValue
}

/** What every command module gets: the I/O, the global options and the run's outcome. */
export interface CommandContext {
  /** Standard streams, working directory and environment. */
  io: CliIo
  /** The run's outcome; a command that finds bad input sets `exitCode`. */
  outcome: CommandOutcome
  /** The {@link Output} for a command, honouring the global `--json` option. */
  output(command: Command): Output
}

interface GlobalOptions {
  json?: boolean
  verbose?: boolean
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }
  return manifest.version ?? '0.0.0'
}

/**
 * Builds the `qflow` commander program over `io`. Commander's own exits are turned into thrown
 * `CommanderError`s (`exitOverride`), and help and usage messages go to `io`; actions record
 * their exit code in `outcome`. {@link runCli} is the usual way in.
 */
export function buildProgram(io: CliIo, outcome: CommandOutcome = { exitCode: ExitCode.ok }): Command {
  const program = new Command('qflow')
  program
    .description(
      'Qflow: run a node that serves the REST/WebSocket API (node start|status|config) and drive it from here: login, store and run flows and ' +
        'follow their executions, store webhook signing secrets (secret), grant identities consent (grant), approve WebAssembly templates ' +
        '(template). Or run flows on an embedded node in-process, inspect and resume their executions, and validate, hash, sign, verify and ' +
        'diff flow definitions.'
    )
    .version(packageVersion(), '-V, --version', 'print the qflow version')
    .option('--json', 'print results as JSON for scripts instead of text for people')
    .option('--verbose', `print stack traces with errors (also: ${DEBUG_ENV}=1)`)
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(text.replace(/^error: /, 'qflow: '))
    })
    .addHelpText(
      'after',
      `
Exit codes:
  0  success
  1  failure: an execution that failed, a broken log, a bad flow, a bad signature, an
     unreadable file or key, a data directory in use
  2  usage error: unknown command or option, missing argument
  3  not logged in to a node, or the node refused the token (HTTP 401)
  4  the node refused the action to this identity (HTTP 403)
  5  the node has no such flow, version, execution, secret or grant (HTTP 404)
  6  the node cannot be reached

Examples:
  $ qflow run flow.yaml --input '{"name":"Ada"}'
  $ qflow node start
  $ qflow login --api http://127.0.0.1:7070 --token eyJ…
  $ qflow flow create examples/flows/webhook-echo.yaml
  $ qflow exec start welcome --input '{"name":"Ada"}' --wait
  $ qflow secret set webhook-echo-secret --generate
  $ qflow grant add did:key:z6MkOwner… qflow:flow:webhook-echo --actions execute
  $ qflow template list
  $ qflow exec list --status running
  $ qflow exec logs exec-1f0c…
  $ qflow resume
  $ qflow flow validate examples/flows
  $ qflow key generate --out me.pem
  $ qflow flow sign flow.yaml --key me.pem --out flow.signed.yaml
  $ qflow flow verify flow.signed.yaml
  $ qflow --json flow diff v1.yaml v2.yaml`
    )

  const context: CommandContext = {
    io,
    outcome,
    output: (command) => createOutput(io, (command.optsWithGlobals() as GlobalOptions).json === true)
  }
  registerRunCommand(program, context)
  registerResumeCommand(program, context)
  registerExecCommands(program, context)
  registerFlowCommands(program, context)
  const flow = program.commands.find((c) => c.name() === 'flow')
  if (flow !== undefined) registerFlowStoreCommands(flow, context)
  if (flow !== undefined) registerRemoteFlowCommands(flow, context)
  registerKeyCommands(program, context)
  registerNodeCommands(program, context)
  registerTemplateCommands(program, context)
  registerLoginCommands(program, context)
  registerSecretCommands(program, context)
  registerGrantCommands(program, context)
  registerTokenCommands(program, context)
  return program
}

/**
 * Runs the `qflow` command line with `argv` (the arguments after the executable, as in
 * `process.argv.slice(2)`) and resolves to its exit code: 0 ok, 1 invalid input, 2 usage error, 3-6 a node refused or could not be reached (see {@link ExitCode}).
 * Expected errors (bad flows, unreadable files) print one message on stderr; stack traces only
 * with `--verbose` or `QFLOW_DEBUG=1`. It never rejects.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCodeValue> {
  const outcome: CommandOutcome = { exitCode: ExitCode.ok }
  const program = buildProgram(io, outcome)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return outcome.exitCode
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help, --version and `help` exit 0; everything else commander rejects is a usage error.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage
    }
    const globals = program.opts<GlobalOptions>()
    const output = createOutput(io, globals.json === true)
    const debug = globals.verbose === true || io.env[DEBUG_ENV] === '1'
    const remote = remoteErrorReport(err)
    const expected = remote !== undefined || isExpectedError(err)
    const report = remote ?? describeError(err)
    output.error(expected ? report.message : `internal error: ${report.message}`, report.details)
    if ((debug || !expected) && err instanceof Error && err.stack !== undefined) io.stderr(`${err.stack}\n`)
    return remote?.exitCode ?? ExitCode.invalid
  }
}
