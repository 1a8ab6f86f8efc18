/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** A JSON Schema (draft 2020-12): an object or a boolean. */
export type JsonSchema = boolean | { [keyword: string]: unknown }

/** An sQuid identity: `did:key:z6Mk…` (ed25519), or a legacy `did:squid:…` / `squid:…` id. */
export type IdentityId = string

/** A flow hash: a CIDv1 string (base32, codec json, sha2-256). See {@link flowHash}. */
export type FlowHash = string

/** Who may see and run a flow. */
export type FlowVisibility = 'public' | 'dao-only' | 'private'

/** Legacy: what a flow needs from the node that runs it. */
export interface ResourceRequirements {
  /** Minimum memory, MiB. */
  minMemoryMB?: number
  /** Minimum CPU cores. */
  minCpuCores?: number
  /** Capabilities the node must have. */
  requiredCapabilities?: string[]
  /** Whether the flow needs the network. */
  networkAccess?: boolean
  /** Whether the flow needs storage. */
  storageAccess?: boolean
  /** Other fields are kept. */
  [key: string]: unknown
}

/** Descriptive metadata of a flow. Unknown members are kept (and reported as warnings). */
export interface FlowMetadata {
  /** Free-form tags. */
  tags?: string[]
  /** Category, for catalogues. */
  category?: string
  /** Who may see and run the flow. */
  visibility?: FlowVisibility
  /** The DAO subnet a `dao-only` flow belongs to. */
  daoSubnet?: string
  /** Permissions (Qonsent scopes) a run needs. */
  requiredPermissions?: string[]
  /** Legacy: estimated duration, ms. */
  estimatedDuration?: number
  /** Legacy: node requirements. */
  resourceRequirements?: ResourceRequirements
  /** Legacy: optimization hints. */
  optimizations?: string[]
  /** Legacy: a version string of the metadata. */
  version?: string
  /** Other members are kept. */
  [key: string]: unknown
}

/** How a webhook request proves where it came from. */
export interface WebhookAuth {
  /**
   * `standard-webhooks` (standardwebhooks.com: `v1` HMAC-SHA256 or `v1a` ed25519, as the stored
   * key says), `github` (X-Hub-Signature-256) or `squid-token`.
   */
  scheme: 'standard-webhooks' | 'github' | 'squid-token'
  /**
   * Name of the secret (in the node's secret store) that verifies requests. For
   * `standard-webhooks` its value's prefix chooses the signatures accepted: a `whsec_` secret
   * verifies `v1` (HMAC) signatures only, a `whpk_` public key `v1a` (ed25519) signatures only.
   */
  secretRef?: string
}

/** Starts a run on request (CLI, API). */
export interface ManualTrigger {
  /** Unique among the flow's triggers. */
  id: string
  /** Trigger kind. */
  type: 'manual'
  /** What it is for. */
  description?: string
}

/** Starts a run when an authenticated HTTP request arrives. */
export interface WebhookTrigger {
  /** Unique among the flow's triggers. */
  id: string
  /** Trigger kind. */
  type: 'webhook'
  /** What it is for. */
  description?: string
  /** How requests are authenticated. */
  auth: WebhookAuth
  /** JSON Schema the request body must match. */
  eventSchema?: JsonSchema
  /** Answer as soon as the run is accepted (default) or once it completes. */
  respond?: 'on-receipt' | 'on-completion'
}

/** Starts a run when an ecosystem event matching `filter` is published. */
export interface EventTrigger {
  /** Unique among the flow's triggers. */
  id: string
  /** Trigger kind. */
  type: 'event'
  /** What it is for. */
  description?: string
  /** Event name, such as `q.qmail.sent.v1`. */
  event: string
  /** A JSONata predicate over the event, or members the event must equal. */
  filter?: EventFilter
}

/** Starts runs on a cron schedule. */
export interface ScheduleTrigger {
  /** Unique among the flow's triggers. */
  id: string
  /** Trigger kind. */
  type: 'schedule'
  /** What it is for. */
  description?: string
  /** Cron expression with 5 (minute first) or 6 (second first) fields, or `@daily` and the like. */
  cron: string
  /** IANA time zone the schedule is read in (default UTC). */
  timezone?: string
}

/** What starts a run of a flow. */
export type Trigger = ManualTrigger | WebhookTrigger | EventTrigger | ScheduleTrigger

/** Kinds of trigger. */
export type TriggerType = Trigger['type']

/** A JSONata predicate (string) over an event, or an object whose members the event must equal. */
export type EventFilter = string | { [path: string]: unknown }

/** How a failed step is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number
  /** Delay growth between attempts. */
  backoff?: 'fixed' | 'exponential'
  /** Delay before the first retry, ms. */
  initialDelay?: number
  /** Longest delay between attempts, ms. */
  maxDelay?: number
  /** Randomize delays: `true` for full jitter, or the fraction of the delay to randomize. */
  jitter?: boolean | number
  /** Legacy name of `backoff` (which also allows `linear`). */
  backoffStrategy?: 'fixed' | 'exponential' | 'linear'
  /** Legacy: growth factor of exponential backoff. */
  backoffMultiplier?: number
  /** Legacy: error codes worth a retry. */
  retryableErrors?: string[]
}

/** What a step may consume. */
export interface ResourceLimits {
  /** Memory, MiB. */
  memoryMB?: number
  /** CPU time, ms. */
  cpuMs?: number
  /** Wall-clock time, ms. */
  timeoutMs?: number
  /** Legacy name of `memoryMB`. */
  maxMemoryMB?: number
  /** Legacy name of `timeoutMs`. */
  maxExecutionTimeMs?: number
  /** Legacy: CPU share, percent. */
  maxCpuPercent?: number
  /** Legacy: most outgoing requests. */
  maxNetworkRequests?: number
}

