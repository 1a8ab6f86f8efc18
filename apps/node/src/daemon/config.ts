import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml'
import { DEFAULT_SOURCE_BURST, DEFAULT_SOURCE_RATE_PER_SECOND, DEFAULT_TENANT_BURST, DEFAULT_TENANT_RATE_PER_SECOND, DEFAULT_TOLERANCE_MS } from '@qflow/webhooks'
import { ALLOW_PRIVATE_NETWORKS_ENV, DATA_DIR_ENV, DEFAULT_DATA_DIR, DEFAULT_SUBNET, PASSPHRASE_ENV } from '../node/constants.js'
import { DEFAULT_BODY_LIMIT, DEFAULT_HANDLER_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from '../server/constants.js'
import { DEFAULT_WEBHOOK_BODY_LIMIT, DEFAULT_WEBHOOK_REFUSAL_LIMIT, DEFAULT_WEBHOOK_WAIT_MS } from '../server/webhooks/constants.js'
import {
  CONFIG_ENV,
  DEFAULT_ADMIN_TOKEN_TTL_MS,
  DEFAULT_CONFIG_FILE,
  DEFAULT_EXECUTION_MAX_AGE_MS,
  DEFAULT_EXECUTION_MAX_COUNT,
  DEFAULT_HOST,
  DEFAULT_LOG_LEVEL,
  DEFAULT_PORT,
  DEFAULT_PRUNE_INTERVAL_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  LOG_LEVELS,
  MAX_ADMIN_TOKEN_TTL_MS,
  MAX_BODY_LIMIT,
  MAX_EXECUTION_MAX_AGE_MS,
  MAX_EXECUTION_MAX_COUNT,
  MAX_HTTP_TIMEOUT_MS,
  MAX_PRUNE_INTERVAL_MS,
  MAX_SHUTDOWN_TIMEOUT_MS,
  MAX_STEP_TIMEOUT_MS,
  MAX_WEBHOOK_RATE,
  MAX_WEBHOOK_TOLERANCE_MS,
  MIN_ADMIN_TOKEN_TTL_MS,
  MIN_BODY_LIMIT,
  MIN_EXECUTION_MAX_AGE_MS,
  MIN_HTTP_TIMEOUT_MS,
  MIN_PRUNE_INTERVAL_MS,
  MIN_WEBHOOK_TOLERANCE_MS,
  REDACTED
} from './constants.js'
import { ConfigFileError, DaemonConfigError } from './errors.js'

/** One of the log levels (`silent` logs nothing). */
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Where a configuration value came from, weakest first. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag'

/** The daemon's effective configuration: every key resolved (flags > env > file > defaults). */
export interface DaemonConfig {
  /** The data directory, absolute. */
  dataDir: string
  /** Address the API listens on. */
  host: string
  /** Port the API listens on (0: any free port; the bound address is logged). */
  port: number
  /** Lowest level logged. */
  logLevel: LogLevel
  /** Bound on a graceful shutdown (in-flight steps and requests), ms. */
  shutdownTimeout: number
  /** State store durability. */
  durability: 'fsync' | 'batched'
  /** Passphrase the keystore is sealed with (secret). */
  passphrase?: string
  /** Private networks (IPs or CIDRs) `http.request` steps may reach. */
  allowPrivateNetworks: string[]
  /** Lifetime of the admin token printed on first start, ms. */
  adminTokenTtl: number
  /** Step timeout when a step sets none, ms (unset: the engine's default). */
  defaultStepTimeout?: number
  /** Subnet of executions whose flow names none. */
  subnet: string
  /** Largest API request body, bytes (webhooks have their own). */
  bodyLimit: number
  /** Longest the server waits for a whole request to arrive, ms. */
  requestTimeout: number
  /** Longest a route may take to answer, ms (504 `TIMEOUT` past it). */
  handlerTimeout: number
  /** Largest webhook body, bytes. */
  webhookBodyLimit: number
  /** How far a webhook's timestamp may be from the node's clock, ms. */
  webhookTolerance: number
  /** Webhooks per second one source (a trigger, or a token's identity) may send, sustained. */
  webhookSourceRate: number
  /** Webhooks one source may send at once (its bucket's size). */
  webhookSourceBurst: number
  /** Webhooks per second one tenant (a flow's `daoSubnet`) may receive, sustained. */
  webhookTenantRate: number
  /** Webhooks one tenant may receive at once. */
  webhookTenantBurst: number
  /** Refused webhooks per second one client address earns back (the refusal bucket's refill). */
  webhookRefusalRate: number
  /** Refused webhooks one client address may earn before it is answered 429 unchecked. */
  webhookRefusalBurst: number
  /** How long a `respond: on-completion` webhook waits for the run before answering 202, ms. */
  webhookWaitTimeout: number
  /** Finished executions that ended longer ago than this are removed, ms (0: kept whatever their age). */
  executionMaxAge: number
  /** Finished executions kept at most, the most recent (0: no limit). */
  executionMaxCount: number
  /** Time between pruning passes, ms. */
  pruneInterval: number
}

/** A configuration key. */
export type ConfigKey = keyof DaemonConfig

/** What `qflow node config` shows of one key: the value and where it came from. */
export interface ConfigValueSource {
  /** Which layer won. */
  readonly source: ConfigSource
  /** Where exactly: `<file>:<line>`, the environment variable, the flag, or `default`. */
  readonly origin: string
}

/** A resolved configuration, with where each value came from. */
export interface ResolvedDaemonConfig {
  /** The effective configuration. */
  readonly config: DaemonConfig
  /** Per key, the layer its value came from. */
  readonly sources: Readonly<Record<ConfigKey, ConfigValueSource>>
  /** The configuration file read, absolute; undefined when none was. */
  readonly file: string | undefined
}

/** What a configuration is resolved from. */
export interface ConfigLayers {
  /** Values given as flags (the raw strings), by key; `config` names the file. */
  readonly flags: Readonly<Partial<Record<ConfigKey | 'config', string>>>
  /** The environment (`QFLOW_*` variables are read). */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Directory relative paths given as flags or in the environment resolve against. */
  readonly cwd: string
}

/** One configuration key: its names in each layer, its default and how a value is checked. */
export interface ConfigKeySpec {
  /** The key, as written in the file. */
  readonly key: ConfigKey
  /** The environment variable. */
  readonly env: string
  /** The flag, or undefined when the key has none (secrets stay off the command line). */
  readonly flag: string | undefined
  /** Whether the value is a secret (redacted when printed). */
  readonly secret: boolean
  /** What the key sets. */
  readonly description: string
  /** The default, as documented. */
  readonly defaultText: string
  /** The accepted values, as documented. */
  readonly valueText: string
}

/** A value that does not fit its key; turned into a {@link DaemonConfigError} with the origin. */
class ValueProblem extends Error {}

interface KeyRule extends ConfigKeySpec {
  /** The value when no layer sets one. */
  readonly fallback: (layers: ConfigLayers) => unknown
  /** Checks and normalises a value from a layer; `base` is the directory relative paths resolve against. */
  readonly parse: (value: unknown, base: string) => unknown
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Parses a duration: a number of milliseconds, or a string of digits with an optional unit
 * (`ms`, `s`, `m`, `h`, `d`; none means milliseconds), such as `30s` or `365d`.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new ValueProblem(`must be a duration (such as 500ms, 30s, 5m), not ${value}`)
    return Math.round(value)
  }
  const m = typeof value === 'string' ? DURATION.exec(value.trim()) : null
  if (m === null) throw new ValueProblem(`must be a duration (such as 500ms, 30s, 5m), not ${JSON.stringify(value)}`)
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] as number))
}

