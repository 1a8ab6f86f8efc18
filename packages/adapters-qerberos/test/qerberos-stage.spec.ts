import { createPipeline, type Pipeline, PipelineHaltedError, passThroughStage, payloadDigest, qerberosStage } from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import { type QerberosMonitor, qerberos } from '../src/index.js'
import { alice, manualClock, mallory } from './fixtures/operations.js'

function pipelineWith(guard: QerberosMonitor): Pipeline {
  return createPipeline({
    stages: [passThroughStage('qlock'), passThroughStage('qonsent'), passThroughStage('qindex'), qerberosStage()({ qerberos: guard })]
  })
}

const base = { kind: 'exec.step', actor: alice, resource: 'qflow:flow:invoices', action: 'execute' } as const

describe("the pipeline's Qerberos stage over this Qerberos", () => {
  it('passes an ALLOW with the integrity report in the trace', async () => {
    const pipeline = pipelineWith(qerberos()())
    const payload = { total: 3 }
    const result = await pipeline.run({ ...base, payload, integrity: { expectedDigest: payloadDigest(payload) } })
    const entry = result.trace.find((e) => e.stage === 'qerberos')
    expect(entry?.verdict).toEqual({
      ok: true,
      details: { verdict: 'ALLOW', integrity: { ok: true, digest: payloadDigest(payload), failures: [] } }
    })
  })

  it('passes a WARN with the alerts in the details', async () => {
    const clock = manualClock()
    const guard = qerberos({ containment: { actions: [] } })({ now: clock.now })
    const pipeline = pipelineWith(guard)
    for (let i = 0; i < 300; i++) {
      await pipeline.run(base)
      clock.advance(2_000)
    }
    let warned: Readonly<Record<string, unknown>> | undefined
    for (let i = 0; i < 100 && warned === undefined; i++) {
      const result = await pipeline.run(base)
      const details = result.trace.find((e) => e.stage === 'qerberos')?.verdict.details
      if (details?.verdict === 'WARN') warned = details
      clock.advance(20)
    }
    const alerts = (warned?.alerts ?? []) as { metric: string; subject: string }[]
    expect(alerts.length).toBeGreaterThan(0)
    expect(alerts.map((a) => a.subject)).toContain(`actor:${alice.did}`)
  })

  it('halts a DENY with its code: a tampered payload', async () => {
    const pipeline = pipelineWith(qerberos()())
    const err = await pipeline.run({ ...base, payload: { total: 4 }, integrity: { expectedDigest: payloadDigest({ total: 3 }) } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PipelineHaltedError)
    expect((err as PipelineHaltedError).stage).toBe('qerberos')
    expect((err as PipelineHaltedError).code).toBe('DIGEST_MISMATCH')
    expect(((err as PipelineHaltedError).details.integrity as { failures: unknown[] }).failures).toHaveLength(1)
  })

  it('halts a DENY with its code: a blocked identity', async () => {
    const guard = qerberos()()
    guard.contain({ action: 'block-identity', target: mallory.did, reason: 'stolen key' })
    const pipeline = pipelineWith(guard)
    const err = await pipeline.run({ ...base, actor: mallory }).catch((e: unknown) => e)
    expect((err as PipelineHaltedError).code).toBe('IDENTITY_BLOCKED')
    expect((await pipeline.run(base)).trace).toHaveLength(4)
  })

  it('halts on a schema mismatch with the pointer in the details', async () => {
    const pipeline = pipelineWith(qerberos()())
    const err = await pipeline
      .run({ ...base, payload: { total: 'x' }, integrity: { schema: { type: 'object', properties: { total: { type: 'number' } } } } })
      .catch((e: unknown) => e)
    expect((err as PipelineHaltedError).code).toBe('SCHEMA_MISMATCH')
    const failures = ((err as PipelineHaltedError).details.integrity as { failures: { pointer?: string }[] }).failures
    expect(failures.map((f) => f.pointer)).toEqual(['/total'])
  })
})
