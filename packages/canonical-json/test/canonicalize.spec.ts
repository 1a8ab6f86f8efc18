import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CanonicalizationError, canonicalBytes, canonicalize, sortedKeys } from '../src/index.js'

describe('canonicalize', () => {
  it('matches the RFC 8785 §3.2.2 example', () => {
    const input = {
      // biome-ignore lint/correctness/noPrecisionLoss: the RFC example is written with these digits
      numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
      string: '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/',
      literals: [null, true, false]
    }
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
  })

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis'
    }
    // Read the keys off the text: JSON.parse would move the integer-like "1" to the front.
    const keys = [...canonicalize(input).matchAll(/"([^"]*)":/g)].map((m) => JSON.parse(`"${m[1]}"`))
    expect(keys).toEqual(['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'])
  })

  it('formats numbers as ECMAScript does, with -0 as 0', () => {
    expect(canonicalize([-0, 1e21, 1e-7, 123456789012345680000, 5e-324])).toBe(
      '[0,1e+21,1e-7,123456789012345680000,5e-324]'
    )
  })

  it('leaves out undefined members and is independent of key order', () => {
    expect(canonicalize({ b: 2, a: undefined, c: { y: 1, x: 2 } })).toBe('{"b":2,"c":{"x":2,"y":1}}')
    expect(canonicalize({ c: { x: 2, y: 1 }, b: 2 })).toBe(canonicalize({ b: 2, c: { y: 1, x: 2 } }))
  })

  it('rejects what JSON cannot hold, naming where', () => {
    expect(() => canonicalize({ a: [1, Number.NaN] })).toThrow(CanonicalizationError)
    try {
      canonicalize({ a: { 'b/c': [Infinity] } })
      expect.unreachable()
    } catch (err) {
      expect((err as CanonicalizationError).name).toBe('CanonicalizationError')
      expect((err as CanonicalizationError).pointer).toBe('/a/b~1c/0')
    }
    expect(() => canonicalize({ a: 1n })).toThrow(CanonicalizationError)
    expect(() => canonicalize('\ud800x')).toThrow(CanonicalizationError)
    expect(() => canonicalize(new Uint8Array(2))).toThrow(CanonicalizationError)
  })

  it('stops cycles and deep nesting with a typed error', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => canonicalize(cyclic)).toThrow(CanonicalizationError)
    let deep: unknown = 1
    for (let i = 0; i < 100; i++) deep = [deep]
    expect(() => canonicalize(deep, { maxDepth: 50 })).toThrow(/deeper than 50/)
    expect(canonicalize(deep)).toBe(`${'['.repeat(100)}1${']'.repeat(100)}`)
  })

  it('round-trips any JSON value to an equal value, and is idempotent', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalize(value)
        const reparsed = JSON.parse(text)
        expect(canonicalize(reparsed)).toBe(text)
      }),
      { numRuns: 2000 }
    )
  })

  it('sortedKeys gives the names Array.prototype.sort gives, for short and long, sorted and unsorted objects', () => {
    const names = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('a', 'B', '10', '9', '\u00e9', '\ud83d\ude00'))
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(names, fc.constant(1), { maxKeys: 30 }), fc.dictionary(names, fc.constant(1), { minKeys: 25, maxKeys: 60 })), (record) => {
        expect(sortedKeys(record)).toEqual(Object.keys(record).sort())
      }),
      { numRuns: 2000 }
    )
  })

  it('orders members as Array.prototype.sort orders their names, short and long objects alike', () => {
    // A reference writer: members in Array.prototype.sort's order (an object would enumerate index-like names first).
    const reference = (v: unknown): string =>
      Array.isArray(v)
        ? `[${v.map(reference).join(',')}]`
        : v !== null && typeof v === 'object'
          ? `{${Object.keys(v)
              .sort()
              .map((k) => `${JSON.stringify(k)}:${reference((v as Record<string, unknown>)[k])}`)
              .join(',')}}`
          : JSON.stringify(v)
    const names = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('a', 'B', '\u00e9', '\ud83d\ude00', '\uffff', '10', '9'))
    const member = fc.oneof(fc.integer(), fc.string(), fc.constant(null))
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(names, member, { maxKeys: 8 }), fc.dictionary(names, member, { minKeys: 20, maxKeys: 40 }), fc.jsonValue()), (value) => {
        // JSON.stringify writes numbers and strings as RFC 8785 does: only the member order differs.
        expect(canonicalize(value)).toBe(reference(value))
      }),
      { numRuns: 2000 }
    )
  })

  it('quotes strings exactly as JSON.stringify does, with or without characters to escape', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), (text) => {
        // lone surrogates are refused (tested above); every well-formed string must match
        if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)) return
        expect(canonicalize(text)).toBe(JSON.stringify(text))
        expect(canonicalize({ [text]: text })).toBe(`{${JSON.stringify(text)}:${JSON.stringify(text)}}`)
      }),
      { numRuns: 3000 }
    )
  })

  it('gives UTF-8 bytes', () => {
    expect(Array.from(canonicalBytes({ '€': 1 }))).toEqual(Array.from(Buffer.from('{"€":1}', 'utf8')))
  })
})
