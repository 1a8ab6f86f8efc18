import type { Flow, FlowHash } from '@qflow/flow-schema'
import type { CID } from 'multiformats/cid'

/** What a registry version did. */
export type FlowVersionAction = 'register' | 'rollback' | 'archive' | 'restore'

/** One version of a flow in the registry (a signed dag-json block linking the previous version). */
export interface FlowVersion {
  /** The version record's CID. */
  readonly cid: CID
  /** The flow id. */
  readonly flowId: string
  /** Registry revision, from 1, one per record. */
  readonly revision: number
  /** What this revision did. */
  readonly action: FlowVersionAction
  /** `flowHash` of the flow document current at this revision. */
  readonly flowHash: FlowHash
  /** CID of the flow document's dag-json block. */
  readonly flow: CID
  /** The document's own `version` (semver). */
  readonly flowVersion: string
  /** Whether the flow is archived at this revision. */
  readonly archived: boolean
  /** For a rollback: the revision whose document it restored. */
  readonly rolledBackTo?: number
  /** The previous revision's record, `null` for the first. */
  readonly prev: CID | null
  /** Who recorded it. */
  readonly actor: string
  /** When, ms since the epoch. */
  readonly ts: number
}

/** Options for {@link FlowRegistry.list}. */
export interface ListFlowsOptions {
  /** Include archived flows. Default false. */
  readonly includeArchived?: boolean
}

/**
 * Flow versions by content hash. Each flow has a history chain of signed version records;
 * a rollback is a new version pointing at earlier content; archived flows stay retrievable.
 */
export interface FlowRegistry {
  /** Stores a flow document as a new version of `flow.id` (unchanged content returns the current version). */
  register(flow: Flow): Promise<FlowVersion>
  /** The current version of a flow, or `undefined`. */
  current(flowId: string): Promise<FlowVersion | undefined>
  /** A flow document and its version record: the current one, or `revision`. */
  get(flowId: string, options?: { readonly revision?: number }): Promise<{ readonly version: FlowVersion; readonly flow: Flow }>
  /** A flow document by its `flowHash`. */
  getByHash(hash: FlowHash): Promise<Flow>
  /** The flow's versions, newest first. */
  history(flowId: string): AsyncIterable<FlowVersion>
  /** Makes the document of `revision` current again, as a new version. */
  rollback(flowId: string, revision: number): Promise<FlowVersion>
  /** Marks the flow archived (kept and retrievable, left out of `list` by default). */
  archive(flowId: string): Promise<FlowVersion>
  /** Clears the archive flag. */
  restore(flowId: string): Promise<FlowVersion>
  /** The current version of every flow, ordered by id. */
  list(options?: ListFlowsOptions): Promise<FlowVersion[]>
}
