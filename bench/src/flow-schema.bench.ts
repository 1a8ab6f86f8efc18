import { performance } from 'node:perf_hooks'
import { compileExpression, compileFastExpression, FAST_PATH_DECLINED, type Flow, flowHash, loadFlow, parseFlow, validateFlow } from '@qflow/flow-schema'
import { type Measurement, measure, measureSync } from './harness.js'

/**
 * A typical 20-step flow as YAML (about 5 KB): HTTP tasks with templated params and retry policies,
 * a condition, a parallel step with three branches, module calls, a transform, an event wait and
 * logs. `n` varies the flow's id, version and expressions; with `sharedExpressions` only the id and
 * version vary, so the JSONata compile cache is warm.
 */
export function typicalFlowYaml(n = 0, sharedExpressions = false): string {
  const flowN = n
  if (sharedExpressions) n = 0
  const steps: string[] = []
  const http = (id: string, path: string): string => `  - id: ${id}
    type: task
    name: Fetch ${path}
    action: http.request
    params:
      url: "{{ 'https://api.example.com/${path}/' & input.orderId & '?v=${n}' }}"
      method: GET
      headers:
        accept: application/json
        x-request-id: "{{ $runId & '-${id}' }}"
    timeout: 30000
    retryPolicy:
      maxAttempts: 3
      backoff: exponential
      initialDelay: 200
      maxDelay: 5000
      jitter: true`
  const log = (id: string, message: string): string => `  - id: ${id}
    type: task
    action: log
    params:
      level: info
      message: "{{ '${message} ' & $string(input.orderId + ${n}) }}"`
  steps.push(http('fetch-order', 'orders'), http('fetch-customer', 'customers'), http('fetch-stock', 'stock'))
  steps.push(`  - id: enrich
    type: task
    action: data.transform
    params:
      expression: "{ 'order': $.order, 'total': $sum($.order.lines.(price * qty)) + ${n} }"`)
  steps.push(`  - id: big-order
    type: condition
    expression: "total > ${100 + n}"
    onTrue: fan-out
    onFalse: small-order-log`)
  steps.push(log('small-order-log', 'small order'))
  steps.push(`  - id: notify-small
    type: module-call
    module: qmail
    operation: send
    params:
      to: "{{ customer.email }}"
      template: small-order
    onSuccess: archive`)
  steps.push(`  - id: fan-out
    type: parallel
    branches:
      - [reserve-stock, confirm-stock]
      - [charge, receipt]
      - [mail-vip]
    join: all
    onSuccess: archive
    onFailure: alert`)
  steps.push(http('reserve-stock', 'reserve'), log('confirm-stock', 'stock reserved'))
  steps.push(http('charge', 'payments'), log('receipt', 'charged'))
  steps.push(`  - id: mail-vip
    type: module-call
    module: qmail
    operation: send
    params:
      to: "{{ customer.email }}"
      template: vip-order
      data:
        order: "{{ order.id }}"
        n: ${n}`)
  steps.push(`  - id: alert
    type: module-call
    module: qchat
    operation: post
    params:
      channel: ops
      text: "{{ 'order failed: ' & input.orderId }}"
    onSuccess: archive`)
  steps.push(`  - id: archive
    type: task
    action: http.request
    params:
      url: https://archive.example.com/orders
      method: POST
      body: "{{ $ }}"
    resourceLimits:
      memoryMB: 128
      timeoutMs: 10000`)
  steps.push(log('log-1', 'archived'), log('log-2', 'audited'))
  steps.push(`  - id: wait-ack
    type: event-trigger
    event: q.qmail.delivered.v1
    filter: "messageId = '${n}'"
    timeout: 86400000
    onTimeout: give-up`)
  steps.push(log('done', 'done'))
  steps.push(log('give-up', 'no ack'))
  return `id: order-fulfilment-${flowN}
name: Order fulfilment
version: 1.4.${flowN}
owner: did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK
description: Fetches an order, charges it, reserves stock and notifies the customer.
metadata:
  tags: [orders, payments]
  category: commerce
  visibility: dao-only
  daoSubnet: shops
  requiredPermissions: [orders:read, payments:charge]
triggers:
  - id: order-webhook
    type: webhook
    auth:
      scheme: standard-webhooks
      secretRef: shop-webhook
    respond: on-receipt
  - id: nightly
    type: schedule
    cron: "0 3 * * MON-FRI"
    timezone: Europe/Madrid
inputSchema:
  type: object
  required: [orderId]
  properties:
    orderId:
      type: integer
      minimum: 1
steps:
${steps.join('\n')}
`
}

