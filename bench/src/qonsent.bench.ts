import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { type ConsentGrant, createEmbeddedQonsent, type EmbeddedQonsent, type EmbeddedQonsentInit } from '@qflow/adapters-qonsent'
import type { ConsentRequest } from '@qflow/pipeline'
import { type Measurement, measure } from './harness.js'

const SUBJECTS = 1_000
const OWNER = 'did:key:z6MkOwner'
const NOW = Date.parse('2026-03-02T12:00:00Z')
const user = (i: number) => `did:key:z6MkUser${String(i).padStart(4, '0')}`

/** A deterministic generator (LCG), so every run checks the same mix. */
function lcg(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}

/**
 * 10,000 grants: 9 exact-resource grants for each of 1,000 subjects (some conditional, some
 * expiring), a wildcard grant for half of them, 300 subject deny rules, and 200 grants and deny
 * rules for everyone (`*`). A subject holds about 10 grants of its own.
 */
function grants(): ConsentGrant[] {
  const out: ConsentGrant[] = []
  const base = { effect: 'allow' as const, grantedBy: OWNER }
  for (let i = 0; i < SUBJECTS; i++) {
    for (let j = 0; j < 9; j++) {
      out.push({
        ...base,
        id: `u${i}-f${j}`,
        subject: user(i),
        resource: `qflow:flow:f${(i * 9 + j) % 5_000}`,
        actions: j % 3 === 0 ? ['read', 'execute'] : j % 3 === 1 ? ['read'] : ['admin'],
        ...(j === 4 ? { conditions: { subnet: 'dao-a' } } : {}),
        ...(j === 5 ? { expiresAt: NOW + 86_400_000 } : {})
      })
    }
    if (i % 2 === 0) out.push({ ...base, id: `u${i}-runs`, subject: user(i), resource: `qflow:exec:run-${i}-*`, actions: ['execute', 'read'] })
  }
  for (let k = 0; k < 300; k++) {
    const i = (k * 7) % SUBJECTS
    out.push({ ...base, id: `deny-${k}`, effect: 'deny', subject: user(i), resource: `qflow:flow:f${(i * 9 + 1) % 5_000}`, actions: ['*'] })
  }
  for (let k = 0; k < 190; k++) out.push({ ...base, id: `public-${k}`, subject: '*', resource: `qflow:flow:pub-${k}`, actions: ['read'] })
  for (let k = 0; k < 10; k++) out.push({ ...base, id: `embargo-${k}`, effect: 'deny', subject: '*', resource: `qflow:flow:secret-${k}-*`, actions: ['*'] })
  return out
}

/** The check mix: exact allows, wildcard allows, deny-rule hits, public reads, and refusals. */
function requests(count: number): ConsentRequest[] {
  const next = lcg(42)
  const pick = (n: number) => Math.floor(next() * n)
  const out: ConsentRequest[] = []
  for (let n = 0; n < count; n++) {
    const roll = next()
    const i = pick(SUBJECTS)
    const subject = user(i)
    const context = { subnet: roll < 0.25 ? 'dao-a' : 'dao-b', kind: 'exec.step' }
    if (roll < 0.5) out.push({ subject, resource: `qflow:flow:f${(i * 9 + pick(9)) % 5_000}`, action: 'read', context })
    else if (roll < 0.65) out.push({ subject: user(i - (i % 2)), resource: `qflow:exec:run-${i - (i % 2)}-${pick(100)}`, action: 'execute', context })
    else if (roll < 0.75) {
      const d = (pick(300) * 7) % SUBJECTS
      out.push({ subject: user(d), resource: `qflow:flow:f${(d * 9 + 1) % 5_000}`, action: 'read', context })
    } else if (roll < 0.85) out.push({ subject, resource: `qflow:flow:pub-${pick(190)}`, action: 'read', context })
    else if (roll < 0.9) out.push({ subject, resource: `qflow:flow:secret-${pick(10)}-x`, action: 'read', context })
    else out.push({ subject, resource: `qflow:flow:f${pick(5_000)}`, action: 'write', context })
  }
  return out
}

async function loaded(init: EmbeddedQonsentInit, all: ConsentGrant[]): Promise<EmbeddedQonsent> {
  const qonsent = await createEmbeddedQonsent(init, { now: () => NOW })
  for (const grant of all) await qonsent.grant(grant)
  return qonsent
}

