import { canonicalize } from '@qflow/canonical-json'
import type { Signer } from '@qflow/pipeline'
import { JsonFileWriter, readTextIfExists } from './atomic-file.js'
import { REVOCATION_LIST_SIGNING_PREFIX, REVOCATIONS_FORMAT } from './constants.js'
import type { RevocationCheck } from './delegation.js'
import { assertIdentifier } from './did.js'
import { fromBase64url, toBase64url } from './encoding.js'
import { InvalidDelegationIdError, InvalidSignatureError, RevocationListError, RevocationStoreCorruptError } from './errors.js'
import { ed25519Verify, type KeyResolver, PublicKeys } from './keys.js'

const DELEGATION_ID = /^sha256-[A-Za-z0-9_-]{43}$/
const MAX_REASON_LENGTH = 512
const MAX_LIST_ENTRIES = 1_000_000

/** Whether `id` has the form of a delegation id (`sha256-` + 43 base64url characters). */
export function isDelegationId(id: unknown): id is string {
  return typeof id === 'string' && DELEGATION_ID.test(id)
}

/** One revoked delegation. */
export interface RevocationEntry {
  /** The revoked delegation's id. */
  readonly id: string
  /** When it was revoked here, ms since the epoch. */
  readonly revokedAt: number
  /** Why, for people. */
  readonly reason?: string
  /** The issuer of the signed list it was imported from, when it came from one. */
  readonly source?: string
}

/** Called once for each newly revoked delegation. */
export type RevocationListener = (entry: RevocationEntry) => void

/**
 * A revocation list signed by an identity, to hand revocations to other nodes. `proof` is the
 * issuer's ed25519 signature (base64url) over `squid-revocations/v1\n` + the canonical bytes of
 * the other fields.
 */
export interface SignedRevocationList {
  /** Format version. */
  readonly v: 1
  /** The identity that signed the list. */
  readonly issuer: string
  /** When the list was made, ms since the epoch. */
  readonly issuedAt: number
  /** The revoked delegation ids, sorted. */
  readonly revoked: readonly string[]
  /** The issuer's signature, base64url. */
  readonly proof: string
}

/** Options of {@link RevocationRegistry.importList}. */
export interface ImportRevocationListOptions {
  /** Identities whose lists are honoured. A list from anyone else is refused. */
  trusted: Iterable<string>
  /** Resolves legacy issuers' keys. */
  keys?: KeyResolver
}

/**
 * Revoked delegations. A revoked delegation fails every chain it appears in, wherever the
 * registry is consulted. Revocation takes effect in memory at once and is persisted when the
 * registry has a file.
 */
export interface RevocationRegistry extends RevocationCheck {
  /**
   * Revokes a delegation by its id ({@link delegationId}); revoking twice keeps the first entry.
   *
   * @throws {@link InvalidDelegationIdError} when `delegationId` is not an id.
   * @throws the file system's error when persisting fails (the revocation still holds in memory).
   */
  revoke(delegationId: string, reason?: string): Promise<RevocationEntry>
  /** Whether the delegation is revoked. */
  isRevoked(delegationId: string): boolean
  /** Every revocation, oldest first. */
  entries(): RevocationEntry[]
  /** How many delegations are revoked. */
  readonly size: number
  /** Calls `listener` for each revocation from now on; returns the unsubscribe function. */
  subscribe(listener: RevocationListener): () => void
  /** Every revoked id in a list signed by `signer`, for other nodes to import. */
  exportList(signer: Signer, now?: number): Promise<SignedRevocationList>
  /**
   * Verifies a signed list and revokes every id in it not yet revoked.
   *
   * @returns the new entries.
   * @throws {@link RevocationListError} (malformed or untrusted issuer), {@link InvalidSignatureError}.
   */
  importList(list: unknown, options: ImportRevocationListOptions): Promise<RevocationEntry[]>
}

/** Options of {@link createRevocationRegistry}. */
export interface RevocationRegistryInit {
  /** A file to load from and persist to (written atomically). Default none: memory only. */
  path?: string
  /** The clock stamping `revokedAt`. Default `Date.now`. */
  clock?: () => number
}

function listSigningBytes(list: Omit<SignedRevocationList, 'proof'>): Buffer {
  return Buffer.from(
    REVOCATION_LIST_SIGNING_PREFIX + canonicalize({ v: list.v, issuer: list.issuer, issuedAt: list.issuedAt, revoked: list.revoked }),
    'utf8'
  )
}

/**
 * Checks a signed revocation list's shape and signature.
 *
 * @throws {@link RevocationListError} when malformed; {@link InvalidSignatureError} when the signature does not verify.
 */
export async function verifyRevocationList(list: unknown, keys?: KeyResolver): Promise<SignedRevocationList> {
  const fail = (reason: string): never => {
    throw new RevocationListError('malformed', reason)
  }
  if (typeof list !== 'object' || list === null || Array.isArray(list)) return fail('not an object')
  const record = list as Record<string, unknown>
  for (const key of Object.keys(record)) if (!['v', 'issuer', 'issuedAt', 'revoked', 'proof'].includes(key)) fail(`unknown field ${JSON.stringify(key.slice(0, 40))}`)
  if (record.v !== 1) fail('only version 1 is known')
  try {
    assertIdentifier(record.issuer)
  } catch {
    fail('the issuer is not an identity')
  }
  if (typeof record.issuedAt !== 'number' || !Number.isSafeInteger(record.issuedAt) || record.issuedAt < 0) fail('issuedAt is not a timestamp')
  if (!Array.isArray(record.revoked) || record.revoked.length > MAX_LIST_ENTRIES || !record.revoked.every(isDelegationId)) {
    fail('revoked is not a list of delegation ids')
  }
  const signature = typeof record.proof === 'string' ? fromBase64url(record.proof) : undefined
  if (signature?.length !== 64) return fail('proof is not a 64-byte signature in base64url')
  const typed = record as unknown as SignedRevocationList
  const key = await new PublicKeys(keys).get(typed.issuer)
  if (!ed25519Verify(key, listSigningBytes(typed), signature)) throw new InvalidSignatureError(typed.issuer, 'revocation list')
  return typed
}

