import type { EncryptedEnvelope, EncryptionBinding } from '@qflow/pipeline'
import type { CID } from 'multiformats/cid'
import { asCid } from './codec.js'
import { LOG_ENTRY_PURPOSE, MAX_ID_LENGTH } from './constants.js'
import type { BatchSignature } from './entry-signer.js'
import { InvalidInputError } from './errors.js'
import type { AppendInput, ExecutionHead, ExecutionStatus, LogEntryBlock } from './state-store.js'

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const KIND = /^[a-z][a-z0-9-]{0,63}$/
const STATUSES: readonly string[] = ['running', 'paused', 'completed', 'failed', 'aborted']

/** Throws {@link InvalidInputError} unless `id` is a usable execution or flow id. */
export function assertId(id: unknown, pointer: string): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH || !ID.test(id)) {
    throw new InvalidInputError(`Expected an id of 1-${MAX_ID_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit`, pointer)
  }
}

/** Throws {@link InvalidInputError} unless `input` is a well-formed append. */
export function assertAppendInput(input: AppendInput): void {
  if (input === null || typeof input !== 'object') throw new InvalidInputError('Expected an entry object')
  if (typeof input.kind !== 'string' || !KIND.test(input.kind)) {
    throw new InvalidInputError('Expected kind to be a lowercase, dash-separated word', '/kind')
  }
  if (input.stepId !== undefined && (typeof input.stepId !== 'string' || input.stepId.length === 0 || input.stepId.length > 256)) {
    throw new InvalidInputError('Expected stepId to be a non-empty string of at most 256 characters', '/stepId')
  }
  if (input.opens !== undefined && input.opens !== false && (input.opens !== true || !isFinal(input.kind))) {
    throw new InvalidInputError('Expected opens to be true only with a final kind (completed, failed or aborted)', '/opens')
  }
  if (input.startedAt !== undefined && (input.opens !== true || !Number.isSafeInteger(input.startedAt) || input.startedAt < 0)) {
    throw new InvalidInputError('Expected startedAt to be a non-negative integer (ms since the epoch), given with opens', '/startedAt')
  }
  if (input.attempt !== undefined && (!Number.isSafeInteger(input.attempt) || input.attempt < 1)) {
    throw new InvalidInputError('Expected attempt to be an integer from 1', '/attempt')
  }
  if (input.subnet !== undefined && (typeof input.subnet !== 'string' || input.subnet.length === 0)) {
    throw new InvalidInputError('Expected subnet to be a non-empty string', '/subnet')
  }
  if (input.ts !== undefined && (!Number.isSafeInteger(input.ts) || input.ts < 0)) {
    throw new InvalidInputError('Expected ts to be a non-negative integer (ms since the epoch)', '/ts')
  }
}

/** The AEAD binding of an entry's payload. */
export function entryBinding(entry: { subnet: string; executionId: string; stepId?: string | undefined }): EncryptionBinding {
  return entry.stepId === undefined
    ? { subnet: entry.subnet, executionId: entry.executionId, purpose: LOG_ENTRY_PURPOSE }
    : { subnet: entry.subnet, executionId: entry.executionId, stepId: entry.stepId, purpose: LOG_ENTRY_PURPOSE }
}

/** The status an execution moves to when an entry of `kind` is appended. */
export function nextStatus(current: ExecutionStatus | undefined, kind: string): ExecutionStatus {
  switch (kind) {
    case 'started':
    case 'resumed':
      return 'running'
    case 'paused':
      return 'paused'
    case 'completed':
    case 'failed':
    case 'aborted':
      return kind
    default:
      return current ?? 'running'
  }
}

/** Whether the status is final. */
export function isFinished(status: ExecutionStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'aborted'
}

