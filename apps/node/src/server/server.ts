import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { squidVerifier } from '@qflow/adapters-squid'
import { parseFlow } from '@qflow/flow-schema'
import type { QflowEvent } from '@qflow/scheduler'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import { type Logger, pino } from 'pino'
import { DEFAULT_AUDIENCE } from '../node/constants.js'
import type { QflowNode } from '../node/node.js'
import { consentAuthorizer, type TokenVerifier, tokenAuthenticator } from './auth.js'
import {
  API_PREFIX,
  DEFAULT_BODY_LIMIT,
  DEFAULT_HANDLER_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_MAX_BEARER_TOKEN_LIFETIME_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  MAX_WAIT_TIMEOUT_MS,
  SECURITY_HEADERS,
  YAML_MEDIA_TYPES
} from './constants.js'
import type { ApiContext, Caller } from './context.js'
import { sendError } from './envelope.js'
import { ApiError, NotFoundError, RequestTimeoutError, UnavailableError } from './errors.js'
import { createApiMetrics, registerRetentionMetrics, registerStateMetrics } from './metrics.js'
import { buildOpenApiDocument, type DocumentedRoute, documentedRoutes } from './openapi.js'
import { executionRoutes } from './routes/executions.js'
import { flowRoutes } from './routes/flows.js'
import { grantRoutes } from './routes/grants.js'
import { tokenRoutes } from './routes/tokens.js'
import { openApiRoute, systemRoutes } from './routes/system.js'
import { FLOW_DOCUMENT_SCHEMA } from './schemas.js'
import { type WebhookRoutesInit, webhookRoutes } from './webhooks/index.js'
import { WS_PATH, type WsRoutesInit, wsRoutes } from './ws/index.js'

/** Options of {@link createApiServer}; every one optional, defaults in `server/constants.ts`. */
export interface ApiServerInit {
  /** Largest request body, bytes. Default 1 MiB; larger bodies answer 413 `PAYLOAD_TOO_LARGE`. */
  bodyLimit?: number
  /** Longest a route handler may take, ms, before the request answers 504 `TIMEOUT`. Default 30 s. */
  handlerTimeoutMs?: number
  /** Longest the server waits for a whole request to arrive, ms. Default 60 s. */
  requestTimeoutMs?: number
  /** How long an idle keep-alive connection stays open, ms. Default 72 s. */
  keepAliveTimeoutMs?: number
  /** How long a `wait: true` start waits when the request names no `timeoutMs`, ms. Default 30 s, capped by `maxWaitTimeoutMs`. */
  waitTimeoutMs?: number
  /** The longest `timeoutMs` a `wait: true` start may ask for, ms. Default 25 s. */
  maxWaitTimeoutMs?: number
  /** Audience bearer tokens must name. Default `qflow`. */
  audience?: string
  /**
   * Verifies bearer tokens. Default a reusable-token sQuid verifier (no replay protection: a
   * bearer token is presented on every request until it expires; its signature is checked once
   * and remembered) accepting lifetimes up to `maxTokenLifetimeMs`.
   */
  verifier?: TokenVerifier
  /** Longest lifetime a bearer token may claim, ms, for the default verifier. Default about ten years. */
  maxTokenLifetimeMs?: number
  /** The pino logger. Default a new one at `logLevel`, writing JSON lines to stdout. */
  logger?: Logger
  /** Level of the default logger. Default `info`. */
  logLevel?: string
  /** Whether `/metrics` includes prom-client's default process metrics. Default true. */
  defaultMetrics?: boolean
  /**
   * Check every answer against its route's response schema, answering 500 `RESPONSE_INVALID`
   * when one does not match. Default false (tests turn it on).
   */
  validateResponses?: boolean
  /** Trust `x-forwarded-*` headers (behind a reverse proxy). Default false. */
  trustProxy?: boolean
  /** Options of the webhook and secret routes (body limit, timestamp tolerance, rate limits, …), or `false` to leave them out. */
  webhooks?: WebhookRoutesInit | false
  /** Options of the WebSocket endpoint (connections, subscriptions, buffers, heartbeat, …), or `false` to leave it out. */
  ws?: WsRoutesInit | false
  /**
   * More route plugins, registered after the REST routes with the same context. A plugin serving
   * `POST /webhooks/:flowId/:triggerId` or the WebSocket path takes the place of the built-in one.
   */
  plugins?: readonly ((ctx: ApiContext) => FastifyPluginAsync)[]
}

/** A REST API over a started node (see {@link createApiServer}). */
export interface ApiServer {
  /** The fastify instance (for `inject` in tests, or more hooks and routes before `listen`). */
  readonly app: FastifyInstance
  /** What route plugins are given. */
  readonly context: ApiContext
  /** Where the API answers once listening. */
  readonly url: string | undefined
  /** Listens on `host` (default 127.0.0.1) and `port` (default 7070; 0 for any free port). */
  listen(options?: { readonly host?: string; readonly port?: number }): Promise<{ readonly url: string }>
  /** Stops accepting requests, lets those in flight finish, and closes. The node keeps running. */
  close(): Promise<void>
}

