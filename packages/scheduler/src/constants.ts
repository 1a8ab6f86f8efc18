/** Step timeout when a step sets none, ms. */
export const DEFAULT_STEP_TIMEOUT_MS = 5 * 60 * 1000

/** Snapshot an execution's reduced state every this many log entries. */
export const DEFAULT_SNAPSHOT_EVERY = 500

/** Flow graphs kept compiled by hash (oldest evicted first). */
export const MAX_CACHED_GRAPHS = 1_000
