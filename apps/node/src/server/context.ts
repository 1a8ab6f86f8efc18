import type { FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Counter, Histogram, Registry } from 'prom-client'
import type { QflowNode } from '../node/node.js'

/** Who made a request: the token's subject and the bearer token itself (for operations the node runs on their behalf). */
export interface Caller {
  /** The verified subject (`did:key:…`). */
  readonly did: string
  /** The bearer token the request carried. */
  readonly token: string
}

/** Actions checked against Qonsent (`read`, `write`, `execute`, `admin`). */
export type ApiAction = 'read' | 'write' | 'execute' | 'admin'

/** The API's Prometheus metrics; plugins register their own in `registry`. */
export interface ApiMetrics {
  /** The registry `GET /metrics` answers from (default process metrics included). */
  readonly registry: Registry
  /** `qflow_http_requests_total{method, route, status}`. */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>
  /** `qflow_http_request_duration_seconds{method, route, status}`. */
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>
  /** `qflow_executions_started_total{trigger}` (every start the engine announces). */
  readonly executionsStarted: Counter<'trigger'>
  /** `qflow_executions_completed_total{status}` (completed, failed, aborted). */
  readonly executionsCompleted: Counter<'status'>
}

/**
 * What a route plugin is given: the node, authentication and authorization, metrics and the
 * logger. The webhook and WebSocket plugins are `(ctx: ApiContext) => FastifyPluginAsync`.
 */
export interface ApiContext {
  /** The started node the API serves. */
  readonly node: QflowNode
  /**
   * Verifies the request's sQuid bearer token (`authorization: Bearer <token>`, audience `qflow`).
   * Bearer tokens are reusable until they expire (no single-use check).
   *
   * @throws `UnauthenticatedError` (401 `UNAUTHENTICATED`) when there is none or it does not verify.
   */
  authenticate(request: FastifyRequest): Promise<Caller>
  /**
   * Asks Qonsent whether `caller` may do `action` on `resource` (`qflow:flow:<id>`,
   * `qflow:execution:<id>`, `qflow:secret:<name>`, `qflow:node`).
   *
   * @throws `ForbiddenError` (403 `FORBIDDEN`) when it may not.
   */
  authorize(caller: Caller, resource: string, action: ApiAction): Promise<void>
  /** The API's metrics. */
  readonly metrics: ApiMetrics
  /** The server's pino logger. */
  readonly log: Logger
}
