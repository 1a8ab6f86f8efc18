import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Api, greetingFlow, startApi } from './api-fixture.js'

let api: Api

beforeAll(async () => {
  api = await startApi()
})

afterAll(async () => {
  await api?.close()
})

/** The value of one sample line of a Prometheus text answer, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const have = (match[2] ?? '').split(',').filter(Boolean).sort()
    if (wanted.every((w) => have.includes(w))) return Number(match[3])
  }
  return undefined
}

describe('health', () => {
  it('answers live and ready without a token, in the envelope', async () => {
    const live = await api.call('GET', '/health/live', { token: null })
    expect(live.status).toBe(200)
    expect(live.body).toMatchObject({ success: true, data: { status: 'live' } })
    const ready = await api.call('GET', '/health/ready', { token: null })
    expect(ready.status).toBe(200)
    expect(ready.body.data).toEqual({ status: 'ready', checks: { node: 'ok', api: 'ok' } })
  })
})

describe('GET /metrics', () => {
  it('counts requests by route and status, and executions started and completed', async () => {
    await api.call('POST', '/api/v1/flows', { body: greetingFlow('metered') })
    for (let i = 0; i < 3; i++) await api.call('POST', '/api/v1/flows/metered/start', { body: { input: { name: `m${i}` }, wait: true } })
    await api.call('GET', '/api/v1/flows/metered', { token: null })
    await api.call('GET', '/api/v1/flows/unknown-one')
    await api.call('GET', '/no/such/route', { token: null })

    const answer = await api.call('GET', '/metrics', { token: null })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = answer.text
    expect(sample(text, 'qflow_http_requests_total', { method: 'POST', route: '/api/v1/flows/:id/start', status: '200' })).toBe(3)
    expect(sample(text, 'qflow_http_requests_total', { method: 'POST', route: '/api/v1/flows', status: '201' })).toBe(1)
    expect(sample(text, 'qflow_http_requests_total', { method: 'GET', route: '/api/v1/flows/:id', status: '401' })).toBe(1)
    expect(sample(text, 'qflow_http_requests_total', { method: 'GET', route: '/api/v1/flows/:id', status: '404' })).toBe(1)
    // Unmatched paths share one label, so probing cannot blow up the series count.
    expect(sample(text, 'qflow_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' })).toBe(1)
    expect(sample(text, 'qflow_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/flows/:id/start', status: '200' })).toBe(3)
    expect(sample(text, 'qflow_executions_started_total', { trigger: 'api' })).toBe(3)
    expect(sample(text, 'qflow_executions_completed_total', { status: 'completed' })).toBe(3)
    expect(sample(text, 'qflow_process_resident_memory_bytes', {})).toBeGreaterThan(0)
    expect(text).toContain('# TYPE qflow_nodejs_eventloop_lag_seconds gauge')
  })

  it("reports the state store: its in-memory index, its log and its last checkpoint, as the store counts them", async () => {
    await api.node.parts.store.checkpoint()
    const stats = api.node.parts.store.stats()
    const text = (await api.call('GET', '/metrics', { token: null })).text
    expect(stats.blocks).toBeGreaterThan(0)
    expect(sample(text, 'qflow_state_index_blocks', {})).toBe(api.node.parts.store.stats().blocks)
    expect(sample(text, 'qflow_state_index_records', {})).toBe(api.node.parts.store.stats().records)
    expect(sample(text, 'qflow_state_log_segments', {})).toBe(stats.segments)
    expect(sample(text, 'qflow_state_log_bytes', {})).toBe(api.node.parts.store.stats().bytes)
    expect(sample(text, 'qflow_state_last_checkpoint_entries', {})).toBe(stats.lastCheckpoint?.entries)
    expect(sample(text, 'qflow_state_last_checkpoint_timestamp_seconds', {})).toBe((stats.lastCheckpoint?.at ?? 0) / 1000)
    expect(sample(text, 'qflow_state_uncheckpointed_bytes', {})).toBeGreaterThanOrEqual(0)
  })
})

describe('readiness of a stopping node', () => {
  it('answers 503 not-ready, and 503 UNAVAILABLE on the REST routes, once the node is stopped', async () => {
    const other = await startApi()
    try {
      await other.node.stop()
      const ready = await other.call('GET', '/health/ready', { token: null })
      expect(ready.status).toBe(503)
      expect(ready.body).toMatchObject({ success: true, data: { status: 'not-ready', checks: { node: 'failing', api: 'ok' } } })
      expect((await other.call('GET', '/health/live', { token: null })).status).toBe(200)
      const flows = await other.call('GET', '/api/v1/flows')
      expect([flows.status, flows.body.error.code]).toEqual([503, 'UNAVAILABLE'])
    } finally {
      await other.close()
    }
  })
})