/** Writes milliseconds as the largest whole unit (`10s`, `365d`, `1500ms`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] as number
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

function durationIn(min: number, max: number): (value: unknown) => number {
  return (value) => {
    const ms = parseDuration(value)
    if (ms < min || ms > max) throw new ValueProblem(`must be from ${formatDuration(min)} to ${formatDuration(max)}, not ${formatDuration(ms)}`)
    return ms
  }
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib)?$/i
const UNIT_BYTES: Readonly<Record<string, number>> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 * 1024, mb: 1024 * 1024, mib: 1024 * 1024 }

/**
 * Parses a size: a number of bytes, or digits with a unit (`b`, `kb` or `KiB`, `mb` or `MiB`;
 * case-insensitive, 1 KiB = 1,024 bytes), such as `256KiB` or `1mb`.
 */
export function parseSize(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new ValueProblem(`must be a size (such as 65536, 256KiB, 1MiB), not ${value}`)
    return value
  }
  const m = typeof value === 'string' ? SIZE.exec(value.trim()) : null
  if (m === null) throw new ValueProblem(`must be a size (such as 65536, 256KiB, 1MiB), not ${JSON.stringify(value)}`)
  return Math.round(Number(m[1]) * (UNIT_BYTES[(m[2] ?? 'b').toLowerCase()] as number))
}

/** Writes bytes as the largest whole unit (`1MiB`, `256KiB`, `1500`). */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}MiB`
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KiB`
  return String(bytes)
}

