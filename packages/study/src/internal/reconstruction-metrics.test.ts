import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { fourierRingCorrelation, frcThresholdFrequency, scoreReconstruction, structuralSimilarity } from "./reconstruction-metrics.js";
import { generateObject } from "./procedural-sample.js";

const truth = generateObject({ height: 48, width: 40, seed: 2 });
const everywhere = new Uint8Array(48 * 40).fill(1);
const box = { top: 0, left: 0, bottom: 48, right: 40 };

describe("reconstruction metrics", () => {
  it("a perfect reconstruction scores zero error, SSIM 1 and Nyquist resolution", () => {
    const metrics = scoreReconstruction(truth, truth, everywhere, box);
    expect(metrics.amplitudeMae).toBe(0);
    expect(metrics.phaseMae).toBeLessThan(1e-12);
    expect(metrics.amplitudeSsim).toBeCloseTo(1, 10);
    expect(metrics.phaseSsim).toBeCloseTo(1, 10);
    expect(metrics.frc50ResolutionPx).toBe(2);
  });

  it("ignores a global phase offset", () => {
    const shifted = { ...truth, data: new Float64Array(truth.data.length) };
    const c = Math.cos(1.3);
    const s = Math.sin(1.3);
    for (let index = 0; index < 48 * 40; index++) {
      const re = truth.data[2 * index]!;
      const im = truth.data[2 * index + 1]!;
      shifted.data[2 * index] = re * c - im * s;
      shifted.data[2 * index + 1] = re * s + im * c;
    }
    const metrics = scoreReconstruction(truth, shifted, everywhere, box);
    expect(metrics.phaseMae).toBeLessThan(1e-9);
    expect(metrics.amplitudeMae).toBeLessThan(1e-12);
  });

  it("amplitude MAE and PSNR follow their definitions for a known perturbation", () => {
    const perturbed = { ...truth, data: Float64Array.from(truth.data, (value) => value * 1.1) };
    const metrics = scoreReconstruction(truth, perturbed, everywhere, box);
    let mae = 0;
    let mse = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let index = 0; index < 48 * 40; index++) {
      const amplitude = Math.hypot(truth.data[2 * index]!, truth.data[2 * index + 1]!);
      mae += 0.1 * amplitude;
      mse += (0.1 * amplitude) ** 2;
      min = Math.min(min, amplitude);
      max = Math.max(max, amplitude);
    }
    expect(metrics.amplitudeMae).toBeCloseTo(mae / (48 * 40), 10);
    expect(metrics.amplitudePsnr).toBeCloseTo(10 * Math.log10((max - min) ** 2 / (mse / (48 * 40))), 8);
  });

  it("more noise gives worse scores on every metric", () => {
    const noisy = (sigma: number) => {
      const random = new SeededRandom(4);
      return { ...truth, data: Float64Array.from(truth.data, (value) => value + sigma * random.nextNormal()) };
    };
    const low = scoreReconstruction(truth, noisy(0.02), everywhere, box);
    const high = scoreReconstruction(truth, noisy(0.2), everywhere, box);
    expect(high.amplitudeMae).toBeGreaterThan(low.amplitudeMae);
    expect(high.phaseMae).toBeGreaterThan(low.phaseMae);
    expect(high.amplitudePsnr).toBeLessThan(low.amplitudePsnr);
    expect(high.amplitudeSsim).toBeLessThan(low.amplitudeSsim);
    expect(high.frc50ResolutionPx).toBeGreaterThan(low.frc50ResolutionPx);
  });

  it("only covered pixels count", () => {
    const wrong = { ...truth, data: Float64Array.from(truth.data) };
    const coverage = new Uint8Array(48 * 40);
    for (let index = 0; index < 48 * 40; index++) {
      if (index % 40 < 20) coverage[index] = 1;
      else wrong.data[2 * index] = wrong.data[2 * index]! + 5;
    }
    const metrics = scoreReconstruction(truth, wrong, coverage, box);
    expect(metrics.pixels).toBe(48 * 20);
    expect(metrics.amplitudeMae).toBe(0);
  });

  it("SSIM of two independent noise images is near 0; FRC of an image with itself is 1", () => {
    const random = new SeededRandom(8);
    const a = Float64Array.from({ length: 32 * 32 }, () => random.nextNormal());
    const b = Float64Array.from({ length: 32 * 32 }, () => random.nextNormal());
    expect(Math.abs(structuralSimilarity(a, b, 32, 32, 8))).toBeLessThan(0.1);
    expect(structuralSimilarity(a, a, 32, 32, 8)).toBeCloseTo(1, 12);
    const complex = Float64Array.from({ length: 2 * 32 * 32 }, () => random.nextNormal());
    const curve = fourierRingCorrelation(complex, complex, 32, 32);
    for (const value of curve.correlation) expect(value).toBeCloseTo(1, 10);
    expect(frcThresholdFrequency(curve)).toBe(0.5);
    expect(frcThresholdFrequency({ frequency: [0, 0.1, 0.2], correlation: [1, 0.7, 0.3] })).toBeCloseTo(0.15, 10);
  });
});
