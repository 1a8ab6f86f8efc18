import { canonicalBytes } from '@qflow/canonical-json'
import { payloadDigest } from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import { InvalidExpectationsError, InvalidSchemaError, qerberos } from '../src/index.js'
import { Ed25519Registry } from './fixtures/identity.js'

const invoiceSchema = {
  type: 'object',
  required: ['id', 'lines'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', format: 'uuid' },
    email: { type: 'string', format: 'email' },
    lines: { type: 'array', items: { type: 'object', required: ['sku', 'qty'], properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 } } } }
  }
}
const invoice = { id: '9b2f7a52-3f55-4a8e-9d43-0a7b3c1e2f10', lines: [{ sku: 'A-1', qty: 2 }] }

describe('checkIntegrity: digests', () => {
  it('accepts the payload digest as the pipeline names it, whatever the key order', async () => {
    const q = qerberos()()
    const reordered = { lines: [{ qty: 2, sku: 'A-1' }], id: invoice.id }
    const report = await q.checkIntegrity(reordered, { expectedDigest: payloadDigest(invoice) })
    expect(report).toEqual({ ok: true, digest: payloadDigest(invoice), failures: [] })
  })

  it('reports DIGEST_MISMATCH with both digests', async () => {
    const q = qerberos()()
    const tampered = { ...invoice, lines: [{ sku: 'A-1', qty: 20 }] }
    const report = await q.checkIntegrity(tampered, { expectedDigest: payloadDigest(invoice) })
    expect(report.ok).toBe(false)
    expect(report.digest).toBe(payloadDigest(tampered))
    expect(report.failures.map((f) => f.code)).toEqual(['DIGEST_MISMATCH'])
    expect(report.failures[0]?.message).toContain(payloadDigest(invoice))
  })

  it('hashes raw bytes as they are', async () => {
    const q = qerberos()()
    const bytes = new Uint8Array([1, 2, 3, 250])
    expect((await q.checkIntegrity(bytes, { expectedDigest: payloadDigest(bytes) })).ok).toBe(true)
  })

  it('reports PAYLOAD_NOT_JSON for what has no JSON form, with an empty digest', async () => {
    const q = qerberos()()
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const payload of [cyclic, { n: Number.NaN }, { big: 1n }, '\ud800']) {
      const report = await q.checkIntegrity(payload, { expectedDigest: payloadDigest({}) })
      expect(report.ok).toBe(false)
      expect(report.digest).toBe('')
      expect(report.failures.map((f) => f.code)).toEqual(['PAYLOAD_NOT_JSON'])
    }
  })
})

describe('checkIntegrity: signatures', () => {
  it('verifies an ed25519 signature over the canonical bytes', async () => {
    const registry = new Ed25519Registry()
    const bob = registry.identity('Bob')
    const q = qerberos()({ identity: registry })
    const signature = { alg: 'EdDSA' as const, signer: bob.did, value: bob.sign(canonicalBytes(invoice)) }
    expect((await q.checkIntegrity({ lines: invoice.lines, id: invoice.id }, { signature })).ok).toBe(true)
    expect(registry.calls).toBe(1)
  })

  it('reports BAD_SIGNATURE for tampered payloads, other signers and failing verifiers', async () => {
    const registry = new Ed25519Registry()
    const bob = registry.identity('Bob')
    const eve = registry.identity('Eve')
    const q = qerberos()({ identity: registry })
    const value = bob.sign(canonicalBytes(invoice))
    const tampered = await q.checkIntegrity({ ...invoice, id: 'x' }, { signature: { alg: 'EdDSA', signer: bob.did, value } })
    expect(tampered.failures.map((f) => f.code)).toEqual(['BAD_SIGNATURE'])
    const otherSigner = await q.checkIntegrity(invoice, { signature: { alg: 'EdDSA', signer: eve.did, value } })
    expect(otherSigner.failures.map((f) => f.code)).toEqual(['BAD_SIGNATURE'])
    const unknown = await q.checkIntegrity(invoice, { signature: { alg: 'EdDSA', signer: 'did:key:z6MkNobody', value } })
    expect(unknown.failures[0]?.code).toBe('BAD_SIGNATURE')
    expect(unknown.failures[0]?.message).toContain('UnknownIdentityError')
  })

  it('signs raw bytes as they are', async () => {
    const registry = new Ed25519Registry()
    const bob = registry.identity('Bob')
    const q = qerberos()({ identity: registry })
    const bytes = new TextEncoder().encode('not json at all {')
    expect((await q.checkIntegrity(bytes, { signature: { alg: 'EdDSA', signer: bob.did, value: bob.sign(bytes) } })).ok).toBe(true)
  })

  it('fails closed with NO_SIGNATURE_VERIFIER when it has no verifier', async () => {
    const q = qerberos()()
    const report = await q.checkIntegrity(invoice, { signature: { alg: 'EdDSA', signer: 'did:key:z6MkBob', value: new Uint8Array(64) } })
    expect(report.failures.map((f) => f.code)).toEqual(['NO_SIGNATURE_VERIFIER'])
  })
})

