import type { Helia } from '@helia/interface'
import type { EncryptedEnvelope, IdentityVerifier, Qlock, Signer } from '@qflow/pipeline'
import type { CID } from 'multiformats/cid'
import type { BatchSignature } from './entry-signer.js'
import type { LogIntegrityError } from './errors.js'
import type { FlowRegistry } from './flow-registry.js'
import type { SegmentLogStats } from './segment-log.js'
import type { StateStorage } from './storage.js'

/**
 * How an acknowledged write is made durable: `fsync` (each commit fdatasyncs the journal before it
 * resolves; concurrent commits share it), `batched` (group commit: commits wait up to
 * `batchDelayMs` or `batchMaxEntries` to share one fdatasync) or `memory` (nothing on disk; tests).
 */
export type Durability = 'fsync' | 'batched' | 'memory'

/** What an execution log entry records. Custom kinds (lowercase, dash-separated) are allowed. */
export type LogEntryKind =
  | 'started'
  | 'step-dispatched'
  | 'step-completed'
  | 'step-failed'
  | 'paused'
  | 'resumed'
  | 'completed'
  | 'failed'
  | 'aborted'
  | 'snapshot'
  | (string & {})

/** Where an execution stands, derived from the kinds appended to its log. */
export type ExecutionStatus = 'running' | 'paused' | 'completed' | 'failed' | 'aborted'

/** An execution log entry as stored: one dag-json block (CIDv1, sha2-256). */
export interface LogEntryBlock {
  /** Format version: 2 (batch signature) or 1 (a signature per entry). */
  readonly v: 1 | 2
  /** Position in the execution's log, from 0. */
  readonly seq: number
  /** The previous entry's CID, `null` for the first. */
  readonly prev: CID | null
  /** The execution. */
  readonly executionId: string
  /** The subnet whose key encrypts the payload. */
  readonly subnet: string
  /** What happened. */
  readonly kind: LogEntryKind
  /** The step it concerns. */
  readonly stepId?: string
  /** The step attempt, from 1. */
  readonly attempt?: number
  /** The payload, encrypted and bound to `{subnet, executionId, stepId, purpose: 'log-entry'}`. */
  readonly payload: EncryptedEnvelope
  /** The identity (did) that appended and signed the entry. */
  readonly actor: string
  /** When it was appended, ms since the epoch. */
  readonly ts: number
  /**
   * The entry's signature by `actor`. Format 2: a {@link BatchSignature}, an ed25519 signature over
   * the Merkle root of the entries signed together and this entry's inclusion proof, its leaf
   * being the dag-json bytes of the entry without `signature`. Format 1: an ed25519 signature over
   * those bytes themselves.
   */
  readonly signature: BatchSignature | Uint8Array
}

/** What a caller appends; the store fills in `seq`, `prev`, `actor`, encryption and signature. */
export interface AppendInput {
  /**
   * What happened. The first entry of an execution is `started`, or, with `opens`, a final entry
   * (`completed`, `failed` or `aborted`).
   */
  readonly kind: LogEntryKind
  /**
   * Opens the execution's log with a final entry: for a run that ended before it wrote anything,
   * whose one entry records both its start and its end (the payload is the writer's to shape).
   * The execution must not exist yet, as for `started`.
   */
  readonly opens?: boolean
  /** With `opens`: when the run started (the head's `startedAt`), ms since the epoch; default `ts`. */
  readonly startedAt?: number
  /** The step it concerns. */
  readonly stepId?: string
  /** The step attempt, from 1. */
  readonly attempt?: number
  /** Any dag-json value (JSON, bytes, CIDs); encrypted before it is stored. Default `null`. */
  readonly payload?: unknown
  /** The subnet to encrypt for; default: the execution's subnet, else the store's. */
  readonly subnet?: string
  /** Timestamp, ms since the epoch; default: the store's clock. */
  readonly ts?: number
}

/** What an append committed. */
export interface AppendResult {
  /** The entry's CID. */
  readonly cid: CID
  /** Its sequence number. */
  readonly seq: number
}

