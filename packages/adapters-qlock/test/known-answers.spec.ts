import { describe, expect, it } from 'vitest'
import { aeadDecrypt, aeadEncrypt } from '../src/aead.js'
import { InvalidArgumentError } from '../src/errors.js'
import { hkdfSha256 } from '../src/kdf.js'
import { x25519Agree, x25519Identity } from '../src/x25519.js'
import { didKeyVerifier, ed25519Signer } from './fixtures/identities.js'
import { flipped } from './fixtures/qlock.js'

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex')

describe('AES-256-GCM (McGrew & Viega, GCM spec Test Case 16: 256-bit key, 60-byte plaintext, 20-byte AAD)', () => {
  const key = hex('feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308')
  const iv = hex('cafebabefacedbaddecaf888')
  const plaintext = hex(`d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
    1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39`)
  const aad = hex('feedfacedeadbeeffeedfacedeadbeef abaddad2')
  const ciphertext = hex(`522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
    8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662`)
  const tag = hex('76fc6ece0f4e1768cddf8853bb2d551b')

  it('encrypts to the published ciphertext and tag', () => {
    expect(aeadEncrypt('A256GCM', key, iv, plaintext, aad).toString('hex')).toBe(Buffer.concat([ciphertext, tag]).toString('hex'))
  })

  it('decrypts the published ciphertext, and refuses it with another AAD or a flipped tag bit', () => {
    expect(aeadDecrypt('A256GCM', key, iv, Buffer.concat([ciphertext, tag]), aad)?.toString('hex')).toBe(plaintext.toString('hex'))
    expect(aeadDecrypt('A256GCM', key, iv, Buffer.concat([ciphertext, tag]), aad.subarray(1))).toBeUndefined()
    const sealed = Buffer.concat([ciphertext, tag])
    expect(aeadDecrypt('A256GCM', key, iv, flipped(sealed, sealed.length - 1, 0), aad)).toBeUndefined()
  })
})

describe('ChaCha20-Poly1305 (RFC 8439 §2.8.2)', () => {
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f')
  const nonce = hex('070000004041424344454647')
  const aad = hex('50515253c0c1c2c3c4c5c6c7')
  const plaintext = Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    'utf8'
  )
  const ciphertext = hex(`d31a8d34648e60db7b86afbc53ef7ec2 a4aded51296e08fea9e2b5a736ee62d6
    3dbea45e8ca9671282fafb69da92728b 1a71de0a9e060b2905d6a5b67ecd3b36
    92ddbd7f2d778b8c9803aee328091b58 fab324e4fad675945585808b4831d7bc
    3ff4def08e4b7a9de576d26586cec64b 6116`)
  const tag = hex('1ae10b594f09e26a7e902ecbd0600691')

  it('encrypts to the published ciphertext and tag', () => {
    expect(aeadEncrypt('C20P', key, nonce, plaintext, aad).toString('hex')).toBe(Buffer.concat([ciphertext, tag]).toString('hex'))
  })

  it('decrypts the published ciphertext, and refuses a flipped ciphertext bit', () => {
    expect(aeadDecrypt('C20P', key, nonce, Buffer.concat([ciphertext, tag]), aad)?.toString('utf8')).toBe(plaintext.toString('utf8'))
    expect(aeadDecrypt('C20P', key, nonce, flipped(Buffer.concat([ciphertext, tag]), 0, 7), aad)).toBeUndefined()
  })
})

describe('X25519 (RFC 7748 §6.1)', () => {
  const alicePrivate = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
  const alicePublic = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'
  const bobPrivate = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')
  const bobPublic = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'

  it('derives the published public keys from the private keys', () => {
    expect(Buffer.from(x25519Identity('did:example:alice', alicePrivate).publicKey).toString('hex')).toBe(alicePublic)
    expect(Buffer.from(x25519Identity('did:example:bob', bobPrivate).publicKey).toString('hex')).toBe(bobPublic)
  })

  it('agrees on the published shared secret from both sides', async () => {
    const alice = x25519Identity('did:example:alice', alicePrivate)
    const bob = x25519Identity('did:example:bob', bobPrivate)
    expect(Buffer.from(await alice.agree(hex(bobPublic))).toString('hex')).toBe(shared)
    expect(Buffer.from(await bob.agree(hex(alicePublic))).toString('hex')).toBe(shared)
  })

  it('refuses low-order points (all-zero secret) and wrong key lengths with a typed error', async () => {
    const alice = x25519Identity('did:example:alice', alicePrivate)
    // The point 0 and the point 1 have small order: X25519 with them is all zeros.
    for (const point of [Buffer.alloc(32), Buffer.concat([Buffer.of(1), Buffer.alloc(31)])]) {
      await expect(alice.agree(point)).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'peerPublicKey' })
    }
    await expect(alice.agree(hex(bobPublic).subarray(1))).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(() => x25519Identity('did:example:x', Buffer.alloc(31))).toThrow(InvalidArgumentError)
    expect(() => x25519Identity('', alicePrivate)).toThrow(InvalidArgumentError)
    expect(() => x25519Agree(undefined as never, hex(bobPublic).subarray(2))).toThrow(InvalidArgumentError)
  })
})

describe('HKDF-SHA-256 (RFC 5869 A.1, test case 1)', () => {
  it('derives the published OKM', () => {
    const okm = hkdfSha256(Buffer.alloc(22, 0x0b), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42)
    expect(okm.toString('hex')).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865')
  })
})

describe('Ed25519 (RFC 8032 §7.1, TEST 1) through the test signer and did:key verifier', () => {
  const secret = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
  const publicKey = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
  const signature = `e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b`

  it('derives the published public key and signs the empty message to the published signature', async () => {
    const signer = ed25519Signer(secret)
    expect(Buffer.from(signer.publicKey).toString('hex')).toBe(publicKey)
    expect(signer.did.startsWith('did:key:z6Mk')).toBe(true)
    expect(Buffer.from(await signer.sign(new Uint8Array(0))).toString('hex')).toBe(signature)
  })

  it('verifies the published signature by did:key and refuses a flipped bit', async () => {
    const signer = ed25519Signer(secret)
    const verifier = didKeyVerifier()
    expect(await verifier.verifySignature(signer.did, new Uint8Array(0), hex(signature))).toBe(true)
    expect(await verifier.verifySignature(signer.did, new Uint8Array(0), flipped(hex(signature), 10, 2))).toBe(false)
  })
})
