import type { AnomalyAlert } from '@qflow/pipeline'
import { payloadDigest } from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import { type ContainmentDecision, InvalidContainmentError, qerberos } from '../src/index.js'
import { alice, manualClock, mallory, operation } from './fixtures/operations.js'

const schema = { type: 'object', required: ['total'], properties: { total: { type: 'number' } } }

describe('inspect: integrity', () => {
  it('allows an operation with no expectations', async () => {
    const q = qerberos()()
    expect(await q.inspect(operation({ payload: { total: 1 } }))).toEqual({ verdict: 'ALLOW' })
  })

  it('allows a payload that meets its expectations, with the report', async () => {
    const q = qerberos()()
    const payload = { total: 3 }
    const verdict = await q.inspect(operation({ payload, integrity: { expectedDigest: payloadDigest(payload), schema } }))
    expect(verdict).toEqual({ verdict: 'ALLOW', integrity: { ok: true, digest: payloadDigest(payload), failures: [] } })
  })

  it('denies with the first failure code and keeps every failure in the report', async () => {
    const q = qerberos()()
    const verdict = await q.inspect(operation({ payload: { total: 'x' }, integrity: { expectedDigest: payloadDigest({ total: 3 }), schema } }))
    expect(verdict.verdict).toBe('DENY')
    expect(verdict.code).toBe('DIGEST_MISMATCH')
    expect(verdict.integrity?.failures.map((f) => [f.code, f.pointer])).toEqual([
      ['DIGEST_MISMATCH', undefined],
      ['SCHEMA_MISMATCH', '/total']
    ])
  })

  it('compares digests when the operation carries only its payload digest', async () => {
    const q = qerberos()()
    const digest = payloadDigest({ total: 3 })
    expect((await q.inspect(operation({ payloadDigest: digest, integrity: { expectedDigest: digest } }))).verdict).toBe('ALLOW')
    const other = await q.inspect(operation({ payloadDigest: payloadDigest({ total: 4 }), integrity: { expectedDigest: digest } }))
    expect(other.code).toBe('DIGEST_MISMATCH')
    const needsPayload = await q.inspect(operation({ payloadDigest: digest, integrity: { schema } }))
    expect(needsPayload.code).toBe('PAYLOAD_MISSING')
    const nothing = await q.inspect(operation({ integrity: { expectedDigest: digest } }))
    expect(nothing.code).toBe('PAYLOAD_MISSING')
  })

  it("denies a payload that is not the operation's payloadDigest", async () => {
    const q = qerberos()()
    const verdict = await q.inspect(operation({ payload: { total: 3 }, payloadDigest: payloadDigest({ total: 4 }), integrity: { schema } }))
    expect(verdict.code).toBe('DIGEST_MISMATCH')
  })

  it('denies malformed expectations and malformed operations instead of throwing', async () => {
    const q = qerberos()()
    const bad = await q.inspect(operation({ payload: 1, integrity: { expectedDigest: 'nope' } }))
    expect(bad).toMatchObject({ verdict: 'DENY', code: 'INVALID_EXPECTATIONS' })
    for (const op of [null, {}, { actor: {}, resource: 'r' }, { actor: { did: 'did:key:z6MkA' } }]) {
      expect(await q.inspect(op as never)).toMatchObject({ verdict: 'DENY', code: 'INVALID_OPERATION' })
    }
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom')
        }
      }
    )
    expect(await q.inspect(hostile as never)).toMatchObject({ verdict: 'DENY', code: 'INSPECTION_FAILED' })
  })
})

