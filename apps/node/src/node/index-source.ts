import type { IndexRecord } from '@qflow/pipeline'
import { startOf } from '@qflow/scheduler'
import type { StateStore } from '@qflow/state'

interface StartedFacts {
  flowId?: string
  flowVersion?: string
  flowHash?: string
  actor?: string
}

/**
 * Every Qindex record the state store implies: one per flow (its current version) and one per
 * execution. Qindex rebuilds a missing or corrupt database from it, so the index stays a view.
 */
export async function* indexRecordsOf(store: Pick<StateStore, 'flows' | 'log'>, subnet: string): AsyncIterable<IndexRecord> {
  for (const version of await store.flows.list({ includeArchived: true })) {
    const { flow } = await store.flows.get(version.flowId)
    const doc = flow as unknown as { owner?: string; name?: string; description?: string; metadata?: { tags?: unknown; category?: unknown; daoSubnet?: unknown } }
    const metadata = doc.metadata ?? {}
    yield {
      key: version.flowId,
      kind: 'flow',
      owner: doc.owner ?? '',
      subnet: typeof metadata.daoSubnet === 'string' ? metadata.daoSubnet : subnet,
      name: doc.name ?? version.flowId,
      description: typeof doc.description === 'string' ? doc.description : '',
      tags: Array.isArray(metadata.tags) ? metadata.tags.filter((t): t is string => typeof t === 'string') : [],
      category: typeof metadata.category === 'string' ? metadata.category : '',
      status: version.archived ? 'archived' : 'active',
      archived: version.archived,
      contentHash: version.flowHash,
      createdAt: version.ts,
      updatedAt: version.ts,
      attributes: { version: version.flowVersion }
    }
  }
  for (const head of await store.log.listExecutions()) {
    let started: StartedFacts = {}
    for await (const entry of store.log.entries(head.executionId)) {
      // `started`, or the final entry of a run that ended at once, carrying its start.
      started = (startOf(entry)?.payload ?? {}) as StartedFacts
      break
    }
    const record: IndexRecord = {
      key: head.executionId,
      kind: 'execution',
      owner: started.actor ?? '',
      subnet: head.subnet,
      name: started.flowId ?? head.executionId,
      status: head.status,
      createdAt: head.startedAt,
      updatedAt: head.updatedAt,
      attributes: { flowId: started.flowId, flowVersion: started.flowVersion }
    }
    yield started.flowHash === undefined ? record : { ...record, contentHash: started.flowHash }
  }
}
