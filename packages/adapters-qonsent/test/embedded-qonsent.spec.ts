import { afterEach, describe, expect, it } from 'vitest'
import {
  CONSENT_EXPIRED_EVENT,
  CONSENT_GRANTED_EVENT,
  CONSENT_REVOKED_EVENT,
  type ConsentChange,
  type ConsentGrant,
  changeAffects,
  createEmbeddedQonsent,
  type EmbeddedQonsent,
  type EmbeddedQonsentComponents,
  type EmbeddedQonsentInit,
  embeddedQonsent,
  signGrant
} from '../src/index.js'
import { ALICE, BOB, CAROL, OWNER, TestIdentities } from './fixtures/identities.js'

const T0 = Date.parse('2026-03-02T12:00:00Z')
const open: EmbeddedQonsent[] = []

/** A manual clock. */
function clock(start = T0): { now: () => number; set: (t: number) => void; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, set: (v) => (t = v), advance: (ms) => (t += ms) }
}

async function memoryQonsent(init: EmbeddedQonsentInit = {}, components: EmbeddedQonsentComponents = {}): Promise<EmbeddedQonsent> {
  const qonsent = await createEmbeddedQonsent({ persistence: 'memory', ...init }, components)
  open.push(qonsent)
  return qonsent
}

function grant(id: string, fields: Partial<ConsentGrant> = {}): ConsentGrant {
  return { id, subject: ALICE, resource: 'qflow:flow:f1', actions: ['read'], effect: 'allow', grantedBy: OWNER, ...fields }
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.stop()))
})

