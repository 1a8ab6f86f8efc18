import type { Helia } from '@helia/interface'
import type { IdentityVerifier, Qlock, Signer } from '@qflow/pipeline'
import { Key } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import { bytesMatchCid, canonicalBlockBytes, decodeBlock, payloadBytes, signableBlock } from './codec.js'
import { GC_CONCURRENCY, HEADS_PREFIX, LOG_ENTRY_VERSION, VERIFIED_BATCHES_KEPT } from './constants.js'
import {
  assertAppendInput,
  assertId,
  entryBinding,
  headToRecord,
  isFinished,
  nextStatus,
  parseEntryBlock,
  parseHeadRecord,
  unsignedEntry
} from './entry.js'
import { batchSignedMessage, EntrySigner, leafHash, rootFromProof } from './entry-signer.js'
import {
  CorruptRecordError,
  ExecutionExistsError,
  ExecutionFinishedError,
  ExecutionNotFoundError,
  InvalidInputError,
  LogIntegrityError,
  type LogIntegrityReason
} from './errors.js'
import type { CommitJournal } from './journal.js'
import type { OperationTracker } from './operation-tracker.js'
import type {
  AppendInput,
  AppendResult,
  EntriesOptions,
  ExecutionHead,
  ExecutionLog,
  GcReport,
  ListExecutionsOptions,
  LogEntry,
  LogEntryBlock,
  ResumePoint,
  RetentionPolicy,
  Snapshot,
  VerificationReport
} from './state-store.js'
import type { StateStorage } from './storage.js'

/** What the execution log works with. */
export interface ExecutionLogContext {
  readonly storage: StateStorage
  readonly journal: CommitJournal
  readonly operations: OperationTracker
  readonly helia: Pick<Helia, 'pins'>
  readonly qlock: Pick<Qlock, 'encrypt' | 'decrypt'>
  readonly signer: Signer
  readonly verifier: Pick<IdentityVerifier, 'verifySignature'>
  readonly subnet: string
  readonly now: () => number
}

interface HeadState {
  /** The head as acknowledged durable. */
  committed: ExecutionHead | undefined
  /** The head including appends still committing: what the next append links to. */
  tip: ExecutionHead | undefined
}

interface CheckedEntry {
  readonly cid: CID
  readonly entry: LogEntryBlock
}

function headKey(executionId: string): string {
  return `${HEADS_PREFIX}/${executionId}`
}

/** The execution log over a blockstore, a datastore and a commit journal. */
export class HashLinkedExecutionLog implements ExecutionLog {
  private readonly ctx: ExecutionLogContext
  private readonly heads = new Map<string, HeadState>()
  private readonly locks = new Map<string, Promise<void>>()
  private readonly signer: EntrySigner
  /** Batch signatures already checked, by actor, root and signature: entries of one batch share one. */
  private readonly verifiedBatches = new Map<string, true>()

  constructor(ctx: ExecutionLogContext) {
    this.ctx = ctx
    this.signer = new EntrySigner(ctx.signer)
  }

  append(executionId: string, input: AppendInput): Promise<AppendResult> {
    return this.ctx.operations.track(this.appendNow(executionId, input))
  }

  private async appendNow(executionId: string, input: AppendInput): Promise<AppendResult> {
    assertId(executionId, '/executionId')
    assertAppendInput(input)
    const { committed, head } = await this.withLock(executionId, async () => {
      const state = await this.state(executionId)
      const head = await this.buildEntry(executionId, state.tip, input)
      state.tip = head.next
      return { committed: this.ctx.journal.commit(head.tx), head: head.next }
    })
    try {
      await committed
    } catch (err) {
      // The journal refuses writes from now on; forget what was not acknowledged.
      this.heads.delete(executionId)
      throw err
    }
    const state = this.heads.get(executionId)
    if (state !== undefined && (state.committed === undefined || state.committed.seq < head.seq)) state.committed = head
    // A finished execution takes no more appends: keep the cache to live ones (it reloads from disk).
    if (state !== undefined && state.tip === head && isFinished(head.status)) this.heads.delete(executionId)
    return { cid: head.cid, seq: head.seq }
  }

  async head(executionId: string): Promise<ExecutionHead | undefined> {
    assertId(executionId, '/executionId')
    const cached = this.heads.get(executionId)
    return cached === undefined ? this.readHead(executionId) : cached.committed
  }

