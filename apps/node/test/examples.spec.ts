import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { type Flow, parseFlow } from '@qflow/flow-schema'
import { beforeAll, describe, expect, it } from 'vitest'
import { EXAMPLES, qflow, REPO_ROOT, useTempDir } from './fixtures/cli.js'

/** How many flows examples/flows holds; update it with the examples. */
const EXAMPLE_COUNT = 13

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

  it('runs welcome.yaml on a fresh node, as `pnpm start` does', async () => {
    const result = await qflow(['run', 'examples/flows/welcome.yaml', '--input', '{"name":"Ada"}', '--data-dir', dataDir(), '--no-progress'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ greeting: 'Hello, Ada! Glad you are here.', letters: 8, shouted: 'HELLO, ADA!' })
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