function sizeIn(min: number, max: number): (value: unknown) => number {
  return (value) => {
    const bytes = parseSize(value)
    if (bytes < min || bytes > max) throw new ValueProblem(`must be from ${formatSize(min)} to ${formatSize(max)}, not ${formatSize(bytes)}`)
    return bytes
  }
}

function numberIn(min: number, max: number, integer: boolean): (value: unknown) => number {
  return (value) => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN
    const what = integer ? 'a whole number' : 'a number'
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new ValueProblem(`must be ${what}, not ${JSON.stringify(value)}`)
    if (n < min || n > max) throw new ValueProblem(`must be ${what} from ${min} to ${max}, not ${n}`)
    return n
  }
}

/** A duration that is 0 (off) or from `min` to `max`. */
function offOrDurationIn(min: number, max: number): (value: unknown) => number {
  return (value) => {
    const ms = parseDuration(value)
    if (ms !== 0 && (ms < min || ms > max)) throw new ValueProblem(`must be 0 (off) or from ${formatDuration(min)} to ${formatDuration(max)}, not ${formatDuration(ms)}`)
    return ms
  }
}

function positive(parse: (value: unknown) => number): (value: unknown) => number {
  return (value) => {
    const n = parse(value)
    if (n <= 0) throw new ValueProblem(`must be more than 0, not ${n}`)
    return n
  }
}

function text(value: unknown): string {
  if (typeof value === 'string') return value.trim()
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw new ValueProblem(`must be a string, not ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`)
}

function nonEmpty(value: unknown): string {
  const s = text(value)
  if (s === '') throw new ValueProblem('must not be empty')
  return s
}

function oneOf<T extends string>(choices: readonly T[]): (value: unknown) => T {
  return (value) => {
    const s = text(value).toLowerCase()
    if (!(choices as readonly string[]).includes(s)) throw new ValueProblem(`must be one of ${choices.join(', ')}, not ${JSON.stringify(value)}`)
    return s as T
  }
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

function parseHost(value: unknown): string {
  const s = nonEmpty(value)
  const bare = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s
  if (isIP(bare) !== 0) return bare
  if (HOSTNAME.test(s)) return s
  throw new ValueProblem(`must be an IP address or a host name, not ${JSON.stringify(s)}`)
}

function parsePort(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new ValueProblem(`must be an integer from 0 to 65535, not ${JSON.stringify(value)}`)
  return n
}

function parseNetworks(value: unknown): string[] {
  let entries: unknown[]
  if (Array.isArray(value)) entries = value
  else if (typeof value === 'string') entries = value.split(',')
  else throw new ValueProblem('must be a list of IPs or CIDRs (or a comma-separated string)')
  const out: string[] = []
  for (const entry of entries) {
    const s = text(entry)
    if (s === '') continue
    const [address, prefix, extra] = s.split('/')
    const family = isIP(address ?? '')
    const bits = family === 6 ? 128 : 32
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= bits)
    if (family === 0 || !prefixOk || extra !== undefined) throw new ValueProblem(`${JSON.stringify(s)} is not an IP or CIDR (such as 127.0.0.0/8)`)
    out.push(s)
  }
  return out
}

function parseSubnet(value: unknown): string {
  const s = nonEmpty(value)
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(s)) throw new ValueProblem(`must be letters, digits, '.', '_', ':' or '-', not ${JSON.stringify(s)}`)
  return s
}

function parseSecret(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ValueProblem('must be a non-empty string')
  return value
}

