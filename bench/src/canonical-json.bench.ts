import { canonicalize } from '@qflow/canonical-json'
import { type Measurement, measureSync } from './harness.js'

export default async function bench(): Promise<Measurement[]> {
  const doc = {
    id: 'bench',
    steps: Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, type: 'task', action: 'log', params: { message: `step ${i}`, n: i } }))
  }
  return [measureSync('canonicalize a 20-step flow document', () => canonicalize(doc), { iterations: 20_000 })]
}
