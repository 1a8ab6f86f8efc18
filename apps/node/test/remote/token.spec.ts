import { mkdtemp } from 'node:fs/promises'
import { join } from 'node:path'
import { createIdentity, decodeToken, issueToken } from '@qflow/adapters-squid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQflowClient } from '../../src/client/client.js'
import { ExitCode } from '../../src/constants.js'
import { qflow } from '../fixtures/cli.js'
import { cliEnv, json, qflowAt, type RemoteNode, startRemoteNode } from './fixtures.js'

let remote: RemoteNode

beforeAll(async () => {
  remote = await startRemoteNode()
})

afterAll(async () => {
  await remote?.close()
})

const adminToken = () => issueToken(remote.node.parts.admin, { audience: 'qflow', ttlMs: 600_000 })

/** Whether the node accepts `token` for listing flows (the admin may). */
async function accepted(token: string): Promise<boolean> {
  try {
    await createQflowClient({ api: remote.url, token }).flows.list({ limit: 1 })
    return true
  } catch (err) {
    if ((err as { status?: number }).status === 401) return false
    throw err
  }
}

describe('qflow token issue', () => {
  it('signs a token with a key file: standard output holds the token alone, for the key\'s identity and the node audience', async () => {
    const key = join(remote.dir, 'me.pem')
    const made = await qflow(['--json', 'key', 'generate', '--out', key])
    expect(made.code).toBe(0)
    const did = json<{ did: string }>(made).did

    const issued = await qflow(['token', 'issue', '--key', key, '--ttl', '2h'], { cwd: remote.dir })
    expect(issued.code).toBe(0)
    const token = issued.stdout.trim()
    const { claims } = decodeToken(token)
    expect(claims).toMatchObject({ iss: did, sub: did, aud: 'qflow' })
    expect(claims.exp - claims.iat).toBe(7200)
    expect(issued.stderr).toContain(`a token of ${did} for qflow, valid until`)

    const asJson = json<{ token: string; subject: string; audience: string; expiresAt: string }>(await qflow(['--json', 'token', 'issue', '--key', key]))
    expect(asJson).toMatchObject({ subject: did, audience: 'qflow' })
    expect(decodeToken(asJson.token).claims.exp - decodeToken(asJson.token).claims.iat).toBe(3600)
    expect(Date.parse(asJson.expiresAt)).toBe(decodeToken(asJson.token).claims.exp * 1000)
    // The node authenticates the identity (403 for lack of grants, not 401).
    const listed = await qflowAt(remote, ['token', 'revocations'], { env: { QFLOW_TOKEN: token } })
    expect(listed.code).toBe(ExitCode.forbidden)
  })

  it("signs as the node's admin from the data directory while the node runs, and the node accepts it", async () => {
    const issued = await qflow(['--json', 'token', 'issue', '--admin', '--data-dir', join(remote.dir, 'data'), '--ttl', '30d'])
    expect(issued.code).toBe(0)
    const { token, subject } = json<{ token: string; subject: string }>(issued)
    expect(subject).toBe(remote.node.parts.admin.did)
    expect(await accepted(token)).toBe(true)
  })

  it('refuses a missing or double signer, a bad ttl, and a directory without a node', async () => {
    expect((await qflow(['token', 'issue'])).code).toBe(ExitCode.usage)
    expect((await qflow(['token', 'issue', '--admin', '--key', 'x.pem'])).code).toBe(ExitCode.usage)
    const badTtl = await qflow(['token', 'issue', '--admin', '--ttl', 'forever'])
    expect(badTtl.code).toBe(ExitCode.usage)
    expect(badTtl.stderr).toContain('--ttl')
    const empty = await mkdtemp(join(remote.dir, 'empty-'))
    const none = await qflow(['token', 'issue', '--admin', '--data-dir', empty])
    expect(none.code).toBe(ExitCode.invalid)
    expect(none.stderr).toContain('holds no node keystore')
    const noKey = await qflow(['token', 'issue', '--key', join(remote.dir, 'missing.pem')])
    expect(noKey.code).toBe(ExitCode.invalid)
  })
})

