export { bearerToken, type ConsentChecker, consentAuthorizer, type TokenVerifier, tokenAuthenticator } from './auth.js'
export {
  API_PREFIX,
  DEFAULT_BODY_LIMIT,
  DEFAULT_HANDLER_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_LOG_PAGE_LIMIT,
  DEFAULT_MAX_BEARER_TOKEN_LIFETIME_MS,
  DEFAULT_PAGE_LIMIT,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  MAX_LOG_PAGE_LIMIT,
  MAX_PAGE_LIMIT,
  MAX_WAIT_TIMEOUT_MS,
  SECURITY_HEADERS
} from './constants.js'
export type { ApiAction, ApiContext, ApiMetrics, Caller } from './context.js'
export {
  type Envelope,
  type EnvelopeError,
  type ErrorEnvelope,
  envelopeSchema,
  errorEnvelope,
  errorEnvelopeSchema,
  type OkEnvelope,
  ok,
  sendError,
  toApiError
} from './envelope.js'
export {
  ApiError,
  ApiErrorCode,
  type ApiErrorCodeValue,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  RequestTimeoutError,
  UnauthenticatedError,
  UnavailableError,
  ValidationFailedError
} from './errors.js'
export { createApiMetrics } from './metrics.js'
export { buildOpenApiDocument, type OpenApiInfo, type RouteDocs } from './openapi.js'
export { type ExecutionView, executionView } from './routes/executions.js'
export { type FlowVersionView, flowVersionView } from '../flow-version-view.js'
export { type ApiServer, type ApiServerInit, createApiServer, ResponseSchemaError } from './server.js'
