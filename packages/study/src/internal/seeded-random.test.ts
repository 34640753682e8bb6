import { describe, expect, it } from "vitest";
import { SeededRandom, logFactorial } from "./seeded-random.js";

describe("SeededRandom", () => {
  it("gives the same stream for the same seed and label, and different ones otherwise", () => {
    const draw = (seed: number, label: string) => {
      const random = new SeededRandom(seed, label);
      return Array.from({ length: 8 }, () => random.nextUint32());
    };
    expect(draw(7, "a")).toEqual(draw(7, "a"));
    expect(draw(7, "a")).not.toEqual(draw(8, "a"));
    expect(draw(7, "a")).not.toEqual(draw(7, "b"));
  });

  it("draws doubles in [0, 1) with mean 1/2", () => {
    const random = new SeededRandom(1);
    let sum = 0;
    for (let index = 0; index < 100_000; index++) {
      const value = random.nextDouble();
      expect(value >= 0 && value < 1).toBe(true);
      sum += value;
    }
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
  });

  it.each([0.05, 0.7, 3, 9.9, 10, 42, 1000, 250_000])("Poisson(%d) has mean and variance λ", (lambda) => {
    const random = new SeededRandom(11, `poisson-${lambda}`);
    const n = 60_000;
    let sum = 0;
    let sumSquares = 0;
    for (let index = 0; index < n; index++) {
      const k = random.nextPoisson(lambda);
      expect(Number.isInteger(k) && k >= 0).toBe(true);
      sum += k;
      sumSquares += k * k;
    }
    const mean = sum / n;
    const variance = sumSquares / n - mean * mean;
    // 6 standard errors of the mean; the variance within 5 %.
    expect(Math.abs(mean - lambda)).toBeLessThan(6 * Math.sqrt(lambda / n));
    expect(Math.abs(variance / lambda - 1)).toBeLessThan(0.05);
  });

  it("Poisson(25) follows the probability mass function (PTRS branch)", () => {
    const lambda = 25;
    const random = new SeededRandom(5);
    const n = 200_000;
    const counts = new Map<number, number>();
    for (let index = 0; index < n; index++) {
      const k = random.nextPoisson(lambda);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    // pmf from the definition, e^-λ λ^k / k!, computed with a running product (not logFactorial).
    let pmf = Math.exp(-lambda);
    for (let k = 0; k <= 50; k++) {
      if (k > 0) pmf *= lambda / k;
      const expected = pmf * n;
      if (expected < 200) continue;
      const observed = counts.get(k) ?? 0;
      expect(Math.abs(observed - expected)).toBeLessThan(5 * Math.sqrt(expected));
    }
  });

  it("returns 0 photons for a zero or negative mean", () => {
    const random = new SeededRandom(1);
    expect(random.nextPoisson(0)).toBe(0);
    expect(random.nextPoisson(-3)).toBe(0);
  });

  it("logFactorial matches log(k!) summed directly", () => {
    for (const k of [0, 1, 5, 63, 64, 100, 1000]) {
      let direct = 0;
      for (let j = 2; j <= k; j++) direct += Math.log(j);
      expect(logFactorial(k)).toBeCloseTo(direct, 8);
    }
  });
});
