import type { AnomalyAlert } from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import { type ExecutionObservation, InvalidObservationError, qerberos } from '../src/index.js'
import { mulberry32, scoreDetection, syntheticStream } from './fixtures/synthetic-stream.js'

/** Steady traffic of one step: durations and sizes with ±10 % deterministic jitter, one run every `gapMs`. */
function steady(count: number, options: { start?: number; gapMs?: number; seed?: number; actor?: string; node?: string } = {}): ExecutionObservation[] {
  const rand = mulberry32(options.seed ?? 7)
  const start = options.start ?? 0
  const gap = options.gapMs ?? 1_000
  return Array.from({ length: count }, (_, i) => ({
    flowId: 'invoices',
    stepId: 'render',
    ...(options.actor === undefined ? {} : { actor: options.actor }),
    ...(options.node === undefined ? {} : { node: options.node }),
    durationMs: 100 * (0.9 + 0.2 * rand()),
    outputBytes: Math.round(2_000 * (0.9 + 0.2 * rand())),
    ok: true,
    at: start + i * gap
  }))
}

describe('observe: single-execution outliers', () => {
  it('stays quiet during warm-up, then flags a latency spike on the step with a severity by score', () => {
    const q = qerberos()()
    const early = q.observe({ flowId: 'invoices', stepId: 'render', durationMs: 1, outputBytes: 1, ok: true, at: 0 })
    expect(early).toEqual([])
    for (const o of steady(200, { start: 1_000 })) expect(q.observe(o)).toEqual([])
    const alerts = q.observe({ flowId: 'invoices', stepId: 'render', durationMs: 2_000, outputBytes: 2_000, ok: true, at: 300_000 })
    expect(alerts).toHaveLength(1)
    const [alert] = alerts as [AnomalyAlert]
    expect(alert).toMatchObject({ metric: 'duration', subject: 'step:invoices/render', observed: 2_000, at: 300_000 })
    expect(alert.expected).toBeGreaterThan(90)
    expect(alert.expected).toBeLessThan(110)
    // ln(2001/101) ≈ 2.99 over the 0.1 spread floor: far beyond the critical threshold.
    expect(alert.score).toBeGreaterThan(12)
    expect(alert.severity).toBe('critical')
    expect(alert.id).toMatch(/^alert-[0-9a-f]{20}$/)
  })

  it('grades severity by z-score thresholds', () => {
    const severityOf = (durationMs: number): string | undefined => {
      const q = qerberos({ anomaly: { minSpread: 0.1, thresholds: { low: 3, medium: 5, high: 7, critical: 9 } } })()
      for (const o of steady(200)) q.observe(o)
      return q.observe({ flowId: 'invoices', stepId: 'render', durationMs, outputBytes: 2_000, ok: true, at: 300_000 })[0]?.severity
    }
    // Baseline ≈ ln(101) with the 0.1 floor as spread: z ≈ 10·ln((1+d)/101).
    expect(severityOf(110)).toBeUndefined()
    expect(severityOf(150)).toBe('low')
    expect(severityOf(180)).toBe('medium')
    expect(severityOf(215)).toBe('high')
    expect(severityOf(300)).toBe('critical')
  })

  it('takes per-metric thresholds over the common ones', () => {
    const q = qerberos({ anomaly: { metricThresholds: { duration: { low: 40 } } } })()
    for (const o of steady(200)) q.observe(o)
    const alerts = q.observe({ flowId: 'invoices', stepId: 'render', durationMs: 2_000, outputBytes: 200_000, ok: true, at: 300_000 })
    expect(alerts.map((a) => a.metric)).toEqual(['output-size'])
  })

  it('flags output-size blowups, and raises an incident once until it clears or escalates', () => {
    const q = qerberos()()
    for (const o of steady(100)) q.observe(o)
    const big = { flowId: 'invoices', stepId: 'render', durationMs: 100, ok: true }
    expect(q.observe({ ...big, outputBytes: 4_000, at: 200_000 }).map((a) => [a.metric, a.severity])).toEqual([['output-size', 'medium']])
    expect(q.observe({ ...big, outputBytes: 4_000, at: 201_000 })).toEqual([])
    expect(q.observe({ ...big, outputBytes: 400_000, at: 202_000 }).map((a) => [a.metric, a.severity])).toEqual([['output-size', 'critical']])
    expect(q.observe({ ...big, outputBytes: 2_000, at: 203_000 })).toEqual([])
    expect(q.observe({ ...big, outputBytes: 4_000, at: 204_000 }).map((a) => a.metric)).toEqual(['output-size'])
  })

  it('keeps its baseline when outliers come (clipped updates)', () => {
    const q = qerberos()()
    for (const o of steady(200)) q.observe(o)
    const before = q.baseline('step:invoices/render')?.duration?.typicalMs as number
    for (let i = 0; i < 5; i++) q.observe({ flowId: 'invoices', stepId: 'render', durationMs: 60_000, outputBytes: 2_000, ok: true, at: 300_000 + i })
    const after = q.baseline('step:invoices/render')?.duration?.typicalMs as number
    expect(after / before).toBeLessThan(1.1)
  })

  it('judges whole runs on the flow when there is no step', () => {
    const q = qerberos()()
    for (let i = 0; i < 100; i++) q.observe({ flowId: 'etl', durationMs: 5_000 + (i % 7) * 100, outputBytes: 10, ok: true, at: i * 60_000 })
    const alerts = q.observe({ flowId: 'etl', durationMs: 90_000, outputBytes: 10, ok: true, at: 100 * 60_000 })
    expect(alerts.map((a) => [a.metric, a.subject])).toEqual([['duration', 'flow:etl']])
  })
})

