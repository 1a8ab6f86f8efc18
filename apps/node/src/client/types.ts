import type { Flow } from '@qflow/flow-schema'
import type { ErrorInfo, QflowEvent, StepRecord } from '@qflow/scheduler'

/** One page of a listing and the cursor of the next (`null` on the last page). */
export interface Page<T> {
  /** The page's items. */
  items: T[]
  /** Pass as `cursor` to get the next page; absent on the last page. */
  nextCursor?: string
}

/** A stored revision of a flow, as the node answers it. */
export interface FlowVersionRecord {
  /** The flow id. */
  flowId: string
  /** Registry revision, from 1, one per record. */
  revision: number
  /** What the revision did. */
  action: 'register' | 'rollback' | 'archive' | 'restore'
  /** The document's own `version` (semver). */
  flowVersion: string
  /** The flow hash (a CID over the canonical flow without its signature). */
  flowHash: string
  /** Whether the flow is archived at this revision. */
  archived: boolean
  /** For a rollback: the revision it restored. */
  rolledBackTo?: number
  /** CID of the revision record. */
  cid: string
  /** Who recorded it. */
  actor: string
  /** When, ms since the epoch. */
  ts: number
}

/** A flow as a listing answers it: what the index knows. */
export interface FlowSummary {
  /** The flow id. */
  id: string
  /** Its name. */
  name: string
  /** Description. */
  description?: string
  /** The owner's DID. */
  owner: string
  /** Tags. */
  tags: string[]
  /** Category. */
  category?: string
  /** `active` or `archived`. */
  status: string
  /** Whether it is archived. */
  archived: boolean
  /** The current document's `version`. */
  version?: string
  /** The current flow hash. */
  flowHash?: string
  /** When it was first stored, ms since the epoch. */
  createdAt: number
  /** Last change, ms since the epoch. */
  updatedAt: number
}

/** A flow document and the revision it is at. */
export interface StoredFlow {
  /** The flow document. */
  flow: Flow
  /** The revision record of that document. */
  version: FlowVersionRecord
}

/** Filters and paging of `GET /flows`. */
export interface ListFlowsQuery {
  /** Only flows with every one of these tags. */
  tag?: string | readonly string[]
  /** Only flows in this category. */
  category?: string
  /** Only flows owned by this DID. */
  owner?: string
  /** Only flows with this status. */
  status?: 'active' | 'archived'
  /** Include archived flows (default false unless `status` is `archived`). */
  includeArchived?: boolean
  /** Text to search names, descriptions and tags for. */
  q?: string
  /** Largest page. */
  limit?: number
  /** The `nextCursor` of the previous page. */
  cursor?: string
}

/** An execution as a listing answers it. */
export interface ExecutionSummary {
  /** The execution id. */
  executionId: string
  /** The flow it runs, when known. */
  flowId?: string
  /** `running`, `paused`, `completed`, `failed` or `aborted`. */
  status: ExecutionStatus
  /** The DAO subnet. */
  subnet: string
  /** Sequence number of its latest log entry. */
  seq: number
  /** When it started, ms since the epoch. */
  startedAt: number
  /** Last change, ms since the epoch. */
  updatedAt: number
}

/** Filters and paging of `GET /executions`. */
export interface ListExecutionsQuery {
  /** Only executions with this status. */
  status?: 'running' | 'paused' | 'completed' | 'failed' | 'aborted'
  /** Only executions of this flow. */
  flowId?: string
  /** Largest page. */
  limit?: number
  /** The `nextCursor` of the previous page. */
  cursor?: string
}

/** Status of an execution. */
export type ExecutionStatus = 'running' | 'paused' | 'completed' | 'failed' | 'aborted'

