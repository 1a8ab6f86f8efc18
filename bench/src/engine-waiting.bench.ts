import { performance } from 'node:perf_hooks'
import { benchNode, threeStepFlow } from './fixtures/engine-env.js'
import type { Measurement } from './harness.js'

const WAITING = 10_000


const waiting = (owner: string) => ({
  id: 'approval',
  name: 'approval',
  version: '1.0.0',
  owner,
  steps: [
    { id: 'ask', type: 'event-trigger', event: 'approval.decided', filter: { requestId: '{{ input.requestId }}' }, timeout: 86_400_000 },
    { id: 'done', type: 'task', action: 'data.transform', params: { expression: 'steps.ask.output.payload.approved' } }
  ]
})

/**
 * 10,000 executions waiting on events at once: the node's RSS, and the throughput of another flow
 * while they wait compared with the same node before they started.
 */
export default async function bench(): Promise<Measurement[]> {
  const node = await benchNode('batched')
  try {
    const actor = async () => ({ actor: { did: node.user.did, credentials: { token: await node.token() } } })
    await node.engine.createFlow(threeStepFlow(node.user.did), await actor())
    await node.engine.createFlow(waiting(node.user.did), await actor())
    const input = { items: [{ price: 70 }, { price: 50 }] }
    const burst = async (n: number): Promise<number> => {
      const tokens = await Promise.all(Array.from({ length: n }, () => node.token()))
      let next = 0
      const t0 = performance.now()
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < n) {
            const i = next++
            const r = await node.engine.run('three', input, { actor: { did: node.user.did, credentials: { token: tokens[i] as string } } })
            if (r.status !== 'completed') throw new Error(`unexpected ${r.status}`)
          }
        })
      )
      return (n * 1000) / (performance.now() - t0)
    }
    await burst(300)
    const idle = await burst(1500)
    global.gc?.()
    const rssBefore = process.memoryUsage().rss
    const ids: string[] = []
    const tokens = await Promise.all(Array.from({ length: WAITING }, () => node.token()))
    let next = 0
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < WAITING) {
          const i = next++
          ids.push(await node.engine.startExecution('approval', { requestId: `r-${i}` }, { actor: { did: node.user.did, credentials: { token: tokens[i] as string } } }))
        }
      })
    )
    // every wait is armed once its dispatch entry is durable
    for (let i = 0; i < 600; i++) {
      if (ids.every((id) => node.engine.live(id)?.steps.ask?.status === 'waiting')) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const startMs = performance.now() - t0
    global.gc?.()
    const rssWaiting = process.memoryUsage().rss
    const loaded = await burst(1500)
    // the waits are real: deliver a few events and see those executions finish
    for (let i = 0; i < 10; i++) await node.engine.deliverEvent('approval.decided', { requestId: `r-${i}`, approved: true })
    const finished = await Promise.all(ids.slice(0, 10).map((id) => node.engine.wait(id)))
    const ok = finished.filter((r) => r.status === 'completed').length
    return [
      {
        name: `${WAITING} executions waiting on events`,
        samples: WAITING,
        medianUs: Number.NaN,
        p99Us: Number.NaN,
        opsPerSec: (WAITING * 1000) / startMs,
        extra: {
          rssMB: rssWaiting / 2 ** 20,
          rssGrowthMB: (rssWaiting - rssBefore) / 2 ** 20,
          targetRssMB: 500,
          idleExecPerSec: idle,
          loadedExecPerSec: loaded,
          slowdown: idle / loaded,
          targetSlowdown: 2,
          deliveredAndCompleted: ok
        }
      }
    ]
  } finally {
    await node.close()
  }
}
