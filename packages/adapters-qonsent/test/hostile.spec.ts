import type { ConsentRequest } from '@qflow/pipeline'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compileResourcePattern, createEmbeddedQonsent, type EmbeddedQonsent, validateGrant } from '../src/index.js'
import { ALICE, OWNER } from './fixtures/identities.js'

let qonsent: EmbeddedQonsent

beforeAll(async () => {
  qonsent = await createEmbeddedQonsent({ persistence: 'memory', auditRingSize: 16 })
  const grants = [
    { subject: ALICE, resource: 'qflow:flow:f1', actions: ['read'] },
    { subject: '*', resource: 'qflow:**', actions: ['read'], conditions: { subnet: 'dao-a', ipCidr: ['10.0.0.0/8', '::1/128'] } },
    { subject: 'did:*', resource: 'qflow:exec:a*b*c*', actions: ['*'], conditions: { match: { tier: [1, 'gold'] } } },
    { subject: '*', resource: '**', actions: ['admin'], effect: 'deny' as const, conditions: { dailyWindow: { from: '03:00', to: '03:01' } } },
    { subject: '*', resource: '(.*)+:[a-z]*:$^', actions: ['read'] }
  ]
  for (const [i, g] of grants.entries()) await qonsent.grant({ id: `g${i}`, grantedBy: OWNER, effect: 'allow', ...g })
})

afterAll(async () => {
  await qonsent.stop()
})

function expectDecision(decision: unknown): void {
  expect(decision).toMatchObject({ allowed: expect.any(Boolean), status: expect.stringMatching(/^(allowed|denied|expired)$/), reason: expect.any(String) })
}

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(':', '*', '.', '(', ')', '+', '?', '[', ']', '\\', '$', '^', '|', '{', '}', 'a'), maxLength: 200 }),
  fc.constantFrom('', '*', '**', ':', '::', 'qflow:flow:f1', 'qflow:exec:abc', '\ud800', '__proto__', 'constructor')
)

describe('hostile input', () => {
  it('never rejects a check, whatever the strings', async () => {
    await fc.assert(
      fc.asyncProperty(hostileString, hostileString, hostileString, async (subject, resource, action) => {
        expectDecision(await qonsent.check({ subject, resource, action }))
      }),
      { numRuns: 1_000 }
    )
  })

  it('never rejects a check, whatever the context', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (context) => {
        expectDecision(await qonsent.check({ subject: ALICE, resource: 'qflow:exec:abc', action: 'read', context: context as Record<string, unknown> }))
      }),
      { numRuns: 500 }
    )
  })

  it('denies requests that are not made of strings, or not objects at all', async () => {
    const odd = [null, undefined, 42, 'text', [], { subject: 1, resource: 'r', action: 'a' }, { subject: ALICE, resource: {}, action: 'read' }, { subject: ALICE, resource: 'qflow:flow:f1' }]
    for (const request of odd) {
      const decision = await qonsent.check(request as unknown as ConsentRequest)
      expect(decision).toMatchObject({ allowed: false, status: 'denied', reason: expect.stringMatching(/^Malformed consent request/) })
    }
    const trap = {
      get subject(): string {
        throw new Error('trap')
      },
      resource: 'r',
      action: 'a'
    }
    expect(await qonsent.check(trap as ConsentRequest)).toMatchObject({ allowed: false, reason: 'Malformed consent request: it cannot be read' })
    expect(qonsent.auditLog(1)[0]).toMatchObject({ actor: '<unreadable>', verdict: 'DENY' })
  })

  it('denies huge strings without matching them', async () => {
    const huge = `qflow:flow:${'a*'.repeat(500_000)}`
    const decision = await qonsent.check({ subject: ALICE, resource: huge, action: 'read' })
    expect(decision).toEqual({ allowed: false, status: 'denied', reason: 'Malformed consent request: the resource is longer than 4096 characters' })
    expect((await qonsent.check({ subject: 'x'.repeat(1e6), resource: 'qflow:flow:f1', action: 'read' })).reason).toContain('subject is longer')
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'r'.repeat(129) })).reason).toContain('action is longer')
    // Just under the limit, an adversarial resource is still matched (and the check completes).
    const long = `qflow:exec:${'a'.repeat(4_000)}`
    expect((await qonsent.check({ subject: 'did:x', resource: long, action: 'read' })).status).toBe('denied')
  })

  it('matches regular-expression metacharacters in patterns literally', async () => {
    expect((await qonsent.check({ subject: ALICE, resource: '(.*)+:[a-z]*:$^', action: 'read' })).grantId).toBe('g4')
    expect((await qonsent.check({ subject: ALICE, resource: 'anything:abc:$^', action: 'read' })).allowed).toBe(false)
  })

  it('gives only InvalidPatternError for random patterns', () => {
    fc.assert(
      fc.property(hostileString, (pattern) => {
        try {
          compileResourcePattern(pattern)
        } catch (err) {
          expect((err as Error).name).toBe('InvalidPatternError')
        }
      }),
      { numRuns: 2_000 }
    )
  })

  it('gives only InvalidGrantError for random grants', () => {
    const almost = fc.record(
      {
        id: fc.oneof(fc.string(), fc.anything()),
        subject: fc.oneof(hostileString, fc.anything()),
        resource: fc.oneof(hostileString, fc.anything()),
        actions: fc.oneof(fc.array(fc.oneof(fc.constantFrom('read', 'admin', '*'), fc.string())), fc.anything()),
        effect: fc.oneof(fc.constantFrom('allow', 'deny'), fc.anything()),
        grantedBy: fc.oneof(hostileString, fc.anything()),
        expiresAt: fc.anything(),
        conditions: fc.oneof(fc.dictionary(fc.constantFrom('subnet', 'timeWindow', 'dailyWindow', 'ipCidr', 'kind', 'match', 'x'), fc.anything()), fc.anything()),
        signature: fc.anything()
      },
      { requiredKeys: [] }
    )
    fc.assert(
      fc.property(fc.oneof(almost, fc.anything()), (grant) => {
        try {
          validateGrant(grant)
        } catch (err) {
          expect((err as Error).name).toBe('InvalidGrantError')
        }
      }),
      { numRuns: 2_000 }
    )
  })
})