const RULES: readonly KeyRule[] = [
  {
    key: 'dataDir',
    env: DATA_DIR_ENV,
    flag: '--data-dir',
    secret: false,
    description: 'the data directory: identities, keys, execution logs, flows, index',
    defaultText: DEFAULT_DATA_DIR,
    valueText: 'a path, relative to the working directory or to the file that sets it',
    fallback: (layers) => resolve(layers.cwd, DEFAULT_DATA_DIR),
    parse: (value, base) => resolve(base, nonEmpty(value))
  },
  {
    key: 'host',
    env: 'QFLOW_HOST',
    flag: '--host',
    secret: false,
    description: 'address the API listens on (0.0.0.0 for every interface)',
    defaultText: DEFAULT_HOST,
    valueText: 'an IP address or host name',
    fallback: () => DEFAULT_HOST,
    parse: parseHost
  },
  {
    key: 'port',
    env: 'QFLOW_PORT',
    flag: '--port',
    secret: false,
    description: 'port the API listens on (0: any free port, logged)',
    defaultText: String(DEFAULT_PORT),
    valueText: '0 to 65535',
    fallback: () => DEFAULT_PORT,
    parse: parsePort
  },
  {
    key: 'logLevel',
    env: 'QFLOW_LOG_LEVEL',
    flag: '--log-level',
    secret: false,
    description: 'lowest level of the JSON log lines written to standard output',
    defaultText: DEFAULT_LOG_LEVEL,
    valueText: LOG_LEVELS.join(', '),
    fallback: () => DEFAULT_LOG_LEVEL,
    parse: oneOf(LOG_LEVELS)
  },
  {
    key: 'shutdownTimeout',
    env: 'QFLOW_SHUTDOWN_TIMEOUT',
    flag: '--shutdown-timeout',
    secret: false,
    description: 'bound on a graceful shutdown: how long in-flight steps and requests may take to finish',
    defaultText: formatDuration(DEFAULT_SHUTDOWN_TIMEOUT_MS),
    valueText: `a duration, 0 to ${formatDuration(MAX_SHUTDOWN_TIMEOUT_MS)}`,
    fallback: () => DEFAULT_SHUTDOWN_TIMEOUT_MS,
    parse: durationIn(0, MAX_SHUTDOWN_TIMEOUT_MS)
  },
  {
    key: 'durability',
    env: 'QFLOW_DURABILITY',
    flag: '--durability',
    secret: false,
    description: 'state store durability: fsync (every transition on disk first) or batched (group commit)',
    defaultText: 'fsync',
    valueText: 'fsync, batched',
    fallback: () => 'fsync',
    parse: oneOf(['fsync', 'batched'] as const)
  },
  {
    key: 'passphrase',
    env: PASSPHRASE_ENV,
    flag: undefined,
    secret: true,
    description: 'seals the node keystore (needed on every start once used); no flag, so it stays out of the process list',
    defaultText: 'none (sealed with <dataDir>/node.secret)',
    valueText: 'a non-empty string',
    fallback: () => undefined,
    parse: parseSecret
  },
  {
    key: 'allowPrivateNetworks',
    env: ALLOW_PRIVATE_NETWORKS_ENV,
    flag: '--allow-private-networks',
    secret: false,
    description: 'private networks http.request steps may reach',
    defaultText: 'none',
    valueText: 'IPs or CIDRs (a YAML list, or comma-separated)',
    fallback: () => [],
    parse: parseNetworks
  },
  {
    key: 'adminTokenTtl',
    env: 'QFLOW_ADMIN_TOKEN_TTL',
    flag: '--admin-token-ttl',
    secret: false,
    description: 'lifetime of the admin token printed on first start',
    defaultText: formatDuration(DEFAULT_ADMIN_TOKEN_TTL_MS),
    valueText: `a duration, ${formatDuration(MIN_ADMIN_TOKEN_TTL_MS)} to ${formatDuration(MAX_ADMIN_TOKEN_TTL_MS)}`,
    fallback: () => DEFAULT_ADMIN_TOKEN_TTL_MS,
    parse: durationIn(MIN_ADMIN_TOKEN_TTL_MS, MAX_ADMIN_TOKEN_TTL_MS)
  },
  {
    key: 'defaultStepTimeout',
    env: 'QFLOW_DEFAULT_STEP_TIMEOUT',
    flag: '--default-step-timeout',
    secret: false,
    description: 'timeout of a step that sets none',
    defaultText: "the engine's (5m)",
    valueText: `a duration, 1ms to ${formatDuration(MAX_STEP_TIMEOUT_MS)}`,
    fallback: () => undefined,
    parse: durationIn(1, MAX_STEP_TIMEOUT_MS)
  },
  {
    key: 'subnet',
    env: 'QFLOW_SUBNET',
    flag: '--subnet',
    secret: false,
    description: 'subnet of executions whose flow names none',
    defaultText: DEFAULT_SUBNET,
    valueText: "letters, digits, '.', '_', ':', '-'",
    fallback: () => DEFAULT_SUBNET,
    parse: parseSubnet
  },
  {
    key: 'bodyLimit',
    env: 'QFLOW_BODY_LIMIT',
    flag: '--body-limit',
    secret: false,
    description: 'largest API request body (413 PAYLOAD_TOO_LARGE past it); webhooks have webhookBodyLimit',
    defaultText: formatSize(DEFAULT_BODY_LIMIT),
    valueText: `a size, ${formatSize(MIN_BODY_LIMIT)} to ${formatSize(MAX_BODY_LIMIT)}`,
    fallback: () => DEFAULT_BODY_LIMIT,
    parse: sizeIn(MIN_BODY_LIMIT, MAX_BODY_LIMIT)
  },
  {
    key: 'requestTimeout',
    env: 'QFLOW_REQUEST_TIMEOUT',
    flag: '--request-timeout',
    secret: false,
    description: 'how long the server waits for a whole request (headers and body) to arrive',
    defaultText: formatDuration(DEFAULT_REQUEST_TIMEOUT_MS),
    valueText: `a duration, ${formatDuration(MIN_HTTP_TIMEOUT_MS)} to ${formatDuration(MAX_HTTP_TIMEOUT_MS)}`,
    fallback: () => DEFAULT_REQUEST_TIMEOUT_MS,
    parse: durationIn(MIN_HTTP_TIMEOUT_MS, MAX_HTTP_TIMEOUT_MS)
  },
  {
    key: 'handlerTimeout',
    env: 'QFLOW_HANDLER_TIMEOUT',
    flag: '--handler-timeout',
    secret: false,
    description: 'how long a route may take to answer (504 TIMEOUT past it); bounds waits for results too',
    defaultText: formatDuration(DEFAULT_HANDLER_TIMEOUT_MS),
    valueText: `a duration, ${formatDuration(MIN_HTTP_TIMEOUT_MS)} to ${formatDuration(MAX_HTTP_TIMEOUT_MS)}, longer than webhookWaitTimeout`,
    fallback: () => DEFAULT_HANDLER_TIMEOUT_MS,
    parse: durationIn(MIN_HTTP_TIMEOUT_MS, MAX_HTTP_TIMEOUT_MS)
  },
  {
    key: 'webhookBodyLimit',
    env: 'QFLOW_WEBHOOK_BODY_LIMIT',
    flag: '--webhook-body-limit',
    secret: false,
    description: 'largest webhook body (413 PAYLOAD_TOO_LARGE past it)',
    defaultText: formatSize(DEFAULT_WEBHOOK_BODY_LIMIT),
    valueText: `a size, ${formatSize(MIN_BODY_LIMIT)} to ${formatSize(MAX_BODY_LIMIT)}`,
    fallback: () => DEFAULT_WEBHOOK_BODY_LIMIT,
    parse: sizeIn(MIN_BODY_LIMIT, MAX_BODY_LIMIT)
  },
  {
    key: 'webhookTolerance',
    env: 'QFLOW_WEBHOOK_TOLERANCE',
    flag: '--webhook-tolerance',
    secret: false,
    description: "how far a webhook's timestamp may be from the node's clock, either way (and how long its id is remembered against replays)",
    defaultText: formatDuration(DEFAULT_TOLERANCE_MS),
    valueText: `a duration, ${formatDuration(MIN_WEBHOOK_TOLERANCE_MS)} to ${formatDuration(MAX_WEBHOOK_TOLERANCE_MS)}`,
    fallback: () => DEFAULT_TOLERANCE_MS,
    parse: durationIn(MIN_WEBHOOK_TOLERANCE_MS, MAX_WEBHOOK_TOLERANCE_MS)
  },
  {
    key: 'webhookSourceRate',
    env: 'QFLOW_WEBHOOK_SOURCE_RATE',
    flag: '--webhook-source-rate',
    secret: false,
    description: 'webhooks per second one source (a trigger, or a token identity) may send, sustained (429 past it)',
    defaultText: String(DEFAULT_SOURCE_RATE_PER_SECOND),
    valueText: `a number of requests per second, more than 0, at most ${MAX_WEBHOOK_RATE}`,
    fallback: () => DEFAULT_SOURCE_RATE_PER_SECOND,
    parse: positive(numberIn(0, MAX_WEBHOOK_RATE, false))
  },
  {
    key: 'webhookSourceBurst',
    env: 'QFLOW_WEBHOOK_SOURCE_BURST',
    flag: '--webhook-source-burst',
    secret: false,
    description: 'webhooks one source may send at once, above its rate',
    defaultText: String(DEFAULT_SOURCE_BURST),
    valueText: `a whole number, 1 to ${MAX_WEBHOOK_RATE}`,
    fallback: () => DEFAULT_SOURCE_BURST,
    parse: numberIn(1, MAX_WEBHOOK_RATE, true)
  },
  {
    key: 'webhookTenantRate',
    env: 'QFLOW_WEBHOOK_TENANT_RATE',
    flag: '--webhook-tenant-rate',
    secret: false,
    description: "webhooks per second all sources of one tenant (a flow's daoSubnet, else default) may send, sustained",
    defaultText: String(DEFAULT_TENANT_RATE_PER_SECOND),
    valueText: `a number of requests per second, more than 0, at most ${MAX_WEBHOOK_RATE}`,
    fallback: () => DEFAULT_TENANT_RATE_PER_SECOND,
    parse: positive(numberIn(0, MAX_WEBHOOK_RATE, false))
  },
  {
    key: 'webhookTenantBurst',
    env: 'QFLOW_WEBHOOK_TENANT_BURST',
    flag: '--webhook-tenant-burst',
    secret: false,
    description: 'webhooks one tenant may receive at once, above its rate',
    defaultText: String(DEFAULT_TENANT_BURST),
    valueText: `a whole number, 1 to ${MAX_WEBHOOK_RATE}`,
    fallback: () => DEFAULT_TENANT_BURST,
    parse: numberIn(1, MAX_WEBHOOK_RATE, true)
  },
  {
    key: 'webhookRefusalRate',
    env: 'QFLOW_WEBHOOK_REFUSAL_RATE',
    flag: '--webhook-refusal-rate',
    secret: false,
    description: 'refused (unauthenticated) webhooks per second one client address earns back; past its burst it is answered 429 before any signature is checked',
    defaultText: String(DEFAULT_WEBHOOK_REFUSAL_LIMIT.ratePerSecond),
    valueText: `a number per second, more than 0, at most ${MAX_WEBHOOK_RATE}`,
    fallback: () => DEFAULT_WEBHOOK_REFUSAL_LIMIT.ratePerSecond,
    parse: positive(numberIn(0, MAX_WEBHOOK_RATE, false))
  },
  {
    key: 'webhookRefusalBurst',
    env: 'QFLOW_WEBHOOK_REFUSAL_BURST',
    flag: '--webhook-refusal-burst',
    secret: false,
    description: 'refused webhooks one client address may send before it is held back',
    defaultText: String(DEFAULT_WEBHOOK_REFUSAL_LIMIT.burst),
    valueText: `a whole number, 1 to ${MAX_WEBHOOK_RATE}`,
    fallback: () => DEFAULT_WEBHOOK_REFUSAL_LIMIT.burst,
    parse: numberIn(1, MAX_WEBHOOK_RATE, true)
  },
  {
    key: 'webhookWaitTimeout',
    env: 'QFLOW_WEBHOOK_WAIT_TIMEOUT',
    flag: '--webhook-wait-timeout',
    secret: false,
    description: 'how long a respond: on-completion webhook waits for the run before answering 202 as on receipt',
    defaultText: formatDuration(DEFAULT_WEBHOOK_WAIT_MS),
    valueText: `a duration, 1ms to ${formatDuration(MAX_HTTP_TIMEOUT_MS)}, shorter than handlerTimeout`,
    fallback: () => DEFAULT_WEBHOOK_WAIT_MS,
    parse: durationIn(1, MAX_HTTP_TIMEOUT_MS)
  },
  {
    key: 'executionMaxAge',
    env: 'QFLOW_EXECUTION_MAX_AGE',
    flag: '--execution-max-age',
    secret: false,
    description: 'finished executions that ended longer ago are removed: log, state and index records (0: kept whatever their age)',
    defaultText: formatDuration(DEFAULT_EXECUTION_MAX_AGE_MS),
    valueText: `a duration, 0 or ${formatDuration(MIN_EXECUTION_MAX_AGE_MS)} to ${formatDuration(MAX_EXECUTION_MAX_AGE_MS)}`,
    fallback: () => DEFAULT_EXECUTION_MAX_AGE_MS,
    parse: offOrDurationIn(MIN_EXECUTION_MAX_AGE_MS, MAX_EXECUTION_MAX_AGE_MS)
  },
  {
    key: 'executionMaxCount',
    env: 'QFLOW_EXECUTION_MAX_COUNT',
    flag: '--execution-max-count',
    secret: false,
    description: 'finished executions kept at most, the most recently finished; older ones are removed (0: no limit)',
    defaultText: String(DEFAULT_EXECUTION_MAX_COUNT),
    valueText: `a whole number, 0 to ${MAX_EXECUTION_MAX_COUNT}`,
    fallback: () => DEFAULT_EXECUTION_MAX_COUNT,
    parse: numberIn(0, MAX_EXECUTION_MAX_COUNT, true)
  },
  {
    key: 'pruneInterval',
    env: 'QFLOW_PRUNE_INTERVAL',
    flag: '--prune-interval',
    secret: false,
    description: 'time between passes removing executions per executionMaxAge and executionMaxCount (the first runs once the node has started)',
    defaultText: formatDuration(DEFAULT_PRUNE_INTERVAL_MS),
    valueText: `a duration, ${formatDuration(MIN_PRUNE_INTERVAL_MS)} to ${formatDuration(MAX_PRUNE_INTERVAL_MS)}`,
    fallback: () => DEFAULT_PRUNE_INTERVAL_MS,
    parse: durationIn(MIN_PRUNE_INTERVAL_MS, MAX_PRUNE_INTERVAL_MS)
  }
]

