import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Api, startApi } from './api-fixture.js'

const SCRIPT = fileURLToPath(new URL('../../../../examples/api/create-and-run.mjs', import.meta.url))
const run = promisify(execFile)

let api: Api

beforeAll(async () => {
  api = await startApi()
})

afterAll(async () => {
  await api?.close()
})

describe('examples/api/create-and-run.mjs', () => {
  it('creates welcome.yaml and runs it through the API against a listening node', async () => {
    const token = await api.token()
    const { stdout } = await run(process.execPath, [SCRIPT], { env: { ...process.env, QFLOW_API: api.url, QFLOW_TOKEN: token } })
    const lines = stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^flow welcome stored: revision 1, version 1\.0\.0, hash b/)
    expect(lines[1]).toMatch(/^execution exec-\S+: completed$/)
    const result = JSON.parse(lines[lines.length - 1] as string)
    expect(result).toMatchObject({ status: 'completed', output: { greeting: 'Hello, Ada! Glad you are here.', letters: 8, shouted: 'HELLO, ADA!' } })
    // What the script reported is what the node stored.
    const state = await api.node.parts.engine.state(result.executionId)
    expect(state.status).toBe('completed')
    expect((await api.node.parts.store.flows.current('welcome'))?.revision).toBe(1)
  })

  it('exits 2 with a hint when QFLOW_TOKEN is missing', async () => {
    const failed = await run(process.execPath, [SCRIPT], { env: { ...process.env, QFLOW_API: api.url, QFLOW_TOKEN: '' } }).catch((err: { code: number; stderr: string }) => err)
    expect((failed as { code: number }).code).toBe(2)
    expect((failed as { stderr: string }).stderr).toContain('QFLOW_TOKEN')
  })

  it('reports the API error code when the token is refused', async () => {
    const failed = await run(process.execPath, [SCRIPT], { env: { ...process.env, QFLOW_API: api.url, QFLOW_TOKEN: 'not.a.token' } }).catch((err: { code: number; stderr: string }) => err)
    expect((failed as { code: number }).code).toBe(1)
    expect((failed as { stderr: string }).stderr).toContain('401 UNAUTHENTICATED')
  })
})
