import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { QflowNodeConfig } from '../node/config.js'
import type { QflowNode } from '../node/node.js'
import { REQUEST_HANDED_OVER_EVENT } from '../server/constants.js'
import { ApiError, ApiErrorCode } from '../server/errors.js'
import { type AdminToken, issueAdminTokenOnce } from './admin-token.js'
import type { DaemonConfig } from './config.js'
import { SHUTTING_DOWN_REASON, SHUTTING_DOWN_RETRY_AFTER_S, SHUTTING_DOWN_STATUS } from './constants.js'
import { type DrainReport, drainSteps } from './drain.js'
import { ListenAddressError } from './errors.js'
import { removeDaemonRuntime, writeDaemonRuntime } from './runtime-file.js'

/** The HTTP side a daemon runs: what `createApiServer` (`src/server/`) returns. */
export interface DaemonApiServer {
  /** The fastify instance (the daemon adds its shutdown hooks before listening). */
  readonly app: FastifyInstance
  /** Starts listening; resolves with where the API answers. */
  listen(address: { host: string; port: number }): Promise<{ url: string }>
  /** Stops listening and closes the server. */
  close(): Promise<void>
}

/** A webhook token bucket: its sustained rate and its size. */
export interface DaemonRateLimit {
  /** Requests per second, sustained. */
  readonly ratePerSecond: number
  /** Requests at once. */
  readonly burst: number
}

/** What the daemon makes its API server with: the logger and the server and webhook limits of its configuration. */
export interface DaemonApiInit {
  /** The structured logger. */
  readonly logger: Logger
  /** Largest request body, bytes (`bodyLimit`). */
  readonly bodyLimit: number
  /** Longest wait for a whole request, ms (`requestTimeout`). */
  readonly requestTimeoutMs: number
  /** Longest a route may take, ms (`handlerTimeout`). */
  readonly handlerTimeoutMs: number
  /** The webhook routes' limits. */
  readonly webhooks: {
    /** Largest webhook body, bytes (`webhookBodyLimit`). */
    readonly bodyLimit: number
    /** Timestamp tolerance, ms (`webhookTolerance`). */
    readonly toleranceMs: number
    /** Token buckets per source and per tenant (`webhookSourceRate`, `webhookSourceBurst`, `webhookTenantRate`, `webhookTenantBurst`). */
    readonly rateLimit: { readonly source: DaemonRateLimit; readonly tenant: DaemonRateLimit }
    /** Token bucket of refusals per client address (`webhookRefusalRate`, `webhookRefusalBurst`). */
    readonly refusalLimit: DaemonRateLimit
    /** How long an on-completion webhook waits, ms (`webhookWaitTimeout`). */
    readonly waitTimeoutMs: number
  }
}

/** The {@link DaemonApiInit} of a configuration (and the logger). */
export function daemonApiInit(config: DaemonConfig, logger: Logger): DaemonApiInit {
  return {
    logger,
    bodyLimit: config.bodyLimit,
    requestTimeoutMs: config.requestTimeout,
    handlerTimeoutMs: config.handlerTimeout,
    webhooks: {
      bodyLimit: config.webhookBodyLimit,
      toleranceMs: config.webhookTolerance,
      rateLimit: {
        source: { ratePerSecond: config.webhookSourceRate, burst: config.webhookSourceBurst },
        tenant: { ratePerSecond: config.webhookTenantRate, burst: config.webhookTenantBurst }
      },
      refusalLimit: { ratePerSecond: config.webhookRefusalRate, burst: config.webhookRefusalBurst },
      waitTimeoutMs: config.webhookWaitTimeout
    }
  }
}

/** What a daemon is composed of: how to make its node and its API server, and its logger. */
export interface DaemonComponents {
  /** Makes the node (`createQflowNode`). */
  createNode(config: QflowNodeConfig): QflowNode
  /** Makes the API server over the started node (`createApiServer`), with the configuration's limits. */
  createApiServer(node: QflowNode, init: DaemonApiInit): Promise<DaemonApiServer>
  /** The structured logger. */
  readonly logger: Logger
  /** The `@qflow/node` version, recorded in `daemon.json`. */
  readonly version: string
  /** Told the admin token on the data directory's first start as a daemon (printed once). */
  showAdminToken(token: AdminToken, url: string): void | Promise<void>
}

/** What a started daemon reports. */
export interface DaemonStarted {
  /** Where the API answers (a wildcard host is shown as loopback). */
  readonly url: string
  /** Whether this start printed the admin token. */
  readonly adminTokenIssued: boolean
}

/** What a stopped daemon reports. */
export interface DaemonStopped {
  /** The in-flight steps the shutdown waited for. */
  readonly steps: DrainReport
  /** HTTP requests still unanswered when the bound was reached (their connections were closed). */
  readonly abandonedRequests: number
}

