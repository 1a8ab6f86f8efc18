import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createIdentity } from '@qflow/adapters-squid'
import { exampleTemplatesDir } from '@qflow/sandbox'
import { afterEach, describe, expect, it } from 'vitest'
import type { QflowNodeConfig } from '../../src/node/config.js'
import { createQflowNode, type QflowNode } from '../../src/node/node.js'
import { approveTemplates, type TemplateFiles, templatePaths } from '../../src/node/sandbox.js'
import { useTempDir } from '../fixtures/cli.js'

const OWNER = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'

async function example(name: string): Promise<TemplateFiles & { cid: string }> {
  const dir = exampleTemplatesDir()
  const manifest = JSON.parse(await readFile(join(dir, `${name}.manifest.json`), 'utf8')) as { module: string }
  return { manifest, bytes: new Uint8Array(await readFile(join(dir, `${name}.wasm`))), cid: manifest.module }
}

const csvFlow = {
  id: 'csv-in-process',
  name: 'csv-in-process',
  version: '1.0.0',
  owner: OWNER,
  steps: [
    { id: 'parse', type: 'task', action: 'wasm.run', params: { module: 'csv@1.0.0', input: '{{ input.text }}', config: { delimiter: ';' } }, retryPolicy: { maxAttempts: 1 } },
    { id: 'digest', type: 'task', action: 'wasm.run', params: { module: 'sha256@1.0.0', input: '{{ input.text }}' }, retryPolicy: { maxAttempts: 1 } }
  ]
}

async function errorOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected a rejection')
}

describe('the node sandbox (wasm.run on createQflowNode)', () => {
  const dir = useTempDir()
  const nodes: QflowNode[] = []
  const open = async (config: QflowNodeConfig = {}): Promise<QflowNode> => {
    const node = createQflowNode({ dataDir: dir(), durability: 'batched', ...config })
    nodes.push(node)
    await node.start()
    return node
  }
  afterEach(async () => {
    for (const node of nodes.splice(0)) if (node.started) await node.stop()
  })

  /** Approves templates with the data directory's admin identity (as `qflow template approve` does). */
  const approve = async (names: readonly string[]): Promise<void> => {
    const node = await open({ recover: false })
    const { admin } = node.parts
    await approveTemplates(templatePaths(node.dataDir), admin, [admin.did], await Promise.all(names.map(example)))
    await node.stop()
  }

  it('runs wasm.run steps with the approved templates, installed on first use, and stops their workers with the node', async () => {
    const bare = await open()
    expect(bare.parts.sandbox?.templates()).toEqual([])
    await bare.stop()
    await approve(['csv', 'sha256', 'echo'])
    const node = await open()
    const box = node.parts.sandbox
    expect(box?.templates()).toEqual([])
    const { engine } = node.parts
    await engine.createFlow(csvFlow as never, await node.asAdmin())
    const text = 'sku;qty\nA-1;2\n'
    const result = await engine.run('csv-in-process', { text }, await node.asAdmin())
    expect(result.status).toBe('completed')
    const state = await engine.state(result.executionId)
    expect(state.steps.parse?.output).toEqual([{ sku: 'A-1', qty: '2' }])
    expect(state.steps.digest?.output).toBe((await import('node:crypto')).createHash('sha256').update(text).digest('hex'))
    expect(box?.metrics().outcomes.ok).toBe(2)
    // Only the templates a step named were installed.
    expect(box?.templates().map((t) => t.manifest.name).sort()).toEqual(['csv', 'sha256'])
    await node.stop()
    expect(box?.templates()).toEqual([])
    expect((await errorOf(box?.call('csv@1.0.0', 'parse', 'a\n1') ?? Promise.resolve())).name).toBe('SandboxUnavailableError')
  })

  it('a node that does not run executions, or whose config says sandbox: false, starts no sandbox', async () => {
    expect((await open({ recover: false })).parts.sandbox).toBeUndefined()
    await nodes[0]?.stop()
    expect((await open({ sandbox: false })).parts.sandbox).toBeUndefined()
  })

  it('the sandbox limits of the node config cap every template', async () => {
    await approve(['csv', 'sha256'])
    const node = await open({ sandbox: { limits: { fuel: 1_000 } } })
    const { engine } = node.parts
    await engine.createFlow(csvFlow as never, await node.asAdmin())
    const failed = await engine.run('csv-in-process', { text: 'a;b\n1;2\n' }, await node.asAdmin())
    expect(failed).toMatchObject({ status: 'failed', error: { name: 'SandboxFuelExhaustedError', stepId: 'parse' } })
  })

  it('accepts an allow-list signed by a trusted DAO key, and refuses to start with one it does not trust', async () => {
    const dao = createIdentity()
    await approveTemplates(templatePaths(dir()), dao, [dao.did], [await example('csv'), await example('sha256')])
    const refused = createQflowNode({ dataDir: dir(), durability: 'batched' })
    const err = await errorOf(refused.start())
    expect(err).toMatchObject({ name: 'InvalidAllowListError', pointer: '/list/issuer' })
    expect(refused.started).toBe(false)
    // The refused start released the data directory: a node trusting the DAO opens it.
    const node = await open({ sandbox: { trustedIssuers: [dao.did], preload: true } })
    expect(node.parts.sandbox?.templates().map((t) => t.manifest.name).sort()).toEqual(['csv', 'sha256'])
  })

  it('an approved template whose files are gone fails its steps with TemplateUnavailableError, reported once through onError', async () => {
    await approve(['csv', 'sha256'])
    const csv = await example('csv')
    await rm(templatePaths(dir()).module(csv.cid))
    const reported: [string, unknown][] = []
    const node = await open({ onError: (id, error) => reported.push([id, error]) })
    expect(reported).toEqual([])
    const { engine } = node.parts
    await engine.createFlow(csvFlow as never, await node.asAdmin())
    for (let i = 0; i < 2; i++) {
      const failed = await engine.run('csv-in-process', { text: 'a;b\n1;2\n' }, await node.asAdmin())
      expect(failed).toMatchObject({ status: 'failed', error: { name: 'TemplateUnavailableError', stepId: 'parse' } })
    }
    expect(reported).toHaveLength(1)
    expect(reported[0]?.[0]).toBe(csv.cid)
    expect(reported[0]?.[1]).toMatchObject({ name: 'TemplateUnavailableError', template: 'csv@1.0.0' })
    expect(node.parts.sandbox?.templates()).toEqual([])
  })

  it('with preload, every approved template is installed (or reported) when the node starts', async () => {
    await approve(['csv', 'sha256', 'validate'])
    const sha = await example('sha256')
    const path = templatePaths(dir()).module(sha.cid)
    const bytes = await readFile(path)
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1)
    await writeFile(path, bytes)
    const reported: [string, unknown][] = []
    const node = await open({ sandbox: { preload: true }, onError: (id, error) => reported.push([id, error]) })
    expect(node.parts.sandbox?.templates().map((t) => t.manifest.name).sort()).toEqual(['csv', 'validate'])
    expect(reported).toHaveLength(1)
    expect(reported[0]?.[1]).toMatchObject({ name: 'TemplateTamperedError', expected: sha.cid })
    const { engine } = node.parts
    await engine.createFlow(csvFlow as never, await node.asAdmin())
    const failed = await engine.run('csv-in-process', { text: 'a;b\n1;2\n' }, await node.asAdmin())
    expect(failed).toMatchObject({ status: 'failed', error: { name: 'TemplateTamperedError', stepId: 'digest' } })
    expect((await engine.state(failed.executionId)).steps.parse?.output).toEqual([{ a: '1', b: '2' }])
  })
})
