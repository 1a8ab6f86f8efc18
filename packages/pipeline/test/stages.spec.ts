import { generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  type ConsentDecision,
  type ConsentRequest,
  createDefaultPipeline,
  createOperationContext,
  type IdentityVerifier,
  type IndexRecord,
  type OperationContext,
  type OperationInput,
  operationSigningBytes,
  type PipelineHaltedError,
  type QerberosVerdict
} from '../src/index.js'

// Neighbours of the stages under test: small but real (ed25519 signatures are really checked).
class TokenExpiredError extends Error {
  override name = 'TokenExpiredError'
}
const keys = new Map<string, KeyObject>()
function newActor(did: string): KeyObject {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  keys.set(did, publicKey)
  return privateKey
}
const identity: IdentityVerifier = {
  async verifyToken(token) {
    if (token === 'expired') throw new TokenExpiredError('token expired')
    const [subject, caps] = token.split('|')
    return { issuer: subject as string, subject: subject as string, audience: ['node'], expiresAt: Date.now() + 60_000, nonce: token, ...(caps === undefined ? {} : { capabilities: caps.split(',') }) }
  },
  async verifySignature(did, data, signature) {
    const key = keys.get(did)
    return key !== undefined && edVerify(null, data, key, signature)
  },
  async verifyDelegation(chain, leaf) {
    return { root: String(chain[0]), leaf, capabilities: ['read'], expiresAt: Date.now() + 60_000 }
  }
}
const consentAsked: ConsentRequest[] = []
const qonsent = {
  async check(request: ConsentRequest): Promise<ConsentDecision> {
    consentAsked.push(request)
    if (request.resource === 'qflow:flow:lapsed') return { allowed: false, status: 'expired', reason: 'lapsed', grantId: 'g-old', expiresAt: 1 }
    if (request.resource === 'qflow:flow:secret') return { allowed: false, status: 'denied', reason: 'no grant' }
    return { allowed: true, status: 'allowed', reason: 'granted', grantId: 'g1' }
  }
}
const indexed: IndexRecord[] = []
const qindex = {
  async put(record: IndexRecord) {
    if (record.key === '') throw Object.assign(new Error('key is empty'), { name: 'InvalidIndexRecordError' })
    indexed.push(record)
  }
}
const qerberos = {
  async inspect(operation: OperationContext): Promise<QerberosVerdict> {
    if (operation.actor.did === 'did:key:blocked') return { verdict: 'DENY', code: 'IDENTITY_BLOCKED', reason: 'blocked' }
    if (operation.kind === 'odd') return { verdict: 'WARN', alerts: [{ id: 'a1', metric: 'run-rate', subject: 'flow:f', severity: 'medium', observed: 9, expected: 1, score: 4, at: 0 }] }
    return { verdict: 'ALLOW' }
  }
}

const pipeline = createDefaultPipeline({ squid: identity, qonsent, qindex, qerberos, audience: 'node', trustedActors: ['did:key:node'] })

function signed(input: OperationInput, key: KeyObject, issuedAt = Date.now()): OperationInput {
  const context = createOperationContext({ ...input, issuedAt }, pipeline.version)
  const value = new Uint8Array(edSign(null, operationSigningBytes(context), key))
  return { ...input, issuedAt, actor: { did: input.actor.did, credentials: { signature: { alg: 'EdDSA', signer: input.actor.did, value } } } }
}

async function haltOf(input: OperationInput): Promise<PipelineHaltedError> {
  try {
    await pipeline.run(input)
  } catch (err) {
    return err as PipelineHaltedError
  }
  throw new Error('expected a halt')
}

const base = { kind: 'flow.create', resource: 'qflow:flow:f1', action: 'write' } as const

