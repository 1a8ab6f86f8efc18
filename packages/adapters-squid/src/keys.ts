import { createPublicKey, type KeyObject, verify } from 'node:crypto'
import { BoundedMap } from './bounded-map.js'
import { DEFAULT_KEY_CACHE_SIZE } from './constants.js'
import { isEd25519Point } from './curve25519.js'
import { isDidKey, isLegacyId, publicKeyFromDid } from './did.js'
import { bytesEqual } from './encoding.js'
import { InvalidDidError, InvalidKeyError, UnknownIdentityError } from './errors.js'

/**
 * Finds the ed25519 public key of an identity that does not carry its own key (legacy
 * `squid:`/`did:squid:` ids). `did:key` identities resolve themselves and never reach it.
 */
export interface KeyResolver {
  /** The raw 32-byte ed25519 public key of `did`, or `undefined` when unknown. */
  resolve(did: string): Uint8Array | undefined | Promise<Uint8Array | undefined>
}

/** A {@link KeyResolver} filled by hand or from a directory of legacy identities. */
export interface KeyDirectory extends KeyResolver {
  /**
   * Registers (or replaces) the public key of a legacy identity.
   *
   * @throws {@link InvalidDidError} when `did` is not a legacy id (a `did:key` needs no entry).
   * @throws {@link InvalidKeyError} when the key is not a valid ed25519 public key.
   */
  register(did: string, publicKey: Uint8Array): void
  /** Forgets a legacy identity's key; true when it was known. */
  unregister(did: string): boolean
  /** Whether a key is registered for `did`. */
  has(did: string): boolean
  /** How many identities are registered. */
  readonly size: number
}

/** Options of {@link keyDirectory}. */
export interface KeyDirectoryInit {
  /** Initial entries: legacy id → raw ed25519 public key. */
  entries?: Iterable<readonly [string, Uint8Array]>
}

class MapKeyDirectory implements KeyDirectory {
  private readonly keys = new Map<string, Uint8Array>()

  constructor(init: KeyDirectoryInit) {
    for (const [did, key] of init.entries ?? []) this.register(did, key)
  }

  get size(): number {
    return this.keys.size
  }

  register(did: string, publicKey: Uint8Array): void {
    if (typeof did !== 'string' || !isLegacyId(did)) {
      throw new InvalidDidError(did, typeof did === 'string' && isDidKey(did) ? 'a did:key resolves itself and takes no directory entry' : 'not a legacy squid: id')
    }
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || !isEd25519Point(publicKey)) {
      throw new InvalidKeyError(`The key registered for ${did} is not a 32-byte ed25519 public key`)
    }
    this.keys.set(did, Uint8Array.from(publicKey))
  }

  unregister(did: string): boolean {
    return this.keys.delete(did)
  }

  has(did: string): boolean {
    return this.keys.has(did)
  }

  resolve(did: string): Uint8Array | undefined {
    return this.keys.get(did)
  }
}

/** A directory of legacy identities' public keys, usable as a {@link KeyResolver}. */
export function keyDirectory(init: KeyDirectoryInit = {}): KeyDirectory {
  return new MapKeyDirectory(init)
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** A node:crypto public KeyObject for raw ed25519 key bytes. */
export function ed25519PublicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' })
}

/** An identity's verifying key: node:crypto's object for it, and its raw 32 bytes. */
export interface VerifyingKey {
  /** The public key object (in-thread verification). */
  readonly key: KeyObject
  /** The raw ed25519 public key (what a worker thread is sent). */
  readonly raw: Uint8Array
}

/** Parsed `did:key` public keys, shared process-wide: the mapping is a pure function of the did. */
const didKeys = new BoundedMap<string, VerifyingKey>(DEFAULT_KEY_CACHE_SIZE)

function didVerifyingKey(did: string): VerifyingKey {
  let entry = didKeys.get(did)
  if (entry === undefined) {
    const raw = publicKeyFromDid(did)
    entry = { key: ed25519PublicKeyObject(raw), raw }
    didKeys.set(did, entry)
  }
  return entry
}

/**
 * The verifying key of a `did:key`, parsed once and cached.
 *
 * @throws {@link InvalidDidError} when `did` is not a valid ed25519 `did:key`.
 */
export function didKeyObject(did: string): KeyObject {
  return didVerifyingKey(did).key
}

/** Resolves identities to verifying keys: `did:key` from the did itself, legacy ids through a {@link KeyResolver}. */
export class PublicKeys {
  private readonly legacy = new BoundedMap<string, VerifyingKey>(DEFAULT_KEY_CACHE_SIZE)

  constructor(private readonly resolver: KeyResolver | undefined) {}

  /**
   * The verifying key object of `did`; synchronous for `did:key` (the hot path), a promise only
   * when a resolver answers asynchronously.
   *
   * @throws {@link InvalidDidError} for malformed identifiers; {@link UnknownIdentityError} for unregistered legacy ids.
   */
  get(did: string): KeyObject | Promise<KeyObject> {
    const entry = this.verifying(did)
    return entry instanceof Promise ? entry.then((e) => e.key) : entry.key
  }

  /**
   * The verifying key of `did` with its raw bytes; synchronous for `did:key`.
   *
   * @throws {@link InvalidDidError} for malformed identifiers; {@link UnknownIdentityError} for unregistered legacy ids.
   */
  verifying(did: string): VerifyingKey | Promise<VerifyingKey> {
    if (typeof did !== 'string') throw new InvalidDidError(did, 'not a string')
    if (isDidKey(did)) return didVerifyingKey(did)
    if (!isLegacyId(did)) throw new InvalidDidError(did, 'neither an ed25519 did:key nor a legacy squid: id')
    const raw = this.resolver?.resolve(did)
    if (raw === undefined || raw instanceof Uint8Array) return this.legacyKey(did, raw)
    return Promise.resolve(raw).then((resolved) => this.legacyKey(did, resolved))
  }

  private legacyKey(did: string, raw: Uint8Array | undefined): VerifyingKey {
    if (raw === undefined) throw new UnknownIdentityError(did)
    const cached = this.legacy.get(did)
    if (cached !== undefined && bytesEqual(cached.raw, raw)) return cached
    if (!(raw instanceof Uint8Array) || raw.length !== 32 || !isEd25519Point(raw)) {
      throw new InvalidKeyError(`The key resolved for ${did} is not a 32-byte ed25519 public key`)
    }
    const entry = { key: ed25519PublicKeyObject(raw), raw: Uint8Array.from(raw) }
    this.legacy.set(did, entry)
    return entry
  }
}

/**
 * Checks ed25519 signatures for a verifier: {@link inThreadSignatureCheck} on the calling thread
 * (the default), or {@link offThreadSignatureCheck} on a worker thread.
 */
export interface SignatureCheck {
  /** Whether `signature` is `key`'s signature over `data` (false for a malformed signature). */
  verify(key: VerifyingKey, data: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>
}

/** A {@link SignatureCheck} that verifies on the calling thread. */
export const inThreadSignatureCheck: SignatureCheck = {
  verify: (key, data, signature) => ed25519Verify(key.key, data, signature)
}

/** Whether `signature` is a valid ed25519 signature by `key` over `data` (false for a malformed signature). */
export function ed25519Verify(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false
  try {
    return verify(null, data, key, signature)
  } catch {
    return false
  }
}
