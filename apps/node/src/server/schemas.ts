import { flowSchema } from '@qflow/flow-schema'
import { errorEnvelopeSchema } from './envelope.js'

/**
 * JSON Schemas of the API's inputs and outputs. Routes validate requests against them, the
 * OpenAPI document is generated from them, and (with `validateResponses`) answers are checked
 * against them. Kept to the JSON Schema subset that draft-07 (fastify's validator) and 2020-12
 * (OpenAPI 3.1) read alike.
 */
type Schema = Record<string, unknown>

const str = { type: 'string' } as const
const int = { type: 'integer' } as const
const bool = { type: 'boolean' } as const
const ms = { type: 'integer', description: 'ms since the epoch' } as const
const nonEmpty = { type: 'string', minLength: 1, maxLength: 256 } as const
const any = {} as const

/** Responses every route may answer besides its own. */
export const ERROR_RESPONSES: Readonly<Record<string, Schema>> = {
  '4xx': errorEnvelopeSchema,
  '5xx': errorEnvelopeSchema
}

/** The flow document, as `@qflow/flow-schema` defines it (for the OpenAPI document). */
export const FLOW_DOCUMENT_SCHEMA: Schema = (() => {
  const { $schema: _ignored, ...rest } = flowSchema as Schema
  return rest
})()

/** What the API accepts as a flow body: any object; the engine validates it and answers every problem with a JSON pointer. */
export const flowBody: Schema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' } },
  additionalProperties: true,
  description: 'A flow document (docs/flow-format.md), as JSON or, with content-type application/yaml, as YAML'
}

/** A registry revision of a flow. */
export const flowVersion: Schema = {
  type: 'object',
  required: ['flowId', 'revision', 'action', 'flowVersion', 'flowHash', 'archived', 'cid', 'actor', 'ts'],
  additionalProperties: false,
  properties: {
    flowId: str,
    revision: { type: 'integer', minimum: 1, description: 'registry revision, from 1' },
    action: { type: 'string', enum: ['register', 'rollback', 'archive', 'restore'] },
    flowVersion: { type: 'string', description: "the document's own semver version" },
    flowHash: { type: 'string', description: 'content hash of the flow document' },
    archived: bool,
    rolledBackTo: { type: 'integer', description: 'for a rollback: the revision whose document it restored' },
    cid: { type: 'string', description: "the revision record's CID" },
    actor: str,
    ts: ms
  }
}

/** A flow document with the revision it belongs to. */
export const flowWithVersion: Schema = {
  type: 'object',
  required: ['version', 'flow'],
  additionalProperties: false,
  properties: { version: flowVersion, flow: { type: 'object', additionalProperties: true, description: 'the flow document' } }
}

/** A flow as the index lists it. */
export const flowSummary: Schema = {
  type: 'object',
  required: ['id', 'name', 'owner', 'tags', 'status', 'archived', 'createdAt', 'updatedAt'],
  additionalProperties: false,
  properties: {
    id: str,
    name: str,
    description: str,
    owner: str,
    tags: { type: 'array', items: str },
    category: str,
    status: { type: 'string', description: '`active` or `archived`' },
    archived: bool,
    version: str,
    flowHash: str,
    createdAt: ms,
    updatedAt: ms
  }
}

const page = (items: Schema, cursorName: string): Schema => ({
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: { items: { type: 'array', items }, [cursorName]: { type: 'string', description: 'pass back to get the next page; absent on the last page' } }
})

/** A page of flows. */
export const flowPage: Schema = page(flowSummary, 'nextCursor')

const limit = (max: number): Schema => ({ type: 'integer', minimum: 1, maximum: max })

/** Query of `GET /flows`. */
export function flowListQuery(maxLimit: number): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      tag: { type: 'array', items: nonEmpty, maxItems: 16, description: 'flows carrying every one of these tags (repeat the parameter for more)' },
      category: nonEmpty,
      owner: nonEmpty,
      status: { type: 'string', enum: ['active', 'archived'] },
      q: { type: 'string', minLength: 1, maxLength: 512, description: 'full-text search over name and description' },
      includeArchived: { type: 'boolean', description: 'include archived flows (default false unless status=archived)' },
      limit: limit(maxLimit),
      cursor: { type: 'string', minLength: 1, maxLength: 2048 }
    }
  }
}

/** `:id` of a flow route. */
export const flowIdParams: Schema = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: nonEmpty } }

/** `:id` and `:version` (a revision number or a semver version). */
export const flowVersionParams: Schema = {
  type: 'object',
  required: ['id', 'version'],
  additionalProperties: false,
  properties: { id: nonEmpty, version: { type: 'string', minLength: 1, maxLength: 128, description: 'a registry revision (1, 2, …) or the document version (1.2.0)' } }
}

