import { KeyTable } from './key-table.js'
import type { SubnetKeyring } from './keyring.js'
import { TableKeyring } from './table-keyring.js'

/** Options of {@link memoryKeyring}. */
export interface MemoryKeyringInit {
  /** The clock stamped on keys, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

class MemoryKeyring extends TableKeyring {
  protected async load(): Promise<KeyTable> {
    return new KeyTable()
  }

  protected async persist(): Promise<void> {}
}

/**
 * A keyring held in memory only: the same rules as {@link fileKeyring} (rotation, retirement,
 * destruction) with nothing written anywhere. For tests and throwaway nodes; its keys, and so the
 * data under them, are gone when the process ends.
 *
 * @example
 * ```ts
 * const keyring = memoryKeyring()
 * const key = await keyring.activeKey('subnet-a')
 * ```
 */
export function memoryKeyring(init: MemoryKeyringInit = {}): SubnetKeyring {
  return new MemoryKeyring(init.now ?? Date.now)
}
