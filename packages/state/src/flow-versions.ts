import type { Flow, FlowHash } from '@qflow/flow-schema'
import type { Signer } from '@qflow/pipeline'
import { Key } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import { asCid, bytesMatchCid, canonicalBlockBytes, decodeBlock, encodeBlock } from './codec.js'
import { FLOW_HASHES_PREFIX, FLOW_RECORD_VERSION, FLOWS_PREFIX } from './constants.js'
import { assertId } from './entry.js'
import { CorruptRecordError, FlowNotFoundError, InvalidInputError } from './errors.js'
import type { FlowRegistry, FlowVersion, FlowVersionAction, ListFlowsOptions } from './flow-registry.js'
import type { CommitJournal } from './journal.js'
import type { OperationTracker } from './operation-tracker.js'
import type { StateStorage } from './storage.js'

/** What the flow registry works with. */
export interface FlowRegistryContext {
  readonly storage: StateStorage
  readonly journal: CommitJournal
  readonly operations: OperationTracker
  readonly signer: Signer
  readonly now: () => number
}

const ACTIONS: readonly string[] = ['register', 'rollback', 'archive', 'restore']

/**
 * `@qflow/flow-schema` brings its validator, YAML parser and expression engine: load it when the
 * registry is first used, not when the state store is imported.
 */
let flowSchema: Promise<typeof import('@qflow/flow-schema')> | undefined

async function hashFlow(flow: Flow): Promise<FlowHash> {
  // Resolve the module once: each `import()` goes through the module loader again (and through
  // its hooks thread under a loader such as tsx), measured at ~3% of the engine's CPU.
  flowSchema ??= import('@qflow/flow-schema')
  const { flowHash } = await flowSchema
  return flowHash(flow)
}

function flowKey(flowId: string): Key {
  return new Key(`${FLOWS_PREFIX}/${flowId}`)
}

function hashKey(hash: string): Key {
  return new Key(`${FLOW_HASHES_PREFIX}/${hash}`)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function parseVersion(cid: CID, value: unknown): FlowVersion | undefined {
  if (!isRecord(value) || value['v'] !== FLOW_RECORD_VERSION) return undefined
  const { flowId, revision, action, flowHash: hash, flow, flowVersion, archived, rolledBackTo, prev, actor, ts } = value
  const flowCid = asCid(flow)
  const prevCid = prev === null ? null : asCid(prev)
  if (flowCid === undefined || prevCid === undefined) return undefined
  if (typeof flowId !== 'string' || !Number.isSafeInteger(revision) || typeof action !== 'string' || !ACTIONS.includes(action)) return undefined
  if (typeof hash !== 'string' || typeof flowVersion !== 'string' || typeof archived !== 'boolean') return undefined
  if (typeof actor !== 'string' || !Number.isSafeInteger(ts)) return undefined
  if (rolledBackTo !== undefined && !Number.isSafeInteger(rolledBackTo)) return undefined
  return {
    cid,
    flowId,
    revision: revision as number,
    action: action as FlowVersionAction,
    flowHash: hash,
    flow: flowCid,
    flowVersion,
    archived,
    ...(rolledBackTo === undefined ? {} : { rolledBackTo: rolledBackTo as number }),
    prev: prevCid,
    actor,
    ts: ts as number
  }
}

/** Flows whose current version is kept in memory. */
const FLOW_CACHE_SIZE = 10_000
/** Version records kept in memory. */
const VERSION_CACHE_SIZE = 10_000
/** Flow documents kept in memory. */
const DOCUMENT_CACHE_SIZE = 1_000

/** Sets `key` in an insertion-ordered map, forgetting the oldest entry past `capacity`. */
function remember<V>(map: Map<string, V>, key: string, value: V, capacity: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > capacity) map.delete(map.keys().next().value as string)
}

/** Freezes a decoded document and everything in it (bytes excepted: typed arrays cannot be frozen). */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value
  for (const member of Object.values(value)) deepFreeze(member)
  return Object.freeze(value)
}

/** The flow registry over a blockstore, a datastore and the commit journal. */
export class ContentAddressedFlowRegistry implements FlowRegistry {
  private readonly ctx: FlowRegistryContext
  private readonly locks = new Map<string, Promise<void>>()
  /**
   * The current version of each flow this registry has read or written. Every write of a flow's
   * head goes through {@link record} (the data directory is held by one process), which updates
   * it; starting an execution then reads no block.
   */
  private readonly heads = new Map<string, FlowVersion>()
  /**
   * Version records by CID, and flow documents by `<cid> <flowHash>` (the pairing checked), read
   * and checked once: content addressing makes them immutable.
   */
  private readonly versions = new Map<string, FlowVersion>()
  private readonly documents = new Map<string, Flow>()