/** Every configuration key with its names in the file, the environment and the flags. */
export const CONFIG_KEYS: readonly ConfigKeySpec[] = RULES.map(({ key, env, flag, secret, description, defaultText, valueText }) => ({
  key,
  env,
  flag,
  secret,
  description,
  defaultText,
  valueText
}))

/** A value read from the file, with the line it is on. */
interface FileValue {
  readonly value: unknown
  readonly line: number
}

interface ConfigFile {
  readonly path: string
  readonly values: ReadonlyMap<string, FileValue>
}

async function readConfigFile(path: string, required: boolean): Promise<ConfigFile | undefined> {
  let source: string
  try {
    source = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && !required) return undefined
    throw new ConfigFileError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : (err as Error).message, { cause: err })
  }
  const lines = new LineCounter()
  const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: true, prettyErrors: false })
  const problem = doc.errors[0]
  if (problem !== undefined) {
    const at = lines.linePos(problem.pos[0])
    throw new ConfigFileError(path, `line ${at.line}, column ${at.col}: ${problem.message.split('\n')[0]}`)
  }
  const values = new Map<string, FileValue>()
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return { path, values }
  if (!isMap(doc.contents)) throw new ConfigFileError(path, 'expected a mapping of configuration keys to values')
  for (const pair of doc.contents.items) {
    const keyNode = pair.key
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode)
    const offset = isScalar(keyNode) && keyNode.range !== undefined && keyNode.range !== null ? keyNode.range[0] : 0
    const value = pair.value === null ? null : (pair.value as { toJSON(): unknown }).toJSON()
    values.set(key, { value, line: lines.linePos(offset).line })
  }
  return { path, values }
}

