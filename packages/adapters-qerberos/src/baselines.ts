import { betaBinomialUpperTail, zFromUpperTail } from './statistics.js'

/**
 * Online baselines: an EWMA mean and variance with clipped updates, a sliding window of
 * outcomes for error rates, and a sliding time window of counts for run rates. Everything here
 * is arithmetic on the values given: no clock, no randomness.
 */

/** An exponentially weighted mean and variance whose updates clip far outliers. */
export class RobustEwma {
  /** Samples seen. */
  n = 0
  mean = 0
  variance = 0

  /** How many spreads `x` lies above the mean, the spread floored at `minSpread`. */
  score(x: number, minSpread: number): number {
    const sd = Math.sqrt(this.variance)
    return (x - this.mean) / Math.max(sd, minSpread)
  }

  /**
   * Adds a sample. The first samples are averaged plainly (weight `1/n` until it falls to
   * `alpha`); once `n` reaches `clipAfter`, a sample is first clipped to `mean ± clip·spread`
   * so one outlier cannot drag the baseline or inflate its spread.
   */
  push(x: number, alpha: number, clip: number, minSpread: number, clipAfter: number): void {
    const n = ++this.n
    const weight = n * alpha < 1 ? 1 / n : alpha
    let value = x
    if (n > clipAfter) {
      const sd = Math.sqrt(this.variance)
      const limit = clip * Math.max(sd, minSpread)
      if (value > this.mean + limit) value = this.mean + limit
      else if (value < this.mean - limit) value = this.mean - limit
    }
    const diff = value - this.mean
    const step = weight * diff
    this.mean += step
    this.variance = (1 - weight) * (this.variance + diff * step)
  }
}

/**
 * The last `size` outcomes (1 = error) as a bit mask, and a baseline error probability learned
 * from the outcomes that have left the window: the window is never judged against a baseline that
 * already holds it, so a burst cannot hide itself.
 */
export class ErrorWindow {
  /** Outcomes seen in all. */
  n = 0
  /** Outcomes learned into the baseline (those that left the window). */
  learned = 0
  /** Bits of the last outcomes, newest lowest. */
  mask = 0
  /** Outcomes in the window (up to its size). */
  filled = 0
  /** Errors in the window. */
  errors = 0
  /** Baseline error probability. */
  rate = 0

  /**
   * Adds an outcome to the window; the one it pushes out is learned into the baseline with
   * weight `alpha` (a plain average while `learned·alpha < 1`).
   */
  push(error: boolean, size: number, alpha: number): void {
    this.n++
    if (this.filled === size) {
      const leaving = (this.mask >>> (size - 1)) & 1
      this.errors -= leaving
      const learned = ++this.learned
      const weight = learned * alpha < 1 ? 1 / learned : alpha
      this.rate += weight * (leaving - this.rate)
    } else {
      this.filled++
    }
    this.mask = ((this.mask << 1) | (error ? 1 : 0)) & ((1 << size) - 1)
    if (error) this.errors++
  }

  /**
   * How unlikely the window's error count is under the baseline (floored at `minRate`), as the
   * z-score of a normal tail of the same probability. The tail is computed exactly (a normal
   * approximation overstates the surprise of a few errors in a small window), from the
   * beta-binomial law: the baseline is an estimate worth about `min(learned, 2/alpha)` outcomes,
   * and the tail accounts for that uncertainty.
   */
  score(minRate: number, alpha: number): number {
    const p = Math.max(this.rate, minRate)
    const memory = 2 / alpha - 1
    const worth = Math.min(this.learned, memory)
    return zFromUpperTail(betaBinomialUpperTail(this.errors, this.filled, p * worth, (1 - p) * worth))
  }
}

/**
 * Counts in a sliding time window made of `slices` slices. When a slice closes, the count of the
 * window ending with it updates two baselines: the plain mean count (what an alert reports as
 * expected), and a {@link RobustEwma} of its square root, on which counts are judged: the square
 * root makes Poisson-like counts roughly normal with a spread of ½ whatever their mean, so one
 * z-score threshold suits busy and quiet subjects alike, and executions that arrive in clumps
 * (the steps of one run) show up as a wider learned spread.
 */
export class RateWindow {
  readonly counts: Int32Array
  /** Index of the current slice. */
  head = 0
  /** Start of the current slice, ms; NaN before the first sample. */
  sliceStart = Number.NaN
  /** Runs in the whole window, the current slice included. */
  count = 0
  /** Slices closed so far (the warm-up counter). */
  closed = 0
  /** Mean count per window. */
  mean = 0
  /** Baseline of the square root of the window count. */
  readonly root = new RobustEwma()

  constructor(slices: number) {
    this.counts = new Int32Array(slices)
  }

  /**
   * Moves the window to `at` (closing the slices before it, at most `catchUp` of them replayed
   * into the baselines) and counts one run. A time before the current slice counts in it.
   */
  push(at: number, sliceMs: number, alpha: number, clip: number, clipAfter: number, catchUp: number): void {
    if (Number.isNaN(this.sliceStart)) {
      this.sliceStart = Math.floor(at / sliceMs) * sliceMs
    } else if (at >= this.sliceStart + sliceMs) {
      const steps = Math.floor((at - this.sliceStart) / sliceMs)
      const replay = Math.min(steps, catchUp)
      const counts = this.counts
      const slices = counts.length
      for (let i = 0; i < replay; i++) {
        this.learn(alpha, clip, clipAfter)
        this.head = this.head + 1 === slices ? 0 : this.head + 1
        this.count -= counts[this.head] as number
        counts[this.head] = 0
      }
      if (steps > replay) {
        for (let i = 0; i < slices; i++) counts[i] = 0
        this.count = 0
      }
      this.closed += steps
      this.sliceStart += steps * sliceMs
    }
    this.counts[this.head] = (this.counts[this.head] as number) + 1
    this.count++
  }

  /** How far the window's count lies above the baseline, in spreads of its square root (at least ½). */
  score(): number {
    return this.root.score(Math.sqrt(this.count), 0.5)
  }

  private learn(alpha: number, clip: number, clipAfter: number): void {
    const root = this.root
    root.push(Math.sqrt(this.count), alpha, clip, 0.5, clipAfter)
    const weight = root.n * alpha < 1 ? 1 / root.n : alpha
    this.mean += weight * (this.count - this.mean)
  }
}
