import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { type QerberosInit, type QerberosMonitor, qerberos } from '@qflow/adapters-qerberos'
import { canonicalBytes } from '@qflow/canonical-json'
import { payloadDigest } from '@qflow/pipeline'
// The labelled stream generator and its scoring are shared with the package's unit test, so the
// figures here and the floor asserted there come from the same definition.
import {
  type DetectionScore,
  type InjectedKind,
  scoreDetection,
  type SyntheticStream,
  syntheticStream
} from '../../packages/adapters-qerberos/test/fixtures/synthetic-stream.js'
import { type Measurement, measure, measureSync } from './harness.js'

const KINDS: InjectedKind[] = ['latency-spike', 'output-blowup', 'error-burst', 'run-burst']
const INJECTIONS = { latencySpikes: 60, outputBlowups: 60, errorBursts: 20, runBursts: 12 }

interface Evaluation {
  score: DetectionScore
  decisions: number
  falseDecisions: number
}

function evaluate(stream: SyntheticStream, init: QerberosInit): Evaluation {
  const q = qerberos({ ...init, audit: { capacity: 0 } })({ now: () => 0 })
  const decisionAlerts: string[] = []
  q.onDecision((d) => decisionAlerts.push(d.alert ?? ''))
  const alertAt = new Map<string, number>()
  const alerts = stream.observations.map((o, i) => {
    const raised = q.observe(o)
    for (const a of raised) alertAt.set(a.id, i)
    return raised
  })
  const score = scoreDetection(stream, alerts)
  const falseAlarms = new Set(score.falseAlarms)
  return {
    score,
    decisions: decisionAlerts.length,
    falseDecisions: decisionAlerts.filter((id) => falseAlarms.has(alertAt.get(id) ?? -1)).length
  }
}

function detectionFigures(label: string, seeds: number[], naturalOutliers: number, init: QerberosInit = {}): Measurement {
  let flagged = 0
  let truePositives = 0
  let decisions = 0
  let falseDecisions = 0
  let observations = 0
  const detected = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<InjectedKind, number>
  const injected = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<InjectedKind, number>
  const perSeed: string[] = []
  for (const seed of seeds) {
    const stream = syntheticStream({ seed, durationMs: 2 * 3_600_000, naturalOutliers, ...INJECTIONS })
    observations += stream.observations.length
    const e = evaluate(stream, init)
    flagged += e.score.flagged
    truePositives += e.score.truePositives
    decisions += e.decisions
    falseDecisions += e.falseDecisions
    for (const k of KINDS) {
      detected[k] += e.score.detected[k]
      injected[k] += e.score.injected[k]
    }
    perSeed.push(`${seed}:P${e.score.precision.toFixed(3)}/R${e.score.recall.toFixed(3)}`)
  }
  const totalInjected = KINDS.reduce((n, k) => n + injected[k], 0)
  const totalDetected = KINDS.reduce((n, k) => n + detected[k], 0)
  const precision = truePositives / flagged
  const recall = totalDetected / totalInjected
  return {
    name: label,
    samples: observations,
    medianUs: Number.NaN,
    p99Us: Number.NaN,
    opsPerSec: Number.NaN,
    extra: {
      precision,
      recall,
      flagged,
      falseAlarms: flagged - truePositives,
      ...Object.fromEntries(KINDS.map((k) => [k, `${detected[k]}/${injected[k]}`])),
      decisions,
      falseDecisions,
      perSeed: perSeed.join(' '),
      target: '≥0.9 both',
      pass: precision >= 0.9 && recall >= 0.9 ? 'yes' : 'NO'
    }
  }
}