/** An entry read back, its payload decrypted. */
export interface LogEntry {
  /** The entry's CID. */
  readonly cid: CID
  /** Position in the log, from 0. */
  readonly seq: number
  /** The previous entry's CID, `null` for the first. */
  readonly prev: CID | null
  /** The execution. */
  readonly executionId: string
  /** The subnet the payload was encrypted for. */
  readonly subnet: string
  /** What happened. */
  readonly kind: LogEntryKind
  /** The step it concerns. */
  readonly stepId?: string
  /** The step attempt. */
  readonly attempt?: number
  /** The identity that appended it. */
  readonly actor: string
  /** When, ms since the epoch. */
  readonly ts: number
  /** The decrypted payload. */
  readonly payload: unknown
}

/** The latest durable state of an execution, a record committed in the same log frame as its entry. */
export interface ExecutionHead {
  /** The execution. */
  readonly executionId: string
  /** The latest entry's CID; the whole history is reachable from it. */
  readonly cid: CID
  /** The latest entry's sequence number. */
  readonly seq: number
  /** Where the execution stands. */
  readonly status: ExecutionStatus
  /** The subnet of its first entry. */
  readonly subnet: string
  /** `ts` of the first entry. */
  readonly startedAt: number
  /** `ts` of the latest entry. */
  readonly updatedAt: number
  /** The latest snapshot entry, so resuming reads only what follows it. */
  readonly snapshot: { readonly cid: CID; readonly seq: number } | null
  /** Whether it is pinned: kept by `gc` even once finished. Live executions are always kept. */
  readonly pinned: boolean
}

/** Options for {@link ExecutionLog.entries}. */
export interface EntriesOptions {
  /** First sequence number to yield. Default 0. */
  readonly fromSeq?: number
  /** Also verify each entry's signature (hash links are always checked). Default false. */
  readonly verifySignatures?: boolean
}

/** Options for {@link ExecutionLog.listExecutions}. */
export interface ListExecutionsOptions {
  /** Only executions in this status (or these statuses). */
  readonly status?: ExecutionStatus | readonly ExecutionStatus[]
}

/** A snapshot read back: the reduced state at `seq`. */
export interface Snapshot {
  /** The snapshot entry's CID. */
  readonly cid: CID
  /** Its sequence number: the state includes every entry up to it. */
  readonly seq: number
  /** When it was taken. */
  readonly ts: number
  /** The decrypted reduced state. */
  readonly state: unknown
}

/** What resuming an execution needs: its head, latest snapshot and the entries after it. */
export interface ResumePoint {
  /** The head. */
  readonly head: ExecutionHead
  /** The latest snapshot, if one was taken. */
  readonly snapshot: Snapshot | undefined
  /** The entries after the snapshot (all of them without one), in order. */
  readonly entries: readonly LogEntry[]
}

/** Append-only, hash-linked, signed and encrypted logs of executions. */
export interface ExecutionLog {
  /** Appends an entry; resolves once it is durable. Appends to one execution keep their call order. */
  append(executionId: string, entry: AppendInput): Promise<AppendResult>
  /** The execution's durable head, or `undefined` when it has none. */
  head(executionId: string): Promise<ExecutionHead | undefined>
  /** The execution's entries from `fromSeq` on, in order, payloads decrypted. */
  entries(executionId: string, options?: EntriesOptions): AsyncIterable<LogEntry>
  /** The heads of the executions held, optionally filtered by status, ordered by id. */
  listExecutions(options?: ListExecutionsOptions): Promise<ExecutionHead[]>
  /** Appends a `snapshot` entry carrying the reduced state, and records it in the head. */
  snapshot(executionId: string, state: unknown, options?: { readonly ts?: number }): Promise<AppendResult>
  /** The latest snapshot, found from the head in O(1). */
  latestSnapshot(executionId: string): Promise<Snapshot | undefined>
  /** The latest snapshot and the entries after it. */
  resume(executionId: string): Promise<ResumePoint>
  /** Keeps a finished execution from garbage collection. */
  pin(executionId: string): Promise<void>
  /** Lets `gc` remove a finished execution again. */
  unpin(executionId: string): Promise<void>
}

