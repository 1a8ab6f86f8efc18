import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'
import { describe, expect, it } from 'vitest'
import {
  assertFlowSignature,
  DidKeyError,
  didKeyFromPublicKey,
  ed25519PrivateKeyFromSeed,
  ed25519Signer,
  ed25519Verifier,
  type Flow,
  flowCanonicalBytes,
  flowHash,
  FlowSignatureError,
  type FlowVerifier,
  loadFlow,
  publicKeyFromDidKey,
  SigningKeyError,
  signFlow,
  validateFlow,
  verifyFlow
} from '../src/index.js'
import { fixture } from './fixtures/flows.js'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

// RFC 8032 §7.1, TEST 1, 2 and 3
const RFC8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'
  }
]

describe('did:key', () => {
  it('round-trips ed25519 public keys through did:key z6Mk…', () => {
    for (const v of RFC8032) {
      const did = didKeyFromPublicKey(hex(v.public))
      expect(did).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
      const bytes = base58btc.decode(did.slice('did:key:'.length))
      expect(Array.from(bytes.slice(0, 2))).toEqual([0xed, 0x01])
      expect(Buffer.from(publicKeyFromDidKey(did)).toString('hex')).toBe(v.public)
    }
  })

  it('refuses what is not an ed25519 did:key', () => {
    for (const did of ['squid:alice', 'did:key:zXYZ0OIl', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2do', 'did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169']) {
      expect(() => publicKeyFromDidKey(did)).toThrow(DidKeyError)
    }
    expect(() => didKeyFromPublicKey(new Uint8Array(31))).toThrow(expect.objectContaining({ name: 'DidKeyError' }))
  })
})

describe('ed25519 signer and verifier', () => {
  it('signs the RFC 8032 test vectors exactly (TEST 1, 2, 3)', async () => {
    for (const v of RFC8032) {
      const signer = ed25519Signer(ed25519PrivateKeyFromSeed(hex(v.secret)))
      expect(signer.did).toBe(didKeyFromPublicKey(hex(v.public)))
      const signature = await signer.sign(hex(v.message))
      expect(Buffer.from(signature).toString('hex')).toBe(v.signature)
      expect(await ed25519Verifier().verify(signer.did, hex(v.message), hex(v.signature))).toBe(true)
      const flipped = hex(v.signature)
      flipped[0] = (flipped[0] as number) ^ 1
      expect(await ed25519Verifier().verify(signer.did, hex(v.message), flipped)).toBe(false)
    }
  })

  it('refuses keys that are not ed25519 private keys', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expect(() => ed25519Signer(privateKey)).toThrow(SigningKeyError)
    expect(() => ed25519Signer(generateKeyPairSync('ed25519').publicKey)).toThrow(expect.objectContaining({ name: 'SigningKeyError' }))
    expect(() => ed25519Signer(publicKey)).toThrow(SigningKeyError)
  })
})

describe('signFlow / verifyFlow', () => {
  const { privateKey } = generateKeyPairSync('ed25519')
  const signer = ed25519Signer(privateKey)
  const flow: Flow = { ...loadFlow(fixture('order-flow.yaml')), owner: signer.did }
  const verifier = ed25519Verifier()

  it('signs the canonical bytes and stores a verifiable signature block', async () => {
    const at = new Date('2026-01-02T03:04:05.000Z')
    const signed = await signFlow(flow, signer, { signedAt: at })
    expect(flow.signature).toBeUndefined()
    expect(signed.signature).toEqual({
      alg: 'EdDSA',
      signer: signer.did,
      value: expect.stringMatching(/^[A-Za-z0-9_-]{86}$/),
      hash: flowHash(flow),
      signedAt: '2026-01-02T03:04:05.000Z'
    })
    // a detached ed25519 signature over the canonical bytes of the unsigned flow
    const expected = cryptoSign(null, flowCanonicalBytes(flow), privateKey).toString('base64url')
    expect(signed.signature?.value).toBe(expected)
    expect(validateFlow(signed).valid).toBe(true)
    const result = await verifyFlow(signed, verifier)
    expect(result).toEqual({ valid: true, signer: signer.did, hash: flowHash(flow), signerIsOwner: true, signedAt: '2026-01-02T03:04:05.000Z' })
    expect(flowHash(signed)).toBe(flowHash(flow))
    // survives a round trip through YAML or JSON with other key orders
    expect((await verifyFlow(loadFlow(JSON.stringify(signed, null, 1)), verifier)).valid).toBe(true)
    const unsignedAt = await signFlow(flow, signer, { signedAt: false })
    expect(unsignedAt.signature?.signedAt).toBeUndefined()
  })

  it('reports why a signature does not hold', async () => {
    const signed = await signFlow(flow, signer)
    const reason = async (f: unknown, v: FlowVerifier = verifier) => {
      const r = await verifyFlow(f as Flow, v)
      expect(r.valid).toBe(false)
      if (r.valid) throw new Error('unreachable')
      expect(r.error.name).toBe('FlowSignatureError')
      expect(r.error.reason).toBe(r.reason)
      return r.reason
    }
    expect(await reason(flow)).toBe('missing')
    expect(await reason({ ...signed, name: 'Changed after signing' })).toBe('hash-mismatch')
    const sig = signed.signature as NonNullable<Flow['signature']>
    const changed = { ...signed, name: 'Changed', signature: { ...sig, hash: flowHash({ ...flow, name: 'Changed' }) } }
    expect(await reason(changed)).toBe('bad-signature')
    const other = ed25519Signer(generateKeyPairSync('ed25519').privateKey)
    expect(await reason({ ...signed, signature: { ...sig, signer: other.did } })).toBe('bad-signature')
    expect(await reason({ ...signed, signature: { ...sig, signer: 'squid:legacy-user' } })).toBe('unknown-signer')
    expect(await reason({ ...signed, signature: { ...sig, alg: 'RS256' } })).toBe('malformed')
    expect(await reason({ ...signed, signature: { ...sig, value: 'abc' } })).toBe('malformed')
    expect(await reason({ ...signed, signature: 'sig' })).toBe('malformed')
    // a verifier that knows nobody
    const nobody: FlowVerifier = {
      verify: async (did) => {
        throw new FlowSignatureError('unknown-signer', `no key for ${did}`)
      }
    }
    expect(await reason(signed, nobody)).toBe('unknown-signer')
    // a signer that is not the owner is reported
    const byOther = await signFlow(flow, other)
    const r = await verifyFlow(byOther, verifier)
    expect(r.valid && r.signerIsOwner).toBe(false)
    expect(r.valid).toBe(true)
  })

  it('assertFlowSignature throws FlowSignatureError with the reason', async () => {
    await expect(assertFlowSignature(flow, verifier)).rejects.toMatchObject({ name: 'FlowSignatureError', reason: 'missing' })
    expect(FlowSignatureError.name).toBe('FlowSignatureError')
    const ok = await assertFlowSignature(await signFlow(flow, signer), verifier)
    expect(ok.signer).toBe(signer.did)
  })

  it('propagates verifier failures that are not about the signer', async () => {
    const broken: FlowVerifier = {
      verify: async () => {
        throw new RangeError('resolver down')
      }
    }
    await expect(verifyFlow(await signFlow(flow, signer), broken)).rejects.toThrow('resolver down')
  })
})
