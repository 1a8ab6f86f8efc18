import type { KeyObject } from 'node:crypto'

/**
 * Where a subnet data key stands:
 * - `active`: encrypts new data (one per subnet at most) and opens old data;
 * - `retired`: opens old data only;
 * - `destroyed`: its material is gone; data under it no longer opens.
 */
export type SubnetKeyStatus = 'active' | 'retired' | 'destroyed'

/** The public facts of a subnet data key (never its material). */
export interface SubnetKeyInfo {
  /** The key id, written into every envelope made under the key. */
  readonly kid: string
  /** The subnet the key belongs to. */
  readonly subnet: string
  /** Where the key stands. */
  readonly status: SubnetKeyStatus
  /** When it was made, ms since the epoch. */
  readonly createdAt: number
  /** When it stopped encrypting new data (retired or rotated out), ms since the epoch. */
  readonly retiredAt?: number
  /** When its material was destroyed, ms since the epoch. */
  readonly destroyedAt?: number
}

/** A usable data key: its id, its subnet and the 256-bit key in a node:crypto secret KeyObject. */
export interface DataKey {
  /** The key id. */
  readonly kid: string
  /** The subnet the key belongs to. */
  readonly subnet: string
  /** The key itself. */
  readonly key: KeyObject
}

/**
 * Per-subnet data keys with ids and rotation. Qlock encrypts under {@link SubnetKeyring.activeKey}
 * and opens with {@link SubnetKeyring.key}. Implementations throw `UnknownKeyError` for ids they do
 * not hold and `KeyDestroyedError` for destroyed keys (callers branch on `err.name`), and persist a
 * new key before handing it out, so nothing is ever encrypted under a key that could be lost.
 */
export interface SubnetKeyring {
  /**
   * The subnet's active key. When the subnet has none (first use, or its active key was retired or
   * destroyed), a new random key is made, persisted and returned.
   */
  activeKey(subnet: string): Promise<DataKey>
  /** The key `kid`, active or retired, for opening data. */
  key(kid: string): Promise<DataKey>
  /** Makes a new active key for the subnet and retires the previous one (which still opens old data). */
  rotate(subnet: string): Promise<SubnetKeyInfo>
  /** Stops a key from encrypting new data; it still opens old data. A no-op on retired or destroyed keys. */
  retire(kid: string): Promise<SubnetKeyInfo>
  /** Removes a key's material for good; data under it then fails with `KeyDestroyedError`. Idempotent. */
  destroy(kid: string): Promise<SubnetKeyInfo>
  /** The keys of one subnet, or of all subnets, oldest first. */
  list(subnet?: string): Promise<SubnetKeyInfo[]>
}
