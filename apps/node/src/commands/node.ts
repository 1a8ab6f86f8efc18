import type { Command } from 'commander'
import { createQflowClient, normalizeApiUrl } from '../client/client.js'
import { QflowApiError } from '../client/errors.js'
import { ExitCode } from '../constants.js'
import type { AdminToken } from '../daemon/admin-token.js'
import {
  CONFIG_KEYS,
  type ConfigKey,
  formatConfigValue,
  type LogLevel,
  parseDuration,
  redactedConfig,
  type ResolvedDaemonConfig,
  resolveDaemonConfig
} from '../daemon/config.js'
import { CONFIG_ENV, DEFAULT_CONFIG_FILE, DEFAULT_STATUS_TIMEOUT_MS, EXIT_GUARD_MS } from '../daemon/constants.js'
import { reachableUrl } from '../daemon/daemon.js'
import { type DaemonRuntime, readDaemonRuntime } from '../daemon/runtime-file.js'
import type { CliIo } from '../io.js'
import type { Output } from '../output.js'
import { renderTable } from '../output.js'
import type { CommandContext } from '../program.js'
import { REMOTE_ENV_HELP, resolveTarget } from './remote-target.js'

/** The flags `node start` and `node config` share: one per configuration key, plus `--config`. */
type ConfigFlags = Partial<Record<ConfigKey | 'config', string>>

/** Names of the configuration errors, reported as one line (no stack) with exit code 1. */
const CONFIG_ERRORS = new Set(['DaemonConfigError', 'ConfigFileError'])

/** Errors of a daemon that cannot start with this configuration, reported as one line with exit code 1. */
const START_ERRORS = new Set(['ListenAddressError'])

/** Reports an expected error of this command (one line, its fields under --json) and sets exit code 1. */
function reportError(err: Error, output: Output, context: CommandContext): void {
  const fields = err as unknown as Record<string, unknown>
  const details: Record<string, unknown> = { name: err.name }
  for (const field of ['key', 'source', 'origin', 'path', 'reason', 'host', 'port', 'code']) if (fields[field] !== undefined) details[field] = fields[field]
  output.error(err.message, details)
  context.outcome.exitCode = ExitCode.invalid
}

function addConfigOptions(command: Command): Command {
  command.option('-c, --config <file>', `YAML configuration file (default: $${CONFIG_ENV}, else <data-dir>/${DEFAULT_CONFIG_FILE} when it exists)`)
  for (const spec of CONFIG_KEYS) {
    if (spec.flag === undefined) continue
    const short = spec.key === 'dataDir' ? '-d, ' : spec.key === 'port' ? '-p, ' : ''
    const placeholder =
      spec.key === 'dataDir'
        ? '<dir>'
        : spec.key === 'allowPrivateNetworks'
          ? '<cidrs>'
          : spec.valueText.startsWith('a duration')
            ? '<duration>'
            : spec.valueText.startsWith('a size')
              ? '<size>'
              : spec.valueText.startsWith('a number of requests per second')
                ? '<per-second>'
                : spec.valueText.startsWith('a whole number')
                  ? '<n>'
                  : `<${spec.key === 'logLevel' ? 'level' : spec.key === 'durability' ? 'mode' : spec.key}>`
    command.option(`${short}${spec.flag} ${placeholder}`, `${spec.description} (${spec.valueText}; default ${spec.defaultText})`)
  }
  return command
}

/** The configuration section of the help of `node start` and `node config`. */
function configHelp(): string {
  const rows = CONFIG_KEYS.map((spec) => [spec.key, spec.env, spec.flag ?? '-', spec.defaultText])
  return `
Configuration: every key can be set in the YAML file, by environment variable and by flag;
flags win over the environment, which wins over the file, which wins over the defaults. The
file is --config, else $${CONFIG_ENV}, else <data-dir>/${DEFAULT_CONFIG_FILE} if it exists. Durations are
milliseconds or a number with a unit: 500ms, 30s, 5m, 2h, 365d; sizes are bytes or a number
with a unit: 512KiB, 1MiB (kb and mb are the same units). A bad value or an unknown key
in the file is reported with its key and where it came from (exit 1, DaemonConfigError).

${renderTable(['key (file)', 'environment', 'flag', 'default'], rows)
  .trimEnd()
  .split('\n')
  .map((line) => `  ${line}`)
  .join('\n')}`
}