  async *entries(executionId: string, options: EntriesOptions = {}): AsyncGenerator<LogEntry> {
    const head = await this.requireHead(executionId)
    const fromSeq = options.fromSeq ?? 0
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) throw new InvalidInputError('Expected fromSeq to be a non-negative integer', '/fromSeq')
    const chain = await this.walk(executionId, head.cid, head.seq, fromSeq)
    for (let i = chain.length - 1; i >= 0; i--) {
      const checked = chain[i] as CheckedEntry
      if (options.verifySignatures === true) await this.checkSignature(checked)
      yield await this.open(checked)
    }
  }

  async listExecutions(options: ListExecutionsOptions = {}): Promise<ExecutionHead[]> {
    const wanted = options.status === undefined ? undefined : new Set<string>(typeof options.status === 'string' ? [options.status] : options.status)
    const heads: ExecutionHead[] = []
    for await (const key of this.ctx.storage.datastore.queryKeys({ prefix: HEADS_PREFIX })) {
      const value = await this.ctx.storage.readRecord(key)
      if (value === undefined) continue // removed by gc meanwhile
      const head = this.decodeHead(key.toString(), value)
      if (wanted === undefined || wanted.has(head.status)) heads.push(head)
    }
    return heads.sort((a, b) => (a.executionId < b.executionId ? -1 : a.executionId > b.executionId ? 1 : 0))
  }

  snapshot(executionId: string, state: unknown, options: { readonly ts?: number } = {}): Promise<AppendResult> {
    return this.append(executionId, options.ts === undefined ? { kind: 'snapshot', payload: state } : { kind: 'snapshot', payload: state, ts: options.ts })
  }

  async latestSnapshot(executionId: string): Promise<Snapshot | undefined> {
    return this.snapshotOf(executionId, await this.requireHead(executionId))
  }

  private async snapshotOf(executionId: string, head: ExecutionHead): Promise<Snapshot | undefined> {
    if (head.snapshot === null) return undefined
    const checked = await this.readEntry(executionId, head.snapshot.cid, head.snapshot.seq)
    const opened = await this.open(checked)
    return { cid: opened.cid, seq: opened.seq, ts: opened.ts, state: opened.payload }
  }

  async resume(executionId: string): Promise<ResumePoint> {
    const head = await this.requireHead(executionId)
    const snapshot = await this.snapshotOf(executionId, head)
    const entries: LogEntry[] = []
    if (snapshot === undefined || snapshot.seq < head.seq) {
      const chain = await this.walk(executionId, head.cid, head.seq, snapshot === undefined ? 0 : snapshot.seq + 1)
      for (let i = chain.length - 1; i >= 0; i--) entries.push(await this.open(chain[i] as CheckedEntry))
    }
    return { head, snapshot, entries }
  }

  pin(executionId: string): Promise<void> {
    return this.ctx.operations.track(this.setPinned(executionId, true))
  }

  unpin(executionId: string): Promise<void> {
    return this.ctx.operations.track(this.setPinned(executionId, false))
  }

  /** Walks the chain from a head and checks every link, hash, signature and payload. */
  async verify(ref: string | CID): Promise<VerificationReport> {
    let executionId: string
    let start: CID
    let expectedSeq: number
    const problems: LogIntegrityError[] = []
    if (typeof ref === 'string') {
      assertId(ref, '/executionId')
      const head = await this.readHead(ref)
      if (head === undefined) throw new ExecutionNotFoundError(ref)
      executionId = ref
      start = head.cid
      expectedSeq = head.seq
    } else {
      start = ref
      const bytes = await this.ctx.storage.readBlock(ref)
      const entry = bytes !== undefined && bytesMatchCid(ref, bytes) ? parseEntryBlock(safeDecode(bytes)) : undefined
      if (entry === undefined) {
        const reason: LogIntegrityReason = bytes === undefined ? 'missing-block' : bytesMatchCid(ref, bytes) ? 'malformed-entry' : 'bad-cid'
        const error = new LogIntegrityError({ executionId: '', seq: -1, reason, cid: ref.toString() })
        return { ok: false, executionId: '', head: ref, entries: 0, error, problems: [error] }
      }
      executionId = entry.executionId
      expectedSeq = entry.seq
    }
    let cursor: CID | null = start
    let passed = 0
    while (cursor !== null) {
      let checked: CheckedEntry
      try {
        checked = await this.readEntry(executionId, cursor, expectedSeq)
      } catch (err) {
        if (!(err instanceof LogIntegrityError)) throw err
        problems.push(err)
        break
      }
      let ok = true
      try {
        await this.checkSignature(checked)
      } catch (err) {
        if (!(err instanceof LogIntegrityError)) throw err
        problems.push(err)
        ok = false
      }
      try {
        await this.open(checked)
      } catch (err) {
        if (!(err instanceof LogIntegrityError)) throw err
        problems.push(err)
        ok = false
      }
      if (ok) passed++
      cursor = checked.entry.prev
      expectedSeq--
    }
    const error = problems[problems.length - 1]
    if (error === undefined) return { ok: true, executionId, head: start, entries: passed }
    return { ok: false, executionId, head: start, entries: passed, error, problems }
  }

  /** Removes finished, unpinned executions per the policy. */
  gc(policy: RetentionPolicy = {}): Promise<GcReport> {
    return this.ctx.operations.track(this.gcNow(policy))
  }

  private async gcNow(policy: RetentionPolicy): Promise<GcReport> {
    const olderThan = policy.olderThan ?? 0
    const keepLast = policy.keepLast ?? 0
    if (!Number.isFinite(olderThan) || olderThan < 0) throw new InvalidInputError('Expected olderThan to be a non-negative number of ms', '/olderThan')
    if (!Number.isSafeInteger(keepLast) || keepLast < 0) throw new InvalidInputError('Expected keepLast to be a non-negative integer', '/keepLast')
    const finished = (await this.listExecutions()).filter((h) => isFinished(h.status)).sort((a, b) => b.updatedAt - a.updatedAt)
    const now = this.ctx.now()
    const doomed = finished.slice(keepLast).filter((h) => !h.pinned && now - h.updatedAt >= olderThan && policy.keep?.(h) !== true)
    const removedExecutions: string[] = []
    let removedBlocks = 0
    const remove = (candidate: ExecutionHead): Promise<number> =>
      this.withLock(candidate.executionId, async () => {
        const head = await this.readHead(candidate.executionId)
        if (head === undefined || !isFinished(head.status) || head.pinned) return 0
        const cids: CID[] = []
        let cursor: CID | null = head.cid
        while (cursor !== null) {
          const bytes = await this.ctx.storage.readBlock(cursor)
          if (bytes === undefined) break
          cids.push(cursor)
          const entry: LogEntryBlock | undefined = bytesMatchCid(cursor, bytes) ? parseEntryBlock(safeDecode(bytes)) : undefined
          cursor = entry === undefined ? null : entry.prev
        }
        const unpinned: CID[] = []
        for (const cid of cids) if (!(await this.ctx.helia.pins.isPinned(cid))) unpinned.push(cid)
        // The head record and the blocks' tombstones go in one frame: all or nothing.
        await this.ctx.journal.commit({ blocks: [], puts: [], deletes: [headKey(head.executionId)], blockDeletes: unpinned })
        this.heads.delete(head.executionId)
        removedExecutions.push(head.executionId)
        return unpinned.length
      })
    // Several removals at once: their frames share an fdatasync instead of waiting for one each.
    let aborted = false
    for (let at = 0; at < doomed.length; at += GC_CONCURRENCY) {
      if (policy.signal?.aborted === true) {
        aborted = true
        break
      }
      const settled = await Promise.allSettled(doomed.slice(at, at + GC_CONCURRENCY).map(remove))
      for (const outcome of settled) if (outcome.status === 'fulfilled') removedBlocks += outcome.value
      const failed = settled.find((outcome) => outcome.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    }
    // Reclaim the space: rewrite the oldest segments whose blocks are now mostly deleted.
    if (removedBlocks > 0) await this.ctx.journal.compact()
    return { removedExecutions, removedBlocks, aborted }
  }

  private async setPinned(executionId: string, pinned: boolean): Promise<void> {
    assertId(executionId, '/executionId')
    // Pins are rare: hold the execution's lock until the new head is durable, so a gc that takes
    // the lock next reads it from disk.
    await this.withLock(executionId, async () => {
      const state = await this.state(executionId)
      if (state.tip === undefined) throw new ExecutionNotFoundError(executionId)
      const next: ExecutionHead = { ...state.tip, pinned }
      try {
        await this.ctx.journal.commit({ blocks: [], puts: [{ key: headKey(executionId), value: canonicalBlockBytes(headToRecord(next)) }] })
      } catch (err) {
        this.heads.delete(executionId)
        throw err
      }
      state.tip = next
      if (state.committed !== undefined) state.committed = { ...state.committed, pinned }
    })
  }

  private async buildEntry(
    executionId: string,
    tip: ExecutionHead | undefined,
    input: AppendInput
  ): Promise<{ next: ExecutionHead; tx: Parameters<CommitJournal['commit']>[0] }> {
    const opens = input.kind === 'started' || input.opens === true
    if (tip === undefined && !opens) throw new ExecutionNotFoundError(executionId)
    if (tip !== undefined && opens) throw new ExecutionExistsError(executionId)
    if (tip !== undefined && isFinished(tip.status)) throw new ExecutionFinishedError(executionId, tip.status)
    const subnet = input.subnet ?? tip?.subnet ?? this.ctx.subnet
    let plaintext: Uint8Array
    try {
      plaintext = payloadBytes(input.payload === undefined ? null : input.payload)
    } catch (err) {
      throw new InvalidInputError(`Payload cannot be encoded as dag-json: ${(err as Error).message}`, '/payload')
    }
    const seq = tip === undefined ? 0 : tip.seq + 1
    const ts = input.ts ?? this.ctx.now()
    const binding = entryBinding({ subnet, executionId, stepId: input.stepId })
    const payload = await this.ctx.qlock.encrypt(plaintext, binding)
    // Keys in sorted order, as they are encoded: the encoder then need not sort them.
    const unsigned: Record<keyof Omit<LogEntryBlock, 'signature'>, unknown> = {
      actor: this.ctx.signer.did,
      attempt: input.attempt,
      executionId,
      kind: input.kind,
      payload: { alg: payload.alg, ciphertext: payload.ciphertext, kid: payload.kid, nonce: payload.nonce, v: payload.v },
      prev: tip === undefined ? null : tip.cid,
      seq,
      stepId: input.stepId,
      subnet,
      ts,
      v: LOG_ENTRY_VERSION
    }
    const signable = signableBlock(unsigned)
    const block = signable.withSignature(await this.signer.sign(signable.bytes))
    const status = nextStatus(tip?.status, input.kind)
    const next: ExecutionHead = {
      executionId,
      cid: block.cid,
      seq,
      status,
      subnet: tip?.subnet ?? subnet,
      startedAt: tip?.startedAt ?? input.startedAt ?? ts,
      updatedAt: ts,
      snapshot: input.kind === 'snapshot' ? { cid: block.cid, seq } : (tip?.snapshot ?? null),
      pinned: tip?.pinned ?? false
    }
    return { next, tx: { blocks: [block], puts: [{ key: headKey(executionId), value: canonicalBlockBytes(headToRecord(next)) }] } }
  }

  private async withLock<T>(executionId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(executionId) ?? Promise.resolve()
    const run = previous.then(fn)
    const tail = run.then(
      () => undefined,
      () => undefined
    )
    this.locks.set(executionId, tail)
    try {
      return await run
    } finally {
      if (this.locks.get(executionId) === tail) this.locks.delete(executionId)
    }
  }

  private async state(executionId: string): Promise<HeadState> {
    let state = this.heads.get(executionId)
    if (state === undefined) {
      const head = await this.readHead(executionId)
      state = this.heads.get(executionId)
      if (state === undefined) {
        state = { committed: head, tip: head }
        this.heads.set(executionId, state)
      }
    }
    return state
  }

  private async requireHead(executionId: string): Promise<ExecutionHead> {
    const head = await this.head(executionId)
    if (head === undefined) throw new ExecutionNotFoundError(executionId)
    return head
  }

  private async readHead(executionId: string): Promise<ExecutionHead | undefined> {
    const key = headKey(executionId)
    const value = await this.ctx.storage.readRecord(new Key(key, false))
    return value === undefined ? undefined : this.decodeHead(key, value)
  }

  private decodeHead(key: string, bytes: Uint8Array): ExecutionHead {
    let head: ExecutionHead | undefined
    try {
      head = parseHeadRecord(decodeBlock(bytes))
    } catch (err) {
      throw new CorruptRecordError(key, 'not dag-json', err)
    }
    if (head === undefined) throw new CorruptRecordError(key, 'not a head record')
    return head
  }

  /** Reads one entry and checks its hash, shape, execution and sequence number. */
  private async readEntry(executionId: string, cid: CID, expectedSeq: number): Promise<CheckedEntry> {
    const fail = (reason: LogIntegrityReason, detail?: string, cause?: unknown): LogIntegrityError =>
      new LogIntegrityError({ executionId, seq: expectedSeq, reason, cid: cid.toString(), detail, cause })
    const bytes = await this.ctx.storage.readBlock(cid)
    if (bytes === undefined) throw fail('missing-block')
    if (!bytesMatchCid(cid, bytes)) throw fail('bad-cid', 'the block does not hash to its CID')
    const entry = parseEntryBlock(safeDecode(bytes))
    if (entry === undefined) throw fail('malformed-entry', 'the block is not a log entry')
    if (entry.executionId !== executionId) throw fail('bad-link', `the block belongs to execution ${entry.executionId}`)
    if (entry.seq !== expectedSeq) throw fail('seq-gap', `found seq ${entry.seq}`)
    if ((entry.seq === 0) !== (entry.prev === null)) throw fail('bad-link', entry.seq === 0 ? 'the first entry links a previous one' : 'no link to the previous entry')
    return { cid, entry }
  }

  /** Walks back from `cid` (at `seq`) to `fromSeq`, newest first. */
  private async walk(executionId: string, cid: CID, seq: number, fromSeq: number): Promise<CheckedEntry[]> {
    const chain: CheckedEntry[] = []
    let cursor: CID | null = cid
    let expected = seq
    while (cursor !== null && expected >= fromSeq) {
      const checked = await this.readEntry(executionId, cursor, expected)
      chain.push(checked)
      cursor = checked.entry.prev
      expected--
    }
    return chain
  }

  private async checkSignature({ cid, entry }: CheckedEntry): Promise<void> {
    const signed = canonicalBlockBytes(unsignedEntry(entry))
    const { signature } = entry
    let valid = false
    let cause: unknown
    let detail = `not signed by ${entry.actor}`
    try {
      if (signature instanceof Uint8Array) {
        valid = await this.ctx.verifier.verifySignature(entry.actor, signed, signature)
      } else {
        const root = rootFromProof(leafHash(signed), signature.index, signature.size, signature.path)
        if (root === undefined) {
          detail = `its inclusion proof does not fit a batch of ${signature.size} at index ${signature.index}`
        } else {
          const key = `${entry.actor} ${Buffer.from(root).toString('base64')} ${Buffer.from(signature.value).toString('base64')}`
          valid = this.verifiedBatches.has(key) || (await this.ctx.verifier.verifySignature(entry.actor, batchSignedMessage(root), signature.value))
          if (valid) this.rememberBatch(key)
        }
      }
    } catch (err) {
      cause = err
    }
    if (!valid) {
      throw new LogIntegrityError({ executionId: entry.executionId, seq: entry.seq, reason: 'bad-signature', cid: cid.toString(), detail, cause })
    }
  }

  private rememberBatch(key: string): void {
    this.verifiedBatches.delete(key)
    this.verifiedBatches.set(key, true)
    if (this.verifiedBatches.size > VERIFIED_BATCHES_KEPT) this.verifiedBatches.delete(this.verifiedBatches.keys().next().value as string)
  }

  /** Decrypts an entry's payload under its binding. */
  private async open({ cid, entry }: CheckedEntry): Promise<LogEntry> {
    let payload: unknown
    try {
      payload = decodeBlock(await this.ctx.qlock.decrypt(entry.payload, entryBinding(entry)))
    } catch (err) {
      throw new LogIntegrityError({ executionId: entry.executionId, seq: entry.seq, reason: 'decrypt-failed', cid: cid.toString(), detail: (err as Error)?.name, cause: err })
    }
    return {
      cid,
      seq: entry.seq,
      prev: entry.prev,
      executionId: entry.executionId,
      subnet: entry.subnet,
      kind: entry.kind,
      ...(entry.stepId === undefined ? {} : { stepId: entry.stepId }),
      ...(entry.attempt === undefined ? {} : { attempt: entry.attempt }),
      actor: entry.actor,
      ts: entry.ts,
      payload
    }
  }
}

function safeDecode(bytes: Uint8Array): unknown {
  try {
    return decodeBlock(bytes)
  } catch {
    return undefined
  }
}
