import { join, resolve } from 'node:path'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore, Key } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import {
  DEFAULT_BATCH_DELAY_MS,
  DEFAULT_BATCH_MAX_ENTRIES,
  DEFAULT_CHECKPOINT_BYTES,
  DEFAULT_DATA_DIR,
  DEFAULT_DURABILITY,
  DEFAULT_SEGMENT_BYTES,
  MAX_SEGMENT_BYTES
} from './constants.js'
import { InvalidInputError } from './errors.js'
import { CommitJournal } from './journal.js'
import { LogBlockstore, LogDatastore } from './log-stores.js'
import { SegmentLog } from './segment-log.js'
import type { Durability } from './state-store.js'

/** Options for {@link openStateStorage}; all optional. */
export interface StateStorageInit {
  /** Directory of the log segments and the index checkpoint. Default `.qflow/state`. */
  dataDir?: string
  /** `memory` keeps everything in memory (tests); the others are file-backed. Default `fsync`. */
  durability?: Durability
  /** `batched` mode: longest wait to share an fdatasync, ms. Default 2. */
  batchDelayMs?: number
  /** Most commits sharing one fdatasync. Default 256. */
  batchMaxEntries?: number
  /** Log bytes written after which the index is checkpointed. Default 32 MiB. */
  checkpointBytes?: number
  /** Size at which a log segment is sealed and a new one started. Default 64 MiB, at most 1 GiB. */
  segmentBytes?: number
}

/**
 * The stores the state lives in: a blockstore and a datastore over one append-only log (file
 * segments under `dataDir`, or memory). Open them once and hand the same instances to Helia —
 * with or without libp2p — and to the state store, so both see one set of blocks.
 */
export interface StateStorage {
  /** How writes are made durable. */
  readonly durability: Durability
  /** The data directory, absent in memory mode. */
  readonly dataDir: string | undefined
  /** The raw blockstore (no networking). */
  readonly blockstore: Blockstore
  /** The raw datastore. */
  readonly datastore: Datastore
  /** Reads a block's bytes, or `undefined` when the store does not hold it. */
  readBlock(cid: CID): Promise<Uint8Array | undefined>
  /** Reads a datastore key, or `undefined` when it is not set. */
  readRecord(key: Key): Promise<Uint8Array | undefined>
  /** Waits for pending writes, checkpoints the index and closes the log. */
  close(): Promise<void>
}

/** What the state store reaches behind a {@link StateStorage}. */
export interface StorageInternals {
  readonly log: SegmentLog
  readonly journal: CommitJournal
}

const internals = new WeakMap<StateStorage, StorageInternals>()

/** The log and journal behind storage made by {@link openStateStorage}. */
export function storageInternals(storage: StateStorage): StorageInternals | undefined {
  return internals.get(storage)
}

function positive(value: number | undefined, fallback: number, pointer: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value < 0) throw new InvalidInputError('Expected a non-negative number', pointer)
  return value
}

/** Opens (creating if needed) the log of a state store and the blockstore and datastore over it. */
export async function openStateStorage(init: StateStorageInit = {}): Promise<StateStorage> {
  const durability = init.durability ?? DEFAULT_DURABILITY
  if (durability !== 'fsync' && durability !== 'batched' && durability !== 'memory') {
    throw new InvalidInputError("Expected durability to be 'fsync', 'batched' or 'memory'", '/durability')
  }
  const memory = durability === 'memory'
  const dataDir = memory ? undefined : resolve(init.dataDir ?? DEFAULT_DATA_DIR)
  const log = new SegmentLog(dataDir === undefined ? undefined : join(dataDir, 'log'), Math.min(MAX_SEGMENT_BYTES, Math.max(1, positive(init.segmentBytes, DEFAULT_SEGMENT_BYTES, '/segmentBytes'))))
  log.open()
  const journal = new CommitJournal({
    log,
    memory,
    batchDelayMs: durability === 'batched' ? positive(init.batchDelayMs, DEFAULT_BATCH_DELAY_MS, '/batchDelayMs') : 0,
    batchMaxEntries: positive(init.batchMaxEntries, DEFAULT_BATCH_MAX_ENTRIES, '/batchMaxEntries'),
    checkpointBytes: positive(init.checkpointBytes, DEFAULT_CHECKPOINT_BYTES, '/checkpointBytes')
  })
  let closed: Promise<void> | undefined
  const storage: StateStorage = {
    durability,
    dataDir,
    blockstore: new LogBlockstore(log, journal),
    datastore: new LogDatastore(log, journal),
    readBlock(cid) {
      return log.readBlock(cid)
    },
    async readRecord(key) {
      return log.getRecord(key.toString())
    },
    close() {
      closed ??= (async () => {
        await journal.close()
        await log.close()
      })()
      return closed
    }
  }
  internals.set(storage, { log, journal })
  return storage
}
