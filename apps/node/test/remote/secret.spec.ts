import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { parseStandardWebhooksSecret, signStandardWebhookAsymmetric, standardWebhooksPublicKeyOf, verifyStandardWebhookAsymmetric } from '@qflow/webhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQflowClient, type QflowClient } from '../../src/client/client.js'
import { ExitCode } from '../../src/constants.js'
import { qflow } from '../fixtures/cli.js'
import { cliEnv, json, qflowAt, type RemoteNode, startRemoteNode } from './fixtures.js'

let remote: RemoteNode
let client: QflowClient

beforeAll(async () => {
  remote = await startRemoteNode()
  client = createQflowClient({ api: remote.url, token: remote.adminToken })
})

afterAll(async () => {
  await remote?.close()
})

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The value the node holds under `name` (read inside the node: the API never answers values). */
const held = (name: string): Promise<string> => remote.node.parts.secrets.get(name)

describe('client.secrets', () => {
  it('stores, replaces, lists and deletes a secret; values are never answered', async () => {
    const first = await client.secrets.set('client-a', 'value-1')
    expect(first).toMatchObject({ name: 'client-a', created: true })
    expect(first.updatedAt).toBe(first.createdAt)
    const second = await client.secrets.set('client-a', 'value-2')
    expect(second).toMatchObject({ name: 'client-a', created: false, createdAt: first.createdAt })
    expect(await held('client-a')).toBe('value-2')

    const listed = await client.secrets.list()
    const entry = listed.find((s) => s.name === 'client-a')
    expect(entry).toEqual({ name: 'client-a', createdAt: first.createdAt, updatedAt: second.updatedAt })
    expect(JSON.stringify(listed)).not.toContain('value-2')

    expect(await client.secrets.delete('client-a')).toEqual({ name: 'client-a', deleted: true })
    expect(remote.node.parts.secrets.has('client-a')).toBe(false)
    const again = await client.secrets.delete('client-a').catch((err: unknown) => err)
    expect(again).toMatchObject({ name: 'ApiNotFoundError', status: 404, code: 'NOT_FOUND' })
  })

  it('refuses a bad name with a validation error, and a stranger with 403 (and lists nothing to it)', async () => {
    const bad = await client.secrets.set('no spaces', 'x').catch((err: unknown) => err)
    expect(bad).toMatchObject({ name: 'ApiValidationError', status: 400, code: 'VALIDATION_FAILED' })
    await client.secrets.set('client-private', 'x')
    const stranger = createQflowClient({ api: remote.url, token: remote.strangerToken })
    const refused = await stranger.secrets.set('client-private', 'overwritten').catch((err: unknown) => err)
    expect(refused).toMatchObject({ name: 'ApiForbiddenError', status: 403, code: 'FORBIDDEN' })
    expect(await held('client-private')).toBe('x')
    expect(await stranger.secrets.list()).toEqual([])
  })
})

