import { createCipheriv, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { decodeEnvelope, encodeEnvelope, memoryKeyring, qlock, x25519Identity } from '@qflow/adapters-qlock'
import { type Measurement, measure } from './harness.js'

/**
 * Qlock on node:crypto: encrypt + sign of a 1 KiB state entry (target ≤ 50 µs median), decrypt,
 * seal to three recipients and open, and the primitives they stand on for comparison.
 */
export default async function bench(): Promise<Measurement[]> {
  // A node identity whose KeyObjects are made once, as a real signer caches them.
  const ed = generateKeyPairSync('ed25519')
  const signer = { did: 'did:key:z6MkBenchNode', sign: async (data: Uint8Array) => sign(null, data, ed.privateKey) }
  const verifier = { verifySignature: async (_did: string, data: Uint8Array, sig: Uint8Array) => verify(null, data, ed.publicKey, sig) }
  const people = ['alice', 'bob', 'carol'].map((name) => x25519Identity(`did:example:${name}`))
  const keys = new Map(people.map((p) => [p.did, p.publicKey]))
  const recipientKeys = {
    x25519PublicKey: async (did: string) => {
      const key = keys.get(did)
      if (key === undefined) throw new Error(`unknown ${did}`)
      return key
    }
  }
  const lock = qlock()({ signer, verifier, recipientKeys, keyring: memoryKeyring() })
  const chacha = qlock({ alg: 'C20P' })({ signer, verifier, recipientKeys, keyring: memoryKeyring() })
  const entry = randomBytes(1024)
  const binding = { subnet: 'dao-bench', executionId: 'exec-0001', stepId: 'step-07', purpose: 'state' }
  const dids = people.map((p) => p.did)

  const encryptSign = await measure(
    'encrypt + sign a 1 KiB state entry (A256GCM, ed25519)',
    async () => {
      const envelope = await lock.encrypt(entry, binding)
      return lock.sign(encodeEnvelope(envelope))
    },
    { iterations: 5_000, warmup: 500 }
  )
  encryptSign.extra = { targetMedianUs: 50, pass: encryptSign.medianUs <= 50 ? 'yes' : 'NO' }

  const encryptOnly = await measure('encrypt a 1 KiB state entry (A256GCM)', () => lock.encrypt(entry, binding), { iterations: 10_000, warmup: 1_000 })
  const encryptChacha = await measure('encrypt a 1 KiB state entry (C20P)', () => chacha.encrypt(entry, binding), { iterations: 10_000, warmup: 1_000 })
  const signOnly = await measure('sign 1 KiB + envelope header (ed25519 via the signer)', () => lock.sign(encodeEnvelope({ v: 1, alg: 'A256GCM', kid: 'k', nonce: entry.subarray(0, 12), ciphertext: entry })), {
    iterations: 5_000,
    warmup: 500
  })

  const envelope = await lock.encrypt(entry, binding)
  const decrypt = await measure('decrypt a 1 KiB state entry (A256GCM)', () => lock.decrypt(envelope, binding), { iterations: 10_000, warmup: 1_000 })
  const encoded = encodeEnvelope(envelope)
  const decodeDecrypt = await measure('decode + decrypt a 1 KiB state entry', () => lock.decrypt(decodeEnvelope(encoded, 'encrypted'), binding), {
    iterations: 10_000,
    warmup: 1_000
  })
  const signature = await lock.sign(encoded)
  const verifyDecrypt = await measure('verify + decrypt a 1 KiB state entry', async () => {
    if (!(await lock.verify(encoded, signature))) throw new Error('bad signature')
    return lock.decrypt(envelope, binding)
  }, { iterations: 3_000, warmup: 300 })

  const seal = await measure('seal 1 KiB to 3 recipients', () => lock.seal(entry, dids, binding), { iterations: 2_000, warmup: 200 })
  const sealed = await lock.seal(entry, dids, binding)
  const open = await measure('open a 1 KiB sealed envelope (one recipient)', () => lock.open(sealed, people[1]!, binding), { iterations: 3_000, warmup: 300 })
  const sealOpen = await measure(
    'seal 1 KiB to 3 recipients and open it',
    async () => lock.open(await lock.seal(entry, dids, binding), people[2]!, binding),
    { iterations: 2_000, warmup: 200 }
  )
  sealOpen.extra = { sealedBytes: encodeEnvelope(sealed).length }

  // Baselines: the bare node:crypto calls underneath, to read Qlock's own overhead off.
  const rawSign = await measure('baseline: node:crypto ed25519 sign of 1 KiB', () => sign(null, entry, ed.privateKey), { iterations: 5_000, warmup: 500 })
  const gcmKey = randomBytes(32)
  const rawGcm = await measure(
    'baseline: node:crypto AES-256-GCM of 1 KiB',
    () => {
      const cipher = createCipheriv('aes-256-gcm', gcmKey, randomBytes(12))
      cipher.setAAD(entry.subarray(0, 64))
      const out = cipher.update(entry)
      cipher.final()
      return [out, cipher.getAuthTag()]
    },
    { iterations: 10_000, warmup: 1_000 }
  )

  return [encryptSign, rawSign, rawGcm, encryptOnly, encryptChacha, signOnly, decrypt, decodeDecrypt, verifyDecrypt, seal, open, sealOpen]
}
