import { randomBytes } from 'node:crypto'
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fileKeyring } from '../src/keyring/file-keyring.js'
import { decodeKeyringFile, encodeKeyTable, openKeyringFile, sealKeyringFile } from '../src/keyring/keyring-file.js'
import { qlock } from '../src/qlock.js'
import { didKeyVerifier, ed25519Signer, x25519Recipients } from './fixtures/identities.js'
import { bytes, flipped, rejection, tempDir, text } from './fixtures/qlock.js'

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

describe('fileKeyring', () => {
  let dir: string
  let remove: () => Promise<void>
  const secret = randomBytes(32)

  beforeEach(async () => {
    ;({ dir, remove } = await tempDir())
  })
  afterEach(async () => {
    await remove()
  })

  const open = (nodeSecret: Uint8Array = secret) => fileKeyring({ dataDir: dir })({ nodeSecret })

  it('needs a node secret of at least 32 bytes, at construction', () => {
    expect(() => fileKeyring({ dataDir: dir })({} as never)).toThrow(expect.objectContaining({ name: 'MissingComponentError', component: 'nodeSecret' }))
    expect(() => open(randomBytes(16))).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', argument: 'nodeSecret' }))
  })

  it('starts empty without a file, and writes none until a key is made', async () => {
    const keyring = open()
    await keyring.start()
    expect(await keyring.list()).toEqual([])
    expect(await readdir(dir)).toEqual([])
    expect(keyring.path).toBe(join(dir, 'qlock-keyring.bin'))
  })

  it('persists keys atomically with mode 0600, encrypted: a new instance with the same secret sees the same keys', async () => {
    const keyring = open()
    const a = await keyring.activeKey('subnet-a')
    await keyring.rotate('subnet-a')
    const b = await keyring.activeKey('subnet-b')
    expect(await readdir(dir)).toEqual(['qlock-keyring.bin'])
    expect((await stat(keyring.path)).mode & 0o777).toBe(0o600)
    const file = await readFile(keyring.path)
    expect(file.subarray(0, 4).toString('ascii')).toBe('QLKR')
    expect(file.includes(a.key.export())).toBe(false)
    expect(file.includes(Buffer.from('subnet-a'))).toBe(false)

    const again = open()
    await again.start()
    expect(await again.list()).toEqual(await keyring.list())
    expect((await again.key(a.kid)).key.export().equals(a.key.export())).toBe(true)
    expect((await again.activeKey('subnet-b')).kid).toBe(b.kid)
    await again.stop()
    await keyring.stop()
  })

  it('data encrypted through one instance opens through a restarted one; rotation keeps old data readable', async () => {
    const make = (keyring: ReturnType<typeof open>) =>
      qlock()({ signer: ed25519Signer(), verifier: didKeyVerifier(), recipientKeys: x25519Recipients().resolver, keyring })
    const where = { subnet: 'dao', executionId: 'e1', purpose: 'state' }
    const first = make(open())
    const old = await first.encrypt(bytes('before rotation'), where)
    const keyring = open()
    await keyring.rotate('dao')
    const fresh = await make(keyring).encrypt(bytes('after rotation'), where)
    expect(fresh.kid).not.toBe(old.kid)
    const restarted = make(open())
    expect(text(await restarted.decrypt(old, where))).toBe('before rotation')
    expect(text(await restarted.decrypt(fresh, where))).toBe('after rotation')
  })

  it('destroy removes the key material from the file; data under it then fails with KeyDestroyedError', async () => {
    const keyring = open()
    const key = await keyring.activeKey('s')
    const material = key.key.export()
    const lock = qlock()({ signer: ed25519Signer(), verifier: didKeyVerifier(), recipientKeys: x25519Recipients().resolver, keyring })
    const envelope = await lock.encrypt(bytes('secret'), { subnet: 's' })
    await keyring.destroy(key.kid)
    const plaintext = openKeyringFile(await readFile(keyring.path), secret)
    expect(plaintext.includes(material)).toBe(false)
    const reloaded = open()
    expect((await reloaded.list())[0]).toMatchObject({ kid: key.kid, status: 'destroyed' })
    expect(await rejection(reloaded.key(key.kid))).toMatchObject({ name: 'KeyDestroyedError', kid: key.kid })
    expect(await rejection(lock.decrypt(envelope, { subnet: 's' }))).toMatchObject({ name: 'KeyDestroyedError' })
  })

  it('a wrong node secret gives KeyringDecryptionError, and nothing is overwritten', async () => {
    const keyring = open()
    await keyring.activeKey('s')
    const before = await readFile(keyring.path)
    const wrong = open(randomBytes(32))
    expect(await rejection(wrong.start())).toMatchObject({ name: 'KeyringDecryptionError', path: keyring.path })
    expect(await rejection(wrong.activeKey('s'))).toMatchObject({ name: 'KeyringDecryptionError' })
    expect(await rejection(wrong.rotate('s'))).toMatchObject({ name: 'KeyringDecryptionError' })
    expect((await readFile(keyring.path)).equals(before)).toBe(true)
  })

  it('a flipped bit anywhere in the file is refused with a typed error', async () => {
    const keyring = open()
    await keyring.activeKey('s')
    const good = await readFile(keyring.path)
    for (let i = 0; i < good.length; i++) {
      await writeFile(keyring.path, flipped(Buffer.from(good), i, i % 8))
      const err = await rejection(open().start())
      expect(['KeyringFormatError', 'KeyringDecryptionError']).toContain(err.name)
    }
  })

  it('a failed write leaves the live keyring and the file as they were', async () => {
    const dataDir = join(dir, 'node')
    const keyring = fileKeyring({ dataDir })({ nodeSecret: secret })
    const key = await keyring.activeKey('s')
    const listed = await keyring.list()
    const before = await readFile(keyring.path)
    // Swap the data directory for a plain file: the next write cannot happen.
    await rename(dataDir, join(dir, 'moved'))
    await writeFile(dataDir, 'not a directory')
    for (const op of [keyring.rotate('s'), keyring.destroy(key.kid), keyring.activeKey('t')]) {
      expect((await rejection(op)).name).toBe('Error')
    }
    expect(await keyring.list()).toEqual(listed)
    expect((await keyring.activeKey('s')).kid).toBe(key.kid)
    expect((await keyring.key(key.kid)).kid).toBe(key.kid)
    // Put the directory back: the keyring carries on, and the file was never touched.
    await rm(dataDir)
    await rename(join(dir, 'moved'), dataDir)
    expect((await readFile(keyring.path)).equals(before)).toBe(true)
    expect(await readdir(dataDir)).toEqual(['qlock-keyring.bin'])
    const rotated = await keyring.rotate('s')
    expect((await fileKeyring({ dataDir })({ nodeSecret: secret }).activeKey('s')).kid).toBe(rotated.kid)
  })

  it('random bytes as a keyring file give KeyringFormatError or KeyringDecryptionError, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (random, withMagic) => {
        const file = withMagic ? Buffer.concat([Buffer.from('QLKR\x01\x01', 'latin1'), random]) : Buffer.from(random)
        try {
          decodeKeyringFile(file, secret)
          return false
        } catch (err) {
          return ['KeyringFormatError', 'KeyringDecryptionError'].includes((err as Error).name)
        }
      }),
      { numRuns: 2000 }
    )
  })

  it('random key tables, properly encrypted, give KeyringFormatError or decode to a consistent table', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (random) => {
        const file = sealKeyringFile(Buffer.concat([Buffer.of(1), Buffer.from(random)]), secret)
        try {
          const table = decodeKeyringFile(file, secret)
          // Whatever decoded re-encodes to the same bytes.
          return encodeKeyTable(table.entries.values()).equals(Buffer.concat([Buffer.of(1), Buffer.from(random)]))
        } catch (err) {
          return (err as Error).name === 'KeyringFormatError'
        }
      }),
      { numRuns: 2000 }
    )
  })

  const entryArbitrary = fc
    .record({
      kid: fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }),
      subnet: fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }),
      status: fc.constantFrom('active', 'retired', 'destroyed'),
      createdAt: fc.nat(),
      retiredAt: fc.option(fc.nat(), { nil: undefined }),
      destroyedAt: fc.nat(),
      material: fc.uint8Array({ minLength: 32, maxLength: 32 })
    })
    .map(({ kid, subnet, status, createdAt, retiredAt, destroyedAt, material }) => {
      if (status === 'active') return { info: { kid, subnet, status, createdAt } as const, material: Buffer.from(material) }
      if (status === 'retired') return { info: { kid, subnet, status, createdAt, retiredAt: retiredAt ?? 0 } as const, material: Buffer.from(material) }
      const info = retiredAt === undefined ? { kid, subnet, status, createdAt, destroyedAt } : { kid, subnet, status, createdAt, retiredAt, destroyedAt }
      return { info: info as typeof info & { status: 'destroyed' } }
    })

  it('valid key tables round-trip through the file, and any flipped bit in the table is caught or re-encodes exactly', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArbitrary, {
          selector: (e) => e.info.kid,
          maxLength: 6
        }),
        fc.nat(),
        (entries, flip) => {
          const seen = new Set<string>()
          const valid = entries.filter((e) => {
            if (LONE_SURROGATE.test(e.info.kid) || LONE_SURROGATE.test(e.info.subnet)) return false
            if (e.info.status !== 'active') return true
            if (seen.has(e.info.subnet)) return false
            seen.add(e.info.subnet)
            return true
          })
          const table = encodeKeyTable(valid)
          const decoded = decodeKeyringFile(sealKeyringFile(table, secret), secret)
          expect(decoded.list()).toEqual(valid.map((e) => e.info))
          const mutated = flipped(Buffer.from(table), flip % table.length, flip % 8)
          try {
            const again = decodeKeyringFile(sealKeyringFile(mutated, secret), secret)
            return encodeKeyTable(again.entries.values()).equals(mutated)
          } catch (err) {
            return (err as Error).name === 'KeyringFormatError'
          }
        }
      ),
      { numRuns: 1000 }
    )
  })
})
