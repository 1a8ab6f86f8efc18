import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'
import type { ApiMetrics } from './context.js'
import { METRICS_PREFIX } from './constants.js'

/** Latency buckets of `qflow_http_request_duration_seconds`, seconds (0.5 ms to 10 s). */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Makes the API's metrics in a registry of its own (so two servers in one process never clash),
 * with prom-client's default process metrics (CPU, memory, event-loop lag, GC, handles).
 */
export function createApiMetrics(init: { readonly defaultMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry()
  if (init.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX })
  const labels = ['method', 'route', 'status'] as const
  return {
    registry,
    httpRequests: new Counter({ name: `${METRICS_PREFIX}http_requests_total`, help: 'HTTP requests answered, by method, route and status', labelNames: labels, registers: [registry] }),
    httpDuration: new Histogram({
      name: `${METRICS_PREFIX}http_request_duration_seconds`,
      help: 'Time from receiving a request to answering it, by method, route and status',
      labelNames: labels,
      buckets: DURATION_BUCKETS,
      registers: [registry]
    }),
    executionsStarted: new Counter({ name: `${METRICS_PREFIX}executions_started_total`, help: 'Executions started, by trigger', labelNames: ['trigger'], registers: [registry] }),
    executionsCompleted: new Counter({
      name: `${METRICS_PREFIX}executions_completed_total`,
      help: 'Executions that reached an end, by status (completed, failed, aborted)',
      labelNames: ['status'],
      registers: [registry]
    })
  }
}
