import { afterEach, describe, expect, it } from 'vitest'
import { createIdentity, type OffThreadSigner, offThreadSigner } from '../src/index.js'

let signer: OffThreadSigner | undefined
afterEach(async () => {
  await signer?.close()
  signer = undefined
})

describe('offThreadSigner', () => {
  it('gives exactly the identity’s signatures, for many calls at once', async () => {
    const identity = createIdentity()
    signer = offThreadSigner(identity, { maxBatch: 7 })
    expect(signer.did).toBe(identity.did)
    const messages = Array.from({ length: 50 }, (_, i) => new TextEncoder().encode(`message ${i} ${'x'.repeat(i * 13)}`))
    const signatures = await Promise.all(messages.map((m) => (signer as OffThreadSigner).sign(m)))
    expect(signatures.map((s) => Buffer.from(s).toString('hex'))).toEqual(messages.map((m) => Buffer.from(identity.signSync(m)).toString('hex')))
    expect(signatures.every((s) => s instanceof Uint8Array && s.length === 64)).toBe(true)
  })

  it('rejects pending and later calls once closed', async () => {
    signer = offThreadSigner(createIdentity())
    const pending = signer.sign(new Uint8Array([1, 2, 3])).catch((err: Error) => err.name)
    await signer.close()
    expect(await pending).toBe('SignerClosedError')
    await expect(signer.sign(new Uint8Array([4]))).rejects.toMatchObject({ name: 'SignerClosedError' })
  })
})
