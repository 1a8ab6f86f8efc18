import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { type BenchNode, benchNode, threeStepFlow } from './fixtures/engine-env.js'
import { type Measurement, percentile } from './harness.js'

/** CPU time of the main thread so far, µs (Linux: /proc; undefined elsewhere). */
function mainThreadCpuUs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    // utime and stime (fields 14 and 15 of stat), in clock ticks of 10 ms
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return undefined
  }
}

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
    const main0 = mainThreadCpuUs()
    const elu0 = performance.eventLoopUtilization()
    const started = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) latencies.push(await runOne(next++))
      })
    )
    const elapsed = performance.now() - started
    const cpu = process.cpuUsage(cpu0)
    const main1 = mainThreadCpuUs()
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
        // where an execution's CPU goes: the event loop's thread, and every other thread (the
        // signing and signature-checking workers, V8's GC helpers, libuv's pool)
        cpuUsPerExec: (cpu.user + cpu.system) / total,
        ...(main0 === undefined || main1 === undefined
          ? {}
          : { mainThreadCpuUsPerExec: (main1 - main0) / total, otherThreadsCpuUsPerExec: (cpu.user + cpu.system - (main1 - main0)) / total }),
        // share of the time the event loop was busy: how close the single JS thread is to its limit
        eventLoopBusy: performance.eventLoopUtilization(elu0).utilization,
        ...(durability === 'batched' ? { targetExecPerSec: 2000 } : {})
      }
    }
  } finally {
    await node.close()
  }
}

/** The 21-step flow (20 transforms and a condition) of the per-step measurements. */
async function longFlow(node: BenchNode, count: number): Promise<() => Promise<unknown>> {
  const steps: unknown[] = Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, type: 'task', action: 'data.transform', params: { expression: `input.n + ${i}` } }))
  steps.splice(10, 0, { id: 'mid', type: 'condition', expression: 'input.n > 0' })
  const flow = { id: 'long', name: 'long', version: '1.0.0', owner: node.user.did, steps }
  await node.engine.createFlow(flow as never, { actor: { did: node.user.did, credentials: { token: await node.token() } } })
  const tokens = await Promise.all(Array.from({ length: count }, () => node.token()))
  let next = 0
  return () => node.engine.run('long', { n: 1 }, { actor: { did: node.user.did, credentials: { token: tokens[next++] as string } } })
}

/**
 * Runs `executions` executions one at a time and returns each one's time per step (start to
 * result over its 21 steps), in ms, sorted. Step completion events cannot time steps: pure steps'
 * completions are written, and announced, together with a later entry.
 */
async function stepTimes(run: () => Promise<unknown>, executions: number): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < executions; i++) {
    const t0 = performance.now()
    await run()
    times.push((performance.now() - t0) / 21)
  }
  return times.sort((a, b) => a - b)
}

/**
 * Per-step cost on a 21-step flow, so the start's token check and indexing are spread thin:
 * main-thread busy time per step (event-loop utilisation × wall time / steps) at 64 executions in
 * flight; the time per step of one execution run alone (start to result / 21), which includes
 * waiting for its entries to be durable (the start's, and those the pure steps' completions ride
 * on); and the same on a `memory` store, where nothing waits for a disk, so a step's time is the
 * engine's own overhead (pipeline, expression, encryption, batch signature, log append).
 */
async function perStep(): Promise<Measurement[]> {
  const measurements: Measurement[] = []
  const node = await benchNode('batched')
  try {
    const total = 600
    const run = await longFlow(node, total + 250)
    for (let i = 0; i < 50; i++) await run()
    const elu0 = performance.eventLoopUtilization()
    const t0 = performance.now()
    let started = 0
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (started++ < total) await run()
      })
    )
    const wall = performance.now() - t0
    const busyUsPerStep = (performance.eventLoopUtilization(elu0).utilization * wall * 1000) / (total * 21)
    const perStepMs = await stepTimes(run, 150)
    measurements.push(
      {
        name: '21-step flow, 64 in flight: main-thread time per step',
        samples: total * 21,
        medianUs: busyUsPerStep,
        p99Us: Number.NaN,
        opsPerSec: (total * 21 * 1000) / wall,
        extra: { targetUs: 300, note: 'mean busy time; ops/s = steps/s' }
      },
      {
        name: '21-step flow, one execution at a time: time per step',
        samples: perStepMs.length,
        medianUs: percentile(perStepMs, 50) * 1000,
        p99Us: percentile(perStepMs, 99) * 1000,
        opsPerSec: 1000 / percentile(perStepMs, 50),
        extra: { note: 'execution time / 21, start and durable commits (batched group commit) included' }
      }
    )
  } finally {
    await node.close()
  }
  const memory = await benchNode('memory')
  try {
    const run = await longFlow(memory, 450)
    for (let i = 0; i < 50; i++) await run()
    const perStepMs = await stepTimes(run, 300)
    measurements.push({
      name: '21-step flow, one at a time, memory store: engine overhead per step',
      samples: perStepMs.length,
      medianUs: percentile(perStepMs, 50) * 1000,
      p99Us: percentile(perStepMs, 99) * 1000,
      opsPerSec: 1000 / percentile(perStepMs, 50),
      extra: { targetUs: 300, note: 'execution time / 21 with no disk to wait for' }
    })
  } finally {
    await memory.close()
  }
  return measurements
}

export default async function bench(): Promise<Measurement[]> {
  // Throughput is bounded by commit latency at low concurrency (each execution waits for its
  // start's group commit, then for the one its pure steps ride on) and by CPU at high: 512 in
  // flight is where this machine peaks.
  return [
    await throughput('batched', 4000, 64),
    await throughput('batched', 8000, 512),
    await throughput('fsync', 1000, 64),
    await throughput('fsync', 4000, 512),
    ...(await perStep())
  ]
}
