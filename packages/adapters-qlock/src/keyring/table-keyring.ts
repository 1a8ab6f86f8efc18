import { assertKid, assertSubnet, type KeyTable } from './key-table.js'
import type { DataKey, SubnetKeyInfo, SubnetKeyring } from './keyring.js'

/**
 * The keyring logic both embedded keyrings share: reads go to the live table without waiting;
 * mutations run one at a time on a copy, which replaces the live table only once
 * {@link TableKeyring.persist} has returned. Material dropped by a committed mutation is zeroed.
 */
export abstract class TableKeyring implements SubnetKeyring {
  private table: KeyTable | undefined
  private loading: Promise<KeyTable> | undefined
  private queue: Promise<unknown> = Promise.resolve()

  constructor(protected readonly now: () => number) {}

  /** Reads the table from where it is kept (an empty one when nothing is kept yet). */
  protected abstract load(): Promise<KeyTable>

  /** Keeps `table` durably before it becomes the live table. */
  protected abstract persist(table: KeyTable): Promise<void>

  /** The live table, loading it on first use. */
  protected loaded(): Promise<KeyTable> {
    if (this.table !== undefined) return Promise.resolve(this.table)
    if (this.loading === undefined) {
      this.loading = this.load().then(
        (table) => {
          this.table = table
          return table
        },
        (err: unknown) => {
          this.loading = undefined
          throw err
        }
      )
    }
    return this.loading
  }

  /** Forgets the live table (zeroing its material); the next call loads it again. */
  protected async unload(): Promise<void> {
    await this.queue
    const table = this.table
    this.table = undefined
    this.loading = undefined
    if (table !== undefined) for (const entry of table.entries.values()) entry.material?.fill(0)
  }

  /** Runs `change` on a copy of the table; persists and commits the copy when `change` returns `changed`. */
  private mutate<T>(change: (table: KeyTable) => { changed: boolean; result: T }): Promise<T> {
    const run = this.queue.then(async () => {
      const next = (await this.loaded()).clone()
      const { changed, result } = change(next)
      if (changed) {
        await this.persist(next)
        this.table = next
        for (const material of next.dropped) material.fill(0)
      }
      return result
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  async activeKey(subnet: string): Promise<DataKey> {
    assertSubnet(subnet)
    const active = (this.table ?? (await this.loaded())).active(subnet)
    if (active?.dataKey !== undefined) return active.dataKey
    return this.mutate((table) => {
      const current = table.active(subnet)
      if (current?.dataKey !== undefined) return { changed: false, result: current.dataKey }
      const entry = table.create(subnet, this.now())
      return { changed: true, result: entry.dataKey as DataKey }
    })
  }

  async key(kid: string): Promise<DataKey> {
    assertKid(kid)
    return (this.table ?? (await this.loaded())).dataKey(kid)
  }

  async rotate(subnet: string): Promise<SubnetKeyInfo> {
    assertSubnet(subnet)
    return this.mutate((table) => ({ changed: true, result: table.create(subnet, this.now()).info }))
  }

  async retire(kid: string): Promise<SubnetKeyInfo> {
    assertKid(kid)
    return this.mutate((table) => {
      const changed = table.retire(kid, this.now())
      return { changed, result: table.entry(kid).info }
    })
  }

  async destroy(kid: string): Promise<SubnetKeyInfo> {
    assertKid(kid)
    return this.mutate((table) => {
      const changed = table.destroy(kid, this.now())
      return { changed, result: table.entry(kid).info }
    })
  }

  async list(subnet?: string): Promise<SubnetKeyInfo[]> {
    if (subnet !== undefined) assertSubnet(subnet)
    return (await this.loaded()).list(subnet)
  }
}
