import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createStateStore, type StateStoreComponents } from '@qflow/state'
import { Key } from 'interface-datastore'
import type { Measurement } from './harness.js'

/**
 * An index checkpoint of a large store while commits go on: a state store holding 1,000,000
 * records (each an entry of the in-memory index, as a block is) is asked to checkpoint while
 * another task commits a record per turn. Reported: how long the checkpoint took, the longest
 * the event loop was held meanwhile (a 1 ms timer's longest gap), and how many commits landed
 * during it.
 */

const ENTRIES = Number(process.env.CHECKPOINT_BENCH_ENTRIES ?? 1_000_000)
const BATCH = 10_000

function components(): StateStoreComponents {
  // Nothing is appended to execution logs here: the components are never called.
  const unused = async (): Promise<never> => {
    throw new Error('not used by this benchmark')
  }
  return { qlock: { encrypt: unused, decrypt: unused }, signer: { did: 'did:key:bench', sign: unused }, verifier: { verifySignature: unused } }
}

export default async function bench(): Promise<Measurement[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-checkpoint-bench-'))
  const store = await createStateStore({ dataDir, durability: 'batched' }, components())
  try {
    const { datastore } = store.helia
    const value = randomBytes(48)
    for (let i = 0; i < ENTRIES; i += BATCH) {
      const batch = datastore.batch()
      for (let j = i; j < i + BATCH && j < ENTRIES; j++) batch.put(new Key(`/bench/${j.toString(36).padStart(6, '0')}`), value)
      await batch.commit()
    }
    await store.checkpoint()

    let longestGapMs = 0
    let last = performance.now()
    const timer = setInterval(() => {
      const now = performance.now()
      longestGapMs = Math.max(longestGapMs, now - last)
      last = now
    }, 1)
    let done = false
    let commits = 0
    const committing = (async () => {
      while (!done) {
        await datastore.put(new Key(`/during/${commits}`), value)
        commits++
      }
    })()
    // Let the timer and the committing task settle in first.
    await new Promise((resolve) => setTimeout(resolve, 50))
    longestGapMs = 0
    const commitsBefore = commits
    const started = performance.now()
    await store.checkpoint()
    const tookMs = performance.now() - started
    const during = commits - commitsBefore
    done = true
    await committing
    clearInterval(timer)
    return [
      {
        name: `index checkpoint, ${ENTRIES.toLocaleString('en')} entries, commits going on`,
        samples: 1,
        medianUs: tookMs * 1000,
        p99Us: tookMs * 1000,
        opsPerSec: 1000 / tookMs,
        extra: { tookMs, longestLoopGapMs: longestGapMs, commitsDuring: during }
      }
    ]
  } finally {
    await store.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
