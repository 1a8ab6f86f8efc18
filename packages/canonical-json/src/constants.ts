/** Nesting depth past which canonicalization stops (a cycle shows up as unbounded depth). */
export const DEFAULT_MAX_DEPTH = 512
