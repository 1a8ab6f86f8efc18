import { createPipeline, passThroughStage, STAGE_ORDER } from '@qflow/pipeline'
import { type Measurement, measure } from './harness.js'

export default async function bench(): Promise<Measurement[]> {
  const pipeline = createPipeline({ stages: STAGE_ORDER.map((name) => passThroughStage(name)) })
  const operation = {
    kind: 'flow.read',
    actor: { did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK' },
    resource: 'qflow:flow:f1',
    action: 'read',
    traceId: 'bench'
  } as const
  const batch = 100
  const overhead = await measure(
    'pipeline of four pass-through stages (per operation)',
    async () => {
      for (let i = 0; i < batch; i++) await pipeline.run(operation)
    },
    { iterations: 2_000, warmup: 200, opsPerCall: batch }
  )
  overhead.extra = { targetMedianUs: 2, pass: overhead.medianUs <= 2 ? 'yes' : 'NO' }
  const withPayload = await measure(
    'same, with a 20-field payload digested',
    async () => {
      for (let i = 0; i < batch; i++) await pipeline.run({ ...operation, payload: payloadOf20 })
    },
    { iterations: 500, warmup: 50, opsPerCall: batch }
  )
  return [overhead, withPayload]
}

const payloadOf20 = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`field${i}`, `value ${i}`]))
