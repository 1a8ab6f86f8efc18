import type { EncryptionBinding } from '@qflow/pipeline'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assertBinding, encryptedAssociatedData, sealedAssociatedData, wrapInfo } from '../src/associated-data.js'

const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])
const str = (s: string) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)])

describe('associated data', () => {
  it('lays out label, purpose, version, algorithm, key id and binding as documented', () => {
    const aad = encryptedAssociatedData('A256GCM', 'k1', { subnet: 's', purpose: 'p' })
    const expected = Buffer.concat([
      Buffer.from('qflow/qlock/v1'),
      Buffer.of(0, 0x45, 1, 1),
      str('k1'),
      str('s'),
      Buffer.of(0), // no executionId
      Buffer.of(0), // no stepId
      Buffer.of(1),
      str('p')
    ])
    expect(aad.toString('hex')).toBe(expected.toString('hex'))
    expect(encryptedAssociatedData('C20P', 'k1', { subnet: 's', purpose: 'p' })[17]).toBe(2)
  })

  it('lays out the sealed recipient table and the wrap info', () => {
    const r = { did: 'did:a', ephemeralPublicKey: new Uint8Array(32).fill(1), nonce: new Uint8Array(12).fill(2), wrappedKey: new Uint8Array(48).fill(3) }
    const sealed = sealedAssociatedData('A256GCM', { subnet: 's' }, [r])
    const binding = Buffer.concat([str('s'), Buffer.of(0, 0, 0)])
    const bytes = (b: Uint8Array) => Buffer.concat([u32(b.length), b])
    expect(sealed.toString('hex')).toBe(
      Buffer.concat([
        Buffer.from('qflow/qlock/v1'),
        Buffer.of(0, 0x53, 1, 1),
        binding,
        u32(1),
        str('did:a'),
        bytes(r.ephemeralPublicKey),
        bytes(r.nonce),
        bytes(r.wrappedKey)
      ]).toString('hex')
    )
    expect(wrapInfo('A256GCM', 'did:a', r.ephemeralPublicKey, { subnet: 's' }).toString('hex')).toBe(
      Buffer.concat([Buffer.from('qflow/qlock/v1'), Buffer.of(0, 0x57, 1, 1), str('did:a'), bytes(r.ephemeralPublicKey), binding]).toString('hex')
    )
  })

  it('is injective: different bindings or key ids never share associated data', () => {
    const field = fc.option(fc.string({ maxLength: 6 }), { nil: undefined })
    const binding = fc.record({ subnet: fc.string({ minLength: 1, maxLength: 6 }), executionId: field, stepId: field, purpose: field })
    const clean = (b: { subnet: string; executionId: string | undefined; stepId: string | undefined; purpose: string | undefined }) =>
      Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)) as unknown as EncryptionBinding
    fc.assert(
      fc.property(binding, binding, fc.string({ minLength: 1, maxLength: 4 }), fc.string({ minLength: 1, maxLength: 4 }), (a, b, ka, kb) => {
        const same = JSON.stringify(clean(a)) === JSON.stringify(clean(b)) && ka === kb
        const equal = encryptedAssociatedData('A256GCM', ka, clean(a)).equals(encryptedAssociatedData('A256GCM', kb, clean(b)))
        return same === equal
      }),
      { numRuns: 5000 }
    )
  })

  it('checks bindings', () => {
    expect(() => assertBinding({ subnet: 's', executionId: 'e', stepId: 't', purpose: 'p' })).not.toThrow()
    for (const [bad, field] of [
      [{ subnet: '' }, 'subnet'],
      [{ subnet: ['s'] }, 'subnet'],
      [{ subnet: 's', executionId: null }, 'executionId'],
      [{ subnet: '\udfff' }, 'subnet'],
      ['s', '']
    ] as const) {
      expect(() => assertBinding(bad)).toThrow(expect.objectContaining({ name: 'InvalidBindingError', field }))
    }
  })
})
