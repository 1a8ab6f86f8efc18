/**
 * A typed client of a Qflow node's API, without the node: {@link createQflowClient} calls the
 * REST routes under `/api/v1` (envelope unwrapped, error answers thrown as typed errors) and
 * subscribes to the node's events over its WebSocket. Import it as `@qflow/node/client` to leave
 * the node's own modules unloaded.
 *
 * @example
 * ```ts
 * import { createQflowClient } from '@qflow/node/client'
 *
 * const client = createQflowClient({ api: 'http://127.0.0.1:7070', token: process.env.QFLOW_TOKEN })
 * const run = await client.flows.start('welcome', { input: { name: 'Ada' }, wait: true })
 * console.log(run.status, run.output)
 * ```
 *
 * @packageDocumentation
 */
export {
  type ApiAnswer,
  createQflowClient,
  type EventsApi,
  type ExecutionsApi,
  type FlowsApi,
  type GrantsApi,
  normalizeApiUrl,
  type QflowClient,
  type QflowClientInit,
  type QueryValues,
  type RequestOptions,
  type SecretsApi,
  type TokensApi
} from './client.js'
export { DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SUBSCRIBE_TIMEOUT_MS, EVENT_QUEUE_HIGH_WATER, EVENT_QUEUE_LOW_WATER, EVENTS_PATH, WAIT_GRACE_MS } from './constants.js'
export {
  ApiConflictError,
  type ApiErrorInit,
  apiErrorClass,
  ApiForbiddenError,
  ApiNotFoundError,
  ApiRateLimitedError,
  ApiServerError,
  ApiUnauthenticatedError,
  ApiValidationError,
  EventStreamError,
  InvalidApiUrlError,
  NodeUnreachableError,
  QflowApiError,
  type UnreachableReason,
  UnexpectedResponseError
} from './errors.js'
export { type EventStreamTarget, type EventSubscription, type SubscribeOptions, subscribeEvents } from './events.js'
export type {
  AddGrantRequest,
  EventFilter,
  ExecutionControlResult,
  ExecutionStateJson,
  ExecutionStatus,
  ExecutionSummary,
  FlowSummary,
  FlowVersionRecord,
  GrantRecord,
  GrantRevokeResult,
  HealthStatus,
  ListExecutionsQuery,
  ListFlowsQuery,
  ListGrantsQuery,
  LogEntryRecord,
  LogPage,
  LogsQuery,
  Page,
  QflowEventJson,
  RevokeTokenRequest,
  SecretDeleteResult,
  SecretPutResult,
  SecretSummary,
  StartedExecution,
  StartExecutionRequest,
  StartFlowOptions,
  StoredFlow,
  TokenRevocationList,
  TokenRevocationRecord,
  TriggerResult
} from './types.js'
