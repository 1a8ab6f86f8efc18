import { canonicalize } from '@qflow/canonical-json'
import { describe, expect, it } from 'vitest'
import { type ConsentGrant, createGrant, grantSigningBytes, signGrant, validateGrant, verifyGrantSignature } from '../src/index.js'
import { ALICE, BOB, OWNER, TestIdentities } from './fixtures/identities.js'

const base: ConsentGrant = {
  id: 'g1',
  subject: ALICE,
  resource: 'qflow:flow:f1',
  actions: ['read'],
  effect: 'allow',
  grantedBy: OWNER
}

function invalid(grant: unknown): { name: string; path: string; grantId: string | undefined } {
  try {
    validateGrant(grant)
  } catch (err) {
    const e = err as { name: string; path: string; grantId: string | undefined }
    return { name: e.name, path: e.path, grantId: e.grantId }
  }
  throw new Error('expected the grant to be refused')
}

describe('grants', () => {
  it('validates and freezes a copy', () => {
    const input = { ...base, actions: ['read', 'write'], conditions: { subnet: ['dao-a'] } }
    const grant = validateGrant(input)
    expect(grant).toEqual(input)
    expect(grant).not.toBe(input)
    expect(Object.isFrozen(grant)).toBe(true)
    expect(Object.isFrozen(grant.conditions?.subnet)).toBe(true)
    input.actions.push('admin')
    expect(grant.actions).toEqual(['read', 'write'])
  })

  it('accepts the subject forms: identity, *, prefix', () => {
    expect(validateGrant({ ...base, subject: '*' }).subject).toBe('*')
    expect(validateGrant({ ...base, subject: 'did:squid:alice:*' }).subject).toBe('did:squid:alice:*')
  })

  it.each([
    [null, ''],
    [[], ''],
    [{ ...base, id: '' }, '/id'],
    [{ ...base, id: 'has space' }, '/id'],
    [{ ...base, id: 'x'.repeat(129) }, '/id'],
    [{ ...base, subject: '' }, '/subject'],
    [{ ...base, subject: 'did:*:x' }, '/subject'],
    [{ ...base, subject: 'did:key:a b' }, '/subject'],
    [{ ...base, subject: 'did:key:\ud800' }, '/subject'],
    [{ ...base, grantedBy: '*' }, '/grantedBy'],
    [{ ...base, grantedBy: undefined }, '/grantedBy'],
    [{ ...base, resource: 'qflow::x' }, '/resource'],
    [{ ...base, resource: ['qflow:flow:f1'] }, '/resource'],
    [{ ...base, actions: [] }, '/actions'],
    [{ ...base, actions: 'read' }, '/actions'],
    [{ ...base, actions: ['read', 'Read'] }, '/actions/1'],
    [{ ...base, actions: ['read', 'read'] }, '/actions/1'],
    [{ ...base, effect: 'maybe' }, '/effect'],
    [{ ...base, effect: undefined }, '/effect'],
    [{ ...base, expiresAt: -1 }, '/expiresAt'],
    [{ ...base, expiresAt: 1.5 }, '/expiresAt'],
    [{ ...base, expiresAt: '2026-01-01T00:00:00Z' }, '/expiresAt'],
    [{ ...base, expiresAt: 9e15 }, '/expiresAt'],
    [{ ...base, signature: 'not base64url!' }, '/signature'],
    [{ ...base, conditions: { ipCidr: ['nope'] } }, '/conditions/ipCidr/0'],
    [{ ...base, extra: true }, '/extra']
  ])('refuses %j at %s', (grant, path) => {
    const result = invalid(grant)
    expect(result.name).toBe('InvalidGrantError')
    expect(result.path).toBe(path)
  })

  it('names the grant in its errors and keeps the pattern error as the cause', () => {
    try {
      validateGrant({ ...base, resource: 'a:**:b' })
    } catch (err) {
      expect((err as { grantId: string }).grantId).toBe('g1')
      expect(((err as Error).cause as Error).name).toBe('InvalidPatternError')
    }
    expect.assertions(2)
  })

  it('fills in an id and the allow effect', () => {
    const grant = createGrant({ subject: ALICE, resource: 'qflow:exec:*', actions: ['execute'], grantedBy: OWNER })
    expect(grant.effect).toBe('allow')
    expect(grant.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(createGrant({ id: 'mine', subject: ALICE, resource: 'a', actions: ['read'], grantedBy: OWNER, effect: 'deny' })).toMatchObject({ id: 'mine', effect: 'deny' })
  })

  it('signs the canonical bytes of the grant without its signature', async () => {
    const identities = new TestIdentities()
    const signed = await signGrant({ ...base, conditions: { subnet: 'dao-a' } }, identities.signer(OWNER))
    expect(signed.signature).toMatch(/^[A-Za-z0-9_-]{86}$/)
    const { signature: _s, ...unsigned } = signed
    expect(new TextDecoder().decode(grantSigningBytes(signed))).toBe(canonicalize(unsigned))
    expect(await verifyGrantSignature(signed, identities.verifier)).toBe(true)
    expect(await verifyGrantSignature({ ...signed, actions: ['read', 'write'] }, identities.verifier)).toBe(false)
    expect(await verifyGrantSignature({ ...signed, grantedBy: BOB }, identities.verifier)).toBe(false)
    expect(await verifyGrantSignature(base, identities.verifier)).toBe(false)
  })

  it('refuses to sign as someone other than the grantor', async () => {
    const identities = new TestIdentities()
    await expect(signGrant(base, identities.signer(BOB))).rejects.toMatchObject({ name: 'GrantSignatureError', problem: 'signer-mismatch' })
  })
})
