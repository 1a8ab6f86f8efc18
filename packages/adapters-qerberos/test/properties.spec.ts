import { canonicalBytes } from '@qflow/canonical-json'
import { type IntegrityExpectations, payloadDigest } from '@qflow/pipeline'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type ExecutionObservation, InvalidObservationError, qerberos } from '../src/index.js'
import { Ed25519Registry } from './fixtures/identity.js'
import { operation } from './fixtures/operations.js'

const SEVERITIES = ['low', 'medium', 'high', 'critical']
const CODES = ['DIGEST_MISMATCH', 'BAD_SIGNATURE', 'NO_SIGNATURE_VERIFIER', 'SCHEMA_MISMATCH', 'INVALID_SCHEMA', 'PAYLOAD_NOT_JSON', 'PAYLOAD_MISSING']

const registry = new Ed25519Registry()
const signer = registry.identity('Prop')
const reference = { id: 1, tags: ['a'] }
const expectations: IntegrityExpectations = {
  expectedDigest: payloadDigest(reference),
  signature: { alg: 'EdDSA', signer: signer.did, value: signer.sign(canonicalBytes(reference)) },
  schema: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, tags: { type: 'array', items: { type: 'string', maxLength: 8 } } } }
}

describe('hostile input never makes evaluation throw', () => {
  it('checkIntegrity reports on any payload', async () => {
    const q = qerberos()({ identity: registry })
    await fc.assert(
      fc.asyncProperty(fc.anything({ withBigInt: true, withTypedArray: true, withMap: true, withSet: true, withSparseArray: true }), async (payload) => {
        const report = await q.checkIntegrity(payload, expectations)
        expect(report.ok).toBe(false)
        for (const f of report.failures) expect(CODES).toContain(f.code)
      }),
      { numRuns: 300 }
    )
  })

  it('checkIntegrity reports on any JSON value used as a schema', async () => {
    const q = qerberos()()
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.jsonValue(), async (schema, payload) => {
        const valid = typeof schema === 'boolean' || (typeof schema === 'object' && schema !== null && !Array.isArray(schema))
        if (!valid) {
          await expect(q.checkIntegrity(payload, { schema: schema as never })).rejects.toHaveProperty('name', 'InvalidExpectationsError')
          return
        }
        const report = await q.checkIntegrity(payload, { schema: schema as never })
        for (const f of report.failures) expect(['SCHEMA_MISMATCH', 'INVALID_SCHEMA']).toContain(f.code)
      }),
      { numRuns: 300 }
    )
  })

  it('handles huge strings and deep nesting', async () => {
    const q = qerberos()()
    const huge = { text: 'x'.repeat(4 * 1024 * 1024) }
    expect((await q.checkIntegrity(huge, { expectedDigest: payloadDigest(huge), schema: expectations.schema as never })).failures.map((f) => f.code)).toEqual([
      'SCHEMA_MISMATCH'
    ])
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    const report = await q.checkIntegrity(deep, { schema: { type: 'array', items: { $ref: '#' } } })
    expect(report.failures.map((f) => f.code)).toEqual(['PAYLOAD_NOT_JSON', 'SCHEMA_MISMATCH'])
  })

  it('inspect answers any operation with a verdict', async () => {
    const q = qerberos()({ identity: registry })
    const hostileOperation = fc.record(
      {
        kind: fc.anything(),
        actor: fc.oneof(fc.anything(), fc.record({ did: fc.oneof(fc.string(), fc.anything()) })),
        resource: fc.oneof(fc.string(), fc.constant('qflow:flow:x'), fc.anything()),
        action: fc.anything(),
        payload: fc.anything({ withBigInt: true }),
        payloadDigest: fc.oneof(fc.string(), fc.anything()),
        integrity: fc.oneof(fc.anything(), fc.constant(expectations), fc.record({ expectedDigest: fc.string(), schema: fc.jsonValue() })),
        attributes: fc.oneof(fc.anything(), fc.record({ node: fc.anything(), flowId: fc.anything() }))
      },
      { requiredKeys: [] }
    )
    await fc.assert(
      fc.asyncProperty(hostileOperation, async (op) => {
        const verdict = await q.inspect(op as never)
        expect(['ALLOW', 'WARN', 'DENY']).toContain(verdict.verdict)
        if (verdict.verdict !== 'ALLOW') expect(typeof verdict.code).toBe('string')
      }),
      { numRuns: 500 }
    )
    expect(q.stats().auditRecords).toBe(500)
  })

  it('inspect of a well-formed operation with a long identity stays bounded', async () => {
    const q = qerberos({ anomaly: { maxSubjects: 10 } })()
    for (let i = 0; i < 50; i++) {
      expect((await q.inspect(operation({ actor: { did: `did:key:${'z'.repeat(100_000)}${i}` } }))).verdict).toBe('ALLOW')
    }
    expect(q.stats().subjects).toBeLessThanOrEqual(10)
  })
})

describe('observe on random streams', () => {
  const id = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\u0000'))
  const observation = fc.record(
    {
      flowId: id,
      stepId: id,
      actor: id,
      node: id,
      durationMs: fc.double({ min: 0, max: 1e12, noNaN: true }),
      outputBytes: fc.double({ min: 0, max: 1e15, noNaN: true }),
      ok: fc.boolean(),
      at: fc.double({ min: 0, max: 1e13, noNaN: true })
    },
    { requiredKeys: ['flowId', 'durationMs', 'outputBytes', 'ok', 'at'] }
  )

  it('raises only well-formed alerts on any valid stream', () => {
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 400 }), (stream) => {
        const q = qerberos({ anomaly: { warmup: 3, rateWarmupSlices: 2, minBurstRuns: 2 } })()
        for (const o of stream) {
          for (const alert of q.observe(o as ExecutionObservation)) {
            expect(SEVERITIES).toContain(alert.severity)
            expect(Number.isFinite(alert.score)).toBe(true)
            expect(Number.isFinite(alert.expected)).toBe(true)
            expect(alert.score).toBeGreaterThanOrEqual(4.5)
          }
        }
      }),
      { numRuns: 200 }
    )
  })

  it('rejects non-finite and negative numbers with InvalidObservationError', () => {
    const bad = fc.oneof(fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY), fc.constant(Number.NEGATIVE_INFINITY), fc.double({ max: -Number.MIN_VALUE }))
    fc.assert(
      fc.property(bad, fc.constantFrom('durationMs', 'outputBytes', 'at'), (value, field) => {
        const q = qerberos()()
        const o = { flowId: 'f', durationMs: 1, outputBytes: 1, ok: true, at: 1, [field]: value }
        expect(() => q.observe(o)).toThrow(InvalidObservationError)
        try {
          q.observe(o)
        } catch (err) {
          expect((err as InvalidObservationError).field).toBe(field)
        }
      }),
      { numRuns: 200 }
    )
  })
})
