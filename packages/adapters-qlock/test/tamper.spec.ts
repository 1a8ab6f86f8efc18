import type { EncryptedEnvelope, EncryptionBinding, SealedEnvelope, SealedRecipient } from '@qflow/pipeline'
import { describe, expect, it } from 'vitest'
import { decodeEnvelope, encodeEnvelope } from '../src/envelope.js'
import { bytes, flipped, makeQlock, rejection, text } from './fixtures/qlock.js'

const where: EncryptionBinding = { subnet: 'dao-a', executionId: 'exec-1', stepId: 'transfer', purpose: 'payload' }
const TYPED = ['DecryptionError', 'EnvelopeFormatError', 'UnknownKeyError', 'NotARecipientError']

/** Every (byte, bit) pair of a field: each byte has each of its 8 bit positions flipped once. */
function* everyBit(length: number): Generator<[number, number]> {
  for (let i = 0; i < length; i++) for (let bit = 0; bit < 8; bit++) yield [i, bit]
}

describe('tampering', () => {
  it('every flipped bit of an encrypted envelope (nonce, ciphertext and tag) is refused with DecryptionError', async () => {
    const { lock } = makeQlock()
    const envelope = await lock.encrypt(bytes('balance: 1000; owner: alice'), where)
    let attempts = 0
    for (const field of ['nonce', 'ciphertext'] as const) {
      for (const [i, bit] of everyBit(envelope[field].length)) {
        const tampered: EncryptedEnvelope = { ...envelope, [field]: flipped(envelope[field], i, bit) }
        expect(await rejection(lock.decrypt(tampered, where))).toMatchObject({ name: 'DecryptionError', reason: 'authentication-failed' })
        attempts++
      }
    }
    expect(attempts).toBe((12 + 27 + 16) * 8)
    expect(text(await lock.decrypt(envelope, where))).toBe('balance: 1000; owner: alice')
  })

  it('every flipped bit of a sealed envelope (nonce, ciphertext, each recipient epk/nonce/wrappedKey) is refused for every recipient', async () => {
    const { lock, recipients } = makeQlock()
    const names = ['alice', 'bob', 'carol']
    const sealed = await lock.seal(bytes('the launch code is 0000'), names.map((n) => recipients[n]!.did), where)
    const openAll = async (envelope: SealedEnvelope) => {
      for (const name of names) {
        const err = await rejection(lock.open(envelope, recipients[name]!, where))
        expect(err.name).toBe('DecryptionError')
      }
    }
    let attempts = 0
    for (const field of ['nonce', 'ciphertext'] as const) {
      for (const [i, bit] of everyBit(sealed[field].length)) {
        await openAll({ ...sealed, [field]: flipped(sealed[field], i, bit) })
        attempts++
      }
    }
    for (let j = 0; j < sealed.recipients.length; j++) {
      for (const field of ['ephemeralPublicKey', 'nonce', 'wrappedKey'] as const) {
        const original = sealed.recipients[j]![field]
        for (const [i, bit] of everyBit(original.length)) {
          const entries: SealedRecipient[] = sealed.recipients.map((r, k) => (k === j ? { ...r, [field]: flipped(original, i, bit) } : r))
          // The whole table is authenticated, so a change to one entry fails for every recipient.
          await openAll({ ...sealed, recipients: entries })
          attempts++
        }
      }
    }
    expect(attempts).toBe((12 + 23 + 16 + 3 * (32 + 12 + 48)) * 8)
    for (const name of names) expect(text(await lock.open(sealed, recipients[name]!, where))).toBe('the launch code is 0000')
  })

  it('every flipped bit of a sealed recipient did makes that recipient unknown or the table fail', async () => {
    const { lock, recipients } = makeQlock()
    const sealed = await lock.seal(bytes('x'), [recipients.alice!.did, recipients.bob!.did], where)
    const did = Buffer.from(sealed.recipients[1]!.did)
    for (const [i, bit] of everyBit(did.length)) {
      const changed = flipped(did, i, bit).toString('latin1')
      const entries = [sealed.recipients[0]!, { ...sealed.recipients[1]!, did: changed }]
      expect(await rejection(lock.open({ ...sealed, recipients: entries }, recipients.bob!, where))).toMatchObject({ name: 'NotARecipientError' })
      expect(await rejection(lock.open({ ...sealed, recipients: entries }, recipients.alice!, where))).toMatchObject({ name: 'DecryptionError' })
    }
  })

  it('every flipped bit of an encoded encrypted envelope is refused with a typed error', async () => {
    const { lock } = makeQlock()
    const encoded = encodeEnvelope(await lock.encrypt(bytes('state entry'), where))
    for (const [i, bit] of everyBit(encoded.length)) {
      const err = await rejection((async () => lock.decrypt(decodeEnvelope(flipped(encoded, i, bit), 'encrypted'), where))())
      expect(TYPED).toContain(err.name)
    }
  })

  it('every flipped bit of an encoded sealed envelope is refused with a typed error', async () => {
    const { lock, recipients } = makeQlock()
    const encoded = encodeEnvelope(await lock.seal(bytes('sealed entry'), [recipients.alice!.did, recipients.bob!.did], where))
    for (const [i, bit] of everyBit(encoded.length)) {
      const err = await rejection((async () => lock.open(decodeEnvelope(flipped(encoded, i, bit), 'sealed'), recipients.bob!, where))())
      expect(TYPED).toContain(err.name)
    }
  })
})