describe('observe: error rates', () => {
  it('flags an error burst on the step, flow, identity and node', () => {
    const q = qerberos()()
    for (const o of steady(300, { actor: 'did:key:z6MkAlice', node: 'n1' })) q.observe(o)
    const raised: AnomalyAlert[] = []
    for (let i = 0; i < 8; i++) {
      raised.push(...q.observe({ flowId: 'invoices', stepId: 'render', actor: 'did:key:z6MkAlice', node: 'n1', durationMs: 100, outputBytes: 2_000, ok: false, at: 400_000 + i * 1_000 }))
    }
    const errorAlerts = raised.filter((a) => a.metric === 'error-rate')
    expect(new Set(errorAlerts.map((a) => a.subject))).toEqual(new Set(['step:invoices/render', 'flow:invoices', 'actor:did:key:z6MkAlice', 'node:n1']))
    // Against the 1 % floor (learned from 280 outcomes), 5 errors in 20 is still a ~1e-5 tail:
    // below 4.5σ. The sixth crosses.
    const first = errorAlerts.find((a) => a.subject === 'step:invoices/render') as AnomalyAlert
    expect(first.observed).toBeCloseTo(6 / 20)
    expect(first.expected).toBeCloseTo(0.01)
    expect(first.at).toBe(405_000)
  })

  it('does not flag errors at their usual rate', () => {
    const q = qerberos()()
    const rand = mulberry32(11)
    let alerts = 0
    for (let i = 0; i < 20_000; i++) {
      alerts += q.observe({ flowId: 'f', stepId: 's', durationMs: 50, outputBytes: 10, ok: rand() >= 0.05, at: i * 100 }).filter((a) => a.metric === 'error-rate').length
    }
    expect(alerts).toBe(0)
    expect(q.baseline('step:f/s')?.errorRate.baseline).toBeGreaterThan(0.04)
    expect(q.baseline('step:f/s')?.errorRate.baseline).toBeLessThan(0.06)
  })
})

describe('observe: run-rate bursts', () => {
  it('flags a burst of runs over the sliding window against the baseline rate', () => {
    const q = qerberos()()
    // One run every 2 s for 10 minutes: 5 per 10 s window.
    for (const o of steady(300, { gapMs: 2_000, actor: 'did:key:z6MkAlice' })) expect(q.observe(o).filter((a) => a.metric === 'run-rate')).toEqual([])
    expect(q.baseline('actor:did:key:z6MkAlice')?.runRate.perWindow).toBeCloseTo(5, 0)
    const raised: AnomalyAlert[] = []
    for (let i = 0; i < 100; i++) {
      raised.push(...q.observe({ flowId: 'invoices', stepId: 'render', actor: 'did:key:z6MkAlice', durationMs: 100, outputBytes: 2_000, ok: true, at: 600_000 + i * 50 }))
    }
    const actor = raised.filter((a) => a.metric === 'run-rate' && a.subject === 'actor:did:key:z6MkAlice')
    expect(actor.map((a) => a.severity)).toEqual(['low', 'medium', 'high', 'critical'])
    expect(actor[0]?.expected).toBeCloseTo(5, 0)
    expect(actor[3]?.observed).toBeGreaterThan(actor[0]?.observed as number)
  })

  it('needs minBurstRuns runs in the window', () => {
    const q = qerberos({ anomaly: { minBurstRuns: 50 } })()
    for (const o of steady(300, { gapMs: 2_000 })) q.observe(o)
    const raised = Array.from({ length: 40 }, (_, i) =>
      q.observe({ flowId: 'invoices', stepId: 'render', durationMs: 100, outputBytes: 2_000, ok: true, at: 600_000 + i * 50 })
    ).flat()
    expect(raised.filter((a) => a.metric === 'run-rate')).toEqual([])
  })

  it('lets a quiet gap decay the rate baseline', () => {
    const q = qerberos()()
    for (const o of steady(3_000, { gapMs: 100 })) q.observe(o)
    expect(q.baseline('flow:invoices')?.runRate.perWindow).toBeGreaterThan(95)
    q.observe({ flowId: 'invoices', stepId: 'render', durationMs: 100, outputBytes: 2_000, ok: true, at: 300_000 + 3_600_000 })
    expect(q.baseline('flow:invoices')?.runRate.perWindow).toBeLessThan(5)
    expect(q.baseline('flow:invoices')?.runRate.current).toBe(1)
  })
})

