import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SeededRandom } from "@studykit/core";
import { differenceSupport, formatMeanInterval, meanInterval, studentTCdf, studentTQuantile } from "./replicate-statistics.js";

// Two-sided 95% critical values t_{0.975, ν} from a printed Student t table (4 decimals; ν = ∞ is the
// normal quantile 1.9600). scipy is not installed on this machine, so the table is the independent source.
const T_TABLE_0975: readonly [number, number][] = [
  [1, 12.7062],
  [2, 4.3027],
  [3, 3.1824],
  [4, 2.7764],
  [5, 2.5706],
  [6, 2.4469],
  [7, 2.3646],
  [8, 2.306],
  [9, 2.2622],
  [10, 2.2281],
  [15, 2.1314],
  [20, 2.086],
  [29, 2.0452],
  [30, 2.0423],
  [60, 2.0003],
  [120, 1.9799],
];

describe("studentTQuantile", () => {
  it("matches the printed t table at 0.975 for ν = 1…120", () => {
    for (const [dof, expected] of T_TABLE_0975) expect(studentTQuantile(0.975, dof)).toBeCloseTo(expected, 3);
  });

  it("matches the 0.995 column of the t table (ν = 2, 5, 10)", () => {
    expect(studentTQuantile(0.995, 2)).toBeCloseTo(9.9248, 3);
    expect(studentTQuantile(0.995, 5)).toBeCloseTo(4.0321, 3);
    expect(studentTQuantile(0.995, 10)).toBeCloseTo(3.1693, 3);
  });

  it("equals the Cauchy quantile tan(π(p − ½)) for ν = 1 at every p", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 0.999, noNaN: true }), (p) => {
        const expected = Math.tan(Math.PI * (p - 0.5));
        expect(Math.abs(studentTQuantile(p, 1) - expected)).toBeLessThan(1e-9 * Math.max(1, Math.abs(expected)));
      }),
    );
  });

  it("equals the closed form (2p − 1)/√(2p(1 − p)) for ν = 2 at every p", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 0.999, noNaN: true }), (p) => {
        const expected = (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
        expect(Math.abs(studentTQuantile(p, 2) - expected)).toBeLessThan(1e-9 * Math.max(1, Math.abs(expected)));
      }),
    );
  });

  it("is antisymmetric, inverts the CDF, and falls towards the normal quantile as ν grows", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 0.99, noNaN: true }), fc.integer({ min: 1, max: 200 }), (p, dof) => {
        const quantile = studentTQuantile(p, dof);
        expect(studentTQuantile(1 - p, dof)).toBeCloseTo(-quantile, 8);
        expect(studentTCdf(quantile, dof)).toBeCloseTo(p, 10);
        if (p > 0.5) expect(studentTQuantile(p, dof + 1)).toBeLessThanOrEqual(quantile + 1e-12);
      }),
    );
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.959964, 5);
  });

  it("rejects p outside (0, 1) and ν ≤ 0", () => {
    expect(() => studentTQuantile(0, 3)).toThrow(RangeError);
    expect(() => studentTQuantile(1, 3)).toThrow(RangeError);
    expect(() => studentTQuantile(0.9, 0)).toThrow(RangeError);
  });
});

describe("meanInterval", () => {
  it("gives no interval for one replicate and says so", () => {
    const interval = meanInterval([0.25])!;
    expect(interval).toMatchObject({ n: 1, mean: 0.25, halfWidth: null, low: null, high: null });
    expect(formatMeanInterval(interval, 3)).toBe("0.250 (n=1, no interval)");
    expect(meanInterval([])).toBeNull();
    // A replicate without the metric (an FRC that did not cross) is left out, not counted as zero.
    expect(meanInterval([0.25, null])!.n).toBe(1);
  });

  it("uses t with n − 1 degrees of freedom: half-width = t · s / √n on values of known spread", () => {
    // R values alternating μ ± a: mean μ, sample variance a²·R/(R − 1) (R even), so the half-width is
    // t_{0.975,R−1} · a · √(R/(R−1)) / √R = t · a / √(R − 1), with t from the printed table.
    const mu = 0.3;
    const a = 0.02;
    const widths: number[] = [];
    for (const replicates of [2, 4, 6, 10, 30]) {
      const values = Array.from({ length: replicates }, (_, index) => (index % 2 === 0 ? mu + a : mu - a));
      const interval = meanInterval(values)!;
      const table = new Map(T_TABLE_0975).get(replicates - 1)!;
      expect(interval.mean).toBeCloseTo(mu, 12);
      expect(interval.halfWidth!).toBeCloseTo((table * a) / Math.sqrt(replicates - 1), 4);
      widths.push(interval.halfWidth!);
    }
    // The interval narrows as replicates are added.
    for (let index = 1; index < widths.length; index++) expect(widths[index]!).toBeLessThan(widths[index - 1]!);
  });

  it("covers the true mean of normal data about 95% of the time at R = 3, and narrows as R grows", () => {
    // Synthetic replicates with known mean 1 and σ 0.1. A normal (z) interval would cover only ~83% at
    // R = 3; the t interval covers 95% (binomial sd over 4000 trials: 0.35%).
    const random = SeededRandom.derive(2026, "replicate-statistics-coverage");
    const meanWidth: number[] = [];
    for (const replicates of [3, 5, 10]) {
      let covered = 0;
      let widthSum = 0;
      const trials = 4000;
      for (let trial = 0; trial < trials; trial++) {
        const values = Array.from({ length: replicates }, () => 1 + 0.1 * random.nextNormal());
        const interval = meanInterval(values)!;
        if (interval.low! <= 1 && 1 <= interval.high!) covered += 1;
        widthSum += interval.halfWidth!;
      }
      expect(covered / trials).toBeGreaterThan(0.935);
      expect(covered / trials).toBeLessThan(0.965);
      meanWidth.push(widthSum / trials);
    }
    // E[half-width] = t · c4(R) · σ / √R: R = 3: 4.3027·0.8862·0.1/√3 = 0.2201; R = 10: 2.2622·0.9727·0.1/√10 = 0.0696.
    expect(meanWidth[0]!).toBeCloseTo(0.2201, 2);
    expect(meanWidth[2]!).toBeCloseTo(0.0696, 2);
    expect(meanWidth[1]!).toBeLessThan(meanWidth[0]!);
    expect(meanWidth[2]!).toBeLessThan(meanWidth[1]!);
  });
});

describe("differenceSupport", () => {
  const cell = (values: number[]) => meanInterval(values)!;
  it("supports a difference only when the intervals do not overlap", () => {
    expect(differenceSupport(cell([1.0, 1.01, 0.99]), cell([2.0, 2.01, 1.99]))).toBe("supported");
    expect(differenceSupport(cell([1.0, 1.5, 0.5]), cell([1.2, 1.7, 0.7]))).toBe("unsupported");
  });
  it("does not assess n = 1 and calls equal means a tie", () => {
    expect(differenceSupport(cell([1.0]), cell([2.0]))).toBe("not-assessed");
    expect(differenceSupport(cell([1.0, 1.1, 0.9]), cell([2.0]))).toBe("not-assessed");
    expect(differenceSupport(cell([1.0, 1.1, 0.9]), cell([0.9, 1.0, 1.1]))).toBe("tie");
  });
});
