import { randomFillSync } from 'node:crypto'
import type {
  DetachedSignature,
  EncryptedEnvelope,
  EncryptionBinding,
  IdentityVerifier,
  KeyAgreementIdentity,
  Qlock,
  SealedEnvelope,
  SealedRecipient,
  Signer
} from '@qflow/pipeline'
import { type AeadAlgorithm, aeadDecrypt, aeadEncrypt, isAeadAlgorithm, randomNonce } from './aead.js'
import { assertBinding, encryptedAssociatedData, sealedAssociatedData, wrapInfo } from './associated-data.js'
import { DEFAULT_AEAD, ENVELOPE_VERSION, KEY_LENGTH, MAX_DID_LENGTH, MAX_RECIPIENTS, X25519_KEY_LENGTH } from './constants.js'
import { assertEncryptedEnvelope, assertSealedEnvelope } from './envelope.js'
import { DecryptionError, InvalidArgumentError, MissingComponentError, NotARecipientError, RecipientKeyError } from './errors.js'
import { hkdfSha256 } from './kdf.js'
import type { SubnetKeyring } from './keyring/keyring.js'
import { ephemeralKeyPair, isAllZero, x25519Agree } from './x25519.js'

/** Finds the X25519 public key sealed envelopes are made for, by identity. */
export interface RecipientKeyResolver {
  /** The raw 32-byte X25519 public key of `did` (for a did:key, its ed25519 key converted). */
  x25519PublicKey(did: string): Promise<Uint8Array>
}

/** Options of {@link qlock}. */
export interface QlockInit {
  /** The AEAD for new envelopes: `A256GCM` (AES-256-GCM) or `C20P` (ChaCha20-Poly1305). Default `A256GCM`. Both always open. */
  alg?: AeadAlgorithm
}

/** What {@link qlock} needs. */
export interface QlockComponents {
  /** Signs as this node's identity (ed25519). */
  signer: Signer
  /** Verifies other identities' detached signatures. */
  verifier: Pick<IdentityVerifier, 'verifySignature'>
  /** Resolves recipients' X25519 public keys for {@link Qlock.seal}. */
  recipientKeys: RecipientKeyResolver
  /** The per-subnet data keys {@link Qlock.encrypt} and {@link Qlock.decrypt} use. */
  keyring: SubnetKeyring
}

const EMPTY = new Uint8Array(0)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function assertBytes(value: unknown, argument: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError('Expected bytes (a Uint8Array)', argument)
}

/** The key-encryption key of one recipient entry: HKDF-SHA-256(X25519 secret, no salt, wrap info). */
function deriveKek(secret: Uint8Array, info: Uint8Array): Buffer {
  return hkdfSha256(secret, EMPTY, info, KEY_LENGTH)
}

function recipientList(recipients: unknown): string[] {
  if (!Array.isArray(recipients)) throw new InvalidArgumentError('Expected an array of recipient identities', 'recipients')
  const unique = [...new Set<unknown>(recipients)]
  if (unique.length === 0 || unique.length > MAX_RECIPIENTS) {
    throw new InvalidArgumentError(`Expected 1 to ${MAX_RECIPIENTS} recipients`, 'recipients')
  }
  for (const did of unique) {
    if (typeof did !== 'string' || did === '' || LONE_SURROGATE.test(did) || Buffer.byteLength(did, 'utf8') > MAX_DID_LENGTH) {
      throw new InvalidArgumentError(`A recipient is a non-empty identity string of at most ${MAX_DID_LENGTH} UTF-8 bytes`, 'recipients')
    }
  }
  return unique as string[]
}

class NodeQlock implements Qlock {
  private readonly alg: AeadAlgorithm
  private readonly signer: Signer
  private readonly verifier: Pick<IdentityVerifier, 'verifySignature'>
  private readonly recipientKeys: RecipientKeyResolver
  private readonly keyring: SubnetKeyring

