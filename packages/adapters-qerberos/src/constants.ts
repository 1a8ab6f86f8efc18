/** z-score at or above which an anomaly is raised as a `low` alert. */
export const DEFAULT_LOW_THRESHOLD = 4.5
/** z-score at or above which an alert is `medium`. */
export const DEFAULT_MEDIUM_THRESHOLD = 6
/** z-score at or above which an alert is `high`. */
export const DEFAULT_HIGH_THRESHOLD = 8
/** z-score at or above which an alert is `critical`. */
export const DEFAULT_CRITICAL_THRESHOLD = 12

/** Samples a baseline needs before it may raise alerts (per subject and metric). */
export const DEFAULT_WARMUP = 30
/** EWMA weight of a new sample in the duration and output-size baselines. */
export const DEFAULT_ALPHA = 0.02
/** Samples beyond this many spreads from the mean are clipped before they update a baseline. */
export const DEFAULT_CLIP_SIGMAS = 3
/** Smallest spread (standard deviation of `ln(1 + x)`) a duration or size baseline is judged with. */
export const DEFAULT_MIN_SPREAD = 0.1

/** Outcomes in the sliding error-rate window (at most 30). */
export const DEFAULT_ERROR_WINDOW = 20
/** EWMA weight of one outcome in the baseline error probability. */
export const DEFAULT_ERROR_ALPHA = 0.005
/** Floor of the baseline error probability the window is judged against. */
export const DEFAULT_MIN_ERROR_RATE = 0.01
/** Errors the window must hold before an error-rate alert. */
export const DEFAULT_MIN_ERRORS = 4

/** Width of the sliding run-rate window, ms. */
export const DEFAULT_RATE_WINDOW_MS = 10_000
/** Slices the run-rate window slides by. */
export const DEFAULT_RATE_SLICES = 5
/** EWMA weight of one closed slice in the run-rate baseline. */
export const DEFAULT_RATE_ALPHA = 0.02
/** Closed slices a run-rate baseline needs before it may raise alerts. */
export const DEFAULT_RATE_WARMUP_SLICES = 30
/** Runs the window must hold before a burst alert. */
export const DEFAULT_MIN_BURST_RUNS = 10
/** Empty slices replayed into a baseline after a gap; older ones have decayed to nothing. */
export const RATE_CATCH_UP_SLICES = 200

/** Subjects (flows, steps, actors, nodes) whose baselines are kept; the least recently seen go first. */
export const DEFAULT_MAX_SUBJECTS = 10_000
/** Longest id (flow, step, actor, node) an observation may carry. */
export const MAX_ID_LENGTH = 512

/** Severity from which an alert produces a containment decision. */
export const DEFAULT_CONTAINMENT_SEVERITY = 'critical'
/** How long a containment decision lasts, ms. */
export const DEFAULT_CONTAINMENT_TTL_MS = 10 * 60_000
/** Active decisions kept; past it the ones expiring first are dropped. */
export const DEFAULT_MAX_DECISIONS = 10_000

/** Compiled schemas kept, by canonical hash. */
export const DEFAULT_SCHEMA_CACHE_SIZE = 256
/** Schema-mismatch failures listed in one report; more are summed up in one last failure. */
export const DEFAULT_MAX_SCHEMA_FAILURES = 50

/** Audit records kept in memory. */
export const DEFAULT_AUDIT_CAPACITY = 1_000
/** How long audit records wait before the file sink writes them, ms. */
export const DEFAULT_AUDIT_FLUSH_MS = 1_000
/** Records that make the file sink write at once. */
export const DEFAULT_AUDIT_BATCH = 256
/** Records the file sink holds while it cannot write; past it the oldest are dropped. */
export const DEFAULT_AUDIT_MAX_PENDING = 10_000
/** The `layer` audit records carry. */
export const DEFAULT_AUDIT_LAYER = 'qflow'
/** The `actor` of audit records Qerberos writes as itself (decisions, lifts). */
export const DEFAULT_AUDIT_ACTOR = 'qerberos'