/** An execution's state, replayed from its log. */
export interface ExecutionStateJson {
  /** The execution id. */
  executionId: string
  /** The flow it runs. */
  flowId: string
  /** The flow document's version. */
  flowVersion: string
  /** The flow hash. */
  flowHash: string
  /** Who started it. */
  actor: string
  /** The DAO subnet. */
  subnet: string
  /** What started it (`manual`, `webhook:<id>`, …). */
  trigger?: string
  /** For a sub-flow: the parent step. */
  parent?: { executionId: string; stepId: string }
  /** Its status. */
  status: ExecutionStatus
  /** Why it is paused. */
  pausedReason?: string
  /** Its input. */
  input?: unknown
  /** The output of a completed execution. */
  output?: unknown
  /** The error of a failed or aborted one. */
  error?: ErrorInfo
  /** When it started, ms since the epoch. */
  startedAt: number
  /** Last change, ms since the epoch. */
  updatedAt: number
  /** Sequence number of the latest log entry applied. */
  seq: number
  /** Where each step that ran stands, by step id. */
  steps: Record<string, StepRecord>
}

/** One entry of an execution's log, as the node answers it. */
export interface LogEntryRecord {
  /** Sequence number, from 0. */
  seq: number
  /** CID of the entry's block. */
  cid: string
  /** When, ms since the epoch. */
  ts: number
  /** `started`, `step-dispatched`, `step-completed`, `step-failed`, `completed`, … */
  kind: string
  /** The step the entry is about. */
  stepId?: string
  /** The step attempt. */
  attempt?: number
  /** Who the entry was written for. */
  actor: string
  /** The entry's payload (decrypted). */
  payload?: unknown
}

/** One page of an execution's log; pass `next` as `after` for the following page. */
export interface LogPage {
  /** The entries, in `seq` order. */
  items: LogEntryRecord[]
  /** The `after` of the next page; absent when these were the last entries so far. */
  next?: number
}

/** Paging of `GET /executions/:id/logs`. */
export interface LogsQuery {
  /** Only entries after this `seq`. */
  after?: number
  /** Largest page. */
  limit?: number
}

/** Options of starting an execution of a stored flow. */
export interface StartFlowOptions {
  /** The execution input (checked against the flow's `inputSchema`). */
  input?: unknown
  /** Run this document version of the flow instead of the current one. */
  version?: string
  /** Run under this id; starting an id that exists answers that execution. */
  executionId?: string
  /** Wait for the result (bounded by `timeoutMs` and the node's own bound). */
  wait?: boolean
  /** How long the node may wait for the result, ms. */
  timeoutMs?: number
}

/** Body of `POST /executions`: a flow reference plus {@link StartFlowOptions}. */
export interface StartExecutionRequest extends StartFlowOptions {
  /** The flow to run (its id). */
  flowId: string
}

/** What starting an execution answers: its id, and with `wait` its result. */
export interface StartedExecution {
  /** The execution id. */
  executionId: string
  /** The flow it runs. */
  flowId: string
  /** Its status: `running` when the node did not wait (or the wait ran out). */
  status: ExecutionStatus
  /** With `wait`: the output of a completed execution. */
  output?: unknown
  /** With `wait`: the error of a failed or aborted one. */
  error?: ErrorInfo
}

/** What pausing, resuming or aborting answers. */
export interface ExecutionControlResult {
  /** The execution id. */
  executionId: string
  /** Its status afterwards. */
  status: ExecutionStatus
}

/** What triggering an event answers. */
export interface TriggerResult {
  /** The event name. */
  name: string
  /** How many waiting `event-trigger` steps the event ended. */
  delivered: number
}

/** A secret as the node lists it: its name and times, never its value. */
export interface SecretSummary {
  /** Its name (what a webhook trigger's `auth.secretRef` names). */
  name: string
  /** When it was first stored, ms since the epoch. */
  createdAt: number
  /** When its value last changed, ms since the epoch. */
  updatedAt: number
}

/** What storing a secret answers. */
export interface SecretPutResult extends SecretSummary {
  /** `true` when the name was new (201), `false` when an existing value was replaced (200). */
  created: boolean
}

/** What deleting a secret answers. */
export interface SecretDeleteResult {
  /** The name. */
  name: string
  /** Always `true` (an unknown name is a 404 `ApiNotFoundError`). */
  deleted: true
}

