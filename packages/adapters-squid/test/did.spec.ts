import fc from 'fast-check'
import { base58btc } from 'multiformats/bases/base58'
import { describe, expect, it } from 'vitest'
import { edwardsToMontgomery, isEd25519Point } from '../src/curve25519.js'
import { didFromPublicKey, importIdentity, isDidKey, isLegacyId, publicKeyFromDid, x25519PublicKeyFromDid } from '../src/index.js'
import { hex, thrown, toHex } from './fixtures/index.js'

// RFC 8032 §7.1 test 1 public key, and the did:key of the all-zero seed's key (the did:key spec's example).
const RFC8032_TEST1_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
const ZERO_SEED_PUBLIC = '3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29'

describe('did:key', () => {
  it('names an ed25519 key as did:key:z6Mk… (known answers) and back', () => {
    expect(didFromPublicKey(hex(ZERO_SEED_PUBLIC))).toBe('did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp')
    const did = didFromPublicKey(hex(RFC8032_TEST1_PUBLIC))
    expect(did).toBe('did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw')
    expect(toHex(publicKeyFromDid(did))).toBe(RFC8032_TEST1_PUBLIC)
    // The multicodec prefix is the ed25519-pub varint 0xed 0x01.
    expect(toHex(base58btc.decode(did.slice('did:key:'.length)).subarray(0, 2))).toBe('ed01')
  })

  it('hands out copies: mutating a returned key changes nothing', () => {
    const did = didFromPublicKey(hex(RFC8032_TEST1_PUBLIC))
    const key = publicKeyFromDid(did)
    key.fill(0)
    expect(toHex(publicKeyFromDid(did))).toBe(RFC8032_TEST1_PUBLIC)
  })

  it('refuses malformed identifiers with InvalidDidError', () => {
    const valid = didFromPublicKey(hex(RFC8032_TEST1_PUBLIC))
    const x25519Codec = `did:key:${base58btc.encode(Uint8Array.from([0xec, 0x01, ...hex(RFC8032_TEST1_PUBLIC)]))}`
    const short = `did:key:${base58btc.encode(Uint8Array.from([0xed, 0x01, 1, 2, 3]))}`
    const cases: unknown[] = [
      '',
      'did:key:',
      'did:key:z',
      `${valid}x`,
      valid.replace('z6Mk', 'Z6Mk'),
      valid.replace('did:key:z', 'did:key:f'),
      `${valid}#key-1`,
      x25519Codec,
      short,
      'did:web:example.com',
      'squid:alice',
      42,
      null
    ]
    for (const input of cases) {
      const err = thrown(() => publicKeyFromDid(input as string))
      expect(err.name, String(input)).toBe('InvalidDidError')
    }
  })

  it('refuses a did:key whose 32 bytes are not a curve point', () => {
    // y = 2 is not the y coordinate of any ed25519 point.
    const bytes = new Uint8Array(32)
    bytes[0] = 2
    expect(isEd25519Point(bytes)).toBe(false)
    const did = `did:key:${base58btc.encode(Uint8Array.from([0xed, 0x01, ...bytes]))}`
    expect(thrown(() => publicKeyFromDid(did)).name).toBe('InvalidDidError')
    expect(thrown(() => didFromPublicKey(bytes)).name).toBe('InvalidKeyError')
    expect(thrown(() => didFromPublicKey(new Uint8Array(31))).name).toBe('InvalidKeyError')
  })

  it('tells did:key from legacy ids', () => {
    expect(isDidKey('did:key:z6Mk')).toBe(true)
    expect(isLegacyId('squid:alice')).toBe(true)
    expect(isLegacyId('did:squid:0x12ab')).toBe(true)
    expect(isLegacyId('squid:')).toBe(false)
    expect(isLegacyId('squid:a b')).toBe(false)
    expect(isLegacyId(`squid:${'a'.repeat(300)}`)).toBe(false)
  })

  it('never crashes on random strings: a key or InvalidDidError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `did:key:z${s}`), fc.uint8Array({ maxLength: 40 }).map((b) => `did:key:${base58btc.encode(b)}`)), (input) => {
        try {
          const key = publicKeyFromDid(input)
          expect(didFromPublicKey(key)).toBe(input)
        } catch (err) {
          expect((err as Error).name).toBe('InvalidDidError')
        }
      }),
      { numRuns: 500 }
    )
  })
})

describe('ed25519 → X25519 public key', () => {
  it('matches libsodium crypto_sign_ed25519_pk_to_curve25519 (libsodium test/default/ed25519_convert)', () => {
    // Seed 421151a4… gives this ed25519 key; libsodium's expected curve25519 pk is f1814f0e….
    const seed = hex('421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee')
    const did = didFromPublicKey(importIdentity(seed).publicKey)
    expect(toHex(x25519PublicKeyFromDid(did))).toBe('f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50')
  })

  it('refuses keys with no Montgomery form', () => {
    const identity = new Uint8Array(32)
    identity[0] = 1 // y = 1: the neutral point, 1 − y has no inverse
    expect(edwardsToMontgomery(identity)).toBeUndefined()
    expect(edwardsToMontgomery(new Uint8Array(31))).toBeUndefined()
    expect(edwardsToMontgomery(new Uint8Array(32).fill(0xff))).toBeUndefined() // y ≥ p
  })
})