export default async function bench(): Promise<Measurement[]> {
  const all = grants()
  const mix = requests(8_192)
  const batch = 100
  let cursor = 0
  // Each batch ends by yielding to the event loop, as a node serving requests does: that is when
  // the audit file's writes complete. Its cost (a few µs per 100 checks) is in the figures.
  const checks = (qonsent: EmbeddedQonsent) => async () => {
    for (let k = 0; k < batch; k++) {
      await qonsent.check(mix[cursor] as ConsentRequest)
      cursor = (cursor + 1) & 8_191
    }
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  const results: Measurement[] = []
  const dir = await mkdtemp(join(tmpdir(), 'qflow-qonsent-bench-'))
  try {
    // Checks, audit ring on (the default).
    const ring = await loaded({ persistence: 'memory' }, all)
    const outcomes = { allowed: 0, denied: 0, expired: 0 }
    let examined = 0
    let examinedMax = 0
    for (const request of mix) {
      const evaluation = ring.evaluate(request)
      outcomes[evaluation.decision.status]++
      examined += evaluation.examined
      examinedMax = Math.max(examinedMax, evaluation.examined)
    }
    const withRing = await measure(`consent check, ${all.length} grants, audit ring`, checks(ring), { iterations: 2_000, warmup: 200, opsPerCall: batch })
    withRing.extra = {
      grants: ring.stats().grants,
      allowedPct: (100 * outcomes.allowed) / mix.length,
      deniedPct: (100 * outcomes.denied) / mix.length,
      grantsExaminedAvg: examined / mix.length,
      grantsExaminedMax: examinedMax,
      targetOpsPerSec: 50_000,
      pass: withRing.opsPerSec >= 50_000 ? 'yes' : 'NO'
    }
    results.push(withRing)
    await ring.stop()

    // Checks with every record also appended to a JSONL audit file (batched, off the check path).
    const auditFile = join(dir, 'audit.jsonl')
    const filed = await loaded({ persistence: 'memory', auditFile }, all)
    const withFile = await measure(`same, with the JSONL audit file`, checks(filed), { iterations: 2_000, warmup: 200, opsPerCall: batch })
    await filed.flushAudit()
    const auditStats = filed.stats().audit
    withFile.extra = {
      written: auditStats.written,
      dropped: auditStats.dropped,
      targetOpsPerSec: 50_000,
      pass: withFile.opsPerSec >= 50_000 && auditStats.dropped === 0 ? 'yes' : 'NO'
    }
    results.push(withFile)
    await filed.stop()

    // Checks without audit, to show what auditing costs.
    const bare = await loaded({ persistence: 'memory', auditChecks: false }, all)
    results.push(await measure('same, checks not audited', checks(bare), { iterations: 2_000, warmup: 200, opsPerCall: batch }))
    // The explaining variant, synchronous.
    let e = 0
    results.push(
      await measure(
        'evaluate() (explains every grant weighed)',
        () => {
          for (let k = 0; k < batch; k++) {
            bare.evaluate(mix[e] as ConsentRequest)
            e = (e + 1) & 8_191
          }
        },
        { iterations: 1_000, warmup: 100, opsPerCall: batch }
      )
    )
    await bare.stop()

    // Adding 10,000 grants to the file log (no fsync), then replaying it at start.
    const dataDir = join(dir, 'data')
    const t0 = performance.now()
    const writer = await loaded({ dataDir, fsync: false }, all)
    const addMs = performance.now() - t0
    await writer.stop()
    const t1 = performance.now()
    const reader = await createEmbeddedQonsent({ dataDir }, { now: () => NOW })
    const loadMs = performance.now() - t1
    const loadedGrants = reader.stats().grants
    await reader.stop()
    results.push({
      name: `grant log: add ${all.length} grants (no fsync), then replay at start`,
      samples: 1,
      medianUs: (addMs * 1000) / all.length,
      p99Us: Number.NaN,
      opsPerSec: (all.length * 1000) / addMs,
      extra: { addMs, replayMs: loadMs, replayedGrants: loadedGrants }
    })
    // One durable grant (append + fsync).
    const durable = await createEmbeddedQonsent({ dataDir: join(dir, 'durable') }, { now: () => NOW })
    let g = 0
    results.push(
      await measure('grant() with fsync (one durable grant)', () => durable.grant({ ...(all[g % all.length] as ConsentGrant), id: `d${g++}` }), {
        iterations: 300,
        warmup: 20
      })
    )
    await durable.stop()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return results
}
