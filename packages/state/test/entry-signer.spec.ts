import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { EntrySigner } from '../src/entry-signer.js'
import { batchSignedMessage, LOG_BATCH_SIGNATURE_CONTEXT, leafHash, MAX_SIGNATURE_BATCH, merkleTree, rootFromProof } from '../src/index.js'

const sha = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

// RFC 9162 §2.1.1 and §2.1.3.1, written straight from their recursive definitions.
function largestPowerOfTwoBelow(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 1) return sha(new Uint8Array([0]), d[0] as Uint8Array)
  const k = largestPowerOfTwoBelow(d.length)
  return sha(new Uint8Array([1]), mth(d.slice(0, k)), mth(d.slice(k)))
}
function path(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length === 1) return []
  const k = largestPowerOfTwoBelow(d.length)
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))]
}
const concat = (hashes: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(hashes))
const entries = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`{"seq":${i}}`))

describe('Merkle batch signatures', () => {
  it('builds the RFC 9162 tree hash and inclusion proofs for every size and index', () => {
    for (let n = 1; n <= 70; n++) {
      const d = entries(n)
      const { root, proofs } = merkleTree(d.map(leafHash))
      expect(Buffer.from(root).toString('hex')).toBe(Buffer.from(mth(d)).toString('hex'))
      for (let m = 0; m < n; m++) {
        const proof = concat(proofs[m] as Uint8Array[])
        expect(Buffer.from(proof).toString('hex')).toBe(Buffer.from(concat(path(m, d))).toString('hex'))
        expect(Buffer.from(rootFromProof(leafHash(d[m] as Uint8Array), m, n, proof) as Uint8Array).toString('hex')).toBe(Buffer.from(root).toString('hex'))
      }
    }
  })

  it('leads a proof nowhere for another leaf, index or size, or a cut or padded path', () => {
    const d = entries(13)
    const { root, proofs } = merkleTree(d.map(leafHash))
    const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'))
    const good = hex(root)
    const proof = concat(proofs[5] as Uint8Array[])
    const leaf = leafHash(d[5] as Uint8Array)
    expect(hex(rootFromProof(leaf, 5, 13, proof))).toBe(good)
    expect(hex(rootFromProof(leafHash(d[6] as Uint8Array), 5, 13, proof))).not.toBe(good)
    expect(hex(rootFromProof(leaf, 4, 13, proof))).not.toBe(good)
    expect(hex(rootFromProof(leaf, 5, 7, proof))).not.toBe(good)
    expect(rootFromProof(leaf, 5, 13, proof.subarray(0, proof.length - 32))).toBeUndefined()
    expect(rootFromProof(leaf, 5, 13, concat([proof, new Uint8Array(32)]))).toBeUndefined()
    expect(rootFromProof(leaf, 5, 13, proof.subarray(1))).toBeUndefined()
    expect(rootFromProof(leaf, 13, 13, proof)).toBeUndefined()
    expect(rootFromProof(leaf, -1, 13, proof)).toBeUndefined()
    const flipped = new Uint8Array(proof)
    flipped[40] = (flipped[40] as number) ^ 1
    expect(hex(rootFromProof(leaf, 5, 13, flipped))).not.toBe(good)
  })

  it('signs a context string and the root, so the key signs nothing else by it', () => {
    const root = new Uint8Array(32).fill(7)
    const message = batchSignedMessage(root)
    expect(new TextDecoder().decode(message.subarray(0, message.length - 32))).toBe(LOG_BATCH_SIGNATURE_CONTEXT)
    expect(message.subarray(message.length - 32)).toEqual(root)
  })

  it('batches what is asked in one turn, cuts batches at the maximum and fails a batch when the signer does', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const roots: Uint8Array[] = []
    const signer = new EntrySigner({
      async sign(data) {
        roots.push(data)
        return new Uint8Array(sign(null, data, privateKey))
      }
    })
    const d = entries(MAX_SIGNATURE_BATCH + 3)
    const signed = await Promise.all(d.map((bytes) => signer.sign(bytes)))
    expect(roots.length).toBe(2)
    expect(signed.map((s) => s.size)).toEqual([...Array(MAX_SIGNATURE_BATCH).fill(MAX_SIGNATURE_BATCH), 3, 3, 3])
    for (const [i, s] of signed.entries()) {
      const root = rootFromProof(leafHash(d[i] as Uint8Array), s.index, s.size, s.path) as Uint8Array
      expect(verify(null, batchSignedMessage(root), publicKey, s.value)).toBe(true)
    }
    const failing = new EntrySigner({
      sign: async () => {
        throw Object.assign(new Error('key locked'), { name: 'KeyLockedError' })
      }
    })
    await expect(Promise.all([failing.sign(d[0] as Uint8Array), failing.sign(d[1] as Uint8Array)])).rejects.toMatchObject({ name: 'KeyLockedError' })
  })
})
