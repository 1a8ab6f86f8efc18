import type { DetachedSignature } from './identity.js'

/**
 * Where a ciphertext belongs. It is bound into the AEAD's associated data, so a ciphertext moved
 * to another subnet, execution or step fails to open.
 */
export interface EncryptionBinding {
  /** The DAO subnet (tenant) whose keys encrypt it. */
  readonly subnet: string
  /** The execution it belongs to. */
  readonly executionId?: string
  /** The step it belongs to. */
  readonly stepId?: string
  /** What it is (`state`, `payload`, `log-entry`, ...). */
  readonly purpose?: string
}

/** Data encrypted under a subnet data key. */
export interface EncryptedEnvelope {
  /** Envelope format version. */
  readonly v: 1
  /** The AEAD, e.g. `A256GCM` or `C20P`. */
  readonly alg: string
  /** The data key's id, so rotation keeps old data readable. */
  readonly kid: string
  /** The AEAD nonce. */
  readonly nonce: Uint8Array
  /** The ciphertext with its authentication tag. */
  readonly ciphertext: Uint8Array
}

/** A data key wrapped for one recipient. */
export interface SealedRecipient {
  /** The recipient identity. */
  readonly did: string
  /** The sender's ephemeral X25519 public key for this recipient. */
  readonly ephemeralPublicKey: Uint8Array
  /** The nonce used to wrap the key. */
  readonly nonce: Uint8Array
  /** The wrapped data key. */
  readonly wrappedKey: Uint8Array
}

/** A payload encrypted once, its data key wrapped for each recipient. */
export interface SealedEnvelope {
  /** Envelope format version. */
  readonly v: 1
  /** The AEAD of the payload. */
  readonly alg: string
  /** The payload nonce. */
  readonly nonce: Uint8Array
  /** The payload ciphertext with its tag. */
  readonly ciphertext: Uint8Array
  /** One entry per recipient. */
  readonly recipients: readonly SealedRecipient[]
}

/** An identity able to do X25519 key agreement with its own private key, without exposing it. */
export interface KeyAgreementIdentity {
  /** The identity. */
  readonly did: string
  /** X25519 shared secret between this identity's key and `peerPublicKey`. */
  agree(peerPublicKey: Uint8Array): Promise<Uint8Array>
}

/** Qlock: encryption for state at rest and payloads in transit, and signatures. */
export interface Qlock {
  /** Encrypts under the subnet's current data key, bound to `binding`. */
  encrypt(plaintext: Uint8Array, binding: EncryptionBinding): Promise<EncryptedEnvelope>
  /** Decrypts an envelope made for exactly this `binding`. */
  decrypt(envelope: EncryptedEnvelope, binding: EncryptionBinding): Promise<Uint8Array>
  /** Encrypts once and wraps the data key for each recipient identity. */
  seal(plaintext: Uint8Array, recipients: readonly string[], binding: EncryptionBinding): Promise<SealedEnvelope>
  /** Opens a sealed envelope as one of its recipients. */
  open(envelope: SealedEnvelope, recipient: KeyAgreementIdentity, binding: EncryptionBinding): Promise<Uint8Array>
  /** Signs bytes as this Qlock's identity. */
  sign(data: Uint8Array): Promise<DetachedSignature>
  /** Verifies a detached signature over bytes. */
  verify(data: Uint8Array, signature: DetachedSignature): Promise<boolean>
}