  constructor(alg: AeadAlgorithm, components: QlockComponents) {
    this.alg = alg
    this.signer = components.signer
    this.verifier = components.verifier
    this.recipientKeys = components.recipientKeys
    this.keyring = components.keyring
  }

  async encrypt(plaintext: Uint8Array, binding: EncryptionBinding): Promise<EncryptedEnvelope> {
    assertBytes(plaintext, 'plaintext')
    assertBinding(binding)
    const key = await this.keyring.activeKey(binding.subnet)
    const nonce = randomNonce()
    const ciphertext = aeadEncrypt(this.alg, key.key, nonce, plaintext, encryptedAssociatedData(this.alg, key.kid, binding))
    return { v: ENVELOPE_VERSION, alg: this.alg, kid: key.kid, nonce, ciphertext }
  }

  async decrypt(envelope: EncryptedEnvelope, binding: EncryptionBinding): Promise<Uint8Array> {
    assertEncryptedEnvelope(envelope)
    assertBinding(binding)
    const { kid } = envelope
    const alg = envelope.alg as AeadAlgorithm
    const key = await this.keyring.key(kid)
    if (key.subnet !== binding.subnet) {
      throw new DecryptionError('key-subnet-mismatch', { kid, message: `Key ${kid} belongs to another subnet than ${binding.subnet}` })
    }
    const plaintext = aeadDecrypt(alg, key.key, envelope.nonce, envelope.ciphertext, encryptedAssociatedData(alg, kid, binding))
    if (plaintext === undefined) throw new DecryptionError('authentication-failed', { kid })
    return plaintext
  }

  async seal(plaintext: Uint8Array, recipients: readonly string[], binding: EncryptionBinding): Promise<SealedEnvelope> {
    assertBytes(plaintext, 'plaintext')
    const dids = recipientList(recipients)
    assertBinding(binding)
    const publicKeys = await Promise.all(dids.map((did) => this.recipientKeys.x25519PublicKey(did)))
    const alg = this.alg
    // One ephemeral key pair per envelope; each recipient's KEK still differs, as HKDF's info
    // names the recipient.
    const ephemeral = ephemeralKeyPair()
    const dataKey = randomFillSync(Buffer.alloc(KEY_LENGTH))
    try {
      const entries: SealedRecipient[] = dids.map((did, i) => {
        const publicKey = publicKeys[i]
        if (!(publicKey instanceof Uint8Array) || publicKey.length !== X25519_KEY_LENGTH) {
          throw new RecipientKeyError(did, `the resolver gave no ${X25519_KEY_LENGTH}-byte X25519 public key`)
        }
        let shared: Buffer
        try {
          shared = x25519Agree(ephemeral.privateKey, publicKey)
        } catch (cause) {
          throw new RecipientKeyError(did, 'X25519 agreement failed (low-order public key)', cause)
        }
        const ephemeralPublicKey = Buffer.from(ephemeral.publicKey)
        const info = wrapInfo(alg, did, ephemeralPublicKey, binding)
        const kek = deriveKek(shared, info)
        shared.fill(0)
        const nonce = randomNonce()
        const wrappedKey = aeadEncrypt(alg, kek, nonce, dataKey, info)
        kek.fill(0)
        return { did, ephemeralPublicKey, nonce, wrappedKey }
      })
      const nonce = randomNonce()
      const ciphertext = aeadEncrypt(alg, dataKey, nonce, plaintext, sealedAssociatedData(alg, binding, entries))
      return { v: ENVELOPE_VERSION, alg, nonce, ciphertext, recipients: entries }
    } finally {
      dataKey.fill(0)
    }
  }

