/**
 * Qlock for Qflow on node:crypto. State at rest and payloads in transit are encrypted with an AEAD
 * (AES-256-GCM or ChaCha20-Poly1305) whose associated data binds each ciphertext to its subnet,
 * execution, step and purpose, under per-subnet data keys that rotate, retire and can be destroyed.
 * Payloads are sealed to recipient identities (ephemeral X25519 + HKDF-SHA-256 key wrapping), and
 * bytes are signed and verified through the injected ed25519 signer and verifier.
 *
 * @example
 * ```ts
 * import { generateKeyPairSync, sign, verify } from 'node:crypto'
 * import { memoryKeyring, qlock, x25519Identity } from '@qflow/adapters-qlock'
 *
 * const ed = generateKeyPairSync('ed25519')
 * const bob = x25519Identity('did:example:bob')
 * const lock = qlock()({
 *   signer: { did: 'did:example:node', sign: async (data) => sign(null, data, ed.privateKey) },
 *   verifier: { verifySignature: async (_did, data, sig) => verify(null, data, ed.publicKey, sig) },
 *   recipientKeys: { x25519PublicKey: async () => bob.publicKey },
 *   keyring: memoryKeyring()
 * })
 * const where = { subnet: 'dao-a', executionId: 'exec-1', stepId: 'fetch', purpose: 'state' }
 * const envelope = await lock.encrypt(new TextEncoder().encode('{"n":1}'), where)
 * console.log(new TextDecoder().decode(await lock.decrypt(envelope, where))) // {"n":1}
 * const sealed = await lock.seal(new TextEncoder().encode('hi Bob'), [bob.did], where)
 * console.log(new TextDecoder().decode(await lock.open(sealed, bob, where))) // hi Bob
 * ```
 *
 * @packageDocumentation
 */
export { AEAD_ALGORITHMS, type AeadAlgorithm } from './aead.js'
export {
  DEFAULT_AEAD,
  DEFAULT_DATA_DIR,
  DEFAULT_KEYRING_FILE,
  ENVELOPE_VERSION,
  MAX_RECIPIENTS,
  MIN_NODE_SECRET_LENGTH
} from './constants.js'
export {
  decodeEnvelope,
  type Envelope,
  type EnvelopeKind,
  encodeEnvelope,
  envelopeFromJson,
  envelopeToJson,
  isSealedEnvelope
} from './envelope.js'
export {
  type DecryptionFailureReason,
  DecryptionError,
  EnvelopeFormatError,
  InvalidArgumentError,
  InvalidBindingError,
  KeyDestroyedError,
  KeyringDecryptionError,
  KeyringFormatError,
  MissingComponentError,
  NotARecipientError,
  RecipientKeyError,
  UnknownKeyError
} from './errors.js'
export { type FileKeyringComponents, type FileKeyringInit, type FileSubnetKeyring, fileKeyring } from './keyring/file-keyring.js'
export type { DataKey, SubnetKeyInfo, SubnetKeyring, SubnetKeyStatus } from './keyring/keyring.js'
export { type MemoryKeyringInit, memoryKeyring } from './keyring/memory-keyring.js'
export { type QlockComponents, type QlockInit, qlock, type RecipientKeyResolver } from './qlock.js'
export { type X25519Identity, x25519Identity } from './x25519.js'
