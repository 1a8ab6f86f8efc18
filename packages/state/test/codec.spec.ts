import * as dagJson from '@ipld/dag-json'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { bytesMatchCid, canonicalBlockBytes, decodeBlock, encodeBlock, payloadBytes, signableBlock } from '../src/codec.js'

const cid = CID.parse('bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea')

/** dag-json data model values: what log entries, head records and payloads are made of. */
const ipld = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.uint8Array({ maxLength: 64 }),
    fc.constant(cid),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string().filter((k) => k !== '/'), tie('value'), { maxKeys: 4 }),
    fc.dictionary(fc.string({ unit: 'binary' }).filter((k) => k !== '/'), tie('value'), { maxKeys: 4 }),
    fc.string({ unit: 'binary' }),
    fc.constantFrom('say "hi"\\n', 'tab\there', '\u0000\u001f', 'é ü 漢字 😀', '\ud800 lone', 0.1, -2.5e-7, 1.5e300, 123.456)
  )
})).value

describe('codec', () => {
  it('writes the same bytes as @ipld/dag-json', () => {
    fc.assert(
      fc.property(ipld, (value) => {
        expect(Buffer.from(canonicalBlockBytes(value)).toString('hex')).toBe(Buffer.from(dagJson.encode(value)).toString('hex'))
      }),
      { numRuns: 2_000 }
    )
  })

  it('reads back what @ipld/dag-json reads', () => {
    fc.assert(
      fc.property(ipld, (value) => {
        const bytes = dagJson.encode(value)
        expect(decodeBlock(bytes)).toEqual(dagJson.decode(bytes))
      }),
      { numRuns: 2_000 }
    )
  })

  it('writes sealed payloads that read back as what dag-json reads back, plain JSON by JSON.stringify', () => {
    fc.assert(
      fc.property(ipld, (value) => {
        expect(decodeBlock(payloadBytes(value))).toEqual(dagJson.decode(dagJson.encode(value)))
      }),
      { numRuns: 2_000 }
    )
    // Parsed JSON keeps its member order: no sort.
    const order = { order: { id: 'o-1', items: [{ sku: 'a', qty: 2, price: 9.5 }] } }
    expect(new TextDecoder().decode(payloadBytes(order))).toBe(JSON.stringify(order))
    // What JSON.stringify would not write as dag-json holds it takes dag-json's writer.
    for (const value of [{ b: new Uint8Array([1]), a: 1 }, { link: cid }, { z: -0, a: 1 }, { big: 2 ** 60, a: 1 }, [1, { '/': 'x' }]]) {
      expect(Buffer.from(payloadBytes(value)).toString('hex'), JSON.stringify(value)).toBe(Buffer.from(canonicalBlockBytes(value)).toString('hex'))
    }
    expect(() => payloadBytes({ a: undefined, fn: () => 1 })).toThrow()
    expect(() => payloadBytes([undefined])).toThrow()
  })

  it('makes CIDv1 dag-json sha2-256 blocks and checks bytes against them', () => {
    const block = encodeBlock({ a: new Uint8Array([1, 2]), link: cid, n: -3 })
    expect(new TextDecoder().decode(block.bytes)).toBe(`{"a":{"/":{"bytes":"AQI"}},"link":{"/":"${cid.toString()}"},"n":-3}`)
    expect(block.cid.toString()).toBe(CID.createV1(dagJson.code, block.cid.multihash).toString())
    expect(bytesMatchCid(block.cid, block.bytes)).toBe(true)
    expect(bytesMatchCid(block.cid, block.bytes.subarray(1))).toBe(false)
    expect(bytesMatchCid(cid, block.bytes)).toBe(false)
  })

  // A per-entry signature (format 1) or a batch signature with its inclusion proof (format 2).
  const signature = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.record({ index: fc.nat(), path: fc.uint8Array({ maxLength: 320 }), size: fc.nat(), value: fc.uint8Array({ minLength: 64, maxLength: 64 }) })
  )

  it('splices a signature into the signed text: the same block as dag-json encoding the signed value', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string().filter((k) => k !== '/' && k !== 'signature'), ipld, { maxKeys: 8 }), signature, (unsigned, signature) => {
        const signable = signableBlock(unsigned)
        expect(Buffer.from(signable.bytes).toString('hex')).toBe(Buffer.from(dagJson.encode(unsigned)).toString('hex'))
        const block = signable.withSignature(signature)
        const expected = { bytes: dagJson.encode({ ...unsigned, signature }), cid: encodeBlock({ ...unsigned, signature }).cid }
        expect(Buffer.from(block.bytes).toString('hex')).toBe(Buffer.from(expected.bytes).toString('hex'))
        expect(block.cid.toString()).toBe(expected.cid.toString())
      }),
      { numRuns: 2_000 }
    )
  })
})
