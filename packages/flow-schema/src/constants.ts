/** Largest document {@link parseFlow} accepts by default, in UTF-8 bytes (16 MiB). */
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024

/** Alias nodes (`*name`) a YAML document may hold by default. */
export const DEFAULT_MAX_ALIASES = 100

/**
 * Nodes that alias expansion may add to a YAML document by default: a "billion laughs" document
 * expands exponentially and hits this bound before anything is materialized.
 */
export const DEFAULT_MAX_ALIAS_EXPANSION = 10_000

/** Deepest nesting of objects and arrays {@link parseFlow} accepts by default. */
export const DEFAULT_MAX_DEPTH = 256

/** Most steps a flow may have by default. */
export const DEFAULT_MAX_STEPS = 100_000

/** Most problems one validation reports by default (the rest are summarized in one last problem). */
export const DEFAULT_MAX_PROBLEMS = 1_000

/** Shortest step timeout, ms. */
export const MIN_TIMEOUT_MS = 1

/** Longest step timeout (and `resourceLimits.timeoutMs`), ms: 24 hours. */
export const MAX_STEP_TIMEOUT_MS = 24 * 60 * 60 * 1000

/** Longest wait of an `event-trigger` step, ms: 30 days. */
export const MAX_EVENT_WAIT_MS = 30 * 24 * 60 * 60 * 1000

/** Most attempts a retry policy may ask for (the first run included). */
export const MAX_RETRY_ATTEMPTS = 100

/** Longest first retry delay, ms: 1 hour. */
export const MAX_RETRY_INITIAL_DELAY_MS = 60 * 60 * 1000

/** Longest retry delay, ms: 24 hours. */
export const MAX_RETRY_DELAY_MS = 24 * 60 * 60 * 1000

/** Most memory a step may ask for, MiB (the WebAssembly 32-bit address space). */
export const MAX_MEMORY_MB = 4096

/** Most CPU time a step may ask for, ms: 24 hours. */
export const MAX_CPU_MS = 24 * 60 * 60 * 1000

/** Longest JSONata expression accepted, in characters. */
export const MAX_EXPRESSION_LENGTH = 10_000

/** Compiled JSONata expressions kept by {@link compileExpression}'s cache. */
export const EXPRESSION_CACHE_SIZE = 10_000

/** Compiled JSON Schemas kept by {@link compileJsonSchema}'s cache. */
export const JSON_SCHEMA_CACHE_SIZE = 1_000

/** Multicodec of the JSON codec: flow hashes are CIDv1 with this codec. */
export const JSON_CODEC = 0x0200

/** Multihash code of sha2-256. */
export const SHA2_256 = 0x12

/** Multicodec of an ed25519 public key (varint-encoded as `0xed 0x01` in a did:key). */
export const ED25519_PUB_CODEC = 0xed

/** The only signature algorithm flows use (JOSE name of ed25519 signatures). */
export const SIGNATURE_ALG = 'EdDSA'
