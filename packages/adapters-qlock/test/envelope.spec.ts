import type { EncryptionBinding } from '@qflow/pipeline'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeEnvelope, encodeEnvelope, envelopeFromJson, envelopeToJson, isSealedEnvelope } from '../src/envelope.js'
import { bytes, makeQlock, text } from './fixtures/qlock.js'

const where: EncryptionBinding = { subnet: 'dao-a', executionId: 'e', purpose: 'state' }

function formatError(fn: () => unknown): Record<string, unknown> {
  try {
    fn()
  } catch (err) {
    return { ...(err as object), name: (err as Error).name, message: (err as Error).message }
  }
  throw new Error('Expected EnvelopeFormatError, but nothing was thrown')
}

describe('binary envelopes', () => {
  it('round-trip both kinds, compactly, and still open', async () => {
    const { lock, recipients } = makeQlock()
    const encrypted = await lock.encrypt(bytes('x'.repeat(1024)), where)
    const encoded = encodeEnvelope(encrypted)
    expect(encoded.length).toBe(5 + encrypted.kid.length + 12 + 1024 + 16)
    const decoded = decodeEnvelope(encoded, 'encrypted')
    expect(decoded).toEqual({ v: 1, alg: 'A256GCM', kid: encrypted.kid, nonce: new Uint8Array(encrypted.nonce), ciphertext: new Uint8Array(encrypted.ciphertext) })
    expect(text(await lock.decrypt(decoded, where))).toBe('x'.repeat(1024))

    const sealed = await lock.seal(bytes('sealed'), [recipients.alice!.did, recipients.bob!.did], where)
    const back = decodeEnvelope(encodeEnvelope(sealed))
    expect(isSealedEnvelope(back)).toBe(true)
    expect(isSealedEnvelope(decoded)).toBe(false)
    expect(text(await lock.open(back as typeof sealed, recipients.bob!, where))).toBe('sealed')
  })

  it('copies out of the input, so reusing the input buffer does not change a decoded envelope', async () => {
    const { lock } = makeQlock()
    const encoded = encodeEnvelope(await lock.encrypt(bytes('copy'), where))
    const decoded = decodeEnvelope(encoded, 'encrypted')
    encoded.fill(0)
    expect(text(await lock.decrypt(decoded, where))).toBe('copy')
  })

  it('refuses truncation and header damage with the offending offset or field', async () => {
    const { lock, recipients } = makeQlock()
    const encoded = encodeEnvelope(await lock.encrypt(bytes('abc'), where))
    for (let n = 0; n < 5 + 16 + 12 + 16; n++) {
      expect(formatError(() => decodeEnvelope(encoded.subarray(0, n)))).toMatchObject({ name: 'EnvelopeFormatError' })
    }
    expect(formatError(() => decodeEnvelope(Uint8Array.of(0x52, ...encoded.subarray(1))))).toMatchObject({ offset: 0 })
    expect(formatError(() => decodeEnvelope(Uint8Array.of(0x51, 0x58, ...encoded.subarray(2))))).toMatchObject({ offset: 1 })
    expect(formatError(() => decodeEnvelope(encoded, 'sealed'))).toMatchObject({ name: 'EnvelopeFormatError', offset: 1 })
    expect(formatError(() => decodeEnvelope(Uint8Array.of(0x51, 0x45, 2, ...encoded.subarray(3))))).toMatchObject({ field: '/v' })
    expect(formatError(() => decodeEnvelope(Uint8Array.of(0x51, 0x45, 1, 9, ...encoded.subarray(4))))).toMatchObject({ field: '/alg' })
    expect(formatError(() => decodeEnvelope('QE' as never))).toMatchObject({ name: 'EnvelopeFormatError' })
    const sealed = encodeEnvelope(await lock.seal(bytes('abc'), [recipients.alice!.did], where))
    expect(formatError(() => decodeEnvelope(Uint8Array.of(...sealed.subarray(0, 4), 0, 0, ...sealed.subarray(6))))).toMatchObject({
      field: '/recipients'
    })
    for (let n = 0; n < sealed.length - 16; n++) {
      expect(formatError(() => decodeEnvelope(sealed.subarray(0, n), 'sealed'))).toMatchObject({ name: 'EnvelopeFormatError' })
    }
  })

  it('refuses to encode envelopes it could not decode again', () => {
    const good = { v: 1 as const, alg: 'A256GCM', kid: 'k', nonce: new Uint8Array(12), ciphertext: new Uint8Array(16) }
    expect(formatError(() => encodeEnvelope({ ...good, kid: 'k'.repeat(256) }))).toMatchObject({ field: '/kid' })
    expect(formatError(() => encodeEnvelope({ ...good, nonce: new Uint8Array(8) }))).toMatchObject({ field: '/nonce' })
    const recipient = { did: 'did:example:a', ephemeralPublicKey: new Uint8Array(32), nonce: new Uint8Array(12), wrappedKey: new Uint8Array(48) }
    const sealed = { v: 1 as const, alg: 'C20P', nonce: new Uint8Array(12), ciphertext: new Uint8Array(16), recipients: [recipient] }
    expect(decodeEnvelope(encodeEnvelope(sealed))).toEqual(sealed)
    expect(formatError(() => encodeEnvelope({ ...sealed, recipients: [recipient, recipient] }))).toMatchObject({ field: '/recipients/1/did' })
    expect(formatError(() => encodeEnvelope({ ...sealed, recipients: [{ ...recipient, wrappedKey: new Uint8Array(47) }] }))).toMatchObject({
      field: '/recipients/0/wrappedKey'
    })
    expect(formatError(() => encodeEnvelope({ ...sealed, recipients: [] }))).toMatchObject({ field: '/recipients' })
  })

  it('random bytes decode to an EnvelopeFormatError or to an envelope that re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((b) => Uint8Array.of(0x51, 0x45, 1, 1, ...b)),
          fc.uint8Array({ maxLength: 300 }).map((b) => Uint8Array.of(0x51, 0x53, 1, 2, 0, 1, ...b))
        ),
        (input) => {
          try {
            const envelope = decodeEnvelope(input)
            return Buffer.from(encodeEnvelope(envelope)).equals(input)
          } catch (err) {
            return (err as Error).name === 'EnvelopeFormatError'
          }
        }
      ),
      { numRuns: 5000 }
    )
  })

  it('random bytes given as envelopes to decrypt and open give typed errors, never plaintext', async () => {
    const { lock, recipients } = makeQlock()
    const real = await lock.encrypt(bytes('real'), where)
    const typed = ['EnvelopeFormatError', 'DecryptionError', 'UnknownKeyError', 'NotARecipientError']
    const exactly = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
    await fc.assert(
      fc.asyncProperty(
        fc.record({ nonce: exactly(12), ciphertext: fc.uint8Array({ minLength: 16, maxLength: 80 }), epk: exactly(32), wrapNonce: exactly(12), wrappedKey: exactly(48) }),
        async ({ nonce, ciphertext, epk, wrapNonce, wrappedKey }) => {
          const recipient = { did: recipients.alice!.did, ephemeralPublicKey: epk, nonce: wrapNonce, wrappedKey }
          for (const op of [
            () => lock.decrypt({ ...real, nonce, ciphertext }, where),
            () => lock.open({ v: 1, alg: 'A256GCM', nonce, ciphertext, recipients: [recipient] }, recipients.alice!, where)
          ]) {
            try {
              await op()
              return false
            } catch (err) {
              if (!typed.includes((err as Error).name)) return false
            }
          }
          return true
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe('JSON envelopes', () => {
  it('round-trip both kinds with unpadded base64url bytes', async () => {
    const { lock, recipients } = makeQlock()
    const encrypted = await lock.encrypt(bytes('json'), where)
    const json = envelopeToJson(encrypted)
    expect(Object.keys(JSON.parse(json))).toEqual(['v', 'alg', 'kid', 'nonce', 'ciphertext'])
    expect(json).not.toMatch(/[=+/]/)
    expect(text(await lock.decrypt(envelopeFromJson(json, 'encrypted'), where))).toBe('json')
    const sealed = await lock.seal(bytes('json sealed'), [recipients.carol!.did], where)
    const sealedJson = envelopeToJson(sealed)
    expect(JSON.parse(sealedJson).recipients[0].did).toBe(recipients.carol!.did)
    expect(text(await lock.open(envelopeFromJson(sealedJson, 'sealed'), recipients.carol!, where))).toBe('json sealed')
  })

  it('parses strictly: exact members, canonical base64url, right kind', async () => {
    const { lock } = makeQlock()
    const good = JSON.parse(envelopeToJson(await lock.encrypt(bytes('x'), where)))
    const cases: [string, Record<string, unknown>][] = [
      ['not json', {}],
      ['[]', {}],
      ['null', {}],
      [JSON.stringify({ ...good, extra: 1 }), { field: '/extra' }],
      [JSON.stringify({ ...good, nonce: undefined }), { field: '/nonce' }],
      [JSON.stringify({ ...good, nonce: `${good.nonce}=` }), { field: '/nonce' }],
      [JSON.stringify({ ...good, nonce: good.nonce.replace(/^./, '+') }), { field: '/nonce' }],
      [JSON.stringify({ ...good, nonce: 'AAAAAAAAAAAAAAA' }), { field: '/nonce' }],
      [JSON.stringify({ ...good, v: '1' }), { field: '/v' }],
      [JSON.stringify({ ...good, kid: 5 }), { field: '/kid' }],
      [JSON.stringify({ ...good, recipients: [] }), {}]
    ]
    for (const [input, fields] of cases) {
      expect(formatError(() => envelopeFromJson(input, 'encrypted'))).toMatchObject({ name: 'EnvelopeFormatError', ...fields })
    }
    expect(formatError(() => envelopeFromJson(undefined as never))).toMatchObject({ name: 'EnvelopeFormatError' })
  })

  it('rejects base64url whose last character carries stray bits', () => {
    // "AB" decodes to one byte 0x00 but the canonical text of that byte is "AA".
    const json = JSON.stringify({ v: 1, alg: 'A256GCM', kid: 'k', nonce: 'AAAAAAAAAAAAAAAA', ciphertext: `${'A'.repeat(21)}B` })
    expect(formatError(() => envelopeFromJson(json))).toMatchObject({ field: '/ciphertext' })
  })

  it('random text and random JSON values give EnvelopeFormatError or a well-formed envelope, never a crash', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ v: 1, alg: 'C20P', recipients: v }))), (input) => {
        try {
          const envelope = envelopeFromJson(input)
          return envelopeFromJson(envelopeToJson(envelope)) !== undefined
        } catch (err) {
          return (err as Error).name === 'EnvelopeFormatError'
        }
      }),
      { numRuns: 3000 }
    )
  })
})
