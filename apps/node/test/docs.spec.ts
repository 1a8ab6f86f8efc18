import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseFlow, validateFlow } from '@qflow/flow-schema'
import { beforeAll, describe, expect, it } from 'vitest'
import { qflow, REPO_ROOT } from './fixtures/cli.js'

const DOC = join(REPO_ROOT, 'docs/flow-format.md')

const FLOW_KEYS = new Set(['id', 'name', 'version', 'owner', 'description', 'metadata', 'triggers', 'inputSchema', 'steps', 'previousVersion', 'signature'])
const STEP_KEYS = new Set(['timeout', 'retryPolicy', 'resourceLimits', 'params', 'outputSchema'])

/** A flow that a snippet of top-level members (or of step members) is merged into. */
function completed(snippet: Record<string, unknown>): Record<string, unknown> {
  const base = {
    id: 'doc-example',
    name: 'Documentation example',
    version: '1.0.0',
    owner: 'did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM'
  }
  const keys = Object.keys(snippet)
  if (keys.every((k) => STEP_KEYS.has(k))) {
    // an action no registry holds: params are then not checked against a schema
    return { ...base, steps: [{ id: 'example', type: 'task', action: 'example.action', ...snippet }] }
  }
  return { ...base, steps: [{ id: 'example', type: 'task', action: 'log', params: { message: 'x' } }], ...snippet }
}

describe('docs/flow-format.md', () => {
  let blocks: { lang: string; text: string; line: number }[] = []
  let doc = ''

  beforeAll(async () => {
    doc = await readFile(DOC, 'utf8')
    const fence = /^```(yaml|json)\n([\s\S]*?)^```$/gm
    for (const m of doc.matchAll(fence)) {
      blocks.push({ lang: m[1] as string, text: m[2] as string, line: doc.slice(0, m.index).split('\n').length })
    }
    blocks = blocks.filter((b) => b.text.trim() !== '')
  })

  it('has YAML and JSON examples', () => {
    expect(blocks.filter((b) => b.lang === 'yaml').length).toBeGreaterThanOrEqual(15)
    expect(blocks.some((b) => b.lang === 'json')).toBe(true)
  })

  it('every example (whole flows, and snippets completed into one) is a valid flow', () => {
    const failures: string[] = []
    let checked = 0
    for (const block of blocks) {
      const value = parseFlow(block.text, { format: block.lang as 'json' | 'yaml' })
      if (value === null || typeof value !== 'object' || Array.isArray(value)) continue // a list of steps: a fragment
      const snippet = value as Record<string, unknown>
      const flow = 'id' in snippet ? snippet : completed(snippet)
      if (!Object.keys(snippet).every((k) => FLOW_KEYS.has(k) || STEP_KEYS.has(k) || k.startsWith('$') || ['daoPolicy', 'createdAt', 'updatedAt'].includes(k))) continue
      checked++
      const result = validateFlow(flow)
      if (!result.valid) failures.push(`line ${block.line}: ${result.errors.map((e) => `${e.pointer} ${e.code} ${e.message}`).join('; ')}`)
    }
    expect(failures).toEqual([])
    expect(checked).toBeGreaterThanOrEqual(10)
  })

  it('shows the real hash of the example it hashes', async () => {
    const m = /^\$ qflow flow hash (\S+)\n(\S+)$/m.exec(doc)
    expect(m).not.toBeNull()
    const result = await qflow(['flow', 'hash', m?.[1] as string])
    expect(result.stdout.trim()).toBe(m?.[2])
  })

  it('documents every code validation reports for a catalogue of broken flows', () => {
    const listed = new Set([...doc.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]))
    const reported = new Set<string>()
    for (const text of BROKEN_FLOWS) {
      const result = validateFlow(parseFlow(text, { format: 'yaml' }))
      for (const p of [...result.errors, ...result.warnings]) reported.add(p.code)
    }
    expect(reported.size).toBeGreaterThanOrEqual(35)
    expect([...reported].filter((code) => !listed.has(code))).toEqual([])
  })
})

/** Flows broken in every way the catalogue of codes covers. */
const BROKEN_FLOWS = [
  `id: kitchen-sink
name: Everything wrong
version: "1.0"
owner: did:key:z6MkBAD
previousVersion: notacid
metadata: { visibility: dao-only, colour: blue }
extra: 1
triggers:
  - { id: t, type: schedule, cron: "61 * * * *", timezone: Mars/Olympus }
  - { id: t, type: webhook, auth: { scheme: standard-webhooks }, eventSchema: { type: nope } }
  - { id: u, type: telepathy }
inputSchema: { type: object, x-ui: 1 }
steps:
  - id: member
    type: task
    action: log
    params: { message: hi }
  - id: p
    type: parallel
    branches: [[member, p], [member]]
    join: { count: 5 }
  - id: p
    type: task
    action: nope.action
  - id: slow
    type: task
    action: log
    params: { message: 1, colour: red }
    timeout: 999999999999
    retryPolicy: { maxAttempts: 1000, initialDelay: 10, maxDelay: 5, backoff: fixed, backoffStrategy: linear }
    resourceLimits: { memoryMB: 99999, maxMemoryMB: 2 }
    onSuccess: member
  - id: legacy
    type: condition
    action: evaluate
    onFalse: nowhere
  - id: sub
    type: sub-flow
    flow: "kitchen-sink@x"
    unknownMember: true
  - id: sub2
    type: sub-flow
    flow: "kitchen-sink@1.0.0"
  - id: wait
    type: event-trigger
    event: q.x.v1
    onTimeout: sub
    filter: "a = "
  - id: bad-type
    type: task
    action: 42
  - id: join-wrong
    type: parallel
    branches: [[wait]]
    join: sometimes
    outputSchema: { type: 12 }
`,
  `id: loop
name: ""
version: 1.0.0
owner: squid:alice
steps:
  - { id: a, type: task, action: log, params: { message: a }, onSuccess: b }
  - { id: b, type: task, action: log, params: { message: b }, onSuccess: a }
  - { id: c, type: event-trigger, event: q.x.v1, onTimeout: a, timeout: 99999999999 }
  - { id: d, type: taks, action: log }
  - { id: e, type: task, retryPolicy: { maxAttempts: 0 } }
  - { id: f, type: sub-flow, flow: loop@1.0.0 }
`
]
