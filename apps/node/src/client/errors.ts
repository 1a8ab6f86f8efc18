/** Thrown when the API URL given to the client is not an `http:` or `https:` URL. */
export class InvalidApiUrlError extends Error {
  static override readonly name = 'InvalidApiUrlError'
  override readonly name = 'InvalidApiUrlError'
  /** The URL as given. */
  readonly api: string

  constructor(api: string, message = `${JSON.stringify(api)} is not an http:// or https:// URL of a Qflow node`) {
    super(message)
    this.api = api
  }
}

/** What a failed answer of the node said, and which request it answered. */
export interface ApiErrorInit {
  /** The HTTP status. */
  status: number
  /** The envelope's `error.code` (UPPER_SNAKE), or `HTTP_<status>` when the answer had no envelope. */
  code: string
  /** The envelope's `error.message`. */
  message: string
  /** The envelope's `error.details`, when it had any. */
  details?: unknown
  /** The envelope's `requestId` (else the `x-request-id` header), when there was one. */
  requestId?: string
  /** The request's method. */
  method: string
  /** The request's URL. */
  url: string
  /** `Retry-After`, ms, when the node sent one. */
  retryAfterMs?: number
}

/**
 * Thrown when the node answers a request with an error envelope (or an error status without one).
 * Subclasses name the common conditions; branch on `name` or on `code`.
 */
export class QflowApiError extends Error {
  static override readonly name: string = 'QflowApiError'
  override readonly name: string = 'QflowApiError'
  /** The HTTP status. */
  readonly status: number
  /** The envelope's `error.code` (`NOT_FOUND`, `VALIDATION_FAILED`, …), or `HTTP_<status>`. */
  readonly code: string
  /** The envelope's `error.details` (problems with JSON pointers, the resource denied, …). */
  readonly details: unknown
  /** The node's id of the request (quote it when reporting a problem), when it sent one. */
  readonly requestId: string | undefined
  /** The request's method. */
  readonly method: string
  /** The request's URL. */
  readonly url: string
  /** How long to wait before trying again, ms, when the node said (`Retry-After`). */
  readonly retryAfterMs: number | undefined

  constructor(init: ApiErrorInit) {
    super(init.message)
    this.status = init.status
    this.code = init.code
    this.details = init.details
    this.requestId = init.requestId
    this.method = init.method
    this.url = init.url
    this.retryAfterMs = init.retryAfterMs
  }
}

/** Thrown when the node refuses the token: none was sent, or it does not verify (401 `UNAUTHENTICATED`). */
export class ApiUnauthenticatedError extends QflowApiError {
  static override readonly name = 'ApiUnauthenticatedError'
  override readonly name = 'ApiUnauthenticatedError'
}

/** Thrown when the token's identity may not do what was asked (403 `FORBIDDEN`). */
export class ApiForbiddenError extends QflowApiError {
  static override readonly name = 'ApiForbiddenError'
  override readonly name = 'ApiForbiddenError'
}

/** Thrown when the flow, version, execution or route asked for does not exist (404 `NOT_FOUND`). */
export class ApiNotFoundError extends QflowApiError {
  static override readonly name = 'ApiNotFoundError'
  override readonly name = 'ApiNotFoundError'
}

/**
 * Thrown when the node rejects what was sent: a body, query or parameter it does not accept, an
 * invalid flow, an input that breaks the flow's `inputSchema`, a halted pipeline (400, 413, 415, 422).
 */
export class ApiValidationError extends QflowApiError {
  static override readonly name = 'ApiValidationError'
  override readonly name = 'ApiValidationError'
}

/** Thrown when the request conflicts with what is stored, such as resuming a finished execution (409 `CONFLICT`). */
export class ApiConflictError extends QflowApiError {
  static override readonly name = 'ApiConflictError'
  override readonly name = 'ApiConflictError'
}

/** Thrown when the caller exceeded its rate (429 `RATE_LIMITED`); `retryAfterMs` says when to try again. */
export class ApiRateLimitedError extends QflowApiError {
  static override readonly name = 'ApiRateLimitedError'
  override readonly name = 'ApiRateLimitedError'
}

/** Thrown when the node failed, timed out or is not ready (5xx: `INTERNAL`, `TIMEOUT`, `UNAVAILABLE`). */
export class ApiServerError extends QflowApiError {
  static override readonly name = 'ApiServerError'
  override readonly name = 'ApiServerError'
}

/** The {@link QflowApiError} class for an HTTP status. */
export function apiErrorClass(status: number): typeof QflowApiError {
  if (status === 401) return ApiUnauthenticatedError
  if (status === 403) return ApiForbiddenError
  if (status === 404) return ApiNotFoundError
  if (status === 409) return ApiConflictError
  if (status === 429) return ApiRateLimitedError
  if (status === 400 || status === 413 || status === 415 || status === 422) return ApiValidationError
  if (status >= 500) return ApiServerError
  return QflowApiError
}

/** Why a node could not be reached. */
export type UnreachableReason = 'refused' | 'not-found' | 'timeout' | 'network' | 'aborted'

/**
 * Thrown when no answer came from the node: the connection was refused, the host is unknown, the
 * request timed out or the network failed. Nothing is known of whether the node acted on it.
 */
export class NodeUnreachableError extends Error {
  static override readonly name = 'NodeUnreachableError'
  override readonly name = 'NodeUnreachableError'
  /** The URL that was asked. */
  readonly url: string
  /** Why: `refused`, `not-found` (DNS), `timeout`, `network` or `aborted` (the caller's signal). */
  readonly reason: UnreachableReason

  constructor(url: string, reason: UnreachableReason, message = `Cannot reach the node at ${url} (${reason})`, options?: ErrorOptions) {
    super(message, options)
    this.url = url
    this.reason = reason
  }
}

/**
 * Thrown when something answered that is not a Qflow node's API: a success status without the
 * JSON envelope, or a body that is not JSON.
 */
export class UnexpectedResponseError extends Error {
  static override readonly name = 'UnexpectedResponseError'
  override readonly name = 'UnexpectedResponseError'
  /** The URL that was asked. */
  readonly url: string
  /** The HTTP status of the answer. */
  readonly status: number

  constructor(url: string, status: number, message = `${url} answered ${status} without the Qflow API envelope`) {
    super(message)
    this.url = url
    this.status = status
  }
}

/**
 * Thrown by an event subscription when the node ends it: an `error` message (bad filter,
 * refused subscription), a `lagging` notice (the reader fell behind and the node dropped it), or
 * the socket closing before the subscription was closed.
 */
export class EventStreamError extends Error {
  static override readonly name = 'EventStreamError'
  override readonly name = 'EventStreamError'
  /** The node's error code, `LAGGING`, or `CLOSED` for a socket that closed. */
  readonly code: string
  /** The WebSocket close code, when the socket closed. */
  readonly closeCode: number | undefined
  /** For `LAGGING`: how many events the node dropped. */
  readonly dropped: number | undefined

  constructor(code: string, message: string, extra: { closeCode?: number; dropped?: number } = {}) {
    super(message)
    this.code = code
    this.closeCode = extra.closeCode
    this.dropped = extra.dropped
  }
}