/** Thrown (answered 500 `RESPONSE_INVALID`) when `validateResponses` is on and an answer does not match its schema. */
export class ResponseSchemaError extends ApiError {
  static override readonly name = 'ResponseSchemaError'
  override readonly name = 'ResponseSchemaError'
  constructor(problems: unknown) {
    super(500, 'RESPONSE_INVALID', 'the answer does not match its response schema', { problems })
  }
}

/** The webhook route (`server/webhooks/`). */
const WEBHOOK_ROUTE = '/webhooks/:flowId/:triggerId'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The state the API plugins share beyond the public context. */
export interface ApiRuntime {
  readonly ctx: ApiContext
  /** The caller an authenticated route was called by. */
  callerOf(request: FastifyRequest): Caller
  readonly waitTimeoutMs: number
  readonly maxWaitTimeoutMs: number
  /** Whether the server is closing (readiness answers not-ready). */
  readonly closing: () => boolean
}

function triggerKind(trigger: string | undefined): string {
  if (trigger === undefined || trigger === '') return 'unknown'
  const kind = trigger.split(':')[0] as string
  return /^[a-z-]{1,32}$/.test(kind) ? kind : 'other'
}

function responseSerializer(validate: boolean): (route: { schema: Record<string, unknown> }) => (data: unknown) => string {
  if (!validate) return () => (data) => JSON.stringify(data)
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats.default(ajv)
  return ({ schema }) => {
    const check = ajv.compile(schema)
    return (data) => {
      const text = JSON.stringify(data)
      if (!check(JSON.parse(text))) throw new ResponseSchemaError(check.errors)
      return text
    }
  }
}

/**
 * Makes the node's REST API: `/api/v1` flows, executions and consent grants, `/health/live`, `/health/ready`,
 * `/metrics`, `/api/v1/openapi.json`, webhooks (`POST /webhooks/:flowId/:triggerId`), secrets
 * (`/api/v1/secrets`) and event subscriptions over WebSocket (`/api/v1/ws`), every answer in the envelope `{success, data | error,
 * timestamp, requestId}`. Authentication by sQuid bearer token, authorization through the node's
 * Qonsent, body size limits, timeouts and security headers on every route.
 *
 * @example
 * ```ts
 * const node = createQflowNode({ dataDir: './.qflow' })
 * await node.start()
 * const api = await createApiServer(node)
 * const { url } = await api.listen({ port: 7070 })
 * ```
 *
 * @throws `NodeNotStartedError` when the node is not started.
 */
