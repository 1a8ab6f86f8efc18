import { BaseBlockstore } from 'blockstore-core'
import { BaseDatastore } from 'datastore-core'
import type { InputPair, Pair as BlockPair } from 'interface-blockstore'
import { type Batch, Key, type KeyQuery, type Pair, type Query } from 'interface-datastore'
import { NotFoundError } from 'interface-store'
import type { CID } from 'multiformats/cid'
import type { CommitJournal } from './journal.js'
import type { SegmentLog } from './segment-log.js'

interface AbortOptions {
  signal?: AbortSignal
}

async function collect(chunks: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (chunks instanceof Uint8Array) return chunks
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of chunks) {
    parts.push(chunk)
    length += chunk.byteLength
  }
  if (parts.length === 1) return parts[0] as Uint8Array
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

/**
 * An `interface-blockstore` `Blockstore` over the segment log, so Helia (and a bitswap serving
 * the state's blocks) reads and writes the very blocks the state store appends. A `put` is one
 * committed frame, durable per the storage's mode; a `delete` commits a tombstone.
 */
export class LogBlockstore extends BaseBlockstore {
  private readonly log: SegmentLog
  private readonly journal: CommitJournal

  constructor(log: SegmentLog, journal: CommitJournal) {
    super()
    this.log = log
    this.journal = journal
  }

  override async put(cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    options?.signal?.throwIfAborted()
    const value = await collect(bytes)
    if (!this.log.hasBlock(cid)) await this.journal.commit({ blocks: [{ cid, bytes: value }], puts: [] })
    return cid
  }

  override async *putMany(source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) yield await this.put(cid, bytes, options)
  }

  override async *get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    options?.signal?.throwIfAborted()
    const bytes = await this.log.readBlock(cid)
    if (bytes === undefined) throw new NotFoundError()
    yield bytes
  }

  override has(cid: CID, options?: AbortOptions): boolean {
    options?.signal?.throwIfAborted()
    return this.log.hasBlock(cid)
  }

  override async delete(cid: CID, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (this.log.hasBlock(cid)) await this.journal.commit({ blocks: [], puts: [], blockDeletes: [cid] })
  }

  override async *getAll(options?: AbortOptions): AsyncGenerator<BlockPair> {
    for (const cid of [...this.log.blocks()]) {
      options?.signal?.throwIfAborted()
      yield { cid, bytes: this.get(cid) }
    }
  }
}

/**
 * An `interface-datastore` `Datastore` over the segment log's records: keys live in memory and
 * each write is one committed frame (a `batch` is one frame, so it is atomic).
 */
export class LogDatastore extends BaseDatastore {
  private readonly log: SegmentLog
  private readonly journal: CommitJournal

  constructor(log: SegmentLog, journal: CommitJournal) {
    super()
    this.log = log
    this.journal = journal
  }

  override async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    options?.signal?.throwIfAborted()
    await this.journal.commit({ blocks: [], puts: [{ key: key.toString(), value }] })
    return key
  }

  override get(key: Key, options?: AbortOptions): Uint8Array {
    options?.signal?.throwIfAborted()
    const value = this.log.getRecord(key.toString())
    if (value === undefined) throw new NotFoundError()
    return value
  }

  override has(key: Key, options?: AbortOptions): boolean {
    options?.signal?.throwIfAborted()
    return this.log.hasRecord(key.toString())
  }

  override async delete(key: Key, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (this.log.hasRecord(key.toString())) await this.journal.commit({ blocks: [], puts: [], deletes: [key.toString()] })
  }

  override batch(): Batch {
    const puts: Array<{ key: string; value: Uint8Array }> = []
    const deletes: string[] = []
    return {
      put: (key: Key, value: Uint8Array) => {
        puts.push({ key: key.toString(), value })
      },
      delete: (key: Key) => {
        deletes.push(key.toString())
      },
      commit: async () => {
        // Deletes apply after puts within a frame, as BaseDatastore's batch orders them.
        await this.journal.commit({ blocks: [], puts: puts.splice(0), deletes: deletes.splice(0) })
      }
    }
  }

  override *_all(q: Query, options?: AbortOptions): Generator<Pair> {
    for (const key of this.keysWithPrefix(q.prefix)) {
      options?.signal?.throwIfAborted()
      const value = this.log.getRecord(key)
      if (value !== undefined) yield { key: new Key(key), value }
    }
  }

  override *_allKeys(q: KeyQuery, options?: AbortOptions): Generator<Key> {
    for (const key of this.keysWithPrefix(q.prefix)) {
      options?.signal?.throwIfAborted()
      yield new Key(key)
    }
  }

  private keysWithPrefix(prefix: string | undefined): string[] {
    const keys = this.log.recordKeys()
    return prefix === undefined ? keys : keys.filter((k) => k.startsWith(prefix))
  }
}
