import { fork } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createApiServer, createQflowNode } from '@qflow/node'
import { generateStandardWebhooksKeyPair, generateStandardWebhooksSecret } from '@qflow/webhooks'
import type { Measurement } from './harness.js'

/**
 * The shape of n8n's "single webhook" benchmark: a webhook-triggered 2-step flow (receive,
 * transform), 50 connections, a 1 KiB JSON body, against a node started in this process
 * (createQflowNode + createApiServer on 127.0.0.1, with the node's default durability, `fsync`,
 * unless WEBHOOK_BENCH_DURABILITY says `batched`). Every request carries a
 * fresh Standard Webhooks signature (autocannon runs in a child process, off the node's event
 * loop). Measured answering on receipt (202) and on completion (200 with the result); afterwards
 * every accepted execution is counted in the store: all must have completed.
 */

const CONNECTIONS = 50
const SECONDS = Number(process.env.WEBHOOK_BENCH_SECONDS ?? 10)
const WARMUP_SECONDS = Number(process.env.WEBHOOK_BENCH_WARMUP ?? 3)
// WEBHOOK_BENCH_RUNS: how many times each scenario runs (see the default export).
/** `v1` (HMAC, the default) or `v1a` (ed25519: the trigger holds the sender's `whpk_` key). */
const SCHEME = process.env.WEBHOOK_BENCH_SCHEME ?? 'v1'
if (SCHEME !== 'v1' && SCHEME !== 'v1a') throw new Error(`WEBHOOK_BENCH_SCHEME must be v1 or v1a, not ${SCHEME}`)
/** The node's durability: `fsync` (what `qflow node start` runs with) or `batched`. */
const DURABILITY = (process.env.WEBHOOK_BENCH_DURABILITY ?? 'fsync') as 'fsync' | 'batched'
if (DURABILITY !== 'fsync' && DURABILITY !== 'batched') throw new Error(`WEBHOOK_BENCH_DURABILITY must be fsync or batched, not ${DURABILITY as string}`)
const TARGET_RPS = 2200
const TARGET_P99_MS = 50
/** Where to write a CPU profile of the node's main thread during each scenario (warm-up and run), if set. */
const PROFILE_DIR = process.env.WEBHOOK_BENCH_PROFILE

/** Profiles this thread with the inspector until `stop` writes the profile. */
async function startProfile(): Promise<{ stop(path: string): Promise<void> }> {
  const session = new Session()
  session.connect()
  const post = (method: string, params?: Record<string, unknown>) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params, (err, result) => (err === null ? resolve(result) : reject(err))))
  await post('Profiler.enable')
  await post('Profiler.start')
  return {
    async stop(path) {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown }
      session.disconnect()
      await writeFile(path, JSON.stringify(profile))
    }
  }
}

/** A ~1 KiB JSON order. */
function orderBody(): string {
  const items = Array.from({ length: 14 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: `Item number ${i}`, qty: 1 + (i % 3), price: 9.5 + i }))
  const body = JSON.stringify({ order: { id: 'ord-42', customer: { id: 'cus-7', email: 'buyer@example.com' }, currency: 'EUR', items } })
  if (body.length < 960 || body.length > 1100) throw new Error(`body is ${body.length} bytes, not ~1 KiB`)
  return body
}

function flow(owner: string, respond: 'on-receipt' | 'on-completion'): Record<string, unknown> {
  return {
    id: 'webhook-bench',
    name: 'Webhook bench',
    version: '1.0.0',
    owner,
    triggers: [{ id: 'orders', type: 'webhook', auth: { scheme: 'standard-webhooks', secretRef: 'bench-secret' }, respond }],
    steps: [
      { id: 'receive', type: 'task', action: 'data.transform', params: { expression: '$.input.order' } },
      {
        id: 'transform',
        type: 'task',
        action: 'data.transform',
        params: { expression: '{ "orderId": steps.receive.output.id, "lines": $count(steps.receive.output.items), "total": $sum(steps.receive.output.items.(qty * price)) }' }
      }
    ]
  }
}

interface LoadResult {
  warmupAccepted: number
  accepted: number
  requestsPerSec: number
  total: number
  latency: { p50: number; p90: number; p99: number; max: number }
  statusCodes: Record<string, number>
  non2xx: number
  errors: number
  timeouts: number
  cpuMsPerRequest: number
}

function load(options: Record<string, unknown>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./fixtures/webhook-load.mjs', import.meta.url)), [], { stdio: 'inherit' })
    let result: LoadResult | undefined
    child.once('message', (message: LoadResult) => {
      result = message
    })
    child.once('error', reject)
    child.once('exit', (code) => (result === undefined ? reject(new Error(`load generator exited with ${code}`)) : resolve(result)))
    child.send(options)
  })
}