export async function createApiServer(node: QflowNode, init: ApiServerInit = {}): Promise<ApiServer> {
  const parts = node.parts
  const log = init.logger ?? pino({ name: 'qflow-api', level: init.logLevel ?? 'info' })
  const audience = init.audience ?? DEFAULT_AUDIENCE
  const verifier =
    init.verifier ??
    squidVerifier({ audience, replayProtection: false, maxTokenLifetimeMs: init.maxTokenLifetimeMs ?? DEFAULT_MAX_BEARER_TOKEN_LIFETIME_MS })({
      tokenRevocations: parts.tokenRevocations
    })
  const metrics = createApiMetrics(init.defaultMetrics === undefined ? {} : { defaultMetrics: init.defaultMetrics })
  registerStateMetrics(metrics.registry, () => (node.started ? node.parts.store.stats() : undefined))
  registerRetentionMetrics(metrics.registry, () => (node.started ? node.parts.pruner?.stats : undefined))
  const ctx: ApiContext = {
    node,
    authenticate: tokenAuthenticator(verifier, audience),
    authorize: consentAuthorizer(parts.qonsent),
    metrics,
    log
  }
  const handlerTimeoutMs = init.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS
  const maxWaitTimeoutMs = Math.min(init.maxWaitTimeoutMs ?? MAX_WAIT_TIMEOUT_MS, handlerTimeoutMs)
  let closing = false
  let url: string | undefined

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: init.bodyLimit ?? DEFAULT_BODY_LIMIT,
    requestTimeout: init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: init.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    trustProxy: init.trustProxy ?? false,
    exposeHeadRoutes: false,
    requestIdHeader: false,
    genReqId: (raw) => {
      const given = raw.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true, useDefaults: false } }
  })

  const routes: DocumentedRoute[] = []
  app.addHook('onRoute', (route) => {
    routes.push(...documentedRoutes(route))
  })
  app.setSerializerCompiler(responseSerializer(init.validateResponses === true) as never)

  // Hooks on every request take callbacks rather than being async: no promise per hook per request.
  app.addHook('onSend', (request, reply, payload, done) => {
    void reply.headers(SECURITY_HEADERS)
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store')
    void reply.header('x-request-id', String(request.id))
    done(null, payload)
  })
  app.setErrorHandler((err, request, reply) => {
    const apiError = sendErrorLogged(request, reply, err)
    return apiError
  })
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new NotFoundError(`no route ${request.method} ${request.url.split('?')[0]}`)))

  // YAML flow documents (`POST /flows` with content-type application/yaml), parsed by the flow
  // format's own parser (duplicate keys, depth and alias limits); errors answer 400 with line and column.
  app.addContentTypeParser([...YAML_MEDIA_TYPES], { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseFlow(body as string, { format: 'yaml' }))
    } catch (err) {
      done(err as Error, undefined)
    }
  })

  // Executions started and ended, whoever started them (API, webhook, schedule, sub-flow).
  const unsubscribe = parts.engine.onEvent(
    (event: QflowEvent) => {
      if (event.type === 'q.qflow.exec.started.v1') metrics.executionsStarted.inc({ trigger: triggerKind((event.data as { trigger?: string }).trigger) })
      else if (event.type === 'q.qflow.exec.completed.v1') metrics.executionsCompleted.inc({ status: (event.data as { status: string }).status })
    },
    // Counting needs no output digests: none is computed for this listener.
    { types: ['q.qflow.exec.started.v1', 'q.qflow.exec.completed.v1'], digests: false }
  )

  const callers = new WeakMap<FastifyRequest, Caller>()
  const runtime: ApiRuntime = {
    ctx,
    callerOf(request) {
      const caller = callers.get(request)
      if (caller === undefined) throw new ApiError(500, 'INTERNAL', 'route has no authenticated caller')
      return caller
    },
    waitTimeoutMs: Math.min(init.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS, maxWaitTimeoutMs),
    maxWaitTimeoutMs,
    closing: () => closing
  }

  // Every route is bounded in time (WebSocket upgrades excepted: they live on after the handshake).
  const timers = new WeakMap<FastifyRequest, NodeJS.Timeout>()
  app.addHook('onRequest', (request, reply, done) => {
    if (request.headers.upgrade === undefined) {
      const timer = setTimeout(() => {
        if (!reply.sent) sendError(request, reply, new RequestTimeoutError(handlerTimeoutMs))
      }, handlerTimeoutMs)
      timer.unref()
      timers.set(request, timer)
    }
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    clearTimeout(timers.get(request))
    const labels = { method: request.method, route: request.routeOptions.url ?? '(unmatched)', status: String(reply.statusCode) }
    metrics.httpRequests.inc(labels)
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000)
    if (reply.statusCode >= 500) request.log.warn({ requestId: request.id, ...labels, ms: reply.elapsedTime }, 'request failed')
    else if (log.isLevelEnabled('debug')) request.log.debug({ requestId: request.id, ...labels, ms: reply.elapsedTime }, 'request')
    done()
  })

  // The REST routes: authenticated from the headers, before the body is read.
  const restApi: FastifyPluginAsync = async (api) => {
    api.addHook('onRequest', async (request) => {
      if ((request.routeOptions.config as { openapi?: { public?: boolean } }).openapi?.public === true) return
      if (!node.started) throw new UnavailableError('the node is not running')
      callers.set(request, await ctx.authenticate(request))
    })
    await api.register(flowRoutes(runtime))
    await api.register(executionRoutes(runtime))
    await api.register(grantRoutes(runtime))
    await api.register(tokenRoutes(runtime))
    await api.register(openApiRoute(() => openApiDocument()))
  }

  await app.register(systemRoutes(runtime))
  await app.register(restApi, { prefix: API_PREFIX })
  for (const plugin of init.plugins ?? []) await app.register(plugin(ctx))
  // The other API areas, with the same context: `POST /webhooks/:flowId/:triggerId` and the
  // `/api/v1/secrets` routes (server/webhooks/), and the `/api/v1/ws` subscriptions (server/ws/).
  // Each is left out when the init turns it off, or when one of `plugins` already serves it.
  if (init.webhooks !== false && !app.hasRoute({ method: 'POST', url: WEBHOOK_ROUTE })) await app.register(webhookRoutes(ctx, init.webhooks ?? {}))
  const wsPath = (init.ws === false ? undefined : init.ws?.path) ?? WS_PATH
  if (init.ws !== false && !app.hasRoute({ method: 'GET', url: wsPath })) await app.register(wsRoutes(ctx, init.ws ?? {}))

  // Built on first request, once every route (the REST ones, the plugins', any the caller adds
  // before listening) is registered.
  let openApi: Record<string, unknown> | undefined
  const openApiDocument = (): Record<string, unknown> =>
    (openApi ??= buildOpenApiDocument(
    {
      title: 'Qflow node API',
      version: '1.0.0',
      description: 'REST API of a Qflow node. Every answer is an envelope {success, data | error{code, message, details}, timestamp, requestId}.'
    },
    routes,
    { Flow: FLOW_DOCUMENT_SCHEMA }
  ))

  return {
    app,
    context: ctx,
    get url() {
      return url
    },
    async listen(options = {}) {
      const host = options.host ?? '127.0.0.1'
      await app.listen({ host, port: options.port ?? 7070 })
      const address = app.server.address() as AddressInfo
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      return { url }
    },
    async close() {
      if (closing) return
      closing = true
      unsubscribe()
      await app.close()
    }
  }

  function sendErrorLogged(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
    const answered = sendError(request, reply, err)
    if (reply.statusCode >= 500) request.log.error({ err, requestId: request.id }, 'request failed')
    return answered
  }
}
