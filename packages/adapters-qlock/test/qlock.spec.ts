import type { EncryptionBinding } from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import { memoryKeyring } from '../src/keyring/memory-keyring.js'
import { qlock } from '../src/qlock.js'
import { x25519Identity } from '../src/x25519.js'
import { didKeyVerifier, ed25519Signer, x25519Recipients } from './fixtures/identities.js'
import { bytes, makeQlock, rejection, text } from './fixtures/qlock.js'

const where: EncryptionBinding = { subnet: 'dao-a', executionId: 'exec-1', stepId: 'fetch', purpose: 'state' }

describe('qlock encrypt/decrypt', () => {
  it('round-trips under the subnet key, with a fresh nonce each time', async () => {
    const { lock, keyring } = makeQlock()
    const a = await lock.encrypt(bytes('{"n":1}'), where)
    const b = await lock.encrypt(bytes('{"n":1}'), where)
    expect(a).toMatchObject({ v: 1, alg: 'A256GCM', kid: (await keyring.activeKey('dao-a')).kid })
    expect(a.nonce).toHaveLength(12)
    expect(a.ciphertext).toHaveLength(7 + 16)
    expect(Buffer.from(a.nonce).equals(b.nonce)).toBe(false)
    expect(Buffer.from(a.ciphertext).equals(b.ciphertext)).toBe(false)
    expect(text(await lock.decrypt(a, where))).toBe('{"n":1}')
    expect(text(await lock.decrypt(b, { ...where }))).toBe('{"n":1}')
  })

  it('round-trips with ChaCha20-Poly1305, and a GCM Qlock opens it too', async () => {
    const keyring = memoryKeyring()
    const chacha = makeQlock({ alg: 'C20P', keyring }).lock
    const gcm = makeQlock({ keyring }).lock
    const envelope = await chacha.encrypt(bytes('chacha'), where)
    expect(envelope.alg).toBe('C20P')
    expect(text(await gcm.decrypt(envelope, where))).toBe('chacha')
  })

  it('round-trips empty and large plaintexts', async () => {
    const { lock } = makeQlock()
    expect(await lock.decrypt(await lock.encrypt(new Uint8Array(0), where), where)).toHaveLength(0)
    const big = new Uint8Array(1 << 20).map((_, i) => i % 251)
    expect(Buffer.from(await lock.decrypt(await lock.encrypt(big, where), where)).equals(big)).toBe(true)
  })

  it('a ciphertext moved to another subnet, execution, step or purpose fails to open', async () => {
    const { lock } = makeQlock()
    const envelope = await lock.encrypt(bytes('bound'), where)
    const elsewhere: EncryptionBinding[] = [
      { ...where, executionId: 'exec-2' },
      { ...where, stepId: 'other' },
      { ...where, purpose: 'payload' },
      { subnet: 'dao-a', executionId: 'exec-1', stepId: 'fetch' },
      { subnet: 'dao-a', executionId: 'exec-1', purpose: 'state' },
      { subnet: 'dao-a', stepId: 'fetch', purpose: 'state' },
      { ...where, executionId: '' },
      { ...where, executionId: 'exec-1f', stepId: 'etch' }
    ]
    for (const binding of elsewhere) {
      expect(await rejection(lock.decrypt(envelope, binding))).toMatchObject({ name: 'DecryptionError', reason: 'authentication-failed', kid: envelope.kid })
    }
    const err = await rejection(lock.decrypt(envelope, { ...where, subnet: 'dao-b' }))
    expect(err).toMatchObject({ name: 'DecryptionError', reason: 'key-subnet-mismatch' })
  })

  it('a binding that differs only in an absent versus empty field gives different associated data', async () => {
    const { lock } = makeQlock()
    const bare = await lock.encrypt(bytes('x'), { subnet: 's' })
    expect(await rejection(lock.decrypt(bare, { subnet: 's', purpose: '' }))).toMatchObject({ name: 'DecryptionError' })
    expect(text(await lock.decrypt(bare, { subnet: 's' }))).toBe('x')
  })

  it('rotation: new data uses the new key, old data still opens; retire and destroy behave', async () => {
    const { lock, keyring } = makeQlock()
    const old = await lock.encrypt(bytes('old'), where)
    const rotated = await keyring.rotate('dao-a')
    const fresh = await lock.encrypt(bytes('new'), where)
    expect(fresh.kid).toBe(rotated.kid)
    expect(fresh.kid).not.toBe(old.kid)
    expect(text(await lock.decrypt(old, where))).toBe('old')
    await keyring.retire(fresh.kid)
    const afterRetire = await lock.encrypt(bytes('newer'), where)
    expect([old.kid, fresh.kid]).not.toContain(afterRetire.kid)
    expect(text(await lock.decrypt(fresh, where))).toBe('new')
    await keyring.destroy(old.kid)
    expect(await rejection(lock.decrypt(old, where))).toMatchObject({ name: 'KeyDestroyedError', kid: old.kid })
    expect(text(await lock.decrypt(afterRetire, where))).toBe('newer')
  })

  it('an envelope under a key this keyring never held gives UnknownKeyError', async () => {
    const one = makeQlock().lock
    const other = makeQlock().lock
    const envelope = await one.encrypt(bytes('x'), where)
    expect(await rejection(other.decrypt(envelope, where))).toMatchObject({ name: 'UnknownKeyError', kid: envelope.kid })
    expect(await rejection(other.decrypt({ ...envelope, kid: 'forged-kid' }, where))).toMatchObject({ name: 'UnknownKeyError' })
  })

  it('changing the envelope header (alg, kid) fails authentication rather than decrypting differently', async () => {
    const { lock, keyring } = makeQlock()
    const envelope = await lock.encrypt(bytes('header'), where)
    expect(await rejection(lock.decrypt({ ...envelope, alg: 'C20P' }, where))).toMatchObject({ name: 'DecryptionError' })
    await keyring.rotate('dao-a')
    const second = await lock.encrypt(bytes('other'), where)
    expect(await rejection(lock.decrypt({ ...envelope, kid: second.kid }, where))).toMatchObject({ name: 'DecryptionError', reason: 'authentication-failed' })
  })

  it('bad bindings, plaintexts and envelopes get typed errors', async () => {
    const { lock } = makeQlock()
    const envelope = await lock.encrypt(bytes('x'), where)
    const cases: [Promise<unknown>, string, Record<string, unknown>?][] = [
      [lock.encrypt(bytes('x'), { subnet: '' }), 'InvalidBindingError', { field: 'subnet' }],
      [lock.encrypt(bytes('x'), {} as never), 'InvalidBindingError', { field: 'subnet' }],
      [lock.encrypt(bytes('x'), null as never), 'InvalidBindingError'],
      [lock.encrypt(bytes('x'), { subnet: 's', stepId: 3 } as never), 'InvalidBindingError', { field: 'stepId' }],
      [lock.encrypt(bytes('x'), { subnet: 's', purpose: 'a\udc00' }), 'InvalidBindingError', { field: 'purpose' }],
      [lock.encrypt('text' as never, where), 'InvalidArgumentError', { argument: 'plaintext' }],
      [lock.decrypt({ ...envelope, v: 2 } as never, where), 'EnvelopeFormatError', { field: '/v' }],
      [lock.decrypt({ ...envelope, alg: 'A128GCM' }, where), 'EnvelopeFormatError', { field: '/alg' }],
      [lock.decrypt({ ...envelope, nonce: envelope.nonce.subarray(1) }, where), 'EnvelopeFormatError', { field: '/nonce' }],
      [lock.decrypt({ ...envelope, ciphertext: envelope.ciphertext.subarray(0, 15) }, where), 'EnvelopeFormatError', { field: '/ciphertext' }],
      [lock.decrypt({ ...envelope, kid: '' }, where), 'EnvelopeFormatError', { field: '/kid' }],
      [lock.decrypt({ ...envelope, ciphertext: 'abc' } as never, where), 'EnvelopeFormatError', { field: '/ciphertext' }],
      [lock.decrypt(undefined as never, where), 'EnvelopeFormatError'],
      [lock.decrypt(envelope, { subnet: 7 } as never), 'InvalidBindingError']
    ]
    for (const [op, name, fields] of cases) expect(await rejection(op)).toMatchObject({ name, ...fields })
  })
})