describe('qflow token revoke and revocations', () => {
  it('revokes a token given as an argument or on standard input; the node refuses it from then on', async () => {
    const first = await adminToken()
    const second = await adminToken()
    const revoked = await qflowAt(remote, ['--json', 'token', 'revoke', first, '--reason', 'pasted in a ticket'])
    expect(revoked.code).toBe(0)
    expect(json(revoked)).toMatchObject({ kind: 'token', issuer: remote.node.parts.admin.did, nonce: decodeToken(first).claims.jti, reason: 'pasted in a ticket' })
    expect(await accepted(first)).toBe(false)
    const refused = await qflowAt(remote, ['flow', 'list'], { env: { QFLOW_TOKEN: first } })
    expect(refused.code).toBe(ExitCode.unauthenticated)

    const piped = await qflowAt(remote, ['token', 'revoke', '-'], { input: `${second}\n` })
    expect(piped.code).toBe(0)
    expect(piped.stdout).toContain(`token ${decodeToken(second).claims.jti} of ${remote.node.parts.admin.did} is revoked until it expires at`)
    expect(await accepted(second)).toBe(false)
  })

  it('revokes an identity, lists the revocations, and refuses a revocation with no target', async () => {
    const carol = createIdentity()
    const cut = await qflowAt(remote, ['--json', 'token', 'revoke', '--identity', carol.did, '--reason', 'left the team'])
    expect(cut.code).toBe(0)
    expect(json(cut)).toMatchObject({ kind: 'identity', identity: carol.did, reason: 'left the team', by: remote.node.parts.admin.did })

    const list = await qflowAt(remote, ['--json', 'token', 'revocations'])
    expect(list.code).toBe(0)
    expect(json<{ items: unknown[] }>(list).items).toContainEqual(json(cut))
    const table = await qflowAt(remote, ['token', 'revocations'])
    expect(table.stdout).toMatch(/KIND\s+WHO\s+NONCE/)
    expect(table.stdout).toContain(carol.did)

    expect((await qflowAt(remote, ['token', 'revoke'])).code).toBe(ExitCode.usage)
    expect((await qflowAt(remote, ['token', 'revoke', 'x', '--identity', carol.did])).code).toBe(ExitCode.usage)
    expect((await qflowAt(remote, ['token', 'revoke', 'x', '--before', '2026-01-01'])).code).toBe(ExitCode.usage)
    const malformed = await qflowAt(remote, ['token', 'revoke', 'not-a-token'])
    expect(malformed.code).toBe(ExitCode.invalid)
    expect(malformed.stderr).toContain('VALIDATION_FAILED')
    // A stranger may not revoke the admin.
    const stranger = await qflowAt(remote, ['token', 'revoke', '--identity', remote.node.parts.admin.did], { env: { QFLOW_TOKEN: remote.strangerToken } })
    expect(stranger.code).toBe(ExitCode.forbidden)
  })

  it('logout --revoke has the node revoke the saved token before forgetting it', async () => {
    const env = cliEnv(await mkdtemp(join(remote.dir, 'config-')))
    const token = await adminToken()
    expect((await qflow(['login', '--api', remote.url, '--token', token], { env })).code).toBe(0)
    const out = await qflow(['--json', 'logout', '--revoke'], { env })
    expect(out.code).toBe(0)
    expect(json(out)).toMatchObject({ loggedOut: true, api: remote.url, revoked: true })
    expect(await accepted(token)).toBe(false)
    expect(json(await qflow(['--json', 'logout', '--revoke'], { env }))).toMatchObject({ loggedOut: false })
  })

  it('after the admin identity is revoked, token issue --admin makes a token the node accepts again', async () => {
    const old = await adminToken()
    const cut = await qflowAt(remote, ['token', 'revoke', '--identity', remote.node.parts.admin.did, '--reason', 'admin token leaked'], { env: { QFLOW_TOKEN: old } })
    expect(cut.code).toBe(0)
    expect(await accepted(old)).toBe(false)
    const issued = await qflow(['token', 'issue', '--admin', '--data-dir', join(remote.dir, 'data')])
    expect(issued.code).toBe(0)
    expect(await accepted(issued.stdout.trim())).toBe(true)
  })
})
