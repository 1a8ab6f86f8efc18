import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileResourcePattern, type ConsentGrant, createEmbeddedQonsent } from '../src/index.js'

// A model of the decision rules that scans every grant, to check the indexed evaluation against.
const NOW = 1_000_000

function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === '*') return true
  if (pattern.endsWith('*')) return subject.startsWith(pattern.slice(0, -1))
  return pattern === subject
}

function covers(grant: ConsentGrant, action: string): boolean {
  return grant.actions.includes('*') || grant.actions.includes(action) || (grant.effect === 'allow' && grant.actions.includes('admin'))
}

function conditionHolds(grant: ConsentGrant, context: Record<string, unknown>): boolean {
  const subnet = grant.conditions?.subnet
  return subnet === undefined || subnet === context.subnet
}

function model(grants: readonly ConsentGrant[], subject: string, resource: string, action: string, context: Record<string, unknown>) {
  const applicable = grants.filter(
    (g) => subjectMatches(g.subject, subject) && compileResourcePattern(g.resource).matches(resource) && covers(g, action) && conditionHolds(g, context)
  )
  const live = (g: ConsentGrant) => (g.expiresAt ?? Number.POSITIVE_INFINITY) > NOW
  const denies = applicable.filter((g) => g.effect === 'deny' && live(g))
  const allows = applicable.filter((g) => g.effect === 'allow' && live(g))
  const lapsed = applicable.filter((g) => g.effect === 'allow' && !live(g))
  if (denies.length > 0) return { status: 'denied', ids: denies.map((g) => g.id) }
  const longest = (list: ConsentGrant[]) => {
    const best = Math.max(...list.map((g) => g.expiresAt ?? Number.POSITIVE_INFINITY))
    return list.filter((g) => (g.expiresAt ?? Number.POSITIVE_INFINITY) === best).map((g) => g.id)
  }
  if (allows.length > 0) return { status: 'allowed', ids: longest(allows) }
  if (lapsed.length > 0) return { status: 'expired', ids: longest(lapsed) }
  return { status: 'denied', ids: [] as string[] }
}

const segment = fc.constantFrom('qflow', 'flow', 'exec', 'f1', 'f2', 'x')
const patternSegment = fc.constantFrom('qflow', 'flow', 'exec', 'f1', 'f2', '*', 'f*', '*1')
const resourcePattern = fc
  .tuple(fc.array(patternSegment, { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([segments, rest]) => (rest ? [...segments, '**'] : segments).join(':'))
const resource = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join(':'))
const subjects = ['did:a', 'did:b', 'did:a:work', 'did:c']
const grantSubject = fc.constantFrom(...subjects, '*', 'did:a*', 'did:*')
const grantArb = fc.record({
  subject: grantSubject,
  resource: resourcePattern,
  actions: fc.subarray(['read', 'write', 'admin', '*'], { minLength: 1 }),
  effect: fc.constantFrom('allow', 'allow', 'deny') as fc.Arbitrary<'allow' | 'deny'>,
  expiresAt: fc.option(fc.constantFrom(NOW - 5, NOW, NOW + 5, NOW + 50), { nil: undefined }),
  subnet: fc.option(fc.constantFrom('s1', 's2'), { nil: undefined })
})
const requestArb = fc.record({
  subject: fc.constantFrom(...subjects),
  resource,
  action: fc.constantFrom('read', 'write', 'admin', 'execute'),
  subnet: fc.option(fc.constantFrom('s1', 's2'), { nil: undefined })
})

describe('indexed evaluation', () => {
  it('decides exactly as a full scan of the grants would', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(grantArb, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 10 }), fc.array(requestArb, { minLength: 1, maxLength: 20 }), async (specs, revokes, requests) => {
        const qonsent = await createEmbeddedQonsent({ persistence: 'memory', auditChecks: false }, { now: () => NOW })
        try {
          const grants: ConsentGrant[] = specs.map((spec, i) => ({
            id: `g${i}`,
            subject: spec.subject,
            resource: spec.resource,
            actions: spec.actions,
            effect: spec.effect,
            grantedBy: 'did:owner',
            ...(spec.expiresAt === undefined ? {} : { expiresAt: spec.expiresAt }),
            ...(spec.subnet === undefined ? {} : { conditions: { subnet: spec.subnet } })
          }))
          for (const g of grants) await qonsent.grant(g)
          const revoked = new Set(revokes.filter((i) => i < grants.length).map((i) => `g${i}`))
          for (const id of revoked) await qonsent.revoke(id, 'did:owner')
          const live = grants.filter((g) => !revoked.has(g.id))
          for (const r of requests) {
            const context = r.subnet === undefined ? {} : { subnet: r.subnet }
            const decision = await qonsent.check({ subject: r.subject, resource: r.resource, action: r.action, context })
            const expected = model(live, r.subject, r.resource, r.action, context)
            expect(decision.status).toBe(expected.status)
            expect(decision.allowed).toBe(expected.status === 'allowed')
            if (expected.ids.length > 0) expect(expected.ids).toContain(decision.grantId)
            else expect(decision.grantId).toBeUndefined()
          }
        } finally {
          await qonsent.stop()
        }
      }),
      { numRuns: 300 }
    )
  })
})
