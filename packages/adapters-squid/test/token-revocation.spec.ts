import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createIdentity, createSubIdentity, createTokenRevocationRegistry, decodeToken, issueToken, squidVerifier, type TokenRevocation } from '../src/index.js'
import { manualClock, rejection, tempDirPerTest } from './fixtures/index.js'

describe('token revocation registry', () => {
  const temp = tempDirPerTest()

  it('refuses a revoked token by its issuer and nonce, and no other', async () => {
    const clock = manualClock()
    const alice = createIdentity()
    const registry = await createTokenRevocationRegistry({ clock })
    const verifier = squidVerifier({ replayProtection: false, clock })({ tokenRevocations: registry })
    const token = await issueToken(alice, { audience: 'qflow', now: clock() })
    const other = await issueToken(alice, { audience: 'qflow', now: clock() })
    const { claims } = decodeToken(token)
    expect((await verifier.verifyToken(token)).subject).toBe(alice.did)

    const entry = await registry.revokeToken({ issuer: claims.iss, nonce: claims.jti, expiresAt: claims.exp * 1000 }, { reason: 'pasted in a chat', by: alice.did })
    expect(entry).toEqual({ kind: 'token', issuer: alice.did, nonce: claims.jti, expiresAt: claims.exp * 1000, revokedAt: clock(), reason: 'pasted in a chat', by: alice.did })
    const err = await rejection(verifier.verifyToken(token))
    expect(err.name).toBe('TokenRevokedError')
    expect(err).toMatchObject({ scope: 'token', revokedAt: clock() })
    expect(err.message).toContain('pasted in a chat')
    expect((await verifier.verifyToken(other)).nonce).toBe(decodeToken(other).claims.jti)
    // Revoking again answers the first entry.
    clock.advance(1000)
    expect(await registry.revokeToken({ issuer: claims.iss, nonce: claims.jti, expiresAt: claims.exp * 1000 })).toBe(entry)
  })

  it('refuses every token an identity signed or that speaks for it, issued before the cutoff; later ones pass', async () => {
    // Delegations are made on the real clock; the cutoff falls 700 ms into a second.
    const clock = manualClock(Math.floor(Date.now() / 1000) * 1000 + 200)
    const root = createIdentity()
    const { identity: bot, delegation } = await createSubIdentity(root, { capabilities: ['qflow:execute'] })
    const registry = await createTokenRevocationRegistry({ clock })
    const verifier = squidVerifier({ replayProtection: false, clock })({ tokenRevocations: registry })
    const own = await issueToken(root, { audience: 'qflow', now: clock() })
    // Signed by the root, speaking for the bot (sub), through the root's delegation to it.
    const forBot = await issueToken(root, { audience: 'qflow', subject: bot.did, delegation: [delegation], now: clock() })
    const byBot = await issueToken(bot, { audience: 'qflow', delegation: [delegation], now: clock() })
    const bystander = await issueToken(createIdentity(), { audience: 'qflow', now: clock() })

    expect((await verifier.verifyToken(forBot)).subject).toBe(bot.did)
    clock.advance(1500)
    const cut = await registry.revokeIdentity(bot.did, { reason: 'bot retired' })
    expect(cut).toEqual({ kind: 'identity', identity: bot.did, before: clock(), revokedAt: clock(), reason: 'bot retired' })
    expect(await rejection(verifier.verifyToken(forBot))).toMatchObject({ name: 'TokenRevokedError', scope: 'identity' })
    expect(await rejection(verifier.verifyToken(byBot))).toMatchObject({ name: 'TokenRevokedError', scope: 'identity' })
    await verifier.verifyToken(own)
    await verifier.verifyToken(bystander)

    await registry.revokeIdentity(root.did)
    expect(await rejection(verifier.verifyToken(own))).toMatchObject({ name: 'TokenRevokedError', scope: 'identity' })

    // A token issued in the same second as the cutoff counts as before it (iat has whole seconds).
    const sameSecond = await issueToken(root, { audience: 'qflow', now: clock() + 1 })
    expect((await rejection(verifier.verifyToken(sameSecond))).name).toBe('TokenRevokedError')
    clock.advance(1000)
    const fresh = await issueToken(root, { audience: 'qflow', now: clock() })
    expect((await verifier.verifyToken(fresh)).subject).toBe(root.did)
  })

  it('moves an identity cutoff only forward, and refuses one in the future', async () => {
    const clock = manualClock()
    const alice = createIdentity()
    const registry = await createTokenRevocationRegistry({ clock })
    const first = await registry.revokeIdentity(alice.did)
    clock.advance(5000)
    expect(await registry.revokeIdentity(alice.did, { before: first.before - 1000 })).toBe(first)
    const later = await registry.revokeIdentity(alice.did)
    expect(later.before).toBe(first.before + 5000)
    expect(registry.entries()).toEqual([later])
    const err = await rejection(registry.revokeIdentity(alice.did, { before: clock() + 1 }))
    expect(err).toMatchObject({ name: 'InvalidTokenRevocationError', path: '/before' })
    expect(await rejection(registry.revokeIdentity('not a did'))).toMatchObject({ name: 'InvalidTokenRevocationError', path: '/identity' })
    expect(await rejection(registry.revokeToken({ issuer: alice.did, nonce: 'has space', expiresAt: clock() + 1000 }))).toMatchObject({
      name: 'InvalidTokenRevocationError',
      path: '/nonce'
    })
    expect(await rejection(registry.revokeToken({ issuer: alice.did, nonce: 'n', expiresAt: -1 }))).toMatchObject({ path: '/expiresAt' })
  })

  it('tells subscribers of each revocation, a failing one included', async () => {
    const registry = await createTokenRevocationRegistry()
    const seen: TokenRevocation[] = []
    registry.subscribe(() => {
      throw new Error('a broken subscriber')
    })
    const unsubscribe = registry.subscribe((entry) => seen.push(entry))
    const alice = createIdentity()
    const a = await registry.revokeToken({ issuer: alice.did, nonce: 'n1', expiresAt: Date.now() + 60_000 })
    const b = await registry.revokeIdentity(alice.did)
    unsubscribe()
    await registry.revokeToken({ issuer: alice.did, nonce: 'n2', expiresAt: Date.now() + 60_000 })
    expect(seen).toEqual([a, b])
  })

  it('persists to its file (mode 0600) and reloads, dropping tokens that have expired', async () => {
    const path = join(temp.dir, 'token-revocations.json')
    const clock = manualClock()
    const alice = createIdentity()
    const registry = await createTokenRevocationRegistry({ path, clock })
    const short = await registry.revokeToken({ issuer: alice.did, nonce: 'short', expiresAt: clock() + 10_000 })
    const long = await registry.revokeToken({ issuer: alice.did, nonce: 'long', expiresAt: clock() + 3_600_000 })
    const cut = await registry.revokeIdentity(createIdentity().did, { reason: 'left the team' })
    expect((await stat(path)).mode & 0o777).toBe(0o600)

    const reopened = await createTokenRevocationRegistry({ path, clock })
    expect(reopened.entries()).toEqual([cut, short, long])
    clock.advance(10_000)
    const later = await createTokenRevocationRegistry({ path, clock })
    expect(later.entries()).toEqual([cut, long])
    expect(later.revocationOf({ issuer: alice.did, subject: alice.did, nonce: 'short', issuedAt: clock() - 20_000 })).toBeUndefined()
    expect(later.revocationOf({ issuer: alice.did, subject: alice.did, nonce: 'long', issuedAt: clock() - 20_000 })).toEqual(long)
  })

  it('refuses a corrupt file by name, and a full registry with a retryable error', async () => {
    const path = join(temp.dir, 'token-revocations.json')
    await writeFile(path, '{"format":"qflow-squid-token-revocations","v":1,"identities":[{"kind":"identity","identity":"nope"}],"tokens":[]}')
    const err = await rejection(createTokenRevocationRegistry({ path }))
    expect(err.name).toBe('RevocationStoreCorruptError')
    expect(err.message).toContain('identity entry 0')
    await writeFile(path, 'not json')
    expect((await rejection(createTokenRevocationRegistry({ path }))).name).toBe('RevocationStoreCorruptError')
    expect(await readFile(path, 'utf8')).toBe('not json')

    const clock = manualClock()
    const alice = createIdentity()
    const small = await createTokenRevocationRegistry({ clock, maxTokens: 2 })
    await small.revokeToken({ issuer: alice.did, nonce: 'a', expiresAt: clock() + 1000 })
    await small.revokeToken({ issuer: alice.did, nonce: 'b', expiresAt: clock() + 60_000 })
    const full = await rejection(small.revokeToken({ issuer: alice.did, nonce: 'c', expiresAt: clock() + 60_000 }))
    expect(full).toMatchObject({ name: 'TokenRevocationLimitError', retryable: true, capacity: 2 })
    // Once one has expired there is room again.
    clock.advance(1000)
    expect((await small.revokeToken({ issuer: alice.did, nonce: 'c', expiresAt: clock() + 60_000 })).nonce).toBe('c')
    expect(small.size).toBe(2)
  })
})
