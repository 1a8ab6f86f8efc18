import { execFileSync } from 'node:child_process'
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createStateStore, openStateStorage, type StateStore, type StateStoreComponents } from '@qflow/state'
import { type Measurement, measure } from './harness.js'

// Real crypto, as the adapters will do it: AES-256-GCM with the binding as associated data, ed25519.
function components(): StateStoreComponents {
  const key = randomBytes(32)
  const aad = (b: { subnet: string; executionId?: string; stepId?: string; purpose?: string }): Buffer =>
    Buffer.from(JSON.stringify([b.subnet, b.executionId ?? null, b.stepId ?? null, b.purpose ?? null]))
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const did = 'did:key:bench'
  return {
    qlock: {
      async encrypt(plaintext, binding) {
        const nonce = randomBytes(12)
        const cipher = createCipheriv('aes-256-gcm', key, nonce)
        cipher.setAAD(aad(binding))
        const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
        return { v: 1, alg: 'A256GCM', kid: 'k1', nonce: new Uint8Array(nonce), ciphertext: new Uint8Array(body) }
      },
      async decrypt(envelope, binding) {
        const body = Buffer.from(envelope.ciphertext)
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.nonce))
        decipher.setAAD(aad(binding))
        decipher.setAuthTag(body.subarray(body.length - 16))
        return new Uint8Array(Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]))
      }
    },
    signer: { did, sign: async (data) => new Uint8Array(sign(null, data, privateKey)) },
    verifier: {
      async verifySignature(signer, data, signature) {
        return signer === did && verify(null, data, publicKey, signature)
      }
    }
  }
}

/** A 1 KiB payload (before encryption). */
const payload = { output: randomBytes(1024 - 64).toString('base64').slice(0, 1024 - 64), step: 'transform' }

