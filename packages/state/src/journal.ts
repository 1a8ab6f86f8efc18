import { type FileHandle, mkdir, open, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { crc32 } from 'node:zlib'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { type Block, bytesMatchCid } from './codec.js'
import { StoreFailedError, StoreNotStartedError } from './errors.js'
import type { StateStorage } from './storage.js'

/** One atomic group of writes: blocks to add, datastore keys to set or delete. */
export interface Transaction {
  readonly blocks: readonly Block[]
  readonly puts: ReadonlyArray<{ readonly key: Key; readonly value: Uint8Array }>
  readonly deletes?: readonly Key[]
}

/** Options of the commit journal. */
export interface CommitJournalInit {
  readonly storage: StateStorage
  readonly batchDelayMs: number
  readonly batchMaxEntries: number
  readonly checkpointBytes: number
}

interface Pending {
  readonly tx: Transaction
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

const OP_BLOCK = 1
const OP_PUT = 2
const OP_DELETE = 3
const FRAME_HEADER = 8
const encoder = new TextEncoder()
const decoder = new TextDecoder()

function encodeFrame(txs: readonly Transaction[]): Uint8Array {
  const ops: Array<{ type: number; key: Uint8Array; value: Uint8Array }> = []
  for (const tx of txs) {
    for (const block of tx.blocks) ops.push({ type: OP_BLOCK, key: block.cid.bytes, value: block.bytes })
    for (const put of tx.puts) ops.push({ type: OP_PUT, key: encoder.encode(put.key.toString()), value: put.value })
    for (const key of tx.deletes ?? []) ops.push({ type: OP_DELETE, key: encoder.encode(key.toString()), value: new Uint8Array(0) })
  }
  let bodyLength = 4
  for (const op of ops) bodyLength += 9 + op.key.byteLength + op.value.byteLength
  const frame = new Uint8Array(FRAME_HEADER + bodyLength)
  const view = new DataView(frame.buffer)
  let offset = FRAME_HEADER
  view.setUint32(offset, ops.length)
  offset += 4
  for (const op of ops) {
    view.setUint8(offset, op.type)
    view.setUint32(offset + 1, op.key.byteLength)
    frame.set(op.key, offset + 5)
    offset += 5 + op.key.byteLength
    view.setUint32(offset, op.value.byteLength)
    frame.set(op.value, offset + 4)
    offset += 4 + op.value.byteLength
  }
  view.setUint32(0, bodyLength)
  view.setUint32(4, crc32(frame.subarray(FRAME_HEADER)))
  return frame
}

/** Parses whole, checksummed frames; stops at the first torn or damaged one. */
function decodeFrames(bytes: Uint8Array): Transaction[] {
  const txs: Transaction[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 0
  while (offset + FRAME_HEADER <= bytes.byteLength) {
    const length = view.getUint32(offset)
    const sum = view.getUint32(offset + 4)
    const end = offset + FRAME_HEADER + length
    if (length < 4 || end > bytes.byteLength) break
    const body = bytes.subarray(offset + FRAME_HEADER, end)
    if (crc32(body) !== sum) break
    const tx = parseBody(body)
    if (tx === undefined) break
    txs.push(tx)
    offset = end
  }
  return txs
}

function parseBody(body: Uint8Array): Transaction | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const count = view.getUint32(0)
  let offset = 4
  const blocks: Block[] = []
  const puts: Array<{ key: Key; value: Uint8Array }> = []
  const deletes: Key[] = []
  for (let i = 0; i < count; i++) {
    if (offset + 5 > body.byteLength) return undefined
    const type = view.getUint8(offset)
    const keyLength = view.getUint32(offset + 1)
    const key = body.subarray(offset + 5, offset + 5 + keyLength)
    offset += 5 + keyLength
    if (offset + 4 > body.byteLength) return undefined
    const valueLength = view.getUint32(offset)
    const value = body.slice(offset + 4, offset + 4 + valueLength)
    offset += 4 + valueLength
    if (offset > body.byteLength) return undefined
    if (type === OP_BLOCK) {
      const cid = CID.decode(key.slice())
      if (!bytesMatchCid(cid, value)) return undefined
      blocks.push({ cid, bytes: value })
    } else if (type === OP_PUT) {
      puts.push({ key: new Key(decoder.decode(key)), value })
    } else if (type === OP_DELETE) {
      deletes.push(new Key(decoder.decode(key)))
    } else {
      return undefined
    }
  }
  return { blocks, puts, deletes }
}

async function fsyncPath(path: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(path, 'r')
    await handle.sync()
  } catch (err) {
    // A file deleted since it was written has nothing left to make durable.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  } finally {
    await handle?.close()
  }
}

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T
      await fn(item)
    }
  })
  await Promise.all(workers)
}

