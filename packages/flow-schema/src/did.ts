import { base58btc } from 'multiformats/bases/base58'
import { ED25519_PUB_CODEC } from './constants.js'
import { DidKeyError } from './errors.js'

const PREFIX = 'did:key:'

/**
 * The `did:key` of an ed25519 public key: `did:key:z6Mk…`, the base58btc multibase of the
 * multicodec `ed25519-pub` (0xed, varint `0xed 0x01`) followed by the 32 key bytes.
 *
 * @throws {@link DidKeyError} when the key is not 32 bytes.
 */
export function didKeyFromPublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new DidKeyError('an ed25519 public key is 32 bytes')
  }
  const bytes = new Uint8Array(34)
  bytes[0] = ED25519_PUB_CODEC
  bytes[1] = 0x01
  bytes.set(publicKey, 2)
  return PREFIX + base58btc.encode(bytes)
}

/**
 * The 32-byte ed25519 public key inside a `did:key` (the inverse of {@link didKeyFromPublicKey}).
 *
 * @throws {@link DidKeyError} when `did` is not an ed25519 did:key.
 */
export function publicKeyFromDidKey(did: string): Uint8Array {
  if (typeof did !== 'string' || !did.startsWith(`${PREFIX}z`)) {
    throw new DidKeyError('not a did:key with a base58btc key', typeof did === 'string' ? did : undefined)
  }
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(did.slice(PREFIX.length))
  } catch {
    throw new DidKeyError('did:key is not valid base58btc', did)
  }
  if (bytes.length !== 34 || bytes[0] !== ED25519_PUB_CODEC || bytes[1] !== 0x01) {
    throw new DidKeyError('did:key does not hold an ed25519 public key (multicodec 0xed01, 32 bytes)', did)
  }
  return bytes.slice(2)
}
