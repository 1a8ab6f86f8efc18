import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIdentity, issueToken } from '@qflow/adapters-squid'
import { createGrant } from '@qflow/adapters-qonsent'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQflowNode } from '../../src/node/node.js'
import { SECRETS_FILE } from '../../src/node/secrets.js'
import { startWebhookNode, type WebhookNode } from './fixtures.js'

const VALUE = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

describe('/api/v1/secrets', () => {
  let api: WebhookNode
  const bearer = async (token?: string) => ({ authorization: `Bearer ${token ?? (await api.adminToken())}` })
  const json = async (token?: string) => ({ 'content-type': 'application/json', ...(await bearer(token)) })

  beforeAll(async () => {
    api = await startWebhookNode()
  })

  afterAll(async () => {
    await api?.close()
  })

  it('stores a secret (201), replaces it (200), lists names and times but never values, and deletes it', async () => {
    const created = await api.request('PUT', '/api/v1/secrets/shop-secret', JSON.stringify({ value: VALUE }), await json())
    expect(created.status).toBe(201)
    expect(created.body.data).toEqual({ name: 'shop-secret', createdAt: expect.any(Number), updatedAt: created.body.data.createdAt })
    const replaced = await api.request('PUT', '/api/v1/secrets/shop-secret', JSON.stringify({ value: `${VALUE}x` }), await json())
    expect(replaced.status).toBe(200)
    expect(replaced.body.data.createdAt).toBe(created.body.data.createdAt)
    await api.request('PUT', '/api/v1/secrets/another', JSON.stringify({ value: 'second value' }), await json())

    const listed = await api.request('GET', '/api/v1/secrets', undefined, await bearer())
    expect(listed.status).toBe(200)
    expect(listed.body.data.items.map((i: { name: string }) => i.name)).toEqual(['another', 'shop-secret'])
    expect(JSON.stringify(listed.body)).not.toContain('whsec_')
    expect(JSON.stringify(listed.body)).not.toContain('second value')
    expect(await api.node.parts.secrets.get('shop-secret')).toBe(`${VALUE}x`)

    const deleted = await api.request('DELETE', '/api/v1/secrets/another', undefined, await bearer())
    expect(deleted.status).toBe(200)
    expect(deleted.body.data).toEqual({ name: 'another', deleted: true })
    expect((await api.request('DELETE', '/api/v1/secrets/another', undefined, await bearer())).status).toBe(404)
    expect(api.node.parts.secrets.has('another')).toBe(false)
  })

  it('refuses bad names and values', async () => {
    for (const [path, body] of [
      ['/api/v1/secrets/.hidden', { value: 'v' }],
      ['/api/v1/secrets/ok', { value: '' }],
      ['/api/v1/secrets/ok', {}],
      ['/api/v1/secrets/ok', { value: 'v', extra: 1 }]
    ] as const) {
      const answer = await api.request('PUT', path, JSON.stringify(body), await json())
      expect({ status: answer.status, code: answer.body.error.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' })
    }
    expect(api.node.parts.secrets.has('ok')).toBe(false)
  })

  it('needs a token, and write consent on qflow:secret:<name>', async () => {
    const none = await api.request('PUT', '/api/v1/secrets/x', JSON.stringify({ value: 'v' }), { 'content-type': 'application/json' })
    expect({ status: none.status, code: none.body.error.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' })
    const bob = createIdentity()
    const bobToken = () => issueToken(bob, { audience: 'qflow', ttlMs: 60_000 })
    const denied = await api.request('PUT', '/api/v1/secrets/x', JSON.stringify({ value: 'v' }), await json(await bobToken()))
    expect({ status: denied.status, code: denied.body.error.code }).toEqual({ status: 403, code: 'FORBIDDEN' })
    expect(api.node.parts.secrets.has('x')).toBe(false)
    // Bob may read one secret's name: the listing answers that one only
    await api.request('PUT', '/api/v1/secrets/bobs', JSON.stringify({ value: 'v' }), await json())
    await api.node.parts.qonsent.grant(createGrant({ id: 'bob-reads', subject: bob.did, resource: 'qflow:secret:bobs', actions: ['read'], grantedBy: api.node.parts.node.did }))
    const listed = await api.request('GET', '/api/v1/secrets', undefined, await bearer(await bobToken()))
    expect(listed.body.data.items.map((i: { name: string }) => i.name)).toEqual(['bobs'])
  })
})

describe('node secret store', () => {
  let dataDir: string

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'qflow-secrets-'))
  })

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true })
  })

  it('seals values at rest (file mode 0600, no plaintext) and opens them after a restart', async () => {
    const node = createQflowNode({ dataDir, durability: 'memory' })
    await node.start()
    await node.parts.secrets.put('alpha', VALUE)
    await node.parts.secrets.put('beta', 'beta-plaintext-value')
    await node.stop()

    const path = join(dataDir, SECRETS_FILE)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const text = await readFile(path, 'utf8')
    expect(text).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
    expect(text).not.toContain('beta-plaintext-value')

    const again = createQflowNode({ dataDir, durability: 'memory' })
    await again.start()
    try {
      expect(again.parts.secrets.list().map((s) => s.name)).toEqual(['alpha', 'beta'])
      expect(await again.parts.secrets.get('alpha')).toBe(VALUE)
      await expect(again.parts.secrets.get('gamma')).rejects.toMatchObject({ name: 'SecretNotFoundError' })
    } finally {
      await again.stop()
    }
  })

  it("binds each ciphertext to its name: one secret's ciphertext moved under another name does not open", async () => {
    const path = join(dataDir, SECRETS_FILE)
    const file = JSON.parse(await readFile(path, 'utf8')) as { secrets: { name: string; envelope: string }[] }
    const alpha = file.secrets.find((s) => s.name === 'alpha')
    const beta = file.secrets.find((s) => s.name === 'beta')
    if (alpha === undefined || beta === undefined) throw new Error('fixture secrets missing')
    beta.envelope = alpha.envelope
    await writeFile(path, JSON.stringify(file), { mode: 0o600 })
    const node = createQflowNode({ dataDir, durability: 'memory' })
    await node.start()
    try {
      await expect(node.parts.secrets.get('beta')).rejects.toMatchObject({ name: 'DecryptionError' })
      expect(await node.parts.secrets.get('alpha')).toBe(VALUE)
    } finally {
      await node.stop()
    }
  })

  it('refuses to start on a corrupt secrets file, leaving it as it was', async () => {
    const path = join(dataDir, SECRETS_FILE)
    await writeFile(path, '{"v":1,"secrets":[{"name":"../x"}]}', { mode: 0o600 })
    const node = createQflowNode({ dataDir, durability: 'memory' })
    await expect(node.start()).rejects.toMatchObject({ name: 'DataDirCorruptError' })
    expect(await readFile(path, 'utf8')).toBe('{"v":1,"secrets":[{"name":"../x"}]}')
  })
})