/** Whether an entry of `kind` ends an execution (the final kinds are named as the final statuses). */
function isFinal(kind: string): boolean {
  return isFinished(kind as ExecutionStatus)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function asEnvelope(value: unknown): EncryptedEnvelope | undefined {
  if (!isRecord(value)) return undefined
  if (value['v'] !== 1 || typeof value['alg'] !== 'string' || typeof value['kid'] !== 'string') return undefined
  if (!(value['nonce'] instanceof Uint8Array) || !(value['ciphertext'] instanceof Uint8Array)) return undefined
  return value as unknown as EncryptedEnvelope
}

function isBatchSignature(value: unknown): value is BatchSignature {
  if (!isRecord(value)) return false
  const { index, path, size, value: signature } = value
  return (
    Number.isSafeInteger(index) &&
    Number.isSafeInteger(size) &&
    (index as number) >= 0 &&
    (index as number) < (size as number) &&
    path instanceof Uint8Array &&
    signature instanceof Uint8Array
  )
}

/** Reads a decoded block as a log entry, or `undefined` when it is not one. */
export function parseEntryBlock(value: unknown): LogEntryBlock | undefined {
  if (!isRecord(value)) return undefined
  const { v, seq, prev, executionId, subnet, kind, stepId, attempt, payload, actor, ts, signature } = value
  if ((v !== 1 && v !== 2) || !Number.isSafeInteger(seq) || (seq as number) < 0) return undefined
  const prevCid = prev === null ? null : asCid(prev)
  if (prevCid === undefined) return undefined
  if (typeof executionId !== 'string' || typeof subnet !== 'string' || typeof kind !== 'string' || typeof actor !== 'string') return undefined
  if (stepId !== undefined && typeof stepId !== 'string') return undefined
  if (attempt !== undefined && !Number.isSafeInteger(attempt)) return undefined
  if (!Number.isSafeInteger(ts)) return undefined
  if (v === 1 ? !(signature instanceof Uint8Array) : !isBatchSignature(signature)) return undefined
  const envelope = asEnvelope(payload)
  if (envelope === undefined) return undefined
  return value as unknown as LogEntryBlock
}

/** The entry without its signature: what is signed. */
export function unsignedEntry(entry: LogEntryBlock): Omit<LogEntryBlock, 'signature'> {
  const { signature: _signature, ...rest } = entry
  return rest
}

/** The stored form of a head record. */
export function headToRecord(head: ExecutionHead): Record<string, unknown> {
  // Keys in sorted order, as they are encoded (the encoder then need not sort them).
  return {
    cid: head.cid,
    executionId: head.executionId,
    pinned: head.pinned,
    seq: head.seq,
    snapshot: head.snapshot === null ? null : { cid: head.snapshot.cid, seq: head.snapshot.seq },
    startedAt: head.startedAt,
    status: head.status,
    subnet: head.subnet,
    updatedAt: head.updatedAt,
    v: 1
  }
}

/** Reads a stored head record, or `undefined` when it is not one. */
export function parseHeadRecord(value: unknown): ExecutionHead | undefined {
  if (!isRecord(value) || value['v'] !== 1) return undefined
  const { executionId, cid, seq, status, subnet, startedAt, updatedAt, snapshot, pinned } = value
  const headCid = asCid(cid)
  if (headCid === undefined || typeof executionId !== 'string' || !Number.isSafeInteger(seq)) return undefined
  if (typeof status !== 'string' || !STATUSES.includes(status) || typeof subnet !== 'string') return undefined
  if (!Number.isSafeInteger(startedAt) || !Number.isSafeInteger(updatedAt) || typeof pinned !== 'boolean') return undefined
  let snap: ExecutionHead['snapshot'] = null
  if (snapshot !== null) {
    if (!isRecord(snapshot)) return undefined
    const snapCid: CID | undefined = asCid(snapshot['cid'])
    if (snapCid === undefined || !Number.isSafeInteger(snapshot['seq'])) return undefined
    snap = { cid: snapCid, seq: snapshot['seq'] as number }
  }
  return {
    executionId,
    cid: headCid,
    seq: seq as number,
    status: status as ExecutionStatus,
    subnet,
    startedAt: startedAt as number,
    updatedAt: updatedAt as number,
    snapshot: snap,
    pinned
  }
}
