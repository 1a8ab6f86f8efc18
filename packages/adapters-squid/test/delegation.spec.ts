import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createIdentity,
  createRevocationRegistry,
  createSubIdentity,
  type Delegation,
  type DelegationChainError,
  delegate,
  delegationId,
  type Identity,
  keyDirectory,
  parseDelegation,
  squidVerifier
} from '../src/index.js'
import { rejection, thrown } from './fixtures/index.js'

const T0 = Date.UTC(2026, 0, 1)
const HOUR = 3_600_000
const DAY = 24 * HOUR

/** root → a → b → c with narrowing capabilities and nested windows. */
async function chainOfThree(): Promise<{ root: Identity; a: Identity; b: Identity; c: Identity; chain: Delegation[] }> {
  const [root, a, b, c] = [createIdentity(), createIdentity(), createIdentity(), createIdentity()] as const
  const d1 = await delegate(root, { subject: a.did, capabilities: ['flow:read', 'flow:write', 'flow:admin'], notBefore: T0, expiresAt: T0 + 30 * DAY })
  const d2 = await delegate(a, { subject: b.did, capabilities: ['flow:read', 'flow:write'], notBefore: T0 + HOUR, expiresAt: T0 + 20 * DAY })
  const d3 = await delegate(b, { subject: c.did, capabilities: ['flow:read'], notBefore: T0 + 2 * HOUR, expiresAt: T0 + 10 * DAY })
  return { root, a, b, c, chain: [d1, d2, d3] }
}

