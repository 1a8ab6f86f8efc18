/**
 * The Qflow engine: runs every step type of the flow format, persists every transition to the
 * execution log (signed, encrypted, content-addressed by `@qflow/state`) before acting on it, runs
 * the universal pipeline before an execution starts and before every step, and resumes unfinished
 * executions exactly where they were after a crash.
 *
 * @example
 * ```ts
 * import { createActionRegistry, dataTransformAction, engine } from '@qflow/scheduler'
 *
 * // log and flows from @qflow/state, pipeline from @qflow/pipeline (see the README for the wiring)
 * const qflow = engine()({ identity: nodeIdentity, log: store.log, flows: store.flows, pipeline,
 *   actions: createActionRegistry([dataTransformAction()]) })
 * await qflow.start()
 * const result = await qflow.run('hello@1.0.0', { name: 'Ada' }, { actor: { did, credentials: { token } } })
 * ```
 *
 * @packageDocumentation
 */
export {
  type Action,
  type ActionContext,
  type ActionRegistry,
  createActionRegistry,
  InvalidActionParamsError,
  UnknownActionError
} from './actions/action.js'
export { dataTransformAction, logAction } from './actions/builtin.js'
export {
  type HttpRequestInit,
  type HttpRequestParams,
  HttpRequestError,
  httpRequestAction,
  type HttpResponseOutput,
  HttpResponseTooLargeError,
  HttpStatusError,
  PrivateAddressError
} from './actions/http-request.js'
export { DEFAULT_RETRY, type RetryPolicyLike, retryDelay } from './backoff.js'
export { DEFAULT_SNAPSHOT_EVERY, DEFAULT_STEP_TIMEOUT_MS } from './constants.js'
export {
  type Engine,
  type EngineComponents,
  type EngineInit,
  type EventListenOptions,
  type ExecutionResult,
  engine,
  type FlowRef,
  type LaunchedExecution,
  type StartOptions
} from './engine/engine.js'
export {
  EngineNotStartedError,
  EventTimeoutError,
  ExecutionStateError,
  FlowReferenceError,
  InvalidExecutionInputError,
  StepIntegrityError,
  StepTimeoutError,
  UnknownExecutionError
} from './engine/errors.js'
export {
  applyEntry,
  type CarriedStart,
  type ErrorInfo,
  type ExecutionState,
  type ExecutionStatusName,
  InconsistentLogError,
  initialState,
  type JoinRecord,
  type PrecedingCompletion,
  type StartedPayload,
  type StepRecord,
  startOf,
  type TokenRecord
} from './engine/execution-state.js'
export { type ExpressionContext, evaluateExpression, evaluateTemplates } from './engine/expressions.js'
export type { EngineFlow, EngineStep } from './engine/flow-model.js'
export { buildFlowGraph, type FlowGraph, type StepOutcome, UnknownStepError } from './engine/graph.js'
export { createModuleRegistry, type ModuleHandler, type ModuleRegistry, UnknownModuleError } from './engine/modules.js'
export {
  createEvent,
  type ExecCompletedData,
  type ExecStartedData,
  type ExecStepCompletedData,
  type ExecStepDispatchedData,
  type FlowCreatedData,
  type PipelineExecutedData,
  QFLOW_EVENTS,
  type QflowEvent,
  type QflowEventData,
  type QflowEventName
} from './events/envelope.js'
export { eventSchemas } from './events/schemas.js'