/** A Qflow node serving its API: `start()` it, `stop()` it (gracefully, within a bound). */
export interface QflowDaemon {
  /** The node, once started. */
  readonly node: QflowNode | undefined
  /** Where the API answers, once listening. */
  readonly url: string | undefined
  /** Whether a shutdown has begun (new requests answer 503). */
  readonly draining: boolean
  /**
   * Starts the node (which resumes every unfinished execution), the API server, listens, writes
   * `<dataDir>/daemon.json`, and on the data directory's first start as a daemon issues the admin
   * token. Whatever started is stopped again when a later part fails.
   *
   * @throws {@link ListenAddressError} when the API cannot listen on the configured host and port.
   * @throws the node's errors: `DataDirLockedError`, `DataDirCorruptError`, `NodePassphraseError`.
   */
  start(): Promise<DaemonStarted>
  /**
   * Shuts down gracefully: new requests answer 503 `UNAVAILABLE`; requests in progress and the
   * steps in flight get until `shutdownTimeout` to finish (a step reaches its commit point: its
   * completion is in the log); then the server closes, the node stops (what is left resumes on
   * the next start) and the data directory is released. Calling it again returns the same promise.
   */
  stop(reason?: string): Promise<DaemonStopped>
}

/** A URL people and clients can reach: a wildcard listening address is shown as loopback. */
export function reachableUrl(url: string): string {
  const parsed = new URL(url)
  if (parsed.hostname === '0.0.0.0') parsed.hostname = '127.0.0.1'
  else if (parsed.hostname === '[::]') parsed.hostname = '[::1]'
  return parsed.origin
}

/** System error codes of a listen that cannot succeed with this configuration. */
const LISTEN_ERRORS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN'])

class Daemon implements QflowDaemon {
  node: QflowNode | undefined
  url: string | undefined
  draining = false
  private api: DaemonApiServer | undefined
  private activeRequests = 0
  private requestsIdle: (() => void) | undefined
  private stopping: Promise<DaemonStopped> | undefined

  constructor(
    private readonly config: DaemonConfig,
    private readonly components: DaemonComponents
  ) {}

  private nodeConfig(): QflowNodeConfig {
    const { config } = this
    const log = this.components.logger
    const nodeConfig: QflowNodeConfig = {
      dataDir: config.dataDir,
      durability: config.durability,
      subnet: config.subnet,
      allowPrivateNetworks: config.allowPrivateNetworks,
      onError: (executionId, error) => log.error({ executionId, err: error }, 'execution stopped on a store failure; it resumes on the next start'),
      onIndexCorrupt: (err) =>
        log.warn(
          { reason: err.reason, path: err.path, movedTo: err.movedTo, detail: err.message },
          err.movedTo === undefined ? 'the index database is damaged' : 'the index database was damaged: moved aside and rebuilt from the state store'
        ),
      retention: { maxAgeMs: config.executionMaxAge, maxCount: config.executionMaxCount, intervalMs: config.pruneInterval },
      onPrune: (report) => {
        if (report.removedExecutions.length === 0) return
        log.info({ removedExecutions: report.removedExecutions.length, removedBlocks: report.removedBlocks, durationMs: report.durationMs }, 'pruned finished executions')
      },
      onPruneError: (err) => log.error({ err }, 'pruning finished executions failed; the next pass tries again')
    }
    if (config.passphrase !== undefined) nodeConfig.passphrase = config.passphrase
    if (config.defaultStepTimeout !== undefined) nodeConfig.defaultStepTimeoutMs = config.defaultStepTimeout
    return nodeConfig
  }

  async start(): Promise<DaemonStarted> {
    if (this.node !== undefined || this.stopping !== undefined) throw new Error('the daemon was started already')
    const { config, components } = this
    const log = components.logger
    log.info({ dataDir: config.dataDir, durability: config.durability, subnet: config.subnet }, 'qflow node starting')
    const node = components.createNode(this.nodeConfig())
    await node.start()
    this.node = node
    try {
      const { store, node: identity, admin } = node.parts
      const unfinished = await store.log.listExecutions({ status: ['running', 'paused'] })
      log.info({ nodeDid: identity.did, adminDid: admin.did, firstStart: node.firstStart, resumed: unfinished.length }, 'node started')

      const api = await components.createApiServer(node, daemonApiInit(config, log))
      this.api = api
      this.guard(api.app)
      let bound: string
      try {
        bound = (await api.listen({ host: config.host, port: config.port })).url
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (typeof code === 'string' && LISTEN_ERRORS.has(code)) throw new ListenAddressError(config.host, config.port, code, { cause: err })
        throw err
      }
      const url = reachableUrl(bound)
      this.url = url
      await writeDaemonRuntime(config.dataDir, { pid: process.pid, url, startedAt: new Date().toISOString(), version: components.version })
      log.info({ url, host: config.host, port: new URL(bound).port === '' ? config.port : Number(new URL(bound).port) }, 'listening')

      const issued = await issueAdminTokenOnce(admin, config.dataDir, config.adminTokenTtl, async (token) => {
        await components.showAdminToken(token, url)
        log.info({ did: token.did, expiresAt: new Date(token.expiresAt).toISOString() }, 'admin token issued and printed once on standard error')
      })
      return { url, adminTokenIssued: issued !== undefined }
    } catch (err) {
      await this.teardown().catch((teardownErr: unknown) => log.error({ err: teardownErr }, 'stopping after a failed start failed'))
      throw err
    }
  }

