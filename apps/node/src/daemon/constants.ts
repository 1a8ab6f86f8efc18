/** Address the API listens on when the config names none: loopback only. */
export const DEFAULT_HOST = '127.0.0.1'

/** Port the API listens on when the config names none. */
export const DEFAULT_PORT = 7070

/** Log level when the config names none. */
export const DEFAULT_LOG_LEVEL = 'info'

/** The log levels, most severe first (`silent` logs nothing). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** How long a shutdown waits for in-flight steps and requests when the config names no bound, ms. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000

/** Longest shutdown bound accepted, ms (one hour). */
export const MAX_SHUTDOWN_TIMEOUT_MS = 60 * 60_000

/** Lifetime of the admin token printed on first start when the config names none, ms (365 days). */
export const DEFAULT_ADMIN_TOKEN_TTL_MS = 365 * 24 * 60 * 60_000

/** Shortest admin token lifetime accepted, ms (one minute). */
export const MIN_ADMIN_TOKEN_TTL_MS = 60_000

/** Longest admin token lifetime accepted, ms (ten years). */
export const MAX_ADMIN_TOKEN_TTL_MS = 10 * 365 * 24 * 60 * 60_000

/** Longest default step timeout accepted, ms (24 days: timers cannot wait longer). */
export const MAX_STEP_TIMEOUT_MS = 24 * 24 * 60 * 60_000

/** Smallest request body limit accepted, bytes (1 KiB). */
export const MIN_BODY_LIMIT = 1024

/** Largest request body limit accepted, bytes (64 MiB). */
export const MAX_BODY_LIMIT = 64 * 1024 * 1024

/** Shortest request or handler timeout accepted, ms. */
export const MIN_HTTP_TIMEOUT_MS = 1_000

/** Longest request or handler timeout accepted, ms (one hour). */
export const MAX_HTTP_TIMEOUT_MS = 60 * 60_000

/** Shortest webhook timestamp tolerance accepted, ms. */
export const MIN_WEBHOOK_TOLERANCE_MS = 1_000

/** Longest webhook timestamp tolerance accepted, ms (one day; replayed ids are remembered that long). */
export const MAX_WEBHOOK_TOLERANCE_MS = 24 * 60 * 60_000

/** Largest webhook rate (requests per second) or burst accepted. */
export const MAX_WEBHOOK_RATE = 1_000_000

/** Environment variable naming the configuration file when `--config` is not given. */
export const CONFIG_ENV = 'QFLOW_CONFIG'

/** File read from the data directory when neither `--config` nor `QFLOW_CONFIG` names one (if it exists). */
export const DEFAULT_CONFIG_FILE = 'config.yaml'

/** Prefix of every environment variable the daemon's configuration reads. */
export const ENV_PREFIX = 'QFLOW_'

/** Environment variable naming the API a command talks to (shared with the remote commands). */
export const API_ENV = 'QFLOW_API'

/** How a secret value is printed by `qflow node config`. */
export const REDACTED = '[redacted]'

/** Names of the files the daemon keeps in the data directory (beside the node's). */
export const DAEMON_FILES = {
  /** Written while the daemon runs: `{ pid, url, startedAt, version }`; removed on shutdown. */
  runtime: 'daemon.json',
  /** Written once the admin token was printed: `{ did, issuedAt, expiresAt }` (never the token). */
  adminToken: 'admin-token.json'
} as const

/** Status code of a request that arrives while the daemon shuts down. */
export const SHUTTING_DOWN_STATUS = 503

/** `error.details.reason` of a request refused because the daemon shuts down (its code is `UNAVAILABLE`). */
export const SHUTTING_DOWN_REASON = 'shutting-down'

/** `Retry-After` (seconds) sent with a request refused during shutdown. */
export const SHUTTING_DOWN_RETRY_AFTER_S = 5

/** How long `qflow node status` waits for an answer when `--timeout` is not given, ms. */
export const DEFAULT_STATUS_TIMEOUT_MS = 5_000

/**
 * Step types a shutdown waits for: work that reaches a commit point on its own. Durable waits
 * (`delay`, `event-trigger`), `parallel` joins and `sub-flow` parents are re-armed from the log.
 */
export const DRAINED_STEP_TYPES: readonly string[] = ['task', 'module-call', 'condition']

/** Actions whose steps are durable timers, not work in flight (re-armed from the log on start). */
export const TIMER_ACTIONS: readonly string[] = ['delay']

/**
 * How long the process may take to exit once the daemon stopped before it is made to, ms: a
 * guard against a handle something left open (an idle socket), never the way out in normal runs.
 */
export const EXIT_GUARD_MS = 5_000

/** Age past which a finished execution is removed when the config names none, ms (14 days). */
export const DEFAULT_EXECUTION_MAX_AGE_MS = 14 * 24 * 60 * 60_000

/** Shortest execution age limit accepted other than 0 (off), ms (one minute). */
export const MIN_EXECUTION_MAX_AGE_MS = 60_000

/** Longest execution age limit accepted, ms (ten years). */
export const MAX_EXECUTION_MAX_AGE_MS = 10 * 365 * 24 * 60 * 60_000

/** Finished executions kept at most when the config names no count (~1.8 KB each in the state index: ~180 MB). */
export const DEFAULT_EXECUTION_MAX_COUNT = 100_000

/** Largest execution count limit accepted. */
export const MAX_EXECUTION_MAX_COUNT = 1_000_000_000

/** Time between pruning passes when the config names none, ms (5 minutes). */
export const DEFAULT_PRUNE_INTERVAL_MS = 5 * 60_000

/** Shortest pruning interval accepted, ms. */
export const MIN_PRUNE_INTERVAL_MS = 1_000

/** Longest pruning interval accepted, ms (one day). */
export const MAX_PRUNE_INTERVAL_MS = 24 * 60 * 60_000
