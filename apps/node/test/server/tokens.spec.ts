import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIdentity, decodeToken, type Identity, issueToken } from '@qflow/adapters-squid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQflowNode } from '../../src/node/node.js'
import { createApiServer } from '../../src/server/index.js'
import { webhookFlow } from '../webhooks/fixtures.js'
import { TestClient } from '../ws/fixtures.js'
import { type Api, startApi } from './api-fixture.js'

let api: Api

beforeAll(async () => {
  api = await startApi()
})
afterAll(async () => {
  await api?.close()
})

/** A token of `identity` issued `offsetMs` from now (iat counts whole seconds: +1 s is past a cutoff made now). */
const tokenOf = (identity: Identity, offsetMs = 0) => issueToken(identity, { audience: 'qflow', ttlMs: 600_000, now: Date.now() + offsetMs })

/** An identity granted `read` on every flow, so that `GET /api/v1/flows` answers it 200. */
async function reader(): Promise<Identity> {
  const identity = createIdentity()
  const granted = await api.call('POST', '/api/v1/grants', { body: { subject: identity.did, resource: 'qflow:flow:*', actions: ['read'] } })
  expect(granted.status).toBe(201)
  return identity
}

describe('token revocation over the API', () => {
  it('lets anyone revoke their own token: it is refused from then on, with the reason, and their other tokens still pass', async () => {
    const ada = await reader()
    const token = await tokenOf(ada)
    const other = await tokenOf(ada)
    expect((await api.call('GET', '/api/v1/flows', { token })).status).toBe(200)

    const revoked = await api.call('POST', '/api/v1/tokens/revocations', { token, body: { token, reason: 'pasted in a chat' } })
    expect(revoked.status).toBe(201)
    const { claims } = decodeToken(token)
    expect(revoked.body.data).toEqual({
      kind: 'token',
      issuer: ada.did,
      nonce: claims.jti,
      expiresAt: claims.exp * 1000,
      revokedAt: expect.any(Number),
      reason: 'pasted in a chat',
      by: ada.did
    })

    const refused = await api.call('GET', '/api/v1/flows', { token })
    expect(refused.status).toBe(401)
    expect(refused.body.error).toMatchObject({ code: 'UNAUTHENTICATED', message: 'the bearer token was revoked', details: { reason: 'TokenRevokedError', revokedAt: revoked.body.data.revokedAt } })
    expect((await api.call('GET', '/api/v1/flows', { token: other })).status).toBe(200)
    expect(api.node.parts.tokenRevocations.entries()).toContainEqual(revoked.body.data)
  })

  it("refuses to revoke someone else's token or identity without admin, and records nothing", async () => {
    const mallory = createIdentity()
    const victim = await tokenOf(api.node.parts.admin)
    const before = api.node.parts.tokenRevocations.size
    const byToken = await api.call('POST', '/api/v1/tokens/revocations', { token: await tokenOf(mallory), body: { token: victim } })
    expect(byToken.status).toBe(403)
    expect(byToken.body.error.code).toBe('FORBIDDEN')
    const byIdentity = await api.call('POST', '/api/v1/tokens/revocations', { token: await tokenOf(mallory), body: { identity: api.node.parts.admin.did } })
    expect(byIdentity.status).toBe(403)
    // A token Mallory writes herself, naming the admin's token's nonce: its signature is hers, not the issuer's.
    const victimClaims = decodeToken(victim).claims
    const [header, , sig] = (await issueToken(mallory, { audience: 'qflow', subject: mallory.did, nonce: victimClaims.jti })).split('.')
    const forgedClaims = Buffer.from(JSON.stringify({ ...victimClaims, sub: mallory.did })).toString('base64url')
    const forged = await api.call('POST', '/api/v1/tokens/revocations', { token: await tokenOf(mallory), body: { token: `${header}.${forgedClaims}.${sig}` } })
    expect(forged.status).toBe(400)
    expect(forged.body.error.details.pointer).toBe('/token')
    const list = await api.call('GET', '/api/v1/tokens/revocations', { token: await tokenOf(mallory) })
    expect(list.status).toBe(403)
    expect(api.node.parts.tokenRevocations.size).toBe(before)
    expect((await api.call('GET', '/api/v1/flows', { token: victim })).status).toBe(200)
  })

  it("lets the admin revoke an identity: every token it had is refused, one issued after the cutoff's second passes", async () => {
    const bob = await reader()
    const old = [await tokenOf(bob), await tokenOf(bob)]
    const cut = await api.call('POST', '/api/v1/tokens/revocations', { body: { identity: bob.did, reason: 'left the team' } })
    expect(cut.status).toBe(201)
    expect(cut.body.data).toMatchObject({ kind: 'identity', identity: bob.did, before: expect.any(Number), reason: 'left the team', by: api.node.parts.admin.did })
    for (const token of old) {
      const refused = await api.call('GET', '/api/v1/flows', { token })
      expect(refused.status).toBe(401)
      expect(refused.body.error.details.reason).toBe('TokenRevokedError')
    }
    expect((await api.call('GET', '/api/v1/flows', { token: await tokenOf(bob, 1000) })).status).toBe(200)

    const list = await api.call('GET', '/api/v1/tokens/revocations')
    expect(list.status).toBe(200)
    expect(list.body.data.items).toContainEqual(cut.body.data)
    expect(list.body.data.total).toBe(list.body.data.items.length)
  })

  it('answers a malformed revocation 400 with a pointer, and stores nothing', async () => {
    const before = api.node.parts.tokenRevocations.size
    const someone = createIdentity().did
    const cases: Array<[unknown, string]> = [
      [{}, '/'],
      [{ token: await tokenOf(api.node.parts.admin), identity: someone }, '/'],
      [{ token: 'not.a.token' }, '/token'],
      [{ token: await tokenOf(api.node.parts.admin), before: Date.now() - 1000 }, '/before'],
      [{ identity: 'not-a-did' }, '/identity'],
      [{ identity: someone, before: Date.now() + 3_600_000 }, '/before']
    ]
    for (const [body, pointer] of cases) {
      const answer = await api.call('POST', '/api/v1/tokens/revocations', { body })
      expect(answer.status, JSON.stringify(body)).toBe(400)
      expect(answer.body.error.code).toBe('VALIDATION_FAILED')
      expect(answer.body.error.details.pointer, JSON.stringify(body)).toBe(pointer)
    }
    const unknownField = await api.call('POST', '/api/v1/tokens/revocations', { body: { identity: someone, extra: 1 } })
    expect(unknownField.status).toBe(400)
    expect(api.node.parts.tokenRevocations.size).toBe(before)
  })

  it('refuses a revoked token on a squid-token webhook trigger too, and starts nothing', async () => {
    const flow = webhookFlow('token-hook', api.node.parts.admin.did, [{ id: 'in', type: 'webhook', auth: { scheme: 'squid-token' } }], '$.input')
    expect((await api.call('POST', '/api/v1/flows', { body: flow })).status).toBe(201)
    const token = await tokenOf(api.node.parts.admin)
    const send = () => api.call('POST', '/webhooks/token-hook/in', { token, body: { n: 1 } })
    const accepted = await send()
    expect(accepted.status).toBe(202)
    expect((await api.call('POST', '/api/v1/tokens/revocations', { token, body: { token } })).status).toBe(201)
    const before = (await api.node.parts.store.log.listExecutions()).length
    const refused = await send()
    expect(refused.status).toBe(401)
    expect(refused.body.error.details.reason).toBe('TokenRevokedError')
    expect((await api.node.parts.store.log.listExecutions()).length).toBe(before)
  })

  it("makes the pipeline's own token check (Qlock) refuse a revoked operation token", async () => {
    const { actor } = await api.node.asAdmin()
    const { claims } = decodeToken(actor.credentials.token)
    await api.node.parts.tokenRevocations.revokeToken({ issuer: claims.iss, nonce: claims.jti, expiresAt: claims.exp * 1000 })
    const err = await api.node.parts.engine.createFlow(webhookFlow('never-stored', actor.did, [], '$.input') as never, { actor }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'PipelineHaltedError', stage: 'qlock' })
    expect(JSON.stringify(err)).toContain('TokenRevokedError')
    expect(await api.node.parts.store.flows.current('never-stored').catch(() => undefined)).toBeUndefined()
  })

  it('closes the WebSocket connections of a revoked token with 1008 at once', async () => {
    const token = await tokenOf(api.node.parts.admin)
    const keep = await tokenOf(api.node.parts.admin)
    const wsUrl = `${api.url.replace('http', 'ws')}/api/v1/ws`
    const doomed = await TestClient.open(wsUrl, token)
    const spared = await TestClient.open(wsUrl, keep)
    await doomed.subscribe('s1')
    await spared.subscribe('s1')
    const revoked = await api.call('POST', '/api/v1/tokens/revocations', { token: keep, body: { token } })
    expect(revoked.status).toBe(201)
    expect(await doomed.closed).toEqual({ code: 1008, reason: 'token revoked' })
    expect(spared.ws.readyState).toBe(spared.ws.OPEN)
    spared.ws.close()
    await spared.closed
    const refused = await api.call('GET', '/api/v1/flows', { token })
    expect(refused.status).toBe(401)
  })
})

describe('token revocations across a restart', () => {
  let dataDir: string
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'qflow-tokens-'))
  })
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true })
  })

  it('are kept in the data directory and still refuse the token after the node restarts', async () => {
    const ada = createIdentity()
    const token = await tokenOf(ada)
    const start = async () => {
      const node = createQflowNode({ dataDir, durability: 'batched' })
      await node.start()
      const server = await createApiServer(node, { logLevel: 'silent' })
      const { url } = await server.listen({ host: '127.0.0.1', port: 0 })
      const call = (body?: unknown) =>
        fetch(`${url}/api/v1/tokens/revocations`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) })
        })
      return { node, server, call }
    }
    const first = await start()
    expect((await first.call({ identity: ada.did })).status).toBe(201)
    await first.server.close()
    await first.node.stop()
    const file = JSON.parse(await readFile(join(dataDir, 'token-revocations.json'), 'utf8'))
    expect(file.identities).toEqual([expect.objectContaining({ kind: 'identity', identity: ada.did })])

    const second = await start()
    try {
      const refused = await second.call()
      expect(refused.status).toBe(401)
      expect(((await refused.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe('TokenRevokedError')
    } finally {
      await second.server.close()
      await second.node.stop()
    }
  })
})
