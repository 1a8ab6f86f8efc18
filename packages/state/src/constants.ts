import type { Durability } from './state-store.js'

/** Directory the embedded store keeps its blocks, datastore and commit journal in, when none is given. */
export const DEFAULT_DATA_DIR = '.qflow/state'

/** Durability when none is given: every acknowledged transition is on disk. */
export const DEFAULT_DURABILITY: Durability = 'fsync'

/**
 * In `batched` mode, the longest an append waits for others to share its fsync, in ms (never
 * longer than fdatasync has lately been taking).
 */
export const DEFAULT_BATCH_DELAY_MS = 2

/** Weight of the newest fdatasync in the moving average of their durations that caps the batch window. */
export const SYNC_TIME_WEIGHT = 0.2

/** In `batched` mode, the most transitions that share one fsync. */
export const DEFAULT_BATCH_MAX_ENTRIES = 256

/** Log bytes written after which the index (blocks and records) is checkpointed, in bytes. */
export const DEFAULT_CHECKPOINT_BYTES = 32 * 1024 * 1024

/** The subnet entries are encrypted for when an append names none. */
export const DEFAULT_SUBNET = 'default'

/**
 * Version of the log entry format written: 2 carries a batch signature (a signature over a Merkle
 * root and the entry's inclusion proof); 1, still read, a signature over the entry itself.
 */
export const LOG_ENTRY_VERSION = 2

/** What precedes the Merkle root in the message a batch of log entries is signed over. */
export const LOG_BATCH_SIGNATURE_CONTEXT = 'qflow/log-entry-batch/v1\n'

/**
 * The most log entries one signature covers. Proofs then hold at most 6 hashes (192 bytes per
 * entry); at 10,000 entries/s that is about 160 signatures/s.
 */
export const MAX_SIGNATURE_BATCH = 64

/** Batch signatures a log remembers having verified (entries of one batch then cost one check). */
export const VERIFIED_BATCHES_KEPT = 4096

/** The `purpose` bound into every log entry's ciphertext. */
export const LOG_ENTRY_PURPOSE = 'log-entry'

/** Version of the flow registry record format. */
export const FLOW_RECORD_VERSION = 1

/** Longest execution or flow id accepted. */
export const MAX_ID_LENGTH = 128

/** Datastore prefix of execution head records. */
export const HEADS_PREFIX = '/qflow/state/heads'

/** Datastore prefix of flow registry heads. */
export const FLOWS_PREFIX = '/qflow/state/flows'

/** Datastore prefix of the flow hash → flow document index. */
export const FLOW_HASHES_PREFIX = '/qflow/state/flow-hashes'

/** The kinds that end an execution: nothing can be appended after them. */
export const TERMINAL_KINDS: readonly string[] = ['completed', 'failed', 'aborted']

/** Size at which a log segment is sealed and the next one started, in bytes. */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024

/** Largest segment size accepted (offsets in the index and checkpoint are 32-bit). */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024

/** Deepest nesting a sealed payload is written with `JSON.stringify`; deeper values take dag-json's writer. */
export const PLAIN_JSON_MAX_DEPTH = 64

/** Executions `gc` removes at once (their deletion frames share an fdatasync). */
export const GC_CONCURRENCY = 64
