import { flowHash, loadFlow } from '@qflow/flow-schema'
import { describe, expect, it } from 'vitest'
import { qflow, useTempDir, writeFiles } from './fixtures/cli.js'
import { BROKEN_YAML, GREETING_JSON, GREETING_YAML } from './fixtures/flows.js'

describe('qflow flow hash', () => {
  const tmp = useTempDir()

  it('prints the flow hash, the same for the YAML and the JSON form of one flow', async () => {
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML, 'g.json': GREETING_JSON })
    const expected = flowHash(loadFlow(GREETING_YAML))
    const yaml = await qflow(['flow', 'hash', 'g.yaml'], { cwd: tmp() })
    const json = await qflow(['flow', 'hash', 'g.json'], { cwd: tmp() })
    expect(yaml).toEqual({ code: 0, stdout: `${expected}\n`, stderr: '' })
    expect(json).toEqual({ code: 0, stdout: `${expected}\n`, stderr: '' })
  })

  it('changes when the flow changes', async () => {
    await writeFiles(tmp(), { 'a.yaml': GREETING_YAML, 'b.yaml': GREETING_YAML.replace('version: 1.0.0', 'version: 1.0.1') })
    const a = await qflow(['flow', 'hash', 'a.yaml'], { cwd: tmp() })
    const b = await qflow(['flow', 'hash', 'b.yaml'], { cwd: tmp() })
    expect(a.code).toBe(0)
    expect(b.code).toBe(0)
    expect(a.stdout).not.toBe(b.stdout)
  })

  it('prints id, version and hash under --json', async () => {
    await writeFiles(tmp(), { 'g.yaml': GREETING_YAML })
    const result = await qflow(['--json', 'flow', 'hash', 'g.yaml'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ file: 'g.yaml', id: 'greeting', version: '1.0.0', hash: flowHash(loadFlow(GREETING_YAML)) })
  })

  it('hashes a flow from standard input', async () => {
    const result = await qflow(['flow', 'hash', '-'], { input: GREETING_JSON })
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(flowHash(loadFlow(GREETING_JSON)))
  })

  it('refuses an invalid flow with exit 1 and its located problems on stderr', async () => {
    await writeFiles(tmp(), { 'broken.yaml': BROKEN_YAML })
    const result = await qflow(['flow', 'hash', 'broken.yaml'], { cwd: tmp() })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('qflow: broken.yaml is not a valid flow (2 errors):\n')
    expect(result.stderr).toContain('  broken.yaml:10:5 error /steps/0/onSuccess unknown-step-ref')
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('gives a structured error under --json', async () => {
    await writeFiles(tmp(), { 'broken.yaml': BROKEN_YAML })
    const result = await qflow(['--json', 'flow', 'hash', 'broken.yaml'], { cwd: tmp() })
    expect(result.code).toBe(1)
    const error = (JSON.parse(result.stderr) as { error: { name: string; path: string; report: { errors: { code: string }[] } } }).error
    expect(error.name).toBe('InvalidFlowFileError')
    expect(error.path).toBe('broken.yaml')
    expect(error.report.errors.map((e) => e.code)).toEqual(['unknown-step-ref', 'unknown-step-type'])
  })
})
