import {
  closeSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  read,
  readdirSync,
  readFileSync,
  unlinkSync,
  writevSync
} from 'node:fs'
import { type FileHandle, open, rename } from 'node:fs/promises'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { CID } from 'multiformats/cid'
import type { Block } from './codec.js'

/** One atomic group of writes: blocks to add or delete, records (datastore keys) to set or delete. */
export interface Transaction {
  readonly blocks: readonly Block[]
  readonly puts: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array }>
  readonly deletes?: readonly string[]
  readonly blockDeletes?: readonly CID[]
}

/** Where a block's bytes are: a segment and a byte range (file-backed), or the bytes (memory). */
interface BlockLocation {
  /**
   * The CID's codec ({@link CIDV0} for a CIDv0): with the index key (the multihash) it is the CID,
   * decoded on first use (opening 50,000 of them costs). Kept instead of the CID's bytes: a small
   * Uint8Array of its own per block cost ~250 bytes of heap and two objects for the collector.
   */
  readonly codec: number
  cid: CID | undefined
  readonly seg: number
  readonly off: number
  readonly len: number
  readonly bytes: Uint8Array | undefined
}

interface RecordValue {
  /**
   * The record's bytes as a latin1 string (byte n is char code n): one object of the bytes' size,
   * where a Uint8Array held ~180 bytes more and kept its ArrayBuffer (often an 8 KiB pool slab)
   * alive. A store holds one head record per execution it ever ran.
   */
  readonly value: string
  readonly seg: number
}

interface Segment {
  readonly id: number
  readonly path: string
  fd: number | undefined
  size: number
  live: number
  /** Reads in flight on `fd`: it is closed only once they are done. */
  reads: number
  /** Told when `reads` drops to 0 (whoever waits to close `fd`). */
  idle: Array<() => void>
}

/** Reads `len` bytes at `off` on the thread pool; fewer when the file is shorter. */
function readAt(fd: number, off: number, len: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(len)
  return new Promise((resolve, reject) => {
    const next = (done: number): void => {
      if (done === len) {
        resolve(out)
        return
      }
      read(fd, out, done, len - done, off + done, (err, n) => {
        if (err !== null) reject(err)
        // A file cut short reads as fewer bytes: the caller's hash check names it.
        else if (n === 0) resolve(out.subarray(0, done))
        else next(done + n)
      })
    }
    next(0)
  })
}

/** What {@link SegmentLog.open} found. */
export interface SegmentLogOpenReport {
  /** Whether an index checkpoint was loaded. */
  readonly checkpointLoaded: boolean
  /** Frames scanned after the checkpoint (or from the start without one). */
  readonly framesScanned: number
  /** Damaged frames found before a segment's end whose blocks were indexed unchecked. */
  readonly damagedFrames: number
}

/** The last index checkpoint written. */
export interface CheckpointStats {
  /** When it was finished, ms since the epoch. */
  readonly at: number
  /** How long it took to write, from its position being taken, ms. */
  readonly durationMs: number
  /** Index entries and records it holds. */
  readonly entries: number
  /** Its size, bytes. */
  readonly bytes: number
}

/** What the log holds now. */
export interface SegmentLogStats {
  /** Blocks in the index (held in memory: what the store's memory grows with). */
  readonly blocks: number
  /** Records (datastore keys: heads, registry records), held in memory with their values. */
  readonly records: number
  /** Segment files. */
  readonly segments: number
  /** Bytes of every segment file. */
  readonly bytes: number
  /** Bytes appended since the last index checkpoint was taken. */
  readonly uncheckpointedBytes: number
  /** The last checkpoint written since the log was opened, if any. */
  readonly lastCheckpoint?: CheckpointStats
}

/** What {@link SegmentLog.compact} did. */
export interface CompactionReport {
  /** Segment files unlinked. */
  readonly segmentsRemoved: number
  /** Bytes of those files. */
  readonly bytesReclaimed: number
  /** Live blocks copied forward. */
  readonly blocksMoved: number
}