function flagsOf(options: ConfigFlags): ConfigFlags {
  const flags: ConfigFlags = {}
  for (const key of ['config', ...CONFIG_KEYS.map((s) => s.key)] as const) {
    const value = options[key]
    if (typeof value === 'string') flags[key] = value
  }
  return flags
}

/** Resolves the configuration, or reports a configuration error and resolves undefined (exit 1). */
async function resolveOrReport(options: ConfigFlags, io: CliIo, output: Output, context: CommandContext): Promise<ResolvedDaemonConfig | undefined> {
  try {
    return await resolveDaemonConfig({ flags: flagsOf(options), env: io.env, cwd: io.cwd })
  } catch (err) {
    if (!(err instanceof Error) || !CONFIG_ERRORS.has(err.name)) throw err
    reportError(err, output, context)
    return undefined
  }
}

function rootOf(command: Command): Command {
  let root = command
  while (root.parent !== null) root = root.parent
  return root
}

function adminTokenText(token: AdminToken, url: string, dataDir: string): string {
  return `
Admin token for ${token.did}
valid until ${new Date(token.expiresAt).toISOString()}. It is printed this once and kept nowhere:
store it now (a password manager, a secret store). Use it with:

  qflow login --api ${url} --token ${token.token}

or send it as "authorization: Bearer <token>" to ${url}/api/v1/…
(another: qflow token issue --admin --data-dir ${dataDir}; a leaked one: qflow token revoke).

`
}

function registerStart(node: Command, context: CommandContext): void {
  const start = node
    .command('start')
    .description('run a node in the foreground: the engine over the data directory and its REST/WebSocket API')
  addConfigOptions(start).addHelpText(
    'after',
    `
The node resumes every unfinished execution of the data directory, then serves the API
(/api/v1, /health/live, /health/ready, /metrics). On the data directory's first start as a
daemon it prints a long-lived admin token once on standard error, with the "qflow login"
command that uses it; later starts do not print it.

Logs: one JSON object per line on standard output (pino: level, time, name, pid, msg, and the
request, execution or error fields), at --log-level and above. The line with "msg":"listening"
carries the bound "url" (useful with --port 0).

Signals: SIGTERM or SIGINT shuts down gracefully. New requests answer 503 (UNAVAILABLE,
Retry-After); requests in progress and steps in flight get --shutdown-timeout to finish (a step
finishes when its result is in the log); then the node stops, the data directory is released and
the process exits 0. What was left runs on the next start: steps cut off run again with the same
idempotency key, durable delays and event waits are re-armed. A second signal during the
shutdown exits at once with code 1 (the next start still resumes everything).
${configHelp()}

Exit codes: 0 stopped by a signal, 1 bad configuration or a node that cannot start (data
directory in use, wrong passphrase, port taken), 2 usage error.

Examples:
  $ qflow node start
  $ qflow node start --port 0 --log-level debug --data-dir /var/lib/qflow
  $ QFLOW_PORT=8080 QFLOW_HOST=0.0.0.0 qflow node start --config /etc/qflow/config.yaml
  $ qflow node start --shutdown-timeout 30s | tee -a qflow.log`
  )
  start.action(async (options: ConfigFlags, command: Command) => {
    const { io } = context
    const output = context.output(command)
    const resolved = await resolveOrReport(options, io, output, context)
    if (resolved === undefined) return
    const { config } = resolved
    const [{ createDaemonLogger }, { createDaemon }, { createQflowNode }, { createApiServer }] = await Promise.all([
      import('../daemon/logger.js'),
      import('../daemon/daemon.js'),
      import('../node/node.js'),
      import('../server/index.js')
    ])
    const logger = createDaemonLogger(config.logLevel as LogLevel, (line) => io.stdout(line))
    if (resolved.file !== undefined) logger.info({ file: resolved.file }, 'configuration file read')
    const daemon = createDaemon(config, {
      createNode: createQflowNode,
      createApiServer: (qflowNode, init) => createApiServer(qflowNode, init),
      logger,
      version: rootOf(command).version() ?? '0.0.0',
      showAdminToken: (token, url) => io.stderr(adminTokenText(token, url, config.dataDir))
    })

    let signalled: (signal: NodeJS.Signals) => void = () => {}
    const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
      signalled = resolve
    })
    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal during the shutdown: exiting now; the next start resumes what was left')
        process.exit(ExitCode.invalid)
      }
      stopping = true
      signalled(signal)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    try {
      try {
        const { url } = await daemon.start()
        io.stderr(`qflow node: the API answers at ${url} (data in ${config.dataDir}; stop with Ctrl-C or SIGTERM)\n`)
      } catch (err) {
        logger.fatal({ err }, 'the node could not start')
        if (!(err instanceof Error) || !START_ERRORS.has(err.name)) throw err
        reportError(err, output, context)
        return
      }
      const signal = await stopRequested
      await daemon.stop(signal)
    } finally {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
    }
    // Everything is closed; a handle something forgot must not keep a stopped daemon alive.
    setTimeout(() => {
      logger.warn('the process did not exit on its own after the node stopped: exiting')
      process.exit()
    }, EXIT_GUARD_MS).unref()
  })
}

