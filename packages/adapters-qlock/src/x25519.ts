import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { KeyAgreementIdentity } from '@qflow/pipeline'
import { X25519_KEY_LENGTH } from './constants.js'
import { InvalidArgumentError } from './errors.js'

/** PKCS #8 prefix of an X25519 private key (RFC 8410): the 32 raw bytes follow. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

const PUBLIC_KEY_CACHE_SIZE = 256
const publicKeyCache = new Map<string, KeyObject>()

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array
}

/** Whether every byte is zero (an X25519 output from a low-order point). */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i] as number
  return acc === 0
}

/**
 * A node:crypto public KeyObject for raw X25519 public key bytes. Recently used keys are cached
 * (they are public), so sealing to the same recipients again skips the import.
 */
export function x25519PublicKeyObject(raw: Uint8Array): KeyObject {
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
  const cached = publicKeyCache.get(x)
  if (cached !== undefined) return cached
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' })
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_SIZE) {
    const oldest = publicKeyCache.keys().next().value
    if (oldest !== undefined) publicKeyCache.delete(oldest)
  }
  publicKeyCache.set(x, key)
  return key
}

/** The raw 32 bytes of an X25519 public KeyObject. */
export function x25519RawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' })
  return Buffer.from(jwk.x as string, 'base64url')
}

/** A fresh ephemeral X25519 key pair: the private KeyObject and the raw public key. */
export function ephemeralKeyPair(): { privateKey: KeyObject; publicKey: Buffer } {
  const pair = generateKeyPairSync('x25519')
  return { privateKey: pair.privateKey, publicKey: x25519RawPublicKey(pair.publicKey) }
}

/**
 * X25519(privateKey, peer). Throws {@link InvalidArgumentError} when the peer key is not 32 bytes
 * or is a low-order point (the shared secret would be all zeros; OpenSSL refuses it, and it is
 * checked here too).
 */
export function x25519Agree(privateKey: KeyObject, peerPublicKey: Uint8Array): Buffer {
  if (!isBytes(peerPublicKey) || peerPublicKey.length !== X25519_KEY_LENGTH) {
    throw new InvalidArgumentError(`An X25519 public key is ${X25519_KEY_LENGTH} bytes`, 'peerPublicKey')
  }
  let secret: Buffer
  try {
    secret = diffieHellman({ privateKey, publicKey: x25519PublicKeyObject(peerPublicKey) })
  } catch (cause) {
    throw Object.assign(new InvalidArgumentError('X25519 agreement failed (low-order public key?)', 'peerPublicKey'), { cause })
  }
  if (isAllZero(secret)) throw new InvalidArgumentError('X25519 agreement gave an all-zero secret (low-order public key)', 'peerPublicKey')
  return secret
}

/** A {@link KeyAgreementIdentity} backed by an X25519 private key held in a node:crypto KeyObject. */
export interface X25519Identity extends KeyAgreementIdentity {
  /** The identity's raw X25519 public key, which senders seal to. */
  readonly publicKey: Uint8Array
}

/**
 * Makes an X25519 key-agreement identity named `did` from a raw 32-byte private key (RFC 7748), or
 * from a fresh random one when none is given. For node-local keys, services and tests; sQuid
 * identities provide their own {@link KeyAgreementIdentity}. The private key never leaves its
 * KeyObject.
 *
 * @example
 * ```ts
 * const alice = x25519Identity('did:example:alice')
 * const secret = await alice.agree(bobPublicKey)
 * ```
 */
export function x25519Identity(did: string, privateKey?: Uint8Array): X25519Identity {
  if (typeof did !== 'string' || did === '') throw new InvalidArgumentError('An identity needs a non-empty did', 'did')
  let key: KeyObject
  if (privateKey === undefined) {
    key = generateKeyPairSync('x25519').privateKey
  } else {
    if (!isBytes(privateKey) || privateKey.length !== X25519_KEY_LENGTH) {
      throw new InvalidArgumentError(`An X25519 private key is ${X25519_KEY_LENGTH} bytes`, 'privateKey')
    }
    const der = Buffer.concat([PKCS8_X25519_PREFIX, privateKey])
    try {
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    } finally {
      der.fill(0)
    }
  }
  const publicKey = x25519RawPublicKey(createPublicKey(key))
  return {
    did,
    publicKey,
    agree: async (peerPublicKey: Uint8Array) => x25519Agree(key, peerPublicKey)
  }
}