/** A valid flow of `n` steps: a chain of tasks, with a condition and a parallel step every 100 steps. */
export function chainFlow(n: number): Flow {
  const steps: Record<string, unknown>[] = []
  for (let i = 0; i < n; i++) {
    if (i % 100 === 50 && i + 3 < n) {
      steps.push({ id: `s${i}`, type: 'parallel', branches: [[`s${i + 1}`], [`s${i + 2}`]], join: 'all' })
    } else if (i % 100 === 20 && i + 2 < n) {
      steps.push({ id: `s${i}`, type: 'condition', expression: `x > ${i % 7}`, onTrue: `s${i + 1}`, onFalse: `s${i + 2}` })
    } else {
      steps.push({ id: `s${i}`, type: 'task', action: 'log', params: { message: `{{ 'step ' & ${i % 10} }}`, level: 'info' }, timeout: 1000 })
    }
  }
  return { id: `chain-${n}`, name: 'Chain', version: '1.0.0', owner: 'squid:bench', steps } as unknown as Flow
}

function timeOnce(fn: () => unknown, repeats: number): number {
  fn()
  const t0 = performance.now()
  for (let i = 0; i < repeats; i++) fn()
  return (performance.now() - t0) / repeats
}

export default async function bench(): Promise<Measurement[]> {
  const results: Measurement[] = []
  const text = typicalFlowYaml()
  const check = validateFlow(parseFlow(text))
  if (!check.valid) throw new Error(`bench flow is invalid: ${JSON.stringify(check.errors)}`)

  const same = measureSync('parse + validate a 20-step YAML flow (same text)', () => loadFlow(text), { warmup: 500, iterations: 10_000 })
  same.extra = { bytes: text.length, target: '>= 5000/s', pass: same.opsPerSec >= 5000 ? 'yes' : 'no' }
  results.push(same)

  const sharedTexts = Array.from({ length: 4000 }, (_, i) => typicalFlowYaml(i + 1, true))
  let j = 0
  const shared = measureSync('parse + validate a 20-step YAML flow (4,000 texts, shared expressions)', () => loadFlow(sharedTexts[j++ % sharedTexts.length] as string), {
    warmup: 0,
    iterations: 4000
  })
  shared.extra = { target: '>= 5000/s', pass: shared.opsPerSec >= 5000 ? 'yes' : 'no', note: 'new documents, expressions already compiled' }
  results.push(shared)

  const distinct = Array.from({ length: 4000 }, (_, i) => typicalFlowYaml(i + 1))
  let k = 0
  const varied = measureSync('parse + validate a 20-step YAML flow (4,000 texts, new expressions)', () => loadFlow(distinct[k++ % distinct.length] as string), {
    warmup: 0,
    iterations: 4000
  })
  varied.extra = { note: 'each text has 19 JSONata expressions never seen before: compiled by jsonata' }
  results.push(varied)

  const expressions = Array.from({ length: 20_000 }, (_, i) => `{ 'order': $.order, 'total': $sum($.order.lines.(price * qty)) + ${i} }`)
  let e = 0
  results.push(measureSync('  compile one new JSONata expression (jsonata 2.2.2)', () => compileExpression(expressions[e++] as string), { warmup: 0, iterations: 20_000 }))

  const yamlOnly = measureSync('  parse only (fast YAML path)', () => parseFlow(text), { iterations: 10_000 })
  results.push(yamlOnly)
  // an anchor is outside the fast subset: this text goes through the full yaml parser
  const slowText = `${text}x-note: &note fallback\n`
  const yamlLib = measureSync('  parse only (full yaml parser fallback, for reference)', () => parseFlow(slowText), { warmup: 50, iterations: 500 })
  results.push(yamlLib)
  const parsed = parseFlow(text)
  results.push(measureSync('  validate only (parsed 20-step flow)', () => validateFlow(parsed), { iterations: 10_000 }))
  const json = JSON.stringify(parsed)
  results.push(measureSync('parse + validate the same flow as JSON', () => loadFlow(json), { iterations: 10_000 }))

  const flow = parsed as Flow
  const hash = measureSync('canonicalize + hash the typical 20-step flow (flowHash)', () => flowHash(flow), { warmup: 1000, iterations: 20_000 })
  hash.extra = { canonicalBytes: new TextEncoder().encode(JSON.stringify(flow)).length, target: '>= 20000/s', pass: hash.opsPerSec >= 20_000 ? 'yes' : 'no' }
  results.push(hash)
  // the 20-step document of canonical-json.bench.ts, as a flow
  const compact = {
    id: 'bench',
    name: 'Bench',
    version: '1.0.0',
    owner: 'squid:bench',
    steps: Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, type: 'task', action: 'log', params: { message: `step ${i}`, n: i } }))
  } as unknown as Flow
  const compactHash = measureSync('canonicalize + hash a compact 20-step flow (flowHash)', () => flowHash(compact), { warmup: 1000, iterations: 20_000 })
  compactHash.extra = { canonicalBytes: JSON.stringify(compact).length, target: '>= 20000/s', pass: compactHash.opsPerSec >= 20_000 ? 'yes' : 'no' }
  results.push(compactHash)

  const sizes = [1_000, 10_000, 100_000]
  const perStep: number[] = []
  for (const n of sizes) {
    const big = chainFlow(n)
    const repeats = n >= 100_000 ? 3 : n >= 10_000 ? 5 : 20
    const result = validateFlow(big)
    if (!result.valid) throw new Error(`chain flow ${n} invalid: ${JSON.stringify(result.errors.slice(0, 3))}`)
    const ms = timeOnce(() => validateFlow(big), repeats)
    perStep.push((ms * 1000) / n)
    results.push({
      name: `validate a ${n.toLocaleString('en-US')}-step flow`,
      samples: repeats,
      medianUs: ms * 1000,
      p99Us: ms * 1000,
      opsPerSec: 1000 / ms,
      extra: { ms: Number(ms.toFixed(1)), usPerStep: Number(((ms * 1000) / n).toFixed(2)), ...(n === 10_000 ? { target: '< 1000 ms', pass: ms < 1000 ? 'yes' : 'no' } : {}) }
    })
  }
  const last = results[results.length - 1] as Measurement
  last.extra = { ...last.extra, linearity: `µs/step 1k:10k:100k = ${perStep.map((x) => x.toFixed(2)).join(':')}` }
  // The webhook bench's summary step, over the scope the engine gives it (a ~1 KiB order).
  const summary = '{ "orderId": steps.receive.output.id, "lines": $count(steps.receive.output.items), "total": $sum(steps.receive.output.items.(qty * price)) }'
  const items = Array.from({ length: 14 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: `Item number ${i}`, qty: 1 + (i % 3), price: 9.5 + i }))
  const order = { id: 'ord-42', customer: { id: 'cus-7', email: 'buyer@example.com' }, currency: 'EUR', items }
  const scope = { input: { order }, steps: { receive: { output: order, status: 'succeeded' } }, execution: { id: 'e', startedAt: 0, actor: 'did:key:x' }, flow: { id: 'f', version: '1' } }
  const fast = compileFastExpression(summary)
  if (fast === undefined || fast(scope) === FAST_PATH_DECLINED) throw new Error('the summary expression left the fast path')
  const slow = compileExpression(summary)
  const byJsonata = await measure('evaluate the webhook summary expression with JSONata (async)', () => slow.evaluate(scope), { iterations: 20_000, warmup: 2_000 })
  const byFastPath = measureSync('  the same on the synchronous fast path', () => fast(scope), { iterations: 20_000, warmup: 2_000 })
  byFastPath.extra = { speedup: Math.round(byJsonata.medianUs / byFastPath.medianUs) }
  results.push(byJsonata, byFastPath)
  return results
}