describe('qflow secret (CLI as a child process)', () => {
  it('set --generate stores a new Standard Webhooks secret and prints it once, alone on stdout', async () => {
    const result = await qflowAt(remote, ['secret', 'set', 'cli-generated', '--generate'])
    expect(result.code).toBe(ExitCode.ok)
    const printed = result.stdout.trim()
    expect(printed).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/)
    expect(parseStandardWebhooksSecret(printed)).toHaveLength(32)
    expect(await held('cli-generated')).toBe(printed)
    expect(result.stderr).toContain('secret cli-generated stored')
    expect(result.stderr).toContain('printed this once')

    // Again: a new value replaces the old one, and says so.
    const rotated = await qflowAt(remote, ['--json', 'secret', 'set', 'cli-generated', '--generate'])
    expect(rotated.code).toBe(ExitCode.ok)
    const answer = json<{ name: string; created: boolean; value: string }>(rotated)
    expect(answer).toMatchObject({ name: 'cli-generated', created: false })
    expect(answer.value).not.toBe(printed)
    expect(await held('cli-generated')).toBe(answer.value)
  })

  it('set --generate-key-pair stores the public key, prints the secret key once, and the pair signs and verifies v1a', async () => {
    const result = await qflowAt(remote, ['secret', 'set', 'cli-v1a', '--generate-key-pair'])
    expect(result.code).toBe(ExitCode.ok)
    const secretKey = result.stdout.trim()
    expect(secretKey).toMatch(/^whsk_[A-Za-z0-9+/]+={0,2}$/)
    const publicKey = await held('cli-v1a')
    expect(publicKey).toMatch(/^whpk_/)
    expect(standardWebhooksPublicKeyOf(secretKey)).toBe(publicKey)
    expect(result.stderr).toContain(`the node keeps the public key ${publicKey}`)
    expect(result.stderr).toContain('printed this once')
    // What the sender signs with the printed key, the node's key verifies.
    const message = { id: 'msg_cli', timestamp: Math.floor(Date.now() / 1000), payload: '{"ok":true}' }
    const headers = { 'webhook-id': message.id, 'webhook-timestamp': String(message.timestamp), 'webhook-signature': signStandardWebhookAsymmetric(secretKey, message) }
    expect(verifyStandardWebhookAsymmetric(publicKey, headers, message.payload)).toMatchObject({ id: 'msg_cli' })

    const rotated = json<{ name: string; created: boolean; publicKey: string; secretKey: string }>(
      await qflowAt(remote, ['--json', 'secret', 'set', 'cli-v1a', '--generate-key-pair'])
    )
    expect(rotated).toMatchObject({ name: 'cli-v1a', created: false })
    expect(rotated.secretKey).not.toBe(secretKey)
    expect(await held('cli-v1a')).toBe(rotated.publicKey)
    expect(standardWebhooksPublicKeyOf(rotated.secretKey)).toBe(rotated.publicKey)
    const both = await qflowAt(remote, ['secret', 'set', 'cli-v1a', '--generate', '--generate-key-pair'])
    expect(both.code).toBe(ExitCode.usage)
    expect(await held('cli-v1a')).toBe(rotated.publicKey)
  })

  it('set --value-stdin stores what standard input holds, without its trailing line break, and never prints it', async () => {
    const result = await qflowAt(remote, ['--json', 'secret', 'set', 'cli-piped', '--value-stdin'], { input: 'gh: a secret to everybody\n' })
    expect(result.code).toBe(ExitCode.ok)
    const answer = json(result)
    expect(answer).toMatchObject({ name: 'cli-piped', created: true })
    expect(answer).not.toHaveProperty('value')
    expect(result.stdout + result.stderr).not.toContain('a secret to everybody')
    expect(await held('cli-piped')).toBe('gh: a secret to everybody')

    const text = await qflowAt(remote, ['secret', 'set', 'cli-piped', '--value-stdin'], { input: 'second' })
    expect(text.code).toBe(ExitCode.ok)
    expect(text.stdout).toBe('secret cli-piped replaced: senders signing with the old value are refused from now on\n')
    expect(await held('cli-piped')).toBe('second')
  })

  it('set refuses empty standard input (exit 1), no value source or both (exit 2), and stores nothing', async () => {
    const empty = await qflowAt(remote, ['secret', 'set', 'cli-empty', '--value-stdin'], { input: '\n' })
    expect(empty.code).toBe(ExitCode.invalid)
    expect(empty.stderr).toContain('standard input held no value for the secret cli-empty')
    const neither = await qflowAt(remote, ['secret', 'set', 'cli-empty'])
    expect(neither.code).toBe(ExitCode.usage)
    expect(neither.stderr).toContain('--value-stdin (read it from standard input), --generate (a new Standard Webhooks secret) or --generate-key-pair')
    const both = await qflowAt(remote, ['secret', 'set', 'cli-empty', '--value-stdin', '--generate'], { input: 'x' })
    expect(both.code).toBe(ExitCode.usage)
    expect(remote.node.parts.secrets.has('cli-empty')).toBe(false)
  })

  it('set reports a bad name as the node answers it (exit 1, VALIDATION_FAILED)', async () => {
    const result = await qflowAt(remote, ['--json', 'secret', 'set', 'bad name!', '--generate'])
    expect(result.code).toBe(ExitCode.invalid)
    expect(JSON.parse(result.stderr.trim())).toMatchObject({ error: { status: 400, code: 'VALIDATION_FAILED' } })
  })

  it('list prints names and times, never values; --json an array', async () => {
    await client.secrets.set('cli-listed', 'never-shown')
    const text = await qflowAt(remote, ['secret', 'list'])
    expect(text.code).toBe(ExitCode.ok)
    const lines = text.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+CREATED\s+UPDATED$/)
    expect(lines.some((line) => /^cli-listed\s+\d{4}-\d\d-\d\dT\S+Z\s+\d{4}-\d\d-\d\dT\S+Z$/.test(line))).toBe(true)
    expect(text.stdout).not.toContain('never-shown')

    const listed = json<{ name: string; createdAt: number; updatedAt: number }[]>(await qflowAt(remote, ['--json', 'secret', 'list']))
    expect(listed.map((s) => s.name)).toEqual((await client.secrets.list()).map((s) => s.name))
    expect(listed.find((s) => s.name === 'cli-listed')).toEqual(remote.node.parts.secrets.list().find((s) => s.name === 'cli-listed'))
  })

  it('delete removes a secret (exit 0), and an unknown name exits 5', async () => {
    await client.secrets.set('cli-doomed', 'x')
    const deleted = await qflowAt(remote, ['--json', 'secret', 'delete', 'cli-doomed'])
    expect(deleted.code).toBe(ExitCode.ok)
    expect(json(deleted)).toEqual({ name: 'cli-doomed', deleted: true })
    expect(remote.node.parts.secrets.has('cli-doomed')).toBe(false)
    const again = await qflowAt(remote, ['secret', 'delete', 'cli-doomed'])
    expect(again.code).toBe(ExitCode.notFound)
    expect(again.stderr).toContain('[NOT_FOUND, HTTP 404]')
  })

  it('exits 4 for an identity without rights, 3 without a node or token, and 6 when the node cannot be reached', async () => {
    const forbidden = await qflowAt(remote, ['secret', 'set', 'cli-stranger', '--generate'], { env: { QFLOW_TOKEN: remote.strangerToken } })
    expect(forbidden.code).toBe(ExitCode.forbidden)
    expect(remote.node.parts.secrets.has('cli-stranger')).toBe(false)
    const noNode = await qflow(['secret', 'list'], { env: cliEnv(join(remote.dir, 'nobody')) })
    expect(noNode.code).toBe(ExitCode.unauthenticated)
    expect(noNode.stderr).toContain('No node to talk to')
    const noToken = await qflow(['secret', 'list', '--api', remote.url], { env: cliEnv(join(remote.dir, 'nobody')) })
    expect(noToken.code).toBe(ExitCode.unauthenticated)
    const unreachable = await qflow(['secret', 'list', '--api', `http://127.0.0.1:${await closedPort()}`], { env: cliEnv(join(remote.dir, 'nobody'), { QFLOW_TOKEN: remote.adminToken }) })
    expect(unreachable.code).toBe(ExitCode.unreachable)
  })
})
