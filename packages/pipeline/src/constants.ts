/** The stages of the universal pipeline, in the only order they run. */
export const STAGE_ORDER = ['qlock', 'qonsent', 'qindex', 'qerberos'] as const

/** The stage contract version this pipeline speaks natively. */
export const PIPELINE_API_VERSION = 1

/** Stage contract versions this pipeline runs (older ones through their adapters). */
export const SUPPORTED_STAGE_API_VERSIONS: readonly number[] = [1]

/** Version string stamped on operations when the caller gives none. */
export const DEFAULT_PIPELINE_VERSION = '1.0.0'
