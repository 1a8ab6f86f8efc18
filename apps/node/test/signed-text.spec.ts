import { generateKeyPairSync } from 'node:crypto'
import { ed25519Signer, ed25519Verifier, loadFlow, parseFlow, signFlow, verifyFlow } from '@qflow/flow-schema'
import { describe, expect, it } from 'vitest'
import type { FlowSource } from '../src/files.js'
import { signedFlowText } from '../src/signed-text.js'
import { GREETING_JSON, GREETING_YAML } from './fixtures/flows.js'

const signer = ed25519Signer(generateKeyPairSync('ed25519').privateKey)

async function signText(text: string, format: 'json' | 'yaml'): Promise<string> {
  const source: FlowSource = { path: 'x', text, format }
  const signed = await signFlow(loadFlow(text, { format }), signer, { signedAt: false })
  return signedFlowText(source, signed)
}

describe('signedFlowText', () => {
  it('appends the signature to block YAML and keeps the rest byte for byte', async () => {
    const text = await signText(GREETING_YAML, 'yaml')
    expect(text.startsWith(GREETING_YAML)).toBe(true)
    expect(text.slice(GREETING_YAML.length)).toMatch(/^signature:\n {2}alg: EdDSA\n {2}signer: did:key:\S+\n {2}value: \S+\n {2}hash: \S+\n$/)
    expect((await verifyFlow(loadFlow(text), ed25519Verifier())).valid).toBe(true)
  })

  it('adds a line break first when the YAML does not end with one', async () => {
    const text = await signText(GREETING_YAML.trimEnd(), 'yaml')
    expect(text.startsWith(`${GREETING_YAML.trimEnd()}\nsignature:\n`)).toBe(true)
    expect((await verifyFlow(loadFlow(text), ed25519Verifier())).valid).toBe(true)
  })

  it('sets the signature in a flow-style YAML document through the YAML document model, still verifiable', async () => {
    const flowStyle = `{ id: greeting, name: Greeting, version: 1.0.0, owner: "did:key:z6Mkor76npWMRp5n8itqirHRnoD3kafYgWUejtyHrQULYacM",
  steps: [ { id: say, type: task, action: log, params: { message: hi } } ] }
`
    const text = await signText(flowStyle, 'yaml')
    expect(text).toMatch(/^\{id: greeting, [\s\S]*signature: \{alg: EdDSA, /)
    expect((await verifyFlow(loadFlow(text, { format: 'yaml' }), ed25519Verifier())).valid).toBe(true)
  })

  it('survives a document with an explicit end marker', async () => {
    const text = await signText(`${GREETING_YAML}...\n`, 'yaml')
    const flow = loadFlow(text, { format: 'yaml' })
    expect((await verifyFlow(flow, ed25519Verifier())).valid).toBe(true)
  })

  it('keeps JSON member order and indentation', async () => {
    const fourSpaces = JSON.stringify(JSON.parse(GREETING_JSON), null, 4)
    const text = await signText(fourSpaces, 'json')
    expect(text.split('\n')[1]).toMatch(/^ {4}"steps": \[$/)
    const parsed = parseFlow(text) as Record<string, unknown>
    expect(Object.keys(parsed)).toEqual(['steps', 'metadata', 'id', 'owner', 'version', 'name', 'signature'])
    expect((await verifyFlow(loadFlow(text), ed25519Verifier())).valid).toBe(true)
  })
})
