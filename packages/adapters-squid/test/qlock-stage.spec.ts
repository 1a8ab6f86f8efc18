import {
  createOperationContext,
  createPipeline,
  type OperationInput,
  operationSigningBytes,
  PipelineHaltedError,
  passThroughStage,
  qlockStage,
  type StageVerdict
} from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import {
  createIdentity,
  createRevocationRegistry,
  createSubIdentity,
  delegationId,
  type Identity,
  issueToken,
  signPayload,
  squidVerifier
} from '../src/index.js'
import { manualClock } from './fixtures/index.js'

const AUDIENCE = 'qflow:node:n1'
const MIN = 60_000

async function fixture() {
  const clock = manualClock()
  const revocations = await createRevocationRegistry()
  const verifier = squidVerifier({ clock })({ revocations })
  const stage = qlockStage({ audience: AUDIENCE, now: clock })({ identity: verifier })
  const evaluate = async (input: OperationInput): Promise<StageVerdict> =>
    stage.evaluate(createOperationContext({ issuedAt: clock(), ...input }, '1.0.0'), []) as Promise<StageVerdict>
  const base = { kind: 'flow.run', resource: 'qflow:flow:f1', action: 'execute', payload: { input: 42 } } as const
  return { clock, revocations, verifier, stage, evaluate, base }
}

const codeOf = (verdict: StageVerdict): string => (verdict.ok ? 'OK' : verdict.code)

/** A detached signature by `signer` over the operation's signing bytes, as a client would make it. */
async function signOperation(input: OperationInput, signer: Identity, issuedAt: number) {
  const context = createOperationContext({ ...input, issuedAt }, '1.0.0')
  return signPayload(signer, operationSigningBytes(context))
}

