import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createIdentity,
  createRevocationRegistry,
  createSubIdentity,
  decodeToken,
  delegate,
  delegationId,
  inThreadSignatureCheck,
  issueToken,
  keyDirectory,
  replayCache,
  type SignatureCheck,
  squidVerifier
} from '../src/index.js'
import { b64json, claimsOf, manualClock, rejection, withSegment } from './fixtures/index.js'

const AUD = 'qflow:node:test'
const MIN = 60_000

function setup(init: Parameters<typeof squidVerifier>[0] = {}) {
  const clock = manualClock()
  const verifier = squidVerifier({ clock, ...init })()
  return { clock, verifier }
}

describe('identity tokens', () => {
  it('issues a compact EdDSA JWS with the documented header and claims, and verifies it', async () => {
    const { clock, verifier } = setup()
    const alice = createIdentity()
    const token = await issueToken(alice, { audience: AUD, now: clock(), ttlMs: 2 * MIN, capabilities: ['flow:read'], nonce: 'n-1' })
    const [header] = token.split('.')
    expect(Buffer.from(header as string, 'base64url').toString()).toBe(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: alice.did }))
    expect(claimsOf(token)).toEqual({ iss: alice.did, sub: alice.did, aud: AUD, iat: clock() / 1000, exp: clock() / 1000 + 120, jti: 'n-1', cap: ['flow:read'] })
    expect(await verifier.verifyToken(token, { audience: AUD })).toEqual({
      issuer: alice.did,
      subject: alice.did,
      audience: [AUD],
      expiresAt: clock() + 2 * MIN,
      nonce: 'n-1',
      capabilities: ['flow:read'],
      root: alice.did,
      issuedAt: clock()
    })
  })

  it('rejects expired tokens, allowing for clock skew', async () => {
    const { clock, verifier } = setup({ clockSkewMs: 5_000 })
    const alice = createIdentity()
    const live = await issueToken(alice, { audience: AUD, now: clock(), ttlMs: MIN })
    const dead = await issueToken(alice, { audience: AUD, now: clock(), ttlMs: MIN })
    clock.advance(MIN + 4_999)
    expect((await verifier.verifyToken(live)).subject).toBe(alice.did)
    clock.advance(1)
    const err = await rejection(verifier.verifyToken(dead))
    expect([err.name, err.retryable, (err as unknown as { expiresAt: number }).expiresAt]).toEqual(['TokenExpiredError', false, clock() - 5_000])
  })

  it('rejects tokens not valid yet (nbf or iat ahead beyond skew) as retryable', async () => {
    const { clock, verifier } = setup({ clockSkewMs: 1_000 })
    const alice = createIdentity()
    const later = await issueToken(alice, { audience: AUD, now: clock(), notBefore: clock() + 10_000, ttlMs: MIN })
    const err = await rejection(verifier.verifyToken(later))
    expect([err.name, err.retryable]).toEqual(['TokenNotYetValidError', true])
    const fromTheFuture = await issueToken(alice, { audience: AUD, now: clock() + 5_000, ttlMs: MIN })
    expect((await rejection(verifier.verifyToken(fromTheFuture))).name).toBe('TokenNotYetValidError')
    clock.advance(9_000)
    expect((await verifier.verifyToken(later)).notBefore).toBe(clock() + 1_000)
  })

  it('checks the audience: the expected one, or the verifier default', async () => {
    const { clock, verifier } = setup({ audience: 'qflow:node:default' })
    const alice = createIdentity()
    const err = await rejection(verifier.verifyToken(await issueToken(alice, { audience: AUD, now: clock() })))
    expect([err.name, (err as unknown as { expected: string }).expected]).toEqual(['TokenAudienceError', 'qflow:node:default'])
    const both = await issueToken(alice, { audience: ['qflow:node:default', AUD], now: clock() })
    expect((await verifier.verifyToken(both)).audience).toEqual(['qflow:node:default', AUD])
    const other = await issueToken(alice, { audience: 'qflow:node:other', now: clock() })
    expect((await rejection(verifier.verifyToken(other, { audience: AUD }))).name).toBe('TokenAudienceError')
  })

  it('checks the expected subject', async () => {
    const { clock, verifier } = setup()
    const alice = createIdentity()
    const token = await issueToken(alice, { audience: AUD, now: clock() })
    expect((await rejection(verifier.verifyToken(token, { subject: createIdentity().did }))).name).toBe('TokenSubjectError')
    expect((await verifier.verifyToken(token, { subject: alice.did })).issuer).toBe(alice.did)
  })

  it('refuses tokens living longer than allowed', async () => {
    const { clock, verifier } = setup({ maxTokenLifetimeMs: 10 * MIN })
    const err = await rejection(verifier.verifyToken(await issueToken(createIdentity(), { audience: AUD, now: clock(), ttlMs: 11 * MIN })))
    expect([err.name, (err as unknown as { lifetimeMs: number }).lifetimeMs]).toEqual(['TokenLifetimeError', 11 * MIN])
  })

  it('rejects tampered, re-signed and wrong-key tokens with TokenSignatureError', async () => {
    const { clock, verifier } = setup()
    const alice = createIdentity()
    const mallory = createIdentity()
    const token = await issueToken(alice, { audience: AUD, now: clock() })
    const claims = claimsOf(token)
    const escalated = withSegment(token, 1, b64json({ ...claims, cap: ['admin'] }))
    expect((await rejection(verifier.verifyToken(escalated))).name).toBe('TokenSignatureError')
    const malloryToken = await issueToken(mallory, { audience: AUD, now: clock() })
    const spliced = withSegment(withSegment(malloryToken, 0, token.split('.')[0] as string), 1, token.split('.')[1] as string)
    expect((await rejection(verifier.verifyToken(spliced))).name).toBe('TokenSignatureError')
    // Mallory signs a token claiming to be Alice: the key comes from iss, so the signature fails.
    const impostor = { did: alice.did, sign: (data: Uint8Array) => mallory.sign(data) }
    expect((await rejection(verifier.verifyToken(await issueToken(impostor, { audience: AUD, now: clock() })))).name).toBe('TokenSignatureError')
    // The untouched token still verifies.
    expect((await verifier.verifyToken(token)).issuer).toBe(alice.did)
  })

  it('rejects malformed tokens with TokenMalformedError', async () => {
    const { clock, verifier } = setup({ maxTokenLength: 4096 })
    const alice = createIdentity()
    const token = await issueToken(alice, { audience: AUD, now: clock() })
    const claims = claimsOf(token)
    const [h, p, s] = token.split('.') as [string, string, string]
    const cases = [
      '',
      'a.b',
      `${token}.x`,
      `${h}.${p}`,
      `${h}.${p}.${s.slice(0, -2)}`,
      `${h}.${p}.${s.slice(0, -1)}B`, // non-canonical trailing bits
      `${h}.${p}=.${s}`,
      withSegment(token, 0, b64json({ alg: 'none', typ: 'JWT' })),
      withSegment(token, 0, b64json({ alg: 'HS256', typ: 'JWT', kid: alice.did })),
      withSegment(token, 0, b64json({ alg: 'EdDSA', kid: alice.did, crit: ['exp'] })),
      withSegment(token, 0, b64json({ alg: 'EdDSA', kid: createIdentity().did })),
      withSegment(token, 0, b64json([1])),
      withSegment(token, 1, Buffer.from('not json').toString('base64url')),
      withSegment(token, 1, Buffer.from([0xff, 0xfe]).toString('base64url')),
      withSegment(token, 1, b64json({ ...claims, iss: 'nobody' })),
      withSegment(token, 1, b64json({ ...claims, aud: [] })),
      withSegment(token, 1, b64json({ ...claims, exp: 'tomorrow' })),
      withSegment(token, 1, b64json({ ...claims, exp: claims.iat })),
      withSegment(token, 1, b64json({ ...claims, jti: undefined })),
      withSegment(token, 1, b64json({ ...claims, cap: 'admin' })),
      withSegment(token, 1, b64json({ ...claims, dlg: [] })),
      `${token}${'A'.repeat(5000)}`,
      42 as unknown as string
    ]
    for (const bad of cases) {
      const err = await rejection(verifier.verifyToken(bad))
      expect(err.name, String(bad).slice(0, 60)).toBe('TokenMalformedError')
    }
    expect(() => decodeToken(token)).not.toThrow()
  })

  it('refuses a replayed token; eviction never reopens the window', async () => {
    const { clock, verifier } = setup({ clockSkewMs: 0 })
    const alice = createIdentity()
    const token = await issueToken(alice, { audience: AUD, now: clock(), ttlMs: MIN })
    await verifier.verifyToken(token)
    const err = await rejection(verifier.verifyToken(token))
    expect([err.name, (err as unknown as { nonce: string }).nonce]).toEqual(['TokenReplayedError', claimsOf(token).jti])
    // After expiry the nonce is forgotten, but judging the token at an earlier time does not help: the
    // local clock says it expired.
    clock.advance(2 * MIN)
    expect((await rejection(verifier.verifyToken(token, { now: clock() - 2 * MIN + 1 }))).name).toBe('TokenExpiredError')
    // Same jti from another issuer is a different nonce.
    const bob = createIdentity()
    const sameJti = await issueToken(bob, { audience: AUD, now: clock(), nonce: claimsOf(token).jti as string })
    expect((await verifier.verifyToken(sameJti)).issuer).toBe(bob.did)
  })

  it('shares a replay cache between verifiers; without replay protection tokens are reusable', async () => {
    const clock = manualClock()
    const shared = replayCache({ capacity: 2 })
    const a = squidVerifier({ clock })({ replayCache: shared })
    const b = squidVerifier({ clock })({ replayCache: shared })
    const alice = createIdentity()
    const token = await issueToken(alice, { audience: AUD, now: clock() })
    await a.verifyToken(token)
    expect((await rejection(b.verifyToken(token))).name).toBe('TokenReplayedError')
    await a.verifyToken(await issueToken(alice, { audience: AUD, now: clock() }))
    const full = await rejection(a.verifyToken(await issueToken(alice, { audience: AUD, now: clock() })))
    expect([full.name, full.retryable]).toEqual(['ReplayCacheFullError', true])
    const reusable = squidVerifier({ clock, replayProtection: false })()
    await reusable.verifyToken(token)
    expect((await reusable.verifyToken(token)).nonce).toBe(claimsOf(token).jti)
  })

  it('verifies legacy issuers through the key directory', async () => {
    const clock = manualClock()
    const key = createIdentity()
    const legacy = { did: 'did:squid:alice', sign: (data: Uint8Array) => key.sign(data) }
    const token = await issueToken(legacy, { audience: AUD, now: clock() })
    expect((await rejection(squidVerifier({ clock })().verifyToken(token))).name).toBe('UnknownIdentityError')
    const verifier = squidVerifier({ clock })({ keys: keyDirectory({ entries: [['did:squid:alice', key.publicKey]] }) })
    expect((await verifier.verifyToken(token)).issuer).toBe('did:squid:alice')
  })
})