async function scenario(respond: 'on-receipt' | 'on-completion'): Promise<Measurement> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-webhook-bench-'))
  const node = createQflowNode({ dataDir, durability: DURABILITY })
  await node.start()
  const unlimited = { ratePerSecond: 1_000_000, burst: 1_000_000 }
  // The bench measures throughput: the rate limits (default 50/s per source) are lifted.
  const api = await createApiServer(node, { logLevel: 'silent', webhooks: { rateLimit: { source: unlimited, tenant: unlimited } } })
  try {
    const { url } = await api.listen({ host: '127.0.0.1', port: 0 })
    // The sender signs with `secret`; the node holds `stored` (the same HMAC secret, or the public half).
    const pair = SCHEME === 'v1a' ? generateStandardWebhooksKeyPair() : undefined
    const secret = pair?.secretKey ?? generateStandardWebhooksSecret()
    await node.parts.secrets.put('bench-secret', pair?.publicKey ?? secret)
    const { actor } = await node.asAdmin()
    await node.parts.engine.createFlow(flow(node.parts.admin.did, respond) as never, { actor })

    const profiler = PROFILE_DIR === undefined ? undefined : await startProfile()
    const elu0 = performance.eventLoopUtilization()
    const cpu0 = process.cpuUsage()
    const started = performance.now()
    const result = await load({ url, path: '/webhooks/webhook-bench/orders', scheme: SCHEME, secret, body: orderBody(), connections: CONNECTIONS, duration: SECONDS, warmup: WARMUP_SECONDS })
    const wall = performance.now() - started
    const elu = performance.eventLoopUtilization(elu0).utilization
    const cpu = process.cpuUsage(cpu0)
    if (profiler !== undefined && PROFILE_DIR !== undefined) await profiler.stop(join(PROFILE_DIR, `webhook-${respond}.cpuprofile`))

    // Let the runs accepted on receipt finish, then count every execution in the store.
    const deadline = Date.now() + 120_000
    while ((await node.parts.store.log.listExecutions({ status: ['running', 'paused'] })).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200))
    }
    // autocannon stops with a request in flight on each connection: those runs start but their
    // answers are not counted, so the store holds up to 2 × CONNECTIONS more than the 2xx counted.
    const all = await node.parts.store.log.listExecutions()
    const completed = all.filter((h) => h.status === 'completed').length
    const accepted = result.warmupAccepted + result.accepted
    const allCompleted = completed === all.length && all.length >= accepted
    const pass = result.requestsPerSec >= TARGET_RPS && result.latency.p99 < TARGET_P99_MS && allCompleted
    return {
      name: `webhook → 2-step flow, ${respond}, ${CONNECTIONS} conns, 1 KiB${SCHEME === 'v1' ? '' : `, ${SCHEME}`}${DURABILITY === 'fsync' ? '' : `, ${DURABILITY}`}`,
      samples: result.total,
      medianUs: result.latency.p50 * 1000,
      p99Us: result.latency.p99 * 1000,
      opsPerSec: result.requestsPerSec,
      extra: {
        p90Ms: result.latency.p90,
        maxMs: result.latency.max,
        statusCodes: JSON.stringify(result.statusCodes),
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        accepted,
        executionsStored: all.length,
        completed,
        allAcceptedCompleted: allCompleted ? 'yes' : 'no',
        // the node's main-thread busy share, and CPU of this process (main thread + the node's worker threads), over warm-up and run
        eventLoopBusy: elu,
        cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / Math.max(1, result.total + result.warmupAccepted),
        // the load generator's own CPU (a child process on the same two cores), over the run
        loadGeneratorCpuMsPerRequest: result.cpuMsPerRequest,
        wallS: wall / 1000,
        targetRps: TARGET_RPS,
        targetP99Ms: TARGET_P99_MS,
        pass: pass ? 'yes' : 'no'
      }
    }
  } finally {
    await api.close()
    await node.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/**
 * Each scenario once, or `WEBHOOK_BENCH_RUNS` times with the two answers alternating (this
 * machine's speed drifts by 10-25% within an hour: one run of a change against one run before it
 * says little). Every run is reported, `run` numbering them.
 */
export default async function webhookBench(): Promise<Measurement[]> {
  const runs = Number(process.env.WEBHOOK_BENCH_RUNS ?? 1)
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`WEBHOOK_BENCH_RUNS must be a positive integer, not ${process.env.WEBHOOK_BENCH_RUNS}`)
  const results: Measurement[] = []
  for (let run = 1; run <= runs; run++) {
    for (const respond of ['on-receipt', 'on-completion'] as const) {
      const m = await scenario(respond)
      results.push(runs === 1 ? m : { ...m, name: `${m.name}, run ${run}` })
    }
  }
  return results
}
