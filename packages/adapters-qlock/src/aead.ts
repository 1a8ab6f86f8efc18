import {
  type CipherChaCha20Poly1305,
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
  type KeyObject,
  randomFillSync
} from 'node:crypto'
import { NONCE_LENGTH, TAG_LENGTH } from './constants.js'

/** The AEADs Qlock speaks: AES-256-GCM (`A256GCM`) and ChaCha20-Poly1305 (`C20P`, RFC 8439). */
export type AeadAlgorithm = 'A256GCM' | 'C20P'

/** Every {@link AeadAlgorithm}, in their wire-code order (code = index + 1). */
export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = ['A256GCM', 'C20P']

const TAG_OPTIONS = { authTagLength: TAG_LENGTH }

function cipherFor(alg: AeadAlgorithm, key: KeyObject | Uint8Array, nonce: Uint8Array): CipherGCM | CipherChaCha20Poly1305 {
  return alg === 'A256GCM'
    ? createCipheriv('aes-256-gcm', key, nonce, TAG_OPTIONS)
    : createCipheriv('chacha20-poly1305', key, nonce, TAG_OPTIONS)
}

function decipherFor(alg: AeadAlgorithm, key: KeyObject | Uint8Array, nonce: Uint8Array): DecipherGCM | DecipherChaCha20Poly1305 {
  return alg === 'A256GCM'
    ? createDecipheriv('aes-256-gcm', key, nonce, TAG_OPTIONS)
    : createDecipheriv('chacha20-poly1305', key, nonce, TAG_OPTIONS)
}

/** Whether `alg` names an AEAD this package speaks. */
export function isAeadAlgorithm(alg: unknown): alg is AeadAlgorithm {
  return alg === 'A256GCM' || alg === 'C20P'
}

/**
 * Encrypts `plaintext` and returns the ciphertext followed by its 16-byte tag. `key` is a 256-bit
 * secret key, `nonce` 12 bytes that must never repeat under that key.
 */
export function aeadEncrypt(
  alg: AeadAlgorithm,
  key: KeyObject | Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array
): Buffer {
  const cipher = cipherFor(alg, key, nonce)
  cipher.setAAD(aad, { plaintextLength: plaintext.length })
  const body = cipher.update(plaintext)
  cipher.final()
  const tag = cipher.getAuthTag()
  return Buffer.concat([body, tag], body.length + TAG_LENGTH)
}

/**
 * Decrypts a ciphertext-and-tag. Returns the plaintext only when the tag verifies; otherwise
 * `undefined`, having zeroed what the cipher had already produced, so no partial plaintext leaks.
 */
export function aeadDecrypt(
  alg: AeadAlgorithm,
  key: KeyObject | Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array
): Buffer | undefined {
  if (ciphertext.length < TAG_LENGTH || nonce.length !== NONCE_LENGTH) return undefined
  const bodyLength = ciphertext.length - TAG_LENGTH
  const decipher = decipherFor(alg, key, nonce)
  decipher.setAuthTag(ciphertext.subarray(bodyLength))
  decipher.setAAD(aad, { plaintextLength: bodyLength })
  const plaintext = decipher.update(ciphertext.subarray(0, bodyLength))
  try {
    decipher.final()
  } catch {
    plaintext.fill(0)
    return undefined
  }
  return plaintext
}

const NONCE_POOL_SIZE = NONCE_LENGTH * 512
let noncePool = Buffer.allocUnsafe(0)
let nonceOffset = 0

/**
 * A fresh random 96-bit nonce from the CSPRNG. Nonces are cut from a pooled random buffer that is
 * refilled with `randomFillSync` (one system call per 512 nonces) and never handed out twice.
 */
export function randomNonce(): Buffer {
  if (nonceOffset + NONCE_LENGTH > noncePool.length) {
    // A new pool each time: nonces already handed out keep views on the old one, never reused.
    noncePool = randomFillSync(Buffer.allocUnsafe(NONCE_POOL_SIZE))
    nonceOffset = 0
  }
  const nonce = noncePool.subarray(nonceOffset, nonceOffset + NONCE_LENGTH)
  nonceOffset += NONCE_LENGTH
  return nonce
}