describe('Qlock stage with the sQuid verifier', () => {
  it('passes a good token and reports who and how', async () => {
    const { clock, evaluate, base } = await fixture()
    const alice = createIdentity()
    const token = await issueToken(alice, { audience: AUDIENCE, now: clock(), capabilities: ['flow:run'] })
    expect(await evaluate({ ...base, actor: { did: alice.did, credentials: { token } } })).toEqual({
      ok: true,
      details: { identity: alice.did, root: alice.did, method: 'token', capabilities: ['flow:run'] }
    })
  })

  it('maps each token failure to its halt code', async () => {
    const { clock, evaluate, base } = await fixture()
    const alice = createIdentity()
    const run = async (token: string) => codeOf(await evaluate({ ...base, actor: { did: alice.did, credentials: { token } } }))

    const expired = await issueToken(alice, { audience: AUDIENCE, now: clock() - 10 * MIN, ttlMs: 5 * MIN })
    expect(await run(expired)).toBe('TOKEN_EXPIRED')
    const early = await issueToken(alice, { audience: AUDIENCE, now: clock(), notBefore: clock() + 5 * MIN, ttlMs: 10 * MIN })
    const notYet = await evaluate({ ...base, actor: { did: alice.did, credentials: { token: early } } })
    expect(notYet).toMatchObject({ ok: false, code: 'TOKEN_NOT_YET_VALID', retryable: true })
    expect(await run(await issueToken(alice, { audience: 'qflow:node:other', now: clock() }))).toBe('TOKEN_AUDIENCE')
    const good = await issueToken(alice, { audience: AUDIENCE, now: clock() })
    const [h, , s] = good.split('.')
    const forged = `${h}.${Buffer.from(JSON.stringify({ iss: alice.did, sub: alice.did, aud: AUDIENCE, iat: clock() / 1000, exp: clock() / 1000 + 60, jti: 'x' })).toString('base64url')}.${s}`
    expect(await run(forged)).toBe('TOKEN_SIGNATURE')
    expect(await run('garbage')).toBe('TOKEN_MALFORMED')
    expect(await run(good)).toBe('OK')
    const replayed = await evaluate({ ...base, actor: { did: alice.did, credentials: { token: good } } })
    expect(replayed).toMatchObject({ ok: false, code: 'TOKEN_REPLAYED', details: { error: 'TokenReplayedError' } })
    // A token for someone else.
    const bobToken = await issueToken(createIdentity(), { audience: AUDIENCE, now: clock() })
    expect(await run(bobToken)).toBe('IDENTITY_MISMATCH')
  })

  it('checks detached operation signatures: good, tampered and wrong-key', async () => {
    const { clock, evaluate, base } = await fixture()
    const alice = createIdentity()
    const input: OperationInput = { ...base, actor: { did: alice.did } }
    const signature = await signOperation(input, alice, clock())
    expect(await evaluate({ ...input, actor: { did: alice.did, credentials: { signature } } })).toEqual({
      ok: true,
      details: { identity: alice.did, root: alice.did, method: 'signature' }
    })
    expect(codeOf(await evaluate({ ...input, resource: 'qflow:flow:other', actor: { did: alice.did, credentials: { signature } } }))).toBe('BAD_SIGNATURE')
    expect(codeOf(await evaluate({ ...input, payload: { input: 43 }, actor: { did: alice.did, credentials: { signature } } }))).toBe('BAD_SIGNATURE')
    const mallory = createIdentity()
    const byMallory = await signOperation(input, mallory, clock())
    expect(codeOf(await evaluate({ ...input, actor: { did: alice.did, credentials: { signature: { ...byMallory, signer: alice.did } } } }))).toBe('BAD_SIGNATURE')
    const token = await issueToken(alice, { audience: AUDIENCE, now: clock() })
    expect(await evaluate({ ...input, actor: { did: alice.did, credentials: { token, signature } } })).toMatchObject({ ok: true, details: { method: 'token+signature' } })
  })

  it('passes a delegated sub-identity under its root, and fails it once the delegation is revoked', async () => {
    const { clock, evaluate, base, revocations } = await fixture()
    const root = createIdentity()
    const { identity: bot, delegation } = await createSubIdentity(root, { capabilities: ['flow:read', 'flow:run'], now: clock() })
    const token = await issueToken(bot, { audience: AUDIENCE, now: clock(), delegation: [delegation], capabilities: ['flow:run'] })
    expect(await evaluate({ ...base, actor: { did: bot.did, credentials: { token, delegation: [delegation] } } })).toEqual({
      ok: true,
      details: { identity: bot.did, root: root.did, method: 'token', capabilities: ['flow:run'] }
    })
    // The chain may also come beside a signature instead of inside a token.
    const signature = await signOperation({ ...base, actor: { did: bot.did } }, bot, clock())
    expect(await evaluate({ ...base, actor: { did: bot.did, credentials: { signature, delegation: [delegation] } } })).toEqual({
      ok: true,
      details: { identity: bot.did, root: root.did, method: 'signature', capabilities: ['flow:read', 'flow:run'] }
    })

    await revocations.revoke(delegationId(delegation))
    const fresh = await issueToken(bot, { audience: AUDIENCE, now: clock(), delegation: [delegation] })
    expect(codeOf(await evaluate({ ...base, actor: { did: bot.did, credentials: { token: fresh } } }))).toBe('DELEGATION_REVOKED')
    const again = await signOperation({ ...base, actor: { did: bot.did } }, bot, clock())
    expect(codeOf(await evaluate({ ...base, actor: { did: bot.did, credentials: { signature: again, delegation: [delegation] } } }))).toBe('DELEGATION_REVOKED')
  })

  it('a chain carried only inside the token narrows capabilities and names its root', async () => {
    const { clock, evaluate, base, verifier } = await fixture()
    const root = createIdentity()
    const { identity: bot, delegation } = await createSubIdentity(root, { capabilities: ['flow:run'], now: clock() })
    const token = await issueToken(bot, { audience: AUDIENCE, now: clock(), delegation: [delegation] })
    expect(await evaluate({ ...base, actor: { did: bot.did, credentials: { token } } })).toEqual({
      ok: true,
      details: { identity: bot.did, root: root.did, method: 'token', capabilities: ['flow:run'] }
    })
    const direct = await issueToken(bot, { audience: AUDIENCE, now: clock(), delegation: [delegation] })
    expect((await verifier.verifyToken(direct, { audience: AUDIENCE })).root).toBe(root.did)
  })

  it('halts a whole pipeline at Qlock with the verifier error code', async () => {
    const { clock, verifier } = await fixture()
    const pipeline = createPipeline({
      stages: [qlockStage({ audience: AUDIENCE, now: clock })({ identity: verifier }), passThroughStage('qonsent'), passThroughStage('qindex'), passThroughStage('qerberos')]
    })
    const alice = createIdentity()
    const expired = await issueToken(alice, { audience: AUDIENCE, now: clock() - 10 * MIN, ttlMs: MIN })
    try {
      await pipeline.run({ kind: 'flow.read', resource: 'qflow:flow:f1', action: 'read', issuedAt: clock(), actor: { did: alice.did, credentials: { token: expired } } })
      expect.unreachable('the pipeline should halt')
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineHaltedError)
      expect([(err as PipelineHaltedError).stage, (err as PipelineHaltedError).code]).toEqual(['qlock', 'TOKEN_EXPIRED'])
    }
    const good = await issueToken(alice, { audience: AUDIENCE, now: clock() })
    const result = await pipeline.run({ kind: 'flow.read', resource: 'qflow:flow:f1', action: 'read', issuedAt: clock(), actor: { did: alice.did, credentials: { token: good } } })
    expect(result.trace.map((t) => t.verdict.ok)).toEqual([true, true, true, true])
  })
})