describe('qlock seal/open', () => {
  it('encrypts once and wraps the data key for each recipient; each opens it', async () => {
    const { lock, recipients } = makeQlock()
    const dids = ['alice', 'bob', 'carol'].map((n) => recipients[n]!.did)
    const sealed = await lock.seal(bytes('for three'), dids, where)
    expect(sealed).toMatchObject({ v: 1, alg: 'A256GCM' })
    expect(sealed.recipients.map((r) => r.did)).toEqual(dids)
    for (const r of sealed.recipients) {
      expect(r.ephemeralPublicKey).toHaveLength(32)
      expect(r.nonce).toHaveLength(12)
      expect(r.wrappedKey).toHaveLength(48)
    }
    expect(new Set(sealed.recipients.map((r) => Buffer.from(r.wrappedKey).toString('hex'))).size).toBe(3)
    for (const name of ['alice', 'bob', 'carol']) expect(text(await lock.open(sealed, recipients[name]!, where))).toBe('for three')
  })

  it('someone not listed gets NotARecipientError; an identity with a listed did but another key cannot open', async () => {
    const { lock, recipients } = makeQlock()
    const sealed = await lock.seal(bytes('private'), [recipients.alice!.did], where)
    expect(await rejection(lock.open(sealed, recipients.mallory!, where))).toMatchObject({ name: 'NotARecipientError', did: 'did:example:mallory' })
    const impostor = x25519Identity(recipients.alice!.did)
    expect(await rejection(lock.open(sealed, impostor, where))).toMatchObject({ name: 'DecryptionError', reason: 'authentication-failed' })
  })

  it('a sealed envelope moved to another binding fails to open', async () => {
    const { lock, recipients } = makeQlock()
    const sealed = await lock.seal(bytes('bound'), [recipients.alice!.did, recipients.bob!.did], where)
    for (const binding of [{ ...where, subnet: 'dao-b' }, { ...where, stepId: 'x' }, { subnet: 'dao-a' }]) {
      expect(await rejection(lock.open(sealed, recipients.bob!, binding))).toMatchObject({ name: 'DecryptionError', reason: 'authentication-failed' })
    }
  })

  it('dropping, reordering or swapping recipient entries fails for the remaining recipients', async () => {
    const { lock, recipients } = makeQlock()
    const sealed = await lock.seal(bytes('table'), [recipients.alice!.did, recipients.bob!.did], where)
    const [a, b] = sealed.recipients
    for (const table of [[a!], [b!, a!]]) {
      expect(await rejection(lock.open({ ...sealed, recipients: table }, recipients.alice!, where))).toMatchObject({ name: 'DecryptionError' })
    }
  })

  it('seals to each recipient once, and resolves keys through the resolver', async () => {
    const { identities, resolver } = x25519Recipients('alice', 'bob')
    const lock = qlock()({ signer: ed25519Signer(), verifier: didKeyVerifier(), recipientKeys: resolver, keyring: memoryKeyring() })
    const alice = identities.alice!
    const sealed = await lock.seal(bytes('once'), [alice.did, alice.did, identities.bob!.did], where)
    expect(sealed.recipients.map((r) => r.did)).toEqual([alice.did, identities.bob!.did])
    expect(resolver.calls).toEqual([alice.did, identities.bob!.did])
  })

  it('gives typed errors for bad recipients, keys from the resolver and agreement failures', async () => {
    const { lock, recipients } = makeQlock()
    const cases: [Promise<unknown>, string, Record<string, unknown>?][] = [
      [lock.seal(bytes('x'), [], where), 'InvalidArgumentError', { argument: 'recipients' }],
      [lock.seal(bytes('x'), [''], where), 'InvalidArgumentError', { argument: 'recipients' }],
      [lock.seal(bytes('x'), 'did:example:alice' as never, where), 'InvalidArgumentError', { argument: 'recipients' }],
      [lock.seal(bytes('x'), ['did:example:nobody'], where), 'UnknownIdentityError'],
      [lock.seal(bytes('x'), [recipients.alice!.did], { subnet: '' }), 'InvalidBindingError']
    ]
    for (const [op, name, fields] of cases) expect(await rejection(op)).toMatchObject({ name, ...fields })

    const zeroKey = qlock()({
      signer: ed25519Signer(),
      verifier: didKeyVerifier(),
      recipientKeys: { x25519PublicKey: async () => new Uint8Array(32) },
      keyring: memoryKeyring()
    })
    expect(await rejection(zeroKey.seal(bytes('x'), ['did:example:zero'], where))).toMatchObject({ name: 'RecipientKeyError', did: 'did:example:zero' })
    const shortKey = qlock()({
      signer: ed25519Signer(),
      verifier: didKeyVerifier(),
      recipientKeys: { x25519PublicKey: async () => new Uint8Array(31) },
      keyring: memoryKeyring()
    })
    expect(await rejection(shortKey.seal(bytes('x'), ['did:example:short'], where))).toMatchObject({ name: 'RecipientKeyError' })

    const sealed = await lock.seal(bytes('x'), [recipients.alice!.did], where)
    const failing = { did: recipients.alice!.did, agree: async () => Promise.reject(new Error('key locked')) }
    const err = await rejection(lock.open(sealed, failing, where))
    expect(err).toMatchObject({ name: 'DecryptionError', reason: 'key-agreement-failed' })
    expect((err.cause as Error).message).toBe('key locked')
    const zeros = { did: recipients.alice!.did, agree: async () => new Uint8Array(32) }
    expect(await rejection(lock.open(sealed, zeros, where))).toMatchObject({ name: 'DecryptionError', reason: 'key-agreement-failed' })
    expect(await rejection(lock.open(sealed, {} as never, where))).toMatchObject({ name: 'InvalidArgumentError', argument: 'recipient' })
    const duplicate = { ...sealed, recipients: [sealed.recipients[0]!, sealed.recipients[0]!] }
    expect(await rejection(lock.open(duplicate, recipients.alice!, where))).toMatchObject({ name: 'EnvelopeFormatError', field: '/recipients/1/did' })
  })

  it('seals and opens with ChaCha20-Poly1305', async () => {
    const { lock, recipients } = makeQlock({ alg: 'C20P' })
    const sealed = await lock.seal(bytes('chacha'), [recipients.carol!.did], where)
    expect(sealed.alg).toBe('C20P')
    expect(text(await lock.open(sealed, recipients.carol!, where))).toBe('chacha')
  })
})