const FRAME_MAGIC = 0x51464c31 // 'QFL1'
const FRAME_HEADER = 16
/** Checkpoints with the counts after the entries (streamed); `QFK1` ones (counts first) are still read. */
const CHECKPOINT_MAGIC = 0x51464b32 // 'QFK2'
const CHECKPOINT_MAGIC_V1 = 0x51464b31 // 'QFK1'
const OP_BLOCK = 1
const OP_PUT = 2
const OP_DELETE = 3
const OP_BLOCK_DELETE = 4
const SEGMENT_SUFFIX = '.seg'
const CHECKPOINT_FILE = 'index.ckpt'
/** Compaction rewrites the oldest segments while fewer than this share of their bytes are live. */
const COMPACT_LIVE_RATIO = 0.5
/** Index entries (or records) a checkpoint reads in one turn of the event loop. */
const CHECKPOINT_ENTRIES_PER_TURN = 8192
/** The buffer a checkpoint is streamed out through, bytes. */
const CHECKPOINT_PART_BYTES = 1024 * 1024
/** Compaction copies live blocks forward in frames of about this many bytes. */
const COMPACT_FRAME_BYTES = 1024 * 1024
/** Blocks compaction reads at once (on the thread pool). */
const COMPACT_READS_AT_ONCE = 64

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The index key of a block: its multihash's bytes (as blockstores key blocks), as a latin1 string. */
export function blockKey(cid: CID): string {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('latin1')
}

/** The codec a {@link BlockLocation} names for a CIDv0 (a bare sha2-256 multihash). */
const CIDV0 = -1

/** {@link blockKey} and the codec from a CID's bytes, without decoding the CID. */
function keyOfCidBytes(bytes: Uint8Array): { key: string; codec: number } {
  let o = 0
  let codec = CIDV0
  // CIDv0 is a bare sha2-256 multihash; v1 starts with two varints (version, codec).
  if (!(bytes[0] === 0x12 && bytes[1] === 0x20)) {
    while (o < bytes.byteLength && ((bytes[o] as number) & 0x80) !== 0) o++
    o++
    codec = 0
    for (let shift = 0; o < bytes.byteLength; shift += 7) {
      const byte = bytes[o++] as number
      codec += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) break
    }
  }
  return { key: Buffer.from(bytes.buffer, bytes.byteOffset + o, bytes.byteLength - o).toString('latin1'), codec }
}

/** The bytes a CID of `codec` has before its multihash: none for a CIDv0, else version 1 and the codec as varints. */
const cidPrefixes = new Map<number, Buffer>()
function cidPrefix(codec: number): Buffer {
  let prefix = cidPrefixes.get(codec)
  if (prefix === undefined) {
    const bytes: number[] = []
    if (codec !== CIDV0) {
      bytes.push(1)
      for (let n = codec; ; n = Math.floor(n / 128)) {
        if (n < 0x80) {
          bytes.push(n)
          break
        }
        bytes.push((n % 128) | 0x80)
      }
    }
    prefix = Buffer.from(bytes)
    cidPrefixes.set(codec, prefix)
  }
  return prefix
}

function cidOf(key: string, loc: BlockLocation): CID {
  loc.cid ??= CID.decode(Buffer.concat([cidPrefix(loc.codec), Buffer.from(key, 'latin1')]))
  return loc.cid
}

/** Bytes as the latin1 string a {@link RecordValue} holds. */
function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

function segmentName(id: number): string {
  return `${String(id).padStart(10, '0')}${SEGMENT_SUFFIX}`
}

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Writes a file through a temp file in `dir` (then fsync, rename, directory fsync) from one
 * reused buffer: `fill` puts bytes with `room`/`bytes`, and each full buffer is checksummed and
 * written before the next is filled, so the file is never held in memory whole.
 */
class CheckpointFileWriter {
  readonly buffer = Buffer.allocUnsafe(CHECKPOINT_PART_BYTES)
  /** Bytes of {@link buffer} filled. */
  at = 0
  /** The running CRC-32 of every byte written or filled. */
  private sum = 0
  /** Bytes written to the file. */
  written = 0

  private constructor(private readonly file: FileHandle) {}

  static async open(path: string): Promise<CheckpointFileWriter> {
    return new CheckpointFileWriter(await open(path, 'w'))
  }

  /** Whether `need` more bytes fit; when not, {@link flush} first. */
  fits(need: number): boolean {
    return this.at + need <= this.buffer.byteLength
  }

  /** Writes out what is filled. */
  async flush(): Promise<void> {
    if (this.at === 0) return
    const filled = this.buffer.subarray(0, this.at)
    this.sum = crc32(filled, this.sum)
    let written = 0
    while (written < filled.byteLength) written += (await this.file.write(filled, written, filled.byteLength - written)).bytesWritten
    this.written += written
    this.at = 0
  }

  /** Puts `bytes`, writing them straight out when they do not fit the buffer. */
  async bytes(bytes: Uint8Array): Promise<void> {
    if (!this.fits(bytes.byteLength)) await this.flush()
    if (this.fits(bytes.byteLength)) {
      this.buffer.set(bytes, this.at)
      this.at += bytes.byteLength
      return
    }
    this.sum = crc32(bytes, this.sum)
    let written = 0
    while (written < bytes.byteLength) written += (await this.file.write(bytes, written, bytes.byteLength - written)).bytesWritten
    this.written += written
  }

