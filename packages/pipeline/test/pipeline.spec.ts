import { describe, expect, it } from 'vitest'
import {
  createOperationContext,
  createPipeline,
  MissingStageError,
  type OperationInput,
  type PipelineHaltedError,
  type PipelineStageV1,
  passThroughStage,
  payloadDigest,
  StageOrderError,
  type StageTraceEntry,
  UnsupportedStageVersionError
} from '../src/index.js'
import { actor, recordingStage } from './fixtures/stages.js'

const op = { kind: 'flow.create', actor, resource: 'qflow:flow:f1', action: 'write' } as const

async function halted(promise: Promise<unknown>): Promise<PipelineHaltedError> {
  try {
    await promise
  } catch (err) {
    return err as PipelineHaltedError
  }
  throw new Error('expected the pipeline to halt')
}

describe('createPipeline', () => {
  it('runs the four stages in canonical order, each seeing the ones before it', async () => {
    const calls: string[] = []
    const pipeline = createPipeline({
      stages: [
        recordingStage('qlock', calls, { ok: true, details: { identity: actor.did } }),
        recordingStage('qonsent', calls),
        recordingStage('qindex', calls),
        recordingStage('qerberos', calls)
      ],
      version: '2.3.0'
    })
    const result = await pipeline.run(op)
    expect(calls).toEqual([
      'qlock:flow.create:',
      'qonsent:flow.create:qlock',
      'qindex:flow.create:qlock,qonsent',
      'qerberos:flow.create:qlock,qonsent,qindex'
    ])
    expect(result.trace.map((e) => e.stage)).toEqual(['qlock', 'qonsent', 'qindex', 'qerberos'])
    expect(result.trace[0]?.verdict).toEqual({ ok: true, details: { identity: actor.did } })
    expect(result.trace.every((e) => e.durationMs >= 0)).toBe(true)
    expect(result.operation.pipelineVersion).toBe('2.3.0')
    expect(result.operation.traceId).toMatch(/^[0-9a-f-]{36}$/)
    expect(Object.isFrozen(result.operation)).toBe(true)
  })

  it('halts at the first failing stage with its code, reason, details and the trace so far', async () => {
    const calls: string[] = []
    const pipeline = createPipeline({
      stages: [
        recordingStage('qlock', calls),
        recordingStage('qonsent', calls, {
          ok: false,
          code: 'CONSENT_EXPIRED',
          reason: 'consent lapsed',
          details: { grantId: 'g1' },
          retryable: true
        }),
        recordingStage('qindex', calls),
        recordingStage('qerberos', calls)
      ]
    })
    const err = await halted(pipeline.run({ ...op, traceId: 'trace-1' }))
    expect(err.name).toBe('PipelineHaltedError')
    expect(err.stage).toBe('qonsent')
    expect(err.code).toBe('CONSENT_EXPIRED')
    expect(err.reason).toBe('consent lapsed')
    expect(err.details).toEqual({ grantId: 'g1' })
    expect(err.retryable).toBe(true)
    expect(err.operation.traceId).toBe('trace-1')
    expect(err.trace.map((e: StageTraceEntry) => [e.stage, e.verdict.ok])).toEqual([
      ['qlock', true],
      ['qonsent', false]
    ])
    expect(calls).toHaveLength(2)
  })

  it('turns a throwing stage into a halt that names the error', async () => {
    class TokenExpiredError extends Error {
      override name = 'TokenExpiredError'
    }
    const pipeline = createPipeline({
      stages: [
        {
          name: 'qlock',
          apiVersion: 1,
          evaluate: async () => {
            throw new TokenExpiredError('token expired at 12:00')
          }
        },
        passThroughStage('qonsent'),
        passThroughStage('qindex'),
        passThroughStage('qerberos')
      ]
    })
    const err = await halted(pipeline.run(op))
    expect(err.stage).toBe('qlock')
    expect(err.code).toBe('TOKEN_EXPIRED')
    expect(err.reason).toBe('token expired at 12:00')
    expect(err.details).toEqual({ error: 'TokenExpiredError' })
    expect((err.cause as Error).name).toBe('TokenExpiredError')
  })

  it('computes the payload digest over canonical bytes, whatever the key order', async () => {
    const pipeline = createPipeline({ stages: ['qlock', 'qonsent', 'qindex', 'qerberos'].map((n) => passThroughStage(n as 'qlock')) })
    const a = await pipeline.run({ ...op, payload: { b: 1, a: [1, 2] } })
    const b = await pipeline.run({ ...op, payload: { a: [1, 2], b: 1 } })
    expect(a.operation.payloadDigest).toBe(b.operation.payloadDigest)
    expect(a.operation.payloadDigest).toBe(payloadDigest({ a: [1, 2], b: 1 }))
    // openssl dgst -sha256 of the canonical text '{"a":[1,2],"b":1}', base64url
    expect(a.operation.payloadDigest).toBe('sha256-lKeGw2Yrx77rWY76fYy1jXvqJdbCdeqXhaAjD_H4wro')
  })

  it('builds an operation context with every field of the input and nothing else, frozen', () => {
    // Every field OperationInput declares: a field added to it and not copied fails this test.
    const full: { readonly [K in keyof Required<OperationInput>]: OperationInput[K] } = {
      kind: 'exec.start',
      actor,
      resource: 'qflow:flow:f1',
      action: 'execute',
      payload: { b: 1, a: [2] },
      payloadDigest: 'sha256-given',
      subnet: 'dao-1',
      traceId: 'trace-1',
      issuedAt: 1_700_000_000_000,
      index: { key: 'e1', kind: 'execution', owner: actor.did, createdAt: 1, updatedAt: 1 },
      integrity: { expectedDigest: 'sha256-x' },
      attributes: { executionId: 'e1' }
    }
    const context = createOperationContext(full as OperationInput, '9.9.9')
    expect(context).toEqual({ ...full, pipelineVersion: '9.9.9' })
    expect(Object.isFrozen(context)).toBe(true)
    // Absent fields stay absent; the digest and trace id are filled in.
    const bare = createOperationContext({ ...op, payload: { b: 1, a: [2] }, extra: 'dropped' } as OperationInput, '9.9.9')
    expect(Object.keys(bare).sort()).toEqual(['action', 'actor', 'issuedAt', 'kind', 'payload', 'payloadDigest', 'pipelineVersion', 'resource', 'traceId'])
    expect(bare.payloadDigest).toBe(payloadDigest({ a: [2], b: 1 }))
  })

  it('calls hooks in order and reports halts', async () => {
    const events: string[] = []
    const pipeline = createPipeline({
      stages: [
        passThroughStage('qlock'),
        passThroughStage('qonsent'),
        { name: 'qindex', apiVersion: 1, evaluate: () => ({ ok: false, code: 'INDEX_DOWN', reason: 'down', retryable: true }) },
        passThroughStage('qerberos')
      ],
      hooks: {
        onStageStart: (stage) => events.push(`start:${stage}`),
        onStageEnd: (entry) => events.push(`end:${entry.stage}:${entry.verdict.ok}`),
        onHalt: (err) => events.push(`halt:${err.stage}:${err.code}`)
      }
    })
    await halted(pipeline.run(op))
    expect(events).toEqual([
      'start:qlock',
      'end:qlock:true',
      'start:qonsent',
      'end:qonsent:true',
      'start:qindex',
      'end:qindex:false',
      'halt:qindex:INDEX_DOWN'
    ])
  })

  it('stops between stages when aborted', async () => {
    const controller = new AbortController()
    const pipeline = createPipeline({
      stages: [
        {
          name: 'qlock',
          apiVersion: 1,
          evaluate: () => {
            controller.abort()
            return { ok: true }
          }
        },
        passThroughStage('qonsent'),
        passThroughStage('qindex'),
        passThroughStage('qerberos')
      ]
    })
    const err = await halted(pipeline.run(op, { signal: controller.signal }))
    expect(err.stage).toBe('qonsent')
    expect(err.code).toBe('ABORTED')
    expect(err.trace.map((e) => e.stage)).toEqual(['qlock'])
  })

  it('rejects a missing, misordered, extra or unsupported stage at construction', () => {
    const s = (n: string): PipelineStageV1 => passThroughStage(n as 'qlock')
    expect(() => createPipeline({ stages: [s('qlock'), s('qonsent'), s('qerberos')] })).toThrow(MissingStageError)
    try {
      createPipeline({ stages: [s('qlock'), s('qonsent'), s('qerberos')] })
    } catch (err) {
      expect((err as MissingStageError).name).toBe('MissingStageError')
      expect((err as MissingStageError).stage).toBe('qindex')
    }
    try {
      createPipeline({ stages: [s('qonsent'), s('qlock'), s('qindex'), s('qerberos')] })
      expect.unreachable()
    } catch (err) {
      expect((err as StageOrderError).name).toBe('StageOrderError')
      expect((err as StageOrderError).position).toBe(0)
      expect((err as StageOrderError).expected).toBe('qlock')
      expect((err as StageOrderError).found).toBe('qonsent')
    }
    expect(() => createPipeline({ stages: [s('qlock'), s('qonsent'), s('qindex'), s('qerberos'), s('qerberos')] })).toThrow(StageOrderError)
    const future = { name: 'qindex', apiVersion: 2, evaluate: () => ({ ok: true }) } as unknown as PipelineStageV1
    expect(() => createPipeline({ stages: [s('qlock'), s('qonsent'), future, s('qerberos')] })).toThrow(UnsupportedStageVersionError)
  })
})
