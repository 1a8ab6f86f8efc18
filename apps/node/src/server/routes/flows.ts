import { assertValidFlow } from '@qflow/flow-schema'
import type { IndexRecord } from '@qflow/pipeline'
import type { FlowVersion } from '@qflow/state'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, YAML_MEDIA_TYPES } from '../constants.js'
import { envelopeSchema, ok } from '../envelope.js'
import { NotFoundError } from '../errors.js'
import {
  ERROR_RESPONSES,
  flowBody,
  flowHistory,
  flowIdParams,
  flowListQuery,
  flowPage,
  flowVersion,
  flowVersionParams,
  flowWithVersion,
  rollbackBody
} from '../schemas.js'
import type { ApiRuntime } from '../server.js'
import { type FlowVersionView, flowVersionView } from '../../flow-version-view.js'


function flowSummary(record: IndexRecord): Record<string, unknown> {
  const version = record.attributes?.version
  return {
    id: record.key,
    name: record.name ?? record.key,
    ...(record.description === undefined ? {} : { description: record.description }),
    owner: record.owner,
    tags: [...(record.tags ?? [])],
    ...(record.category === undefined || record.category === '' ? {} : { category: record.category }),
    status: record.status ?? (record.archived === true ? 'archived' : 'active'),
    archived: record.archived === true,
    ...(typeof version === 'string' ? { version } : {}),
    ...(record.contentHash === undefined ? {} : { flowHash: record.contentHash }),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt
  }
}

interface FlowDoc {
  owner?: string
  name?: string
  description?: unknown
  version?: string
  metadata?: { tags?: unknown; category?: unknown; daoSubnet?: unknown }
}

/** The index record of a flow at a revision (what the engine writes on create, kept current on rollback and archive). */
function flowRecord(previous: IndexRecord | undefined, version: FlowVersion, flow: FlowDoc): IndexRecord {
  const metadata = flow.metadata ?? {}
  return {
    key: version.flowId,
    kind: 'flow',
    owner: flow.owner ?? previous?.owner ?? '',
    ...(typeof metadata.daoSubnet === 'string' ? { subnet: metadata.daoSubnet } : previous?.subnet === undefined ? {} : { subnet: previous.subnet }),
    name: flow.name ?? version.flowId,
    description: typeof flow.description === 'string' ? flow.description : '',
    tags: Array.isArray(metadata.tags) ? metadata.tags.filter((t): t is string => typeof t === 'string') : [],
    category: typeof metadata.category === 'string' ? metadata.category : '',
    status: version.archived ? 'archived' : 'active',
    archived: version.archived,
    contentHash: version.flowHash,
    createdAt: previous?.createdAt ?? version.ts,
    updatedAt: version.ts,
    attributes: { ...(previous?.attributes ?? {}), version: version.flowVersion }
  }
}

const REVISION = /^[0-9]{1,9}$/

/**
 * The flow routes under `/api/v1`: create (JSON or YAML), list and search through Qindex, get by
 * id and version, history, rollback, archive.
 */
