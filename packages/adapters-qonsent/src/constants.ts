/** The actions Qonsent knows by name; grants may also name a module's own verbs. */
export const STANDARD_ACTIONS = ['read', 'write', 'execute', 'admin', 'share'] as const

/** Where the embedded store keeps its files when no `dataDir` is given (relative to the working directory). */
export const DEFAULT_DATA_DIR = '.qflow/qonsent'

/** The grant log's file name inside the data directory. */
export const GRANT_LOG_FILE = 'grants.jsonl'

/** The lock file that keeps a second process from writing the same data directory. */
export const LOCK_FILE = 'LOCK'

/** Audit records kept in memory. */
export const DEFAULT_AUDIT_RING_SIZE = 1_000

/** Audit lines buffered before a file write is started. */
export const DEFAULT_AUDIT_BATCH_SIZE = 512

/** Longest time an audit line waits in memory before it is written, ms. */
export const DEFAULT_AUDIT_FLUSH_MS = 200

/** Audit lines held in memory while the file lags behind; newer lines are dropped (and counted) past it. */
export const DEFAULT_AUDIT_MAX_PENDING = 100_000

/** Longest string an audit record keeps of a hostile subject or resource; longer ones are cut. */
export const AUDIT_MAX_STRING = 512

/** How long an expired grant is still reported as `expired` (renewable) before it is purged, ms (30 days). */
export const DEFAULT_EXPIRED_RETENTION_MS = 30 * 24 * 60 * 60 * 1000

/** Change events buffered for one async-iterator consumer before it is told it fell behind. */
export const DEFAULT_CHANGE_BUFFER = 1_024

/** Longest resource a check evaluates; longer ones are denied without matching. */
export const DEFAULT_MAX_RESOURCE_LENGTH = 4_096

/** Longest subject (identity) a check evaluates; longer ones are denied without matching. */
export const DEFAULT_MAX_SUBJECT_LENGTH = 2_048

/** Longest action a check evaluates; longer ones are denied without matching. */
export const MAX_ACTION_LENGTH = 128

/** Longest resource pattern a grant may hold. */
export const MAX_PATTERN_LENGTH = 1_024

/** Most `:`-separated segments a resource pattern may have. */
export const MAX_PATTERN_SEGMENTS = 32

/** Most `*` wildcards inside one pattern segment. */
export const MAX_WILDCARDS_PER_SEGMENT = 8

/** Longest grant id. */
export const MAX_GRANT_ID_LENGTH = 128

/** Longest subject or grantor identity in a grant. */
export const MAX_IDENTITY_LENGTH = 512

/** Most actions one grant may list. */
export const MAX_ACTIONS = 32

/** Most values in one condition list (subnets, CIDRs, kinds, match values). */
export const MAX_CONDITION_VALUES = 64

/** Most keys a `match` condition may test. */
export const MAX_MATCH_KEYS = 16

/** Longest string value a condition compares with. */
export const MAX_CONDITION_STRING = 256

/** The path the Qonsent service answers checks on. */
export const DEFAULT_CHECK_PATH = '/api/v1/qonsent/check'

/** The Qonsent service's default base URL (its documented port). */
export const DEFAULT_SERVICE_URL = 'http://127.0.0.1:3003'

/** How long the HTTP client waits for an answer, ms. */
export const DEFAULT_HTTP_TIMEOUT_MS = 2_000

/** Largest response body the HTTP client reads. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024

/** Largest request body the HTTP handler reads. */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024

/** Change event published when a grant is added. */
export const CONSENT_GRANTED_EVENT = 'q.qflow.consent.granted.v1'

/** Change event published when a grant is revoked. */
export const CONSENT_REVOKED_EVENT = 'q.qflow.consent.revoked.v1'

/** Change event published when a grant expires. */
export const CONSENT_EXPIRED_EVENT = 'q.qflow.consent.expired.v1'

/** Longest delay `setTimeout` accepts, ms; later expiries re-arm the timer. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647