/**
 * Group commit over a write-ahead journal. A transaction is acknowledged once its frame is in the
 * journal and the journal is fdatasync'ed; its blocks and datastore keys are then written to the
 * stores (without fsync). On open the journal is replayed into the stores, so an acknowledged
 * transaction survives a crash even if its block files did not reach the disk. A checkpoint
 * fsyncs every file written since the last one and empties the journal.
 *
 * In memory mode there is no journal: transactions apply straight to the (memory) stores.
 */
export class CommitJournal {
  private readonly storage: StateStorage
  private readonly batchDelayMs: number
  private readonly batchMaxEntries: number
  private readonly checkpointBytes: number
  private readonly queue: Pending[] = []
  private handle: FileHandle | undefined
  private draining: Promise<void> | undefined
  private wake: (() => void) | undefined
  private lockTail: Promise<void> = Promise.resolve()
  private closing = false
  private failure: unknown
  private journalBytes = 0
  private readonly touchedFiles = new Set<string>()
  private readonly touchedDirs = new Set<string>()

  constructor(init: CommitJournalInit) {
    this.storage = init.storage
    this.batchDelayMs = init.storage.durability === 'batched' ? init.batchDelayMs : 0
    this.batchMaxEntries = Math.max(1, init.batchMaxEntries)
    this.checkpointBytes = init.checkpointBytes
  }

