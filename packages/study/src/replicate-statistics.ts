/**
 * Statistics over a study's replicates: the Student t distribution (CDF and quantile), the mean of a
 * cell's replicate values with its two-sided 95% confidence interval (t with n − 1 degrees of freedom),
 * and whether two cells' intervals support a difference.
 *
 * With one replicate there is no interval: {@link meanInterval} returns `halfWidth: null` and every
 * comparison involving it is `not-assessed` — the report then says "n=1, no interval" rather than
 * inventing a spread.
 *
 * The t CDF comes from the regularised incomplete beta function, P(|T| > t) = I_x(ν/2, 1/2) with
 * x = ν / (ν + t²), evaluated by its continued fraction (modified Lentz); the quantile inverts the CDF
 * by bisection, which converges to the last bit without needing a good starting guess.
 */

/** Confidence level of every interval the study reports. */
export const CONFIDENCE_LEVEL = 0.95;

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative error below 1e-14). */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = coefficients[0]!;
  for (let index = 1; index < coefficients.length; index++) sum += coefficients[index]! / (z + index);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2)). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 10_000; m++) {
    const twoM = 2 * m;
    // Even step.
    let numerator = (m * (b - m) * x) / ((a + twoM - 1) * (a + twoM));
    d = 1 + numerator * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + numerator / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    result *= d * c;
    // Odd step.
    numerator = (-(a + m) * (a + b + m) * x) / ((a + twoM) * (a + twoM + 1));
    d = 1 + numerator * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + numerator / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    result *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  return result;
}

/** The regularised incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1]. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) throw new RangeError(`regularizedIncompleteBeta needs a, b > 0 and x in [0, 1], got x=${x}, a=${a}, b=${b}`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // Use the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

function checkDegrees(degreesOfFreedom: number): void {
  if (!(degreesOfFreedom > 0) || !Number.isFinite(degreesOfFreedom)) throw new RangeError(`degrees of freedom must be a finite number > 0, got ${degreesOfFreedom}`);
}

/** P(T ≤ t) for Student's t with `degreesOfFreedom` ν > 0. */
export function studentTCdf(t: number, degreesOfFreedom: number): number {
  checkDegrees(degreesOfFreedom);
  if (Number.isNaN(t)) return Number.NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(degreesOfFreedom / (degreesOfFreedom + t * t), degreesOfFreedom / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The `p` quantile of Student's t with ν = `degreesOfFreedom` (p in (0, 1)). */
export function studentTQuantile(p: number, degreesOfFreedom: number): number {
  checkDegrees(degreesOfFreedom);
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile needs p in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  // Symmetric: solve for the upper tail and mirror.
  const upper = p > 0.5 ? p : 1 - p;
  let low = 0;
  let high = 1;
  while (studentTCdf(high, degreesOfFreedom) < upper) {
    low = high;
    high *= 2;
    if (high > 1e300) break;
  }
  for (let iteration = 0; iteration < 200; iteration++) {
    const middle = 0.5 * (low + high);
    if (middle === low || middle === high) break;
    if (studentTCdf(middle, degreesOfFreedom) < upper) low = middle;
    else high = middle;
  }
  const quantile = 0.5 * (low + high);
  return p > 0.5 ? quantile : -quantile;
}

/** The mean of a cell's replicate values and its confidence interval. */
export interface MeanInterval {
  /** Replicates with a value. */
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1 in the denominator); null for n = 1. */
  readonly standardDeviation: number | null;
  /** t_{(1+level)/2, n−1} · s / √n; null for n = 1 (no interval can be given). */
  readonly halfWidth: number | null;
  /** mean ∓ halfWidth; null for n = 1. */
  readonly low: number | null;
  readonly high: number | null;
}

/**
 * Mean and two-sided confidence interval (Student t, n − 1 degrees of freedom) of `values`; non-finite
 * entries (a metric a replicate did not produce) are left out, and an empty list gives null.
 */
export function meanInterval(values: readonly (number | null)[], level = CONFIDENCE_LEVEL): MeanInterval | null {
  const finite = values.filter((value): value is number => value !== null && Number.isFinite(value));
  const n = finite.length;
  if (n === 0) return null;
  const mean = finite.reduce((sum, value) => sum + value, 0) / n;
  if (n === 1) return { n, mean, standardDeviation: null, halfWidth: null, low: null, high: null };
  const variance = finite.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1);
  const standardDeviation = Math.sqrt(variance);
  const halfWidth = studentTQuantile(0.5 + level / 2, n - 1) * (standardDeviation / Math.sqrt(n));
  return { n, mean, standardDeviation, halfWidth, low: mean - halfWidth, high: mean + halfWidth };
}

/**
 * Whether the intervals support a difference between two cells: `supported` when they do not overlap,
 * `unsupported` when they do, `not-assessed` when either has no interval (n = 1), `tie` when the means
 * are equal.
 */
export type DifferenceSupport = "supported" | "unsupported" | "not-assessed" | "tie";

/** See {@link DifferenceSupport}. */
export function differenceSupport(a: MeanInterval, b: MeanInterval): DifferenceSupport {
  if (a.mean === b.mean) return "tie";
  if (a.halfWidth === null || b.halfWidth === null) return "not-assessed";
  return a.high! < b.low! || b.high! < a.low! ? "supported" : "unsupported";
}

/** `0.1234 ± 0.0056 (n=3)`, or `0.1234 (n=1, no interval)`. */
export function formatMeanInterval(interval: MeanInterval | null, digits: number, missing = "—"): string {
  if (interval === null) return missing;
  if (interval.halfWidth === null) return `${interval.mean.toFixed(digits)} (n=1, no interval)`;
  return `${interval.mean.toFixed(digits)} ± ${interval.halfWidth.toFixed(digits)} (n=${interval.n})`;
}