describe('tokens of sub-identities', () => {
  it('a sub-identity speaks as itself under its root, limited to the chain capabilities', async () => {
    const { clock, verifier } = setup()
    const root = createIdentity()
    const { identity: bot, delegation } = await createSubIdentity(root, { capabilities: ['flow:read', 'flow:run'], now: clock() })
    const token = await issueToken(bot, { audience: AUD, now: clock(), delegation: [delegation] })
    const facts = await verifier.verifyToken(token)
    expect(facts).toMatchObject({ issuer: bot.did, subject: bot.did, root: root.did, capabilities: ['flow:read', 'flow:run'] })
    expect(facts.delegation?.ids).toEqual([delegationId(delegation)])
    const narrower = await issueToken(bot, { audience: AUD, now: clock(), delegation: [delegation], capabilities: ['flow:read'] })
    expect((await verifier.verifyToken(narrower)).capabilities).toEqual(['flow:read'])
  })

  it('refuses capability escalation, missing or foreign chains', async () => {
    const { clock, verifier } = setup()
    const root = createIdentity()
    const { identity: bot, delegation } = await createSubIdentity(root, { capabilities: ['flow:read'], now: clock() })
    const greedy = await issueToken(bot, { audience: AUD, now: clock(), delegation: [delegation], capabilities: ['flow:read', 'flow:admin'] })
    const err = await rejection(verifier.verifyToken(greedy))
    expect([err.name, (err as unknown as { fault: string }).fault]).toEqual(['DelegationChainError', 'capability-escalation'])
    // Speaking for the root without any chain.
    const forRoot = await issueToken(bot, { audience: AUD, now: clock(), subject: root.did })
    expect((await rejection(verifier.verifyToken(forRoot))).name).toBe('DelegationChainError')
    // A stranger embedding someone else's chain to speak for the bot.
    const stranger = createIdentity()
    const hijack = await issueToken(stranger, { audience: AUD, now: clock(), subject: bot.did, delegation: [delegation] })
    const hijacked = await rejection(verifier.verifyToken(hijack))
    expect([hijacked.name, (hijacked as unknown as { fault: string }).fault]).toEqual(['DelegationChainError', 'not-delegated'])
    // Another identity reusing the bot's chain for itself: the chain does not end at it.
    const reuse = await issueToken(stranger, { audience: AUD, now: clock(), delegation: [delegation] })
    expect((await rejection(verifier.verifyToken(reuse))).name).toBe('DelegationChainError')
  })

  it('a parent may issue a token for its sub-identity with the chain', async () => {
    const { clock, verifier } = setup()
    const root = createIdentity()
    const { identity: bot, delegation } = await createSubIdentity(root, { capabilities: ['flow:read'], now: clock() })
    const token = await issueToken(root, { audience: AUD, now: clock(), subject: bot.did, delegation: [delegation] })
    expect(await verifier.verifyToken(token)).toMatchObject({ issuer: root.did, subject: bot.did, root: root.did, capabilities: ['flow:read'] })
  })

  it('fails when a delegation in the chain is revoked or expired', async () => {
    const clock = manualClock()
    const revocations = await createRevocationRegistry()
    const verifier = squidVerifier({ clock })({ revocations })
    const root = createIdentity()
    const mid = createIdentity()
    const leaf = createIdentity()
    const d1 = await delegate(root, { subject: mid.did, capabilities: ['a', 'b'], now: clock(), ttlMs: 60 * MIN })
    const d2 = await delegate(mid, { subject: leaf.did, capabilities: ['a'], now: clock(), ttlMs: 10 * MIN })
    await verifier.verifyToken(await issueToken(leaf, { audience: AUD, now: clock(), delegation: [d1, d2] }))
    clock.advance(11 * MIN)
    const expired = await rejection(verifier.verifyToken(await issueToken(leaf, { audience: AUD, now: clock(), delegation: [d1, d2] })))
    expect(expired.name).toBe('DelegationExpiredError')
    await revocations.revoke(delegationId(d1))
    const revoked = await rejection(verifier.verifyToken(await issueToken(mid, { audience: AUD, now: clock(), delegation: [d1] })))
    expect(revoked.name).toBe('DelegationRevokedError')
  })
})