  async open(envelope: SealedEnvelope, recipient: KeyAgreementIdentity, binding: EncryptionBinding): Promise<Uint8Array> {
    assertSealedEnvelope(envelope)
    assertBinding(binding)
    if (typeof recipient !== 'object' || recipient === null || typeof recipient.did !== 'string' || typeof recipient.agree !== 'function') {
      throw new InvalidArgumentError('Expected a key-agreement identity with a did and agree()', 'recipient')
    }
    const entry = envelope.recipients.find((r) => r.did === recipient.did)
    if (entry === undefined) throw new NotARecipientError(recipient.did)
    const alg = envelope.alg as AeadAlgorithm
    let shared: Uint8Array
    try {
      shared = await recipient.agree(entry.ephemeralPublicKey)
    } catch (cause) {
      throw new DecryptionError('key-agreement-failed', { cause })
    }
    if (!(shared instanceof Uint8Array) || shared.length !== X25519_KEY_LENGTH || isAllZero(shared)) {
      throw new DecryptionError('key-agreement-failed', { message: 'The recipient identity gave no usable X25519 shared secret' })
    }
    const info = wrapInfo(alg, entry.did, entry.ephemeralPublicKey, binding)
    // The shared secret belongs to the identity's implementation (which may cache it): not zeroed here.
    const kek = deriveKek(shared, info)
    const dataKey = aeadDecrypt(alg, kek, entry.nonce, entry.wrappedKey, info)
    kek.fill(0)
    if (dataKey === undefined) throw new DecryptionError('authentication-failed')
    try {
      const aad = sealedAssociatedData(alg, binding, envelope.recipients)
      const plaintext = aeadDecrypt(alg, dataKey, envelope.nonce, envelope.ciphertext, aad)
      if (plaintext === undefined) throw new DecryptionError('authentication-failed')
      return plaintext
    } finally {
      dataKey.fill(0)
    }
  }

  async sign(data: Uint8Array): Promise<DetachedSignature> {
    assertBytes(data, 'data')
    const value = await this.signer.sign(data)
    return { alg: 'EdDSA', signer: this.signer.did, value }
  }

  async verify(data: Uint8Array, signature: DetachedSignature): Promise<boolean> {
    assertBytes(data, 'data')
    if (
      typeof signature !== 'object' ||
      signature === null ||
      typeof signature.signer !== 'string' ||
      !(signature.value instanceof Uint8Array)
    ) {
      throw new InvalidArgumentError('Expected a detached signature { alg, signer, value }', 'signature')
    }
    if (signature.alg !== 'EdDSA') return false
    return (await this.verifier.verifySignature(signature.signer, data, signature.value)) === true
  }
}

function required(components: Record<string, unknown>, name: string, method: string): void {
  const component = components[name] as Record<string, unknown> | undefined | null
  if (typeof component !== 'object' || component === null || typeof component[method] !== 'function') {
    throw new MissingComponentError(name, 'qlock')
  }
}

/**
 * Qlock on node:crypto: AEAD envelopes under per-subnet data keys bound to where they belong,
 * payloads sealed to X25519 recipients, and ed25519 signatures through the injected signer and
 * verifier. Throws {@link MissingComponentError} at construction when a component is missing.
 *
 * @example
 * ```ts
 * const lock = qlock()({ signer, verifier, recipientKeys, keyring: memoryKeyring() })
 * const envelope = await lock.encrypt(bytes, { subnet: 'dao-a', executionId: 'x1', purpose: 'state' })
 * ```
 */
export function qlock(init: QlockInit = {}): (components: QlockComponents) => Qlock {
  const alg = init.alg ?? DEFAULT_AEAD
  if (!isAeadAlgorithm(alg)) throw new InvalidArgumentError('Unknown AEAD; use A256GCM or C20P', 'alg')
  return (components) => {
    if (typeof components !== 'object' || components === null) throw new MissingComponentError('signer', 'qlock')
    const c = components as unknown as Record<string, unknown>
    required(c, 'signer', 'sign')
    if (typeof components.signer.did !== 'string' || components.signer.did === '') throw new MissingComponentError('signer', 'qlock')
    required(c, 'verifier', 'verifySignature')
    required(c, 'recipientKeys', 'x25519PublicKey')
    required(c, 'keyring', 'activeKey')
    required(c, 'keyring', 'key')
    return new NodeQlock(alg, components)
  }
}
