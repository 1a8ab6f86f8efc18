import type { FastifyReply, FastifyRequest } from 'fastify'
import { ApiError, ApiErrorCode, ConflictError, ForbiddenError, NotFoundError, RequestTimeoutError, UnauthenticatedError, UnavailableError, ValidationFailedError } from './errors.js'

/** A successful answer: `{ success: true, data, timestamp, requestId }`. */
export interface OkEnvelope<T> {
  readonly success: true
  readonly data: T
  /** When the answer was made, ISO 8601. */
  readonly timestamp: string
  /** The request's id (also answered in the `x-request-id` header). */
  readonly requestId: string
}

/** The `error` member of a failed answer. */
export interface EnvelopeError {
  /** UPPER_SNAKE code callers branch on (`NOT_FOUND`, `FORBIDDEN`, …). */
  readonly code: string
  /** What went wrong, for people. */
  readonly message: string
  /** Structured facts (problems with JSON pointers, the resource denied, …), when there are any. */
  readonly details?: unknown
}

/** A failed answer: `{ success: false, error: { code, message, details }, timestamp, requestId }`. */
export interface ErrorEnvelope {
  readonly success: false
  readonly error: EnvelopeError
  readonly timestamp: string
  readonly requestId: string
}

/** Either answer. */
export type Envelope<T> = OkEnvelope<T> | ErrorEnvelope

/** Wraps `data` in the success envelope of `request`. */
export function ok<T>(request: Pick<FastifyRequest, 'id'>, data: T): OkEnvelope<T> {
  return { success: true, data, timestamp: new Date().toISOString(), requestId: String(request.id) }
}

/** Builds the error envelope of `request` for an {@link ApiError}. */
export function errorEnvelope(request: Pick<FastifyRequest, 'id'>, error: ApiError): ErrorEnvelope {
  const body: EnvelopeError = error.details === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, details: error.details }
  return { success: false, error: body, timestamp: new Date().toISOString(), requestId: String(request.id) }
}

/** Pipeline codes that mean "this caller may not", answered as 403 `FORBIDDEN`. */
const DENIED_CODES = new Set(['CONSENT_DENIED', 'CONSENT_EXPIRED', 'CAPABILITY_MISSING', 'QERBEROS_DENIED'])

interface ErrorLike {
  readonly name?: unknown
  readonly message?: unknown
  readonly code?: unknown
  readonly statusCode?: unknown
  readonly validation?: unknown
  readonly validationContext?: unknown
  readonly problems?: unknown
  readonly stage?: unknown
  readonly reason?: unknown
  readonly details?: unknown
  readonly retryable?: unknown
  readonly timeoutMs?: unknown
}

const text = (value: unknown, fallback: string): string => (typeof value === 'string' && value.length > 0 ? value : fallback)

/**
 * Maps any error a route, a plugin or a package throws to an {@link ApiError}: `ApiError`s as they
 * are, fastify's own errors (body too large, bad JSON, schema validation, unsupported media type),
 * and the domain errors of the engine, state store, flow schema and pipeline by `name`. Anything
 * else becomes 500 `INTERNAL` with no internals disclosed.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  const e = (err ?? {}) as ErrorLike
  const name = typeof e.name === 'string' ? e.name : ''
  const message = text(e.message, name || 'error')
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return new ApiError(413, ApiErrorCode.PAYLOAD_TOO_LARGE, 'the request body is larger than this route accepts')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, ApiErrorCode.UNSUPPORTED_MEDIA_TYPE, message)
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ValidationFailedError(message)
    default:
      break
  }
  if (e.validation !== undefined) {
    return new ValidationFailedError(message, { in: e.validationContext, problems: e.validation })
  }
  switch (name) {
    case 'FlowParseError': {
      const p = err as { line?: unknown; column?: unknown; format?: unknown; code?: unknown }
      return new ValidationFailedError(message, { line: p.line, column: p.column, format: p.format, code: p.code })
    }
    case 'FlowValidationError':
    case 'InvalidExecutionInputError':
    case 'InvalidInputError':
    case 'InvalidCursorError':
    case 'InvalidIndexQueryError':
    case 'FlowExpressionError':
    case 'JsonSchemaError':
      return new ValidationFailedError(message, e.problems === undefined ? undefined : { problems: e.problems })
    case 'UnknownExecutionError':
    case 'ExecutionNotFoundError':
    case 'FlowNotFoundError':
    case 'FlowReferenceError':
    case 'IndexRecordNotFoundError':
      return new NotFoundError(message)
    case 'ExecutionStateError':
    case 'ExecutionFinishedError':
    case 'ExecutionExistsError':
    case 'FlowVersionError':
      return new ConflictError(message)
    case 'NodeNotStartedError':
    case 'EngineNotStartedError':
    case 'StoreNotStartedError':
    case 'QindexNotStartedError':
      return new UnavailableError('the node is not running')
    case 'EventTimeoutError':
      return new RequestTimeoutError(typeof e.timeoutMs === 'number' ? e.timeoutMs : 0, message)
    case 'PipelineHaltedError': {
      const details = { stage: e.stage, code: e.code, reason: e.reason, ...(e.details !== undefined ? { facts: e.details } : {}) }
      if (typeof e.code === 'string' && DENIED_CODES.has(e.code)) return new ApiError(403, ApiErrorCode.FORBIDDEN, text(e.reason, message), details)
      if (e.stage === 'qlock' || e.stage === 'squid') return new UnauthenticatedError(text(e.reason, message), details)
      return new ApiError(422, 'PIPELINE_HALTED', text(e.reason, message), details)
    }
    case 'UnauthenticatedError':
      return new UnauthenticatedError(message)
    case 'ForbiddenError':
      return new ForbiddenError('resource', 'act', message)
    default:
      break
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, e.statusCode === 404 ? ApiErrorCode.NOT_FOUND : ApiErrorCode.VALIDATION_FAILED, message)
  }
  return new ApiError(500, ApiErrorCode.INTERNAL, 'internal error')
}

/** Sends `err` as an error envelope (status, headers and body from {@link toApiError}). */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const apiError = toApiError(err)
  for (const [header, value] of Object.entries(apiError.headers)) void reply.header(header, value)
  return reply.code(apiError.statusCode).send(errorEnvelope(request, apiError))
}

/** JSON Schema of the error envelope (for a route's `response` schemas). */
export const errorEnvelopeSchema = {
  type: 'object',
  description: 'The request failed',
  required: ['success', 'error', 'timestamp', 'requestId'],
  properties: {
    success: { type: 'boolean', const: false },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} }
    },
    timestamp: { type: 'string', format: 'date-time' },
    requestId: { type: 'string' }
  }
} as const

/** JSON Schema of the success envelope around `data` (for a route's `response` schemas). */
export function envelopeSchema<S extends object>(data: S, description?: string): Record<string, unknown> {
  return {
    type: 'object',
    ...(description === undefined ? {} : { description }),
    required: ['success', 'data', 'timestamp', 'requestId'],
    properties: {
      success: { type: 'boolean', const: true },
      data,
      timestamp: { type: 'string', format: 'date-time' },
      requestId: { type: 'string' }
    }
  }
}