  constructor(ctx: FlowRegistryContext) {
    this.ctx = ctx
  }

  register(flow: Flow): Promise<FlowVersion> {
    return this.ctx.operations.track(this.registerNow(flow))
  }

  private async registerNow(flow: Flow): Promise<FlowVersion> {
    if (flow === null || typeof flow !== 'object' || Array.isArray(flow)) throw new InvalidInputError('Expected a flow document')
    assertId(flow.id, '/id')
    if (typeof flow.version !== 'string' || flow.version.length === 0) throw new InvalidInputError('Expected a version string', '/version')
    let hash: FlowHash
    let doc: ReturnType<typeof encodeBlock>
    try {
      hash = await hashFlow(flow)
      doc = encodeBlock(flow)
    } catch (err) {
      throw new InvalidInputError(`The flow cannot be hashed or stored: ${(err as Error).message}`)
    }
    return this.withLock(flow.id, async () => {
      const current = await this.current(flow.id)
      if (current !== undefined && current.flowHash === hash && !current.archived) return current
      return this.record(flow.id, current, { action: 'register', flowHash: hash, flow: doc.cid, flowVersion: flow.version, archived: false }, [doc])
    })
  }

  async current(flowId: string): Promise<FlowVersion | undefined> {
    assertId(flowId, '/flowId')
    const known = this.heads.get(flowId)
    if (known !== undefined) return known
    const key = flowKey(flowId)
    const stored = await this.ctx.storage.readRecord(key)
    if (stored === undefined) return undefined
    let cid: CID | undefined
    try {
      const value = decodeBlock(stored)
      cid = isRecord(value) ? asCid(value['head']) : undefined
    } catch (err) {
      throw new CorruptRecordError(key.toString(), 'not dag-json', err)
    }
    if (cid === undefined) throw new CorruptRecordError(key.toString(), 'not a flow head record')
    const version = await this.readVersion(cid)
    remember(this.heads, flowId, version, FLOW_CACHE_SIZE)
    return version
  }

  async get(flowId: string, options: { readonly revision?: number } = {}): Promise<{ readonly version: FlowVersion; readonly flow: Flow }> {
    let version = await this.current(flowId)
    if (version === undefined) throw new FlowNotFoundError(flowId)
    if (options.revision !== undefined) {
      const wanted = options.revision
      while (version.revision !== wanted) {
        if (version.prev === null || version.revision < wanted) throw new FlowNotFoundError(flowId, wanted)
        version = await this.readVersion(version.prev)
      }
    }
    return { version, flow: await this.readFlow(version.flow, version.flowHash) }
  }

  async getByHash(hash: FlowHash): Promise<Flow> {
    if (typeof hash !== 'string' || !/^[a-z0-9]{1,128}$/.test(hash)) throw new InvalidInputError('Expected a flow hash (a CID string)', '/flowHash')
    const key = hashKey(hash)
    const stored = await this.ctx.storage.readRecord(key)
    if (stored === undefined) throw new FlowNotFoundError(hash)
    let cid: CID | undefined
    try {
      const value = decodeBlock(stored)
      cid = isRecord(value) ? asCid(value['flow']) : undefined
    } catch (err) {
      throw new CorruptRecordError(key.toString(), 'not dag-json', err)
    }
    if (cid === undefined) throw new CorruptRecordError(key.toString(), 'not a flow hash record')
    return this.readFlow(cid, hash)
  }

  async *history(flowId: string): AsyncGenerator<FlowVersion> {
    let version = await this.current(flowId)
    if (version === undefined) throw new FlowNotFoundError(flowId)
    while (true) {
      yield version
      if (version.prev === null) return
      version = await this.readVersion(version.prev)
    }
  }

  rollback(flowId: string, revision: number): Promise<FlowVersion> {
    return this.ctx.operations.track(this.rollbackNow(flowId, revision))
  }

  private async rollbackNow(flowId: string, revision: number): Promise<FlowVersion> {
    assertId(flowId, '/flowId')
    if (!Number.isSafeInteger(revision) || revision < 1) throw new InvalidInputError('Expected a revision from 1', '/revision')
    return this.withLock(flowId, async () => {
      const { version: target } = await this.get(flowId, { revision })
      const current = (await this.current(flowId)) as FlowVersion
      return this.record(
        flowId,
        current,
        { action: 'rollback', flowHash: target.flowHash, flow: target.flow, flowVersion: target.flowVersion, archived: current.archived, rolledBackTo: revision },
        []
      )
    })
  }

  archive(flowId: string): Promise<FlowVersion> {
    return this.ctx.operations.track(this.setArchived(flowId, true))
  }

  restore(flowId: string): Promise<FlowVersion> {
    return this.ctx.operations.track(this.setArchived(flowId, false))
  }

