/** Error codes the API answers with (`error.code` of the envelope). */
export const ApiErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  RATE_LIMITED: 'RATE_LIMITED',
  TIMEOUT: 'TIMEOUT',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL'
} as const

/** One of {@link ApiErrorCode}'s values, or another UPPER_SNAKE code a plugin defines. */
export type ApiErrorCodeValue = (typeof ApiErrorCode)[keyof typeof ApiErrorCode] | (string & {})

/** Thrown by a route to answer with an error envelope: an HTTP status, an UPPER_SNAKE code and details. */
export class ApiError extends Error {
  static override readonly name: string = 'ApiError'
  override readonly name: string = 'ApiError'
  /** The HTTP status answered. */
  readonly statusCode: number
  /** The envelope's `error.code`. */
  readonly code: ApiErrorCodeValue
  /** The envelope's `error.details`, when there are any. */
  readonly details: unknown
  /** Headers answered with the error (`Retry-After`, `WWW-Authenticate`, …). */
  readonly headers: Readonly<Record<string, string>>

  constructor(statusCode: number, code: ApiErrorCodeValue, message: string, details?: unknown, headers: Record<string, string> = {}) {
    super(message)
    this.statusCode = statusCode
    this.code = code
    this.details = details
    this.headers = headers
  }
}

/** Thrown when a request carries no bearer token, or one that does not verify (401 `UNAUTHENTICATED`). */
export class UnauthenticatedError extends ApiError {
  static override readonly name = 'UnauthenticatedError'
  override readonly name = 'UnauthenticatedError'
  constructor(message = 'a valid sQuid bearer token is required', details?: unknown) {
    super(401, ApiErrorCode.UNAUTHENTICATED, message, details, { 'www-authenticate': 'Bearer realm="qflow"' })
  }
}

/** Thrown when Qonsent does not let the caller do an action on a resource (403 `FORBIDDEN`). */
export class ForbiddenError extends ApiError {
  static override readonly name = 'ForbiddenError'
  override readonly name = 'ForbiddenError'
  constructor(resource: string, action: string, reason?: string) {
    super(403, ApiErrorCode.FORBIDDEN, `not allowed to ${action} ${resource}`, { resource, action, ...(reason === undefined ? {} : { reason }) })
  }
}

/** Thrown when the flow, version, execution or route asked for does not exist (404 `NOT_FOUND`). */
export class NotFoundError extends ApiError {
  static override readonly name = 'NotFoundError'
  override readonly name = 'NotFoundError'
  constructor(message = 'not found', details?: unknown) {
    super(404, ApiErrorCode.NOT_FOUND, message, details)
  }
}

/** Thrown when a request's body, query or parameters are not what the route accepts (400 `VALIDATION_FAILED`). */
export class ValidationFailedError extends ApiError {
  static override readonly name = 'ValidationFailedError'
  override readonly name = 'ValidationFailedError'
  constructor(message = 'the request is not valid', details?: unknown) {
    super(400, ApiErrorCode.VALIDATION_FAILED, message, details)
  }
}

/** Thrown when the request conflicts with what is stored (409 `CONFLICT`), e.g. resuming a finished execution. */
export class ConflictError extends ApiError {
  static override readonly name = 'ConflictError'
  override readonly name = 'ConflictError'
  constructor(message = 'the request conflicts with the current state', details?: unknown) {
    super(409, ApiErrorCode.CONFLICT, message, details)
  }
}

/** Thrown when a caller exceeds its rate (429 `RATE_LIMITED`, with `Retry-After` in seconds). */
export class RateLimitedError extends ApiError {
  static override readonly name = 'RateLimitedError'
  override readonly name = 'RateLimitedError'
  /** Seconds after which a retry may succeed. */
  readonly retryAfterSeconds: number
  constructor(retryAfterSeconds: number, message = 'too many requests', details?: unknown) {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds))
    super(429, ApiErrorCode.RATE_LIMITED, message, details, { 'retry-after': String(seconds) })
    this.retryAfterSeconds = seconds
  }
}

/** Thrown when a request did not finish within its bound (504 `TIMEOUT`). */
export class RequestTimeoutError extends ApiError {
  static override readonly name = 'RequestTimeoutError'
  override readonly name = 'RequestTimeoutError'
  constructor(timeoutMs: number, message = `the request did not finish within ${timeoutMs} ms`) {
    super(504, ApiErrorCode.TIMEOUT, message, { timeoutMs })
  }
}

/** Thrown when the node is not ready to serve (503 `UNAVAILABLE`), e.g. before start or while stopping. */
export class UnavailableError extends ApiError {
  static override readonly name = 'UnavailableError'
  override readonly name = 'UnavailableError'
  constructor(message = 'the node is not ready', details?: unknown) {
    super(503, ApiErrorCode.UNAVAILABLE, message, details)
  }
}