function envValue(env: ConfigLayers['env'], name: string): string | undefined {
  const value = env[name]
  return value === undefined || value === '' ? undefined : value
}

/**
 * Resolves the daemon's configuration from its layers: flags over `QFLOW_*` environment
 * variables over the YAML file over the defaults. The file is `--config`, else `QFLOW_CONFIG`,
 * else `<dataDir>/config.yaml` when it exists (`dataDir` from the flags, the environment or the
 * default; that file cannot move the data directory). Relative paths in the file resolve against
 * the file's directory. Every value given in any layer is checked, not only the winning one.
 *
 * @throws {@link DaemonConfigError} naming the key of a bad value (or an unknown key in the file).
 * @throws {@link ConfigFileError} when the file is missing (named explicitly), unreadable or not a YAML mapping.
 */
export async function resolveDaemonConfig(layers: ConfigLayers): Promise<ResolvedDaemonConfig> {
  const { flags, env, cwd } = layers
  const check = (rule: KeyRule, value: unknown, base: string, source: ConfigSource, origin: string): unknown => {
    try {
      return rule.parse(value, base)
    } catch (err) {
      if (err instanceof ValueProblem) throw new DaemonConfigError(rule.key, source, origin, err.message)
      throw err
    }
  }
  const dataDirRule = RULES[0] as KeyRule

  // The file: named, or the data directory's own.
  let file: ConfigFile | undefined
  let inDataDir = false
  const named = flags.config ?? envValue(env, CONFIG_ENV)
  if (named !== undefined) {
    if (named.trim() === '') throw new DaemonConfigError('config', flags.config !== undefined ? 'flag' : 'env', flags.config !== undefined ? '--config' : CONFIG_ENV, 'must not be empty')
    file = await readConfigFile(resolve(cwd, named), true)
  } else {
    const early =
      flags.dataDir !== undefined
        ? check(dataDirRule, flags.dataDir, cwd, 'flag', '--data-dir')
        : envValue(env, DATA_DIR_ENV) !== undefined
          ? check(dataDirRule, envValue(env, DATA_DIR_ENV), cwd, 'env', DATA_DIR_ENV)
          : dataDirRule.fallback(layers)
    file = await readConfigFile(join(early as string, DEFAULT_CONFIG_FILE), false)
    inDataDir = true
  }

  const known = new Set<string>(RULES.map((r) => r.key))
  if (file !== undefined) {
    for (const [key, { line }] of file.values) {
      if (!known.has(key)) throw new DaemonConfigError(key, 'file', `${file.path}:${line}`, `unknown key; the keys are ${[...known].join(', ')}`)
    }
    const moved = file.values.get('dataDir')
    if (inDataDir && moved !== undefined) {
      throw new DaemonConfigError('dataDir', 'file', `${file.path}:${moved.line}`, 'the data directory cannot be set in its own config.yaml; use --config, QFLOW_CONFIG, --data-dir or QFLOW_DATA_DIR')
    }
  }

  const config: Record<string, unknown> = {}
  const sources: Record<string, ConfigValueSource> = {}
  for (const rule of RULES) {
    let chosen: { value: unknown; source: ConfigValueSource } | undefined
    const fromFile = file?.values.get(rule.key)
    if (file !== undefined && fromFile !== undefined) {
      const origin = `${file.path}:${fromFile.line}`
      chosen = { value: check(rule, fromFile.value, dirname(file.path), 'file', origin), source: { source: 'file', origin } }
    }
    const fromEnv = envValue(env, rule.env)
    if (fromEnv !== undefined) chosen = { value: check(rule, fromEnv, cwd, 'env', rule.env), source: { source: 'env', origin: rule.env } }
    const fromFlag = flags[rule.key]
    if (rule.flag !== undefined && fromFlag !== undefined) chosen = { value: check(rule, fromFlag, cwd, 'flag', rule.flag), source: { source: 'flag', origin: rule.flag } }
    if (chosen === undefined) chosen = { value: rule.fallback(layers), source: { source: 'default', origin: 'default' } }
    if (chosen.value !== undefined) config[rule.key] = chosen.value
    sources[rule.key] = chosen.source
  }
  const resolved = config as unknown as DaemonConfig
  checkTogether(resolved, sources as Record<ConfigKey, ConfigValueSource>)
  return { config: resolved, sources: sources as Record<ConfigKey, ConfigValueSource>, file: file?.path }
}