  async list(options: ListFlowsOptions = {}): Promise<FlowVersion[]> {
    const versions: FlowVersion[] = []
    for await (const key of this.ctx.storage.datastore.queryKeys({ prefix: FLOWS_PREFIX })) {
      const version = await this.current(key.baseNamespace())
      if (version !== undefined && (options.includeArchived === true || !version.archived)) versions.push(version)
    }
    return versions.sort((a, b) => (a.flowId < b.flowId ? -1 : a.flowId > b.flowId ? 1 : 0))
  }

  private async setArchived(flowId: string, archived: boolean): Promise<FlowVersion> {
    assertId(flowId, '/flowId')
    return this.withLock(flowId, async () => {
      const current = await this.current(flowId)
      if (current === undefined) throw new FlowNotFoundError(flowId)
      if (current.archived === archived) return current
      return this.record(
        flowId,
        current,
        { action: archived ? 'archive' : 'restore', flowHash: current.flowHash, flow: current.flow, flowVersion: current.flowVersion, archived },
        []
      )
    })
  }

  private async record(
    flowId: string,
    current: FlowVersion | undefined,
    fields: { action: FlowVersionAction; flowHash: string; flow: CID; flowVersion: string; archived: boolean; rolledBackTo?: number },
    blocks: ReturnType<typeof encodeBlock>[]
  ): Promise<FlowVersion> {
    const unsigned = {
      v: FLOW_RECORD_VERSION,
      flowId,
      revision: current === undefined ? 1 : current.revision + 1,
      ...fields,
      prev: current === undefined ? null : current.cid,
      actor: this.ctx.signer.did,
      ts: this.ctx.now()
    }
    const signature = await this.ctx.signer.sign(canonicalBlockBytes(unsigned))
    const block = encodeBlock({ ...unsigned, signature })
    await this.ctx.operations.track(this.ctx.journal.commit({
      blocks: [...blocks, block],
      puts: [
        { key: flowKey(flowId).toString(), value: canonicalBlockBytes({ v: 1, head: block.cid }) },
        { key: hashKey(fields.flowHash).toString(), value: canonicalBlockBytes({ v: 1, flow: fields.flow }) }
      ]
    }))
    const version = Object.freeze(parseVersion(block.cid, unsigned) as FlowVersion)
    remember(this.heads, flowId, version, FLOW_CACHE_SIZE)
    return version
  }

  private async readVersion(cid: CID): Promise<FlowVersion> {
    const id = cid.toString()
    const known = this.versions.get(id)
    if (known !== undefined) return known
    const bytes = await this.ctx.storage.readBlock(cid)
    if (bytes === undefined) throw new CorruptRecordError(cid.toString(), 'the version record block is missing')
    if (!bytesMatchCid(cid, bytes)) throw new CorruptRecordError(cid.toString(), 'the version record does not hash to its CID')
    let version: FlowVersion | undefined
    try {
      version = parseVersion(cid, decodeBlock(bytes))
    } catch (err) {
      throw new CorruptRecordError(cid.toString(), 'not dag-json', err)
    }
    if (version === undefined) throw new CorruptRecordError(cid.toString(), 'not a flow version record')
    remember(this.versions, id, Object.freeze(version), VERSION_CACHE_SIZE)
    return version
  }

  private async readFlow(cid: CID, hash: FlowHash): Promise<Flow> {
    const pair = `${cid.toString()} ${hash}`
    const known = this.documents.get(pair)
    if (known !== undefined) return known
    const bytes = await this.ctx.storage.readBlock(cid)
    if (bytes === undefined) throw new CorruptRecordError(cid.toString(), 'the flow document block is missing')
    if (!bytesMatchCid(cid, bytes)) throw new CorruptRecordError(cid.toString(), 'the flow document does not hash to its CID')
    let flow: Flow
    try {
      flow = decodeBlock(bytes) as Flow
    } catch (err) {
      throw new CorruptRecordError(cid.toString(), 'not dag-json', err)
    }
    if ((await hashFlow(flow)) !== hash) throw new CorruptRecordError(cid.toString(), `the flow document does not hash to ${hash}`)
    // Shared by every caller from now on: frozen, so no caller can change what others read.
    remember(this.documents, pair, deepFreeze(flow), DOCUMENT_CACHE_SIZE)
    return flow
  }

  private async withLock<T>(flowId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(flowId) ?? Promise.resolve()
    const run = previous.then(fn)
    const tail = run.then(
      () => undefined,
      () => undefined
    )
    this.locks.set(flowId, tail)
    try {
      return await run
    } finally {
      if (this.locks.get(flowId) === tail) this.locks.delete(flowId)
    }
  }
}