describe('inspect: containment', () => {
  it('denies a blocked identity until the decision expires', async () => {
    const clock = manualClock()
    const q = qerberos()({ now: clock.now })
    const decision = q.contain({ action: 'block-identity', target: mallory.did, reason: 'stolen key', ttlMs: 60_000 })
    expect(decision).toMatchObject({ action: 'block-identity', target: mallory.did, reason: 'stolen key', at: clock.now(), expiresAt: clock.now() + 60_000 })
    const denied = await q.inspect(operation({ actor: mallory }))
    expect(denied).toMatchObject({ verdict: 'DENY', code: 'IDENTITY_BLOCKED' })
    expect(denied.reason).toContain('stolen key')
    expect((await q.inspect(operation({ actor: alice }))).verdict).toBe('ALLOW')
    clock.advance(60_000)
    expect((await q.inspect(operation({ actor: mallory }))).verdict).toBe('ALLOW')
    expect(q.activeDecisions()).toEqual([])
  })

  it('denies a paused flow by resource or flowId attribute, and a cordoned node', async () => {
    const q = qerberos()()
    q.contain({ action: 'pause-flow', target: 'invoices', reason: 'maintenance' })
    q.contain({ action: 'cordon-node', target: 'node-7', reason: 'disk errors' })
    expect((await q.inspect(operation({ resource: 'qflow:flow:invoices' }))).code).toBe('FLOW_PAUSED')
    expect((await q.inspect(operation({ resource: 'qflow:flow:invoices/step/render' }))).code).toBe('FLOW_PAUSED')
    expect((await q.inspect(operation({ resource: 'qflow:exec:42', attributes: { flowId: 'invoices' } }))).code).toBe('FLOW_PAUSED')
    expect((await q.inspect(operation({ resource: 'qflow:flow:payroll' }))).verdict).toBe('ALLOW')
    expect((await q.inspect(operation({ resource: 'qflow:flow:payroll', attributes: { node: 'node-7' } }))).code).toBe('NODE_CORDONED')
    expect((await q.inspect(operation({ resource: 'qflow:flow:payroll', attributes: { nodeId: 'node-7' } }))).code).toBe('NODE_CORDONED')
  })

  it('lifts a decision early, tells subscribers, and audits it', async () => {
    const q = qerberos()()
    const lifted: ContainmentDecision[] = []
    q.onLift((d) => lifted.push(d))
    const decision = q.contain({ action: 'pause-flow', target: 'invoices', reason: 'maintenance' })
    expect(q.lift(decision.id, 'done')).toBe(true)
    expect(q.lift(decision.id)).toBe(false)
    expect(q.lift('decision-unknown')).toBe(false)
    expect(lifted).toEqual([decision])
    expect((await q.inspect(operation())).verdict).toBe('ALLOW')
    expect(q.auditTrail().map((r) => [r.type, r.verdict, r.reason])).toEqual([
      ['decision', 'DENY', 'maintenance'],
      ['lift', 'ALLOW', 'done'],
      ['inspect', 'ALLOW', undefined]
    ])
  })

  it('rejects malformed manual decisions with InvalidContainmentError', () => {
    const q = qerberos()()
    const cases: [unknown, string][] = [
      [{ action: 'delete-flow', target: 'x', reason: 'r' }, 'action'],
      [{ action: 'pause-flow', target: '', reason: 'r' }, 'target'],
      [{ action: 'pause-flow', target: 'x', reason: '' }, 'reason'],
      [{ action: 'pause-flow', target: 'x', reason: 'r', ttlMs: -1 }, 'ttlMs'],
      [{ action: 'pause-flow', target: 'x', reason: 'r', ttlMs: Number.NaN }, 'ttlMs']
    ]
    for (const [request, field] of cases) {
      const err = (() => {
        try {
          q.contain(request as never)
        } catch (e) {
          return e
        }
      })()
      expect((err as Error).name).toBe(InvalidContainmentError.name)
      expect((err as InvalidContainmentError).field).toBe(field)
    }
    expect(q.activeDecisions()).toEqual([])
  })
})

