import { createHash } from 'node:crypto'
import { canonicalize } from '@qflow/canonical-json'
import { CID } from 'multiformats/cid'
import { stringify } from 'yaml'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Flow, flowCanonicalBytes, flowCid, flowHash, flowHashBytes, JSON_CODEC, loadFlow, parseFlow, SHA2_256 } from '../src/index.js'
import { fixture } from './fixtures/flows.js'

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i))
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value)
  entries.sort((a, b) => ((a[0].length * 31 + seed) % 7) - ((b[0].length * 31 + seed) % 7) || (seed % 2 === 0 ? 1 : -1))
  return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]))
}

describe('flowHash', () => {
  const flow = loadFlow(fixture('order-flow.yaml'))

  it('is a CIDv1 (base32, json codec, sha2-256) over the canonical bytes without the signature', () => {
    const hash = flowHash(flow)
    expect(hash).toMatch(/^bagaaiera[a-z2-7]{52}$/)
    const cid = CID.parse(hash)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(JSON_CODEC)
    expect(cid.multihash.code).toBe(SHA2_256)
    const canonical = canonicalize(flow)
    expect(new TextDecoder().decode(flowCanonicalBytes(flow))).toBe(canonical)
    expect(Buffer.from(cid.multihash.digest).toString('hex')).toBe(createHash('sha256').update(canonical).digest('hex'))
    expect(flowCid(flow).toString()).toBe(hash)
    expect(CID.decode(flowHashBytes(flow)).toString()).toBe(hash)
  })

  it('is the same whatever the format, key order or whitespace', () => {
    const hash = flowHash(flow)
    const json = JSON.stringify(flow)
    expect(flowHash(parseFlow(json) as Flow)).toBe(hash)
    expect(flowHash(parseFlow(JSON.stringify(flow, null, 4)) as Flow)).toBe(hash)
    expect(flowHash(parseFlow(stringify(flow, { indent: 4, indentSeq: false })) as Flow)).toBe(hash)
    expect(flowHash(parseFlow(stringify(flow, { collectionStyle: 'flow' }), { format: 'yaml' }) as Flow)).toBe(hash)
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(flowHash(shuffleKeys(flow, seed) as Flow)).toBe(hash)
      }),
      { numRuns: 100 }
    )
  })

  it('changes with any content change, but not with the signature', () => {
    const hash = flowHash(flow)
    expect(flowHash({ ...flow, name: 'Other' })).not.toBe(hash)
    expect(flowHash({ ...flow, steps: flow.steps.slice().reverse() })).not.toBe(hash)
    const signed = { ...flow, signature: { alg: 'EdDSA' as const, signer: 'squid:x', value: 'AA', hash } }
    expect(flowHash(signed)).toBe(hash)
    expect(flowCanonicalBytes(signed)).toEqual(flowCanonicalBytes(flow))
  })
})