describe('embedded Qonsent: decisions', () => {
  it('allows what a grant names and denies the rest', async () => {
    const qonsent = await memoryQonsent()
    await qonsent.grant(grant('g1', { actions: ['read', 'execute'] }))
    expect(await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'execute' })).toEqual({
      allowed: true,
      status: 'allowed',
      reason: 'Allowed by grant g1',
      grantId: 'g1'
    })
    const denied = await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'write' })
    expect(denied).toMatchObject({ allowed: false, status: 'denied' })
    expect(denied.grantId).toBeUndefined()
    expect((await qonsent.check({ subject: BOB, resource: 'qflow:flow:f1', action: 'read' })).status).toBe('denied')
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f2', action: 'read' })).status).toBe('denied')
  })

  it('lets admin imply every action in allows, including modules’ own verbs', async () => {
    const qonsent = await memoryQonsent()
    await qonsent.grant(grant('owner', { actions: ['admin'] }))
    for (const action of ['read', 'write', 'execute', 'share', 'admin', 'qindex.reindex']) {
      expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action })).allowed).toBe(true)
    }
  })

  it('takes deny actions literally: a deny of admin blocks admin only, a deny of * blocks all', async () => {
    const qonsent = await memoryQonsent()
    await qonsent.grant(grant('owner', { actions: ['admin'] }))
    await qonsent.grant(grant('no-admin', { actions: ['admin'], effect: 'deny' }))
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'admin' })).grantId).toBe('no-admin')
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'write' })).allowed).toBe(true)
    await qonsent.grant(grant('nothing', { actions: ['*'], effect: 'deny' }))
    expect(await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'write' })).toMatchObject({ allowed: false, grantId: 'nothing' })
  })

  it('lets a deny rule override any allow, wildcards included', async () => {
    const qonsent = await memoryQonsent()
    await qonsent.grant(grant('all-flows', { resource: 'qflow:flow:*', actions: ['read'] }))
    await qonsent.grant(grant('everyone', { subject: '*', resource: 'qflow:**', actions: ['read'] }))
    await qonsent.grant(grant('not-secret', { subject: '*', resource: 'qflow:flow:secret-*', actions: ['*'], effect: 'deny' }))
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:public', action: 'read' })).allowed).toBe(true)
    const secret = await qonsent.check({ subject: ALICE, resource: 'qflow:flow:secret-1', action: 'read' })
    expect(secret).toEqual({ allowed: false, status: 'denied', reason: 'Denied by rule not-secret', grantId: 'not-secret' })
    expect((await qonsent.check({ subject: BOB, resource: 'qflow:exec:e1', action: 'read' })).grantId).toBe('everyone')
  })

  it('matches subjects exactly, by *, and by prefix (sub-identities)', async () => {
    const qonsent = await memoryQonsent()
    await qonsent.grant(grant('subs', { subject: 'did:squid:alice:*', resource: 'qflow:exec:*', actions: ['execute'] }))
    expect((await qonsent.check({ subject: 'did:squid:alice:work', resource: 'qflow:exec:e1', action: 'execute' })).allowed).toBe(true)
    expect((await qonsent.check({ subject: 'did:squid:alice', resource: 'qflow:exec:e1', action: 'execute' })).allowed).toBe(false)
    expect((await qonsent.check({ subject: 'did:squid:alicia:work', resource: 'qflow:exec:e1', action: 'execute' })).allowed).toBe(false)
  })

  it('reports a lapsed grant as expired (renewable), distinct from a denial', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({}, { now: time.now })
    await qonsent.grant(grant('short', { expiresAt: T0 + 60_000 }))
    expect(await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).toEqual({
      allowed: true,
      status: 'allowed',
      reason: 'Allowed by grant short',
      grantId: 'short',
      expiresAt: T0 + 60_000
    })
    time.advance(60_000)
    expect(await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).toEqual({
      allowed: false,
      status: 'expired',
      reason: 'Consent short expired at 2026-03-02T12:01:00.000Z; renew it to continue',
      grantId: 'short',
      expiresAt: T0 + 60_000
    })
    // An action the expired grant never covered is a plain denial.
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'write' })).status).toBe('denied')
    // A live grant next to the expired one decides.
    await qonsent.grant(grant('renewed', { expiresAt: T0 + 3_600_000 }))
    expect(await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).toMatchObject({ status: 'allowed', grantId: 'renewed' })
  })

  it('says denied, not expired, when a deny rule applies beside an expired allow', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({}, { now: time.now })
    await qonsent.grant(grant('short', { expiresAt: T0 + 1 }))
    await qonsent.grant(grant('block', { effect: 'deny' }))
    time.advance(10)
    expect(await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).toMatchObject({ status: 'denied', grantId: 'block' })
  })

  it('lets an expired deny rule lapse', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({}, { now: time.now })
    await qonsent.grant(grant('allow'))
    await qonsent.grant(grant('pause', { effect: 'deny', expiresAt: T0 + 1_000 }))
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).allowed).toBe(false)
    time.advance(1_000)
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).allowed).toBe(true)
  })

  it('picks the allow grant that lasts longest', async () => {
    const qonsent = await memoryQonsent({}, { now: () => T0 })
    await qonsent.grant(grant('a', { expiresAt: T0 + 10 }))
    await qonsent.grant(grant('b', { resource: 'qflow:flow:*' }))
    await qonsent.grant(grant('c', { expiresAt: T0 + 20 }))
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).grantId).toBe('b')
  })

  it('applies conditions to the check context, and explains what failed', async () => {
    const qonsent = await memoryQonsent({}, { now: () => T0 })
    await qonsent.grant(grant('dao-a', { conditions: { subnet: 'dao-a', ipCidr: '10.0.0.0/8' } }))
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read', context: { subnet: 'dao-a', clientIp: '10.1.1.1' } })).allowed).toBe(
      true
    )
    const outside = await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read', context: { subnet: 'dao-a', clientIp: '8.8.8.8' } })
    expect(outside.status).toBe('denied')
    expect(outside.reason).toContain("grant dao-a's ipCidr condition does not hold")
    const evaluation = qonsent.evaluate({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read', context: { subnet: 'dao-b' } })
    expect(evaluation.considered).toEqual([{ grantId: 'dao-a', effect: 'allow', outcome: 'conditions-unmet', failedCondition: 'subnet' }])
    expect(evaluation.evaluatedAt).toBe(T0)
  })

  it('lets a conditional deny rule apply only when its conditions hold', async () => {
    const qonsent = await memoryQonsent({}, { now: () => T0 })
    await qonsent.grant(grant('allow', { resource: 'qflow:**', actions: ['*'] }))
    await qonsent.grant(grant('no-night', { resource: 'qflow:**', actions: ['*'], effect: 'deny', conditions: { dailyWindow: { from: '22:00', to: '06:00' } } }))
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:exec:e', action: 'execute' })).allowed).toBe(true)
    const night = await memoryQonsent({}, { now: () => T0 + 11 * 3_600_000 })
    await night.grant(grant('allow', { resource: 'qflow:**', actions: ['*'] }))
    await night.grant(grant('no-night', { resource: 'qflow:**', actions: ['*'], effect: 'deny', conditions: { dailyWindow: { from: '22:00', to: '06:00' } } }))
    expect((await night.check({ subject: ALICE, resource: 'qflow:exec:e', action: 'execute' })).grantId).toBe('no-night')
  })

  it('fails closed when reading the context throws: deny rules apply, allows do not', async () => {
    const qonsent = await memoryQonsent()
    await qonsent.grant(grant('allow', { conditions: { subnet: 'dao-a' } }))
    const hostile = new Proxy(
      {},
      {
        has: () => {
          throw new Error('boom')
        },
        getOwnPropertyDescriptor: () => {
          throw new Error('boom')
        },
        get: () => {
          throw new Error('boom')
        }
      }
    )
    expect(await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read', context: hostile })).toMatchObject({ allowed: false, status: 'denied' })
    await qonsent.grant(grant('allow-plain', { subject: BOB }))
    await qonsent.grant(grant('deny-cond', { subject: BOB, effect: 'deny', conditions: { subnet: 'dao-x' } }))
    expect(await qonsent.check({ subject: BOB, resource: 'qflow:flow:f1', action: 'read', context: hostile })).toMatchObject({ allowed: false, grantId: 'deny-cond' })
  })

  it('explains every grant it weighed', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({}, { now: time.now })
    await qonsent.grant(grant('old', { expiresAt: T0 + 5 }))
    await qonsent.grant(grant('wild', { resource: 'qflow:flow:*', conditions: { subnet: 'x' } }))
    await qonsent.grant(grant('other-action', { actions: ['write'] }))
    time.advance(5)
    const evaluation = qonsent.evaluate({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })
    expect(evaluation.decision.status).toBe('expired')
    expect(evaluation.considered).toEqual([
      { grantId: 'old', effect: 'allow', outcome: 'expired', expiresAt: T0 + 5 },
      { grantId: 'wild', effect: 'allow', outcome: 'conditions-unmet', failedCondition: 'subnet' }
    ])
  })

  it('looks only at the grants indexed under the subject and the resource, not at all of them', async () => {
    const qonsent = await memoryQonsent({ auditChecks: false })
    const user = (i: number) => `did:key:z6MkUser${i}`
    for (let i = 0; i < 1_000; i++) {
      for (let j = 0; j < 10; j++) await qonsent.grant(grant(`u${i}-${j}`, { subject: user(i), resource: `qflow:flow:f${i * 10 + j}` }))
    }
    for (let k = 0; k < 100; k++) await qonsent.grant(grant(`pub-${k}`, { subject: '*', resource: `qflow:flow:pub-${k}` }))
    await qonsent.grant(grant('runs', { subject: user(7), resource: 'qflow:exec:*', actions: ['execute'] }))
    await qonsent.grant(grant('embargo', { subject: '*', resource: 'qflow:flow:secret-*', actions: ['*'], effect: 'deny' }))
    expect(qonsent.stats().grants).toBe(10_102)
    const exact = qonsent.evaluate({ subject: user(7), resource: 'qflow:flow:f73', action: 'read' })
    expect(exact.decision.grantId).toBe('u7-3')
    // Its own grant, and the embargo filed under the literal prefix qflow:flow.
    expect(exact.examined).toBe(2)
    const wildcard = qonsent.evaluate({ subject: user(7), resource: 'qflow:exec:e1', action: 'execute' })
    expect(wildcard.decision.grantId).toBe('runs')
    expect(wildcard.examined).toBe(1)
    const embargoed = qonsent.evaluate({ subject: user(8), resource: 'qflow:flow:secret-1', action: 'read' })
    expect(embargoed.decision.grantId).toBe('embargo')
    expect(embargoed.examined).toBe(1)
    expect(qonsent.evaluate({ subject: user(9), resource: 'qflow:exec:nothing', action: 'read' }).examined).toBe(0)
  })

  it('refuses to work before start and after stop', async () => {
    const qonsent = embeddedQonsent({ persistence: 'memory' })()
    await expect(qonsent.check({ subject: ALICE, resource: 'a', action: 'read' })).rejects.toMatchObject({ name: 'QonsentNotStartedError', retryable: true })
    await expect(qonsent.grant(grant('g'))).rejects.toMatchObject({ name: 'QonsentNotStartedError' })
    expect(() => qonsent.evaluate({ subject: ALICE, resource: 'a', action: 'read' })).toThrowError(expect.objectContaining({ name: 'QonsentNotStartedError' }))
    await qonsent.start()
    await qonsent.grant(grant('g'))
    await qonsent.stop()
    await expect(qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).rejects.toMatchObject({ name: 'QonsentNotStartedError' })
    // In memory mode the grants survive a restart of the same object.
    await qonsent.start()
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).allowed).toBe(true)
    await qonsent.stop()
  })
})

