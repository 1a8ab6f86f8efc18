import { performance } from 'node:perf_hooks'
import { benchNode, threeStepFlow } from './fixtures/engine-env.js'
import { type Measurement, percentile } from './harness.js'

async function throughput(durability: 'batched' | 'fsync', total: number, concurrency: number): Promise<Measurement> {
  const node = await benchNode(durability)
  try {
    await node.engine.createFlow(threeStepFlow(node.user.did), { actor: { did: node.user.did, credentials: { token: await node.token() } } })
    const tokens = await Promise.all(Array.from({ length: total + 200 }, () => node.token()))
    const input = { items: [{ price: 70 }, { price: 50 }] }
    const runOne = async (i: number): Promise<number> => {
      const t0 = performance.now()
      const result = await node.engine.run('three', input, { actor: { did: node.user.did, credentials: { token: tokens[i] as string } } })
      if (result.status !== 'completed') throw new Error(`execution ${result.executionId} ${result.status}: ${JSON.stringify(result.error)}`)
      return performance.now() - t0
    }
    for (let i = 0; i < 200; i++) await runOne(total + i) // warm-up
    const latencies: number[] = []
    let next = 0
    const cpu0 = process.cpuUsage()
    const started = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) latencies.push(await runOne(next++))
      })
    )
    const elapsed = performance.now() - started
    const cpu = process.cpuUsage(cpu0)
    latencies.sort((a, b) => a - b)
    const steps = total * 3
    return {
      name: `3-step flow, ${durability}, ${concurrency} concurrent (per execution)`,
      samples: total,
      medianUs: percentile(latencies, 50) * 1000,
      p99Us: percentile(latencies, 99) * 1000,
      opsPerSec: (total * 1000) / elapsed,
      extra: {
        cpuUsPerStep: (cpu.user + cpu.system) / steps,
        ...(durability === 'batched' ? { targetExecPerSec: 2000 } : {})
      }
    }
  } finally {
    await node.close()
  }
}

export default async function bench(): Promise<Measurement[]> {
  return [await throughput('batched', 4000, 64), await throughput('fsync', 1000, 64)]
}
