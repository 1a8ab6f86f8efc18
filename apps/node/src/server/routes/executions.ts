import { type ExecutionResult, type ExecutionState, startOf } from '@qflow/scheduler'
import type { ExecutionHead, ExecutionStatus, LogEntry } from '@qflow/state'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { DEFAULT_LOG_PAGE_LIMIT, DEFAULT_PAGE_LIMIT, EXECUTION_FLOW_CACHE_SIZE, MAX_LOG_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../constants.js'
import type { ApiAction, Caller } from '../context.js'
import { envelopeSchema, ok } from '../envelope.js'
import { ConflictError, ForbiddenError, NotFoundError, ValidationFailedError } from '../errors.js'
import { FINAL_STATUSES } from '../../node/constants.js'
import { resultWithin } from '../launch.js'
import {
  controlBody,
  controlResult,
  ERROR_RESPONSES,
  eventBody,
  eventDelivered,
  executionBody,
  executionIdParams,
  executionListQuery,
  executionPage,
  executionState,
  flowIdParams,
  logPage,
  logsQuery,
  startAccepted,
  startBody,
  startResult
} from '../schemas.js'
import type { ApiRuntime } from '../server.js'

/** An execution's state as the API answers it (the engine's internals, tokens and joins, left out). */
export interface ExecutionView {
  readonly executionId: string
  readonly flowId: string
  readonly flowVersion: string
  readonly flowHash: string
  readonly actor: string
  readonly subnet: string
  readonly trigger?: string
  readonly parent?: { readonly executionId: string; readonly stepId: string }
  readonly status: string
  readonly pausedReason?: string
  readonly input: unknown
  readonly output?: unknown
  readonly error?: unknown
  readonly startedAt: number
  readonly updatedAt: number
  readonly seq: number
  readonly steps: Readonly<Record<string, unknown>>
}

/** The public view of an engine {@link ExecutionState}. */
export function executionView(state: Readonly<ExecutionState>): ExecutionView {
  return {
    executionId: state.id,
    flowId: state.flowId,
    flowVersion: state.flowVersion,
    flowHash: state.flowHash,
    actor: state.actor,
    subnet: state.subnet,
    ...(state.trigger === undefined ? {} : { trigger: state.trigger }),
    ...(state.parent === undefined ? {} : { parent: { executionId: state.parent.executionId, stepId: state.parent.stepId } }),
    status: state.status,
    ...(state.pausedReason === undefined ? {} : { pausedReason: state.pausedReason }),
    input: state.input ?? null,
    ...(state.output === undefined ? {} : { output: state.output }),
    ...(state.error === undefined ? {} : { error: state.error }),
    startedAt: state.startedAt,
    updatedAt: state.updatedAt,
    seq: state.seq,
    steps: state.steps
  }
}

/** A small insertion-ordered cache that forgets its oldest entry past `capacity`. */
class Recent<V> {
  private readonly map = new Map<string, V>()
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    return this.map.get(key)
  }
  set(key: string, value: V): void {
    if (this.map.size >= this.capacity && !this.map.has(key)) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) this.map.delete(oldest.value)
    }
    this.map.set(key, value)
  }
}

interface ExecutionFacts {
  readonly flowId: string
  readonly actor: string
}

interface StartRequest {
  readonly input?: unknown
  readonly version?: string
  readonly executionId?: string
  readonly wait?: boolean
  readonly timeoutMs?: number
}

interface ListCursor {
  readonly after: string
  readonly status?: string
  readonly flowId?: string
}

function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url')
}

function decodeCursor(text: string, query: { status?: string; flowId?: string }): ListCursor {
  let cursor: unknown
  try {
    cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    cursor = undefined
  }
  const c = cursor as Partial<ListCursor> | undefined
  if (c === undefined || c === null || typeof c !== 'object' || typeof c.after !== 'string') throw new ValidationFailedError('the cursor is not one this API issued', { cursor: text })
  if (c.status !== query.status || c.flowId !== query.flowId) throw new ValidationFailedError('the cursor was issued for another query', { cursor: text })
  return c as ListCursor
}