  /** Flushes, appends the CRC-32 of everything, and makes the file durable. */
  async finish(): Promise<void> {
    await this.flush()
    const trailer = Buffer.allocUnsafe(4)
    trailer.writeUInt32BE(this.sum, 0)
    await this.file.write(trailer)
    this.written += trailer.byteLength
    await this.file.sync()
  }

  close(): Promise<void> {
    return this.file.close()
  }
}

/** Encoded ops of one transaction, with where each block's bytes land inside the frame. */
interface EncodedFrame {
  readonly bytes: Buffer
  /** Offsets of the transaction's block values, relative to the frame start, in `blocks` order. */
  readonly blockOffsets: number[]
}

function encodeFrame(tx: Transaction): EncodedFrame {
  const putKeys = tx.puts.map((p) => encoder.encode(p.key))
  const deleteKeys = (tx.deletes ?? []).map((k) => encoder.encode(k))
  const blockDeletes = tx.blockDeletes ?? []
  let count = 0
  let length = 4
  for (const block of tx.blocks) {
    length += 9 + block.cid.bytes.byteLength + block.bytes.byteLength
    count++
  }
  for (let i = 0; i < tx.puts.length; i++) {
    length += 9 + (putKeys[i] as Uint8Array).byteLength + (tx.puts[i]?.value.byteLength ?? 0)
    count++
  }
  for (const key of deleteKeys) {
    length += 9 + key.byteLength
    count++
  }
  for (const cid of blockDeletes) {
    length += 9 + cid.bytes.byteLength
    count++
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER + length)
  let offset = FRAME_HEADER
  frame.writeUInt32BE(count, offset)
  offset += 4
  const blockOffsets: number[] = []
  const op = (type: number, key: Uint8Array, value: Uint8Array | undefined): number => {
    frame[offset] = type
    frame.writeUInt32BE(key.byteLength, offset + 1)
    frame.set(key, offset + 5)
    offset += 5 + key.byteLength
    const valueLength = value?.byteLength ?? 0
    frame.writeUInt32BE(valueLength, offset)
    const at = offset + 4
    if (value !== undefined) frame.set(value, at)
    offset = at + valueLength
    return at
  }
  for (const block of tx.blocks) blockOffsets.push(op(OP_BLOCK, block.cid.bytes, block.bytes))
  for (let i = 0; i < tx.puts.length; i++) op(OP_PUT, putKeys[i] as Uint8Array, tx.puts[i]?.value)
  for (const key of deleteKeys) op(OP_DELETE, key, undefined)
  for (const cid of blockDeletes) op(OP_BLOCK_DELETE, cid.bytes, undefined)
  frame.writeUInt32BE(FRAME_MAGIC, 0)
  frame.writeUInt32BE(length, 4)
  frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER)), 8)
  frame.writeUInt32BE(crc32(frame.subarray(0, 12)), 12)
  return { bytes: frame, blockOffsets }
}

interface ParsedOp {
  readonly type: number
  readonly key: Uint8Array
  /** Offset of the value inside the parsed buffer. */
  readonly valueOffset: number
  readonly valueLength: number
}

/** Parses a frame body's ops; `undefined` when its structure does not hold together. */
function parseOps(buf: Buffer, start: number, end: number): ParsedOp[] | undefined {
  if (start + 4 > end) return undefined
  const count = buf.readUInt32BE(start)
  let offset = start + 4
  const ops: ParsedOp[] = []
  for (let i = 0; i < count; i++) {
    if (offset + 5 > end) return undefined
    const type = buf[offset] as number
    const keyLength = buf.readUInt32BE(offset + 1)
    const keyStart = offset + 5
    offset = keyStart + keyLength
    if (offset + 4 > end) return undefined
    const valueLength = buf.readUInt32BE(offset)
    const valueOffset = offset + 4
    offset = valueOffset + valueLength
    if (offset > end || type < OP_BLOCK || type > OP_BLOCK_DELETE) return undefined
    ops.push({ type, key: buf.subarray(keyStart, keyStart + keyLength), valueOffset, valueLength })
  }
  return offset === end ? ops : undefined
}