describe('reusable (bearer) tokens', () => {
  it('checks a reused token\'s signature once, and everything else on every call', async () => {
    const clock = manualClock()
    const checked: string[] = []
    const signatures: SignatureCheck = {
      verify: (key, data, signature) => {
        checked.push(Buffer.from(data).toString())
        return inThreadSignatureCheck.verify(key, data, signature)
      }
    }
    const revocations = await createRevocationRegistry()
    const verifier = squidVerifier({ clock, replayProtection: false, maxTokenLifetimeMs: 60 * MIN })({ signatures, revocations })
    const root = createIdentity()
    const bot = createIdentity()
    const link = await delegate(root, { subject: bot.did, capabilities: ['a'], now: clock(), ttlMs: 60 * MIN })
    const token = await issueToken(bot, { audience: AUD, now: clock(), ttlMs: 30 * MIN, delegation: [link] })
    for (let i = 0; i < 3; i++) expect((await verifier.verifyToken(token, { audience: AUD })).root).toBe(root.did)
    expect(checked).toHaveLength(1)
    // audience, revocation and expiry are judged anew although the signature is remembered
    expect((await rejection(verifier.verifyToken(token, { audience: 'elsewhere' }))).name).toBe('TokenAudienceError')
    await revocations.revoke(delegationId(link))
    expect((await rejection(verifier.verifyToken(token, { audience: AUD }))).name).toBe('DelegationRevokedError')
    const plain = await issueToken(bot, { audience: AUD, now: clock(), ttlMs: 30 * MIN })
    await verifier.verifyToken(plain)
    clock.advance(31 * MIN)
    expect((await rejection(verifier.verifyToken(plain))).name).toBe('TokenExpiredError')
    expect(checked).toHaveLength(2)
    // a forged token is another string: its signature is checked (and fails), never taken from the cache
    const [header, claims] = plain.split('.') as [string, string]
    const forged = `${header}.${claims}.${Buffer.alloc(64, 7).toString('base64url')}`
    expect((await rejection(verifier.verifyToken(forged))).name).toBe('TokenSignatureError')
    expect((await rejection(verifier.verifyToken(forged))).name).toBe('TokenSignatureError')
    expect(checked).toHaveLength(4)
  })

  it('remembers nothing when tokens are single-use', async () => {
    const clock = manualClock()
    let checks = 0
    const counting: SignatureCheck = {
      verify: (k, d, s) => {
        checks++
        return inThreadSignatureCheck.verify(k, d, s)
      }
    }
    const verifier = squidVerifier({ clock })({ signatures: counting })
    const token = await issueToken(createIdentity(), { audience: AUD, now: clock() })
    await verifier.verifyToken(token)
    expect((await rejection(verifier.verifyToken(token))).name).toBe('TokenReplayedError')
    expect(checks).toBe(2)
  })
})

