import { createIdentity, issueToken } from '@qflow/adapters-squid'
import { generateStandardWebhooksSecret } from '@qflow/webhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQflowClient, type QflowClient } from '../../src/client/client.js'
import type { GrantRecord } from '../../src/client/types.js'
import { ExitCode } from '../../src/constants.js'
import { ADMIN_GRANT_ID } from '../../src/node/node.js'
import { standardHeaders, webhookFlow } from '../webhooks/fixtures.js'
import { json, qflowAt, type RemoteNode, startRemoteNode } from './fixtures.js'

let remote: RemoteNode
let client: QflowClient

beforeAll(async () => {
  remote = await startRemoteNode()
  client = createQflowClient({ api: remote.url, token: remote.adminToken })
})

afterAll(async () => {
  await remote?.close()
})

/** Whether the node's Qonsent lets `subject` do `action` on `resource` now. */
const allowed = async (subject: string, resource: string, action: string): Promise<boolean> =>
  (await remote.node.parts.qonsent.check({ subject, resource, action })).allowed

describe('client.grants', () => {
  it('adds a grant issued by the caller, in effect at once, and lists it', async () => {
    const ada = createIdentity().did
    expect(await allowed(ada, 'qflow:flow:reports', 'read')).toBe(false)
    const added = await client.grants.add({ subject: ada, resource: 'qflow:flow:reports', actions: ['read', 'execute'] })
    expect(added).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      subject: ada,
      resource: 'qflow:flow:reports',
      actions: ['read', 'execute'],
      effect: 'allow',
      expired: false,
      grantedBy: remote.node.parts.admin.did,
      signed: false
    })
    expect(remote.node.parts.qonsent.get(added.id)).toMatchObject({ subject: ada, resource: 'qflow:flow:reports', actions: ['read', 'execute'], grantedBy: remote.node.parts.admin.did })
    expect(await allowed(ada, 'qflow:flow:reports', 'execute')).toBe(true)
    expect(await allowed(ada, 'qflow:flow:reports', 'write')).toBe(false)

    const page = await client.grants.list({ subject: ada })
    expect(page).toEqual({ items: [added] })
    const byResource = await client.grants.list({ resource: 'qflow:flow:reports' })
    expect(byResource.items.map((g) => g.id).sort()).toEqual([ADMIN_GRANT_ID, added.id].sort())
  })

  it('takes an expiry, and refuses one in the past', async () => {
    const expiresAt = Date.now() + 3_600_000
    const grant = await client.grants.add({ subject: createIdentity().did, resource: 'qflow:execution:*', actions: ['read'], expiresAt, id: 'reader-for-an-hour' })
    expect(grant).toMatchObject({ id: 'reader-for-an-hour', expiresAt, expired: false })
    const past = await client.grants.add({ subject: createIdentity().did, resource: 'qflow:flow:x', actions: ['read'], expiresAt: Date.now() - 1000 }).catch((e: unknown) => e)
    expect(past).toMatchObject({ name: 'ApiValidationError', status: 400, code: 'VALIDATION_FAILED', details: { pointer: '/expiresAt' } })
  })

  it('refuses malformed grants with a pointer, taken ids with 409, and stores nothing', async () => {
    const before = remote.node.parts.qonsent.list().length
    const pattern = await client.grants.add({ subject: createIdentity().did, resource: 'qflow:**:flow', actions: ['read'] }).catch((e: unknown) => e)
    expect(pattern).toMatchObject({ name: 'ApiValidationError', code: 'VALIDATION_FAILED', details: { pointer: '/resource' } })
    const action = await client.grants.add({ subject: createIdentity().did, resource: 'qflow:flow:x', actions: ['Run It'] }).catch((e: unknown) => e)
    expect(action).toMatchObject({ name: 'ApiValidationError', details: { pointer: '/actions/0' } })
    const none = await client.grants.add({ subject: createIdentity().did, resource: 'qflow:flow:x', actions: [] }).catch((e: unknown) => e)
    expect(none).toMatchObject({ name: 'ApiValidationError', code: 'VALIDATION_FAILED' })
    expect(remote.node.parts.qonsent.list().length).toBe(before)

    await client.grants.add({ subject: createIdentity().did, resource: 'qflow:flow:x', actions: ['read'], id: 'taken' })
    const again = await client.grants.add({ subject: createIdentity().did, resource: 'qflow:flow:y', actions: ['read'], id: 'taken' }).catch((e: unknown) => e)
    expect(again).toMatchObject({ name: 'ApiConflictError', status: 409, code: 'CONFLICT', details: { id: 'taken', revoked: false } })
  })

  it('adds deny rules that override grants, but none that would take the grant routes from the admin', async () => {
    const bob = createIdentity().did
    await client.grants.add({ subject: bob, resource: 'qflow:flow:*', actions: ['execute'] })
    expect(await allowed(bob, 'qflow:flow:prod-billing', 'execute')).toBe(true)
    const rule = await client.grants.add({ subject: '*', resource: 'qflow:flow:prod-*', actions: ['execute'], effect: 'deny' })
    expect(rule).toMatchObject({ effect: 'deny', subject: '*' })
    expect(await allowed(bob, 'qflow:flow:prod-billing', 'execute')).toBe(false)
    expect(await allowed(bob, 'qflow:flow:staging', 'execute')).toBe(true)
    expect((await client.grants.list({ effect: 'deny' })).items.map((g) => g.id)).toEqual([rule.id])

    for (const lockout of [
      { subject: '*', resource: 'qflow:**', actions: ['*'] },
      { subject: remote.node.parts.admin.did, resource: 'qflow:node', actions: ['admin'] },
      { subject: 'did:key:*', resource: '**', actions: ['admin'] }
    ]) {
      const refused = await client.grants.add({ ...lockout, effect: 'deny' }).catch((e: unknown) => e)
      expect(refused).toMatchObject({ name: 'ApiConflictError', code: 'CONFLICT' })
    }
    expect(await allowed(remote.node.parts.admin.did, 'qflow:node', 'admin')).toBe(true)
    await client.grants.revoke(rule.id)
  })

  it('revokes a grant (404 for an unknown or already revoked id), never the admin identity’s own', async () => {
    const carol = createIdentity().did
    const grant = await client.grants.add({ subject: carol, resource: 'qflow:secret:billing', actions: ['read'] })
    expect(await allowed(carol, 'qflow:secret:billing', 'read')).toBe(true)
    const result = await client.grants.revoke(grant.id, 'no longer on the team')
    expect(result).toEqual({ id: grant.id, revoked: true, grant })
    expect(await allowed(carol, 'qflow:secret:billing', 'read')).toBe(false)
    expect(remote.node.parts.qonsent.get(grant.id)).toBeUndefined()
    expect(remote.node.parts.qonsent.auditLog().find((r) => r.type === 'GRANT_REVOKED' && r.grantId === grant.id)).toMatchObject({
      actor: remote.node.parts.admin.did,
      reason: 'no longer on the team'
    })

    const again = await client.grants.revoke(grant.id).catch((e: unknown) => e)
    expect(again).toMatchObject({ name: 'ApiNotFoundError', status: 404, code: 'NOT_FOUND' })
    const admin = await client.grants.revoke(ADMIN_GRANT_ID).catch((e: unknown) => e)
    expect(admin).toMatchObject({ name: 'ApiConflictError', status: 409, code: 'CONFLICT' })
    expect(remote.node.parts.qonsent.get(ADMIN_GRANT_ID)).toBeDefined()
  })

  it('pages by id with a cursor, and refuses a cursor of another query', async () => {
    const dave = createIdentity().did
    for (const n of [3, 1, 4, 5, 2]) await client.grants.add({ subject: dave, resource: `qflow:flow:page-${n}`, actions: ['read'], id: `page-${n}` })
    const first = await client.grants.list({ subject: dave, limit: 2 })
    expect(first.items.map((g) => g.id)).toEqual(['page-1', 'page-2'])
    expect(first.nextCursor).toEqual(expect.any(String))
    const second = await client.grants.list({ subject: dave, limit: 2, cursor: first.nextCursor as string })
    expect(second.items.map((g) => g.id)).toEqual(['page-3', 'page-4'])
    const all: GrantRecord[] = []
    for await (const g of client.grants.listAll({ subject: dave, limit: 2 })) all.push(g)
    expect(all.map((g) => g.id)).toEqual(['page-1', 'page-2', 'page-3', 'page-4', 'page-5'])
    const other = await client.grants.list({ subject: createIdentity().did, cursor: first.nextCursor as string }).catch((e: unknown) => e)
    expect(other).toMatchObject({ name: 'ApiValidationError', code: 'VALIDATION_FAILED' })
    const forged = await client.grants.list({ cursor: 'bm90IGEgY3Vyc29y' }).catch((e: unknown) => e)
    expect(forged).toMatchObject({ name: 'ApiValidationError', code: 'VALIDATION_FAILED' })
  })

  it('answers 403 to a caller without admin on qflow:node, and 401 without a token; nothing changes', async () => {
    const stranger = createQflowClient({ api: remote.url, token: remote.strangerToken })
    const before = remote.node.parts.qonsent.list().length
    const add = await stranger.grants.add({ subject: 'did:key:z6MkSelf', resource: 'qflow:**', actions: ['*'] }).catch((e: unknown) => e)
    expect(add).toMatchObject({ name: 'ApiForbiddenError', status: 403, code: 'FORBIDDEN', details: { resource: 'qflow:node', action: 'admin' } })
    expect(await stranger.grants.list().catch((e: unknown) => e)).toMatchObject({ name: 'ApiForbiddenError', status: 403 })
    expect(await stranger.grants.revoke('page-1').catch((e: unknown) => e)).toMatchObject({ name: 'ApiForbiddenError', status: 403 })

    // An identity granted everything on flows is still no node administrator.
    const flowAdmin = createIdentity()
    await client.grants.add({ subject: flowAdmin.did, resource: 'qflow:flow:*', actions: ['admin'] })
    const flowAdminClient = createQflowClient({ api: remote.url, token: await issueToken(flowAdmin, { audience: 'qflow', ttlMs: 60_000 }) })
    expect(await flowAdminClient.grants.list().catch((e: unknown) => e)).toMatchObject({ name: 'ApiForbiddenError', status: 403 })

    const anonymous = createQflowClient({ api: remote.url })
    expect(await anonymous.grants.list().catch((e: unknown) => e)).toMatchObject({ name: 'ApiUnauthenticatedError', status: 401 })
    expect(remote.node.parts.qonsent.list().length).toBe(before + 1)
    expect(remote.node.parts.qonsent.get('page-1')).toBeDefined()
  })

  it('is in the OpenAPI document with its schemas', async () => {
    const doc = (await client.openapi()) as { paths: Record<string, Record<string, { tags?: string[]; requestBody?: unknown; parameters?: { name: string }[] }>> }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/grants', '/api/v1/grants/{id}']))
    expect(doc.paths['/api/v1/grants']?.post?.tags).toEqual(['grants'])
    expect(doc.paths['/api/v1/grants']?.post?.requestBody).toBeDefined()
    expect(doc.paths['/api/v1/grants']?.get?.parameters?.map((p) => p.name)).toEqual(['subject', 'resource', 'effect', 'includeExpired', 'limit', 'cursor'])
    expect(doc.paths['/api/v1/grants/{id}']?.delete?.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(['id', 'reason']))
  })
})

