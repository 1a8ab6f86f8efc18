import type { QflowEventName } from './envelope.js'

const str = { type: 'string', minLength: 1 } as const
const error = {
  type: 'object',
  required: ['name', 'message'],
  properties: { name: str, message: { type: 'string' }, retryable: { type: 'boolean' }, stepId: str },
  additionalProperties: false
} as const

function envelope(type: QflowEventName, data: Record<string, unknown>): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://qflow.dev/schemas/events/${type}.json`,
    title: type,
    type: 'object',
    required: ['eventId', 'timestamp', 'type', 'version', 'source', 'actor', 'data'],
    properties: {
      eventId: { type: 'string', format: 'uuid' },
      timestamp: { type: 'string', format: 'date-time' },
      type: { const: type },
      version: { const: '1.0.0' },
      source: str,
      actor: str,
      data: { type: 'object', additionalProperties: false, ...data }
    },
    additionalProperties: false
  }
}

/** JSON Schema (2020-12) of every event the engine emits, envelope included, by event name. */
export const eventSchemas: Readonly<Record<QflowEventName, Readonly<Record<string, unknown>>>> = Object.freeze({
  'q.qflow.flow.created.v1': envelope('q.qflow.flow.created.v1', {
    required: ['flowId', 'version', 'hash', 'owner', 'name'],
    properties: { flowId: str, version: str, hash: str, owner: str, name: { type: 'string' } }
  }),
  'q.qflow.exec.started.v1': envelope('q.qflow.exec.started.v1', {
    required: ['executionId', 'flowId', 'flowVersion', 'flowHash', 'inputDigest'],
    properties: { executionId: str, flowId: str, flowVersion: str, flowHash: str, inputDigest: str, trigger: str }
  }),
  'q.qflow.exec.step.dispatched.v1': envelope('q.qflow.exec.step.dispatched.v1', {
    required: ['executionId', 'flowId', 'stepId', 'stepType', 'attempt', 'idempotencyKey'],
    properties: { executionId: str, flowId: str, stepId: str, stepType: str, attempt: { type: 'integer', minimum: 1 }, idempotencyKey: str }
  }),
  'q.qflow.exec.step.completed.v1': envelope('q.qflow.exec.step.completed.v1', {
    required: ['executionId', 'flowId', 'stepId', 'attempt', 'status', 'durationMs'],
    properties: {
      executionId: str,
      flowId: str,
      stepId: str,
      attempt: { type: 'integer', minimum: 1 },
      status: { enum: ['succeeded', 'failed'] },
      durationMs: { type: 'number', minimum: 0 },
      outputDigest: str,
      error
    }
  }),
  'q.qflow.exec.completed.v1': envelope('q.qflow.exec.completed.v1', {
    required: ['executionId', 'flowId', 'status', 'durationMs'],
    properties: {
      executionId: str,
      flowId: str,
      status: { enum: ['completed', 'failed', 'aborted'] },
      durationMs: { type: 'number', minimum: 0 },
      outputDigest: str,
      error
    }
  }),
  'q.qflow.validation.pipeline.executed.v1': envelope('q.qflow.validation.pipeline.executed.v1', {
    required: ['traceId', 'kind', 'resource', 'outcome', 'stages'],
    properties: {
      traceId: str,
      kind: str,
      resource: str,
      outcome: { enum: ['passed', 'halted'] },
      stage: str,
      code: str,
      stages: {
        type: 'array',
        items: {
          type: 'object',
          required: ['stage', 'ok', 'durationMs'],
          properties: { stage: str, ok: { type: 'boolean' }, durationMs: { type: 'number', minimum: 0 } },
          additionalProperties: false
        }
      }
    }
  })
})

