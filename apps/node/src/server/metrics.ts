import type { StateStoreStats } from '@qflow/state'
import type { RetentionStats } from '../node/retention.js'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { ApiMetrics } from './context.js'
import { METRICS_PREFIX } from './constants.js'

/** Latency buckets of `qflow_http_request_duration_seconds`, seconds (0.5 ms to 10 s). */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Registers gauges of the node's state store, read when `/metrics` is scraped: what its in-memory
 * index holds (what the node's memory grows with), the log on disk, and the last index checkpoint.
 * `stats` answers `undefined` while the node is stopped (the gauges keep their last values).
 */
export function registerStateMetrics(registry: Registry, stats: () => StateStoreStats | undefined): void {
  const gauge = (name: string, help: string, read: (s: StateStoreStats) => number | undefined) =>
    new Gauge({
      name: `${METRICS_PREFIX}${name}`,
      help,
      registers: [registry],
      collect() {
        const s = stats()
        const value = s === undefined ? undefined : read(s)
        if (value !== undefined) this.set(value)
      }
    })
  gauge('state_index_blocks', 'Blocks in the state store index, held in memory', (s) => s.blocks)
  gauge('state_index_records', 'Records (execution heads, registry records) in the state store, held in memory with their values', (s) => s.records)
  gauge('state_log_segments', 'Segment files of the state store log', (s) => s.segments)
  gauge('state_log_bytes', 'Bytes of the state store log segments', (s) => s.bytes)
  gauge('state_uncheckpointed_bytes', 'Log bytes appended since the last index checkpoint (an open scans them)', (s) => s.uncheckpointedBytes)
  gauge('state_last_checkpoint_timestamp_seconds', 'When the last index checkpoint was written, unix seconds', (s) =>
    s.lastCheckpoint === undefined ? undefined : s.lastCheckpoint.at / 1000
  )
  gauge('state_last_checkpoint_duration_seconds', 'How long the last index checkpoint took to write', (s) =>
    s.lastCheckpoint === undefined ? undefined : s.lastCheckpoint.durationMs / 1000
  )
  gauge('state_last_checkpoint_entries', 'Index entries and records the last checkpoint holds', (s) => s.lastCheckpoint?.entries)
}

/**
 * Registers the node's pruning metrics, read when `/metrics` is scraped: executions removed and
 * passes run since the node started, and the last pass. `stats` answers `undefined` while the
 * node is stopped or prunes nothing (no metric is shown until a first pass).
 */
export function registerRetentionMetrics(registry: Registry, stats: () => RetentionStats | undefined): void {
  const metric = (type: typeof Counter | typeof Gauge, name: string, help: string, read: (s: RetentionStats) => number | undefined) =>
    new type({
      name: `${METRICS_PREFIX}${name}`,
      help,
      registers: [registry],
      collect(this: Counter | Gauge) {
        const s = stats()
        const value = s === undefined ? undefined : read(s)
        if (value === undefined) return
        this.reset()
        this.inc(value)
      }
    })
  metric(Counter, 'executions_pruned_total', 'Finished executions removed by retention (executionMaxAge, executionMaxCount)', (s) => s.removedExecutions)
  metric(Counter, 'prune_passes_total', 'Retention passes run', (s) => s.passes)
  metric(Counter, 'prune_failures_total', 'Retention passes that failed', (s) => s.failures)
  metric(Gauge, 'last_prune_timestamp_seconds', 'When the last retention pass that succeeded began, unix seconds', (s) => (s.last === undefined ? undefined : s.last.at / 1000))
  metric(Gauge, 'last_prune_duration_seconds', 'How long the last retention pass that succeeded took', (s) => (s.last === undefined ? undefined : s.last.durationMs / 1000))
}

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
