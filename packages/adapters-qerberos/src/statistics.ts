/** Small numerical helpers for turning tail probabilities into z-scores. */

// Coefficients of Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
const A = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239]
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572]
const C = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783]
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]

/** The z with `P(Z ≥ z) = tail` for a standard normal Z (capped at ±38 where doubles run out). */
export function zFromUpperTail(tail: number): number {
  if (!(tail > 0)) return 38
  if (tail >= 1) return -38
  const p = tail
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p))
    // Φ⁻¹(p) is negative here; the upper-tail z is its opposite.
    return -(
      (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) /
      ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1)
    )
  }
  if (p > 1 - 0.02425) {
    const q = Math.sqrt(-2 * Math.log(1 - p))
    return (
      (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) /
      ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1)
    )
  }
  const q = p - 0.5
  const r = q * q
  return -(
    ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) /
    (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1)
  )
}

/**
 * `P(X ≥ k)` for X ~ BetaBinomial(n, a, b): the count of errors in a window of `n` outcomes when
 * the error probability is itself only known as Beta(a, b), i.e. learned from about `a + b`
 * outcomes. Its tail is wider than the binomial's when little has been learned, so a baseline
 * estimated from few outcomes does not raise alarms it cannot back.
 */
export function betaBinomialUpperTail(k: number, n: number, a: number, b: number): number {
  if (k <= 0) return 1
  if (k > n) return 0
  // pmf(0) = Π (b + i) / (a + b + i), then pmf(j + 1) = pmf(j) · (n − j)/(j + 1) · (j + a)/(n − j − 1 + b).
  let pmf = 1
  for (let i = 0; i < n; i++) pmf *= (b + i) / (a + b + i)
  for (let j = 0; j < k; j++) pmf *= ((n - j) / (j + 1)) * ((j + a) / (n - j - 1 + b))
  // Sum the tail itself (never 1 − the head): tiny probabilities stay exact.
  let tail = 0
  for (let j = k; j <= n; j++) {
    tail += pmf
    if (j < n) pmf *= ((n - j) / (j + 1)) * ((j + a) / (n - j - 1 + b))
  }
  return Math.min(tail, 1)
}