/** The revisions of a flow, newest first. */
export const flowHistory: Schema = { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', items: flowVersion } } }

/** Body of `POST /flows/:id/rollback`. */
export const rollbackBody: Schema = {
  type: 'object',
  required: ['toVersion'],
  additionalProperties: false,
  properties: {
    toVersion: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', minLength: 1, maxLength: 128 }], description: 'the revision (or document version) to make current again' }
  }
}

const timeoutMs = (max: number): Schema => ({ type: 'integer', minimum: 1, maximum: max, description: 'with wait: how long to wait for the result, ms' })

const startProperties = (maxWait: number): Record<string, Schema> => ({
  input: { description: "the execution's input (checked against the flow's inputSchema)" },
  version: { type: 'string', minLength: 1, maxLength: 128, description: 'the document version to run (default the current one)' },
  executionId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$', description: 'the id to give the execution; starting an existing id returns it' },
  wait: { type: 'boolean', description: 'answer 200 with the result once it ends (bounded by timeoutMs)' },
  timeoutMs: timeoutMs(maxWait)
})

/** Body of `POST /flows/:id/start`. */
export function startBody(maxWait: number): Schema {
  return { type: 'object', additionalProperties: false, properties: startProperties(maxWait) }
}

/** Body of `POST /executions`. */
export function executionBody(maxWait: number): Schema {
  return { type: 'object', required: ['flowId'], additionalProperties: false, properties: { flowId: nonEmpty, ...startProperties(maxWait) } }
}

const errorInfo: Schema = {
  type: 'object',
  required: ['name', 'message'],
  properties: { name: str, message: str, retryable: bool, code: str, stepId: str }
}

const executionStatus = { type: 'string', enum: ['running', 'paused', 'completed', 'failed', 'aborted'] } as const

/** Answer of a start that did not wait (202). */
export const startAccepted: Schema = {
  type: 'object',
  required: ['executionId', 'flowId', 'status'],
  additionalProperties: false,
  properties: { executionId: str, flowId: str, status: executionStatus }
}

/** Answer of a start that waited (200), or of one whose wait ran out (202, status running). */
export const startResult: Schema = {
  type: 'object',
  required: ['executionId', 'flowId', 'status'],
  additionalProperties: false,
  properties: { executionId: str, flowId: str, status: executionStatus, output: any, error: errorInfo }
}

/** Body of `POST /events`. */
export const eventBody: Schema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, payload: { description: 'the event payload the waiting steps receive' } }
}

/** Answer of `POST /events`. */
export const eventDelivered: Schema = {
  type: 'object',
  required: ['name', 'delivered'],
  additionalProperties: false,
  properties: { name: str, delivered: { type: 'integer', minimum: 0, description: 'how many waiting steps the event ended' } }
}

/** An execution as listed. */
export const executionSummary: Schema = {
  type: 'object',
  required: ['executionId', 'status', 'subnet', 'seq', 'startedAt', 'updatedAt'],
  additionalProperties: false,
  properties: { executionId: str, flowId: str, status: executionStatus, subnet: str, seq: int, startedAt: ms, updatedAt: ms }
}

/** A page of executions. */
export const executionPage: Schema = page(executionSummary, 'nextCursor')

/** Query of `GET /executions`. */
export function executionListQuery(maxLimit: number): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: { status: executionStatus, flowId: nonEmpty, limit: limit(maxLimit), cursor: { type: 'string', minLength: 1, maxLength: 2048 } }
  }
}

/** `:id` of an execution route. */
export const executionIdParams: Schema = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: nonEmpty } }

const stepRecord: Schema = {
  type: 'object',
  required: ['status', 'attempt', 'startedAt'],
  properties: {
    status: { type: 'string', enum: ['running', 'waiting', 'retry-wait', 'succeeded', 'failed', 'cancelled'] },
    attempt: int,
    idempotencyKey: str,
    startedAt: ms,
    endedAt: ms,
    output: any,
    error: errorInfo,
    retryAt: ms,
    dueAt: ms,
    wait: { type: 'object', properties: { event: str, filter: any, deadline: ms } }
  }
}

/** The state of an execution. */
export const executionState: Schema = {
  type: 'object',
  required: ['executionId', 'flowId', 'flowVersion', 'flowHash', 'actor', 'subnet', 'status', 'startedAt', 'updatedAt', 'seq', 'steps'],
  additionalProperties: false,
  properties: {
    executionId: str,
    flowId: str,
    flowVersion: str,
    flowHash: str,
    actor: str,
    subnet: str,
    trigger: str,
    parent: { type: 'object', required: ['executionId', 'stepId'], properties: { executionId: str, stepId: str } },
    status: executionStatus,
    pausedReason: str,
    input: any,
    output: any,
    error: errorInfo,
    startedAt: ms,
    updatedAt: ms,
    seq: { type: 'integer', description: 'sequence number of the latest log entry applied' },
    steps: { type: 'object', additionalProperties: stepRecord, description: 'where each step that ran stands, by step id' }
  }
}

/** Query of `GET /executions/:id/logs`. */
export function logsQuery(maxLimit: number): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: { after: { type: 'integer', minimum: -1, description: 'answer the entries after this sequence number (default: from the first)' }, limit: limit(maxLimit) }
  }
}

/** A log entry. */
export const logEntry: Schema = {
  type: 'object',
  required: ['seq', 'kind', 'actor', 'ts', 'cid'],
  additionalProperties: false,
  properties: { seq: int, kind: str, stepId: str, attempt: int, actor: str, ts: ms, cid: str, payload: any }
}

/** A page of log entries; `next` is the `after` of the next page. */
export const logPage: Schema = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: { items: { type: 'array', items: logEntry }, next: { type: 'integer', description: 'pass as `after` for the next page; absent on the last page' } }
}

/** Body of `POST /executions/:id/pause|resume|abort`. */
export const controlBody: Schema = { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 1024 } } }

/** Answer of pause, resume and abort. */
export const controlResult: Schema = {
  type: 'object',
  required: ['executionId', 'status'],
  additionalProperties: false,
  properties: { executionId: str, status: executionStatus }
}

/** Answer of `GET /health/live`. */
export const liveness: Schema = { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { type: 'string', const: 'live' } } }

/** Answer of `GET /health/ready`. */
export const readiness: Schema = {
  type: 'object',
  required: ['status', 'checks'],
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['ready', 'not-ready'] },
    checks: { type: 'object', additionalProperties: { type: 'string', enum: ['ok', 'failing'] } }
  }
}
