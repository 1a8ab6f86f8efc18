import { base58btc } from 'multiformats/bases/base58'
import { BoundedMap } from './bounded-map.js'
import { DEFAULT_KEY_CACHE_SIZE, DID_KEY_PREFIX, ED25519_PUB_MULTICODEC, MAX_LEGACY_ID_LENGTH } from './constants.js'
import { edwardsToMontgomery, isEd25519Point } from './curve25519.js'
import { InvalidDidError, InvalidKeyError } from './errors.js'

/** An ed25519 `did:key` is 'did:key:z' + base58btc of 34 bytes: 54 to 57 characters. */
const MAX_DID_KEY_LENGTH = 64
const LEGACY_ID = /^(?:did:)?squid:[A-Za-z0-9._:%-]+$/

/** did:key → public key of dids already checked (decoding and the curve check cost ~100 µs). */
const validDidKeys = new BoundedMap<string, Uint8Array>(DEFAULT_KEY_CACHE_SIZE)

/** did:key → X25519 public key (the BigInt inversion costs ~100 µs). */
const montgomeryKeys = new BoundedMap<string, Uint8Array>(DEFAULT_KEY_CACHE_SIZE)

/** Whether `did` has the shape of a `did:key` (prefix only; {@link publicKeyFromDid} checks the rest). */
export function isDidKey(did: string): boolean {
  return did.startsWith(DID_KEY_PREFIX)
}

/**
 * Whether `id` is a legacy sQuid identifier (`squid:…` or `did:squid:…`). Legacy ids are opaque:
 * their public key comes from a {@link KeyResolver}.
 */
export function isLegacyId(id: string): boolean {
  return id.length <= MAX_LEGACY_ID_LENGTH && LEGACY_ID.test(id)
}

/**
 * The `did:key` of an ed25519 public key: multicodec `ed25519-pub` (0xed 0x01) + the 32 raw key
 * bytes, base58btc-encoded (`did:key:z6Mk…`).
 *
 * @throws {@link InvalidKeyError} when the key is not 32 bytes encoding a point of the curve.
 */
export function didFromPublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || !isEd25519Point(publicKey)) {
    throw new InvalidKeyError('An ed25519 public key is 32 bytes encoding a point of the curve')
  }
  const bytes = new Uint8Array(34)
  bytes.set(ED25519_PUB_MULTICODEC, 0)
  bytes.set(publicKey, 2)
  return `${DID_KEY_PREFIX}${base58btc.encode(bytes)}`
}

/**
 * The raw 32-byte ed25519 public key named by a `did:key`.
 *
 * @throws {@link InvalidDidError} for anything but a canonical ed25519 `did:key` whose key is a
 * point of the curve (legacy ids included: resolve those through a {@link KeyResolver}).
 */
export function publicKeyFromDid(did: string): Uint8Array {
  const known = validDidKeys.get(did)
  if (known !== undefined) return Uint8Array.from(known)
  const publicKey = parseDidKey(did)
  validDidKeys.set(did, publicKey)
  return Uint8Array.from(publicKey)
}

function parseDidKey(did: string): Uint8Array {
  if (typeof did !== 'string') throw new InvalidDidError(did, 'not a string')
  if (!did.startsWith(DID_KEY_PREFIX)) {
    throw new InvalidDidError(did, isLegacyId(did) ? 'a legacy id names no key; resolve it through a KeyResolver' : 'not a did:key')
  }
  if (did.length > MAX_DID_KEY_LENGTH) throw new InvalidDidError(did, 'too long for an ed25519 did:key')
  const multibase = did.slice(DID_KEY_PREFIX.length)
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(multibase)
  } catch {
    throw new InvalidDidError(did, 'not base58btc multibase (z…)')
  }
  if (bytes.length !== 34 || bytes[0] !== ED25519_PUB_MULTICODEC[0] || bytes[1] !== ED25519_PUB_MULTICODEC[1]) {
    throw new InvalidDidError(did, 'not an ed25519-pub multicodec key (0xed 0x01 + 32 bytes)')
  }
  const publicKey = bytes.slice(2)
  if (base58btc.encode(bytes) !== multibase) throw new InvalidDidError(did, 'not the canonical encoding')
  if (!isEd25519Point(publicKey)) throw new InvalidDidError(did, 'the key is not a point of the ed25519 curve')
  return publicKey
}

/**
 * The X25519 public key of a `did:key` identity (its ed25519 key in Montgomery form), to encrypt
 * to it.
 *
 * @throws {@link InvalidDidError} when `did` is not a valid ed25519 `did:key`, or its key has no X25519 form.
 */
export function x25519PublicKeyFromDid(did: string): Uint8Array {
  let u = montgomeryKeys.get(did)
  if (u === undefined) {
    u = edwardsToMontgomery(publicKeyFromDid(did))
    if (u === undefined) throw new InvalidDidError(did, 'the key has no X25519 form')
    montgomeryKeys.set(did, u)
  }
  return Uint8Array.from(u)
}

/**
 * Checks that `did` is an identity this package can name: an ed25519 `did:key` or a legacy id.
 *
 * @throws {@link InvalidDidError} otherwise.
 */
export function assertIdentifier(did: unknown): asserts did is string {
  if (typeof did !== 'string') throw new InvalidDidError(did, 'not a string')
  if (did.startsWith(DID_KEY_PREFIX)) {
    if (validDidKeys.get(did) === undefined) publicKeyFromDid(did)
    return
  }
  if (!isLegacyId(did)) throw new InvalidDidError(did, 'neither an ed25519 did:key nor a legacy squid: id')
}
