import { API_PREFIX, DEFAULT_REQUEST_TIMEOUT_MS, WAIT_GRACE_MS } from './constants.js'
import { apiErrorClass, InvalidApiUrlError, NodeUnreachableError, type UnreachableReason, UnexpectedResponseError } from './errors.js'
import { type EventSubscription, type SubscribeOptions, subscribeEvents } from './events.js'
import type {
  EventFilter,
  ExecutionControlResult,
  ExecutionStateJson,
  ExecutionSummary,
  AddGrantRequest,
  FlowSummary,
  FlowVersionRecord,
  GrantRecord,
  GrantRevokeResult,
  RevokeTokenRequest,
  TokenRevocationList,
  TokenRevocationRecord,
  HealthStatus,
  ListGrantsQuery,
  ListExecutionsQuery,
  ListFlowsQuery,
  LogPage,
  LogsQuery,
  Page,
  SecretDeleteResult,
  SecretPutResult,
  SecretSummary,
  StartedExecution,
  StartExecutionRequest,
  StartFlowOptions,
  StoredFlow,
  TriggerResult
} from './types.js'

/** Options of {@link createQflowClient}; only `api` is required. */
export interface QflowClientInit {
  /** The node's URL: `http://127.0.0.1:7070` (a trailing `/api/v1` is allowed and ignored). */
  api: string
  /** The sQuid bearer token sent with every request. */
  token?: string
  /** How long one request may take, ms (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  timeoutMs?: number
  /** The `fetch` to use (default the global one). */
  fetch?: typeof globalThis.fetch
  /** Headers sent with every request (`user-agent`, …). */
  headers?: Record<string, string>
}

/** A query string's values: arrays repeat the parameter. */
export type QueryValues = Record<string, string | number | boolean | readonly string[] | undefined>

/** Options of {@link QflowClient.request}. */
export interface RequestOptions {
  /** Query parameters (undefined ones are left out). */
  query?: QueryValues
  /** A JSON body. */
  body?: unknown
  /** A body sent as it is, with its content type (a YAML flow). */
  rawBody?: { contentType: string; text: string }
  /** How long this request may take, ms (default the client's). */
  timeoutMs?: number
  /** Ends the request early. */
  signal?: AbortSignal
  /**
   * Whether the answer is the API envelope (default true). With `false` a success answer's JSON
   * (or text) is returned as it is (`/api/v1/openapi.json`, `/metrics`).
   */
  envelope?: boolean
}

/** A successful answer: the envelope's `data` and what came with it. */
export interface ApiAnswer<T> {
  /** The envelope's `data` (or, without an envelope, the whole body). */
  data: T
  /** The HTTP status. */
  status: number
  /** The node's id of the request. */
  requestId: string | undefined
}

/** Flows on the node: `/api/v1/flows`. */
export interface FlowsApi {
  /**
   * Stores a flow: a document (sent as JSON) or its YAML or JSON text (`format` says which).
   * Storing the same content again answers the existing revision.
   */
  create(flow: object | string, options?: { format?: 'json' | 'yaml' }): Promise<FlowVersionRecord>
  /** One page of the flows the index holds, filtered and searched. */
  list(query?: ListFlowsQuery): Promise<Page<FlowSummary>>
  /** Every flow matching `query`, page after page. */
  listAll(query?: Omit<ListFlowsQuery, 'cursor'>): AsyncGenerator<FlowSummary>
  /** The current document of a flow and its revision. */
  get(flowId: string): Promise<StoredFlow>
  /** One version of a flow: a registry revision (`2`) or a document version (`1.2.0`). */
  getVersion(flowId: string, version: string): Promise<StoredFlow>
  /** A flow's revisions, newest first. */
  history(flowId: string): Promise<FlowVersionRecord[]>
  /** Makes an earlier revision (or document version) current again, recorded as a new revision. */
  rollback(flowId: string, toVersion: number | string): Promise<FlowVersionRecord>
  /** Archives a flow (recorded as a new revision). */
  archive(flowId: string): Promise<FlowVersionRecord>
  /** Starts an execution of the flow; with `wait`, answers its result (bounded). */
  start(flowId: string, options?: StartFlowOptions): Promise<StartedExecution>
}