  /** Replays what the journal holds into the stores, checkpoints, and opens it for appends. */
  async open(): Promise<{ replayed: number }> {
    const path = this.storage.journalFile
    if (path === undefined) return { replayed: 0 }
    await mkdir(dirname(path), { recursive: true })
    let bytes: Uint8Array
    try {
      bytes = await readFile(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      bytes = new Uint8Array(0)
    }
    const txs = decodeFrames(bytes)
    for (const tx of txs) await this.apply([tx])
    this.handle = await open(path, 'a')
    await this.checkpointNow()
    await fsyncPath(dirname(path))
    return { replayed: txs.length }
  }

  /** Resolves once `tx` is durable (per the durability mode) and applied to the stores. */
  commit(tx: Transaction): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(new StoreFailedError(this.failure))
    if (this.closing) return Promise.reject(new StoreNotStartedError())
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ tx, resolve, reject })
      if (this.queue.length >= this.batchMaxEntries) this.wake?.()
      this.kick()
    })
  }

  /** fsyncs every file written since the last checkpoint, then empties the journal. */
  async checkpoint(): Promise<void> {
    await this.exclusive(() => this.checkpointNow())
  }

  /** Waits for queued commits (cutting a batch's wait short), checkpoints and closes the journal. */
  async close(): Promise<void> {
    this.closing = true
    while (this.draining !== undefined) {
      this.wake?.()
      await this.draining
    }
    if (this.failure === undefined) await this.checkpoint()
    await this.handle?.close()
    this.handle = undefined
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lockTail.then(fn)
    this.lockTail = run.then(
      () => undefined,
      () => undefined
    )
    return run
  }

  /** Starts the drain loop unless it runs; restarts it if commits arrived as it was ending. */
  private kick(): void {
    if (this.draining !== undefined) return
    this.draining = this.drain().finally(() => {
      this.draining = undefined
      if (this.queue.length > 0) this.kick()
    })
  }

  private async drain(): Promise<void> {
    // Let the commits of this tick queue up before the first batch is cut.
    await Promise.resolve()
    while (this.queue.length > 0) {
      if (this.batchDelayMs > 0 && this.queue.length < this.batchMaxEntries && !this.closing) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.batchDelayMs)
          this.wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        this.wake = undefined
      }
      const batch = this.queue.splice(0, this.batchMaxEntries)
      try {
        await this.exclusive(() => this.writeBatch(batch.map((p) => p.tx)))
        for (const p of batch) p.resolve()
      } catch (err) {
        this.failure = err
        const failed = new StoreFailedError(err)
        for (const p of [...batch, ...this.queue.splice(0)]) p.reject(failed)
      }
    }
  }

  private async writeBatch(txs: readonly Transaction[]): Promise<void> {
    if (this.handle !== undefined) {
      const frame = encodeFrame(txs)
      await this.handle.write(frame)
      await this.handle.datasync()
      this.journalBytes += frame.byteLength
    }
    await this.apply(txs)
    if (this.handle !== undefined && this.journalBytes >= this.checkpointBytes) await this.checkpointNow()
  }

  /**
   * Writes the transactions' blocks (over any existing file: content-addressed, so the same bytes,
   * and a replay repairs torn ones) and keys to the stores; later puts of a key win.
   */
  private async apply(txs: readonly Transaction[]): Promise<void> {
    const { datastore } = this.storage
    const blocks = new Map<string, Block>()
    const finalValues = new Map<string, { key: Key; value: Uint8Array | undefined }>()
    for (const tx of txs) {
      for (const block of tx.blocks) blocks.set(block.cid.toString(), block)
      for (const put of tx.puts) finalValues.set(put.key.toString(), { key: put.key, value: put.value })
      for (const key of tx.deletes ?? []) finalValues.set(key.toString(), { key, value: undefined })
    }
    let written = 0
    const yieldNow = async (): Promise<void> => {
      // Writes are synchronous: let the event loop breathe between chunks of a large batch.
      if (++written % 32 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    for (const block of blocks.values()) {
      await this.storage.writeBlock(block.cid, block.bytes)
      this.touch(this.storage.blockFile(block.cid))
      await yieldNow()
    }
    for (const { key, value } of finalValues.values()) {
      if (value === undefined) {
        await datastore.delete(key)
        const file = this.storage.datastoreFile(key)
        if (file !== undefined) this.touchedDirs.add(dirname(file))
      } else {
        await this.storage.writeRecord(key, value)
        this.touch(this.storage.datastoreFile(key))
      }
      await yieldNow()
    }
  }

  private touch(file: string | undefined): void {
    if (file === undefined) return
    this.touchedFiles.add(file)
    this.touchedDirs.add(dirname(file))
  }

  private async checkpointNow(): Promise<void> {
    if (this.handle === undefined) return
    const files = [...this.touchedFiles]
    const dirs = [...this.touchedDirs]
    this.touchedFiles.clear()
    this.touchedDirs.clear()
    await inParallel(files, 16, fsyncPath)
    // Shard directories may be new: make their entries, and their ancestors' up to the data dir, durable.
    const root = this.storage.dataDir ?? '/'
    const all = new Set<string>()
    for (let dir of dirs) {
      while (dir.startsWith(root) && !all.has(dir)) {
        all.add(dir)
        if (dir === root) break
        dir = dirname(dir)
      }
    }
    await inParallel([...all], 16, fsyncPath)
    await this.handle.truncate(0)
    await this.handle.sync()
    this.journalBytes = 0
  }
}