describe('embedded Qonsent: grants and revocation', () => {
  it('treats the same grant twice as one, and a different grant with the same id as an error', async () => {
    const qonsent = await memoryQonsent()
    const first = await qonsent.grant(grant('g1'))
    expect(await qonsent.grant(grant('g1'))).toBe(first)
    await expect(qonsent.grant(grant('g1', { actions: ['write'] }))).rejects.toMatchObject({ name: 'DuplicateGrantError', grantId: 'g1', revoked: false })
    expect(qonsent.list()).toHaveLength(1)
  })

  it('revokes, never reuses the id, and reports unknown ids', async () => {
    const qonsent = await memoryQonsent()
    await qonsent.grant(grant('g1'))
    const revoked = await qonsent.revoke('g1', OWNER, 'no longer needed')
    expect(revoked.id).toBe('g1')
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).allowed).toBe(false)
    expect(qonsent.get('g1')).toBeUndefined()
    await expect(qonsent.revoke('g1', OWNER)).rejects.toMatchObject({ name: 'GrantNotFoundError', message: 'Grant g1 was already revoked or purged' })
    await expect(qonsent.revoke('nope', OWNER)).rejects.toMatchObject({ name: 'GrantNotFoundError', grantId: 'nope' })
    await expect(qonsent.grant(grant('g1'))).rejects.toMatchObject({ name: 'DuplicateGrantError', revoked: true })
    await expect(qonsent.revoke('x', '')).rejects.toMatchObject({ name: 'InvalidGrantError', path: '/by' })
  })

  it('gives typed errors for malformed grants, adding nothing', async () => {
    const qonsent = await memoryQonsent()
    await expect(qonsent.grant({ ...grant('g1'), resource: 'qflow:**:x' })).rejects.toMatchObject({ name: 'InvalidGrantError', path: '/resource' })
    await expect(qonsent.grant({ ...grant('g1'), conditions: { subnet: 5 } } as unknown as ConsentGrant)).rejects.toMatchObject({
      name: 'InvalidGrantError',
      path: '/conditions/subnet'
    })
    expect(qonsent.stats().grants).toBe(0)
  })

  it('lists grants by subject, resource, effect and liveness', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({}, { now: time.now })
    await qonsent.grant(grant('a'))
    await qonsent.grant(grant('b', { subject: '*', resource: 'qflow:flow:*' }))
    await qonsent.grant(grant('c', { subject: BOB, effect: 'deny' }))
    await qonsent.grant(grant('d', { resource: 'qflow:exec:e', expiresAt: T0 + 1 }))
    time.advance(1)
    const ids = (filter: Parameters<EmbeddedQonsent['list']>[0]) => qonsent.list(filter).map((g) => g.id).sort()
    expect(ids({})).toEqual(['a', 'b', 'c', 'd'])
    expect(ids({ subject: ALICE })).toEqual(['a', 'b', 'd'])
    expect(ids({ subject: ALICE, includeExpired: false })).toEqual(['a', 'b'])
    expect(ids({ resource: 'qflow:flow:f1' })).toEqual(['a', 'b', 'c'])
    expect(ids({ effect: 'deny' })).toEqual(['c'])
  })

  it('requires good signatures when configured, and verifies given ones always', async () => {
    const identities = new TestIdentities()
    expect(() => embeddedQonsent({ persistence: 'memory', requireSignatures: true })()).toThrowError(
      expect.objectContaining({ name: 'MissingIdentityVerifierError' })
    )
    const strict = await memoryQonsent({ requireSignatures: true }, { identity: identities.verifier })
    await expect(strict.grant(grant('unsigned'))).rejects.toMatchObject({ name: 'GrantSignatureError', problem: 'missing' })
    const signed = await signGrant(grant('signed'), identities.signer(OWNER))
    await strict.grant(signed)
    expect((await strict.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).grantId).toBe('signed')
    await expect(strict.grant({ ...signed, id: 'tampered' })).rejects.toMatchObject({ name: 'GrantSignatureError', problem: 'invalid' })
    const forged = await signGrant(grant('forged', { grantedBy: BOB }), identities.signer(BOB))
    await expect(strict.grant({ ...forged, grantedBy: OWNER })).rejects.toMatchObject({ name: 'GrantSignatureError', problem: 'invalid' })
    const lax = await memoryQonsent({}, { identity: identities.verifier })
    await lax.grant(grant('unsigned'))
    await expect(lax.grant({ ...signed, actions: ['admin'] })).rejects.toMatchObject({ name: 'GrantSignatureError', problem: 'invalid' })
  })

  it('enforces grantor authority when configured', async () => {
    const qonsent = await memoryQonsent({ enforceAuthority: true, authorities: [OWNER] })
    // The authority grants Alice share and read over all flows.
    await qonsent.grant(grant('alice-share', { resource: 'qflow:flow:*', actions: ['read', 'share'] }))
    // Alice can pass on read over one flow, not write, not over executions, not a deny rule.
    await qonsent.grant(grant('bob-read', { subject: BOB, grantedBy: ALICE }))
    await expect(qonsent.grant(grant('bob-write', { subject: BOB, grantedBy: ALICE, actions: ['write'] }))).rejects.toMatchObject({
      name: 'NotAuthorizedError',
      actor: ALICE,
      operation: 'grant'
    })
    await expect(qonsent.grant(grant('bob-exec', { subject: BOB, grantedBy: ALICE, resource: 'qflow:exec:e1' }))).rejects.toMatchObject({ name: 'NotAuthorizedError' })
    await expect(qonsent.grant(grant('bob-all', { subject: BOB, grantedBy: ALICE, resource: 'qflow:**' }))).rejects.toMatchObject({ name: 'NotAuthorizedError' })
    await expect(qonsent.grant(grant('bob-deny', { subject: BOB, grantedBy: ALICE, effect: 'deny' }))).rejects.toMatchObject({ name: 'NotAuthorizedError' })
    // Bob cannot revoke Alice's grant; Alice (its grantor) and the authority can.
    await expect(qonsent.revoke('bob-read', BOB)).rejects.toMatchObject({ name: 'NotAuthorizedError', operation: 'revoke' })
    await qonsent.revoke('bob-read', ALICE)
    // A deny rule over Alice's share stops her granting.
    await qonsent.grant(grant('alice-no-share', { resource: 'qflow:flow:f1', actions: ['share'], effect: 'deny' }))
    await expect(qonsent.grant(grant('bob-read-2', { subject: BOB, grantedBy: ALICE, resource: 'qflow:flow:f2' }))).resolves.toMatchObject({ id: 'bob-read-2' })
    await expect(qonsent.grant(grant('bob-read-3', { subject: BOB, grantedBy: ALICE, resource: 'qflow:flow:*' }))).rejects.toMatchObject({ name: 'NotAuthorizedError' })
    await expect(qonsent.revoke('alice-share', CAROL)).rejects.toMatchObject({ name: 'NotAuthorizedError' })
    await qonsent.revoke('alice-share', OWNER)
  })
})