/** Executions on the node: `/api/v1/executions`. */
export interface ExecutionsApi {
  /** Starts an execution; with `wait`, answers its result (bounded). */
  start(request: StartExecutionRequest): Promise<StartedExecution>
  /** One page of executions. */
  list(query?: ListExecutionsQuery): Promise<Page<ExecutionSummary>>
  /** Every execution matching `query`, page after page. */
  listAll(query?: Omit<ListExecutionsQuery, 'cursor'>): AsyncGenerator<ExecutionSummary>
  /** An execution's state. */
  get(executionId: string): Promise<ExecutionStateJson>
  /** One page of an execution's log entries. */
  logs(executionId: string, query?: LogsQuery): Promise<LogPage>
  /** Every log entry after `after` (default all), page after page. */
  allLogs(executionId: string, query?: LogsQuery): AsyncGenerator<LogPage['items'][number]>
  /** Stops dispatching new steps until resumed. */
  pause(executionId: string, reason?: string): Promise<ExecutionControlResult>
  /** Resumes a paused execution. */
  resume(executionId: string, reason?: string): Promise<ExecutionControlResult>
  /** Ends an execution; running steps are aborted. */
  abort(executionId: string, reason?: string): Promise<ExecutionControlResult>
}

/** Events on the node: triggering `event-trigger` steps, and the WebSocket stream. */
export interface EventsApi {
  /** Delivers an event to the `event-trigger` steps waiting for it: `POST /api/v1/events`. */
  trigger(name: string, payload?: unknown): Promise<TriggerResult>
  /**
   * Opens the event WebSocket and subscribes; resolves once the node confirmed the subscription
   * (every matching event from then on is delivered). Iterate it; `close()` it when done.
   */
  subscribe(filter?: EventFilter, options?: SubscribeOptions): Promise<EventSubscription>
}

/** The node's named secrets (webhook signing secrets): `/api/v1/secrets`. Values go in, never out. */
export interface SecretsApi {
  /**
   * Stores a value under a name, replacing one there: `PUT /api/v1/secrets/:name`. Needs `write`
   * on `qflow:secret:<name>`; the node seals it at rest and never answers it back.
   *
   * @throws `ApiValidationError` for a bad name (letters, digits, `.`, `_`, `-`; at most 128) or value (1 to 8 KiB).
   */
  set(name: string, value: string): Promise<SecretPutResult>
  /** The names and times of the secrets the caller may `read`, by name: `GET /api/v1/secrets`. */
  list(): Promise<SecretSummary[]>
  /**
   * Removes a secret: `DELETE /api/v1/secrets/:name`. Webhook triggers naming it are refused
   * until it is stored again.
   *
   * @throws `ApiNotFoundError` when there is none of that name.
   */
  delete(name: string): Promise<SecretDeleteResult>
}

/** The node's consent grants: `/api/v1/grants`. Every call needs `admin` on `qflow:node` (the admin identity has it). */
export interface GrantsApi {
  /**
   * Grants `subject` `actions` on the resources `resource` matches (or, with `effect: 'deny'`,
   * adds a deny rule): `POST /api/v1/grants`. Issued by the caller; in effect at once.
   *
   * @throws `ApiValidationError` for a malformed subject, pattern or action, or an expiry not in the future;
   * `ApiConflictError` for a taken id, or a deny rule that would lock the admin identity out.
   */
  add(grant: AddGrantRequest): Promise<GrantRecord>
  /** One page of grants, by id: `GET /api/v1/grants`. */
  list(query?: ListGrantsQuery): Promise<Page<GrantRecord>>
  /** Every grant matching `query`, page after page. */
  listAll(query?: Omit<ListGrantsQuery, 'cursor'>): AsyncGenerator<GrantRecord>
  /**
   * Revokes a grant: `DELETE /api/v1/grants/:id`. In effect at once; the id is never reused.
   *
   * @throws `ApiNotFoundError` when no live grant has that id; `ApiConflictError` for the admin identity's own grant.
   */
  revoke(id: string, reason?: string): Promise<GrantRevokeResult>
}