function logEntryView(entry: LogEntry): Record<string, unknown> {
  return {
    seq: entry.seq,
    kind: entry.kind,
    ...(entry.stepId === undefined ? {} : { stepId: entry.stepId }),
    ...(entry.attempt === undefined ? {} : { attempt: entry.attempt }),
    actor: entry.actor,
    ts: entry.ts,
    cid: entry.cid.toString(),
    payload: entry.payload ?? null
  }
}

function resultView(flowId: string, result: ExecutionResult): Record<string, unknown> {
  return {
    executionId: result.executionId,
    flowId,
    status: result.status,
    ...(result.output === undefined ? {} : { output: result.output }),
    ...(result.error === undefined ? {} : { error: result.error })
  }
}

/**
 * The execution routes under `/api/v1`: start (also at the ecosystem's `POST /flows/:id/start`),
 * trigger events, list, state, paginated logs, pause, resume and abort.
 *
 * Who may see or control an execution: a caller with the action on `qflow:execution:<id>`, the
 * identity that started it, or a caller with the action on its flow (`qflow:flow:<flowId>`).
 */
export function executionRoutes(runtime: ApiRuntime): FastifyPluginAsync {
  const { ctx } = runtime
  const parts = () => ctx.node.parts
  const facts = new Recent<ExecutionFacts>(EXECUTION_FLOW_CACHE_SIZE)
  // A finished execution's state never changes again: keep the views of recently read ones.
  const finished = new Recent<ExecutionView>(1024)

  async function viewOf(executionId: string): Promise<ExecutionView> {
    const live = parts().engine.live(executionId)
    if (live !== undefined) return executionView(live)
    const known = finished.get(executionId)
    if (known !== undefined) return known
    const view = executionView(await parts().engine.state(executionId))
    if (FINAL_STATUSES.has(view.status)) finished.set(executionId, view)
    return view
  }

  async function factsOf(executionId: string): Promise<ExecutionFacts | undefined> {
    const known = facts.get(executionId)
    if (known !== undefined) return known
    const live = parts().engine.live(executionId) ?? finished.get(executionId)
    let found: ExecutionFacts | undefined
    if (live !== undefined) found = { flowId: live.flowId, actor: live.actor }
    else {
      for await (const entry of parts().store.log.entries(executionId)) {
        // `started`, or the final entry of a run that ended at once, carrying its start.
        const payload = (startOf(entry)?.payload ?? {}) as { flowId?: unknown; actor?: unknown }
        if (typeof payload.flowId === 'string' && typeof payload.actor === 'string') found = { flowId: payload.flowId, actor: payload.actor }
        break
      }
    }
    if (found !== undefined) facts.set(executionId, found)
    return found
  }

  async function allowed(caller: Caller, executionId: string, known: ExecutionFacts | undefined, action: ApiAction): Promise<boolean> {
    const { qonsent } = parts()
    if ((await qonsent.check({ subject: caller.did, resource: `qflow:execution:${executionId}`, action })).allowed) return true
    if (known === undefined) return false
    if (known.actor === caller.did) return true
    return (await qonsent.check({ subject: caller.did, resource: `qflow:flow:${known.flowId}`, action })).allowed
  }

  /** The execution's view, once the caller may do `action` on it; 404 only for callers who could see it. */
  async function authorizedView(request: FastifyRequest, executionId: string, action: ApiAction): Promise<ExecutionView> {
    const caller = runtime.callerOf(request)
    let view: ExecutionView
    try {
      view = await viewOf(executionId)
    } catch (err) {
      if ((err as { name?: unknown }).name === 'UnknownExecutionError') {
        if (await allowed(caller, executionId, undefined, action)) throw new NotFoundError(`no execution ${executionId}`, { executionId })
        throw new ForbiddenError(`qflow:execution:${executionId}`, action)
      }
      throw err
    }
    if (!(await allowed(caller, executionId, { flowId: view.flowId, actor: view.actor }, action))) throw new ForbiddenError(`qflow:execution:${executionId}`, action)
    return view
  }

  async function start(request: FastifyRequest, reply: FastifyReply, flowId: string, body: StartRequest): Promise<FastifyReply> {
    const caller = runtime.callerOf(request)
    await ctx.authorize(caller, `qflow:flow:${flowId}`, 'execute')
    const { engine, node } = parts()
    const ref = body.version === undefined ? flowId : `${flowId}@${body.version}`
    const launched = await engine.launch(ref, body.input === undefined ? {} : body.input, {
      actor: { did: caller.did, credentials: { vouchedBy: node.did } },
      trigger: 'api',
      ...(body.executionId === undefined ? {} : { executionId: body.executionId })
    })
    const { executionId } = launched
    facts.set(executionId, { flowId, actor: caller.did })
    if (body.wait !== true) return reply.code(202).send(ok(request, { executionId, flowId, status: launched.status }))
    const result = await resultWithin(launched, Math.min(body.timeoutMs ?? runtime.waitTimeoutMs, runtime.maxWaitTimeoutMs))
    if (result !== undefined) return reply.code(200).send(ok(request, resultView(flowId, result)))
    return reply.code(202).send(ok(request, { executionId, flowId, status: engine.live(executionId)?.status ?? launched.status }))
  }

  const startResponses = {
    200: envelopeSchema(startResult, 'With wait: the execution ended; its output or error'),
    202: envelopeSchema(startAccepted, 'Started (or, with wait, still running when timeoutMs ran out)'),
    ...ERROR_RESPONSES
  }

  return async (app) => {
    app.post(
      '/flows/:id/start',
      {
        schema: {
          summary: 'Start an execution of a flow (the ecosystem path)',
          description: 'Needs `execute` on `qflow:flow:<id>`. 202 with the execution id, or with `wait: true` 200 with the result (bounded by `timeoutMs`).',
          tags: ['executions'],
          params: flowIdParams,
          body: { ...startBody(runtime.maxWaitTimeoutMs), type: ['object', 'null'] },
          response: startResponses
        }
      },
      async (request, reply) => start(request, reply, (request.params as { id: string }).id, (request.body ?? {}) as StartRequest)
    )

    app.post(
      '/executions',
      {
        schema: {
          summary: 'Start an execution of a flow',
          description: 'Needs `execute` on `qflow:flow:<flowId>`. Same answers as `POST /flows/{id}/start`.',
          tags: ['executions'],
          body: executionBody(runtime.maxWaitTimeoutMs),
          response: startResponses
        }
      },
      async (request, reply) => {
        const body = request.body as StartRequest & { flowId: string }
        return start(request, reply, body.flowId, body)
      }
    )

    app.post(
      '/events',
      {
        schema: {
          summary: 'Deliver an event to the event-trigger steps waiting for it',
          description: 'Needs `execute` on `qflow:event:<name>`.',
          tags: ['executions'],
          body: eventBody,
          response: { 200: envelopeSchema(eventDelivered), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const { name, payload } = request.body as { name: string; payload?: unknown }
        await ctx.authorize(runtime.callerOf(request), `qflow:event:${name}`, 'execute')
        const delivered = await parts().engine.deliverEvent(name, payload === undefined ? null : payload)
        return ok(request, { name, delivered })
      }
    )

    app.get(
      '/executions',
      {
        schema: {
          summary: 'List executions by id, optionally by status and flow',
          description: 'Answers only the executions the caller may `read`. Pass `nextCursor` back as `cursor` for the next page.',
          tags: ['executions'],
          querystring: executionListQuery(MAX_PAGE_LIMIT),
          response: { 200: envelopeSchema(executionPage), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const q = request.query as { status?: ExecutionStatus; flowId?: string; limit?: number; cursor?: string }
        const caller = runtime.callerOf(request)
        const cursor = q.cursor === undefined ? undefined : decodeCursor(q.cursor, q)
        const limit = q.limit ?? DEFAULT_PAGE_LIMIT
        const heads = await parts().store.log.listExecutions(q.status === undefined ? {} : { status: q.status })
        const items: Record<string, unknown>[] = []
        let more = false
        for (const head of heads) {
          if (cursor !== undefined && head.executionId <= cursor.after) continue
          const known = await factsOf(head.executionId)
          if (q.flowId !== undefined && known?.flowId !== q.flowId) continue
          if (!(await allowed(caller, head.executionId, known, 'read'))) continue
          if (items.length === limit) {
            more = true
            break
          }
          items.push(summary(head, known))
        }
        const last = items[items.length - 1]
        const next = more && last !== undefined ? encodeCursor({ after: last.executionId as string, ...(q.status === undefined ? {} : { status: q.status }), ...(q.flowId === undefined ? {} : { flowId: q.flowId }) }) : undefined
        return ok(request, { items, ...(next === undefined ? {} : { nextCursor: next }) })
      }
    )

    app.get(
      '/executions/:id',
      {
        schema: {
          summary: "An execution's state",
          description: 'Needs `read` on the execution (see the execution routes).',
          tags: ['executions'],
          params: executionIdParams,
          response: { 200: envelopeSchema(executionState), ...ERROR_RESPONSES }
        }
      },
      async (request) => ok(request, await authorizedView(request, (request.params as { id: string }).id, 'read'))
    )

    app.get(
      '/executions/:id/logs',
      {
        schema: {
          summary: "An execution's log entries, in order, a page at a time",
          description: 'Needs `read` on the execution. Pass `next` back as `after` for the next page.',
          tags: ['executions'],
          params: executionIdParams,
          querystring: logsQuery(MAX_LOG_PAGE_LIMIT),
          response: { 200: envelopeSchema(logPage), ...ERROR_RESPONSES }
        }
      },
      async (request) => {
        const { id } = request.params as { id: string }
        const q = request.query as { after?: number; limit?: number }
        await authorizedView(request, id, 'read')
        const limit = q.limit ?? DEFAULT_LOG_PAGE_LIMIT
        const items: Record<string, unknown>[] = []
        let more = false
        for await (const entry of parts().store.log.entries(id, { fromSeq: (q.after ?? -1) + 1 })) {
          if (items.length === limit) {
            more = true
            break
          }
          items.push(logEntryView(entry))
        }
        const last = items[items.length - 1]
        return ok(request, { items, ...(more && last !== undefined ? { next: last.seq as number } : {}) })
      }
    )

    const control = (verb: 'pause' | 'resume' | 'abort', summaryText: string) =>
      app.post(
        `/executions/:id/${verb}`,
        {
          schema: {
            summary: summaryText,
            description: 'Needs `execute` on the execution. 409 `CONFLICT` when its status does not allow it.',
            tags: ['executions'],
            params: executionIdParams,
            body: controlBody,
            response: { 200: envelopeSchema(controlResult), ...ERROR_RESPONSES }
          }
        },
        async (request) => {
          const { id } = request.params as { id: string }
          const reason = (request.body as { reason?: string } | null | undefined)?.reason
          const view = await authorizedView(request, id, 'execute')
          if (FINAL_STATUSES.has(view.status)) throw new ConflictError(`execution ${id} is ${view.status}`, { executionId: id, status: view.status })
          const { engine } = parts()
          if (verb === 'pause') await engine.pause(id, reason)
          else if (verb === 'resume') await engine.resume(id)
          else await engine.abort(id, reason)
          const status = engine.live(id)?.status ?? (await viewOf(id)).status
          return ok(request, { executionId: id, status })
        }
      )
    control('pause', 'Pause an execution (no new steps are dispatched until resumed)')
    control('resume', 'Resume a paused execution')
    control('abort', 'Abort an execution (running steps are aborted)')
  }
}

function summary(head: ExecutionHead, known: ExecutionFacts | undefined): Record<string, unknown> {
  return {
    executionId: head.executionId,
    ...(known === undefined ? {} : { flowId: known.flowId }),
    status: head.status,
    subnet: head.subnet,
    seq: head.seq,
    startedAt: head.startedAt,
    updatedAt: head.updatedAt
  }
}