describe('the default pipeline', () => {
  it('walks an operation through all four stages, indexing its record', async () => {
    const key = newActor('did:key:alice')
    const record: IndexRecord = { key: 'f1', kind: 'flow', owner: 'did:key:alice', createdAt: 1, updatedAt: 1 }
    const result = await pipeline.run(signed({ ...base, actor: { did: 'did:key:alice' }, payload: { id: 'f1' }, index: record }, key))
    expect(result.trace.map((e) => [e.stage, e.verdict.ok])).toEqual([
      ['qlock', true],
      ['qonsent', true],
      ['qindex', true],
      ['qerberos', true]
    ])
    expect(result.trace[0]?.verdict).toEqual({ ok: true, details: { identity: 'did:key:alice', root: 'did:key:alice', method: 'signature' } })
    expect(indexed.at(-1)).toEqual(record)
    expect(consentAsked.at(-1)).toMatchObject({ subject: 'did:key:alice', resource: 'qflow:flow:f1', action: 'write' })
  })

  it('halts at Qlock: no credentials, a forged or stale signature, an expired token, a token for someone else', async () => {
    expect((await haltOf({ ...base, actor: { did: 'did:key:alice' } })).code).toBe('MISSING_CREDENTIALS')
    const mallory = newActor('did:key:mallory')
    const forged = signed({ ...base, actor: { did: 'did:key:alice' } }, mallory)
    const badSig = await haltOf(forged)
    expect([badSig.stage, badSig.code]).toEqual(['qlock', 'BAD_SIGNATURE'])
    const tampered = { ...signed({ ...base, actor: { did: 'did:key:mallory' } }, mallory), resource: 'qflow:flow:other' }
    expect((await haltOf(tampered)).code).toBe('BAD_SIGNATURE')
    const alice = newActor('did:key:alice-old')
    const replayedLater = signed({ ...base, actor: { did: 'did:key:alice-old' } }, alice, Date.now() - 10 * 60 * 1000)
    expect((await haltOf(replayedLater)).code).toBe('STALE_SIGNATURE')
    const expired = await haltOf({ ...base, actor: { did: 'did:key:alice', credentials: { token: 'expired' } } })
    expect([expired.code, expired.details]).toEqual(['TOKEN_EXPIRED', { error: 'TokenExpiredError' }])
    expect((await haltOf({ ...base, actor: { did: 'did:key:alice', credentials: { token: 'did:key:bob' } } })).code).toBe('IDENTITY_MISMATCH')
  })

  it('lets the node act as itself without credentials', async () => {
    const result = await pipeline.run({ ...base, actor: { did: 'did:key:node' } })
    expect(result.trace[0]?.verdict).toMatchObject({ details: { method: 'trusted' } })
  })

  it('halts at Qonsent: expired consent is retryable, a denial is not, a missing capability stops first', async () => {
    const token = { did: 'did:key:alice', credentials: { token: 'did:key:alice' } }
    const lapsed = await haltOf({ ...base, resource: 'qflow:flow:lapsed', actor: token })
    expect([lapsed.stage, lapsed.code, lapsed.retryable]).toEqual(['qonsent', 'CONSENT_EXPIRED', true])
    expect(lapsed.details).toMatchObject({ status: 'expired', grantId: 'g-old' })
    const denied = await haltOf({ ...base, resource: 'qflow:flow:secret', actor: token })
    expect([denied.code, denied.retryable]).toEqual(['CONSENT_DENIED', false])
    const asked = consentAsked.length
    const scoped = await haltOf({ ...base, actor: { did: 'did:key:alice', credentials: { token: 'did:key:alice|read' } } })
    expect(scoped.code).toBe('CAPABILITY_MISSING')
    expect(consentAsked.length).toBe(asked)
  })

  it('halts at Qindex when the record is refused, and at Qerberos on DENY; WARN passes', async () => {
    const actor = { did: 'did:key:alice', credentials: { token: 'did:key:alice' } }
    const bad = await haltOf({ ...base, actor, index: { key: '', kind: 'flow', owner: 'x', createdAt: 0, updatedAt: 0 } })
    expect([bad.stage, bad.code, bad.trace.length]).toEqual(['qindex', 'INVALID_INDEX_RECORD', 3])
    const blocked = await haltOf({ ...base, actor: { did: 'did:key:blocked', credentials: { token: 'did:key:blocked' } } })
    expect([blocked.stage, blocked.code]).toEqual(['qerberos', 'IDENTITY_BLOCKED'])
    const warned = await pipeline.run({ ...base, kind: 'odd', actor })
    expect(warned.trace[3]?.verdict).toMatchObject({ ok: true, details: { verdict: 'WARN' } })
  })
})

describe('vouching', () => {
  it('lets a trusted node act for an actor it authenticated earlier, and consent is asked for the actor', async () => {
    const result = await pipeline.run({ ...base, actor: { did: 'did:key:alice', credentials: { vouchedBy: 'did:key:node' } } })
    expect(result.trace[0]?.verdict).toEqual({
      ok: true,
      details: { identity: 'did:key:alice', root: 'did:key:alice', method: 'vouched', vouchedBy: 'did:key:node' }
    })
    expect(consentAsked.at(-1)?.subject).toBe('did:key:alice')
  })

  it('refuses a voucher that is not trusted, and checks a voucher signature when present', async () => {
    const untrusted = await haltOf({ ...base, actor: { did: 'did:key:alice', credentials: { vouchedBy: 'did:key:mallory' } } })
    expect(untrusted.code).toBe('UNTRUSTED_VOUCHER')
    const nodeKey = newActor('did:key:node')
    const good = signed({ ...base, actor: { did: 'did:key:alice' } }, nodeKey)
    const sig = good.actor.credentials?.signature
    if (sig === undefined) throw new Error('no signature')
    const vouched = { ...good, actor: { did: 'did:key:alice', credentials: { vouchedBy: 'did:key:node', signature: { ...sig, signer: 'did:key:node' } } } }
    expect((await pipeline.run(vouched)).trace[0]?.verdict.ok).toBe(true)
    const forged = { ...vouched, resource: 'qflow:flow:elsewhere' }
    expect((await haltOf(forged)).code).toBe('BAD_SIGNATURE')
  })
})