describe('qflow grant (CLI as a child process)', () => {
  const secret = generateStandardWebhooksSecret()
  const owner = createIdentity()
  const flowId = 'owned-elsewhere'
  const send = (n: number) => {
    const body = JSON.stringify({ n })
    return fetch(`${remote.url}/webhooks/${flowId}/hook`, { method: 'POST', headers: standardHeaders(secret, body), body })
  }

  beforeAll(async () => {
    await client.secrets.set('grant-test-secret', secret)
    const flow = webhookFlow(flowId, owner.did, [{ id: 'hook', type: 'webhook', auth: { scheme: 'standard-webhooks', secretRef: 'grant-test-secret' }, respond: 'on-completion' }], '{ "got": steps.receive.output.n }')
    await client.flows.create(flow)
  })

  it('a webhook to a flow owned by a fresh identity is 403 until "qflow grant add <owner> qflow:flow:<id> --actions execute", and 403 again once revoked', async () => {
    const before = await send(1)
    expect(before.status).toBe(403)
    expect(await before.json()).toMatchObject({ success: false, error: { code: 'FORBIDDEN', details: { stage: 'qonsent', code: 'CONSENT_DENIED' } } })

    const added = await qflowAt(remote, ['--json', 'grant', 'add', owner.did, `qflow:flow:${flowId}`, '--actions', 'execute'])
    expect(added.code).toBe(ExitCode.ok)
    const grant = json<GrantRecord>(added)
    expect(grant).toMatchObject({ subject: owner.did, resource: `qflow:flow:${flowId}`, actions: ['execute'], effect: 'allow', grantedBy: remote.node.parts.admin.did })

    const after = await send(2)
    expect(after.status).toBe(200)
    const answer = (await after.json()) as { data: { executionId: string; status: string; output: unknown } }
    expect(answer.data).toMatchObject({ status: 'completed', output: { got: 2 } })
    expect((await remote.node.parts.engine.state(answer.data.executionId)).actor).toBe(owner.did)

    const revoked = await qflowAt(remote, ['grant', 'revoke', grant.id])
    expect(revoked.code).toBe(ExitCode.ok)
    expect(revoked.stdout).toBe(`grant ${grant.id} revoked: ${owner.did} may no longer execute on qflow:flow:${flowId}\n`)
    const again = await send(3)
    expect(again.status).toBe(403)
    expect(await again.json()).toMatchObject({ error: { code: 'FORBIDDEN', details: { code: 'CONSENT_DENIED' } } })
  })

  it('add prints the grant for people, takes --expires as a duration or a date, and --deny', async () => {
    const subject = createIdentity().did
    const text = await qflowAt(remote, ['grant', 'add', subject, 'qflow:flow:cli-text', '--actions', 'read, execute', '--id', 'cli-text'])
    expect(text.code).toBe(ExitCode.ok)
    expect(text.stdout).toBe(`grant cli-text: ${subject} may read,execute on qflow:flow:cli-text (never expires)\n`)

    const sent = Date.now()
    const inADay = json<GrantRecord>(await qflowAt(remote, ['--json', 'grant', 'add', subject, 'qflow:execution:*', '--actions', 'read', '--expires', '1d']))
    expect(inADay.expiresAt).toBeGreaterThanOrEqual(sent + 86_400_000)
    expect(inADay.expiresAt).toBeLessThan(Date.now() + 86_400_000 + 1)
    const dated = json<GrantRecord>(await qflowAt(remote, ['--json', 'grant', 'add', subject, 'qflow:secret:*', '--actions', 'read', '--expires', '2999-01-31']))
    expect(dated.expiresAt).toBe(Date.parse('2999-01-31'))

    const deny = await qflowAt(remote, ['grant', 'add', subject, 'qflow:flow:cli-text', '--actions', 'execute', '--deny', '--id', 'cli-deny'])
    expect(deny.code).toBe(ExitCode.ok)
    expect(deny.stdout).toBe(`deny rule cli-deny: ${subject} may not execute on qflow:flow:cli-text\n`)
    expect(await allowed(subject, 'qflow:flow:cli-text', 'execute')).toBe(false)
    expect(await allowed(subject, 'qflow:flow:cli-text', 'read')).toBe(true)
  })

  it('add refuses a bad --expires or --actions (exit 2), a malformed pattern (exit 1), and stores nothing', async () => {
    const before = remote.node.parts.qonsent.list().length
    const subject = createIdentity().did
    for (const expires of ['yesterday', '2001-01-01', '90']) {
      const bad = await qflowAt(remote, ['grant', 'add', subject, 'qflow:flow:x', '--actions', 'read', '--expires', expires])
      expect([expires, bad.code]).toEqual([expires, ExitCode.usage])
      expect(bad.stderr).toContain('--expires')
    }
    const noActions = await qflowAt(remote, ['grant', 'add', subject, 'qflow:flow:x', '--actions', ' , '])
    expect(noActions.code).toBe(ExitCode.usage)
    const missing = await qflowAt(remote, ['grant', 'add', subject, 'qflow:flow:x'])
    expect(missing.code).toBe(ExitCode.usage)
    expect(missing.stderr).toContain("required option '--actions <list>'")
    const pattern = await qflowAt(remote, ['--json', 'grant', 'add', subject, 'qflow::flow', '--actions', 'read'])
    expect(pattern.code).toBe(ExitCode.invalid)
    expect(JSON.parse(pattern.stderr.trim())).toMatchObject({ error: { status: 400, code: 'VALIDATION_FAILED', details: { pointer: '/resource' } } })
    expect(remote.node.parts.qonsent.list().length).toBe(before)
  })

  it('list prints a table (or --json an array), filtered by subject, resource, effect and --active', async () => {
    const subject = createIdentity().did
    await client.grants.add({ subject, resource: 'qflow:template:listed', actions: ['read'], id: 'cli-listed' })
    const text = await qflowAt(remote, ['grant', 'list', '--subject', subject])
    expect(text.code).toBe(ExitCode.ok)
    const lines = text.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+SUBJECT\s+RESOURCE\s+ACTIONS\s+EFFECT\s+EXPIRES$/)
    expect(lines.slice(1)).toEqual([expect.stringMatching(new RegExp(`^cli-listed\\s+${subject}\\s+qflow:template:listed\\s+read\\s+allow\\s+never$`))])

    const byResource = json<GrantRecord[]>(await qflowAt(remote, ['--json', 'grant', 'list', '--resource', 'qflow:template:listed']))
    expect(byResource.map((g) => g.id).sort()).toEqual([ADMIN_GRANT_ID, 'cli-listed'].sort())
    const denies = json<GrantRecord[]>(await qflowAt(remote, ['--json', 'grant', 'list', '--effect', 'deny']))
    expect(denies.every((g) => g.effect === 'deny')).toBe(true)
    const everything = json<GrantRecord[]>(await qflowAt(remote, ['--json', 'grant', 'list', '--active']))
    expect(everything.map((g) => g.id)).toEqual(remote.node.parts.qonsent.list({ includeExpired: false }).map((g) => g.id).sort())
    const nobody = await qflowAt(remote, ['grant', 'list', '--subject', createIdentity().did])
    expect(nobody.stdout).toBe('no grants\n')
  })

  it('revoke exits 5 for an unknown id, 1 for the admin’s own grant; a non-admin exits 4 on every grant command', async () => {
    const unknown = await qflowAt(remote, ['grant', 'revoke', 'no-such-grant'])
    expect(unknown.code).toBe(ExitCode.notFound)
    expect(unknown.stderr).toContain('[NOT_FOUND, HTTP 404]')
    const admin = await qflowAt(remote, ['grant', 'revoke', ADMIN_GRANT_ID])
    expect(admin.code).toBe(ExitCode.invalid)
    expect(admin.stderr).toContain('[CONFLICT, HTTP 409]')

    const env = { QFLOW_TOKEN: remote.strangerToken }
    const add = await qflowAt(remote, ['grant', 'add', 'did:key:z6MkSelf', 'qflow:**', '--actions', '*'], { env })
    expect(add.code).toBe(ExitCode.forbidden)
    expect((await qflowAt(remote, ['grant', 'list'], { env })).code).toBe(ExitCode.forbidden)
    expect((await qflowAt(remote, ['grant', 'revoke', 'cli-listed'], { env })).code).toBe(ExitCode.forbidden)
    expect(remote.node.parts.qonsent.get('cli-listed')).toBeDefined()
  })

  it.each([['grant'], ['grant', 'add'], ['grant', 'list'], ['grant', 'revoke']])('%s --help has usage, examples and exit codes', async (...command) => {
    const result = await qflowAt(remote, [...command, '--help'])
    expect(result.code).toBe(ExitCode.ok)
    expect(result.stdout).toMatch(/^Usage: qflow grant/)
    expect(result.stdout).toContain('Examples:\n  $ qflow ')
    if (command.length > 1) expect(result.stdout).toContain('Exit codes: 0 ok')
  })
})