function registerConfig(node: Command, context: CommandContext): void {
  const config = node.command('config').description('print the effective configuration (secrets redacted) and where each value came from')
  addConfigOptions(config).addHelpText(
    'after',
    `
Takes the same flags as "qflow node start" and resolves them the same way, so it shows what a
start with them would use, without starting anything. Secrets (passphrase) print as [redacted].
--json prints { file, config, sources } where sources.<key> is { source, origin }: source is
flag, env, file or default; origin the flag, the variable, or <file>:<line>.
${configHelp()}

Exit codes: 0 the configuration is valid, 1 it is not (the key and its origin are named).

Examples:
  $ qflow node config
  $ QFLOW_PORT=8080 qflow node config --log-level debug
  $ qflow --json node config --config /etc/qflow/config.yaml | jq .config.port`
  )
  config.action(async (options: ConfigFlags, command: Command) => {
    const { io } = context
    const output = context.output(command)
    const resolved = await resolveOrReport(options, io, output, context)
    if (resolved === undefined) return
    const values = redactedConfig(resolved.config)
    output.result({ file: resolved.file ?? null, config: values, sources: resolved.sources }, () => {
      const rows = CONFIG_KEYS.map((spec) => {
        const source = resolved.sources[spec.key]
        return [spec.key, formatConfigValue(spec.key, values[spec.key]), source.source === 'default' ? 'default' : `${source.source} (${source.origin})`]
      })
      return `file: ${resolved.file ?? 'none'}\n\n${renderTable(['key', 'value', 'source'], rows)}`
    })
  })
}

interface StatusOptions {
  api?: string
  dataDir?: string
  config?: string
  timeout?: string
}

/** Where `node status` asks, and why there. */
interface StatusTarget {
  readonly api: string
  readonly from: 'flag' | 'env' | 'login' | 'daemon.json' | 'config'
  readonly runtime?: DaemonRuntime
}

async function statusTarget(options: StatusOptions, io: CliIo, output: Output, context: CommandContext): Promise<StatusTarget | undefined> {
  const local = options.dataDir !== undefined || options.config !== undefined
  if (!local || options.api !== undefined) {
    const remote = await resolveTarget(options.api === undefined ? {} : { api: options.api }, io)
    if (remote !== undefined) return { api: remote.api, from: remote.apiFrom }
  }
  const flags: ConfigFlags = {}
  if (options.dataDir !== undefined) flags.dataDir = options.dataDir
  if (options.config !== undefined) flags.config = options.config
  const resolved = await resolveOrReport(flags, io, output, context)
  if (resolved === undefined) return undefined
  const runtime = await readDaemonRuntime(resolved.config.dataDir)
  if (runtime !== undefined) return { api: normalizeApiUrl(runtime.url), from: 'daemon.json', runtime }
  const { host, port } = resolved.config
  return { api: reachableUrl(`http://${host.includes(':') ? `[${host}]` : host}:${port}`), from: 'config' }
}

