import { type IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { decodeToken, type TokenClaims } from '@qflow/adapters-squid'
import type { FastifyPluginAsync } from 'fastify'
import { Counter, Gauge, type Registry } from 'prom-client'
import { REQUEST_HANDED_OVER_EVENT } from '../constants.js'
import type { ApiContext, Caller } from '../context.js'
import { errorEnvelopeSchema } from '../envelope.js'
import { ApiError, ApiErrorCode } from '../errors.js'
import { TOKEN_QUERY_PARAMETER, WS_PATH } from './constants.js'
import { WsConfigError } from './errors.js'
import { type AuthenticatedSubscriber, type WsGateway, type WsGatewayInit, wsGateway } from './gateway.js'

/** Options of {@link wsRoutes} and {@link wsEndpoint}; all optional. */
export interface WsRoutesInit extends WsGatewayInit {
  /** Path of the endpoint, from the server's root. Default `/api/v1/ws`. */
  path?: string
}

/** The WebSocket endpoint: the fastify plugin to register and the gateway behind it (for its counters). */
export interface WsEndpoint {
  /** Registers `GET <path>` and takes the server's upgrades; stops the gateway when the server closes. */
  readonly plugin: FastifyPluginAsync
  /** Sockets, subscriptions and their counters. */
  readonly gateway: WsGateway
}

/** Upgrade requests on their way through fastify's router, with the socket they arrived on. */
const upgrades = new WeakMap<IncomingMessage, { readonly socket: Duplex; readonly head: Buffer }>()

function isForbidden(err: unknown): boolean {
  const e = err as { name?: unknown; statusCode?: unknown } | null
  return e?.name === 'ForbiddenError' || e?.statusCode === 403
}

/** The claims of a verified token (`undefined` only for one that does not decode, which a verified token always does). */
function claimsOf(token: string): TokenClaims | undefined {
  try {
    return decodeToken(token).claims
  } catch {
    return undefined
  }
}

function subscriberOf(ctx: ApiContext, caller: Caller): AuthenticatedSubscriber {
  const claims = claimsOf(caller.token)
  const revocations = ctx.node.parts.tokenRevocations
  const facts = claims === undefined ? undefined : { issuer: claims.iss, subject: claims.sub, nonce: claims.jti, issuedAt: claims.iat * 1000 }
  return {
    did: caller.did,
    ...(claims === undefined ? {} : { expiresAt: claims.exp * 1000 }),
    ...(facts === undefined ? {} : { revoked: () => revocations.revocationOf(facts) !== undefined }),
    async authorize(resource, action) {
      try {
        await ctx.authorize(caller, resource, action)
        return true
      } catch (err) {
        if (isForbidden(err)) return false
        throw err
      }
    }
  }
}

function routeUrl(prefix: string, path: string): string {
  if (!path.startsWith('/')) throw new WsConfigError('path', `path must start with "/", not ${JSON.stringify(path)}`)
  if (prefix === '') return path
  if (path.startsWith(`${prefix}/`)) return path.slice(prefix.length)
  throw new WsConfigError('path', `the plugin is registered under ${prefix}, which ${path} is not inside`)
}

/** Registers the endpoint's gauges and counters (`qflow_ws_*`), replacing any left by an earlier server on the same registry. */
function registerMetrics(registry: Registry, gateway: WsGateway): void {
  const names = ['qflow_ws_connections', 'qflow_ws_subscriptions', 'qflow_ws_buffered_bytes', 'qflow_ws_events_delivered_total', 'qflow_ws_consumers_dropped_total']
  for (const name of names) registry.removeSingleMetric(name)
  const registers = [registry]
  new Gauge({
    name: 'qflow_ws_connections',
    help: 'Open WebSocket connections',
    registers,
    collect() {
      this.set(gateway.stats().connections)
    }
  })
  new Gauge({
    name: 'qflow_ws_subscriptions',
    help: 'Live WebSocket event subscriptions',
    registers,
    collect() {
      this.set(gateway.hub.stats().subscriptions)
    }
  })
  new Gauge({
    name: 'qflow_ws_buffered_bytes',
    help: 'Bytes queued on WebSocket connections and not yet written out',
    registers,
    collect() {
      this.set(gateway.stats().bufferedBytes)
    }
  })
  new Counter({
    name: 'qflow_ws_events_delivered_total',
    help: 'Event messages sent to WebSocket subscribers',
    registers,
    collect() {
      this.reset()
      this.inc(gateway.hub.stats().delivered)
    }
  })
  new Counter({
    name: 'qflow_ws_consumers_dropped_total',
    help: 'WebSocket connections dropped by the node, by reason',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      const stats = gateway.stats()
      this.reset()
      this.labels({ reason: 'lagging' }).inc(stats.hub.lagging)
      this.labels({ reason: 'heartbeat' }).inc(stats.heartbeatDrops)
      this.labels({ reason: 'token_expired' }).inc(stats.expired)
      this.labels({ reason: 'token_revoked' }).inc(stats.revoked)
    }
  })
}

/**
 * Makes the WebSocket endpoint for `ctx`: `GET /api/v1/ws` upgraded to a socket on which the
 * caller subscribes to the engine's `q.qflow.*.v1` events. The upgrade passes through fastify
 * like any request (hooks, logging, the error envelope): the token comes from
 * `authorization: Bearer` or `?token=`, a missing or bad one is answered 401, a plain `GET` 426.
 * Each subscription is authorized once through Qonsent (`read` on the execution, the flow, or
 * `qflow:node` when it names neither).
 *
 * @throws {@link WsConfigError} when an option is unusable (at once, or on registration for `path`).
 */