describe('tokens under random input', () => {
  const TYPED = new Set([
    'TokenMalformedError',
    'TokenSignatureError',
    'TokenExpiredError',
    'TokenNotYetValidError',
    'TokenLifetimeError',
    'TokenAudienceError',
    'UnknownIdentityError'
  ])

  it('random strings and bytes are refused with typed errors', async () => {
    const { verifier } = setup()
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
          fc.tuple(fc.jsonValue(), fc.jsonValue(), fc.uint8Array({ maxLength: 80 })).map(([h, p, s]) => `${b64json(h)}.${b64json(p)}.${Buffer.from(s).toString('base64url')}`)
        ),
        async (input) => {
          const err = await rejection(verifier.verifyToken(input))
          expect(TYPED.has(err.name), err.name).toBe(true)
        }
      ),
      { numRuns: 500 }
    )
  })

  it('no single-character change of a valid token is accepted', async () => {
    const { clock, verifier } = setup({ replayProtection: false })
    const alice = createIdentity()
    const token = await issueToken(alice, { audience: AUD, now: clock(), capabilities: ['x'] })
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: token.length - 1 }), fc.constantFrom(...alphabet), async (position, char) => {
        fc.pre(token[position] !== char)
        const mutated = token.slice(0, position) + char + token.slice(position + 1)
        const err = await rejection(verifier.verifyToken(mutated))
        expect(TYPED.has(err.name), err.name).toBe(true)
      }),
      { numRuns: 400 }
    )
  })
})