describe('checkIntegrity: output schemas', () => {
  it('passes a conforming payload', async () => {
    const q = qerberos()()
    expect(await q.checkIntegrity(invoice, { schema: invoiceSchema })).toEqual({ ok: true, digest: payloadDigest(invoice), failures: [] })
  })

  it('lists every schema failure with a JSON pointer to it', async () => {
    const q = qerberos()()
    const bad = { id: 'not-a-uuid', email: 'nope', extra: 1, 'a/b': 2, lines: [{ sku: 'A' }, { sku: 7, qty: 0 }] }
    const report = await q.checkIntegrity(bad, { schema: invoiceSchema })
    expect(report.ok).toBe(false)
    expect(report.failures.every((f) => f.code === 'SCHEMA_MISMATCH')).toBe(true)
    expect(report.failures.map((f) => f.pointer).sort()).toEqual(
      ['/a~1b', '/email', '/extra', '/id', '/lines/0/qty', '/lines/1/qty', '/lines/1/sku'].sort()
    )
  })

  it('reports digest, signature and schema failures together', async () => {
    const registry = new Ed25519Registry()
    const bob = registry.identity('Bob')
    const q = qerberos()({ identity: registry })
    const report = await q.checkIntegrity(
      { lines: [] },
      { expectedDigest: payloadDigest(invoice), signature: { alg: 'EdDSA', signer: bob.did, value: bob.sign(canonicalBytes(invoice)) }, schema: invoiceSchema }
    )
    expect(report.failures.map((f) => f.code)).toEqual(['DIGEST_MISMATCH', 'BAD_SIGNATURE', 'SCHEMA_MISMATCH'])
    expect(report.failures[2]?.pointer).toBe('/id')
  })

  it('reports INVALID_SCHEMA for schemas that do not compile', async () => {
    const q = qerberos()()
    for (const schema of [{ type: 'nope' }, { $ref: 'https://example.com/missing.json' }, { minimum: 'one' }, { pattern: '(' }]) {
      const report = await q.checkIntegrity(1, { schema })
      expect(report.failures.map((f) => f.code), JSON.stringify(schema)).toEqual(['INVALID_SCHEMA'])
    }
  })

  it('honours boolean schemas', async () => {
    const q = qerberos()()
    expect((await q.checkIntegrity({ any: 1 }, { schema: true })).ok).toBe(true)
    expect((await q.checkIntegrity({ any: 1 }, { schema: false })).failures.map((f) => f.pointer)).toEqual([''])
  })

  it('compiles a schema once per canonical form and bounds the cache', async () => {
    const q = qerberos({ schemaCacheSize: 2 })()
    await q.checkIntegrity(invoice, { schema: invoiceSchema })
    await q.checkIntegrity(invoice, { schema: JSON.parse(JSON.stringify(invoiceSchema)) })
    await q.checkIntegrity(invoice, { schema: { required: ['id', 'lines'], type: 'object' } })
    await q.checkIntegrity(invoice, { schema: { type: 'object', required: ['id', 'lines'] } })
    expect(q.stats().schemas).toBe(2)
    await q.checkIntegrity(invoice, { schema: { type: 'object' } })
    expect(q.stats().schemas).toBe(2)
  })

  it('follows a schema object changed after use (the cache is keyed by content)', async () => {
    const q = qerberos()()
    const schema: Record<string, unknown> = { type: 'object', required: ['id'] }
    expect((await q.checkIntegrity(invoice, { schema })).ok).toBe(true)
    schema.required = ['missing']
    const report = await q.checkIntegrity(invoice, { schema })
    expect(report.failures.map((f) => f.pointer)).toEqual(['/missing'])
  })

  it('resolves recursive schemas, and keeps apart different schemas that share an $id', async () => {
    const q = qerberos()()
    const tree = { type: 'object', required: ['v'], properties: { v: { type: 'integer' }, kids: { type: 'array', items: { $ref: '#' } } } }
    expect((await q.checkIntegrity({ v: 1, kids: [{ v: 2, kids: [{ v: 3 }] }] }, { schema: tree })).ok).toBe(true)
    const broken = await q.checkIntegrity({ v: 1, kids: [{ v: 2, kids: [{ v: 'x' }] }] }, { schema: tree })
    expect(broken.failures.map((f) => f.pointer)).toEqual(['/kids/0/kids/0/v'])
    const v1 = { $id: 'https://qflow.example/out.json', type: 'object', required: ['a'] }
    const v2 = { $id: 'https://qflow.example/out.json', type: 'object', required: ['b'] }
    expect((await q.checkIntegrity({ a: 1 }, { schema: v1 })).ok).toBe(true)
    expect((await q.checkIntegrity({ a: 1 }, { schema: v2 })).failures.map((f) => f.pointer)).toEqual(['/b'])
  })

  it('caps the failures listed', async () => {
    const q = qerberos({ maxSchemaFailures: 3 })()
    const report = await q.checkIntegrity(Array.from({ length: 10 }, () => 'x'), { schema: { type: 'array', items: { type: 'integer' } } })
    expect(report.failures).toHaveLength(4)
    expect(report.failures[3]?.message).toMatch(/^7 more schema failures/)
  })

  it('compileSchema throws InvalidSchemaError', () => {
    const q = qerberos()()
    expect(() => q.compileSchema(invoiceSchema)).not.toThrow()
    for (const schema of [{ type: 'nope' }, [], 'string', null]) {
      try {
        q.compileSchema(schema)
        expect.unreachable()
      } catch (err) {
        expect((err as Error).name).toBe(InvalidSchemaError.name)
        expect((err as InvalidSchemaError).errors.length).toBeGreaterThan(0)
      }
    }
  })
})

describe('checkIntegrity: malformed expectations', () => {
  it('throws InvalidExpectationsError pointing at the field', async () => {
    const q = qerberos()()
    const cases: [unknown, string][] = [
      [null, ''],
      [[], ''],
      [{ expectedDigest: 'md5-abc' }, '/expectedDigest'],
      [{ expectedDigest: 42 }, '/expectedDigest'],
      [{ signature: 'sig' }, '/signature'],
      [{ signature: { alg: 'RS256', signer: 'did:key:z6MkBob', value: new Uint8Array(64) } }, '/signature/alg'],
      [{ signature: { alg: 'EdDSA', signer: '', value: new Uint8Array(64) } }, '/signature/signer'],
      [{ signature: { alg: 'EdDSA', signer: 'did:key:z6MkBob', value: 'base64' } }, '/signature/value'],
      [{ schema: 'object' }, '/schema'],
      [{ schema: [] }, '/schema']
    ]
    for (const [expectations, pointer] of cases) {
      const err = await q.checkIntegrity({}, expectations as never).catch((e: unknown) => e)
      expect((err as Error).name, JSON.stringify(expectations)).toBe(InvalidExpectationsError.name)
      expect((err as InvalidExpectationsError).pointer).toBe(pointer)
    }
  })
})
