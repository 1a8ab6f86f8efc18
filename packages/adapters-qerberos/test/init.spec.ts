import { describe, expect, it } from 'vitest'
import { InvalidQerberosInitError, type QerberosInit, qerberos } from '../src/index.js'

describe('qerberos(init)', () => {
  it('works with no options and no components', async () => {
    const q = qerberos()()
    await q.start()
    expect(q.stats()).toEqual({ recorded: 0, subjects: 0, alerts: 0, activeDecisions: 0, schemas: 0, auditRecords: 0, auditPending: 0, auditDropped: 0 })
    await q.stop()
  })

  const cases: [QerberosInit, string][] = [
    [{ anomaly: { thresholds: { low: 0 } } }, 'anomaly.thresholds.low'],
    [{ anomaly: { thresholds: { low: 5, medium: 4 } } }, 'anomaly.thresholds'],
    [{ anomaly: { thresholds: { high: Number.NaN } } }, 'anomaly.thresholds.high'],
    [{ anomaly: { alpha: 1.5 } }, 'anomaly.alpha'],
    [{ anomaly: { warmup: 2.5 } }, 'anomaly.warmup'],
    [{ anomaly: { errorWindow: 31 } }, 'anomaly.errorWindow'],
    [{ anomaly: { errorWindow: 10, minErrors: 11 } }, 'anomaly.minErrors'],
    [{ anomaly: { rateWindowMs: -1 } }, 'anomaly.rateWindowMs'],
    [{ anomaly: { maxSubjects: 0 } }, 'anomaly.maxSubjects'],
    [{ containment: { minSeverity: 'severe' as never } }, 'containment.minSeverity'],
    [{ containment: { actions: ['shutdown' as never] } }, 'containment.actions'],
    [{ containment: { ttlMs: 0 } }, 'containment.ttlMs'],
    [{ audit: { capacity: -1 } }, 'audit.capacity'],
    [{ audit: { file: '' } }, 'audit.file'],
    [{ schemaCacheSize: 0 }, 'schemaCacheSize'],
    [{ anomaly: { metricThresholds: { latency: { low: 5 } } as never } }, 'anomaly.metricThresholds.latency'],
    [{ anomaly: { metricThresholds: { duration: { low: 7, high: 6 } } } }, 'anomaly.metricThresholds.duration']
  ]
  it.each(cases)('rejects %j', (init, option) => {
    try {
      qerberos(init)()
      expect.unreachable()
    } catch (err) {
      expect((err as Error).name).toBe(InvalidQerberosInitError.name)
      expect((err as InvalidQerberosInitError).option).toBe(option)
    }
  })

  it('rejects an identity component without verifySignature at construction', () => {
    expect(() => qerberos()({ identity: {} as never })).toThrow(InvalidQerberosInitError)
  })

  it('raises the default higher severities with a raised low threshold', () => {
    expect(() => qerberos({ anomaly: { thresholds: { low: 20 } } })()).not.toThrow()
  })
})
