import { hash } from 'node:crypto'
import type { Signer } from '@qflow/pipeline'
import { LOG_BATCH_SIGNATURE_CONTEXT, MAX_SIGNATURE_BATCH } from './constants.js'

/**
 * A log entry's signature when entries are signed in batches: one ed25519 signature by the
 * entry's actor over the Merkle root (RFC 9162, SHA-256) of the batch's entries, and this entry's
 * inclusion proof in that tree.
 */
export interface BatchSignature {
  /** The entry's leaf index in the batch. */
  readonly index: number
  /** The inclusion proof: the sibling hashes from the leaf up, 32 bytes each, concatenated. */
  readonly path: Uint8Array
  /** How many entries the batch held. */
  readonly size: number
  /** ed25519 signature over {@link LOG_BATCH_SIGNATURE_CONTEXT} followed by the 32-byte root. */
  readonly value: Uint8Array
}

const HASH_BYTES = 32
const CONTEXT = new TextEncoder().encode(LOG_BATCH_SIGNATURE_CONTEXT)

/** The RFC 9162 leaf hash of an entry's signed bytes: SHA-256(0x00 ‖ bytes). */
export function leafHash(bytes: Uint8Array): Uint8Array {
  const input = new Uint8Array(bytes.length + 1)
  input.set(bytes, 1)
  // crypto.hash (one shot) costs half of a createHash() object for inputs this small.
  return hash('sha256', input, 'buffer')
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + 2 * HASH_BYTES)
  input[0] = 1
  input.set(left, 1)
  input.set(right, 1 + HASH_BYTES)
  return hash('sha256', input, 'buffer')
}

/** The message the batch's signature covers: a context string then the tree's root. */
export function batchSignedMessage(root: Uint8Array): Uint8Array {
  const message = new Uint8Array(CONTEXT.length + root.length)
  message.set(CONTEXT, 0)
  message.set(root, CONTEXT.length)
  return message
}

/**
 * The Merkle tree hash of `leaves` (RFC 9162 §2.1.1: the left subtree holds the largest power of
 * two below the count) and, for each leaf, its inclusion proof (§2.1.3.1), siblings from the leaf
 * up. `leaves` must not be empty.
 */
export function merkleTree(leaves: readonly Uint8Array[]): { root: Uint8Array; proofs: Uint8Array[][] } {
  const proofs: Uint8Array[][] = leaves.map(() => [])
  const build = (from: number, to: number): Uint8Array => {
    const n = to - from
    if (n === 1) return leaves[from] as Uint8Array
    let k = 1
    while (k * 2 < n) k *= 2
    const left = build(from, from + k)
    const right = build(from + k, to)
    for (let i = from; i < from + k; i++) (proofs[i] as Uint8Array[]).push(right)
    for (let i = from + k; i < to; i++) (proofs[i] as Uint8Array[]).push(left)
    return nodeHash(left, right)
  }
  return { root: build(0, leaves.length), proofs }
}

/**
 * The root an inclusion proof leads to from `leaf` (RFC 9162 §2.1.3.2), or `undefined` when the
 * proof cannot belong to a tree of `size` leaves at `index`.
 */
export function rootFromProof(leaf: Uint8Array, index: number, size: number, path: Uint8Array): Uint8Array | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size || path.length % HASH_BYTES !== 0) return undefined
  let fn = index
  let sn = size - 1
  let r = leaf
  for (let at = 0; at < path.length; at += HASH_BYTES) {
    if (sn === 0) return undefined
    const p = path.subarray(at, at + HASH_BYTES)
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 ? r : undefined
}

interface Queued {
  readonly leaf: Uint8Array
  readonly resolve: (signature: BatchSignature) => void
  readonly reject: (err: unknown) => void
}

/**
 * Signs log entries in batches: the entries asked for in one turn of the event loop (up to
 * {@link MAX_SIGNATURE_BATCH}) share one signature over their Merkle root, and each gets its
 * inclusion proof. An ed25519 signature costs about 50 µs here; a batch of 50 entries pays for
 * one, and every entry stays verifiable on its own.
 */
export class EntrySigner {
  private queue: Queued[] = []
  private scheduled = false

  constructor(private readonly signer: Pick<Signer, 'sign'>) {}

  /** Signs an entry's signed bytes; resolves once its batch is signed. */
  sign(bytes: Uint8Array): Promise<BatchSignature> {
    return new Promise<BatchSignature>((resolve, reject) => {
      this.queue.push({ leaf: leafHash(bytes), resolve, reject })
      if (this.queue.length >= MAX_SIGNATURE_BATCH) this.flush()
      else if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    const batch = this.queue
    if (batch.length === 0) return
    this.queue = []
    const { root, proofs } = merkleTree(batch.map((q) => q.leaf))
    this.signer.sign(batchSignedMessage(root)).then(
      (value) => {
        for (let i = 0; i < batch.length; i++) {
          const proof = proofs[i] as Uint8Array[]
          const path = new Uint8Array(proof.length * HASH_BYTES)
          for (let j = 0; j < proof.length; j++) path.set(proof[j] as Uint8Array, j * HASH_BYTES)
          ;(batch[i] as Queued).resolve({ index: i, path, size: batch.length, value })
        }
      },
      (err: unknown) => {
        for (const q of batch) q.reject(err)
      }
    )
  }
}