describe('delegations', () => {
  it('signs a delegation with the documented shape and a stable id', async () => {
    const parent = createIdentity()
    const child = createIdentity()
    const d = await delegate(parent, { subject: child.did, capabilities: ['x'], now: T0, ttlMs: DAY })
    expect(d).toMatchObject({ v: 1, issuer: parent.did, subject: child.did, capabilities: ['x'], notBefore: T0, expiresAt: T0 + DAY })
    expect(d.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(d.proof).toMatch(/^[A-Za-z0-9_-]{86}$/)
    const id = delegationId(d)
    expect(id).toMatch(/^sha256-[A-Za-z0-9_-]{43}$/)
    // The id covers the content, not the proof, and not key order.
    const { proof: _proof, ...unsigned } = d
    expect(delegationId(unsigned as Delegation)).toBe(id)
    const reordered = Object.fromEntries(Object.entries(d).reverse())
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(d))
    expect(delegationId(reordered as unknown as Delegation)).toBe(id)
    const twin = await delegate(parent, { subject: child.did, capabilities: ['x'], now: T0, ttlMs: DAY })
    expect(delegationId(twin)).not.toBe(id)
  })

  it('verifies a single link and a chain of three, narrowing capabilities and windows', async () => {
    const { root, a, c, chain } = await chainOfThree()
    const verifier = squidVerifier()()
    const one = await verifier.verifyDelegation([chain[0]], a.did, T0 + 1)
    expect(one).toMatchObject({ root: root.did, leaf: a.did, capabilities: ['flow:read', 'flow:write', 'flow:admin'], expiresAt: T0 + 30 * DAY })
    const three = await verifier.verifyDelegation(chain, c.did, T0 + 3 * HOUR)
    expect(three).toEqual({
      root: root.did,
      leaf: c.did,
      capabilities: ['flow:read'],
      notBefore: T0 + 2 * HOUR,
      expiresAt: T0 + 10 * DAY,
      ids: chain.map(delegationId)
    })
    // Delegations survive a JSON round trip (they travel in tokens and keystores).
    const travelled = JSON.parse(JSON.stringify(chain)) as unknown[]
    expect((await verifier.verifyDelegation(travelled, c.did, T0 + 3 * HOUR)).leaf).toBe(c.did)
  })

  it('rejects broken links, escalation, wrong leaves and bad lengths with DelegationChainError', async () => {
    const { root, a, b, c, chain } = await chainOfThree()
    const verifier = squidVerifier({ maxChainLength: 3 })()
    const at = T0 + 3 * HOUR
    const fault = async (links: unknown[], leaf: string) => {
      const err = await rejection(verifier.verifyDelegation(links, leaf, at))
      expect(err.name).toBe('DelegationChainError')
      return [(err as DelegationChainError).fault, (err as DelegationChainError).index]
    }
    expect(await fault([chain[0], chain[2]], c.did)).toEqual(['broken-link', 1])
    expect(await fault(chain, b.did)).toEqual(['wrong-leaf', 2])
    expect(await fault([], c.did)).toEqual(['empty', undefined])
    const d4 = await delegate(c, { subject: createIdentity().did, capabilities: [], notBefore: T0 + 2 * HOUR, expiresAt: T0 + DAY })
    expect(await fault([...chain, d4], d4.subject)).toEqual(['too-long', undefined])
    const escalating = await delegate(a, { subject: b.did, capabilities: ['flow:read', 'flow:delete'], notBefore: T0 + HOUR, expiresAt: T0 + DAY })
    expect(await fault([chain[0], escalating], b.did)).toEqual(['capability-escalation', 1])
    const outliving = await delegate(a, { subject: b.did, capabilities: ['flow:read'], notBefore: T0 + HOUR, expiresAt: T0 + 31 * DAY })
    expect(await fault([chain[0], outliving], b.did)).toEqual(['window-escalation', 1])
    const early = await delegate(a, { subject: b.did, capabilities: ['flow:read'], notBefore: T0 - HOUR, expiresAt: T0 + DAY })
    expect(await fault([chain[0], early], b.did)).toEqual(['window-escalation', 1])
    void root
  })

  it('delegates down a chain from a parent delegation: window clipped, escalation refused early', async () => {
    const [root, a, b] = [createIdentity(), createIdentity(), createIdentity()] as const
    const d1 = await delegate(root, { subject: a.did, capabilities: ['x', 'y'], now: T0, ttlMs: DAY })
    // Default windows start at `now` and run 30 days: without the parent, b's would outlive a's.
    const naive = await delegate(a, { subject: b.did, capabilities: ['x'], now: T0 + 1 })
    expect(naive.expiresAt).toBeGreaterThan(d1.expiresAt)
    const d2 = await delegate(a, { subject: b.did, capabilities: ['x'], now: T0 + 1, parent: d1 })
    expect([d2.notBefore, d2.expiresAt]).toEqual([T0 + 1, T0 + DAY])
    expect((await squidVerifier()().verifyDelegation([d1, d2], b.did, T0 + 2)).capabilities).toEqual(['x'])
    const greedy = await rejection(delegate(a, { subject: b.did, capabilities: ['x', 'z'], parent: d1 }))
    expect([greedy.name, (greedy as DelegationChainError).fault]).toEqual(['DelegationChainError', 'capability-escalation'])
    const wrongParent = await rejection(delegate(b, { subject: root.did, parent: d1 }))
    expect([wrongParent.name, (wrongParent as DelegationChainError).fault]).toEqual(['DelegationChainError', 'broken-link'])
  })

  it('judges time with skew: not yet valid (retryable), expired (not)', async () => {
    const { a, chain } = await chainOfThree()
    const verifier = squidVerifier({ clockSkewMs: 1000 })()
    const d = chain[0] as Delegation
    const early = await rejection(verifier.verifyDelegation([d], a.did, T0 - 1001))
    expect([early.name, early.retryable]).toEqual(['DelegationNotYetValidError', true])
    expect((await verifier.verifyDelegation([d], a.did, T0 - 1000)).leaf).toBe(a.did)
    expect((await verifier.verifyDelegation([d], a.did, d.expiresAt + 999)).leaf).toBe(a.did)
    const late = await rejection(verifier.verifyDelegation([d], a.did, d.expiresAt + 1000))
    expect([late.name, late.retryable]).toEqual(['DelegationExpiredError', false])
    // A later link expiring fails the whole chain, naming that link.
    const { c, chain: three } = await chainOfThree()
    const err = await rejection(verifier.verifyDelegation(three, c.did, T0 + 15 * DAY))
    expect([err.name, (err as unknown as { index: number }).index]).toEqual(['DelegationExpiredError', 2])
  })

  it('rejects tampered and forged delegations with InvalidSignatureError, even after a good one was cached', async () => {
    const { root, a, c, chain } = await chainOfThree()
    const verifier = squidVerifier()()
    const at = T0 + 3 * HOUR
    await verifier.verifyDelegation(chain, c.did, at) // fills the signature cache
    const widened = { ...(chain[2] as Delegation), capabilities: ['flow:read', 'flow:write'] }
    const err = await rejection(verifier.verifyDelegation([chain[0], chain[1], widened], c.did, at))
    expect([err.name, (err as unknown as { index: number }).index]).toEqual(['InvalidSignatureError', 2])
    const mallory = createIdentity()
    const forged = { ...(await delegate(mallory, { subject: a.did, capabilities: ['flow:read'], notBefore: T0, expiresAt: T0 + DAY })), issuer: root.did }
    expect((await rejection(verifier.verifyDelegation([forged], a.did, at))).name).toBe('InvalidSignatureError')
    const otherProof = { ...(chain[0] as Delegation), proof: (chain[1] as Delegation).proof }
    expect((await rejection(verifier.verifyDelegation([otherProof], a.did, at))).name).toBe('InvalidSignatureError')
  })

  it('fails every chain holding a revoked delegation', async () => {
    const { b, c, chain } = await chainOfThree()
    const revocations = await createRevocationRegistry()
    const verifier = squidVerifier()({ revocations })
    const at = T0 + 3 * HOUR
    await verifier.verifyDelegation(chain, c.did, at)
    await revocations.revoke(delegationId(chain[1] as Delegation))
    const err = await rejection(verifier.verifyDelegation(chain, c.did, at))
    expect([err.name, (err as unknown as { index: number }).index]).toEqual(['DelegationRevokedError', 1])
    expect((await rejection(verifier.verifyDelegation(chain.slice(0, 2), b.did, at))).name).toBe('DelegationRevokedError')
  })

  it('lets a legacy root delegate through its registered key', async () => {
    const legacyKey = createIdentity()
    const root = { did: 'squid:root', sign: (data: Uint8Array) => legacyKey.sign(data) }
    const { identity, delegation } = await createSubIdentity(root, { capabilities: ['x'], now: T0 })
    const at = T0 + 1
    expect((await rejection(squidVerifier()().verifyDelegation([delegation], identity.did, at))).name).toBe('UnknownIdentityError')
    const verifier = squidVerifier()({ keys: keyDirectory({ entries: [['squid:root', legacyKey.publicKey]] }) })
    expect(await verifier.verifyDelegation([delegation], identity.did, at)).toMatchObject({ root: 'squid:root', leaf: identity.did, capabilities: ['x'] })
  })

  it('refuses malformed delegations with DelegationMalformedError naming the field', async () => {
    const { a, chain } = await chainOfThree()
    const d = chain[0] as Delegation
    const pointer = (value: unknown) => {
      const err = thrown(() => parseDelegation(value))
      expect(err.name).toBe('DelegationMalformedError')
      return (err as unknown as { pointer: string }).pointer
    }
    expect(pointer({ ...d, extra: 1 })).toBe('/extra')
    expect(pointer({ ...d, v: 2 })).toBe('/v')
    expect(pointer({ ...d, issuer: 'nobody' })).toBe('/issuer')
    expect(pointer({ ...d, capabilities: ['a', 'a'] })).toBe('/capabilities')
    expect(pointer({ ...d, capabilities: [''] })).toBe('/capabilities')
    expect(pointer({ ...d, notBefore: 1.5 })).toBe('/notBefore')
    expect(pointer({ ...d, expiresAt: d.notBefore })).toBe('/expiresAt')
    expect(pointer({ ...d, nonce: 'has space' })).toBe('/nonce')
    expect(pointer({ ...d, proof: 'abc' })).toBe('/proof')
    const { proof: _p, ...unsigned } = d
    expect(pointer(unsigned)).toBe('/proof')
    expect(pointer([d])).toBe('')
    expect((await rejection(delegate(a, { subject: 'not a did' }))).name).toBe('DelegationMalformedError')
  })

  it('never crashes on random chains: every failure is a typed delegation error', async () => {
    const { c, chain } = await chainOfThree()
    const verifier = squidVerifier()()
    const names = new Set(['DelegationMalformedError', 'DelegationChainError', 'InvalidSignatureError', 'DelegationExpiredError', 'DelegationNotYetValidError', 'UnknownIdentityError'])
    const mutated = fc.record({
      index: fc.integer({ min: 0, max: 2 }),
      key: fc.constantFrom('v', 'issuer', 'subject', 'capabilities', 'notBefore', 'expiresAt', 'nonce', 'proof', 'extra'),
      value: fc.oneof(fc.jsonValue(), fc.string(), fc.integer())
    })
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(fc.jsonValue(), { maxLength: 4 }), mutated.map(({ index, key, value }) => chain.map((d, i) => (i === index ? { ...d, [key]: value } : d)))), async (links) => {
        try {
          await verifier.verifyDelegation(links as unknown[], c.did, T0 + 3 * HOUR)
        } catch (err) {
          expect(names.has((err as Error).name), (err as Error).name).toBe(true)
        }
      }),
      { numRuns: 300 }
    )
  })
})