/** Bearer token revocation: `/api/v1/tokens/revocations`. */
export interface TokensApi {
  /**
   * Revokes a token (until it expires) or every token of an identity issued so far:
   * `POST /api/v1/tokens/revocations`. Your own tokens and identity need nothing more; any other
   * needs `admin` on `qflow:node`. In effect at once.
   *
   * @throws `ApiValidationError` for an unreadable token, a bad identity or a future cutoff; `ApiForbiddenError` for someone else's without admin.
   */
  revoke(request: RevokeTokenRequest): Promise<TokenRevocationRecord>
  /** The revocations in force: `GET /api/v1/tokens/revocations` (needs `admin` on `qflow:node`). */
  revocations(): Promise<TokenRevocationList>
}

/** A typed client of a Qflow node's REST API and event stream. */
export interface QflowClient {
  /** The node's base URL (origin and any path before `/api/v1`), without a trailing slash. */
  readonly api: string
  /** Flows. */
  readonly flows: FlowsApi
  /** Executions. */
  readonly executions: ExecutionsApi
  /** Events. */
  readonly events: EventsApi
  /** Secrets (webhook signing secrets). */
  readonly secrets: SecretsApi
  /** Consent grants (who may do what). */
  readonly grants: GrantsApi
  /** Bearer token revocation. */
  readonly tokens: TokensApi
  /** `GET /health/live`: answers while the process runs. */
  live(): Promise<HealthStatus>
  /** `GET /health/ready`: answers once the node serves (503 `ApiServerError` before). */
  ready(): Promise<HealthStatus>
  /** The OpenAPI 3.1 document of the API. */
  openapi(): Promise<Record<string, unknown>>
  /**
   * Any request: `path` is under the node's base URL (`/api/v1/flows`, `/health/live`).
   *
   * @throws a {@link QflowApiError} subclass for an error answer, {@link NodeUnreachableError}
   * when no answer came, {@link UnexpectedResponseError} when the answer is not the API's.
   */
  request<T>(method: string, path: string, options?: RequestOptions): Promise<ApiAnswer<T>>
}

