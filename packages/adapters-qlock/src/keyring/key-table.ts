import { createSecretKey, randomBytes, randomFillSync } from 'node:crypto'
import { KEY_LENGTH, MAX_KID_LENGTH } from '../constants.js'
import { InvalidArgumentError, KeyDestroyedError, UnknownKeyError } from '../errors.js'
import type { DataKey, SubnetKeyInfo, SubnetKeyStatus } from './keyring.js'

/** One key as the keyring holds it: its facts, and its material unless destroyed. */
export interface KeyEntry {
  readonly info: SubnetKeyInfo
  /** The raw key, kept to write the keyring file; absent once destroyed. */
  readonly material?: Buffer
  /** The key as handed to Qlock, made once when the entry is made. */
  readonly dataKey?: DataKey
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Checks a subnet name given to a keyring; throws {@link InvalidArgumentError}. */
export function assertSubnet(subnet: unknown): asserts subnet is string {
  if (typeof subnet !== 'string' || subnet === '') throw new InvalidArgumentError('A subnet is a non-empty string', 'subnet')
  if (LONE_SURROGATE.test(subnet)) throw new InvalidArgumentError('The subnet holds a lone UTF-16 surrogate', 'subnet')
}

/** Checks a key id given to a keyring; throws {@link InvalidArgumentError}. */
export function assertKid(kid: unknown): asserts kid is string {
  if (typeof kid !== 'string' || kid === '' || Buffer.byteLength(kid, 'utf8') > MAX_KID_LENGTH || LONE_SURROGATE.test(kid)) {
    throw new InvalidArgumentError(`A key id is a non-empty string of at most ${MAX_KID_LENGTH} UTF-8 bytes`, 'kid')
  }
}

/** Builds an entry, making its KeyObject now so later zeroing of `material` cannot affect it. */
export function makeEntry(info: SubnetKeyInfo, material?: Buffer): KeyEntry {
  if (material === undefined) return { info }
  return { info, material, dataKey: { kid: info.kid, subnet: info.subnet, key: createSecretKey(material) } }
}

function withStatus(info: SubnetKeyInfo, status: SubnetKeyStatus, at: number): SubnetKeyInfo {
  if (status === 'retired') return { ...info, status, retiredAt: at }
  if (status === 'destroyed') return { ...info, status, destroyedAt: at }
  return { ...info, status }
}

/**
 * The keys of a keyring, copied on write: a mutation works on a {@link KeyTable.clone} that
 * replaces the live table only once persisted, so a failed write leaves the live table as it was.
 */
export class KeyTable {
  /** Entries by key id, in creation order. */
  readonly entries: Map<string, KeyEntry>
  /** The active entry of each subnet. */
  private readonly activeBySubnet: Map<string, KeyEntry>
  /** Material this table's mutations dropped, to zero once the table is committed. */
  readonly dropped: Buffer[] = []

  constructor(entries: Map<string, KeyEntry> = new Map()) {
    this.entries = entries
    this.activeBySubnet = new Map()
    for (const entry of entries.values()) {
      if (entry.info.status === 'active') this.activeBySubnet.set(entry.info.subnet, entry)
    }
  }

  /** A copy to mutate. */
  clone(): KeyTable {
    return new KeyTable(new Map(this.entries))
  }

  /** The subnet's active entry, if any. */
  active(subnet: string): KeyEntry | undefined {
    return this.activeBySubnet.get(subnet)
  }

  /** The usable key `kid`; throws {@link UnknownKeyError} or {@link KeyDestroyedError}. */
  dataKey(kid: string): DataKey {
    const entry = this.entries.get(kid)
    if (entry === undefined) throw new UnknownKeyError(kid)
    if (entry.dataKey === undefined) throw new KeyDestroyedError(kid, entry.info.destroyedAt)
    return entry.dataKey
  }

  /** The entry `kid`; throws {@link UnknownKeyError}. */
  entry(kid: string): KeyEntry {
    const entry = this.entries.get(kid)
    if (entry === undefined) throw new UnknownKeyError(kid)
    return entry
  }

  /** Makes a new random active key for the subnet, retiring its previous active key. */
  create(subnet: string, now: number): KeyEntry {
    const previous = this.activeBySubnet.get(subnet)
    if (previous !== undefined) this.replace(makeEntryFrom(previous, withStatus(previous.info, 'retired', now)))
    let kid = randomBytes(12).toString('base64url')
    while (this.entries.has(kid)) kid = randomBytes(12).toString('base64url')
    const material = randomFillSync(Buffer.alloc(KEY_LENGTH))
    const entry = makeEntry({ kid, subnet, status: 'active', createdAt: now }, material)
    this.replace(entry)
    return entry
  }

  /** Retires `kid` if active; returns whether anything changed. */
  retire(kid: string, now: number): boolean {
    const entry = this.entry(kid)
    if (entry.info.status !== 'active') return false
    this.replace(makeEntryFrom(entry, withStatus(entry.info, 'retired', now)))
    return true
  }

  /** Destroys `kid`'s material unless already destroyed; returns whether anything changed. */
  destroy(kid: string, now: number): boolean {
    const entry = this.entry(kid)
    if (entry.info.status === 'destroyed') return false
    if (entry.material !== undefined) this.dropped.push(entry.material)
    this.replace({ info: withStatus(entry.info, 'destroyed', now) })
    return true
  }

  /** Puts an entry in place of the one with its id, keeping the active index right. */
  replace(entry: KeyEntry): void {
    const { kid, subnet, status } = entry.info
    const old = this.entries.get(kid)
    this.entries.set(kid, entry)
    if (status === 'active') this.activeBySubnet.set(subnet, entry)
    else if (old !== undefined && this.activeBySubnet.get(subnet) === old) this.activeBySubnet.delete(subnet)
  }

  /** The facts of every key, or of one subnet's, oldest first. */
  list(subnet?: string): SubnetKeyInfo[] {
    const out: SubnetKeyInfo[] = []
    for (const entry of this.entries.values()) {
      if (subnet === undefined || entry.info.subnet === subnet) out.push(entry.info)
    }
    return out
  }
}

function makeEntryFrom(entry: KeyEntry, info: SubnetKeyInfo): KeyEntry {
  if (entry.material === undefined || entry.dataKey === undefined) return { info }
  return { info, material: entry.material, dataKey: entry.dataKey }
}