export function wsEndpoint(ctx: ApiContext, init: WsRoutesInit = {}): WsEndpoint {
  const { node } = ctx
  const gateway = wsGateway(init)({ events: node.parts.engine, consents: node.parts.qonsent })
  const path = init.path ?? WS_PATH
  const plugin: FastifyPluginAsync = async (fastify) => {
    const url = routeUrl(fastify.prefix, path)
    registerMetrics(ctx.metrics.registry, gateway)

    const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      // Route the upgrade through fastify, as any request: its hooks run, and an answer other
      // than the upgrade (401, 404, 426, …) is written to the socket, which is then closed.
      upgrades.set(request, { socket, head })
      socket.on('error', () => socket.destroy())
      const response = new ServerResponse(request)
      response.assignSocket(socket as Socket)
      response.on('finish', () => socket.destroy())
      try {
        fastify.routing(request, response)
      } catch (err) {
        ctx.log.warn({ err }, 'WebSocket upgrade could not be routed')
        socket.destroy()
      }
    }
    fastify.server.on('upgrade', onUpgrade)
    gateway.start()
    // A revoked token's sockets close at once, not at the next heartbeat.
    const unsubscribe = node.parts.tokenRevocations.subscribe(() => gateway.revalidate())
    fastify.addHook('preClose', async () => {
      unsubscribe()
      fastify.server.off('upgrade', onUpgrade)
      await gateway.stop()
    })

    // The OpenAPI document reads summary, description and tags from the route's schema.
    const schema = {
    summary: 'Subscribe to flow and execution events over WebSocket',
    description:
      'Upgrade to a WebSocket (authorization: Bearer <token>, or ?token= where headers cannot be set). Client messages: ' +
      '{type:"subscribe", id, filter:{events?, flowId?, executionId?}} and {type:"unsubscribe", id}. Server messages: ' +
      '{type:"event", subscription, event}, {type:"subscribed"|"unsubscribed", id}, {type:"error", code, message, id?}, ' +
      '{type:"lagging", dropped} before a close with 1013. A subscription needs read on qflow:execution:<id>, ' +
      'qflow:flow:<id>, or qflow:node when it names neither.',
    tags: ['events'],
    querystring: {
      type: 'object',
      properties: { [TOKEN_QUERY_PARAMETER]: { type: 'string', minLength: 1, maxLength: 16_384, description: 'The sQuid token, for clients that cannot set headers' } },
      additionalProperties: false
    },
    response: {
      401: errorEnvelopeSchema,
      426: errorEnvelopeSchema,
      503: errorEnvelopeSchema
    }
  }

    fastify.route<{ Querystring: { token?: string } }>({
      method: 'GET',
      url,
      schema,
      handler: async (request, reply) => {
        const pending = upgrades.get(request.raw)
        if (pending === undefined) {
          throw new ApiError(426, 'UPGRADE_REQUIRED', `${path} speaks WebSocket: send an upgrade request`, undefined, { upgrade: 'websocket', connection: 'Upgrade' })
        }
        const busy = () => new ApiError(503, ApiErrorCode.UNAVAILABLE, 'no more WebSocket connections are taken now; try again later', undefined, { 'retry-after': '5' })
        if (!gateway.admits()) throw busy()
        // A `?token=` stands for the header browsers cannot set.
        const token = request.query[TOKEN_QUERY_PARAMETER]
        if (request.headers.authorization === undefined && token !== undefined) request.headers.authorization = `Bearer ${token}`
        const caller = await ctx.authenticate(request)
        if (!gateway.admits()) throw busy()
        if (pending.socket.destroyed) return reply.hijack()
        upgrades.delete(request.raw)
        reply.hijack()
        // The socket is the WebSocket's from here: the response routing wrapped it in lets go.
        reply.raw.detachSocket(pending.socket as Socket)
        gateway.accept(request.raw, pending.socket, pending.head, subscriberOf(ctx, caller))
        // The HTTP request is over: the socket is the WebSocket's, and no longer a request in progress.
        request.raw.emit(REQUEST_HANDED_OVER_EVENT)
        return reply
      }
    })
  }
  return { plugin, gateway }
}

/** The WebSocket endpoint as a fastify plugin (see {@link wsEndpoint}). */
export function wsRoutes(ctx: ApiContext, init: WsRoutesInit = {}): FastifyPluginAsync {
  return wsEndpoint(ctx, init).plugin
}

export { DEFAULT_WS_CLOSE_GRACE_MS, DEFAULT_WS_HEARTBEAT_INTERVAL_MS, DEFAULT_WS_MAX_BUFFERED_BYTES, DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_MESSAGE_BYTES, DEFAULT_WS_MAX_SUBSCRIPTIONS, WS_NODE_RESOURCE, WS_CLOSE_CODES, WS_PATH } from './constants.js'
export { InvalidWsMessageError, WsConfigError } from './errors.js'
export type { AuthenticatedSubscriber, WsGateway, WsGatewayInit, WsGatewayStats } from './gateway.js'
export { wsGateway } from './gateway.js'
export type { EventConsumer, EventHub, EventHubComponents, EventHubInit, EventHubStats, EventSink, Subscriber } from './hub.js'
export { eventHub, subscriptionResources } from './hub.js'
export type {
  ClientMessage,
  ErrorMessage,
  EventMessage,
  LaggingMessage,
  ServerMessage,
  SubscribedMessage,
  SubscribeMessage,
  SubscriptionFilter,
  UnsubscribedMessage,
  UnsubscribeMessage,
  WsErrorCode
} from './protocol.js'
export { parseClientMessage } from './protocol.js'
