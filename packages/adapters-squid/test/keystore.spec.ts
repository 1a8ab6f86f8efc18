import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createIdentity,
  createKeystore,
  createSubIdentity,
  issueToken,
  loadKeystore,
  openKeystore,
  saveKeystore,
  sealKeystore,
  squidVerifier
} from '../src/index.js'
import { rejection, tempDirPerTest, thrown } from './fixtures/index.js'

const PASS = 'correct horse battery staple'

describe('keystore', () => {
  const temp = tempDirPerTest()

  it('saves several identities with their chains atomically (mode 0600) and loads them back', async () => {
    const root = createIdentity()
    const { identity: bot, delegation } = await createSubIdentity(root, { capabilities: ['flow:run'] })
    const keystore = createKeystore()
    keystore.add(root, { label: 'operator', createdAt: 1 })
    keystore.add(bot, { label: 'ci bot', chain: [delegation], createdAt: 2 })
    const path = join(temp.dir, 'identities.keystore')
    await saveKeystore(path, keystore, PASS)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await readdir(temp.dir)).toEqual(['identities.keystore']) // no temp file left behind

    const file = JSON.parse(await readFile(path, 'utf8'))
    expect(file).toMatchObject({ format: 'qflow-squid-keystore', v: 1, kdf: { name: 'scrypt', N: 32768, r: 8, p: 1 }, cipher: { name: 'aes-256-gcm' } })
    const text = await readFile(path, 'utf8')
    expect(text).not.toContain(root.export().seed)
    expect(text).not.toContain('operator')

    const loaded = await loadKeystore(path, PASS)
    expect(loaded.entries().map((e) => [e.identity.did, e.label, e.createdAt])).toEqual([
      [root.did, 'operator', 1],
      [bot.did, 'ci bot', 2]
    ])
    expect(loaded.chain(bot.did)).toEqual([delegation])
    // The loaded sub-identity can still prove itself with its chain.
    const reloadedBot = loaded.get(bot.did)
    if (reloadedBot === undefined) throw new Error('bot missing')
    const token = await issueToken(reloadedBot, { audience: 'svc', delegation: loaded.chain(bot.did) ?? [] })
    expect((await squidVerifier()().verifyToken(token)).root).toBe(root.did)

    // Saving again replaces the file; a fresh salt and IV each time.
    loaded.remove(root.did)
    await saveKeystore(path, loaded, PASS)
    expect(JSON.parse(await readFile(path, 'utf8')).kdf.salt).not.toBe(file.kdf.salt)
    expect((await loadKeystore(path, PASS)).size).toBe(1)
  })

  it('wrong passphrase → KeystorePassphraseError; unicode passphrases are normalized', async () => {
    const keystore = createKeystore([createIdentity()])
    const sealed = await sealKeystore(keystore, 'Ame\u0301lie')
    expect((await rejection(openKeystore(sealed, 'wrong'))).name).toBe('KeystorePassphraseError')
    expect((await openKeystore(sealed, 'Am\u00e9lie')).size).toBe(1)
    expect((await rejection(sealKeystore(keystore, ''))).name).toBe('KeystorePassphraseError')
  })

  it('tampering → KeystoreCorruptError; altered KDF parameters look like a wrong passphrase', async () => {
    const sealed = JSON.parse(Buffer.from(await sealKeystore(createKeystore([createIdentity()]), PASS)).toString('utf8'))
    const open = (value: unknown) => rejection(openKeystore(Buffer.from(JSON.stringify(value)), PASS))
    const flipped = Buffer.from(sealed.ciphertext, 'base64url')
    flipped[5] = (flipped[5] as number) ^ 0x01
    expect((await open({ ...sealed, ciphertext: flipped.toString('base64url') })).name).toBe('KeystoreCorruptError')
    const iv = Buffer.from(sealed.cipher.iv, 'base64url')
    iv[0] = (iv[0] as number) ^ 0x01
    expect((await open({ ...sealed, cipher: { ...sealed.cipher, iv: iv.toString('base64url') } })).name).toBe('KeystoreCorruptError')
    expect((await open({ ...sealed, ciphertext: sealed.ciphertext.slice(0, 10) })).name).toBe('KeystoreCorruptError')
    expect((await open({ ...sealed, format: 'other' })).name).toBe('KeystoreCorruptError')
    expect((await open({ ...sealed, extra: true })).name).toBe('KeystoreCorruptError')
    expect((await open({ ...sealed, kdf: { ...sealed.kdf, N: 2 ** 30 } })).name).toBe('KeystoreCorruptError')
    expect((await open({ ...sealed, kdf: { ...sealed.kdf, N: 1000 } })).name).toBe('KeystoreCorruptError')
    expect((await open({ ...sealed, kdf: { ...sealed.kdf, r: 1 } })).name).toBe('KeystorePassphraseError')
    expect((await open({ ...sealed, v: 2 })).name).toBe('KeystoreVersionError')
    expect((await open({ ...sealed, v: 0 })).name).toBe('KeystoreCorruptError')
  })

  it('refuses a decrypted body whose seed does not match its did', async () => {
    // Build a keystore whose entry's did was swapped before sealing, via a forged identity object.
    const real = createIdentity()
    const other = createIdentity()
    const forged = Object.assign(Object.create(Object.getPrototypeOf(real)), real, { did: other.did }) as typeof real
    Object.defineProperty(forged, 'export', { value: () => ({ ...real.export(), did: other.did }) })
    const keystore = createKeystore()
    keystore.add(forged)
    const err = await rejection(openKeystore(await sealKeystore(keystore, PASS), PASS))
    expect(err.name).toBe('KeystoreCorruptError')
  })

  it('refuses chains that do not end at the identity, and unknown identities', async () => {
    const root = createIdentity()
    const { delegation } = await createSubIdentity(root)
    const keystore = createKeystore([root])
    expect(thrown(() => keystore.add(createIdentity(), { chain: [delegation] })).name).toBe('DelegationChainError')
    expect(thrown(() => keystore.setChain(createIdentity().did, [delegation])).name).toBe('DelegationChainError')
    expect(thrown(() => keystore.setChain(root.did, [{ ...delegation, v: 2 } as never])).name).toBe('DelegationMalformedError')
    expect(() => keystore.setChain(root.did, undefined)).not.toThrow()
  })

  it('refuses scrypt costs below 2^15', async () => {
    const err = await rejection(sealKeystore(createKeystore(), PASS, { scrypt: { N: 2 ** 14 } }))
    expect(err.name).toBe('RangeError')
  })

  it('never crashes on random bytes or mutated files: only typed keystore errors', async () => {
    const path = join(temp.dir, 'random.keystore')
    const names = new Set(['KeystoreCorruptError', 'KeystorePassphraseError', 'KeystoreVersionError'])
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')), fc.string().map((s) => Buffer.from(s))), async (bytes) => {
        await writeFile(path, bytes)
        const err = await rejection(loadKeystore(path, PASS))
        expect(names.has(err.name), err.name).toBe(true)
      }),
      { numRuns: 300 }
    )
    const sealed = Buffer.from(await sealKeystore(createKeystore([createIdentity()]), PASS))
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: sealed.length - 1 }), fc.integer({ min: 1, max: 255 }), async (position, xor) => {
        const mutated = Buffer.from(sealed)
        mutated[position] = (mutated[position] as number) ^ xor
        try {
          // A flip inside JSON whitespace can leave the file intact; then it must open correctly.
          expect((await openKeystore(mutated, PASS)).size).toBe(1)
        } catch (err) {
          expect(names.has((err as Error).name), (err as Error).name).toBe(true)
        }
      }),
      { numRuns: 40 }
    )
  })
})
