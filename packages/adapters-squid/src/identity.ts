import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject, randomBytes, sign } from 'node:crypto'
import type { KeyAgreementIdentity, Signer } from '@qflow/pipeline'
import { edwardsToMontgomery, x25519PrivateFromSeed } from './curve25519.js'
import { didFromPublicKey } from './did.js'
import { bytesEqual, fromBase64url, toBase64url } from './encoding.js'
import { InvalidKeyError } from './errors.js'

/** An identity in portable form: its did and its 32-byte ed25519 seed. Keep it secret. */
export interface IdentityExport {
  /** Export format version. */
  readonly v: 1
  /** Key type: always ed25519. */
  readonly kty: 'ed25519'
  /** The identity (`did:key:z6Mk…`), checked against the seed on import. */
  readonly did: string
  /** The 32-byte ed25519 seed (RFC 8032 secret key), base64url. */
  readonly seed: string
}

/**
 * An sQuid identity: an ed25519 key pair named by its `did:key`. It signs (the pipeline's
 * {@link Signer}) and agrees X25519 secrets (the pipeline's {@link KeyAgreementIdentity}) without
 * handing out its private key; only {@link Identity.export} reveals the seed.
 */
export interface Identity extends Signer, KeyAgreementIdentity {
  /** The identity (`did:key:z6Mk…`). */
  readonly did: string
  /** The raw 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array
  /** The X25519 public key (the ed25519 key in Montgomery form), for peers to agree with. */
  readonly x25519PublicKey: Uint8Array
  /** Signs `data` with ed25519 (RFC 8032, pure EdDSA): a 64-byte signature. */
  sign(data: Uint8Array): Promise<Uint8Array>
  /** {@link Identity.sign}, synchronously. */
  signSync(data: Uint8Array): Uint8Array
  /**
   * The X25519 shared secret between this identity's converted private key and a peer's X25519
   * public key.
   *
   * @throws {@link InvalidKeyError} when the peer key is not 32 bytes or is of low order.
   */
  agree(peerX25519Public: Uint8Array): Promise<Uint8Array>
  /** The identity in portable form, seed included. Treat the result as a secret. */
  export(): IdentityExport
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

class Ed25519Identity implements Identity {
  readonly did: string
  readonly publicKey: Uint8Array
  readonly #seed: Uint8Array
  readonly #signingKey: KeyObject
  #x25519: { privateKey: KeyObject; publicKey: Uint8Array } | undefined

  constructor(seed: Uint8Array) {
    this.#seed = Uint8Array.from(seed)
    this.#signingKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    const spki = createPublicKey(this.#signingKey).export({ format: 'der', type: 'spki' })
    this.publicKey = new Uint8Array(spki.subarray(spki.length - 32))
    this.did = didFromPublicKey(this.publicKey)
  }

  get x25519PublicKey(): Uint8Array {
    return Uint8Array.from(this.x25519().publicKey)
  }

  private x25519(): { privateKey: KeyObject; publicKey: Uint8Array } {
    if (this.#x25519 === undefined) {
      const publicKey = edwardsToMontgomery(this.publicKey)
      if (publicKey === undefined) throw new InvalidKeyError('This identity key has no X25519 form')
      const d = x25519PrivateFromSeed(this.#seed)
      const privateKey = createPrivateKey({
        key: { kty: 'OKP', crv: 'X25519', d: toBase64url(d), x: toBase64url(publicKey) },
        format: 'jwk'
      })
      d.fill(0)
      this.#x25519 = { privateKey, publicKey }
    }
    return this.#x25519
  }

  signSync(data: Uint8Array): Uint8Array {
    const signature = sign(null, data, this.#signingKey)
    return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength)
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    return this.signSync(data)
  }

  async agree(peerX25519Public: Uint8Array): Promise<Uint8Array> {
    if (!(peerX25519Public instanceof Uint8Array) || peerX25519Public.length !== 32) {
      throw new InvalidKeyError('An X25519 public key is 32 bytes')
    }
    let secret: Buffer
    try {
      const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: toBase64url(peerX25519Public) }, format: 'jwk' })
      secret = diffieHellman({ privateKey: this.x25519().privateKey, publicKey })
    } catch (err) {
      throw new InvalidKeyError(`X25519 agreement failed: ${(err as Error).message}`)
    }
    if (secret.every((b) => b === 0)) throw new InvalidKeyError('The peer X25519 key is of low order (all-zero shared secret)')
    return new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
  }

  export(): IdentityExport {
    return { v: 1, kty: 'ed25519', did: this.did, seed: toBase64url(this.#seed) }
  }

  /** Never serialize the seed by accident. */
  toJSON(): { did: string } {
    return { did: this.did }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Identity(${this.did})`
  }
}

/** Creates a new identity from 32 random bytes. */
export function createIdentity(): Identity {
  const seed = randomBytes(32)
  try {
    return new Ed25519Identity(seed)
  } finally {
    seed.fill(0)
  }
}

/**
 * Loads an identity from its export ({@link Identity.export}), a 32-byte ed25519 seed, or a
 * 64-byte libsodium-style secret key (seed ‖ public key).
 *
 * @throws {@link InvalidKeyError} when the input is none of these, or its seed does not belong to
 * the did / public key it claims.
 */
export function importIdentity(input: IdentityExport | Uint8Array): Identity {
  if (input instanceof Uint8Array) {
    if (input.length === 32) return new Ed25519Identity(input)
    if (input.length === 64) {
      const identity = new Ed25519Identity(input.subarray(0, 32))
      if (!bytesEqual(identity.publicKey, input.subarray(32))) {
        throw new InvalidKeyError('The secret key’s public half does not belong to its seed')
      }
      return identity
    }
    throw new InvalidKeyError(`An ed25519 seed is 32 bytes (or 64 with the public key), not ${input.length}`)
  }
  const record = input as Partial<IdentityExport> | null
  if (typeof record !== 'object' || record === null || record.v !== 1 || record.kty !== 'ed25519') {
    throw new InvalidKeyError('Not an identity export ({ v: 1, kty: "ed25519", did, seed })')
  }
  const seed = typeof record.seed === 'string' ? fromBase64url(record.seed) : undefined
  if (seed?.length !== 32) throw new InvalidKeyError('The export’s seed is not 32 bytes of base64url')
  const identity = new Ed25519Identity(seed)
  if (identity.did !== record.did) throw new InvalidKeyError('The export’s seed does not belong to its did')
  return identity
}
