import { performance } from 'node:perf_hooks'

/** Summary of one measured operation. */
export interface Measurement {
  /** What was measured. */
  name: string
  /** Number of timed iterations. */
  samples: number
  /** Median time per operation, microseconds. */
  medianUs: number
  /** 99th percentile time per operation, microseconds. */
  p99Us: number
  /** Operations per second derived from the total time of the timed iterations. */
  opsPerSec: number
  /** Extra figures a benchmark reports (ratios, sizes, memory). */
  extra?: Record<string, number | string>
}

/** Options for {@link measure}. */
export interface MeasureOptions {
  /** Untimed warm-up iterations. Default 200. */
  warmup?: number
  /** Timed iterations. Default 2,000. */
  iterations?: number
  /** Operations done by one call of `fn` (for batched calls). Default 1. */
  opsPerCall?: number
}

/** The p-th percentile of sorted values (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, index)] as number
}

function summarize(name: string, times: Float64Array, totalMs: number, opsPerCall: number): Measurement {
  const sorted = Array.from(times).sort((a, b) => a - b)
  return {
    name,
    samples: times.length,
    medianUs: (percentile(sorted, 50) * 1000) / opsPerCall,
    p99Us: (percentile(sorted, 99) * 1000) / opsPerCall,
    opsPerSec: (times.length * opsPerCall * 1000) / totalMs
  }
}

/** Times `fn` call by call and returns the median, p99 and throughput. */
export async function measure(
  name: string,
  fn: () => unknown | Promise<unknown>,
  options: MeasureOptions = {}
): Promise<Measurement> {
  const iterations = options.iterations ?? 2_000
  for (let i = 0; i < (options.warmup ?? 200); i++) await fn()
  const times = new Float64Array(iterations)
  const started = performance.now()
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now()
    await fn()
    times[i] = performance.now() - t0
  }
  return summarize(name, times, performance.now() - started, options.opsPerCall ?? 1)
}

/** Times `fn` with synchronous calls only (no await between iterations): for sub-microsecond work. */
export function measureSync(name: string, fn: () => unknown, options: MeasureOptions = {}): Measurement {
  const iterations = options.iterations ?? 2_000
  for (let i = 0; i < (options.warmup ?? 200); i++) fn()
  const times = new Float64Array(iterations)
  const started = performance.now()
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now()
    fn()
    times[i] = performance.now() - t0
  }
  return summarize(name, times, performance.now() - started, options.opsPerCall ?? 1)
}

/** A benchmark file's default export: returns its measurements. */
export type Benchmark = () => Promise<Measurement[]>
