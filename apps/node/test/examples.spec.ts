import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { compileJsonSchema, type Flow, parseFlow } from '@qflow/flow-schema'
import { beforeAll, describe, expect, it } from 'vitest'
import { EXAMPLES, qflow, REPO_ROOT, useTempDir } from './fixtures/cli.js'

const runFile = promisify(execFile)

/** How many flows examples/flows holds; update it with the examples. */
const EXAMPLE_COUNT = 14

async function flowFiles(dir: string): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...(await flowFiles(path)))
    else if (/\.(json|ya?ml)$/.test(entry.name)) found.push(path)
  }
  return found.sort()
}

describe('examples/flows', () => {
  let flows: { file: string; flow: Flow }[] = []

  beforeAll(async () => {
    const files = await flowFiles(EXAMPLES)
    flows = await Promise.all(files.map(async (file) => ({ file: relative(REPO_ROOT, file), flow: parseFlow(await readFile(file, 'utf8')) as Flow })))
  })

  it(`qflow flow validate examples/flows exits 0 over all ${EXAMPLE_COUNT} files`, async () => {
    const result = await qflow(['--json', 'flow', 'validate', 'examples/flows'])
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout) as { summary: { files: number; valid: number; errors: number }; files: { file: string }[] }
    expect(report.summary).toMatchObject({ files: EXAMPLE_COUNT, valid: EXAMPLE_COUNT, errors: 0 })
    expect(report.files.map((f) => f.file).sort()).toEqual(flows.map((f) => f.file))
  })

  const dataDir = useTempDir()

  it('runs welcome.yaml in-process with `qflow run` on a fresh data directory', async () => {
    const result = await qflow(['run', 'examples/flows/welcome.yaml', '--input', '{"name":"Ada"}', '--data-dir', dataDir(), '--no-progress'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ greeting: 'Hello, Ada! Glad you are here.', letters: 8, shouted: 'HELLO, ADA!' })
  })

  it('webhook-echo.yaml is a receive-then-transform flow behind a signed, schema-checked webhook that answers on completion', async () => {
    const echo = flows.find((f) => f.file === 'examples/flows/webhook-echo.yaml')?.flow
    expect(echo?.steps.map((s) => [s.id, s.type, s.action])).toEqual([
      ['receive', 'task', 'data.transform'],
      ['transform', 'task', 'data.transform']
    ])
    expect(echo?.triggers).toMatchObject([
      { id: 'inbound', type: 'webhook', auth: { scheme: 'standard-webhooks', secretRef: 'webhook-echo-secret' }, respond: 'on-completion' }
    ])
    const trigger = echo?.triggers?.[0]
    const schema = trigger?.type === 'webhook' ? trigger.eventSchema : undefined
    expect(schema).toBeDefined()
    const accepts = compileJsonSchema(schema as Record<string, unknown>)
    // The body examples/api/trigger-webhook.mjs sends by default, and a CloudEvent, pass; a body without type or data does not.
    const script = await readFile(join(REPO_ROOT, 'examples/api/trigger-webhook.mjs'), 'utf8')
    const defaultBody = /^let body = '(.+)'$/m.exec(script)?.[1]
    expect(accepts(JSON.parse(defaultBody as string))).toBe(true)
    expect(accepts({ specversion: '1.0', id: 'e-1', source: '/shop', type: 'order.placed', data: { order: 7 } })).toBe(true)
    expect(accepts({ type: 'greeting' })).toBe(false)
    expect(accepts({ type: '', data: {} })).toBe(false)
  })

  it('examples/api/trigger-webhook.mjs exits 2 with a hint, sending nothing, without a secret or with a body that is not JSON', async () => {
    const script = join(REPO_ROOT, 'examples/api/trigger-webhook.mjs')
    // Port 9 is never asked: both are refused before any request.
    const env = { ...process.env, QFLOW_API: 'http://127.0.0.1:9' }
    const noSecret = await runFile(process.execPath, [script], { env: { ...env, QFLOW_WEBHOOK_SECRET: '' } }).catch((err: { code: number; stdout: string; stderr: string }) => err)
    expect(noSecret).toMatchObject({ code: 2, stdout: '' })
    expect((noSecret as { stderr: string }).stderr).toContain('Set QFLOW_WEBHOOK_SECRET')
    const notJson = await runFile(process.execPath, [script, 'webhook-echo', 'inbound', '{nope'], { env: { ...env, QFLOW_WEBHOOK_SECRET: 'whsec_AAAA' } }).catch(
      (err: { code: number; stdout: string; stderr: string }) => err
    )
    expect(notJson).toMatchObject({ code: 2, stdout: '' })
    expect((notJson as { stderr: string }).stderr).toContain('The body is not JSON')
  })

  it('mixes YAML and JSON', () => {
    expect(flows.some((f) => f.file.endsWith('.json'))).toBe(true)
    expect(flows.some((f) => f.file.endsWith('.yaml'))).toBe(true)
  })

  it('use every step type, with http.request and data.transform tasks, a join and a timed event wait', () => {
    const steps = flows.flatMap((f) => f.flow.steps)
    const types = new Set(steps.map((s) => s.type))
    expect([...types].sort()).toEqual(['condition', 'event-trigger', 'module-call', 'parallel', 'sub-flow', 'task'])
    const actions = new Set(steps.filter((s) => s.type === 'task').map((s) => s.action))
    expect(actions.has('http.request') && actions.has('data.transform')).toBe(true)
    expect(steps.some((s) => s.type === 'parallel' && s.join !== undefined && s.branches !== undefined)).toBe(true)
    expect(steps.some((s) => s.type === 'event-trigger' && s.timeout !== undefined && s.onTimeout !== undefined)).toBe(true)
    expect(steps.some((s) => s.type === 'module-call' && s.module === 'qmail')).toBe(true)
  })

  it('have a Standard Webhooks trigger answering on completion, and a cron schedule', () => {
    const triggers = flows.flatMap((f) => f.flow.triggers ?? [])
    expect(triggers.some((t) => t.type === 'webhook' && t.auth.scheme === 'standard-webhooks' && t.respond === 'on-completion')).toBe(true)
    expect(triggers.some((t) => t.type === 'schedule' && t.cron.length > 0)).toBe(true)
  })

  it('include a flow in the earlier (legacy) format', () => {
    const legacy = flows.filter((f) => f.flow.steps.every((s) => typeof s.action === 'string' && s.params !== undefined))
    const rich = legacy.find((f) => f.flow.metadata?.daoSubnet !== undefined && f.flow.steps.some((s) => s.retryPolicy?.backoffStrategy !== undefined))
    expect(rich?.file).toBe('examples/flows/legacy/content-moderation.json')
    const types = new Set(rich?.flow.steps.map((s) => s.type))
    expect([...types].sort()).toEqual(['condition', 'event-trigger', 'module-call', 'parallel', 'task'])
  })

  it('are owned by real ed25519 did:keys', () => {
    for (const { flow } of flows) expect(flow.owner).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$/)
  })
})