async function withStore<T>(init: Parameters<typeof createStateStore>[0], fn: (store: StateStore) => Promise<T>): Promise<T> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-state-bench-'))
  const store = await createStateStore({ dataDir, ...init }, components())
  try {
    return await fn(store)
  } finally {
    await store.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

export default async function bench(): Promise<Measurement[]> {
  const results: Measurement[] = []

  for (const durability of ['fsync', 'batched'] as const) {
    results.push(
      await withStore({ durability }, async (store) => {
        await store.log.append('seq', { kind: 'started' })
        let i = 0
        return measure(`append 1 KiB, one at a time (${durability})`, () => store.log.append('seq', { kind: 'step-completed', stepId: `s${i++}`, payload }), {
          warmup: 100,
          iterations: 1_000
        })
      })
    )
    const concurrency = 64
    results.push(
      await withStore({ durability }, async (store) => {
        const ids = Array.from({ length: concurrency }, (_, k) => `exec-${k}`)
        await Promise.all(ids.map((id) => store.log.append(id, { kind: 'started' })))
        const cpu0 = process.cpuUsage()
        const m = await measure(
          `append 1 KiB, ${concurrency} executions concurrently (${durability})`,
          () => Promise.all(ids.map((id) => store.log.append(id, { kind: 'step-completed', payload }))),
          { warmup: 10, iterations: 100, opsPerCall: concurrency }
        )
        // Per-append latency as the caller sees it is the whole round's time.
        // CPU of this process (main thread, GC and the fdatasync thread) per append, warm-up included.
        const cpu = process.cpuUsage(cpu0)
        const cpuUsPerAppend = (cpu.user + cpu.system) / ((10 + 100) * concurrency)
        return { ...m, extra: { roundMedianMs: (m.medianUs * concurrency) / 1000, roundP99Ms: (m.p99Us * concurrency) / 1000, cpuUsPerAppend } }
      })
    )
  }

  // Two executions of 10,000 entries, one with a snapshot every 100 entries, one every 500; then
  // reads from a reopened store.
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-state-bench-'))
  const comps = components()
  try {
    const writer = await createStateStore({ dataDir, durability: 'batched' }, comps)
    const intervals = [100, 500] as const
    await Promise.all(intervals.map((every) => writer.log.append(`long-${every}`, { kind: 'started' })))
    const pending: Promise<unknown>[] = []
    const reduced = { 100: 0, 500: 0 }
    for (let seq = 1; seq < 10_000; seq++) {
      for (const every of intervals) {
        const id = `long-${every}`
        if (seq % every === 0) pending.push(writer.log.snapshot(id, { reduced: reduced[every], seq }))
        else {
          reduced[every] += seq
          pending.push(writer.log.append(id, { kind: 'step-completed', payload }))
        }
      }
      if (pending.length >= 256) await Promise.all(pending.splice(0))
    }
    await Promise.all(pending)
    await writer.stop()

    const reader = await createStateStore({ dataDir }, comps)
    try {
      let count = 0
      const readAll = await measure(
        'read back 10,000 entries of one execution (decrypt)',
        async () => {
          count = 0
          for await (const _ of reader.log.entries('long-100')) count++
        },
        { warmup: 1, iterations: 5, opsPerCall: 10_000 }
      )
      results.push({ ...readAll, extra: { entries: count, totalMs: (readAll.medianUs * 10_000) / 1000 } })

      for (const every of intervals) {
        let tail = 0
        const resume = await measure(
          `resume-from-head of a 10,000-entry execution (snapshot every ${every})`,
          async () => {
            tail = (await reader.log.resume(`long-${every}`)).entries.length
          },
          { warmup: 3, iterations: 30 }
        )
        results.push({
          ...resume,
          extra: { tailEntries: tail, medianMs: resume.medianUs / 1000, p99Ms: resume.p99Us / 1000, under200msAtP99: resume.p99Us / 1000 < 200 ? 'yes' : 'no' }
        })
      }

      const verifyMs = await timed(async () => {
        const report = await reader.verifyExecution('long-100')
        if (!report.ok) throw report.error
      })
      results.push({
        name: 'verifyExecution of 10,000 entries (links, hashes, signatures, decrypt)',
        samples: 1,
        medianUs: (verifyMs * 1000) / 10_000,
        p99Us: Number.NaN,
        opsPerSec: 10_000 / (verifyMs / 1000),
        extra: { totalMs: verifyMs }
      })
    } finally {
      await reader.stop()
    }

    const openMs = await timed(async () => {
      const s = await createStateStore({ dataDir }, comps)
      await s.stop()
    })
    results.push({ name: 'open + stop a file-backed store, warm process', samples: 1, medianUs: openMs * 1000, p99Us: Number.NaN, opsPerSec: 1000 / openMs })
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
  // A store holding 10,000 executions (5 entries each): open from the index checkpoint, and
  // without it (a scan of every log segment).
  const manyDir = await mkdtemp(join(tmpdir(), 'qflow-state-bench-'))
  try {
    const manyComps = components()
    const writer = await createStateStore({ dataDir: manyDir, durability: 'batched' }, manyComps)
    const executions = 10_000
    for (let base = 0; base < executions; base += 250) {
      await Promise.all(
        Array.from({ length: 250 }, async (_, k) => {
          const id = `many-${base + k}`
          await writer.log.append(id, { kind: 'started' })
          for (let step = 0; step < 3; step++) await writer.log.append(id, { kind: 'step-completed', stepId: `s${step}`, payload })
          await writer.log.append(id, { kind: 'completed' })
        })
      )
    }
    await writer.stop()
    for (const checkpoint of [true, false]) {
      if (!checkpoint) await rm(join(manyDir, 'log', 'index.ckpt'))
      let storageMs = 0
      let listed = 0
      const openMs = await timed(async () => {
        const t0 = performance.now()
        const storage = await openStateStorage({ dataDir: manyDir })
        storageMs = performance.now() - t0
        const s = await createStateStore({}, { ...manyComps, storage })
        listed = (await s.log.listExecutions()).length
        await s.stop()
        await storage.close()
      })
      results.push({
        name: `open a store of 10,000 executions (50,000 entries), ${checkpoint ? 'from the index checkpoint' : 'scanning every segment'}`,
        samples: 1,
        medianUs: openMs * 1000,
        p99Us: Number.NaN,
        opsPerSec: 1000 / openMs,
        extra: { logOpenMs: storageMs, totalMsWithHeliaAndListAndStop: openMs, executionsListed: listed }
      })
    }
  } finally {
    await rm(manyDir, { recursive: true, force: true })
  }

  // Cold start in a fresh process: import the package, open a file-backed store, stop.
  const coldDir = await mkdtemp(join(tmpdir(), 'qflow-state-bench-'))
  try {
    const script = `const t0 = performance.now()
const { createStateStore } = await import('@qflow/state')
const t1 = performance.now()
const none = async () => { throw new Error('unused') }
const s = await createStateStore({ dataDir: process.argv[1] }, { qlock: { encrypt: none, decrypt: none }, signer: { did: 'did:x', sign: none }, verifier: { verifySignature: none } })
const t2 = performance.now()
await s.stop()
console.log(JSON.stringify({ importMs: t1 - t0, openMs: t2 - t1, rssMb: process.memoryUsage().rss / 1e6 }))`
    const runs = Array.from({ length: 5 }, () => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script, coldDir], { encoding: 'utf8' })) as { importMs: number; openMs: number; rssMb: number })
    const totals = runs.map((r) => r.importMs + r.openMs).sort((a, b) => a - b)
    const median = totals[2] as number
    const mid = runs.find((r) => r.importMs + r.openMs === median) as (typeof runs)[number]
    results.push({
      name: 'cold start: import @qflow/state + open a store (fresh process)',
      samples: runs.length,
      medianUs: median * 1000,
      p99Us: (totals[4] as number) * 1000,
      opsPerSec: 1000 / median,
      extra: { importMs: mid.importMs, openMs: mid.openMs, rssMb: mid.rssMb }
    })
  } finally {
    await rm(coldDir, { recursive: true, force: true })
  }

  // The machine is shared: say how loaded it was.
  const load = loadavg()[0] ?? Number.NaN
  for (const m of results) m.extra = { ...m.extra, loadAvg1m: load }
  return results
}
