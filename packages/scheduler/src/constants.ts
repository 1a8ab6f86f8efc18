/** Step timeout when a step sets none, ms. */
export const DEFAULT_STEP_TIMEOUT_MS = 5 * 60 * 1000

/** Snapshot an execution's reduced state every this many log entries. */
export const DEFAULT_SNAPSHOT_EVERY = 500

/** Flow graphs kept compiled by hash (oldest evicted first). */
export const MAX_CACHED_GRAPHS = 1_000

/**
 * Pure steps' completions an execution holds for its next entry at most; the next pure step's
 * completion is then written (carrying them), so no entry grows without bound.
 */
export const MAX_HELD_COMPLETIONS = 32
