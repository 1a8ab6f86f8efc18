import { performance } from 'node:perf_hooks'
import { benchNode } from './fixtures/engine-env.js'
import type { Measurement } from './harness.js'

const ENTRIES = 10_000

/**
 * Resume of an execution with 10,000 log entries: a flow of 9,998 `log` steps (each writes a log
 * entry, which carries the previous step's completion; transforms would ride 32 to an entry)
 * ending in an event wait, so the execution is still running when the engine restarts. Measured:
 * the new engine's `start()` (find unfinished executions, load the latest snapshot, replay what
 * follows, re-arm).
 */
export default async function bench(): Promise<Measurement[]> {
  const node = await benchNode('batched')
  try {
    const steps: unknown[] = Array.from({ length: ENTRIES - 2 }, (_, i) => ({ id: `s${i}`, type: 'task', action: 'log', params: { message: `step ${i}` } }))
    steps.push({ id: 'wait', type: 'event-trigger', event: 'go', timeout: 86_400_000 })
    const actor = async () => ({ actor: { did: node.user.did, credentials: { token: await node.token() } } })
    await node.engine.createFlow({ id: 'long', name: 'long', version: '1.0.0', owner: node.user.did, steps } as never, await actor())
    const id = await node.engine.startExecution('long', null, await actor())
    for (let i = 0; i < 3000 && node.engine.live(id)?.steps.wait?.status !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 50))
    const head = await node.store.log.head(id)
    const times: number[] = []
    for (let round = 0; round < 5; round++) {
      const restarted = await node.restartEngine()
      const t0 = performance.now()
      await restarted.start()
      times.push(performance.now() - t0)
      if (restarted.live(id)?.steps.wait?.status !== 'waiting') throw new Error('the execution did not resume waiting')
    }
    times.sort((a, b) => a - b)
    return [
      {
        name: `resume an execution of ${(head?.seq ?? 0) + 1} log entries (engine start)`,
        samples: times.length,
        medianUs: (times[2] as number) * 1000,
        p99Us: (times[4] as number) * 1000,
        opsPerSec: 1000 / (times[2] as number),
        extra: { targetMs: 200, snapshotSeq: head?.snapshot?.seq ?? -1 }
      }
    ]
  } finally {
    await node.close()
  }
}
