import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { x25519PrivateFromSeed } from '../src/curve25519.js'
import { createIdentity, importIdentity, squidVerifier, x25519PublicKeyFromDid } from '../src/index.js'
import { hex, rejection, thrown, toHex } from './fixtures/index.js'

/** RFC 8032 §7.1, TEST 1–3: secret key, public key, message, signature. */
const RFC8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'
  }
]

describe('RFC 8032 §7.1 known answers', () => {
  for (const [index, vector] of RFC8032.entries()) {
    it(`TEST ${index + 1}: derives the public key, signs to the exact signature, and it verifies`, async () => {
      const identity = importIdentity(hex(vector.secret))
      expect(toHex(identity.publicKey)).toBe(vector.public)
      const signature = await identity.sign(hex(vector.message))
      expect(toHex(signature)).toBe(vector.signature)
      const verifier = squidVerifier()()
      expect(await verifier.verifySignature(identity.did, hex(vector.message), signature)).toBe(true)
      const flipped = Uint8Array.from(signature)
      flipped[0] = (flipped[0] as number) ^ 1
      expect(await verifier.verifySignature(identity.did, hex(vector.message), flipped)).toBe(false)
      // libsodium's 64-byte secret key form (seed ‖ public) gives the same identity.
      expect(importIdentity(hex(vector.secret + vector.public)).did).toBe(identity.did)
    })
  }
})

describe('identities', () => {
  it('creates distinct identities, exports and imports them', async () => {
    const a = createIdentity()
    const b = createIdentity()
    expect(a.did).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    expect(a.did).not.toBe(b.did)
    const exported = a.export()
    expect(exported).toMatchObject({ v: 1, kty: 'ed25519', did: a.did })
    const again = importIdentity(exported)
    expect(again.did).toBe(a.did)
    const data = new TextEncoder().encode('hello')
    expect(toHex(await again.sign(data))).toBe(toHex(await a.sign(data)))
  })

  it('refuses bad imports with InvalidKeyError', () => {
    const a = createIdentity()
    const other = createIdentity().export()
    const cases: unknown[] = [
      new Uint8Array(31),
      new Uint8Array(65),
      Uint8Array.from([...new Uint8Array(32), ...createIdentity().publicKey]), // public half of another key
      { ...a.export(), did: other.did },
      { ...a.export(), seed: 'not base64url!' },
      { ...a.export(), seed: Buffer.alloc(31).toString('base64url') },
      { ...a.export(), v: 2 },
      { ...a.export(), kty: 'rsa' },
      null,
      'seed'
    ]
    for (const input of cases) expect(thrown(() => importIdentity(input as never)).name).toBe('InvalidKeyError')
  })

  it('does not leak its seed through JSON or inspection', () => {
    const a = createIdentity()
    const seed = a.export().seed
    expect(JSON.stringify(a)).toBe(JSON.stringify({ did: a.did }))
    expect(inspect(a)).toBe(`Identity(${a.did})`)
    expect(JSON.stringify(Object.entries(a))).not.toContain(seed)
  })
})

describe('X25519 key agreement', () => {
  it('converts the private key as libsodium crypto_sign_ed25519_sk_to_curve25519 does', () => {
    // libsodium test/default/ed25519_convert.exp: curve25519 sk for seed 421151a4….
    const seed = hex('421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee')
    expect(toHex(x25519PrivateFromSeed(seed))).toBe('8052030376d47112be7f73ed7a019293dd12ad910b654455798b4667d73de166')
  })

  it('the converted public key is the X25519 public key of the converted private key', () => {
    for (let i = 0; i < 20; i++) {
      const identity = createIdentity()
      const d = x25519PrivateFromSeed(Buffer.from(identity.export().seed, 'base64url'))
      const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), d])
      const derived = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' })
      expect(Buffer.from(derived.x as string, 'base64url').toString('hex')).toBe(toHex(identity.x25519PublicKey))
      expect(toHex(x25519PublicKeyFromDid(identity.did))).toBe(toHex(identity.x25519PublicKey))
    }
  })

  it('agrees the same secret from both sides, and with a plain X25519 peer', async () => {
    const alice = createIdentity()
    const bob = createIdentity()
    const ab = await alice.agree(x25519PublicKeyFromDid(bob.did))
    const ba = await bob.agree(x25519PublicKeyFromDid(alice.did))
    expect(ab).toHaveLength(32)
    expect(toHex(ab)).toBe(toHex(ba))
    expect(toHex(ab)).not.toBe(toHex(await alice.agree(x25519PublicKeyFromDid(createIdentity().did))))
    // An ephemeral node:crypto X25519 key pair (how a sealer wraps keys) agrees with the identity.
    const ephemeral = generateKeyPairSync('x25519')
    const ephemeralPublic = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x as string, 'base64url')
    const recipientView = await alice.agree(ephemeralPublic)
    const senderView = diffieHellman({
      privateKey: ephemeral.privateKey,
      publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(alice.x25519PublicKey).toString('base64url') }, format: 'jwk' })
    })
    expect(toHex(recipientView)).toBe(senderView.toString('hex'))
  })

  it('refuses low-order and malformed peer keys with InvalidKeyError', async () => {
    const alice = createIdentity()
    expect((await rejection(alice.agree(new Uint8Array(32)))).name).toBe('InvalidKeyError') // u = 0
    const one = new Uint8Array(32)
    one[0] = 1
    expect((await rejection(alice.agree(one))).name).toBe('InvalidKeyError') // u = 1
    expect((await rejection(alice.agree(new Uint8Array(31)))).name).toBe('InvalidKeyError')
  })
})