describe('observe: determinism and memory', () => {
  it('raises the same alerts, ids included, from the same stream', () => {
    const stream = syntheticStream({ seed: 5, durationMs: 20 * 60_000, quietMs: 10 * 60_000, latencySpikes: 5, outputBlowups: 5, errorBursts: 2, runBursts: 1 })
    const run = (): AnomalyAlert[] => {
      const q = qerberos()()
      return stream.observations.flatMap((o) => q.observe(o))
    }
    const first = run()
    expect(first.length).toBeGreaterThan(10)
    expect(run()).toEqual(first)
  })

  it('keeps at most maxSubjects baselines, dropping the least recently seen', () => {
    const q = qerberos({ anomaly: { maxSubjects: 100 } })()
    for (let i = 0; i < 1_000; i++) {
      q.observe({ flowId: 'hot', durationMs: 1, outputBytes: 1, ok: true, at: i })
      q.observe({ flowId: `cold-${i}`, durationMs: 1, outputBytes: 1, ok: true, at: i })
    }
    expect(q.stats().subjects).toBe(100)
    expect(q.baseline('flow:hot')?.errorRate.samples).toBe(1_000)
    expect(q.baseline('flow:cold-999')).toBeDefined()
    expect(q.baseline('flow:cold-0')).toBeUndefined()
  })
})

describe('observe: malformed observations', () => {
  const good: ExecutionObservation = { flowId: 'f', stepId: 's', durationMs: 1, outputBytes: 1, ok: true, at: 1 }
  const cases: [unknown, string][] = [
    [null, ''],
    ['obs', ''],
    [{ ...good, flowId: undefined }, 'flowId'],
    [{ ...good, flowId: '' }, 'flowId'],
    [{ ...good, flowId: 'x'.repeat(513) }, 'flowId'],
    [{ ...good, stepId: 7 }, 'stepId'],
    [{ ...good, actor: 'a\u0000b' }, 'actor'],
    [{ ...good, node: '' }, 'node'],
    [{ ...good, durationMs: Number.NaN }, 'durationMs'],
    [{ ...good, durationMs: -1 }, 'durationMs'],
    [{ ...good, durationMs: Number.POSITIVE_INFINITY }, 'durationMs'],
    [{ ...good, durationMs: '5' }, 'durationMs'],
    [{ ...good, outputBytes: -0.5 }, 'outputBytes'],
    [{ ...good, ok: 'yes' }, 'ok'],
    [{ ...good, at: Number.NaN }, 'at'],
    [{ ...good, at: -5 }, 'at']
  ]
  it.each(cases)('rejects %j naming the field', (observation, field) => {
    const q = qerberos()()
    try {
      q.observe(observation as ExecutionObservation)
      expect.unreachable()
    } catch (err) {
      expect((err as Error).name).toBe(InvalidObservationError.name)
      expect((err as InvalidObservationError).field).toBe(field)
    }
    expect(q.stats().recorded).toBe(0)
  })
})

describe('detection quality on a labelled synthetic stream (fixed seed)', () => {
  it('keeps precision and recall of the default thresholds at or above 0.95', () => {
    const stream = syntheticStream({ seed: 42, durationMs: 60 * 60_000, latencySpikes: 30, outputBlowups: 30, errorBursts: 10, runBursts: 6 })
    const q = qerberos()()
    const alerts = stream.observations.map((o) => q.observe(o))
    const score = scoreDetection(stream, alerts)
    expect(stream.events).toHaveLength(76)
    expect(score.precision).toBeGreaterThanOrEqual(0.95)
    expect(score.recall).toBeGreaterThanOrEqual(0.95)
    expect(score.detected['run-burst']).toBe(6)
    expect(score.detected['error-burst']).toBe(10)
  })

  it('loses precision when the thresholds are too low (the test can fail)', () => {
    const stream = syntheticStream({ seed: 42, durationMs: 60 * 60_000, latencySpikes: 30, outputBlowups: 30, errorBursts: 10, runBursts: 6 })
    const q = qerberos({ anomaly: { thresholds: { low: 2.5 } } })()
    const score = scoreDetection(stream, stream.observations.map((o) => q.observe(o)))
    expect(score.precision).toBeLessThan(0.8)
  })
})