function registerStatus(node: Command, context: CommandContext): void {
  node
    .command('status')
    .description("ask a running node's API whether it is ready (exit 0), not ready (1) or not answering (6)")
    .option('--api <url>', 'the node to ask, e.g. http://127.0.0.1:7070')
    .option('-d, --data-dir <dir>', 'ask the node running on this data directory (its daemon.json)')
    .option('-c, --config <file>', 'ask the node this configuration file describes')
    .option('--timeout <duration>', `how long to wait for an answer (default ${DEFAULT_STATUS_TIMEOUT_MS / 1000}s)`)
    .addHelpText(
      'after',
      `
Asks GET /health/ready (no token needed) and prints the node's URL, its readiness and each
check; for a node on a local data directory also its pid, version and start time (from
<data-dir>/daemon.json, which a running "qflow node start" writes).

Which node: --api, else --data-dir or --config (the node running there), else $QFLOW_API,
else the login "qflow login" saved, else the node on the default data directory
($QFLOW_DATA_DIR or ./.qflow: its daemon.json, else its configured host and port).
${REMOTE_ENV_HELP}

Exit codes: 0 ready, 1 it answers but is not ready (starting or shutting down), 2 usage
error, 6 no node answers there.

Examples:
  $ qflow node status
  $ qflow node status --api http://10.0.0.5:7070
  $ qflow node status --data-dir /var/lib/qflow
  $ qflow --json node status | jq .ready`
    )
    .action(async (options: StatusOptions, command: Command) => {
      const { io } = context
      const output = context.output(command)
      let timeoutMs = DEFAULT_STATUS_TIMEOUT_MS
      if (options.timeout !== undefined) {
        try {
          timeoutMs = parseDuration(options.timeout)
        } catch (err) {
          output.error(`--timeout: ${(err as Error).message}`, { name: 'DaemonConfigError', key: 'timeout', origin: '--timeout' })
          context.outcome.exitCode = ExitCode.usage
          return
        }
      }
      const target = await statusTarget(options, io, output, context)
      if (target === undefined) return
      const client = createQflowClient({ api: target.api, timeoutMs })
      let health: { status: string; checks?: Record<string, string> }
      let statusCode = 200
      try {
        health = await client.ready()
      } catch (err) {
        // A node that answers 503 is there but not ready; anything else (unreachable) is reported as it is.
        if (!(err instanceof QflowApiError) || err.status !== 503) throw err
        statusCode = 503
        const reason = (err.details as { reason?: unknown } | undefined)?.reason
        health = { status: typeof reason === 'string' ? reason : 'not-ready' }
      }
      const ready = statusCode === 200 && health.status === 'ready'
      if (!ready) context.outcome.exitCode = ExitCode.invalid
      const report = {
        api: target.api,
        from: target.from,
        ready,
        status: health.status,
        ...(health.checks === undefined ? {} : { checks: health.checks }),
        ...(target.runtime === undefined ? {} : { pid: target.runtime.pid, version: target.runtime.version, startedAt: target.runtime.startedAt })
      }
      output.result(report, () => {
        const rows: string[][] = [
          ['node', `${target.api} (from ${target.from})`],
          ['status', health.status]
        ]
        if (health.checks !== undefined) rows.push(['checks', Object.entries(health.checks).map(([name, state]) => `${name} ${state}`).join(', ')])
        if (target.runtime !== undefined) rows.push(['pid', String(target.runtime.pid)], ['version', target.runtime.version], ['started', target.runtime.startedAt])
        return rows.map(([key, value]) => `${(key as string).padEnd(8)}${value}`).join('\n')
      })
    })
}

/** Adds `qflow node start|status|config`: run a node as a daemon, ask one how it is, show its configuration. */
export function registerNodeCommands(program: Command, context: CommandContext): void {
  const node = program
    .command('node')
    .description('run a Qflow node serving its API, ask a running node how it is, print the effective configuration')
    .addHelpText(
      'after',
      `
Examples:
  $ qflow node start
  $ qflow node start --port 0 --log-level debug
  $ qflow node status
  $ qflow node status --api http://127.0.0.1:7070
  $ qflow node config`
    )
  registerStart(node, context)
  registerStatus(node, context)
  registerConfig(node, context)
}