/** A consent grant (or deny rule) as the node answers it. */
export interface GrantRecord {
  /** The grant id (never reused, even after revocation). */
  id: string
  /** Who: an identity (`did:key:…`), `*` (anyone), or a prefix ending in `*`. */
  subject: string
  /** What: a resource pattern (`qflow:flow:f1`, `qflow:flow:*`, `qflow:**`). */
  resource: string
  /** Which actions (`read`, `write`, `execute`, `admin`, `*`, …). */
  actions: string[]
  /** `allow`, or `deny` (a deny rule overrides every allow). */
  effect: 'allow' | 'deny'
  /** When it lapses, ms since the epoch; absent when it never does. */
  expiresAt?: number
  /** Whether it has lapsed (lapsed grants are kept, and listed, for a while). */
  expired: boolean
  /** The identity that issued it. */
  grantedBy: string
  /** Conditions it holds only under, when it has any. */
  conditions?: Record<string, unknown>
  /** Whether it carries its grantor's signature. */
  signed: boolean
}

/** Body of `POST /api/v1/grants`. */
export interface AddGrantRequest {
  /** Who: an identity (`did:key:…`), `*` (anyone), or a prefix ending in `*` (`did:squid:alice:*`). */
  subject: string
  /** What: a resource pattern (`qflow:flow:<id>`, `qflow:flow:*`, `qflow:secret:<name>`, `qflow:**`). */
  resource: string
  /** Which actions: `read`, `write`, `execute`, `admin` (every action), `*`. */
  actions: string[]
  /** `allow` (default), or `deny`: a deny rule overrides every allow. */
  effect?: 'allow' | 'deny'
  /** When it lapses, ms since the epoch (in the future); never when absent. */
  expiresAt?: number
  /** The grant id (default a random UUID). */
  id?: string
}

/** Filters and paging of `GET /api/v1/grants`. */
export interface ListGrantsQuery {
  /** Only the grants that apply to this identity (exactly, through `*`, or through a prefix). */
  subject?: string
  /** Only the grants whose pattern matches this resource. */
  resource?: string
  /** Only allows, or only deny rules. */
  effect?: 'allow' | 'deny'
  /** Include lapsed grants not purged yet (default true). */
  includeExpired?: boolean
  /** Largest page. */
  limit?: number
  /** The `nextCursor` of the previous page. */
  cursor?: string
}

/** What revoking a grant answers. */
export interface GrantRevokeResult {
  /** The grant id. */
  id: string
  /** Always `true` (an unknown id is a 404 `ApiNotFoundError`). */
  revoked: true
  /** The grant that was revoked. */
  grant: GrantRecord
}

/** A token revocation in force on a node. */
export interface TokenRevocationRecord {
  /** `token`: one token, by issuer and nonce; `identity`: every token of an identity issued before `before`. */
  kind: 'token' | 'identity'
  /** token: its issuer (`iss`). */
  issuer?: string
  /** token: its nonce (`jti`). */
  nonce?: string
  /** token: when it expires (the entry goes then), ms since the epoch. */
  expiresAt?: number
  /** identity: whose tokens. */
  identity?: string
  /** identity: tokens issued before this are refused, ms since the epoch. */
  before?: number
  /** When, ms since the epoch. */
  revokedAt: number
  /** Why. */
  reason?: string
  /** Who revoked it. */
  by?: string
}

/** What to revoke: exactly one of `token` and `identity`. */
export interface RevokeTokenRequest {
  /** A bearer token: revoked until it expires. */
  token?: string
  /** An identity: every token it signed or that speaks for it, issued before `before`, is revoked. */
  identity?: string
  /** With `identity`: the cutoff, ms since the epoch (not in the future). Default now. */
  before?: number
  /** Why, recorded with the revocation. */
  reason?: string
}

/** The revocations in force. */
export interface TokenRevocationList {
  /** The first 10,000: identities, then tokens not yet expired, each oldest first. */
  items: TokenRevocationRecord[]
  /** How many are in force. */
  total: number
}

/** A node health answer. */
export interface HealthStatus {
  /** `live`; `ready` or `not-ready`. */
  status: string
  /** Readiness: each check and whether it is `ok` or `failing`. */
  checks?: Record<string, string>
}

/** Which events a subscription receives; every member given must match. */
export interface EventFilter {
  /** Event names (`q.qflow.exec.completed.v1`, …); all when absent. */
  events?: string[]
  /** Only events of this flow. */
  flowId?: string
  /** Only events of this execution. */
  executionId?: string
}

/** An engine event as the WebSocket delivers it. */
export type QflowEventJson = QflowEvent