  /** Counts requests in progress (an upgrade until it is handed over), and refuses new ones once draining. */
  private guard(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      if (this.draining) {
        reply.header('connection', 'close')
        throw new ApiError(SHUTTING_DOWN_STATUS, ApiErrorCode.UNAVAILABLE, 'the node is shutting down; retry against it once it is back', { reason: SHUTTING_DOWN_REASON }, {
          'retry-after': String(SHUTTING_DOWN_RETRY_AFTER_S)
        })
      }
      this.activeRequests++
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        this.activeRequests--
        if (this.activeRequests === 0) this.requestsIdle?.()
      }
      request.raw.once('close', finish)
      reply.raw.once('close', finish)
      // An upgrade (a WebSocket) is a request until its socket is handed over, or closes: the
      // response it was routed with is detached from the socket then and never closes.
      request.raw.once(REQUEST_HANDED_OVER_EVENT, finish)
      if (request.raw.headers.upgrade !== undefined) request.raw.socket?.once('close', finish)
    })
  }

  private requestsSettled(): Promise<void> {
    if (this.activeRequests === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.requestsIdle = resolve
    })
  }

  stop(reason = 'stop'): Promise<DaemonStopped> {
    if (this.stopping === undefined) this.stopping = this.shutdown(reason)
    return this.stopping
  }

  private async shutdown(reason: string): Promise<DaemonStopped> {
    const { config, components } = this
    const log = components.logger
    this.draining = true
    log.info({ reason, shutdownTimeout: config.shutdownTimeout, activeRequests: this.activeRequests }, 'shutting down: new requests answer 503, waiting for in-flight requests and steps')
    const deadline = Date.now() + config.shutdownTimeout
    let steps: DrainReport = { inFlight: 0, settled: 0, pending: [], timedOut: false }
    let abandonedRequests = 0
    const node = this.node
    if (node?.started === true) {
      const { engine, store } = node.parts
      let timer: NodeJS.Timeout | undefined
      const bound = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()))
      })
      const [drained] = await Promise.all([
        drainSteps({ engine, log: store.log, flows: store.flows }, Math.max(0, deadline - Date.now()), {
          onWaiting: (waiting) => {
            if (waiting.length > 0) log.info({ steps: waiting }, 'waiting for in-flight steps to reach a commit point')
          }
        }),
        Promise.race([this.requestsSettled(), bound])
      ])
      clearTimeout(timer)
      steps = drained
      abandonedRequests = this.activeRequests
    }
    if (steps.timedOut) {
      log.warn({ pending: steps.pending }, 'steps still running at the shutdown bound: they run again on the next start, with the same idempotency keys')
    }
    if (abandonedRequests > 0) log.warn({ abandonedRequests }, 'requests still in progress at the shutdown bound: their connections are closed')
    await this.teardown()
    log.info({ stepsInFlight: steps.inFlight, stepsSettled: steps.settled, stepsPending: steps.pending.length, abandonedRequests }, 'stopped')
    return { steps, abandonedRequests }
  }

  /** Closes the server (cutting what is left), stops the node, removes `daemon.json`. */
  private async teardown(): Promise<void> {
    const errors: unknown[] = []
    const api = this.api
    this.api = undefined
    if (api !== undefined) {
      this.draining = true
      const closing = api.close()
      // Whatever is still open past the bound is cut: the node stops next, nothing can answer it.
      api.app.server.closeAllConnections()
      await closing.catch((err: unknown) => errors.push(err))
    }
    const node = this.node
    if (node?.started === true) {
      // daemon.json goes first: once the node releases the data directory another may start there.
      await removeDaemonRuntime(node.dataDir).catch((err: unknown) => errors.push(err))
      await node.stop().catch((err: unknown) => errors.push(err))
    }
    if (errors.length > 0) throw errors[0]
  }
}

/**
 * Composes a daemon: a node over `config` serving its API (see {@link QflowDaemon}). The
 * command line's `qflow node start` is this plus signal handling.
 */
export function createDaemon(config: DaemonConfig, components: DaemonComponents): QflowDaemon {
  return new Daemon(config, components)
}
