import { createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { open } from 'node:fs/promises'
import { canonicalize } from '@qflow/canonical-json'
import { writeFileAtomic } from './atomic-file.js'
import { DEFAULT_SCRYPT, KEYSTORE_FORMAT, KEYSTORE_VERSION, MAX_KEYSTORE_BYTES, MIN_SCRYPT_N, SCRYPT_LIMITS } from './constants.js'
import { type Delegation, parseDelegation } from './delegation.js'
import { fromBase64url, toBase64url } from './encoding.js'
import { DelegationChainError, InvalidKeyError, KeystoreCorruptError, KeystorePassphraseError, KeystoreVersionError, SquidError } from './errors.js'
import { type Identity, importIdentity } from './identity.js'

/** One identity held in a keystore. */
export interface KeystoreEntry {
  /** The identity. */
  readonly identity: Identity
  /** A name for people. */
  readonly label?: string
  /** The delegation chain (root first) that empowers this identity, when it is a sub-identity. */
  readonly chain?: readonly Delegation[]
  /** When it was added, ms since the epoch. */
  readonly createdAt: number
}

/** Options of {@link Keystore.add}. */
export interface KeystoreAddOptions {
  /** A name for people. */
  label?: string
  /** The delegation chain (root first) ending at the identity. */
  chain?: readonly Delegation[]
  /** When it was added, ms since the epoch. Default now. */
  createdAt?: number
}

/** Identities (and their delegation chains) to seal into one passphrase-protected file. */
export interface Keystore {
  /** How many identities it holds. */
  readonly size: number
  /**
   * Adds an identity, replacing one with the same did.
   *
   * @throws {@link DelegationChainError} / {@link DelegationMalformedError} when `chain` does not end at the identity.
   */
  add(identity: Identity, options?: KeystoreAddOptions): KeystoreEntry
  /** The identity with this did. */
  get(did: string): Identity | undefined
  /** The entry of this did. */
  entry(did: string): KeystoreEntry | undefined
  /** Every entry, in insertion order. */
  entries(): KeystoreEntry[]
  /** The delegation chain of `did`, root first, when it has one. */
  chain(did: string): readonly Delegation[] | undefined
  /**
   * Sets (or with `undefined` clears) the delegation chain of an identity already held.
   *
   * @throws {@link DelegationChainError} when the identity is not held or the chain does not end at it.
   */
  setChain(did: string, chain: readonly Delegation[] | undefined): void
  /** Removes an identity; true when it was held. */
  remove(did: string): boolean
}

/** scrypt parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number
  /** Block size. */
  r: number
  /** Parallelism. */
  p: number
}

/** Options of {@link sealKeystore} and {@link saveKeystore}. */
export interface KeystoreSealInit {
  /** scrypt cost. Default N = 2^15, r = 8, p = 1; N below 2^15 is refused. */
  scrypt?: Partial<ScryptParams>
}

function checkChain(did: string, chain: readonly Delegation[]): readonly Delegation[] {
  if (chain.length === 0) throw new DelegationChainError('empty', 'The delegation chain is empty')
  const links = chain.map((link, index) => parseDelegation(link, true, index))
  const last = links[links.length - 1] as Delegation
  if (last.subject !== did) throw new DelegationChainError('wrong-leaf', `The delegation chain ends at ${last.subject}, not at ${did}`, links.length - 1)
  return Object.freeze(links.map((link) => Object.freeze({ ...link, capabilities: Object.freeze([...link.capabilities]) })))
}

class MemoryKeystore implements Keystore {
  private readonly held = new Map<string, KeystoreEntry>()

  get size(): number {
    return this.held.size
  }

  add(identity: Identity, options: KeystoreAddOptions = {}): KeystoreEntry {
    const entry: KeystoreEntry = Object.freeze({
      identity,
      createdAt: options.createdAt ?? Date.now(),
      ...(options.label === undefined ? {} : { label: options.label }),
      ...(options.chain === undefined ? {} : { chain: checkChain(identity.did, options.chain) })
    })
    this.held.set(identity.did, entry)
    return entry
  }

  get(did: string): Identity | undefined {
    return this.held.get(did)?.identity
  }

  entry(did: string): KeystoreEntry | undefined {
    return this.held.get(did)
  }

  entries(): KeystoreEntry[] {
    return [...this.held.values()]
  }

  chain(did: string): readonly Delegation[] | undefined {
    return this.held.get(did)?.chain
  }

