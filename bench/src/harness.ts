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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, index)] as number
}

/** Times `fn` call by call and returns the median, p99 and throughput. */
export async function measure(
  name: string,
  fn: () => unknown | Promise<unknown>,
  options: MeasureOptions = {}
): Promise<Measurement> {
  const warmup = options.warmup ?? 200
  const iterations = options.iterations ?? 2_000
  const opsPerCall = options.opsPerCall ?? 1
  for (let i = 0; i < warmup; i++) await fn()
  const times = new Float64Array(iterations)
  const started = performance.now()
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now()
    await fn()
    times[i] = performance.now() - t0
  }
  const total = performance.now() - started
  const sorted = Array.from(times).sort((a, b) => a - b)
  return {
    name,
    samples: iterations,
    medianUs: (percentile(sorted, 50) * 1000) / opsPerCall,
    p99Us: (percentile(sorted, 99) * 1000) / opsPerCall,
    opsPerSec: (iterations * opsPerCall * 1000) / total
  }
}

/** Times `fn` with synchronous calls only (no await between iterations): for sub-microsecond work. */
export function measureSync(name: string, fn: () => unknown, options: MeasureOptions = {}): Measurement {
  const warmup = options.warmup ?? 200
  const iterations = options.iterations ?? 2_000
  const opsPerCall = options.opsPerCall ?? 1
  for (let i = 0; i < warmup; i++) fn()
  const times = new Float64Array(iterations)
  const started = performance.now()
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now()
    fn()
    times[i] = performance.now() - t0
  }
  const total = performance.now() - started
  const sorted = Array.from(times).sort((a, b) => a - b)
  return {
    name,
    samples: iterations,
    medianUs: (percentile(sorted, 50) * 1000) / opsPerCall,
    p99Us: (percentile(sorted, 99) * 1000) / opsPerCall,
    opsPerSec: (iterations * opsPerCall * 1000) / total
  }
}

/** A benchmark file's default export: returns its measurements. */
export type Benchmark = () => Promise<Measurement[]>