export function flowRoutes(runtime: ApiRuntime): FastifyPluginAsync {
  const { ctx } = runtime
  const parts = () => ctx.node.parts

  async function revisionOf(flowId: string, version: string | number): Promise<number> {
    if (typeof version === 'number') return version
    if (REVISION.test(version)) return Number(version)
    for await (const v of parts().store.flows.history(flowId)) {
      if (v.flowVersion === version && v.action !== 'archive' && v.action !== 'restore') return v.revision
    }
    throw new NotFoundError(`flow ${flowId} has no version ${version}`, { flowId, version })
  }

  async function reindex(version: FlowVersion): Promise<void> {
    const { qindex, store } = parts()
    const previous = await qindex.get(version.flowId)
    const { flow } = await store.flows.get(version.flowId)
    await qindex.put(flowRecord(previous?.kind === 'flow' ? previous : undefined, version, flow as unknown as FlowDoc))
  }

  async function authorizeFlow(request: FastifyRequest, flowId: string, action: 'read' | 'write'): Promise<void> {
    await ctx.authorize(runtime.callerOf(request), `qflow:flow:${flowId}`, action)
  }

  return async (app) => {
    app.post(
      '/flows',
      {
        config: { openapi: { bodyMediaTypes: [...YAML_MEDIA_TYPES] } },
        schema: {
          summary: 'Store a flow document (JSON, or YAML with content-type application/yaml) as a new version',
          description: 'Needs `write` on `qflow:flow:<id>`. The document is validated; every problem is answered with a JSON pointer. Unchanged content answers the current version.',
          tags: ['flows'],
          body: flowBody,
          response: { 201: envelopeSchema(flowVersion, 'The stored version'), ...ERROR_RESPONSES }
        }
      },
      async (request, reply) => {
        const caller = runtime.callerOf(request)
        const flow = assertValidFlow(request.body)
        await ctx.authorize(caller, `qflow:flow:${flow.id}`, 'write')
        const { node, engine } = parts()
        const version = await engine.createFlow(flow as never, { actor: { did: caller.did, credentials: { vouchedBy: node.did } } })
        return reply.code(201).send(ok(request, flowVersionView(version)))
      }
    )

    app.get(
      '/flows',
      {
        schema: {
          summary: 'List and search flows (through Qindex), newest change first',
          description: 'Answers only the flows the caller may `read`. Pass `nextCursor` back as `cursor` for the next page.',
          tags: ['flows'],
          querystring: flowListQuery(MAX_PAGE_LIMIT),
          response: { 200: envelopeSchema(flowPage), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const q = request.query as { tag?: string[]; category?: string; owner?: string; status?: 'active' | 'archived'; q?: string; includeArchived?: boolean; limit?: number; cursor?: string }
        const caller = runtime.callerOf(request)
        const page = await parts().qindex.query({
          kind: 'flow',
          ...(q.tag === undefined ? {} : { tagsAll: q.tag }),
          ...(q.category === undefined ? {} : { category: q.category }),
          ...(q.owner === undefined ? {} : { owner: q.owner }),
          ...(q.status === undefined ? {} : { status: q.status }),
          ...(q.q === undefined ? {} : { text: q.q }),
          includeArchived: q.includeArchived ?? q.status === 'archived',
          limit: q.limit ?? DEFAULT_PAGE_LIMIT,
          ...(q.cursor === undefined ? {} : { cursor: q.cursor })
        })
        const items: Record<string, unknown>[] = []
        for (const record of page.records) {
          const decision = await parts().qonsent.check({ subject: caller.did, resource: `qflow:flow:${record.key}`, action: 'read' })
          if (decision.allowed) items.push(flowSummary(record))
        }
        return ok(request, { items, ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) })
      }
    )

    app.get(
      '/flows/:id',
      {
        schema: {
          summary: "A flow's current document and version",
          description: 'Needs `read` on `qflow:flow:<id>`.',
          tags: ['flows'],
          params: flowIdParams,
          response: { 200: envelopeSchema(flowWithVersion), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const { id } = request.params as { id: string }
        await authorizeFlow(request, id, 'read')
        const { version, flow } = await parts().store.flows.get(id)
        return ok(request, { version: flowVersionView(version), flow })
      }
    )

    app.get(
      '/flows/:id/versions/:version',
      {
        schema: {
          summary: 'A flow document at a revision (1, 2, …) or document version (1.2.0)',
          description: 'Needs `read` on `qflow:flow:<id>`. A document version names its newest revision.',
          tags: ['flows'],
          params: flowVersionParams,
          response: { 200: envelopeSchema(flowWithVersion), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const { id, version } = request.params as { id: string; version: string }
        await authorizeFlow(request, id, 'read')
        const revision = await revisionOf(id, version)
        const found = await parts().store.flows.get(id, { revision })
        return ok(request, { version: flowVersionView(found.version), flow: found.flow })
      }
    )

    app.get(
      '/flows/:id/history',
      {
        schema: {
          summary: "A flow's revisions, newest first",
          description: 'Needs `read` on `qflow:flow:<id>`.',
          tags: ['flows'],
          params: flowIdParams,
          response: { 200: envelopeSchema(flowHistory), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const { id } = request.params as { id: string }
        await authorizeFlow(request, id, 'read')
        if ((await parts().store.flows.current(id)) === undefined) throw new NotFoundError(`no flow ${id}`, { flowId: id })
        const items: FlowVersionView[] = []
        for await (const v of parts().store.flows.history(id)) items.push(flowVersionView(v))
        return ok(request, { items })
      }
    )

    app.post(
      '/flows/:id/rollback',
      {
        schema: {
          summary: 'Make an earlier revision current again (recorded as a new revision)',
          description: 'Needs `write` on `qflow:flow:<id>`.',
          tags: ['flows'],
          params: flowIdParams,
          body: rollbackBody,
          response: { 200: envelopeSchema(flowVersion, 'The new revision'), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const { id } = request.params as { id: string }
        const { toVersion } = request.body as { toVersion: number | string }
        await authorizeFlow(request, id, 'write')
        const revision = await revisionOf(id, toVersion)
        const version = await parts().store.flows.rollback(id, revision)
        await reindex(version)
        return ok(request, flowVersionView(version))
      }
    )

    app.post(
      '/flows/:id/archive',
      {
        schema: {
          summary: 'Archive a flow (kept and retrievable, left out of listings by default)',
          description: 'Needs `write` on `qflow:flow:<id>`.',
          tags: ['flows'],
          params: flowIdParams,
          response: { 200: envelopeSchema(flowVersion, 'The new revision'), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const { id } = request.params as { id: string }
        await authorizeFlow(request, id, 'write')
        const version = await parts().store.flows.archive(id)
        await reindex(version)
        return ok(request, flowVersionView(version))
      }
    )
  }
}