/** A frame header that holds together: magic, and a checksum over magic, length and body checksum. */
function headerAt(buf: Buffer, offset: number): { length: number; sum: number } | undefined {
  if (offset + FRAME_HEADER > buf.byteLength) return undefined
  if (buf.readUInt32BE(offset) !== FRAME_MAGIC) return undefined
  if (crc32(buf.subarray(offset, offset + 12)) !== buf.readUInt32BE(offset + 12)) return undefined
  return { length: buf.readUInt32BE(offset + 4), sum: buf.readUInt32BE(offset + 8) }
}

/**
 * The persistence of a state store: an append-only log of checksummed frames in segment files
 * (`<dir>/<id>.seg`), one frame per transaction, with the block index (CID → segment, offset,
 * length) and the records (datastore keys: heads, registry heads, Helia's keys) held in memory.
 * On open it loads the latest index checkpoint (`index.ckpt`) and scans only the frames written
 * after it; without one it scans every segment. A torn frame at a segment's end is ignored.
 *
 * Without a directory (memory mode) the same index holds the bytes themselves.
 */
export class SegmentLog {
  readonly dir: string | undefined
  private readonly segmentBytes: number
  private readonly index = new Map<string, BlockLocation>()
  private readonly records = new Map<string, RecordValue>()
  private readonly segments = new Map<number, Segment>()
  private active: Segment | undefined
  private bytesSinceCheckpoint = 0

  constructor(dir: string | undefined, segmentBytes: number) {
    this.dir = dir
    this.segmentBytes = segmentBytes
  }

  /** The latest checkpoint write (settled when none is in flight). */
  private checkpointWrite: Promise<void> = Promise.resolve()

  /** Bytes appended since the last index checkpoint. */
  get uncheckpointedBytes(): number {
    return this.bytesSinceCheckpoint
  }

  private lastCheckpoint: CheckpointStats | undefined

  /** Counts of what the log holds, and its last checkpoint. */
  stats(): SegmentLogStats {
    let bytes = 0
    for (const segment of this.segments.values()) bytes += segment.size
    return {
      blocks: this.index.size,
      records: this.records.size,
      segments: this.segments.size,
      bytes,
      uncheckpointedBytes: this.bytesSinceCheckpoint,
      ...(this.lastCheckpoint === undefined ? {} : { lastCheckpoint: this.lastCheckpoint })
    }
  }

  /** Loads the checkpoint, scans what follows it, and opens a segment for appends. */
  open(): SegmentLogOpenReport {
    const dir = this.dir
    if (dir === undefined) return { checkpointLoaded: false, framesScanned: 0, damagedFrames: 0 }
    mkdirSync(dir, { recursive: true })
    const ids = readdirSync(dir)
      .filter((name) => name.endsWith(SEGMENT_SUFFIX) && /^\d+$/.test(name.slice(0, -SEGMENT_SUFFIX.length)))
      .map((name) => Number(name.slice(0, -SEGMENT_SUFFIX.length)))
      .sort((a, b) => a - b)
    for (const id of ids) {
      const path = join(dir, segmentName(id))
      const fd = openSync(path, 'r')
      const size = fstatSync(fd).size
      closeSync(fd)
      this.segments.set(id, { id, path, fd: undefined, size, live: 0, reads: 0, idle: [] })
    }
    const position = this.loadCheckpoint()
    let framesScanned = 0
    let damagedFrames = 0
    let tornTail = false
    for (const id of ids) {
      if (position !== undefined && id < position.seg) continue
      const from = position !== undefined && id === position.seg ? position.off : 0
      const scan = this.scanSegment(id, from)
      framesScanned += scan.frames
      damagedFrames += scan.damaged
      tornTail = scan.end < (this.segments.get(id)?.size ?? 0)
    }
    const last = ids.length === 0 ? undefined : this.segments.get(ids[ids.length - 1] as number)
    // Never append after a torn tail: a fresh segment keeps the damaged bytes out of new frames.
    if (last !== undefined && !tornTail && last.size < this.segmentBytes) {
      last.fd = openSync(last.path, 'a+')
      this.active = last
    } else {
      this.roll()
    }
    return { checkpointLoaded: position !== undefined, framesScanned, damagedFrames }
  }