  setChain(did: string, chain: readonly Delegation[] | undefined): void {
    const entry = this.held.get(did)
    if (entry === undefined) throw new DelegationChainError('wrong-leaf', `The keystore holds no identity ${did}`)
    const { chain: _old, ...rest } = entry
    this.held.set(did, Object.freeze(chain === undefined ? rest : { ...rest, chain: checkChain(did, chain) }))
  }

  remove(did: string): boolean {
    return this.held.delete(did)
  }
}

/** Creates an empty keystore, or one holding `identities`. */
export function createKeystore(identities: Iterable<Identity> = []): Keystore {
  const keystore = new MemoryKeystore()
  for (const identity of identities) keystore.add(identity)
  return keystore
}

/** The file's outer, unencrypted layer. `kdf` and `cipher` are authenticated as the AEAD's associated data. */
interface KeystoreFile {
  format: typeof KEYSTORE_FORMAT
  v: typeof KEYSTORE_VERSION
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string }
  cipher: { name: 'aes-256-gcm'; iv: string }
  check: string
  ciphertext: string
}

const CHECK_LABEL = 'qflow-squid-keystore-check/v1'
const TAG_BYTES = 16

function passphraseBytes(passphrase: string | Uint8Array): Buffer {
  const bytes = typeof passphrase === 'string' ? Buffer.from(passphrase.normalize('NFC'), 'utf8') : Buffer.from(passphrase)
  if (bytes.length === 0) throw new KeystorePassphraseError('The passphrase is empty')
  return bytes
}

function deriveKeys(passphrase: Buffer, salt: Uint8Array, params: ScryptParams): Promise<{ key: Buffer; check: Buffer }> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, 64, { ...params, maxmem: SCRYPT_LIMITS.maxMemory + 1024 * 1024 }, (err, derived) => {
      if (err !== null) return reject(err)
      const check = createHmac('sha256', derived.subarray(32)).update(CHECK_LABEL).digest()
      const key = Buffer.from(derived.subarray(0, 32))
      derived.fill(0)
      resolve({ key, check })
    })
  })
}

function associatedData(file: Pick<KeystoreFile, 'format' | 'v' | 'kdf' | 'cipher'>): Buffer {
  return Buffer.from(canonicalize({ format: file.format, v: file.v, kdf: file.kdf, cipher: file.cipher }), 'utf8')
}

function scryptParams(init: KeystoreSealInit): ScryptParams {
  const params = { ...DEFAULT_SCRYPT, ...init.scrypt }
  const powerOfTwo = Number.isSafeInteger(params.N) && params.N > 1 && (params.N & (params.N - 1)) === 0
  if (!powerOfTwo || params.N < MIN_SCRYPT_N || params.N > SCRYPT_LIMITS.maxN) {
    throw new RangeError(`scrypt N must be a power of two from 2^15 to 2^20, not ${params.N}`)
  }
  if (!Number.isSafeInteger(params.r) || params.r < 1 || params.r > SCRYPT_LIMITS.maxR || !Number.isSafeInteger(params.p) || params.p < 1 || params.p > SCRYPT_LIMITS.maxP) {
    throw new RangeError(`scrypt r must be 1..${SCRYPT_LIMITS.maxR} and p 1..${SCRYPT_LIMITS.maxP}`)
  }
  if (128 * params.N * params.r * params.p > SCRYPT_LIMITS.maxMemory) throw new RangeError('scrypt parameters need more than 256 MiB')
  return params
}

/**
 * Encrypts a keystore under a passphrase: scrypt derives the key (fresh salt each time), AES-256-GCM
 * encrypts the identities' seeds, labels and chains, and the versioned JSON header (KDF and cipher
 * parameters) is authenticated with the ciphertext.
 *
 * @throws {@link KeystorePassphraseError} for an empty passphrase; `RangeError` for scrypt parameters out of bounds.
 */
