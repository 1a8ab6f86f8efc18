import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { EXAMPLES, qflow, useTempDir, writeFiles } from './fixtures/cli.js'
import { BROKEN_JSON, BROKEN_YAML, GREETING_JSON, GREETING_YAML, UNREACHABLE_YAML } from './fixtures/flows.js'

interface JsonReport {
  valid: boolean
  summary: { files: number; valid: number; invalid: number; errors: number; warnings: number }
  files: {
    file: string
    valid: boolean
    format?: string
    hash?: string
    errors: { line: number; column: number; pointer: string; code: string }[]
    warnings: { code: string }[]
  }[]
}

async function countFlowFiles(dir: string): Promise<number> {
  let count = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) count += await countFlowFiles(join(dir, entry.name))
    else if (/\.(json|ya?ml)$/.test(entry.name)) count++
  }
  return count
}

describe('qflow flow validate', () => {
  const tmp = useTempDir()

  it('accepts every example flow (exit 0) and checks each file found under examples/flows', async () => {
    const expected = await countFlowFiles(EXAMPLES)
    expect(expected).toBeGreaterThanOrEqual(8)
    const result = await qflow(['--json', 'flow', 'validate', 'examples/flows'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout) as JsonReport
    expect(report.valid).toBe(true)
    expect(report.summary).toMatchObject({ files: expected, valid: expected, invalid: 0, errors: 0 })
    expect(report.files.map((f) => f.file)).toContain('examples/flows/legacy/content-moderation.json')
    expect(new Set(report.files.map((f) => f.format))).toEqual(new Set(['json', 'yaml']))
    for (const file of report.files) expect(file.hash).toMatch(/^bagaaiera[a-z2-7]+$/)
  })

  it('prints people a table and a verdict', async () => {
    const result = await qflow(['flow', 'validate', 'examples/flows'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^FILE +RESULT +ERRORS +WARNINGS +FLOW$/m)
    expect(result.stdout).toMatch(/^examples\/flows\/customer-360\.yaml +valid +0 +0 +customer-360@1\.4\.0$/m)
    expect(result.stdout).toMatch(/\d+ files valid \(\d+ warnings\)\n$/)
  })

  it('reports YAML problems as file:line:col severity pointer code message and exits 1', async () => {
    await writeFiles(tmp(), { 'broken.yaml': BROKEN_YAML })
    const result = await qflow(['flow', 'validate', 'broken.yaml'], { cwd: tmp() })
    expect(result.code).toBe(1)
    const lines = result.stdout.split('\n')
    expect(lines).toContain('broken.yaml:10:5 error /steps/0/onSuccess unknown-step-ref onSuccess names unknown step "secnod" (did you mean "second"?)')
    expect(lines.find((l) => l.startsWith('broken.yaml:12:5 error /steps/1/type unknown-step-type '))).toBeDefined()
    expect(lines).toContain('broken.yaml:11:5 warning /steps/1 unreachable-step step "second" is never reached from the entry step "first"')
    expect(result.stdout).toContain('1 of 1 file invalid (2 errors, 1 warning)')
  })

  it('maps JSON pointers back to lines and columns of JSON files too', async () => {
    await writeFiles(tmp(), { 'broken.json': BROKEN_JSON })
    const result = await qflow(['--json', 'flow', 'validate', 'broken.json'], { cwd: tmp() })
    expect(result.code).toBe(1)
    const report = JSON.parse(result.stdout) as JsonReport
    expect(report.files[0]?.errors).toEqual([
      expect.objectContaining({ pointer: '/steps/1/action', code: 'missing-field', line: 6, column: 5, severity: 'error', stepId: 'no_action' })
    ])
  })

  it('reports a parse error at its line and column', async () => {
    await writeFiles(tmp(), {
      'bad-syntax.yaml': 'id: x\nsteps:\n  - id: a\n    params: { unclosed: [1, 2 }\n',
      'dup.json': '{\n  "id": "a",\n  "id": "b"\n}\n'
    })
    const result = await qflow(['--json', 'flow', 'validate', 'bad-syntax.yaml', 'dup.json'], { cwd: tmp() })
    expect(result.code).toBe(1)
    const report = JSON.parse(result.stdout) as JsonReport
    const [yaml, json] = report.files
    expect(yaml?.errors[0]?.code).toBe('parse:syntax')
    expect(yaml?.errors[0]?.line).toBe(4)
    expect(json?.errors[0]).toMatchObject({ code: 'parse:duplicate-key', line: 3 })
    const human = await qflow(['flow', 'validate', 'dup.json'], { cwd: tmp() })
    expect(human.stdout).toMatch(/^dup\.json:3:\d+ error # parse:duplicate-key /m)
  })

  it('passes a flow with warnings only (exit 0) and still prints the warnings', async () => {
    await writeFiles(tmp(), { 'warn.yaml': UNREACHABLE_YAML })
    const result = await qflow(['flow', 'validate', 'warn.yaml'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('warn.yaml:11:5 warning /steps/1 unreachable-step step "orphan" is never reached')
    expect(result.stdout).toContain('1 file valid (1 warning)')
  })

  it('walks directories recursively for *.json, *.yaml and *.yml, skipping other files, dot entries and node_modules', async () => {
    await writeFiles(tmp(), {
      'flows/a.yaml': GREETING_YAML,
      'flows/nested/deeper/b.json': GREETING_JSON,
      'flows/nested/c.yml': UNREACHABLE_YAML,
      'flows/nested/README.md': '# not a flow',
      'flows/nested/notes.txt': 'not a flow either',
      'flows/.hidden/broken.yaml': BROKEN_YAML,
      'flows/node_modules/pkg/broken.json': BROKEN_JSON
    })
    const result = await qflow(['--json', 'flow', 'validate', 'flows'], { cwd: tmp() })
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout) as JsonReport
    expect(report.files.map((f) => f.file)).toEqual(['flows/a.yaml', 'flows/nested/c.yml', 'flows/nested/deeper/b.json'])
  })

  it('follows links to flow files but not links to directories', async () => {
    const { symlink } = await import('node:fs/promises')
    await writeFiles(tmp(), { 'elsewhere/real.yaml': GREETING_YAML, 'flows/own.yaml': GREETING_YAML })
    await symlink(join(tmp(), 'elsewhere/real.yaml'), join(tmp(), 'flows/linked.yaml'))
    await symlink(join(tmp(), 'flows'), join(tmp(), 'flows/loop'))
    await symlink(join(tmp(), 'elsewhere/missing.yaml'), join(tmp(), 'flows/dangling.yaml'))
    const result = await qflow(['--json', 'flow', 'validate', 'flows'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect((JSON.parse(result.stdout) as JsonReport).files.map((f) => f.file)).toEqual(['flows/linked.yaml', 'flows/own.yaml'])
  })

  it('fails when any one of several files is invalid, and reports all of them', async () => {
    await writeFiles(tmp(), { 'dir/good.yaml': GREETING_YAML, 'dir/bad.yaml': BROKEN_YAML, 'other.json': GREETING_JSON })
    const result = await qflow(['--json', 'flow', 'validate', 'dir', 'other.json'], { cwd: tmp() })
    expect(result.code).toBe(1)
    const report = JSON.parse(result.stdout) as JsonReport
    expect(report.summary).toEqual({ files: 3, valid: 2, invalid: 1, errors: 2, warnings: 1 })
    expect(report.files.filter((f) => !f.valid).map((f) => f.file)).toEqual(['dir/bad.yaml'])
  })

  it('reads standard input for -', async () => {
    const good = await qflow(['flow', 'validate', '-'], { input: GREETING_JSON })
    expect(good.code).toBe(0)
    const bad = await qflow(['flow', 'validate', '-'], { input: BROKEN_YAML })
    expect(bad.code).toBe(1)
    expect(bad.stdout).toContain('-:10:5 error /steps/0/onSuccess unknown-step-ref')
  })

  it('exits 1 with a message (no stack) for a missing file or an empty directory', async () => {
    const missing = await qflow(['flow', 'validate', 'nope.yaml'], { cwd: tmp() })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toBe('qflow: nope.yaml: no such file or directory\n')
    await writeFiles(tmp(), { 'empty/readme.md': 'nothing here' })
    const empty = await qflow(['flow', 'validate', 'empty'], { cwd: tmp() })
    expect(empty.code).toBe(1)
    expect(empty.stderr).toContain('empty: no flow files (*.json, *.yaml, *.yml) in this directory')
    expect(empty.stderr).not.toMatch(/\n\s+at /)
  })

  it('reads a YAML flow from a file with a .json ending as JSON (and fails it)', async () => {
    await writeFiles(tmp(), { 'yaml-in-disguise.json': GREETING_YAML })
    const result = await qflow(['--json', 'flow', 'validate', 'yaml-in-disguise.json'], { cwd: tmp() })
    expect(result.code).toBe(1)
    const report = JSON.parse(result.stdout) as JsonReport
    expect(report.files[0]).toMatchObject({ format: 'json', valid: false })
    expect(report.files[0]?.errors[0]?.code).toMatch(/^parse:/)
  })
})
