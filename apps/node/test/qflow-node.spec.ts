import { readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createGrant } from '@qflow/adapters-qonsent'
import { createIdentity, issueToken } from '@qflow/adapters-squid'
import { describe, expect, it } from 'vitest'
import { createQflowNode, } from '../src/node/node.js'
import { useTempDir } from './fixtures/cli.js'
import { useNodes } from './fixtures/open-nodes.js'

const OWNER = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'

function twoStepFlow(id: string, delayMs: number) {
  return {
    id,
    name: id,
    version: '1.0.0',
    owner: OWNER,
    steps: [
      { id: 'first', type: 'task', action: 'data.transform', params: { expression: 'input.n + 1' } },
      { id: 'wait', type: 'task', action: 'delay', params: { ms: delayMs } },
      { id: 'second', type: 'task', action: 'data.transform', params: { expression: 'steps.first.output * 2' } }
    ]
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function errorOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected a rejection')
}

describe('createQflowNode', () => {
  const temp = useTempDir()
  const open = useNodes()

  it('creates its identities and secret once, keeps them across restarts, and grants the admin', async () => {
    const dataDir = join(temp(), 'data')
    const first = await open({ dataDir })
    expect(first.firstStart).toBe(true)
    const { node, admin } = first.parts
    expect(node.did).not.toBe(admin.did)
    expect(await first.parts.qonsent.check({ subject: admin.did, resource: 'qflow:flow:anything', action: 'execute' })).toMatchObject({ allowed: true })
    await first.stop()
    const names = (await readdir(dataDir)).sort()
    expect(names).toEqual(expect.arrayContaining(['identity.keystore', 'index.sqlite', 'node.secret', 'qonsent', 'state']))
    expect(names).not.toContain('LOCK')
    expect((await stat(join(dataDir, 'node.secret'))).size).toBe(32)
    const again = await open({ dataDir })
    expect(again.firstStart).toBe(false)
    expect(again.parts.node.did).toBe(node.did)
    expect(again.parts.admin.did).toBe(admin.did)
    expect(again.parts.qonsent.list({ subject: admin.did })).toHaveLength(1)
  })

  it('rebuilds a lost index from the state store', async () => {
    const dataDir = join(temp(), 'data')
    const first = await open({ dataDir })
    await first.parts.engine.createFlow(twoStepFlow('indexed', 1) as never, await first.asAdmin())
    const result = await first.parts.engine.run('indexed', { n: 2 }, await first.asAdmin())
    expect(result).toMatchObject({ status: 'completed', output: 6 })
    // A run of pure steps is one entry, its final one, carrying its start.
    const pure = { ...twoStepFlow('pure', 1), steps: twoStepFlow('pure', 1).steps.filter((step) => step.id !== 'wait') }
    await first.parts.engine.createFlow(pure as never, await first.asAdmin())
    const quick = await first.parts.engine.run('pure', { n: 2 }, await first.asAdmin())
    expect(quick).toMatchObject({ status: 'completed', output: 6 })
    expect(await first.parts.store.log.head(quick.executionId)).toMatchObject({ seq: 0, status: 'completed' })
    // Indexed as it changes: the finished execution keeps the flow's name it was started under.
    expect(await first.parts.qindex.get(result.executionId)).toMatchObject({ kind: 'execution', status: 'completed', name: 'indexed' })
    expect((await first.parts.qindex.query({ text: 'indexed', kind: 'execution' })).records.map((r) => r.key)).toEqual([result.executionId])
    await first.stop()
    await rm(join(dataDir, 'index.sqlite'), { force: true })
    const again = await open({ dataDir })
    expect(await again.parts.qindex.get('indexed')).toMatchObject({ kind: 'flow', owner: OWNER, status: 'active' })
    expect(await again.parts.qindex.get(result.executionId)).toMatchObject({ kind: 'execution', owner: again.parts.admin.did, status: 'completed', name: 'indexed' })
    expect(await again.parts.qindex.get(quick.executionId)).toMatchObject({
      kind: 'execution',
      owner: again.parts.admin.did,
      status: 'completed',
      name: 'pure',
      attributes: { flowId: 'pure', flowVersion: '1.0.0' }
    })
  })

  it('seals the keystore with a passphrase when given one, and then needs it', async () => {
    const dataDir = join(temp(), 'data')
    const first = await open({ dataDir, passphrase: 'correct horse battery staple' })
    const did = first.parts.node.did
    await first.stop()
    await expect(stat(join(dataDir, 'node.secret'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await errorOf(createQflowNode({ dataDir }).start())).name).toBe('NodePassphraseError')
    expect((await errorOf(createQflowNode({ dataDir, passphrase: 'wrong' }).start())).name).toBe('NodePassphraseError')
    const again = await open({ dataDir, passphrase: 'correct horse battery staple' })
    expect(again.parts.node.did).toBe(did)
  })

  it('refuses a data directory a live process holds, takes over a stale lock, and names a corrupt keystore', async () => {
    const dataDir = join(temp(), 'data')
    const node = await open({ dataDir })
    const locked = await errorOf(createQflowNode({ dataDir }).start())
    expect(locked).toMatchObject({ name: 'DataDirLockedError', pid: process.pid })
    await node.stop()
    // A lock left by a process that is gone (pid 2^22 + 1 is above Linux's pid_max) is stale.
    await writeFile(join(dataDir, 'LOCK'), String(2 ** 22 + 1))
    const taken = await open({ dataDir })
    await taken.stop()
    await writeFile(join(dataDir, 'identity.keystore'), '{"format":"qflow-squid-keystore","v":1}')
    const corrupt = await errorOf(createQflowNode({ dataDir }).start())
    expect(corrupt.name).toBe('DataDirCorruptError')
    expect(corrupt.path).toBe(join(dataDir, 'identity.keystore'))
    expect((await errorOf(createQflowNode({ dataDir: join(dataDir, 'identity.keystore') }).start())).name).toBe('DataDirCorruptError')
  })

  it('pauses the executions of a flow Qerberos contains', async () => {
    const node = await open({ dataDir: join(temp(), 'data') })
    const { engine, qerberos } = node.parts
    await engine.createFlow(twoStepFlow('contained', 1500) as never, await node.asAdmin())
    const id = await engine.startExecution('contained', { n: 1 }, await node.asAdmin())
    await until(() => engine.live(id)?.steps.wait !== undefined, 'the delay to start')
    qerberos.contain({ action: 'pause-flow', target: 'contained', reason: 'suspicious volume' })
    await until(() => engine.live(id)?.status === 'paused', 'the pause')
    expect(engine.live(id)?.pausedReason).toBe('qerberos pause-flow: suspicious volume')
  })

  it('resumes an execution paused for a lapsed consent once a grant allows it again', async () => {
    const node = await open({ dataDir: join(temp(), 'data') })
    const { engine, qonsent } = node.parts
    const user = createIdentity()
    await engine.createFlow(twoStepFlow('consented', 1500) as never, await node.asAdmin())
    await qonsent.grant(createGrant({ subject: user.did, resource: 'qflow:flow:consented', actions: ['execute'], grantedBy: node.parts.admin.did, expiresAt: Date.now() + 1000 }))
    const token = await issueToken(user, { audience: 'qflow', ttlMs: 60_000 })
    const id = await engine.startExecution('consented', { n: 4 }, { actor: { did: user.did, credentials: { token } } })
    await until(() => engine.live(id)?.status === 'paused', 'the consent to lapse')
    expect(engine.live(id)?.pausedReason).toBe('CONSENT_EXPIRED')
    await qonsent.grant(createGrant({ subject: user.did, resource: 'qflow:flow:consented', actions: ['execute'], grantedBy: node.parts.admin.did }))
    expect(await engine.wait(id)).toEqual({ executionId: id, status: 'completed', output: 10 })
  })
})
