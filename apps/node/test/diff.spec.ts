import { describe, expect, it } from 'vitest'
import { leafChanges } from '../src/commands/diff.js'
import { qflow, useTempDir, writeFiles } from './fixtures/cli.js'
import { BROKEN_YAML, GREETING_JSON, GREETING_YAML } from './fixtures/flows.js'

/** Version 1.1.0 of the greeting: a new step, a changed param, the version bumped. */
const GREETING_V2 = GREETING_YAML.replace('version: 1.0.0', 'version: 1.1.0')
  .replace(`"'Hello, ' & $.input.name"`, `"'Hi, ' & $.input.name"`)
  .concat(`  - id: archive
    type: task
    action: delay
    params: { ms: 10 }
`)

/** The greeting with its two steps swapped round and the first one gone. */
const GREETING_REORDERED = `id: greeting
name: Greeting
version: 2.0.0
owner: did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM
steps:
  - id: say
    type: task
    action: log
    params:
      message: "{{ steps.compose.output }}"
`

interface DiffJson {
  a: { file: string; version: string; hash: string }
  b: { file: string; version: string; hash: string }
  diff: {
    equal: boolean
    changedFields: { pointer: string; kind: string; before?: unknown; after?: unknown }[]
    addedSteps: string[]
    removedSteps: string[]
    changedSteps: { id: string; changes: { pointer: string; kind: string }[] }[]
    movedSteps: { id: string; from: number; to: number }[]
  }
}

describe('qflow flow diff', () => {
  const tmp = useTempDir()

  it('shows changed fields, added steps and changed step members for people', async () => {
    await writeFiles(tmp(), { 'v1.yaml': GREETING_YAML, 'v2.yaml': GREETING_V2 })
    const result = await qflow(['flow', 'diff', 'v1.yaml', 'v2.yaml'], { cwd: tmp() })
    expect(result.code).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toMatch(/^--- v1\.yaml {2}greeting@1\.0\.0 {2}bagaaiera\S+$/)
    expect(lines[1]).toMatch(/^\+\+\+ v2\.yaml {2}greeting@1\.1\.0 {2}bagaaiera\S+$/)
    expect(lines).toContain('  ~ /version  "1.0.0" -> "1.1.0"')
    expect(lines).toContain('  + archive  added (task, /steps/2)')
    expect(lines).toContain('  ~ compose  1 change')
    expect(lines).toContain(`      ~ /steps/0/params/expression  "'Hello, ' & $.input.name" -> "'Hi, ' & $.input.name"`)
  })

  it('gives the structured diff under --json', async () => {
    await writeFiles(tmp(), { 'v1.yaml': GREETING_YAML, 'v2.json': GREETING_JSON.replace('"1.0.0"', '"2.0.0"') })
    const result = await qflow(['--json', 'flow', 'diff', 'v1.yaml', 'v2.json'], { cwd: tmp() })
    expect(result.code).toBe(0)
    const value = JSON.parse(result.stdout) as DiffJson
    expect(value.a).toMatchObject({ file: 'v1.yaml', version: '1.0.0' })
    expect(value.b).toMatchObject({ file: 'v2.json', version: '2.0.0' })
    expect(value.a.hash).not.toBe(value.b.hash)
    expect(value.diff).toEqual({
      equal: false,
      changedFields: [{ pointer: '/version', kind: 'changed', before: '1.0.0', after: '2.0.0' }],
      addedSteps: [],
      removedSteps: [],
      changedSteps: [],
      movedSteps: []
    })
  })

  it('reports removed steps', async () => {
    await writeFiles(tmp(), { 'v1.yaml': GREETING_YAML, 'v3.yaml': GREETING_REORDERED })
    const result = await qflow(['--json', 'flow', 'diff', 'v1.yaml', 'v3.yaml'], { cwd: tmp() })
    expect(result.code).toBe(0)
    const value = JSON.parse(result.stdout) as DiffJson
    expect(value.diff.removedSteps).toEqual(['compose'])
    expect(value.diff.changedFields.map((c) => `${c.kind} ${c.pointer}`)).toEqual(['changed /version', 'removed /metadata'])
    const human = await qflow(['flow', 'diff', 'v1.yaml', 'v3.yaml'], { cwd: tmp() })
    expect(human.stdout).toContain('  - compose  removed')
    expect(human.stdout).toContain('  - /metadata  {"tags":["test","greeting"]}')
  })

  it('says "no differences" for the same flow in two formats', async () => {
    await writeFiles(tmp(), { 'a.yaml': GREETING_YAML, 'b.json': GREETING_JSON })
    const result = await qflow(['flow', 'diff', 'a.yaml', 'b.json'], { cwd: tmp() })
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n').at(-1)).toBe('no differences')
  })

  it('exits 1 when either file is not a valid flow', async () => {
    await writeFiles(tmp(), { 'a.yaml': GREETING_YAML, 'broken.yaml': BROKEN_YAML })
    const result = await qflow(['flow', 'diff', 'a.yaml', 'broken.yaml'], { cwd: tmp() })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('qflow: broken.yaml is not a valid flow (2 errors)')
  })
})

describe('leafChanges', () => {
  it('splits a changed object into the changes of its leaves', () => {
    expect(
      leafChanges({
        pointer: '/steps/0/params',
        kind: 'changed',
        before: { url: 'https://a', headers: { a: '1', 'x/y': 'same' }, gone: true },
        after: { url: 'https://b', headers: { a: '2', 'x/y': 'same' }, added: [1] }
      })
    ).toEqual([
      { pointer: '/steps/0/params/url', kind: 'changed', before: 'https://a', after: 'https://b' },
      { pointer: '/steps/0/params/headers/a', kind: 'changed', before: '1', after: '2' },
      { pointer: '/steps/0/params/gone', kind: 'removed', before: true },
      { pointer: '/steps/0/params/added', kind: 'added', after: [1] }
    ])
  })

  it('keeps arrays and changes of kind whole', () => {
    const arrays = { pointer: '/tags', kind: 'changed' as const, before: ['a'], after: ['a', 'b'] }
    expect(leafChanges(arrays)).toEqual([arrays])
    const added = { pointer: '/metadata', kind: 'added' as const, after: { tags: [] } }
    expect(leafChanges(added)).toEqual([added])
  })
})
