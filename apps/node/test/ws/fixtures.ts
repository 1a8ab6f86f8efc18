import { mkdtemp, rm } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createGrant } from '@qflow/adapters-qonsent'
import { createIdentity, type Identity, issueToken } from '@qflow/adapters-squid'
import Fastify, { type FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { Counter, Histogram, Registry } from 'prom-client'
import WebSocket from 'ws'
import { createQflowNode, type QflowNode } from '../../src/node/node.js'
import type { ApiContext, ApiMetrics } from '../../src/server/context.js'
import { sendError } from '../../src/server/envelope.js'
import { ForbiddenError, UnauthenticatedError } from '../../src/server/errors.js'
import type { ServerMessage } from '../../src/server/ws/protocol.js'
import { type WsEndpoint, type WsRoutesInit, wsEndpoint } from '../../src/server/ws/index.js'

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i

function apiMetrics(): ApiMetrics {
  const registry = new Registry()
  const registers = [registry]
  return {
    registry,
    httpRequests: new Counter({ name: 'qflow_http_requests_total', help: 'requests', labelNames: ['method', 'route', 'status'] as const, registers }),
    httpDuration: new Histogram({ name: 'qflow_http_request_duration_seconds', help: 'durations', labelNames: ['method', 'route', 'status'] as const, registers }),
    executionsStarted: new Counter({ name: 'qflow_executions_started_total', help: 'starts', labelNames: ['trigger'] as const, registers }),
    executionsCompleted: new Counter({ name: 'qflow_executions_completed_total', help: 'ends', labelNames: ['status'] as const, registers })
  }
}

/**
 * The API context over a started node, as the server's contract describes it: bearer tokens
 * verified by the node's sQuid verifier (audience `qflow`), decisions by its Qonsent.
 */
export function apiContext(node: QflowNode): ApiContext {
  const { verifier, qonsent } = node.parts
  return {
    node,
    async authenticate(request) {
      const token = BEARER.exec(request.headers.authorization ?? '')?.[1]
      if (token === undefined) throw new UnauthenticatedError()
      try {
        const verified = await verifier.verifyToken(token, { audience: 'qflow' })
        return { did: verified.subject, token }
      } catch {
        throw new UnauthenticatedError('the bearer token does not verify')
      }
    },
    async authorize(caller, resource, action) {
      const decision = await qonsent.check({ subject: caller.did, resource, action })
      if (!decision.allowed) throw new ForbiddenError(resource, action, decision.reason)
    },
    metrics: apiMetrics(),
    log: pino({ level: 'silent' })
  }
}

/** A started node behind a listening fastify server with the WebSocket endpoint registered. */
export interface WsServer {
  readonly node: QflowNode
  readonly app: FastifyInstance
  readonly ctx: ApiContext
  readonly endpoint: WsEndpoint
  /** `ws://127.0.0.1:<port>/api/v1/ws`. */
  readonly wsUrl: string
  /** `http://127.0.0.1:<port>`. */
  readonly httpUrl: string
  /** A fresh token of `identity` (default the admin), audience `qflow`. */
  token(identity?: Identity, ttlMs?: number): Promise<string>
  /** A new identity holding `read` on each of `resources`. */
  reader(...resources: string[]): Promise<Identity>
  /** Stops the server and the node and removes the data directory. */
  close(): Promise<void>
}

/** Starts a {@link WsServer} on a temporary data directory (in-memory durability). */
export async function startWsServer(init: WsRoutesInit = {}): Promise<WsServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qflow-ws-'))
  const node = createQflowNode({ dataDir, durability: 'memory' })
  await node.start()
  const ctx = apiContext(node)
  const endpoint = wsEndpoint(ctx, init)
  const app = Fastify({ logger: false })
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err))
  await app.register(endpoint.plugin)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  let grants = 0
  return {
    node,
    app,
    ctx,
    endpoint,
    wsUrl: `ws://127.0.0.1:${port}/api/v1/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    token: (identity = node.parts.admin, ttlMs = 60_000) => issueToken(identity, { audience: 'qflow', ttlMs }),
    async reader(...resources) {
      const identity = createIdentity()
      for (const resource of resources) {
        await node.parts.qonsent.grant(createGrant({ id: `ws-test-${++grants}`, subject: identity.did, resource, actions: ['read'], grantedBy: node.parts.admin.did }))
      }
      return identity
    },
    async close() {
      try {
        await app.close()
        await node.stop()
      } finally {
        await rm(dataDir, { recursive: true, force: true })
      }
    }
  }
}

/** How an upgrade that was refused was answered. */
export interface RefusedUpgrade {
  readonly status: number
  readonly headers: IncomingMessage['headers']
  readonly body: { success: boolean; error?: { code: string; message: string }; requestId?: string }
}

/** Attempts an upgrade that the test expects refused; resolves with the HTTP answer. */
export function refusedUpgrade(url: string, options: WebSocket.ClientOptions = {}): Promise<RefusedUpgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options)
    ws.on('open', () => {
      ws.terminate()
      reject(new Error('the upgrade was accepted'))
    })
    ws.on('error', () => undefined)
    ws.on('unexpected-response', (_request, response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        text += chunk
      })
      response.on('end', () => {
        ws.terminate()
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text) as RefusedUpgrade['body'] })
      })
    })
  })
}

/** A WebSocket client that records what it receives and can wait for it. */
export class TestClient {
  readonly messages: ServerMessage[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  pings = 0
  private waiters: { check: () => boolean; resolve: () => void }[] = []

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as ServerMessage)
      this.wake()
    })
    ws.on('ping', () => {
      this.pings++
      this.wake()
    })
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: String(reason) })
        this.wake()
      })
    })
  }

  /** Opens a socket (`token` in the authorization header, or in the query with `viaQuery`). */
  static open(url: string, token: string, options: WebSocket.ClientOptions & { viaQuery?: boolean } = {}): Promise<TestClient> {
    const { viaQuery, ...wsOptions } = options
    const ws =
      viaQuery === true
        ? new WebSocket(`${url}?token=${encodeURIComponent(token)}`, wsOptions)
        : new WebSocket(url, { ...wsOptions, headers: { ...wsOptions.headers, authorization: `Bearer ${token}` } })
    const client = new TestClient(ws)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client))
      ws.once('error', reject)
    })
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** Subscribes and waits for the answer (`subscribed` or `error`) about `id`. */
  async subscribe(id: string, filter?: Record<string, unknown>): Promise<ServerMessage> {
    const from = this.messages.length
    this.send(filter === undefined ? { type: 'subscribe', id } : { type: 'subscribe', id, filter })
    return this.next((m) => (m.type === 'subscribed' || m.type === 'error') && m.id === id, from)
  }

  /** The events received for subscription `id`, in order. */
  events(id: string): Extract<ServerMessage, { type: 'event' }>['event'][] {
    return this.messages.flatMap((m) => (m.type === 'event' && m.subscription === id ? [m.event] : []))
  }

  /** Waits for the first message from index `from` on that passes `check`. */
  async next(check: (message: ServerMessage) => boolean, from = 0): Promise<ServerMessage> {
    let found: ServerMessage | undefined
    await this.until(() => {
      found = this.messages.slice(from).find(check)
      return found !== undefined
    }, 'a matching message')
    return found as ServerMessage
  }

  /** Resolves once `check()` holds (re-checked on every message, ping and close). */
  until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.messages.slice(-5))}`))
      }, timeoutMs)
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        }
      }
      this.waiters.push(waiter)
    })
  }

  close(): void {
    this.ws.terminate()
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.check()) {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        waiter.resolve()
      }
    }
  }
}

/** Polls `check` (every 10 ms, up to 20 s) for state a test cannot be told about. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A flow of `steps` data.transform steps (each event of a run names it). */
export function transformFlow(id: string, owner: string, steps = 2) {
  return {
    id,
    name: id,
    version: '1.0.0',
    owner,
    steps: Array.from({ length: steps }, (_, i) => ({ id: `s${i}`, type: 'task', action: 'data.transform', params: { expression: `input.n + ${i}` } }))
  }
}
