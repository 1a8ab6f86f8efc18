/** What an index record describes. */
export type IndexRecordKind = 'flow' | 'flow-version' | 'execution' | (string & {})

/** One record of the metadata index. */
export interface IndexRecord {
  /** The record's key (a flow id, `flowId@version`, an execution id). */
  readonly key: string
  /** What it describes. */
  readonly kind: IndexRecordKind
  /** The owning identity. */
  readonly owner: string
  /** The DAO subnet. */
  readonly subnet?: string
  /** Searchable name. */
  readonly name?: string
  /** Searchable description. */
  readonly description?: string
  /** Tags. */
  readonly tags?: readonly string[]
  /** Category. */
  readonly category?: string
  /** Status (`active`, `running`, `completed`, ...). */
  readonly status?: string
  /** Content hash (CID) of what the record describes. */
  readonly contentHash?: string
  /** Archived records stay searchable. */
  readonly archived?: boolean
  /** Creation time, ms since the epoch. */
  readonly createdAt: number
  /** Last change, ms since the epoch. */
  readonly updatedAt: number
  /** Extra facts stored with the record, not indexed. */
  readonly attributes?: Readonly<Record<string, unknown>>
}

/** A query over the index; every given criterion must hold. */
export interface IndexQuery {
  readonly kind?: IndexRecordKind
  readonly owner?: string
  readonly subnet?: string
  /** Records carrying every one of these tags. */
  readonly tagsAll?: readonly string[]
  /** Records carrying at least one of these tags. */
  readonly tagsAny?: readonly string[]
  readonly category?: string
  readonly status?: string
  /** Full-text search over name and description. */
  readonly text?: string
  /** Updated at or after, ms since the epoch. */
  readonly updatedFrom?: number
  /** Updated before, ms since the epoch. */
  readonly updatedTo?: number
  /** Whether archived records are included. Default true: archived records stay searchable. */
  readonly includeArchived?: boolean
  /** Sort field and order. Default `updatedAt` descending. */
  readonly sort?: { readonly field: 'updatedAt' | 'createdAt' | 'name' | 'key'; readonly order: 'asc' | 'desc' }
  /** Page size. */
  readonly limit?: number
  /** The cursor a previous page returned. */
  readonly cursor?: string
}

/** One page of query results. */
export interface IndexPage {
  readonly records: readonly IndexRecord[]
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string
}

/** Qindex: the metadata index. */
export interface Qindex {
  /** Inserts or updates a record (keeping its history). */
  put(record: IndexRecord): Promise<void>
  /** Runs a query. */
  query(query: IndexQuery): Promise<IndexPage>
}
