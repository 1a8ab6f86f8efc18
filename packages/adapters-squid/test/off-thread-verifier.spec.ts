import { afterEach, describe, expect, it } from 'vitest'
import { createIdentity, issueToken, type OffThreadSignatureCheck, offThreadSignatureCheck, squidVerifier } from '../src/index.js'
import { PublicKeys } from '../src/keys.js'

let check: OffThreadSignatureCheck | undefined
afterEach(async () => {
  await check?.close()
  check = undefined
})

const keys = new PublicKeys(undefined)

/** Waits (without asserting any timing) until the check's worker takes work. */
async function untilReady(c: OffThreadSignatureCheck): Promise<void> {
  while (!c.ready) await new Promise((resolve) => setTimeout(resolve, 5))
}

describe('offThreadSignatureCheck', () => {
  it('accepts exactly the valid signatures, across identities and batches', async () => {
    check = offThreadSignatureCheck({ maxBatch: 5 })
    await untilReady(check)
    const alice = createIdentity()
    const bob = createIdentity()
    const cases = Array.from({ length: 40 }, (_, i) => {
      const signer = i % 2 === 0 ? alice : bob
      const data = new TextEncoder().encode(`message ${i} ${'y'.repeat(i * 7)}`)
      const signature = signer.signSync(data)
      // every third case is checked against the other identity, every fifth with a flipped bit
      const claimed = i % 3 === 0 ? (signer === alice ? bob : alice) : signer
      const sent = i % 5 === 0 ? Uint8Array.from(signature, (b, j) => (j === 10 ? b ^ 1 : b)) : signature
      return { key: keys.verifying(claimed.did), data, signature: sent, valid: i % 3 !== 0 && i % 5 !== 0 }
    })
    const results = await Promise.all(cases.map((c) => (check as OffThreadSignatureCheck).verify(c.key as never, c.data, c.signature)))
    expect(results).toEqual(cases.map((c) => c.valid))
  })

  it('checks on the calling thread until the worker is up, with the same answers', async () => {
    check = offThreadSignatureCheck()
    expect(check.ready).toBe(false)
    const identity = createIdentity()
    const data = new TextEncoder().encode('early')
    const key = keys.verifying(identity.did) as never
    expect(await check.verify(key, data, identity.signSync(data))).toBe(true)
    expect(await check.verify(key, data, createIdentity().signSync(data))).toBe(false)
    await untilReady(check)
    expect(await check.verify(key, data, identity.signSync(data))).toBe(true)
    expect(await check.verify(key, data, createIdentity().signSync(data))).toBe(false)
  })

  it('answers false for a malformed signature without asking the worker', async () => {
    check = offThreadSignatureCheck()
    const key = keys.verifying(createIdentity().did) as never
    expect(await check.verify(key, new Uint8Array([1]), new Uint8Array(63))).toBe(false)
  })

  it('checks a slice of a larger buffer over the slice only', async () => {
    check = offThreadSignatureCheck()
    const identity = createIdentity()
    const pool = Buffer.from('prefix-the signed part-suffix')
    const data = pool.subarray(7, 22)
    expect(await check.verify(keys.verifying(identity.did) as never, data, identity.signSync(Buffer.from('the signed part')))).toBe(true)
  })

  it('backs squidVerifier: real tokens verify, forged ones fail with TokenSignatureError', async () => {
    check = offThreadSignatureCheck()
    const verifier = squidVerifier({ audience: 'qflow' })({ signatures: check })
    const alice = createIdentity()
    const token = await issueToken(alice, { audience: 'qflow' })
    expect((await verifier.verifyToken(token)).subject).toBe(alice.did)
    const [header, claims, signature] = (await issueToken(alice, { audience: 'qflow' })).split('.') as [string, string, string]
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(claims, 'base64url').toString()), aud: 'qflow', sub: alice.did, jti: 'other' })).toString('base64url')}.${signature}`
    await expect(verifier.verifyToken(forged)).rejects.toMatchObject({ name: 'TokenSignatureError' })
    const data = new TextEncoder().encode('payload')
    expect(await verifier.verifySignature(alice.did, data, alice.signSync(data))).toBe(true)
    expect(await verifier.verifySignature(createIdentity().did, data, alice.signSync(data))).toBe(false)
  })

  it('rejects pending and later checks once closed', async () => {
    check = offThreadSignatureCheck()
    await untilReady(check)
    const identity = createIdentity()
    const data = new Uint8Array([1, 2, 3])
    const pending = check.verify(keys.verifying(identity.did) as never, data, identity.signSync(data)).catch((err: Error) => err.name)
    await check.close()
    expect(await pending).toBe('SignatureCheckClosedError')
    await expect(check.verify(keys.verifying(identity.did) as never, data, identity.signSync(data))).rejects.toMatchObject({ name: 'SignatureCheckClosedError' })
  })
})