/** Normalises a node URL: `http(s)://host[:port][/base]`, no trailing slash or `/api/v1`. */
export function normalizeApiUrl(api: string): string {
  let url: URL
  try {
    url = new URL(api.trim())
  } catch {
    throw new InvalidApiUrlError(api)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidApiUrlError(api)
  if (url.username !== '' || url.password !== '') throw new InvalidApiUrlError(api, 'a node URL may not carry a user name or password; use a token')
  let path = url.pathname.replace(/\/+$/, '')
  if (path.endsWith(API_PREFIX)) path = path.slice(0, -API_PREFIX.length)
  return `${url.origin}${path}`
}

function unreachableReason(err: unknown): UnreachableReason {
  const e = err as { name?: unknown; code?: unknown; cause?: { code?: unknown; name?: unknown } } | null
  if (e?.name === 'TimeoutError' || e?.cause?.name === 'TimeoutError') return 'timeout'
  if (e?.name === 'AbortError') return 'aborted'
  const code = e?.cause?.code ?? e?.code
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'not-found'
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout'
  return 'network'
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000)
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

interface EnvelopeShape {
  success?: unknown
  data?: unknown
  error?: { code?: unknown; message?: unknown; details?: unknown }
  requestId?: unknown
}

function isEnvelope(body: unknown): body is EnvelopeShape {
  return body !== null && typeof body === 'object' && !Array.isArray(body) && typeof (body as EnvelopeShape).success === 'boolean'
}

const segment = (value: string): string => encodeURIComponent(value)

class HttpQflowClient implements QflowClient {
  readonly api: string
  readonly flows: FlowsApi
  readonly executions: ExecutionsApi
  readonly events: EventsApi
  readonly secrets: SecretsApi
  readonly grants: GrantsApi
  readonly tokens: TokensApi
  private readonly token: string | undefined
  private readonly timeoutMs: number
  private readonly fetchFn: typeof globalThis.fetch
  private readonly headers: Record<string, string>

  constructor(init: QflowClientInit) {
    this.api = normalizeApiUrl(init.api)
    this.token = init.token === undefined || init.token === '' ? undefined : init.token
    this.timeoutMs = init.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.fetchFn = init.fetch ?? globalThis.fetch
    this.headers = { ...init.headers }
    this.flows = this.flowsApi()
    this.executions = this.executionsApi()
    this.events = {
      trigger: async (name, payload) => (await this.request<TriggerResult>('POST', `${API_PREFIX}/events`, { body: { name, payload: payload ?? null } })).data,
      subscribe: (filter = {}, options = {}) => subscribeEvents({ api: this.api, ...(this.token === undefined ? {} : { token: this.token }) }, filter, options)
    }
    this.secrets = this.secretsApi()
    this.grants = this.grantsApi()
    const revocations = `${API_PREFIX}/tokens/revocations`
    this.tokens = {
      revoke: async (request) => (await this.request<TokenRevocationRecord>('POST', revocations, { body: { ...request } })).data,
      revocations: async () => (await this.request<TokenRevocationList>('GET', revocations)).data
    }
  }

  async live(): Promise<HealthStatus> {
    return (await this.request<HealthStatus>('GET', '/health/live')).data
  }

  async ready(): Promise<HealthStatus> {
    return (await this.request<HealthStatus>('GET', '/health/ready')).data
  }

  async openapi(): Promise<Record<string, unknown>> {
    return (await this.request<Record<string, unknown>>('GET', `${API_PREFIX}/openapi.json`, { envelope: false })).data
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiAnswer<T>> {
    const url = new URL(`${this.api}${path.startsWith('/') ? path : `/${path}`}`)
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) continue
      if (Array.isArray(value)) for (const item of value as readonly string[]) url.searchParams.append(key, item)
      else url.searchParams.set(key, String(value))
    }
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers }
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    let body: string | undefined
    if (options.rawBody !== undefined) {
      headers['content-type'] = options.rawBody.contentType
      body = options.rawBody.text
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.body)
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs)
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal])
    const where = url.toString()
    let response: Response
    let text: string
    try {
      response = await this.fetchFn(where, { method, headers, ...(body === undefined ? {} : { body }), signal, redirect: 'error' })
      text = await response.text()
    } catch (err) {
      const reason = unreachableReason(err)
      const cause = (err as { cause?: { message?: unknown } }).cause?.message
      const detail = typeof cause === 'string' && cause !== '' ? cause : (err as Error).message
      const why =
        reason === 'timeout'
          ? `no answer within ${options.timeoutMs ?? this.timeoutMs} ms`
          : reason === 'refused'
            ? 'connection refused'
            : reason === 'not-found'
              ? 'unknown host'
              : `${reason} (${detail})`
      throw new NodeUnreachableError(where, reason, `Cannot reach the node at ${this.api}: ${why}`, { cause: err })
    }
    let parsed: unknown = text
    const isJson = (response.headers.get('content-type') ?? '').includes('json')
    if (text !== '' && (isJson || options.envelope !== false)) {
      try {
        parsed = JSON.parse(text) as unknown
      } catch {
        if (isJson || response.ok) throw new UnexpectedResponseError(where, response.status, `${where} answered ${response.status} with a body that is not JSON`)
      }
    }
    const headerRequestId = response.headers.get('x-request-id') ?? undefined
    if (isEnvelope(parsed)) {
      const requestId = typeof parsed.requestId === 'string' ? parsed.requestId : headerRequestId
      if (parsed.success === true && response.ok) return { data: parsed.data as T, status: response.status, requestId }
      const error = parsed.error ?? {}
      const ErrorClass = apiErrorClass(response.status)
      throw new ErrorClass({
        status: response.status,
        code: typeof error.code === 'string' ? error.code : `HTTP_${response.status}`,
        message: typeof error.message === 'string' ? error.message : `${method} ${url.pathname} answered ${response.status}`,
        ...(error.details === undefined ? {} : { details: error.details }),
        ...(requestId === undefined ? {} : { requestId }),
        method,
        url: where,
        ...this.retryAfter(response)
      })
    }
    if (!response.ok) {
      const ErrorClass = apiErrorClass(response.status)
      const snippet = typeof parsed === 'string' && parsed.trim() !== '' ? `: ${parsed.trim().slice(0, 200)}` : ''
      throw new ErrorClass({
        status: response.status,
        code: `HTTP_${response.status}`,
        message: `${method} ${url.pathname} answered ${response.status} ${response.statusText}${snippet}`.trim(),
        ...(headerRequestId === undefined ? {} : { requestId: headerRequestId }),
        method,
        url: where,
        ...this.retryAfter(response)
      })
    }
    if (options.envelope === false) return { data: parsed as T, status: response.status, requestId: headerRequestId }
    throw new UnexpectedResponseError(where, response.status)
  }

  private retryAfter(response: Response): { retryAfterMs?: number } {
    const ms = retryAfterMs(response.headers.get('retry-after'))
    return ms === undefined ? {} : { retryAfterMs: ms }
  }

  private waitTimeout(options: StartFlowOptions): number | undefined {
    if (options.wait !== true) return undefined
    return Math.max(this.timeoutMs, (options.timeoutMs ?? this.timeoutMs) + WAIT_GRACE_MS)
  }

  private flowsApi(): FlowsApi {
    const flows = `${API_PREFIX}/flows`
    const list = async (query: ListFlowsQuery = {}): Promise<Page<FlowSummary>> => (await this.request<Page<FlowSummary>>('GET', flows, { query: { ...query } })).data
    return {
      create: async (flow, options = {}) => {
        const request: RequestOptions =
          typeof flow === 'string'
            ? { rawBody: { contentType: options.format === 'json' ? 'application/json' : 'application/yaml', text: flow } }
            : { body: flow }
        return (await this.request<FlowVersionRecord>('POST', flows, request)).data
      },
      list,
      listAll: async function* (query = {}) {
        let cursor: string | undefined
        do {
          const page = await list({ ...query, ...(cursor === undefined ? {} : { cursor }) })
          yield* page.items
          cursor = page.nextCursor
        } while (cursor !== undefined)
      },
      get: async (flowId) => (await this.request<StoredFlow>('GET', `${flows}/${segment(flowId)}`)).data,
      getVersion: async (flowId, version) => (await this.request<StoredFlow>('GET', `${flows}/${segment(flowId)}/versions/${segment(version)}`)).data,
      history: async (flowId) => (await this.request<{ items: FlowVersionRecord[] }>('GET', `${flows}/${segment(flowId)}/history`)).data.items,
      rollback: async (flowId, toVersion) => (await this.request<FlowVersionRecord>('POST', `${flows}/${segment(flowId)}/rollback`, { body: { toVersion } })).data,
      archive: async (flowId) => (await this.request<FlowVersionRecord>('POST', `${flows}/${segment(flowId)}/archive`, { body: {} })).data,
      start: async (flowId, options = {}) => {
        const timeoutMs = this.waitTimeout(options)
        return (
          await this.request<StartedExecution>('POST', `${flows}/${segment(flowId)}/start`, {
            body: { ...options },
            ...(timeoutMs === undefined ? {} : { timeoutMs })
          })
        ).data
      }
    }
  }

  private secretsApi(): SecretsApi {
    const secrets = `${API_PREFIX}/secrets`
    return {
      set: async (name, value) => {
        const answer = await this.request<SecretSummary>('PUT', `${secrets}/${segment(name)}`, { body: { value } })
        return { ...answer.data, created: answer.status === 201 }
      },
      list: async () => (await this.request<{ items: SecretSummary[] }>('GET', secrets)).data.items,
      delete: async (name) => (await this.request<SecretDeleteResult>('DELETE', `${secrets}/${segment(name)}`)).data
    }
  }

  private grantsApi(): GrantsApi {
    const grants = `${API_PREFIX}/grants`
    const list = async (query: ListGrantsQuery = {}): Promise<Page<GrantRecord>> => (await this.request<Page<GrantRecord>>('GET', grants, { query: { ...query } })).data
    return {
      add: async (grant) => (await this.request<GrantRecord>('POST', grants, { body: { ...grant } })).data,
      list,
      listAll: async function* (query = {}) {
        let cursor: string | undefined
        do {
          const page = await list({ ...query, ...(cursor === undefined ? {} : { cursor }) })
          yield* page.items
          cursor = page.nextCursor
        } while (cursor !== undefined)
      },
      revoke: async (id, reason) =>
        (await this.request<GrantRevokeResult>('DELETE', `${grants}/${segment(id)}`, reason === undefined ? {} : { query: { reason } })).data
    }
  }

  private executionsApi(): ExecutionsApi {
    const executions = `${API_PREFIX}/executions`
    const list = async (query: ListExecutionsQuery = {}): Promise<Page<ExecutionSummary>> =>
      (await this.request<Page<ExecutionSummary>>('GET', executions, { query: { ...query } })).data
    const logs = async (executionId: string, query: LogsQuery = {}): Promise<LogPage> =>
      (await this.request<LogPage>('GET', `${executions}/${segment(executionId)}/logs`, { query: { ...query } })).data
    const control = (verb: 'pause' | 'resume' | 'abort') => async (executionId: string, reason?: string) =>
      (await this.request<ExecutionControlResult>('POST', `${executions}/${segment(executionId)}/${verb}`, { body: reason === undefined ? {} : { reason } })).data
    return {
      start: async (request) => {
        const timeoutMs = this.waitTimeout(request)
        return (await this.request<StartedExecution>('POST', executions, { body: { ...request }, ...(timeoutMs === undefined ? {} : { timeoutMs }) })).data
      },
      list,
      listAll: async function* (query = {}) {
        let cursor: string | undefined
        do {
          const page = await list({ ...query, ...(cursor === undefined ? {} : { cursor }) })
          yield* page.items
          cursor = page.nextCursor
        } while (cursor !== undefined)
      },
      get: async (executionId) => (await this.request<ExecutionStateJson>('GET', `${executions}/${segment(executionId)}`)).data,
      logs,
      allLogs: async function* (executionId, query = {}) {
        let after = query.after
        for (;;) {
          const page = await logs(executionId, { ...query, ...(after === undefined ? {} : { after }) })
          yield* page.items
          if (page.next === undefined || page.items.length === 0) return
          after = page.next
        }
      },
      pause: control('pause'),
      resume: control('resume'),
      abort: control('abort')
    }
  }
}

/**
 * Makes a client of a Qflow node's API: every call sends the bearer token, unwraps the envelope
 * `{success, data | error, timestamp, requestId}` and turns an error answer into a typed error.
 *
 * @example
 * ```ts
 * const client = createQflowClient({ api: 'http://127.0.0.1:7070', token: process.env.QFLOW_TOKEN })
 * const { executionId } = await client.flows.start('welcome', { input: { name: 'Ada' } })
 * console.log((await client.executions.get(executionId)).status)
 * ```
 *
 * @throws {@link InvalidApiUrlError} when `api` is not an http(s) URL.
 */
export function createQflowClient(init: QflowClientInit): QflowClient {
  return new HttpQflowClient(init)
}
