import type { Helia } from '@helia/interface'
import type { CID } from 'multiformats/cid'
import { DEFAULT_SUBNET } from './constants.js'
import { MissingComponentError, StoreNotStartedError } from './errors.js'
import { HashLinkedExecutionLog } from './execution-log.js'
import type { FlowRegistry } from './flow-registry.js'
import { ContentAddressedFlowRegistry } from './flow-versions.js'
import { createLightHelia } from './helia-node.js'
import type { CommitJournal } from './journal.js'
import { OperationTracker } from './operation-tracker.js'
import type {
  StateStoreStats,
  ExecutionLog,
  GcReport,
  RetentionPolicy,
  StateStore,
  StateStoreComponents,
  StateStoreInit,
  VerificationReport
} from './state-store.js'
import { openStateStorage, type StateStorage, storageInternals } from './storage.js'

interface Running {
  readonly storage: StateStorage
  readonly ownsStorage: boolean
  readonly helia: Helia
  readonly ownsHelia: boolean
  readonly journal: CommitJournal
  readonly operations: OperationTracker
  readonly log: HashLinkedExecutionLog
  readonly flows: ContentAddressedFlowRegistry
  readonly logStats: () => StateStoreStats
}

/** The state store on Helia: see {@link StateStore}. */
export class HeliaStateStore implements StateStore {
  private readonly init: StateStoreInit
  private readonly components: StateStoreComponents
  private running: Running | undefined
  private starting: Promise<void> | undefined

  constructor(init: StateStoreInit, components: StateStoreComponents) {
    for (const name of ['qlock', 'signer', 'verifier'] as const) {
      if (components?.[name] === undefined) throw new MissingComponentError(name)
    }
    if (components.helia !== undefined && components.storage === undefined) {
      throw new MissingComponentError('storage', 'a Helia given to the state store must come with the StateStorage its stores were opened from')
    }
    this.init = init
    this.components = components
  }

  get log(): ExecutionLog {
    return this.require().log
  }

  get flows(): FlowRegistry {
    return this.require().flows
  }

  get helia(): Helia {
    return this.require().helia
  }

  async start(): Promise<void> {
    if (this.running !== undefined) return
    this.starting ??= this.open().finally(() => {
      this.starting = undefined
    })
    await this.starting
  }

  async stop(): Promise<void> {
    const running = this.running
    if (running === undefined) return
    this.running = undefined
    // Writes already called finish (and are durable) before the journal closes; new ones are refused.
    await running.operations.settle()
    await running.journal.flush()
    if (running.ownsHelia) await running.helia.stop()
    // Closing the storage flushes and checkpoints it; a caller's storage is only checkpointed.
    if (running.ownsStorage) await running.storage.close()
    else await running.journal.checkpoint()
  }

  verifyExecution(ref: string | CID): Promise<VerificationReport> {
    return this.require().log.verify(ref)
  }

  gc(policy?: RetentionPolicy): Promise<GcReport> {
    return this.require().log.gc(policy)
  }

  checkpoint(): Promise<void> {
    return this.require().journal.checkpoint()
  }

  stats(): StateStoreStats {
    return this.require().logStats()
  }

  private require(): Running {
    if (this.running === undefined) throw new StoreNotStartedError()
    return this.running
  }

  private async open(): Promise<void> {
    const ownsStorage = this.components.storage === undefined
    const { dataDir, durability, batchDelayMs, batchMaxEntries, checkpointBytes, segmentBytes } = this.init
    const storage =
      this.components.storage ??
      (await openStateStorage({
        ...(dataDir === undefined ? {} : { dataDir }),
        ...(durability === undefined ? {} : { durability }),
        ...(batchDelayMs === undefined ? {} : { batchDelayMs }),
        ...(batchMaxEntries === undefined ? {} : { batchMaxEntries }),
        ...(checkpointBytes === undefined ? {} : { checkpointBytes }),
        ...(segmentBytes === undefined ? {} : { segmentBytes })
      }))
    const inner = storageInternals(storage)
    if (inner === undefined) throw new MissingComponentError('storage', 'the StateStorage must come from openStateStorage')
    const journal = inner.journal
    try {
      const ownsHelia = this.components.helia === undefined
      const helia = this.components.helia ?? (await createLightHelia(storage))
      if (ownsHelia) await helia.start()
      const now = this.init.now ?? Date.now
      const { qlock, signer, verifier } = this.components
      const operations = new OperationTracker()
      this.running = {
        storage,
        ownsStorage,
        helia,
        ownsHelia,
        journal,
        operations,
        log: new HashLinkedExecutionLog({ storage, journal, operations, helia, qlock, signer, verifier, subnet: this.init.subnet ?? DEFAULT_SUBNET, now }),
        flows: new ContentAddressedFlowRegistry({ storage, journal, operations, signer, now }),
        logStats: () => inner.log.stats()
      }
    } catch (err) {
      if (ownsStorage) await storage.close()
      throw err
    }
  }
}
