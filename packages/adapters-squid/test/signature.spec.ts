import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createIdentity, keyDirectory, signPayload, squidVerifier, verifyPayload } from '../src/index.js'
import { rejection, thrown } from './fixtures/index.js'

describe('signPayload / verifyPayload', () => {
  it('signs canonical bytes: key order does not matter, any change does', async () => {
    const alice = createIdentity()
    const signature = await signPayload(alice, { b: 2, a: [1, 'x'] })
    expect(signature.alg).toBe('EdDSA')
    expect(signature.signer).toBe(alice.did)
    expect(signature.value).toHaveLength(64)
    expect(await verifyPayload({ a: [1, 'x'], b: 2 }, signature)).toBe(true)
    expect(await verifyPayload({ a: [1, 'x'], b: 3 }, signature)).toBe(false)
    expect(await verifyPayload({ a: [1, 'x'], b: 2 }, { ...signature, signer: createIdentity().did })).toBe(false)
    const raw = new TextEncoder().encode('raw bytes')
    expect(await verifyPayload(raw, await signPayload(alice, raw))).toBe(true)
  })

  it('verifies through the verifier too, and rejects malformed signature objects as false', async () => {
    const alice = createIdentity()
    const verifier = squidVerifier()()
    const signature = await signPayload(alice, { n: 1 })
    expect(await verifier.verifyPayload({ n: 1 }, signature)).toBe(true)
    expect(await verifier.verifyPayload({ n: 1 }, { ...signature, value: signature.value.subarray(1) })).toBe(false)
    expect(await verifier.verifyPayload({ n: 1 }, { ...signature, alg: 'ES256' as 'EdDSA' })).toBe(false)
    expect(await verifier.verifyPayload({ n: 1 }, null as never)).toBe(false)
    expect((await rejection(verifier.verifyPayload({ n: 1 }, { ...signature, signer: 'did:key:zzz' }))).name).toBe('InvalidDidError')
  })

  it('verifies legacy squid: signers only through a registered key', async () => {
    const legacy = createIdentity()
    const signer = { did: 'squid:alice', sign: (data: Uint8Array) => legacy.sign(data) }
    const signature = await signPayload(signer, { hello: 'world' })
    expect((await rejection(verifyPayload({ hello: 'world' }, signature))).name).toBe('UnknownIdentityError')
    const directory = keyDirectory({ entries: [['squid:alice', legacy.publicKey]] })
    expect(await verifyPayload({ hello: 'world' }, signature, directory)).toBe(true)
    // Re-registering another key for the id makes old signatures fail.
    directory.register('squid:alice', createIdentity().publicKey)
    expect(await verifyPayload({ hello: 'world' }, signature, directory)).toBe(false)
    const verifier = squidVerifier()({ keys: { resolve: async (did) => (did === 'did:squid:bob' ? legacy.publicKey : undefined) } })
    expect(await verifier.verifySignature('did:squid:bob', new TextEncoder().encode('x'), await legacy.sign(new TextEncoder().encode('x')))).toBe(true)
    expect((await rejection(verifier.verifySignature('squid:carol', new Uint8Array(), new Uint8Array(64)))).name).toBe('UnknownIdentityError')
  })

  it('keeps directory entries honest', () => {
    const directory = keyDirectory()
    expect(thrown(() => directory.register(createIdentity().did, createIdentity().publicKey)).name).toBe('InvalidDidError')
    expect(thrown(() => directory.register('squid:x', new Uint8Array(32).fill(0xff))).name).toBe('InvalidKeyError')
    directory.register('squid:x', createIdentity().publicKey)
    expect([directory.has('squid:x'), directory.size, directory.unregister('squid:x'), directory.size]).toEqual([true, 1, true, 0])
  })

  it('never accepts a random signature, never crashes on one', async () => {
    const alice = createIdentity()
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), fc.jsonValue(), async (bytes, value) => {
        expect(await verifyPayload(value, { alg: 'EdDSA', signer: alice.did, value: bytes })).toBe(false)
      }),
      { numRuns: 200 }
    )
  })
})