function throughput(stream: SyntheticStream): Measurement {
  const observations = stream.observations
  const batch = 1_000
  let q: QerberosMonitor = qerberos({ audit: { capacity: 0 } })()
  let next = 0
  const m = measureSync(
    'anomaly detector: observe() per observation (stream of 4 subjects each)',
    () => {
      if (next + batch > observations.length) {
        q = qerberos({ audit: { capacity: 0 } })()
        next = 0
      }
      for (let i = 0; i < batch; i++) q.observe(observations[next + i] as (typeof observations)[number])
      next += batch
    },
    { warmup: 20, iterations: 400, opsPerCall: batch }
  )
  // One whole pass, cold monitor: what a node replaying a log would see.
  const fresh = qerberos({ audit: { capacity: 0 } })()
  const t0 = performance.now()
  for (const o of observations) fresh.observe(o)
  const passMs = performance.now() - t0
  m.extra = {
    fullPassObsPerSec: (observations.length * 1000) / passMs,
    streamObservations: observations.length,
    target: '≥100000 obs/s',
    pass: m.opsPerSec >= 100_000 ? 'yes' : 'NO'
  }
  return m
}

function payloadOf1KiB(): Record<string, unknown> {
  const lines = Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: i + 1, price: 9.99 + i, note: 'standard shipping' }))
  const payload = { id: '9b2f7a52-3f55-4a8e-9d43-0a7b3c1e2f10', customer: 'did:key:z6MkCustomer', currency: 'EUR', lines }
  return payload
}

const outputSchema = {
  type: 'object',
  required: ['id', 'customer', 'currency', 'lines'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    customer: { type: 'string' },
    currency: { enum: ['EUR', 'USD'] },
    lines: {
      type: 'array',
      items: {
        type: 'object',
        required: ['sku', 'qty', 'price'],
        properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 }, price: { type: 'number' }, note: { type: 'string' } }
      }
    }
  }
}

async function integrity(): Promise<Measurement[]> {
  const payload = payloadOf1KiB()
  const bytes = canonicalBytes(payload).length
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const did = 'did:key:z6MkBench'
  const identity = { verifySignature: async (_did: string, data: Uint8Array, sig: Uint8Array) => verify(null, data, publicKey, sig) }
  const q = qerberos()({ identity })
  const digest = payloadDigest(payload)
  q.compileSchema(outputSchema)
  const schemaOnly = await measure('checkIntegrity: cached schema, 1 KiB payload', () => q.checkIntegrity(payload, { schema: outputSchema }), {
    iterations: 20_000,
    warmup: 2_000
  })
  schemaOnly.extra = { payloadBytes: bytes }
  const digestAndSchema = await measure(
    'checkIntegrity: digest + cached schema, 1 KiB payload',
    () => q.checkIntegrity(payload, { expectedDigest: digest, schema: outputSchema }),
    { iterations: 20_000, warmup: 2_000 }
  )
  digestAndSchema.extra = { payloadBytes: bytes, ok: (await q.checkIntegrity(payload, { expectedDigest: digest, schema: outputSchema })).ok ? 'yes' : 'NO' }
  const signature = { alg: 'EdDSA' as const, signer: did, value: new Uint8Array(sign(null, canonicalBytes(payload), privateKey)) }
  const all = await measure(
    'checkIntegrity: digest + ed25519 signature + cached schema, 1 KiB',
    () => q.checkIntegrity(payload, { expectedDigest: digest, signature, schema: outputSchema }),
    { iterations: 5_000, warmup: 500 }
  )
  all.extra = { payloadBytes: bytes, ok: (await q.checkIntegrity(payload, { expectedDigest: digest, signature, schema: outputSchema })).ok ? 'yes' : 'NO' }
  return [schemaOnly, digestAndSchema, all]
}

export default async function bench(): Promise<Measurement[]> {
  const stream = syntheticStream({ seed: 1, durationMs: 2 * 3_600_000, ...INJECTIONS })
  return [
    throughput(stream),
    detectionFigures('detection, default thresholds, 4 seeded 2 h streams (log-normal noise)', [1, 2, 3, 4], 0),
    detectionFigures('same, heavier tails: 1 % of executions naturally ×2–5 slower', [1, 2, 3, 4], 0.01),
    detectionFigures('heavier tails, metricThresholds.duration.low = 7', [1, 2, 3, 4], 0.01, {
      anomaly: { metricThresholds: { duration: { low: 7 } } }
    }),
    ...(await integrity())
  ]
}
