/**
 * The Qflow engine.
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
