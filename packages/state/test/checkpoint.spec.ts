import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { crc32 } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { type Block, encodeBlock } from '../src/codec.js'
import { SegmentLog } from '../src/segment-log.js'
import { tempDirs } from './fixtures/temp-dir.js'

const temp = tempDirs()
const logs: SegmentLog[] = []

afterEach(async () => {
  for (const log of logs.splice(0)) await log.close()
  await temp.cleanup()
})

function openLog(dir: string): { log: SegmentLog; report: ReturnType<SegmentLog['open']> } {
  const log = new SegmentLog(dir, 64 * 1024 * 1024)
  const report = log.open()
  logs.push(log)
  return { log, report }
}

const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8'))

/** What a log holds: every block's bytes by CID, and every record's value. */
async function contents(log: SegmentLog, cids: Iterable<Block['cid']>): Promise<{ blocks: Record<string, string | undefined>; records: Record<string, string | undefined> }> {
  const blocks: Record<string, string | undefined> = {}
  for (const cid of cids) blocks[cid.toString()] = text(await log.readBlock(cid))
  const records: Record<string, string | undefined> = {}
  for (const key of log.recordKeys()) records[key] = text(log.getRecord(key))
  return { blocks, records }
}

describe('index checkpoints', () => {
  it('one taken while commits go on covers them all, with the frames after its position scanned on open', async () => {
    const dir = await temp.make()
    const { log } = openLog(dir)
    const made: Block[] = []
    // 40,000 blocks: the checkpoint reads them over several turns of the event loop.
    for (let i = 0; i < 40_000; i += 1000) {
      const blocks = Array.from({ length: 1000 }, (_, j) => encodeBlock({ n: i + j }))
      made.push(...blocks)
      log.apply(log.write([{ blocks, puts: [{ key: `/batch/${i}`, value: Buffer.from(`v${i}`) }] }]))
    }
    await log.sync()

    let settled = false
    const checkpointing = log.checkpoint().then(() => {
      settled = true
    })
    // While it runs: new blocks and records, blocks and records deleted, a record replaced.
    let during = 0
    while (!settled) {
      const fresh = encodeBlock({ during })
      made.push(fresh)
      const gone = made[during] as Block
      log.apply(
        log.write([
          {
            blocks: [fresh],
            puts: [
              { key: `/during/${during}`, value: Buffer.from(`d${during}`) },
              { key: '/batch/0', value: Buffer.from(`replaced ${during}`) }
            ],
            deletes: [`/batch/${(during + 1) * 1000}`],
            blockDeletes: [gone.cid]
          }
        ])
      )
      during++
      await nextTurn()
    }
    await checkpointing
    expect(during).toBeGreaterThan(2)
    log.apply(log.write([{ blocks: [encodeBlock({ after: true })], puts: [] }]))
    made.push(encodeBlock({ after: true }))
    await log.sync()
    const expected = await contents(log, made.map((b) => b.cid))
    await log.close()

    const { log: reopened, report } = openLog(dir)
    expect(report).toEqual({ checkpointLoaded: true, framesScanned: during + 1, damagedFrames: 0 })
    expect(await contents(reopened, made.map((b) => b.cid))).toEqual(expected)
    expect(expected.blocks[(made[0] as Block).cid.toString()]).toBeUndefined()
    expect(expected.records['/batch/0']).toBe(`replaced ${during - 1}`)
  })

  it('a compaction during a checkpoint leaves a log that reopens whole (the later checkpoint wins, victims unlinked after it)', async () => {
    const dir = await temp.make()
    // Small segments, so that the early ones fill up and most of their blocks can be deleted.
    const log = new SegmentLog(dir, 256 * 1024)
    log.open()
    logs.push(log)
    const kept: Block[] = []
    const dropped: Block[] = []
    for (let i = 0; i < 30_000; i += 1000) {
      const blocks = Array.from({ length: 1000 }, (_, j) => encodeBlock({ c: i + j }))
      for (const [j, block] of blocks.entries()) (j % 10 === 0 ? kept : dropped).push(block)
      log.apply(log.write([{ blocks, puts: [{ key: `/c/${i}`, value: Buffer.from(`r${i}`) }] }]))
    }
    log.apply(log.write([{ blocks: [], puts: [], blockDeletes: dropped.map((b) => b.cid) }]))
    await log.sync()
    const segmentsBefore = log.stats().segments

    const checkpointing = log.checkpoint()
    const report = await log.compact()
    await checkpointing
    expect(report.segmentsRemoved).toBeGreaterThan(0)
    expect(log.stats().segments).toBeLessThan(segmentsBefore)
    const expected = await contents(log, [...kept, ...dropped].map((b) => b.cid))
    await log.close()

    const reopened = new SegmentLog(dir, 256 * 1024)
    const opened = reopened.open()
    logs.push(reopened)
    expect(opened.checkpointLoaded).toBe(true)
    expect(await contents(reopened, [...kept, ...dropped].map((b) => b.cid))).toEqual(expected)
    for (const block of kept) expect(text(await reopened.readBlock(block.cid))).toBe(text(block.bytes))
    for (const block of dropped.slice(0, 50)) expect(await reopened.readBlock(block.cid)).toBeUndefined()
  })

  it('reports what the log holds and its last checkpoint', async () => {
    const dir = await temp.make()
    const { log } = openLog(dir)
    expect(log.stats()).toEqual({ blocks: 0, records: 0, segments: 1, bytes: 0, uncheckpointedBytes: 0 })
    const blocks = Array.from({ length: 10 }, (_, i) => encodeBlock({ s: i }))
    log.apply(log.write([{ blocks, puts: [{ key: '/a', value: Buffer.from('1') }, { key: '/b', value: Buffer.from('2') }] }]))
    await log.sync()
    const written = log.stats()
    expect(written).toMatchObject({ blocks: 10, records: 2, segments: 1 })
    expect(written.bytes).toBeGreaterThan(0)
    expect(written.uncheckpointedBytes).toBe(written.bytes)
    const before = Date.now()
    await log.checkpoint()
    const after = log.stats()
    expect(after.uncheckpointedBytes).toBe(0)
    expect(after.lastCheckpoint).toEqual({ at: expect.any(Number), durationMs: expect.any(Number), entries: 12, bytes: (await stat(join(dir, 'index.ckpt'))).size })
    expect(after.lastCheckpoint?.at).toBeGreaterThanOrEqual(before)
  })

  it('keeps records larger than its buffer, and keys beyond ASCII, whole', async () => {
    const dir = await temp.make()
    const { log } = openLog(dir)
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'x')
    const puts = [
      { key: '/big', value: big },
      { key: '/ünïcödé/键/🔑', value: Buffer.from('wide') },
      { key: `/${'é'.repeat(600_000)}`, value: Buffer.from('long key') }
    ]
    log.apply(log.write([{ blocks: [], puts }]))
    await log.sync()
    await log.checkpoint()
    await log.close()
    const { log: reopened, report } = openLog(dir)
    expect(report.checkpointLoaded).toBe(true)
    expect(report.framesScanned).toBe(0)
    expect(Buffer.from(reopened.getRecord('/big') as Uint8Array).equals(big)).toBe(true)
    expect(text(reopened.getRecord('/ünïcödé/键/🔑'))).toBe('wide')
    expect(text(reopened.getRecord(`/${'é'.repeat(600_000)}`))).toBe('long key')
    expect(reopened.recordKeys()).toHaveLength(3)
  })

  it('reads a checkpoint an older node wrote (QFK1: the counts before the entries)', async () => {
    const dir = await temp.make()
    const { log } = openLog(dir)
    const blocks = Array.from({ length: 50 }, (_, i) => encodeBlock({ old: i }))
    log.apply(log.write([{ blocks, puts: [{ key: '/k', value: Buffer.from('v') }] }]))
    await log.sync()
    await log.checkpoint()
    await log.close()

    // Rewrite QFK2 (magic, position, entries, counts, crc) as QFK1 (magic, position, counts, entries, crc).
    const path = join(dir, 'index.ckpt')
    const v2 = await readFile(path)
    expect(v2.subarray(0, 4).toString('latin1')).toBe('QFK2')
    const counts = v2.subarray(v2.byteLength - 12, v2.byteLength - 4)
    const body = Buffer.concat([Buffer.from('QFK1', 'latin1'), v2.subarray(4, 12), counts, v2.subarray(12, v2.byteLength - 12)])
    const sum = Buffer.alloc(4)
    sum.writeUInt32BE(crc32(body), 0)
    await writeFile(path, Buffer.concat([body, sum]))

    const { log: reopened, report } = openLog(dir)
    expect(report).toEqual({ checkpointLoaded: true, framesScanned: 0, damagedFrames: 0 })
    for (const block of blocks) expect(text(await reopened.readBlock(block.cid))).toBe(text(block.bytes))
    expect(text(reopened.getRecord('/k'))).toBe('v')

    // A damaged one is not trusted: the open scans every segment instead.
    const damaged = await readFile(path)
    damaged[20] = (damaged[20] as number) ^ 0xff
    await writeFile(path, damaged)
    await reopened.close()
    const { log: rescanned, report: rescan } = openLog(dir)
    expect(rescan).toEqual({ checkpointLoaded: false, framesScanned: 1, damagedFrames: 0 })
    for (const block of blocks) expect(text(await rescanned.readBlock(block.cid))).toBe(text(block.bytes))
  })
})