  /** Encodes transactions as frames and appends them (buffered, not yet durable). */
  write(txs: readonly Transaction[]): Array<{ tx: Transaction; seg: number; offsets: number[] }> {
    if (this.dir === undefined) return txs.map((tx) => ({ tx, seg: 0, offsets: [] }))
    if ((this.active?.size ?? 0) >= this.segmentBytes) this.roll()
    const active = this.active as Segment
    const frames = txs.map(encodeFrame)
    let total = 0
    for (const frame of frames) total += frame.bytes.byteLength
    // One gathered write for the whole batch, without copying the frames into one buffer first.
    let buffers = frames.map((f) => f.bytes)
    let left = total
    while (left > 0) {
      let written = writevSync(active.fd as number, buffers)
      left -= written
      if (left === 0) break
      // A short write: drop what went out and go on with the rest.
      const rest: Buffer[] = []
      for (const b of buffers) {
        if (written >= b.byteLength) written -= b.byteLength
        else {
          rest.push(written > 0 ? b.subarray(written) : b)
          written = 0
        }
      }
      buffers = rest
    }
    const located: Array<{ tx: Transaction; seg: number; offsets: number[] }> = []
    let at = active.size
    for (let i = 0; i < txs.length; i++) {
      const frame = frames[i] as EncodedFrame
      located.push({ tx: txs[i] as Transaction, seg: active.id, offsets: frame.blockOffsets.map((o) => at + o) })
      at += frame.bytes.byteLength
    }
    active.size += total
    this.bytesSinceCheckpoint += total
    return located
  }