/**
 * Checks the keys that bound one another: an on-completion webhook's wait must end before the
 * handler timeout answers 504. The error names the key that was set (the weaker one when both were).
 */
function checkTogether(config: DaemonConfig, sources: Readonly<Record<ConfigKey, ConfigValueSource>>): void {
  if (config.webhookWaitTimeout < config.handlerTimeout) return
  const wait = sources.webhookWaitTimeout
  const handler = sources.handlerTimeout
  const rank: Readonly<Record<ConfigSource, number>> = { default: 0, file: 1, env: 2, flag: 3 }
  const values = `webhookWaitTimeout ${formatDuration(config.webhookWaitTimeout)}, handlerTimeout ${formatDuration(config.handlerTimeout)}`
  if (wait.source === 'default' || (handler.source !== 'default' && rank[handler.source] < rank[wait.source])) {
    throw new DaemonConfigError('handlerTimeout', handler.source, handler.origin, `must be longer than webhookWaitTimeout, or on-completion webhooks answer 504 instead of 202 (${values}); set a shorter webhookWaitTimeout too`)
  }
  throw new DaemonConfigError('webhookWaitTimeout', wait.source, wait.origin, `must be shorter than handlerTimeout, or on-completion webhooks answer 504 instead of 202 (${values})`)
}

