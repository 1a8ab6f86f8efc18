import { describe, expect, it } from 'vitest'
import { plainData } from '../src/engine/plain-data.js'

describe('plainData', () => {
  it('turns undefined and functions into null, leaves such members out, keeps bytes and copies the rest', () => {
    const bytes = new Uint8Array([1, 2])
    const nested = { b: [1, undefined, () => 1], c: { d: 'x' } }
    const value = { a: undefined, f: () => 1, bytes, nested, n: null, s: 'text', t: true, x: 1.5 }
    const copy = plainData(value) as typeof value
    expect(copy).toEqual({ bytes, nested: { b: [1, null, null], c: { d: 'x' } }, n: null, s: 'text', t: true, x: 1.5 })
    expect(Object.keys(copy)).toEqual(['bytes', 'nested', 'n', 's', 't', 'x'])
    expect(copy.bytes).toBe(bytes)
    expect(copy.nested).not.toBe(nested)
    expect(copy.nested.c).not.toBe(nested.c)
    expect(plainData(undefined)).toBeNull()
    expect(plainData(() => 1)).toBeNull()
    expect(plainData('s')).toBe('s')
  })

  it('copies arrays as plain arrays (holes and JSONata sequence flags gone), own members only, __proto__ as a member', () => {
    const sequence = Object.assign([1, 2], { sequence: true })
    const copied = plainData(sequence) as unknown[]
    expect(copied).toEqual([1, 2])
    expect(Object.keys(copied)).toEqual(['0', '1'])
    // biome-ignore lint/suspicious/noSparseArray: a hole is what this checks
    expect(plainData([1, , 3])).toEqual([1, null, 3])
    const inherited = Object.create({ inheritedMember: 1 }) as Record<string, unknown>
    inherited.own = 2
    expect(plainData(inherited)).toEqual({ own: 2 })
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>
    const copy = plainData(parsed) as Record<string, unknown>
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.keys(copy)).toEqual(['__proto__', 'a'])
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined()
    expect(JSON.stringify(copy)).toBe('{"__proto__":{"polluted":true},"a":1}')
  })
})