describe('block reads', () => {
  it('read on the thread pool: reads in flight finish before a compaction or a close closes their segment', async () => {
    const dir = await temp.make()
    const log = new SegmentLog(dir, 64 * 1024)
    log.open()
    logs.push(log)
    const kept: Block[] = []
    const dropped: Block[] = []
    for (let i = 0; i < 3_000; i += 100) {
      const blocks = Array.from({ length: 100 }, (_, j) => encodeBlock({ n: i + j, pad: 'x'.repeat(64) }))
      for (const [j, block] of blocks.entries()) (j % 10 === 0 ? kept : dropped).push(block)
      log.apply(log.write([{ blocks, puts: [] }]))
    }
    log.apply(log.write([{ blocks: [], puts: [], blockDeletes: dropped.map((b) => b.cid) }]))
    await log.sync()
    // Reads of blocks in the segments the compaction removes, issued before it starts.
    const early = kept.map((block) => log.readBlock(block.cid))
    const report = await log.compact()
    expect(report.segmentsRemoved).toBeGreaterThan(0)
    expect((await Promise.all(early)).map(text)).toEqual(kept.map((b) => text(b.bytes)))
    // Moved forward: still readable from where the compaction wrote them.
    expect((await Promise.all(kept.map((b) => log.readBlock(b.cid)))).map(text)).toEqual(kept.map((b) => text(b.bytes)))
    const late = kept.map((block) => log.readBlock(block.cid))
    await log.close()
    expect((await Promise.all(late)).map(text)).toEqual(kept.map((b) => text(b.bytes)))
  })
})
