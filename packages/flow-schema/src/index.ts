/**
 * Qflow flow documents: parse them from JSON or YAML, validate them (JSON Schema plus graph,
 * expression and bound checks, every problem at once with a JSON pointer), hash them (a CID over
 * their RFC 8785 canonical bytes), sign and verify them (ed25519, `did:key`), and version them
 * (hash-linked versions, diffs, append-only rollbacks).
 *
 * @example
 * ```ts
 * import { generateKeyPairSync } from 'node:crypto'
 * import { ed25519Signer, ed25519Verifier, flowHash, loadFlow, signFlow, verifyFlow } from '@qflow/flow-schema'
 *
 * const flow = loadFlow(`
 * id: hello
 * name: Hello
 * version: 1.0.0
 * owner: squid:alice
 * steps:
 *   - id: greet
 *     type: task
 *     action: log
 *     params:
 *       message: "{{ 'Hello, ' & name }}"
 * `)
 * console.log(flowHash(flow)) // bagaaiera…
 * const signed = await signFlow(flow, ed25519Signer(generateKeyPairSync('ed25519').privateKey))
 * console.log((await verifyFlow(signed, ed25519Verifier())).valid) // true
 * ```
 *
 * @packageDocumentation
 */
export { type ActionDefinition, type ActionRegistry, createActionRegistry, defaultActions } from './actions.js'
export {
  DEFAULT_MAX_ALIAS_EXPANSION,
  DEFAULT_MAX_ALIASES,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_PROBLEMS,
  DEFAULT_MAX_STEPS,
  EXPRESSION_CACHE_SIZE,
  JSON_CODEC,
  JSON_SCHEMA_CACHE_SIZE,
  MAX_CPU_MS,
  MAX_EVENT_WAIT_MS,
  MAX_EXPRESSION_LENGTH,
  MAX_MEMORY_MB,
  MAX_RETRY_ATTEMPTS,
  MAX_RETRY_DELAY_MS,
  MAX_RETRY_INITIAL_DELAY_MS,
  MAX_STEP_TIMEOUT_MS,
  MIN_TIMEOUT_MS,
  SHA2_256
} from './constants.js'
export { type CronSchedule, parseCron } from './cron.js'
export { didKeyFromPublicKey, publicKeyFromDidKey } from './did.js'
export {
  ActionRegistryError,
  CronParseError,
  DidKeyError,
  FlowExpressionError,
  type FlowFormat,
  FlowParseError,
  FlowSignatureError,
  type FlowSignatureReason,
  FlowValidationError,
  FlowVersionError,
  type FlowVersionReason,
  JsonSchemaError,
  SigningKeyError
} from './errors.js'
export { type CompiledExpression, compileExpression, findTemplates, forEachTemplate, type TemplateLocation, templateExpression } from './expressions.js'
export { compileFastExpression, FAST_PATH_DECLINED, type FastExpression } from './fast-expression.js'
export {
  type BranchMembership,
  buildStepGraph,
  nextSteps,
  type StepEdge,
  type StepEdgeKind,
  type StepGraph,
  type StepSuccessors
} from './graph.js'
export { flowCanonicalBytes, flowCid, flowHash, flowHashBytes } from './hash.js'
export { compileJsonSchema } from './json-schema.js'
export { detectFlowFormat, type ParseFlowOptions, parseFlow } from './parse.js'
export { jsonPointer, parseJsonPointer, resolveJsonPointer } from './pointer.js'
export { FLOW_SCHEMA_ID, flowSchema } from './schema.js'
export { DEFAULT_FLOW_LIMITS, type FlowLimits } from './semantic.js'
export { bumpVersion, compareVersions, parseVersion, type SemVer, type VersionBump } from './semver.js'
export {
  assertFlowSignature,
  ed25519PrivateKeyFromSeed,
  ed25519Signer,
  ed25519Verifier,
  type FlowNotVerified,
  type FlowSigner,
  type FlowVerification,
  type FlowVerified,
  type FlowVerifier,
  type SignFlowOptions,
  signFlow,
  verifyFlow
} from './sign.js'
export type {
  ConditionStep,
  EventFilter,
  EventTrigger,
  EventTriggerStep,
  Flow,
  FlowHash,
  FlowMetadata,
  FlowProblem,
  FlowProblemSeverity,
  FlowSignature,
  FlowValidationResult,
  FlowVisibility,
  IdentityId,
  JsonSchema,
  JsonValue,
  ManualTrigger,
  ModuleCallStep,
  ParallelJoin,
  ParallelStep,
  ResourceLimits,
  ResourceRequirements,
  RetryPolicy,
  ScheduleTrigger,
  Step,
  StepBase,
  StepType,
  SubFlowStep,
  TaskStep,
  Trigger,
  TriggerType,
  WebhookAuth,
  WebhookTrigger
} from './types.js'
export { assertValidFlow, type LoadFlowOptions, loadFlow, type ValidateFlowOptions, validateFlow } from './validate.js'
export {
  checkFlowHistory,
  diffFlows,
  type FlowChanges,
  type FlowDiff,
  type FlowFieldChange,
  type FlowHistoryCheck,
  type FlowHistoryProblem,
  type FlowStepChange,
  type FlowStepMove,
  findFlowVersion,
  type NextVersionOptions,
  nextVersion,
  rollbackFlow,
  sameFlowContent
} from './versions.js'