/** The result of an audit. */
export type VerificationReport =
  | {
      readonly ok: true
      /** The execution. */
      readonly executionId: string
      /** The head the walk started from. */
      readonly head: CID
      /** Entries checked. */
      readonly entries: number
    }
  | {
      readonly ok: false
      /** The execution. */
      readonly executionId: string
      /** The head the walk started from. */
      readonly head: CID
      /** Entries that passed. */
      readonly entries: number
      /** The lowest-numbered broken entry. */
      readonly error: LogIntegrityError
      /** Every problem found, highest sequence number first. */
      readonly problems: readonly LogIntegrityError[]
    }

/** Which finished executions `gc` removes. */
export interface RetentionPolicy {
  /** Only those finished more than this many ms ago. Default 0 (any). */
  readonly olderThan?: number
  /** Keep this many most recently finished executions whatever their age. Default 0. */
  readonly keepLast?: number
  /** Keeps the finished executions it answers true for (say, those another one still needs). */
  readonly keep?: (head: ExecutionHead) => boolean
  /**
   * Ends the removal early once aborted: executions removed so far stay removed (their space is
   * reclaimed), the rest are left, and `gc` resolves with what it removed, `aborted: true`.
   */
  readonly signal?: AbortSignal
}

/** What `gc` removed. */
export interface GcReport {
  /** Executions removed. */
  readonly removedExecutions: readonly string[]
  /** Blocks deleted. */
  readonly removedBlocks: number
  /** Whether the policy's `signal` ended the removal before every execution it picked was removed. */
  readonly aborted: boolean
}

/** What {@link StateStore.stats} answers (in memory mode, `segments` and `bytes` are 0). */
export type StateStoreStats = SegmentLogStats

/** The store the Qflow engine keeps its state in: execution logs and the flow registry, on Helia. */
export interface StateStore {
  /** The execution logs. */
  readonly log: ExecutionLog
  /** The flow registry. */
  readonly flows: FlowRegistry
  /** The Helia node over the store's blockstore and datastore (no networking unless given one). */
  readonly helia: Helia
  /** Walks an execution's chain from its head (or from a head CID) and checks every entry. */
  verifyExecution(ref: string | CID): Promise<VerificationReport>
  /** Removes finished, unpinned executions per the retention policy. Never touches live ones. */
  gc(policy?: RetentionPolicy): Promise<GcReport>
  /** Writes an index checkpoint (block index and records), so an open scans only the log after it. */
  checkpoint(): Promise<void>
  /**
   * What the store holds now: blocks and records in its in-memory index (what its memory grows
   * with), the log's segments and bytes, bytes since the last checkpoint, and that checkpoint.
   */
  stats(): StateStoreStats
  /** Opens the log (loads its checkpoint, scans what follows), starts Helia. */
  start(): Promise<void>
  /** Waits for pending commits, checkpoints and closes. */
  stop(): Promise<void>
}

/** Options of the state store; all optional. */
export interface StateStoreInit {
  /** Data directory of the embedded store. Default `.qflow/state`. Ignored when `storage` is given. */
  readonly dataDir?: string
  /** Durability mode. Default `fsync`. Ignored when `storage` is given. */
  readonly durability?: Durability
  /** `batched` mode: longest wait to share an fsync, ms. Default 2. Ignored when `storage` is given. */
  readonly batchDelayMs?: number
  /** Most commits sharing one fsync. Default 256. Ignored when `storage` is given. */
  readonly batchMaxEntries?: number
  /** Log bytes written after which the block index and records are checkpointed. Default 32 MiB. Ignored when `storage` is given. */
  readonly checkpointBytes?: number
  /** Size at which a log segment is sealed and the next one started, bytes. Default 64 MiB. Ignored when `storage` is given. */
  readonly segmentBytes?: number
  /** Subnet of executions whose first append names none. Default `default`. */
  readonly subnet?: string
  /** Clock, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number
}

/** What the state store is given. */
export interface StateStoreComponents {
  /** Encrypts payloads at rest. */
  readonly qlock: Pick<Qlock, 'encrypt' | 'decrypt'>
  /** Signs entries and registry records. */
  readonly signer: Signer
  /** Verifies entries' signatures. */
  readonly verifier: Pick<IdentityVerifier, 'verifySignature'>
  /** Storage opened with `openStateStorage`, to share with a Helia built by the caller. */
  readonly storage?: StateStorage
  /** A Helia over `storage`'s stores (e.g. with libp2p); a networkless one is made when absent. */
  readonly helia?: Helia
}
