/** Nesting depth past which canonicalization stops (a cycle shows up as unbounded depth). */
export const DEFAULT_MAX_DEPTH = 512

/** Property-name lists up to this long are sorted in place by insertion, longer ones by `Array.prototype.sort`. */
export const INSERTION_SORT_MAX = 24