describe('embedded Qonsent: changes', () => {
  it('publishes added, revoked and expired grants to subscribers, in order', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({}, { now: time.now })
    const seen: ConsentChange[] = []
    const unsubscribe = qonsent.subscribe((change) => {
      seen.push(change)
    })
    await qonsent.grant(grant('g1', { expiresAt: T0 + 1_000 }))
    await qonsent.grant(grant('g2'))
    await qonsent.revoke('g2', OWNER, 'done')
    time.advance(1_000)
    expect(qonsent.expireDue().map((g) => g.id)).toEqual(['g1'])
    expect(qonsent.expireDue()).toEqual([])
    unsubscribe()
    await qonsent.grant(grant('g3'))
    expect(seen.map((c) => [c.type, c.grant.id, c.by ?? null, c.reason ?? null])).toEqual([
      [CONSENT_GRANTED_EVENT, 'g1', OWNER, null],
      [CONSENT_GRANTED_EVENT, 'g2', OWNER, null],
      [CONSENT_REVOKED_EVENT, 'g2', OWNER, 'done'],
      [CONSENT_EXPIRED_EVENT, 'g1', null, null]
    ])
    expect(seen[3]?.at).toBe(T0 + 1_000)
  })

  it('expires grants on its own timer', async () => {
    const qonsent = await memoryQonsent()
    const expired = new Promise<ConsentChange>((resolve) => {
      qonsent.subscribe((change) => {
        if (change.type === CONSENT_EXPIRED_EVENT) resolve(change)
      })
    })
    await qonsent.grant(grant('soon', { expiresAt: Date.now() + 30 }))
    expect((await expired).grant.id).toBe('soon')
  })

  it('announces the expiry of a grant that had expired before it was added, after its granted event', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({}, { now: time.now })
    const seen: string[] = []
    const expired = new Promise<ConsentChange>((resolve) => {
      qonsent.subscribe((change) => {
        seen.push(change.type)
        if (change.type === CONSENT_EXPIRED_EVENT) resolve(change)
      })
    })
    await qonsent.grant(grant('late', { expiresAt: T0 - 1 }))
    expect(await expired).toMatchObject({ grant: { id: 'late' }, at: T0 - 1 })
    expect(seen).toEqual([CONSENT_GRANTED_EVENT, CONSENT_EXPIRED_EVENT])
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).status).toBe('expired')
  })

  it('purges expired grants after the retention period', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({ expiredRetentionMs: 10_000 }, { now: time.now })
    await qonsent.grant(grant('g1', { expiresAt: T0 + 1_000 }))
    time.advance(1_000)
    qonsent.expireDue()
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).status).toBe('expired')
    time.advance(10_000)
    qonsent.expireDue()
    expect((await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })).status).toBe('denied')
    expect(qonsent.stats()).toMatchObject({ grants: 0, retired: 1 })
  })

  it('keeps going when a subscriber throws, and counts it', async () => {
    const qonsent = await memoryQonsent()
    const seen: string[] = []
    qonsent.subscribe(() => {
      throw new Error('bad listener')
    })
    qonsent.subscribe(async () => {
      throw new Error('bad async listener')
    })
    qonsent.subscribe((change) => {
      seen.push(change.grant.id)
    })
    await qonsent.grant(grant('g1'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(seen).toEqual(['g1'])
    expect(qonsent.stats().listenerErrors).toBe(2)
  })

  it('streams changes as an async iterator until aborted', async () => {
    const qonsent = await memoryQonsent()
    const controller = new AbortController()
    const stream = qonsent.changes({ signal: controller.signal })
    await qonsent.grant(grant('g1'))
    const received: string[] = []
    const consumer = (async () => {
      for await (const change of stream) {
        received.push(`${change.type}:${change.grant.id}`)
        if (received.length === 2) controller.abort()
      }
    })()
    await qonsent.revoke('g1', OWNER)
    await consumer
    expect(received).toEqual([`${CONSENT_GRANTED_EVENT}:g1`, `${CONSENT_REVOKED_EVENT}:g1`])
  })

  it('fails a stream that falls behind its buffer, so the consumer re-validates', async () => {
    const qonsent = await memoryQonsent()
    const stream = qonsent.changes({ bufferSize: 2 })
    for (const id of ['a', 'b', 'c']) await qonsent.grant(grant(id))
    await expect(stream.next()).rejects.toMatchObject({ name: 'ChangeStreamOverflowError', buffered: 2 })
    expect(await stream.next()).toEqual({ value: undefined, done: true })
  })

  it('ends streams on stop', async () => {
    const qonsent = await memoryQonsent()
    const stream = qonsent.changes()
    const pending = stream.next()
    await qonsent.stop()
    expect(await pending).toEqual({ value: undefined, done: true })
  })

  it('tells which changes concern a request', async () => {
    const change = (fields: Partial<ConsentGrant>): ConsentChange => ({ type: CONSENT_REVOKED_EVENT, grant: grant('g', fields), at: T0 })
    const request = { subject: ALICE, resource: 'qflow:exec:e1', action: 'execute' }
    expect(changeAffects(change({ resource: 'qflow:exec:*', actions: ['execute'] }), request)).toBe(true)
    expect(changeAffects(change({ resource: 'qflow:exec:*', actions: ['admin'] }), request)).toBe(true)
    expect(changeAffects(change({ subject: '*', resource: 'qflow:**', actions: ['*'] }), request)).toBe(true)
    expect(changeAffects(change({ resource: 'qflow:exec:e2', actions: ['execute'] }), request)).toBe(false)
    expect(changeAffects(change({ subject: BOB, resource: 'qflow:exec:*', actions: ['execute'] }), request)).toBe(false)
    expect(changeAffects(change({ resource: 'qflow:exec:*', actions: ['read'] }), request)).toBe(false)
  })
})