describe('inspect: run-rate anomalies and automatic containment', () => {
  it('warns on a burst of operations, then blocks the identity when it turns critical', async () => {
    const clock = manualClock()
    const q = qerberos()({ now: clock.now })
    const decisions: ContainmentDecision[] = []
    const alerts: AnomalyAlert[] = []
    q.onDecision((d) => decisions.push(d))
    q.onAlert((a) => alerts.push(a))
    // Ten minutes of one operation every 2 s.
    for (let i = 0; i < 300; i++) {
      expect((await q.inspect(operation({ actor: mallory }))).verdict).toBe('ALLOW')
      clock.advance(2_000)
    }
    const verdicts = []
    for (let i = 0; i < 200; i++) {
      verdicts.push(await q.inspect(operation({ actor: mallory })))
      clock.advance(20)
    }
    const warned = verdicts.findIndex((v) => v.verdict === 'WARN')
    const denied = verdicts.findIndex((v) => v.verdict === 'DENY')
    expect(warned).toBeGreaterThan(0)
    expect(denied).toBeGreaterThan(warned)
    expect(verdicts[warned]).toMatchObject({ code: 'ANOMALY_DETECTED' })
    expect(verdicts[warned]?.alerts?.map((a) => [a.metric, a.subject, a.severity])).toContainEqual(['run-rate', `actor:${mallory.did}`, 'low'])
    expect(verdicts[denied]).toMatchObject({ verdict: 'DENY', code: 'IDENTITY_BLOCKED' })
    expect(verdicts.slice(denied).every((v) => v.code === 'IDENTITY_BLOCKED')).toBe(true)

    const block = decisions.find((d) => d.action === 'block-identity') as ContainmentDecision
    const cause = alerts.find((a) => a.id === block.alert) as AnomalyAlert
    expect(cause).toMatchObject({ metric: 'run-rate', subject: `actor:${mallory.did}`, severity: 'critical' })
    expect(block).toMatchObject({ target: mallory.did, severity: 'critical' })
    expect(block.expiresAt - block.at).toBe(10 * 60_000)
    // The flow saw the same burst and was paused too; Alice is blocked from it, not as herself.
    expect(decisions.map((d) => [d.action, d.target])).toContainEqual(['pause-flow', 'invoices'])
    expect((await q.inspect(operation({ actor: alice, resource: 'qflow:flow:other' }))).verdict).toBe('ALLOW')
    expect(q.auditTrail().filter((r) => r.type === 'decision').map((r) => r.ref)).toEqual(decisions.map((d) => d.target))
  })

  it('only alerts when containment is switched off', async () => {
    const clock = manualClock()
    const q = qerberos({ containment: { actions: [] } })({ now: clock.now })
    for (let i = 0; i < 300; i++) {
      await q.inspect(operation({ actor: mallory }))
      clock.advance(2_000)
    }
    const verdicts = []
    for (let i = 0; i < 200; i++) {
      verdicts.push((await q.inspect(operation({ actor: mallory }))).verdict)
      clock.advance(20)
    }
    expect(verdicts).toContain('WARN')
    expect(verdicts).not.toContain('DENY')
    expect(q.activeDecisions()).toEqual([])
  })

  it('contains observed anomalies at or above the configured severity, once per target', () => {
    const clock = manualClock()
    const q = qerberos({ containment: { minSeverity: 'medium', ttlMs: 5_000 } })({ now: clock.now })
    const decisions: ContainmentDecision[] = []
    const unsubscribe = q.onDecision((d) => decisions.push(d))
    for (let i = 0; i < 100; i++) q.observe({ flowId: 'etl', stepId: 'load', node: 'n1', durationMs: 100 + (i % 5), outputBytes: 500, ok: true, at: i * 1_000 })
    q.observe({ flowId: 'etl', stepId: 'load', node: 'n1', durationMs: 100, outputBytes: 50_000, ok: true, at: 100_000 })
    q.observe({ flowId: 'etl', stepId: 'load', node: 'n1', durationMs: 5_000, outputBytes: 500, ok: true, at: 101_000 })
    expect(decisions.map((d) => [d.action, d.target])).toEqual([['pause-flow', 'etl']])
    expect(decisions[0]?.reason).toMatch(/^output-size anomaly on step:etl\/load: observed 50000 where 5\d\d is usual/)
    clock.advance(5_000)
    unsubscribe()
    q.observe({ flowId: 'etl', stepId: 'load', node: 'n1', durationMs: 100, outputBytes: 500, ok: true, at: 102_000 })
    q.observe({ flowId: 'etl', stepId: 'load', node: 'n1', durationMs: 100, outputBytes: 90_000, ok: true, at: 103_000 })
    expect(decisions).toHaveLength(1)
    expect(q.activeDecisions().map((d) => d.action)).toEqual(['pause-flow'])
  })
})