/**
 * The configuration as `qflow node config` prints it: secrets replaced by `[redacted]` (unset
 * ones stay `null`), durations in milliseconds, sizes in bytes, every key present.
 */
export function redactedConfig(config: DaemonConfig): Record<ConfigKey, unknown> {
  const out: Record<string, unknown> = {}
  for (const rule of RULES) {
    const value = config[rule.key]
    out[rule.key] = value === undefined ? null : rule.secret ? REDACTED : value
  }
  return out as Record<ConfigKey, unknown>
}

const DURATION_KEYS: ReadonlySet<ConfigKey> = new Set([
  'shutdownTimeout',
  'adminTokenTtl',
  'defaultStepTimeout',
  'requestTimeout',
  'handlerTimeout',
  'webhookTolerance',
  'webhookWaitTimeout',
  'executionMaxAge',
  'pruneInterval'
])
const SIZE_KEYS: ReadonlySet<ConfigKey> = new Set(['bodyLimit', 'webhookBodyLimit'])

/** One key's value as text for people (durations with their unit, lists comma-separated). */
export function formatConfigValue(key: ConfigKey, value: unknown): string {
  if (value === null || value === undefined) return '-'
  if (DURATION_KEYS.has(key) && typeof value === 'number') return formatDuration(value)
  if (SIZE_KEYS.has(key) && typeof value === 'number') return formatSize(value)
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.join(',')
  return String(value)
}