export async function sealKeystore(keystore: Keystore, passphrase: string | Uint8Array, init: KeystoreSealInit = {}): Promise<Uint8Array> {
  const params = scryptParams(init)
  const secret = passphraseBytes(passphrase)
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const header: Pick<KeystoreFile, 'format' | 'v' | 'kdf' | 'cipher'> = {
    format: KEYSTORE_FORMAT,
    v: KEYSTORE_VERSION,
    kdf: { name: 'scrypt', N: params.N, r: params.r, p: params.p, salt: toBase64url(salt) },
    cipher: { name: 'aes-256-gcm', iv: toBase64url(iv) }
  }
  const { key, check } = await deriveKeys(secret, salt, params)
  secret.fill(0)
  const plaintext = Buffer.from(
    canonicalize({
      identities: keystore.entries().map((entry) => ({
        did: entry.identity.did,
        seed: entry.identity.export().seed,
        label: entry.label,
        chain: entry.chain,
        createdAt: entry.createdAt
      }))
    }),
    'utf8'
  )
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(associatedData(header))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
  plaintext.fill(0)
  key.fill(0)
  const file: KeystoreFile = { ...header, check: toBase64url(check), ciphertext: toBase64url(ciphertext) }
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, 'utf8')
}

function parseFile(bytes: Uint8Array | string): KeystoreFile {
  const corrupt = (reason: string): never => {
    throw new KeystoreCorruptError(reason)
  }
  if ((typeof bytes === 'string' ? bytes.length : bytes.byteLength) > MAX_KEYSTORE_BYTES) corrupt('larger than 16 MiB')
  let text: string
  try {
    text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return corrupt('not UTF-8 text')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return corrupt('not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return corrupt('not a JSON object')
  const file = value as Record<string, unknown>
  if (file.format !== KEYSTORE_FORMAT) corrupt(`not a ${KEYSTORE_FORMAT} file`)
  if (file.v !== KEYSTORE_VERSION) {
    if (typeof file.v === 'number' && Number.isSafeInteger(file.v) && file.v > KEYSTORE_VERSION) throw new KeystoreVersionError(file.v, KEYSTORE_VERSION)
    corrupt('no valid format version')
  }
  const kdf = file.kdf as Record<string, unknown> | null
  if (typeof kdf !== 'object' || kdf === null || kdf.name !== 'scrypt') return corrupt('the KDF is not scrypt')
  const { N, r, p } = kdf
  if (typeof N !== 'number' || !Number.isSafeInteger(N) || N < SCRYPT_LIMITS.minN || N > SCRYPT_LIMITS.maxN || (N & (N - 1)) !== 0) corrupt('scrypt N out of bounds')
  if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 1 || r > SCRYPT_LIMITS.maxR) corrupt('scrypt r out of bounds')
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 1 || p > SCRYPT_LIMITS.maxP) corrupt('scrypt p out of bounds')
  if (128 * (N as number) * (r as number) * (p as number) > SCRYPT_LIMITS.maxMemory) corrupt('scrypt parameters need more than 256 MiB')
  const salt = typeof kdf.salt === 'string' ? fromBase64url(kdf.salt) : undefined
  if (salt === undefined || salt.length < 16 || salt.length > 64) corrupt('scrypt salt is not 16 to 64 bytes of base64url')
  const cipher = file.cipher as Record<string, unknown> | null
  if (typeof cipher !== 'object' || cipher === null || cipher.name !== 'aes-256-gcm') return corrupt('the cipher is not aes-256-gcm')
  if (typeof cipher.iv !== 'string' || fromBase64url(cipher.iv)?.length !== 12) corrupt('the IV is not 12 bytes of base64url')
  if (typeof file.check !== 'string' || fromBase64url(file.check)?.length !== 32) corrupt('the passphrase check is not 32 bytes of base64url')
  const ciphertext = typeof file.ciphertext === 'string' ? fromBase64url(file.ciphertext) : undefined
  if (ciphertext === undefined || ciphertext.length < TAG_BYTES) corrupt('the ciphertext is not base64url with an authentication tag')
  for (const key of Object.keys(file)) if (!['format', 'v', 'kdf', 'cipher', 'check', 'ciphertext'].includes(key)) corrupt(`unknown field ${JSON.stringify(key.slice(0, 40))}`)
  for (const key of Object.keys(kdf)) if (!['name', 'N', 'r', 'p', 'salt'].includes(key)) corrupt('unknown KDF parameter')
  for (const key of Object.keys(cipher)) if (!['name', 'iv'].includes(key)) corrupt('unknown cipher parameter')
  return file as unknown as KeystoreFile
}

