import { describe, expect, it } from 'vitest'
import { memoryKeyring } from '../src/keyring/memory-keyring.js'
import { rejection } from './fixtures/qlock.js'

function clock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

describe('memoryKeyring', () => {
  it('makes one random 256-bit active key per subnet on first use, and hands it out again', async () => {
    const keyring = memoryKeyring()
    const a1 = await keyring.activeKey('subnet-a')
    const a2 = await keyring.activeKey('subnet-a')
    const b = await keyring.activeKey('subnet-b')
    expect(a2.kid).toBe(a1.kid)
    expect(b.kid).not.toBe(a1.kid)
    expect(a1.subnet).toBe('subnet-a')
    expect(a1.key.type).toBe('secret')
    expect(a1.key.symmetricKeySize).toBe(32)
    expect(a1.key.export().equals(b.key.export())).toBe(false)
    expect((await keyring.list()).map((k) => k.subnet)).toEqual(['subnet-a', 'subnet-b'])
  })

  it('makes only one first key when many callers ask at once', async () => {
    const keyring = memoryKeyring()
    const keys = await Promise.all(Array.from({ length: 20 }, () => keyring.activeKey('subnet-a')))
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1)
    expect(await keyring.list('subnet-a')).toHaveLength(1)
  })

  it('rotates: the new key is active, the old one retired but still usable for opening', async () => {
    const c = clock()
    const keyring = memoryKeyring({ now: c.now })
    const first = await keyring.activeKey('s')
    c.advance(5)
    const rotated = await keyring.rotate('s')
    expect(rotated).toMatchObject({ subnet: 's', status: 'active', createdAt: 1_005 })
    expect((await keyring.activeKey('s')).kid).toBe(rotated.kid)
    expect((await keyring.key(first.kid)).key.export().equals(first.key.export())).toBe(true)
    expect(await keyring.list('s')).toEqual([
      { kid: first.kid, subnet: 's', status: 'retired', createdAt: 1_000, retiredAt: 1_005 },
      { kid: rotated.kid, subnet: 's', status: 'active', createdAt: 1_005 }
    ])
  })

  it('retire stops a key encrypting new data (a new key is made on next use) and is idempotent', async () => {
    const keyring = memoryKeyring()
    const first = await keyring.activeKey('s')
    expect((await keyring.retire(first.kid)).status).toBe('retired')
    expect((await keyring.retire(first.kid)).status).toBe('retired')
    const next = await keyring.activeKey('s')
    expect(next.kid).not.toBe(first.kid)
    expect((await keyring.key(first.kid)).kid).toBe(first.kid)
  })

  it('destroy removes the material: key() then throws KeyDestroyedError; unknown ids throw UnknownKeyError', async () => {
    const c = clock(7)
    const keyring = memoryKeyring({ now: c.now })
    const key = await keyring.activeKey('s')
    const info = await keyring.destroy(key.kid)
    expect(info).toEqual({ kid: key.kid, subnet: 's', status: 'destroyed', createdAt: 7, destroyedAt: 7 })
    expect(await rejection(keyring.key(key.kid))).toMatchObject({ name: 'KeyDestroyedError', kid: key.kid, destroyedAt: 7 })
    expect((await keyring.destroy(key.kid)).status).toBe('destroyed')
    expect((await keyring.retire(key.kid)).status).toBe('destroyed')
    expect((await keyring.activeKey('s')).kid).not.toBe(key.kid)
    for (const op of [keyring.key('nope'), keyring.retire('nope'), keyring.destroy('nope')]) {
      expect(await rejection(op)).toMatchObject({ name: 'UnknownKeyError', kid: 'nope' })
    }
  })

  it('refuses bad subnets and key ids with InvalidArgumentError', async () => {
    const keyring = memoryKeyring()
    for (const op of [
      keyring.activeKey(''),
      keyring.activeKey(42 as never),
      keyring.rotate('\ud800'),
      keyring.key(''),
      keyring.retire('x'.repeat(256)),
      keyring.list('')
    ]) {
      expect((await rejection(op)).name).toBe('InvalidArgumentError')
    }
  })
})