  /** fdatasyncs the active segment: everything written to it is durable once this resolves. */
  sync(): Promise<void> {
    const fd = this.active?.fd
    if (fd === undefined) return Promise.resolve()
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err === null ? resolve() : reject(err))))
  }

  /** Makes written (or, in memory, given) transactions visible to readers; later writes win. */
  apply(located: ReadonlyArray<{ tx: Transaction; seg: number; offsets: number[] }>): void {
    const memory = this.dir === undefined
    for (const { tx, seg, offsets } of located) {
      for (let i = 0; i < tx.blocks.length; i++) {
        const block = tx.blocks[i] as Block
        this.setBlock(blockKey(block.cid), {
          // Only the codec is kept: 50,000 retained CID objects are measurable GC work.
          codec: block.cid.version === 0 ? CIDV0 : block.cid.code,
          cid: undefined,
          seg,
          off: offsets[i] ?? 0,
          len: block.bytes.byteLength,
          bytes: memory ? block.bytes : undefined
        })
      }
      for (const put of tx.puts) this.records.set(put.key, { value: latin1(put.value), seg })
      for (const key of tx.deletes ?? []) this.records.delete(key)
      for (const cid of tx.blockDeletes ?? []) this.deleteBlock(blockKey(cid))
    }
  }

  hasBlock(cid: CID): boolean {
    return this.index.has(blockKey(cid))
  }

  /**
   * Reads a block's bytes with a positional read on the thread pool (the event loop never waits
   * for the disk), or `undefined` when the log does not hold it.
   */
  async readBlock(cid: CID): Promise<Uint8Array | undefined> {
    const loc = this.index.get(blockKey(cid))
    if (loc === undefined) return undefined
    if (loc.bytes !== undefined) return loc.bytes
    const segment = this.segments.get(loc.seg)
    if (segment === undefined) return undefined
    // A sealed segment's descriptor is opened on its first read after a start, once.
    segment.fd ??= openSync(segment.path, 'r')
    segment.reads++
    try {
      return await readAt(segment.fd, loc.off, loc.len)
    } finally {
      if (--segment.reads === 0) for (const told of segment.idle.splice(0)) told()
    }
  }

  /** Closes a segment's descriptor once the reads in flight on it are done. */
  private async closeSegment(segment: Segment): Promise<void> {
    if (segment.reads > 0) await new Promise<void>((resolve) => segment.idle.push(resolve))
    if (segment.fd !== undefined) closeSync(segment.fd)
    segment.fd = undefined
  }

  /** Every block the log holds. */
  *blocks(): Generator<CID> {
    for (const [key, loc] of this.index) yield cidOf(key, loc)
  }

  /** A record's bytes (a copy of its own), or `undefined`. */
  getRecord(key: string): Uint8Array | undefined {
    const record = this.records.get(key)
    if (record === undefined) return undefined
    const bytes = Buffer.from(record.value, 'latin1')
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  hasRecord(key: string): boolean {
    return this.records.has(key)
  }

  /** Record keys, sorted. */
  recordKeys(): string[] {
    return [...this.records.keys()].sort()
  }

  /**
   * Writes the index checkpoint (blocks, records, and the log position they cover) through a
   * temp file, fsync and rename, so an open scans only what follows it. The image is taken at once
   * (the in-memory index as it is now); the file is written off the event loop, so commits go on
   * meanwhile (they land after the position the image covers, and an open scans them). A large
   * store's checkpoint took the event loop 25-170 ms when it was written synchronously. Checkpoints
   * land in the order they were taken: each write waits for the one before it.
   */
  checkpoint(): Promise<void> {
    const dir = this.dir
    if (dir === undefined || this.active === undefined) return this.checkpointWrite
    // The position is taken now, when every frame before it is applied to the index (the journal
    // applies each batch before it checkpoints). The index is then read a slice at a time between
    // turns of the event loop, while commits go on: whatever they change lies after the position,
    // so an open that loads the checkpoint scans those frames and applies them again.
    const position = { seg: this.active.id, off: this.active.size }
    this.bytesSinceCheckpoint = 0
    const previous = this.checkpointWrite
    const write = previous.then(() => this.writeCheckpoint(dir, position))
    // The next write waits for this one whether it succeeded or not; the caller sees its outcome.
    this.checkpointWrite = write.catch(() => undefined)
    return write
  }

  /**
   * Writes the checkpoint file (`QFK2`): the position it covers, the index and the records as they
   * are while they are read, their counts, and a CRC-32 of it all. A large store's index is a
   * million entries: building its image in one go held the event loop ~0.7 s at 1,000,000 entries
   * (`pnpm bench checkpoint`), and holding it whole (~60 MB) set off full garbage collections. So
   * it is read {@link CHECKPOINT_ENTRIES_PER_TURN} entries a turn and streamed out through one
   * 1 MiB buffer. A Map iterator goes on across turns: entries deleted meanwhile are skipped,
   * entries added are met (one deleted and added again may be met twice; the later one wins on load).
   */
  private async writeCheckpoint(dir: string, position: { readonly seg: number; readonly off: number }): Promise<void> {
    const started = performance.now()
    const tmp = join(dir, `${CHECKPOINT_FILE}.tmp`)
    let entries = 0
    const out = await CheckpointFileWriter.open(tmp)
    try {
      const b = out.buffer
      b.writeUInt32BE(CHECKPOINT_MAGIC, 0)
      b.writeUInt32BE(position.seg, 4)
      b.writeUInt32BE(position.off, 8)
      out.at = 12
      let blocks = 0
      for (const [key, loc] of this.index) {
        const prefix = cidPrefix(loc.codec)
        const cidLength = prefix.byteLength + key.length
        if (!out.fits(14 + cidLength)) await out.flush()
        let o = out.at
        b.writeUInt16BE(cidLength, o)
        b.set(prefix, o + 2)
        b.write(key, o + 2 + prefix.byteLength, 'latin1')
        o += 2 + cidLength
        b.writeUInt32BE(loc.seg, o)
        b.writeUInt32BE(loc.off, o + 4)
        b.writeUInt32BE(loc.len, o + 8)
        out.at = o + 12
        if (++blocks % CHECKPOINT_ENTRIES_PER_TURN === 0) await nextTurn()
      }
      let records = 0
      for (const [key, { value, seg }] of this.records) {
        // A key's UTF-8 is at most 3 bytes per UTF-16 unit: reserve that, encode in place.
        const need = 12 + key.length * 3 + value.length
        if (!out.fits(need)) await out.flush()
        if (out.fits(need)) {
          let o = out.at
          const { written } = encoder.encodeInto(key, b.subarray(o + 4, o + 4 + key.length * 3))
          b.writeUInt32BE(written, o)
          o += 4 + written
          b.writeUInt32BE(seg, o)
          b.writeUInt32BE(value.length, o + 4)
          b.write(value, o + 8, 'latin1')
          out.at = o + 8 + value.length
        } else {
          // Larger than the buffer: written piece by piece.
          const keyBytes = encoder.encode(key)
          const head = Buffer.allocUnsafe(4)
          head.writeUInt32BE(keyBytes.byteLength, 0)
          const mid = Buffer.allocUnsafe(8)
          mid.writeUInt32BE(seg, 0)
          mid.writeUInt32BE(value.length, 4)
          for (const piece of [head, keyBytes, mid, Buffer.from(value, 'latin1')]) await out.bytes(piece)
        }
        if (++records % CHECKPOINT_ENTRIES_PER_TURN === 0) await nextTurn()
      }
      if (!out.fits(8)) await out.flush()
      b.writeUInt32BE(blocks, out.at)
      b.writeUInt32BE(records, out.at + 4)
      out.at += 8
      await out.finish()
      entries = blocks + records
    } finally {
      await out.close()
    }
    await rename(tmp, join(dir, CHECKPOINT_FILE))
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
    this.lastCheckpoint = { at: Date.now(), durationMs: performance.now() - started, entries, bytes: out.written }
  }

  /**
   * Rewrites the oldest sealed segments while less than half of their bytes are live: their live
   * blocks and records are appended anew, made durable, covered by a new checkpoint, and the old
   * files unlinked. Only a prefix of the log is ever removed, so no tombstone in it can be needed
   * to hide an older block.
   */
  async compact(): Promise<CompactionReport> {
    const none = { segmentsRemoved: 0, bytesReclaimed: 0, blocksMoved: 0 }
    if (this.dir === undefined || this.active === undefined) return none
    this.recountLive()
    // Seal the active segment when most of it is dead, so that it can be reclaimed now; a mostly
    // live one stays active (sealing on every gc would leave a trail of small segments).
    if (this.active.size > 0 && this.active.live / this.active.size < COMPACT_LIVE_RATIO) this.roll()
    const sealed = [...this.segments.values()].filter((s) => s.id !== this.active?.id).sort((a, b) => a.id - b.id)
    let size = 0
    let live = 0
    let count = 0
    for (let i = 0; i < sealed.length; i++) {
      const s = sealed[i] as Segment
      size += s.size
      live += s.live
      if (size > 0 && live / size < COMPACT_LIVE_RATIO) count = i + 1
    }
    if (count === 0) return none
    const victims = new Set(sealed.slice(0, count).map((s) => s.id))
    const txs: Transaction[] = []
    let blocks: Block[] = []
    let frameBytes = 0
    let blocksMoved = 0
    // The journal holds commits back meanwhile (compaction is exclusive): the index stays as read.
    const moving: CID[] = []
    for (const [key, loc] of this.index) if (victims.has(loc.seg)) moving.push(cidOf(key, loc))
    for (let at = 0; at < moving.length; at += COMPACT_READS_AT_ONCE) {
      const cids = moving.slice(at, at + COMPACT_READS_AT_ONCE)
      const read = await Promise.all(cids.map((cid) => this.readBlock(cid)))
      for (let i = 0; i < cids.length; i++) {
        const bytes = read[i]
        if (bytes === undefined) continue
        blocks.push({ cid: cids[i] as CID, bytes })
        blocksMoved++
        frameBytes += bytes.byteLength
        if (frameBytes >= COMPACT_FRAME_BYTES) {
          txs.push({ blocks, puts: [] })
          blocks = []
          frameBytes = 0
        }
      }
    }
    const puts: Array<{ key: string; value: Uint8Array }> = []
    for (const [key, { value, seg }] of this.records) if (victims.has(seg)) puts.push({ key, value: Buffer.from(value, 'latin1') })
    txs.push({ blocks, puts })
    this.apply(this.write(txs))
    await this.sync()
    await this.checkpoint()
    let bytesReclaimed = 0
    for (const id of victims) {
      const segment = this.segments.get(id) as Segment
      await this.closeSegment(segment)
      unlinkSync(segment.path)
      bytesReclaimed += segment.size
      this.segments.delete(id)
    }
    fsyncDir(this.dir)
    return { segmentsRemoved: victims.size, bytesReclaimed, blocksMoved }
  }

  /** Closes every segment file, once the reads in flight are done. */
  async close(): Promise<void> {
    this.active = undefined
    await Promise.all([...this.segments.values()].map((segment) => this.closeSegment(segment)))
  }

  private setBlock(key: string, loc: BlockLocation): void {
    this.index.set(key, loc)
  }

  private deleteBlock(key: string): void {
    this.index.delete(key)
  }

  private recountLive(): void {
    for (const segment of this.segments.values()) segment.live = 0
    for (const loc of this.index.values()) {
      const segment = this.segments.get(loc.seg)
      if (segment !== undefined) segment.live += loc.len
    }
    for (const { value, seg } of this.records.values()) {
      const segment = this.segments.get(seg)
      if (segment !== undefined) segment.live += value.length
    }
  }

  /** Starts a new segment file (and makes its directory entry durable). */
  private roll(): void {
    const dir = this.dir as string
    let id = 1
    for (const known of this.segments.keys()) id = Math.max(id, known + 1)
    const path = join(dir, segmentName(id))
    const fd = openSync(path, 'wx+')
    fsyncDir(dir)
    // The sealed segment keeps its descriptor: it serves reads until compaction removes it.
    const segment: Segment = { id, path, fd, size: 0, live: 0, reads: 0, idle: [] }
    this.segments.set(id, segment)
    this.active = segment
  }

  /** Indexes the frames of a segment from `from`; returns where the last whole frame ends. */
  private scanSegment(id: number, from: number): { frames: number; damaged: number; end: number } {
    const segment = this.segments.get(id) as Segment
    const buf = readFileSync(segment.path)
    segment.size = buf.byteLength
    let offset = from
    let frames = 0
    let damaged = 0
    while (true) {
      const header = headerAt(buf, offset)
      if (header === undefined) break
      const start = offset + FRAME_HEADER
      const end = start + header.length
      if (end > buf.byteLength) break
      const intact = crc32(buf.subarray(start, end)) === header.sum
      if (!intact) {
        // Damage before the end (a whole frame follows, or more bytes than a torn write leaves)
        // is not a torn tail: index the frame's blocks unchecked (reads check every block's hash,
        // so a damaged one is named there) and skip its records, which nothing else checks.
        if (end === buf.byteLength || headerAt(buf, end) === undefined) break
        damaged++
      }
      const ops = parseOps(buf, start, end)
      if (ops === undefined) {
        if (intact) break
        offset = end
        continue
      }
      for (const op of ops) {
        if (op.type === OP_BLOCK) {
          if (!intact) {
            try {
              CID.decode(op.key)
            } catch {
              continue
            }
          }
          // The key and the value are strings of their own: the segment's buffer is not kept alive.
          const { key, codec } = keyOfCidBytes(op.key)
          this.setBlock(key, { codec, cid: undefined, seg: id, off: op.valueOffset, len: op.valueLength, bytes: undefined })
        } else if (op.type === OP_BLOCK_DELETE) {
          this.deleteBlock(keyOfCidBytes(op.key).key)
        } else if (intact && op.type === OP_PUT) {
          this.records.set(decoder.decode(op.key), { value: buf.toString('latin1', op.valueOffset, op.valueOffset + op.valueLength), seg: id })
        } else if (intact && op.type === OP_DELETE) {
          this.records.delete(decoder.decode(op.key))
        }
      }
      frames++
      offset = end
    }
    if (from < offset) this.bytesSinceCheckpoint += offset - from
    return { frames, damaged, end: offset }
  }

  /** Loads `index.ckpt` if it is whole and its segments exist; returns the position it covers. */
  private loadCheckpoint(): { seg: number; off: number } | undefined {
    const dir = this.dir as string
    let buf: Buffer
    try {
      buf = readFileSync(join(dir, CHECKPOINT_FILE))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    if (buf.byteLength < 24) return undefined
    const magic = buf.readUInt32BE(0)
    if (magic !== CHECKPOINT_MAGIC && magic !== CHECKPOINT_MAGIC_V1) return undefined
    // QFK2: magic, position, entries, then the counts; QFK1 (older nodes): the counts after the position.
    const body = buf.subarray(0, buf.byteLength - 4)
    if (crc32(body) !== buf.readUInt32BE(buf.byteLength - 4)) return undefined
    const seg = body.readUInt32BE(4)
    const off = body.readUInt32BE(8)
    const v1 = magic === CHECKPOINT_MAGIC_V1
    const end = v1 ? body.byteLength : body.byteLength - 8
    const blockCount = body.readUInt32BE(v1 ? 12 : end)
    const recordCount = body.readUInt32BE(v1 ? 16 : end + 4)
    const index = new Map<string, BlockLocation>()
    const records = new Map<string, RecordValue>()
    let o = v1 ? 20 : 12
    try {
      for (let i = 0; i < blockCount; i++) {
        const cidLength = body.readUInt16BE(o)
        const { key, codec } = keyOfCidBytes(body.subarray(o + 2, o + 2 + cidLength))
        o += 2 + cidLength
        const loc = { codec, cid: undefined, seg: body.readUInt32BE(o), off: body.readUInt32BE(o + 4), len: body.readUInt32BE(o + 8), bytes: undefined }
        o += 12
        index.set(key, loc)
      }
      for (let i = 0; i < recordCount; i++) {
        const keyLength = body.readUInt32BE(o)
        const key = decoder.decode(body.subarray(o + 4, o + 4 + keyLength))
        o += 4 + keyLength
        const recordSeg = body.readUInt32BE(o)
        const valueLength = body.readUInt32BE(o + 4)
        records.set(key, { value: body.toString('latin1', o + 8, o + 8 + valueLength), seg: recordSeg })
        o += 8 + valueLength
      }
    } catch {
      return undefined
    }
    if (o !== end) return undefined
    // A checkpoint naming a segment that is gone (removed by hand) cannot be trusted: rescan all.
    const position = this.segments.get(seg)
    if (position === undefined || position.size < off) return undefined
    for (const loc of index.values()) if (!this.segments.has(loc.seg)) return undefined
    for (const [key, loc] of index) this.index.set(key, loc)
    for (const [key, value] of records) this.records.set(key, value)
    return { seg, off }
  }
}