describe('embedded Qonsent: audit', () => {
  it('records every check and change in the ring, in the Qerberos shape', async () => {
    const time = clock()
    const qonsent = await memoryQonsent({ auditRingSize: 4 }, { now: time.now })
    await qonsent.grant(grant('g1', { expiresAt: T0 + 10 }))
    await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })
    await qonsent.check({ subject: BOB, resource: 'qflow:flow:f1', action: 'read' })
    time.advance(10)
    await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })
    expect(qonsent.auditLog()).toEqual([
      { type: 'GRANT_ADDED', ref: 'g1', actor: OWNER, verdict: 'ALLOW', reason: `allow read on qflow:flow:f1 for ${ALICE}`, at: T0, grantId: 'g1' },
      { type: 'CONSENT_CHECK', ref: 'qflow:flow:f1', actor: ALICE, verdict: 'ALLOW', reason: 'Allowed by grant g1', at: T0, action: 'read', status: 'allowed', grantId: 'g1' },
      {
        type: 'CONSENT_CHECK',
        ref: 'qflow:flow:f1',
        actor: BOB,
        verdict: 'DENY',
        reason: `No grant allows read on qflow:flow:f1 for ${BOB}`,
        at: T0,
        action: 'read',
        status: 'denied'
      },
      expect.objectContaining({ type: 'CONSENT_CHECK', actor: ALICE, verdict: 'DENY', status: 'expired', grantId: 'g1', at: T0 + 10 })
    ])
    await qonsent.revoke('g1', OWNER)
    const latest = qonsent.auditLog(2)
    expect(latest).toHaveLength(2)
    expect(latest[1]).toMatchObject({ type: 'GRANT_REVOKED', ref: 'g1', actor: OWNER, verdict: 'WARN' })
    expect(qonsent.stats().audit.recorded).toBe(5)
  })

  it('can leave checks out of the audit trail', async () => {
    const qonsent = await memoryQonsent({ auditChecks: false })
    await qonsent.check({ subject: ALICE, resource: 'qflow:flow:f1', action: 'read' })
    expect(qonsent.auditLog()).toEqual([])
  })

  it('cuts hostile strings in audit records', async () => {
    const qonsent = await memoryQonsent()
    await qonsent.check({ subject: 'x'.repeat(1_000), resource: 'r', action: 'read' })
    const record = qonsent.auditLog(1)[0]
    expect(record?.actor.length).toBe(513)
    expect(record?.reason).toContain('x'.repeat(96))
  })
})
