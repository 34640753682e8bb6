import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { FRC_DEFAULT_TUKEY_ALPHA } from "./internal/fourier-ring-correlation.js";
import { METRIC_DEFINITIONS } from "./internal/metric-definitions.js";
import {
  AMPLITUDE_MS_SSIM_PRESMOOTHING_SIGMA,
  fourierRingCorrelation,
  frcThresholdFrequency,
  scoreReconstruction,
  scoreResolution,
  structuralSimilarity,
} from "./reconstruction-metrics.js";
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

describe("resolution metrics (apodised FRC with half-bit and 0.5, MS-SSIM)", () => {
  const rotated = (image: typeof truth, angle: number) => {
    const out = { ...image, data: new Float64Array(image.data.length) };
    for (let index = 0; index < image.height * image.width; index++) {
      const re = image.data[2 * index]!;
      const im = image.data[2 * index + 1]!;
      out.data[2 * index] = re * Math.cos(angle) - im * Math.sin(angle);
      out.data[2 * index + 1] = re * Math.sin(angle) + im * Math.cos(angle);
    }
    return out;
  };

  it("a perfect reconstruction (up to a global phase) correlates at every ring and scores MS-SSIM 1", () => {
    const metrics = scoreResolution(truth, rotated(truth, 2.1), everywhere, box);
    for (const value of metrics.frc.curve.correlation) expect(value).toBeCloseTo(1, 9);
    expect(metrics.frc.fixed).toMatchObject({ status: "never-below", reached: false, resolutionPx: null });
    expect(metrics.frc.halfBit).toMatchObject({ status: "never-below", reached: false, resolutionPx: null });
    expect(metrics.amplitudeMsSsim!.value).toBeCloseTo(1, 10);
    expect(metrics.phaseMsSsim!.value).toBeCloseTo(1, 9);
  });

  it("a constant reconstruction is 'not reached' at both thresholds, where the legacy FRC gave a number", () => {
    const constant = { ...truth, data: new Float64Array(truth.data.length) };
    for (let index = 0; index < 48 * 40; index++) constant.data[2 * index] = 0.8;
    const metrics = scoreResolution(truth, constant, everywhere, box);
    for (const resolution of [metrics.frc.fixed, metrics.frc.halfBit]) {
      expect(resolution.reached).toBe(false);
      expect(resolution.status).toBe("never-above");
      expect(resolution.resolutionPx).toBeNull();
    }
    expect(Number.isFinite(scoreReconstruction(truth, constant, everywhere, box).frc50ResolutionPx)).toBe(true);
    expect(metrics.amplitudeMsSsim!.value).toBeLessThan(0.5);
  });

  it("blurring the reconstruction coarsens the FRC resolution and lowers MS-SSIM", () => {
    const large = generateObject({ height: 96, width: 96, seed: 6, featureSize: 6 });
    const all = new Uint8Array(96 * 96).fill(1);
    const largeBox = { top: 0, left: 0, bottom: 96, right: 96 };
    const random = new SeededRandom(14);
    const noise = Float64Array.from(large.data, () => random.nextNormal());
    const blurred = (passes: number) => {
      let data = Float64Array.from(large.data, (value, index) => value + 0.03 * noise[index]!);
      for (let pass = 0; pass < passes; pass++) {
        const next = new Float64Array(data.length);
        for (let row = 0; row < 96; row++) {
          for (let column = 0; column < 96; column++) {
            for (let part = 0; part < 2; part++) {
              let total = 0;
              for (const [dy, dx] of [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]] as const) {
                const r = Math.min(95, Math.max(0, row + dy));
                const c = Math.min(95, Math.max(0, column + dx));
                total += data[2 * (r * 96 + c) + part]!;
              }
              next[2 * (row * 96 + column) + part] = total / 5;
            }
          }
        }
        data = next;
      }
      return scoreResolution(large, { ...large, data }, all, largeBox);
    };
    const sharp = blurred(1);
    const soft = blurred(6);
    expect(sharp.frc.halfBit.reached && soft.frc.halfBit.reached).toBe(true);
    expect(soft.frc.halfBit.resolutionPx!).toBeGreaterThan(sharp.frc.halfBit.resolutionPx!);
    expect(soft.frc.fixed.resolutionPx!).toBeGreaterThan(sharp.frc.fixed.resolutionPx!);
    expect(soft.amplitudeMsSsim!.value).toBeLessThan(sharp.amplitudeMsSsim!.value);
    expect(soft.phaseMsSsim!.value).toBeLessThan(sharp.phaseMsSsim!.value);
  });

  it("reports MS-SSIM as skipped, with the reason, on a region too small for five scales", () => {
    const metrics = scoreResolution(truth, truth, everywhere, { top: 4, left: 4, bottom: 16, right: 36 });
    expect(metrics.amplitudeMsSsim).toBeNull();
    expect(metrics.phaseMsSsim).toBeNull();
    expect(metrics.msSsimSkipped).toMatch(/16×16/);
    expect(metrics.frc.curve.correlation.length).toBe(7);
  });

  it("defines every metric the report prints, thresholds included", () => {
    expect(METRIC_DEFINITIONS.map((item) => item.id)).toEqual(["mae", "psnr", "ssim", "ms-ssim", "frc"]);
    const frc = METRIC_DEFINITIONS.find((item) => item.id === "frc")!.definition;
    for (const fact of ["Tukey", `α = ${FRC_DEFAULT_TUKEY_ALPHA}`, "0.2071 + 1.9102/√n", "0.5", "Not reached"]) expect(frc.toLowerCase()).toContain(fact.toLowerCase());
    const msSsim = METRIC_DEFINITIONS.find((item) => item.id === "ms-ssim")!.definition;
    for (const fact of ["0.0448, 0.2856, 0.3001, 0.2363, 0.1333", "σ = 1.5", `σ = ${AMPLITUDE_MS_SSIM_PRESMOOTHING_SIGMA} px`, "2π"]) expect(msSsim).toContain(fact);
  });
});