function restore(plaintext: Buffer): Keystore {
  let body: unknown
  try {
    body = JSON.parse(plaintext.toString('utf8'))
  } catch {
    throw new KeystoreCorruptError('the decrypted contents are not JSON')
  }
  const identities = (body as { identities?: unknown } | null)?.identities
  if (!Array.isArray(identities)) throw new KeystoreCorruptError('the decrypted contents hold no identity list')
  const keystore = new MemoryKeystore()
  identities.forEach((value: unknown, index: number) => {
    const record = value as { did?: unknown; seed?: unknown; label?: unknown; chain?: unknown; createdAt?: unknown } | null
    if (typeof record !== 'object' || record === null) throw new KeystoreCorruptError(`identity ${index} is not an object`)
    if (record.label !== undefined && typeof record.label !== 'string') throw new KeystoreCorruptError(`identity ${index} has a label that is not a string`)
    if (typeof record.createdAt !== 'number' || !Number.isFinite(record.createdAt)) throw new KeystoreCorruptError(`identity ${index} has no creation time`)
    if (record.chain !== undefined && !Array.isArray(record.chain)) throw new KeystoreCorruptError(`identity ${index} has a chain that is not a list`)
    try {
      const identity = importIdentity({ v: 1, kty: 'ed25519', did: record.did as string, seed: record.seed as string })
      const options: KeystoreAddOptions = { createdAt: record.createdAt }
      if (record.label !== undefined) options.label = record.label
      if (record.chain !== undefined) options.chain = record.chain as Delegation[]
      keystore.add(identity, options)
    } catch (err) {
      if (err instanceof InvalidKeyError) throw new KeystoreCorruptError(`identity ${index}: its seed does not match its did`, { cause: err })
      if (err instanceof SquidError) throw new KeystoreCorruptError(`identity ${index}: ${err.message}`, { cause: err })
      throw err
    }
  })
  return keystore
}

/**
 * Decrypts a sealed keystore.
 *
 * @throws {@link KeystorePassphraseError} when the passphrase is wrong (or the KDF header was altered);
 * {@link KeystoreCorruptError} when the bytes are not a keystore or were tampered with;
 * {@link KeystoreVersionError} for a newer format.
 */
export async function openKeystore(bytes: Uint8Array | string, passphrase: string | Uint8Array): Promise<Keystore> {
  const file = parseFile(bytes)
  const secret = passphraseBytes(passphrase)
  const salt = fromBase64url(file.kdf.salt) as Uint8Array
  let derived: { key: Buffer; check: Buffer }
  try {
    derived = await deriveKeys(secret, salt, { N: file.kdf.N, r: file.kdf.r, p: file.kdf.p })
  } catch (err) {
    throw new KeystoreCorruptError('scrypt refused the parameters', { cause: err })
  } finally {
    secret.fill(0)
  }
  const { key, check } = derived
  if (!timingSafeEqual(check, fromBase64url(file.check) as Uint8Array)) {
    key.fill(0)
    throw new KeystorePassphraseError()
  }
  const ciphertext = fromBase64url(file.ciphertext) as Uint8Array
  let plaintext: Buffer
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, fromBase64url(file.cipher.iv) as Uint8Array, { authTagLength: TAG_BYTES })
    decipher.setAAD(associatedData(file))
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES))
    plaintext = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES)), decipher.final()])
  } catch (err) {
    throw new KeystoreCorruptError('the ciphertext or its header was tampered with (authentication failed)', { cause: err })
  } finally {
    key.fill(0)
  }
  try {
    return restore(plaintext)
  } finally {
    plaintext.fill(0)
  }
}

/**
 * Seals a keystore and writes it to `path` atomically (temporary file, fsync, rename) with mode 0600.
 *
 * @throws as {@link sealKeystore}, and the file system's errors.
 */
export async function saveKeystore(path: string, keystore: Keystore, passphrase: string | Uint8Array, init: KeystoreSealInit = {}): Promise<void> {
  await writeFileAtomic(path, await sealKeystore(keystore, passphrase, init), 0o600)
}

/**
 * Reads and decrypts the keystore at `path`.
 *
 * @throws as {@link openKeystore}, and the file system's errors (`ENOENT` when there is no file).
 */
export async function loadKeystore(path: string, passphrase: string | Uint8Array): Promise<Keystore> {
  const handle = await open(path, 'r')
  let bytes: Buffer
  try {
    if ((await handle.stat()).size > MAX_KEYSTORE_BYTES) throw new KeystoreCorruptError('larger than 16 MiB')
    bytes = await handle.readFile()
  } finally {
    await handle.close()
  }
  return openKeystore(bytes, passphrase)
}
