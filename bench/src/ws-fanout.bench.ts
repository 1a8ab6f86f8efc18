import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { issueToken } from '@qflow/adapters-squid'
import { createApiServer, createQflowNode, type QflowNode, type WsEndpoint, wsEndpoint } from '@qflow/node'
import { type Measurement, percentile } from './harness.js'

const SUBSCRIBERS = 1_000
/** Events one run of the 3-step flow emits (start and step pipeline runs, started, steps, completed). */
const EVENTS_PER_RUN = 9
/** Runs in the saturating phase, `CONCURRENCY` at a time. */
const SATURATING_RUNS = 300
const CONCURRENCY = 4
/** The paced phase: one run every `PACE_MS`, `PACED_RUNS` runs. */
const PACED_RUNS = 60
const PACE_MS = 100

const MB = 1024 * 1024

interface ChildDone {
  type: 'done'
  received: number
  latenciesMs: number[]
}

/** The subscriber process: 1,000 `ws` clients each subscribed to every event (see fixtures/ws-subscribers.mjs). */
function subscriberProcess(url: string, token: string) {
  const child = fork(fileURLToPath(new URL('./fixtures/ws-subscribers.mjs', import.meta.url)), [
    JSON.stringify({ url, token, subscribers: SUBSCRIBERS, sampleEvery: 20, connectConcurrency: 50 })
  ])
  const inbox: { type: string }[] = []
  let wake: (() => void) | undefined
  child.on('message', (message: { type: string }) => {
    inbox.push(message)
    wake?.()
  })
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the subscriber process exited with ${code}`))))
  exited.catch(() => undefined)
  return {
    async next<T>(): Promise<T> {
      while (inbox.length === 0) await Promise.race([new Promise<void>((resolve) => (wake = resolve)), exited])
      return inbox.shift() as T
    },
    expect(events: number): void {
      child.send({ type: 'expect', events })
    },
    async stop(): Promise<void> {
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.send({ type: 'exit' })
      await gone
    }
  }
}

/** Samples the node process's memory and the bytes queued on its sockets until stopped. */
function memorySampler(gateway: WsEndpoint['gateway']) {
  const first = process.memoryUsage()
  const peak = { rss: first.rss, heap: first.heapUsed, queued: 0 }
  const timer = setInterval(() => {
    const m = process.memoryUsage()
    peak.rss = Math.max(peak.rss, m.rss)
    peak.heap = Math.max(peak.heap, m.heapUsed)
    peak.queued = Math.max(peak.queued, gateway.stats().bufferedBytes)
  }, 25)
  return {
    stop() {
      clearInterval(timer)
      return peak
    }
  }
}

async function runFlow(node: QflowNode, n: number): Promise<void> {
  const result = await node.parts.engine.run('fanout', { n }, await node.asAdmin())
  if (result.status !== 'completed') throw new Error(`run ${result.executionId} ${result.status}`)
}

/**
 * WebSocket fan-out: a node (the API server with the WebSocket endpoint, in-memory durability)
 * runs a 3-step flow while 1,000 real `ws` clients in a child process are each subscribed to
 * every event. Two phases: runs as fast as the node goes (4 at a time), then one run every
 * 100 ms. Each reports event messages received by the clients per second (every event reached
 * every subscriber over the wall time from the first run to the last message received), the
 * delivery latency (event timestamp → arrival, ms resolution, every 20th client) as
 * median/p99, and the node's memory (RSS, heap, bytes queued on its sockets).
 */
export default async function wsFanout(): Promise<Measurement[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-bench-ws-'))
  const node = createQflowNode({ dataDir, durability: 'memory' })
  await node.start()
  let endpoint: WsEndpoint | undefined
  const server = await createApiServer(node, {
    logLevel: 'silent',
    defaultMetrics: false,
    plugins: [
      (ctx) => {
        endpoint = wsEndpoint(ctx, { maxConnections: SUBSCRIBERS + 10 })
        return endpoint.plugin
      }
    ]
  })
  const { url } = await server.listen({ host: '127.0.0.1', port: 0 })
  const gateway = (endpoint as WsEndpoint).gateway
  const { engine, admin } = node.parts
  const steps = [0, 1, 2].map((i) => ({ id: `s${i}`, type: 'task', action: 'data.transform', params: { expression: `input.n + ${i}` } }))
  await engine.createFlow({ id: 'fanout', name: 'fanout', version: '1.0.0', owner: admin.did, steps } as never, await node.asAdmin())
  // warm the engine up before anyone listens
  for (let i = 0; i < 50; i++) await runFlow(node, i)

  const idle = process.memoryUsage()
  const token = await issueToken(admin, { audience: 'qflow', ttlMs: 10 * 60_000 })
  const subscribers = subscriberProcess(`${url.replace('http', 'ws')}/api/v1/ws`, token)
  const measurements: Measurement[] = []
  try {
    await subscribers.next() // every client subscribed
    const connected = process.memoryUsage()
    let expected = 0

    const phase = async (name: string, drive: () => Promise<void>, extra: Record<string, number | string> = {}): Promise<void> => {
      const before = gateway.stats().hub
      const sampler = memorySampler(gateway)
      const elu0 = performance.eventLoopUtilization()
      const cpu0 = process.cpuUsage()
      const started = performance.now()
      await drive()
      const events = gateway.stats().hub.events - before.events
      expected += events
      subscribers.expect(expected)
      const done = await subscribers.next<ChildDone>()
      const elapsed = performance.now() - started
      const cpu = process.cpuUsage(cpu0)
      const busy = performance.eventLoopUtilization(elu0).utilization
      const peak = sampler.stop()
      const after = gateway.stats().hub
      const delivered = after.delivered - before.delivered
      const latencies = done.latenciesMs.sort((a, b) => a - b)
      measurements.push({
        name,
        samples: done.received,
        medianUs: percentile(latencies, 50) * 1000,
        p99Us: percentile(latencies, 99) * 1000,
        opsPerSec: (done.received * 1000) / elapsed,
        extra: {
          subscribers: SUBSCRIBERS,
          events,
          eventsPerSec: (events * 1000) / elapsed,
          everyEventToEverySubscriber: done.received === events * SUBSCRIBERS && delivered === events * SUBSCRIBERS ? 'yes' : 'NO',
          serialisationsPerEvent: (after.serialisations - before.serialisations) / events,
          laggingDrops: after.lagging - before.lagging,
          nodeCpuUsPerMessage: (cpu.user + cpu.system) / delivered,
          nodeEventLoopBusy: busy,
          rssIdleMB: idle.rss / MB,
          rssConnectedMB: connected.rss / MB,
          rssPeakMB: peak.rss / MB,
          heapIdleMB: idle.heapUsed / MB,
          heapConnectedMB: connected.heapUsed / MB,
          heapPeakMB: peak.heap / MB,
          queuedPeakMB: peak.queued / MB,
          ...extra
        }
      })
    }

    await phase(`fan-out to ${SUBSCRIBERS} ws subscribers, flat out (per message)`, async () => {
      let next = 0
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < SATURATING_RUNS) await runFlow(node, next++)
        })
      )
    })
    await phase(
      `fan-out to ${SUBSCRIBERS} ws subscribers, ${1000 / PACE_MS} runs/s (per message)`,
      async () => {
        const runs: Promise<void>[] = []
        for (let i = 0; i < PACED_RUNS; i++) {
          runs.push(runFlow(node, i))
          await sleep(PACE_MS)
        }
        await Promise.all(runs)
      },
      { pacedEventsPerSec: (EVENTS_PER_RUN * 1000) / PACE_MS }
    )
    const settled = process.memoryUsage()
    for (const m of measurements) Object.assign(m.extra ?? {}, { rssAfterMB: settled.rss / MB, heapAfterMB: settled.heapUsed / MB })
    return measurements
  } finally {
    await subscribers.stop()
    await server.close()
    await node.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
