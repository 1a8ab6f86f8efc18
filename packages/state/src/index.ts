/**
 * Qflow's state on IPFS (Helia): append-only execution logs whose entries are signed, encrypted
 * dag-json blocks linked by CID, a content-addressed flow registry with history and rollback,
 * audit verification that names the first broken entry, snapshots for fast resume, and retention.
 *
 * @example
 * ```ts
 * import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
 * import { createStateStore } from '@qflow/state'
 *
 * // In a node these come from @qflow/adapters-qlock and @qflow/adapters-squid.
 * const key = randomBytes(32)
 * const aad = (b: { subnet: string; executionId?: string; stepId?: string }) => Buffer.from(`${b.subnet}/${b.executionId}/${b.stepId}`)
 * const qlock = {
 *   async encrypt(data: Uint8Array, b: { subnet: string }) {
 *     const nonce = randomBytes(12)
 *     const c = createCipheriv('aes-256-gcm', key, nonce).setAAD(aad(b))
 *     return { v: 1 as const, alg: 'A256GCM', kid: 'k1', nonce, ciphertext: Buffer.concat([c.update(data), c.final(), c.getAuthTag()]) }
 *   },
 *   async decrypt(e: { nonce: Uint8Array; ciphertext: Uint8Array }, b: { subnet: string }) {
 *     const body = Buffer.from(e.ciphertext)
 *     const d = createDecipheriv('aes-256-gcm', key, e.nonce).setAAD(aad(b)).setAuthTag(body.subarray(-16))
 *     return Buffer.concat([d.update(body.subarray(0, -16)), d.final()])
 *   }
 * }
 * const { privateKey, publicKey } = generateKeyPairSync('ed25519')
 * const signer = { did: 'did:example:node', sign: async (data: Uint8Array) => sign(null, data, privateKey) }
 * const verifier = { verifySignature: async (_did: string, data: Uint8Array, sig: Uint8Array) => verify(null, data, publicKey, sig) }
 *
 * const store = await createStateStore({ dataDir: './data/state' }, { qlock, signer, verifier })
 * await store.log.append('exec-1', { kind: 'started', payload: { input: 42 } })
 * await store.log.append('exec-1', { kind: 'step-completed', stepId: 'a', attempt: 1, payload: { out: 1 } })
 * for await (const entry of store.log.entries('exec-1')) console.log(entry.seq, entry.kind, entry.payload)
 * console.log((await store.verifyExecution('exec-1')).ok) // true
 * await store.stop()
 * ```
 *
 * @packageDocumentation
 */
import { installPolyfills } from './polyfills.js'

installPolyfills()

export {
  DEFAULT_BATCH_DELAY_MS,
  DEFAULT_BATCH_MAX_ENTRIES,
  DEFAULT_CHECKPOINT_BYTES,
  DEFAULT_DATA_DIR,
  DEFAULT_DURABILITY,
  DEFAULT_SUBNET,
  LOG_BATCH_SIGNATURE_CONTEXT,
  LOG_ENTRY_PURPOSE,
  LOG_ENTRY_VERSION,
  MAX_SIGNATURE_BATCH
} from './constants.js'
export { createStateStore, stateStore } from './create-state-store.js'
export { type BatchSignature, batchSignedMessage, leafHash, merkleTree, rootFromProof } from './entry-signer.js'
export {
  CorruptRecordError,
  ExecutionExistsError,
  ExecutionFinishedError,
  ExecutionNotFoundError,
  FlowNotFoundError,
  InvalidInputError,
  LogIntegrityError,
  type LogIntegrityReason,
  MissingComponentError,
  StoreFailedError,
  StoreNotStartedError
} from './errors.js'
export type { FlowRegistry, FlowVersion, FlowVersionAction, ListFlowsOptions } from './flow-registry.js'
export type {
  AppendInput,
  AppendResult,
  Durability,
  EntriesOptions,
  ExecutionHead,
  ExecutionLog,
  ExecutionStatus,
  GcReport,
  ListExecutionsOptions,
  LogEntry,
  LogEntryBlock,
  LogEntryKind,
  ResumePoint,
  RetentionPolicy,
  Snapshot,
  StateStore,
  StateStoreComponents,
  StateStoreInit,
  StateStoreStats,
  VerificationReport
} from './state-store.js'
export type { CheckpointStats } from './segment-log.js'
export { openStateStorage, type StateStorage, type StateStorageInit } from './storage.js'