class MemoryRevocationRegistry implements RevocationRegistry {
  private readonly revoked = new Map<string, RevocationEntry>()
  private readonly listeners = new Set<RevocationListener>()
  private readonly clock: () => number
  private readonly file: JsonFileWriter | undefined

  constructor(path: string | undefined, clock: (() => number) | undefined, loaded: readonly RevocationEntry[]) {
    this.clock = clock ?? Date.now
    this.file = path === undefined ? undefined : new JsonFileWriter(path, 0o644)
    for (const entry of loaded) this.revoked.set(entry.id, entry)
  }

  get size(): number {
    return this.revoked.size
  }

  isRevoked(delegationId: string): boolean {
    return this.revoked.has(delegationId)
  }

  entries(): RevocationEntry[] {
    return [...this.revoked.values()]
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  async revoke(delegationId: string, reason?: string): Promise<RevocationEntry> {
    if (!isDelegationId(delegationId)) throw new InvalidDelegationIdError(delegationId)
    const existing = this.revoked.get(delegationId)
    if (existing !== undefined) return existing
    const entry = this.add(delegationId, reason === undefined ? {} : { reason: reason.slice(0, MAX_REASON_LENGTH) })
    await this.persist()
    return entry
  }

  async exportList(signer: Signer, now?: number): Promise<SignedRevocationList> {
    const unsigned = { v: 1 as const, issuer: signer.did, issuedAt: now ?? this.clock(), revoked: [...this.revoked.keys()].sort() }
    return { ...unsigned, proof: toBase64url(await signer.sign(listSigningBytes(unsigned))) }
  }

  async importList(list: unknown, options: ImportRevocationListOptions): Promise<RevocationEntry[]> {
    const verified = await verifyRevocationList(list, options.keys)
    if (!new Set(options.trusted).has(verified.issuer)) {
      throw new RevocationListError('untrusted', `${verified.issuer.slice(0, 80)} is not a trusted revocation issuer`)
    }
    const added: RevocationEntry[] = []
    for (const id of verified.revoked) {
      if (!this.revoked.has(id)) added.push(this.add(id, { source: verified.issuer }))
    }
    if (added.length > 0) await this.persist()
    return added
  }

  private add(id: string, extra: { reason?: string; source?: string }): RevocationEntry {
    const entry: RevocationEntry = Object.freeze({ id, revokedAt: this.clock(), ...extra })
    this.revoked.set(id, entry)
    for (const listener of this.listeners) {
      try {
        listener(entry)
      } catch {
        // A failing subscriber must not undo or block a revocation.
      }
    }
    return entry
  }

  private persist(): Promise<void> {
    return this.file?.write(() => ({ format: REVOCATIONS_FORMAT, v: 1, entries: [...this.revoked.values()] })) ?? Promise.resolve()
  }
}

function parseRegistryFile(path: string, text: string): RevocationEntry[] {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (err) {
    throw new RevocationStoreCorruptError(path, 'not JSON', { cause: err })
  }
  const record = body as { format?: unknown; v?: unknown; entries?: unknown } | null
  if (typeof record !== 'object' || record === null || record.format !== REVOCATIONS_FORMAT || record.v !== 1 || !Array.isArray(record.entries)) {
    throw new RevocationStoreCorruptError(path, `not a version 1 ${REVOCATIONS_FORMAT} file`)
  }
  return record.entries.map((value: unknown, index: number) => {
    const entry = value as Partial<RevocationEntry> | null
    if (
      typeof entry !== 'object' ||
      entry === null ||
      !isDelegationId(entry.id) ||
      typeof entry.revokedAt !== 'number' ||
      (entry.reason !== undefined && typeof entry.reason !== 'string') ||
      (entry.source !== undefined && typeof entry.source !== 'string')
    ) {
      throw new RevocationStoreCorruptError(path, `entry ${index} is not a revocation`)
    }
    const { id, revokedAt, reason, source } = entry
    return Object.freeze({ id, revokedAt, ...(reason === undefined ? {} : { reason }), ...(source === undefined ? {} : { source }) })
  })
}

/**
 * Opens a revocation registry: in memory, or backed by a file that is loaded now and rewritten
 * atomically on every change.
 *
 * @throws {@link RevocationStoreCorruptError} when the file exists but cannot be read as a registry.
 */
export async function createRevocationRegistry(init: RevocationRegistryInit = {}): Promise<RevocationRegistry> {
  const text = init.path === undefined ? undefined : await readTextIfExists(init.path)
  const loaded = text === undefined ? [] : parseRegistryFile(init.path as string, text)
  return new MemoryRevocationRegistry(init.path, init.clock, loaded)
}