/** Members every step has. */
export interface StepBase {
  /** Unique among the flow's steps. */
  id: string
  /** Human-readable name. */
  name?: string
  /** What it does. */
  description?: string
  /** Legacy: in the earlier format every step named an action; on non-task steps it is kept as is. */
  action?: string
  /** Parameters; a string value that is entirely `{{ … }}` is a JSONata expression. */
  params?: { [key: string]: unknown }
  /** Step to run after success (default: the next step in the list, or in the branch). */
  onSuccess?: string
  /** Step to run after failure (default: the run fails). */
  onFailure?: string
  /** Time limit, ms. */
  timeout?: number
  /** How failures are retried. */
  retryPolicy?: RetryPolicy
  /** What the step may consume. */
  resourceLimits?: ResourceLimits
  /** JSON Schema the step's output must match. */
  outputSchema?: JsonSchema
}

/** Runs a registered action (`http.request`, `data.transform`, `log`, `delay`, `wasm.run`, …). */
export interface TaskStep extends StepBase {
  /** Step kind. */
  type: 'task'
  /** Name of the action in the action registry. */
  action: string
}

/** Evaluates a JSONata expression and continues with `onTrue` or `onFalse`. */
export interface ConditionStep extends StepBase {
  /** Step kind. */
  type: 'condition'
  /** JSONata expression; its truthiness picks the branch. Absent only in legacy documents. */
  expression?: string
  /** Step to run when true (default: the next step). */
  onTrue?: string
  /** Step to run when false (default: the next step). */
  onFalse?: string
}

/** How a parallel step waits for its branches. */
export type ParallelJoin = 'all' | 'any' | { count: number }

/** Runs branches at once; each branch is a list of step ids run in order. */
export interface ParallelStep extends StepBase {
  /** Step kind. */
  type: 'parallel'
  /** Branches: lists of step ids. Absent only in legacy documents. */
  branches?: string[][]
  /** Wait for all branches (default), any one, or a count of them. */
  join?: ParallelJoin
}

/** Waits for a named event that matches `filter`. */
export interface EventTriggerStep extends StepBase {
  /** Step kind. */
  type: 'event-trigger'
  /** Event name. Absent only in legacy documents. */
  event?: string
  /** A JSONata predicate over the event, or members the event must equal. */
  filter?: EventFilter
  /** Step to run when the wait runs out (default: the wait fails, and `onFailure` applies). */
  onTimeout?: string
}

/** Calls an operation of an ecosystem module (qmail, qpic, …). */
export interface ModuleCallStep extends StepBase {
  /** Step kind. */
  type: 'module-call'
  /** Module name. Absent only in legacy documents. */
  module?: string
  /** Operation name. Absent only in legacy documents. */
  operation?: string
}

/** Runs another flow. */
export interface SubFlowStep extends StepBase {
  /** Step kind. */
  type: 'sub-flow'
  /** `id@version` or a flow hash (CID). */
  flow: string
  /** Input of the sub-flow run; `{{ … }}` strings are expressions. */
  input?: unknown
}

/** A step of a flow. */
export type Step = TaskStep | ConditionStep | ParallelStep | EventTriggerStep | ModuleCallStep | SubFlowStep

/** Kinds of step. */
export type StepType = Step['type']

/** A detached ed25519 signature over the flow's canonical bytes (the flow without `signature`). */
export interface FlowSignature {
  /** Always `EdDSA`. */
  alg: 'EdDSA'
  /** DID of the signer (`did:key:z6Mk…`). */
  signer: IdentityId
  /** The 64-byte signature, base64url without padding. */
  value: string
  /** {@link flowHash} of the signed flow. */
  hash: FlowHash
  /** When it was signed (ISO 8601). Informational: it is not covered by the signature. */
  signedAt?: string
}

/** A flow document. */
export interface Flow {
  /** URI of the schema the document was written against (for editors). */
  $schema?: string
  /** Flow id: letters, digits, `_`, `-`. */
  id: string
  /** Human-readable name. */
  name: string
  /** Semantic version. */
  version: string
  /** sQuid identity of the owner. */
  owner: IdentityId
  /** What the flow does. */
  description?: string
  /** Descriptive metadata. */
  metadata?: FlowMetadata
  /** What starts runs. */
  triggers?: Trigger[]
  /** JSON Schema of a run's input. */
  inputSchema?: JsonSchema
  /** The steps; the first is the entry. */
  steps: Step[]
  /** {@link flowHash} of the version this one replaces. */
  previousVersion?: FlowHash
  /** Detached signature. */
  signature?: FlowSignature
  /** Legacy: DAO policy reference. */
  daoPolicy?: string
  /** Legacy: creation time. */
  createdAt?: string
  /** Legacy: update time. */
  updatedAt?: string
}

/** Whether a problem stops a flow from being valid. */
export type FlowProblemSeverity = 'error' | 'warning'

/** One problem found in a flow document. */
export interface FlowProblem {
  /** JSON pointer (RFC 6901) to the offending value; `''` is the whole document. */
  pointer: string
  /** Stable machine-readable code, such as `missing-field` or `cycle`. */
  code: string
  /** What is wrong, for people. */
  message: string
  /** Id of the step the problem is in, when it is in one. */
  stepId?: string
  /** Related step ids: the path of a cycle, say. */
  related?: string[]
}

/** What {@link validateFlow} found. */
export interface FlowValidationResult {
  /** True when there are no errors (warnings allowed). */
  valid: boolean
  /** The document typed as a flow, when valid. */
  flow?: Flow
  /** Every error found. */
  errors: FlowProblem[]
  /** Every warning found. */
  warnings: FlowProblem[]
}
