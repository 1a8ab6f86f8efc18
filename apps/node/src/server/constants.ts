/** Prefix of every REST route but health, metrics and webhooks. */
export const API_PREFIX = '/api/v1'

/**
 * Longest lifetime (`exp` − `iat`) a bearer token may claim, ms (about ten years, the longest
 * admin token a daemon issues). Bearer tokens are reusable until they expire.
 */
export const DEFAULT_MAX_BEARER_TOKEN_LIFETIME_MS = 3660 * 24 * 60 * 60_000

/** Largest request body accepted, bytes (1 MiB); larger bodies answer 413 `PAYLOAD_TOO_LARGE`. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024

/** Longest a route handler may take before the request answers 504 `TIMEOUT`, ms. */
export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000

/** Longest the HTTP server waits for a whole request (headers and body) to arrive, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000

/** How long an idle keep-alive connection stays open, ms. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 72_000

/** How long a `wait: true` start waits for the result when the request names no `timeoutMs`, ms. */
export const DEFAULT_WAIT_TIMEOUT_MS = 30_000

/** The longest `timeoutMs` a `wait: true` start may ask for, ms (kept under the handler timeout). */
export const MAX_WAIT_TIMEOUT_MS = 25_000

/** Page size of list routes when the request names no `limit`. */
export const DEFAULT_PAGE_LIMIT = 50

/** Largest `limit` a list route accepts. */
export const MAX_PAGE_LIMIT = 500

/** Page size of the logs route when the request names no `limit`. */
export const DEFAULT_LOG_PAGE_LIMIT = 100

/** Largest `limit` the logs route accepts. */
export const MAX_LOG_PAGE_LIMIT = 1000

/** Executions whose flow id is remembered for `GET /executions?flowId=` (a flow id never changes). */
export const EXECUTION_FLOW_CACHE_SIZE = 100_000

/** Prefix of the Prometheus metrics the API registers. */
export const METRICS_PREFIX = 'qflow_'

/** Media types a `POST /flows` body may have besides JSON. */
export const YAML_MEDIA_TYPES: readonly string[] = ['application/yaml', 'application/x-yaml', 'text/yaml']

/** Headers answered on every response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'"
}

/**
 * Event emitted on a request's `IncomingMessage` (`request.raw`) once its connection is handed
 * over to another protocol (an accepted WebSocket upgrade): the HTTP request is over, though the
 * socket lives on. Whoever counts requests in progress stops counting it then.
 */
export const REQUEST_HANDED_OVER_EVENT = 'qflow:handed-over'
