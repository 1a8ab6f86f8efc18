/**
 * The Qflow node: {@link createQflowNode} composes the engine over embedded defaults (a data
 * directory, a generated node and admin identity, the state store, Qlock, Qonsent, Qindex and
 * Qerberos), and the `qflow` command line runs flows on it, inspects and resumes executions, and
 * validates, hashes, signs, verifies and diffs flow documents. Run it as `qflow …`, or in-process
 * with {@link runCli}.
 *
 * @example
 * ```ts
 * // from apps/node, after a build
 * import { runCli } from '@qflow/node'
 *
 * const out: string[] = []
 * const code = await runCli(['flow', 'validate', '../../examples/flows'], {
 *   stdout: (text) => out.push(text),
 *   stderr: (text) => out.push(text),
 *   readStdin: async () => '',
 *   cwd: process.cwd(),
 *   env: {}
 * })
 * console.log(code) // 0 when every flow is valid
 * ```
 *
 * @packageDocumentation
 */
export {
  type AddGrantRequest,
  type ApiAnswer,
  ApiConflictError,
  type ApiErrorInit,
  apiErrorClass,
  ApiForbiddenError,
  ApiNotFoundError,
  ApiRateLimitedError,
  ApiServerError,
  ApiUnauthenticatedError,
  ApiValidationError,
  createQflowClient,
  type EventFilter,
  EventStreamError,
  type EventStreamTarget,
  type EventSubscription,
  type EventsApi,
  type ExecutionControlResult,
  type ExecutionStateJson,
  type ExecutionStatus,
  type ExecutionsApi,
  type ExecutionSummary,
  type FlowSummary,
  type FlowsApi,
  type FlowVersionRecord,
  type GrantRecord,
  type GrantRevokeResult,
  type GrantsApi,
  type HealthStatus,
  InvalidApiUrlError,
  type ListExecutionsQuery,
  type ListFlowsQuery,
  type ListGrantsQuery,
  type LogEntryRecord,
  type LogPage,
  type LogsQuery,
  NodeUnreachableError,
  normalizeApiUrl,
  type Page,
  QflowApiError,
  type QflowClient,
  type QflowClientInit,
  type QflowEventJson,
  type QueryValues,
  type RequestOptions,
  type SecretDeleteResult,
  type SecretPutResult,
  type SecretSummary,
  type SecretsApi,
  type StartedExecution,
  type StartExecutionRequest,
  type StartFlowOptions,
  type StoredFlow,
  type SubscribeOptions,
  subscribeEvents,
  type TriggerResult,
  type UnreachableReason,
  UnexpectedResponseError
} from './client/index.js'
export { leafChanges } from './commands/diff.js'
export { DEBUG_ENV, ExitCode, type ExitCodeValue, FLOW_FILE_EXTENSIONS, KEY_FILE_MODE } from './constants.js'
export { FlowFileError, InputError, InvalidFlowFileError, KeyFileError, OutputFileError } from './errors.js'
export { collectFlowFiles, type FlowFileFormat, type FlowSource, formatFromPath, formatFromText, readFlowSource } from './files.js'
export { checkFlowSource, type FlowFileReport, type LoadedFlowFile, type LocatedProblem, loadFlowFile, type ProblemSeverity } from './flow-file.js'
export { type CliIo, processIo } from './io.js'
export type { QflowNodeConfig } from './node/config.js'
export {
  ADMIN_IDENTITY_LABEL,
  ALLOW_PRIVATE_NETWORKS_ENV,
  DATA_DIR_ENV,
  DATA_DIR_LAYOUT,
  DEFAULT_AUDIENCE,
  DEFAULT_DATA_DIR,
  DEFAULT_DURABILITY,
  NODE_IDENTITY_LABEL,
  OPERATION_TOKEN_TTL_MS,
  PASSPHRASE_ENV
} from './node/constants.js'
export { DataDirCorruptError, DataDirLockedError, NodeConfigError, NodeNotStartedError, NodePassphraseError } from './node/errors.js'
export { ADMIN_GRANT_ID, createQflowNode, type OperationActor, type QflowNode, type QflowNodeParts } from './node/node.js'
export { ExecutionPruner, type PruneReport, type RetentionPolicy, type RetentionStats } from './node/retention.js'
export { ALLOW_LIST_FILE, type NodeSandboxConfig, TEMPLATE_ISSUERS_ENV, TEMPLATES_DIR } from './node/sandbox-config.js'
export {
  type ApprovalResult,
  approveTemplates,
  checkTemplateFiles,
  type NodeSandbox,
  revokeTemplate,
  type TemplateFileState,
  type TemplateFiles,
  type TemplatePaths,
  TemplateUnavailableError,
  templatePaths
} from './node/sandbox.js'
export {
  DEFAULT_MAX_SECRET_BYTES,
  DEFAULT_MAX_SECRETS,
  InvalidSecretError,
  nodeSecretStore,
  SECRET_NAME_PATTERN,
  type SecretInfo,
  SecretLimitError,
  SecretNotFoundError,
  SECRETS_FILE,
  type SecretStore,
  type SecretStoreComponents,
  type SecretStoreInit
} from './node/secrets.js'
export { DEFAULT_WEBHOOK_BODY_LIMIT, DEFAULT_WEBHOOK_WAIT_MS, WebhookErrorCode } from './server/webhooks/constants.js'
export { type WebhookRoutesInit, webhookRoutes } from './server/webhooks/index.js'
export { GRANTS_RESOURCE, type GrantView, grantRoutes, grantView } from './server/routes/grants.js'
export { secretRoutes } from './server/webhooks/secrets.js'
export { type PointerLocator, pointerLocator, pointerSegments, type SourcePosition } from './locate.js'
export { createOutput, type Output, renderTable, type TableOptions } from './output.js'
export { buildProgram, type CommandContext, type CommandOutcome, runCli } from './program.js'
export { describeError, formatProblem, isExpectedError } from './report.js'
export { signedFlowText } from './signed-text.js'
export {
  ApiError,
  type ApiAction,
  type ApiContext,
  ApiErrorCode,
  type ApiErrorCodeValue,
  type ApiMetrics,
  type ApiServer,
  type ApiServerInit,
  API_PREFIX,
  type Caller,
  ConflictError,
  createApiServer,
  type Envelope,
  type EnvelopeError,
  type ErrorEnvelope,
  envelopeSchema,
  errorEnvelopeSchema,
  type ExecutionView,
  ForbiddenError,
  type FlowVersionView,
  NotFoundError,
  type OkEnvelope,
  ok,
  RateLimitedError,
  RequestTimeoutError,
  ResponseSchemaError,
  sendError,
  toApiError,
  UnauthenticatedError,
  UnavailableError,
  ValidationFailedError
} from './server/index.js'
export {
  type AuthenticatedSubscriber,
  type ClientMessage as WsClientMessage,
  DEFAULT_WS_CLOSE_GRACE_MS,
  DEFAULT_WS_HEARTBEAT_INTERVAL_MS,
  DEFAULT_WS_MAX_BUFFERED_BYTES,
  DEFAULT_WS_MAX_CONNECTIONS,
  DEFAULT_WS_MAX_MESSAGE_BYTES,
  DEFAULT_WS_MAX_SUBSCRIPTIONS,
  type ErrorMessage as WsErrorMessage,
  type EventConsumer,
  type EventHub,
  type EventHubComponents,
  type EventHubInit,
  type EventHubStats,
  type EventMessage as WsEventMessage,
  type EventSink,
  eventHub,
  InvalidWsMessageError,
  type LaggingMessage as WsLaggingMessage,
  parseClientMessage,
  type ServerMessage as WsServerMessage,
  type SubscribedMessage as WsSubscribedMessage,
  type Subscriber,
  type SubscribeMessage as WsSubscribeMessage,
  type SubscriptionFilter,
  subscriptionResources,
  type UnsubscribedMessage as WsUnsubscribedMessage,
  type UnsubscribeMessage as WsUnsubscribeMessage,
  WS_CLOSE_CODES,
  WS_NODE_RESOURCE,
  WS_PATH,
  WsConfigError,
  type WsEndpoint,
  type WsErrorCode,
  type WsGateway,
  type WsGatewayInit,
  type WsGatewayStats,
  type WsRoutesInit,
  wsEndpoint,
  wsGateway,
  wsRoutes
} from './server/ws/index.js'