describe('qlock sign/verify', () => {
  it('signs with the injected signer and verifies through the injected verifier', async () => {
    const { lock, signer } = makeQlock()
    const data = bytes('operation bytes')
    const signature = await lock.sign(data)
    expect(signature.alg).toBe('EdDSA')
    expect(signature.signer).toBe(signer.did)
    expect(signature.value).toHaveLength(64)
    expect(await lock.verify(data, signature)).toBe(true)
    expect(await makeQlock().lock.verify(data, signature)).toBe(true)
    expect(await lock.verify(bytes('other bytes'), signature)).toBe(false)
    expect(await lock.verify(data, { ...signature, signer: ed25519Signer().did })).toBe(false)
    expect(await lock.verify(data, { ...signature, alg: 'ES256' as never })).toBe(false)
  })

  it('refuses malformed input with InvalidArgumentError', async () => {
    const { lock } = makeQlock()
    const signature = await lock.sign(bytes('x'))
    expect(await rejection(lock.sign('x' as never))).toMatchObject({ name: 'InvalidArgumentError', argument: 'data' })
    expect(await rejection(lock.verify(bytes('x'), { ...signature, value: 'sig' } as never))).toMatchObject({ name: 'InvalidArgumentError', argument: 'signature' })
    expect(await rejection(lock.verify(bytes('x'), null as never))).toMatchObject({ name: 'InvalidArgumentError' })
  })
})

describe('qlock construction', () => {
  it('fails at construction with MissingComponentError naming the missing part', () => {
    const full = { signer: ed25519Signer(), verifier: didKeyVerifier(), recipientKeys: x25519Recipients().resolver, keyring: memoryKeyring() }
    for (const missing of ['signer', 'verifier', 'recipientKeys', 'keyring'] as const) {
      const { [missing]: _, ...rest } = full
      expect(() => qlock()(rest as never)).toThrow(expect.objectContaining({ name: 'MissingComponentError', component: missing }))
    }
    expect(() => qlock()({ ...full, signer: { did: '', sign: full.signer.sign } })).toThrow(expect.objectContaining({ component: 'signer' }))
    expect(() => qlock({ alg: 'DES' as never })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', argument: 'alg' }))
  })
})
