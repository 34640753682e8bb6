/**
 * The apodised FRC against ground truth it can be held to: an image against itself (1 at every ring),
 * a constant against a texture (nothing resolved: "not reached", never a number), independent noise
 * (scatter of variance 1/(2n) around 0, under the half-bit curve), a known spectral SNR (the 0.5
 * crossing where signal power equals noise power), and numpy code written here for the curve itself.
 */
import { spawnSync } from "node:child_process";
import { SeededRandom } from "@studykit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findPython, pythonDependency, skipWithout } from "../../../../tools/test-dependencies.js";
import { Fourier2D } from "./fourier.js";
import { analyseFourierRingCorrelation, apodisedFrcCurve, frcCrossing, halfBitThreshold, tukeyWindow, type FrcCurve } from "./fourier-ring-correlation.js";
import { generateObject } from "../procedural-sample.js";

const python = findPython("numpy");
const noNumpy = skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"]));

function runPython(script: string, input: unknown): any {
  const result = spawnSync(python!, ["-c", script], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`python failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

function complexNoise(random: SeededRandom, pixels: number): Float64Array {
  return Float64Array.from({ length: 2 * pixels }, () => random.nextNormal());
}

/** The van Heel & Schatz half-bit curve, written out here independently of the module. */
const halfBit = (n: number): number => (0.2071 + 1.9102 / Math.sqrt(n)) / (1.2071 + 0.9102 / Math.sqrt(n));

describe("apodised Fourier ring correlation", () => {
  it("an image with itself has FRC 1 at every ring and crosses neither threshold", () => {
    const random = new SeededRandom(31);
    for (const [height, width] of [[32, 32], [36, 44]] as const) {
      const image = complexNoise(random, height * width);
      const mask = Uint8Array.from({ length: height * width }, (_, index) => (index % width < width - 3 ? 1 : 0));
      for (const coverage of [undefined, mask]) {
        const analysis = analyseFourierRingCorrelation(image, image, height, width, coverage);
        for (const value of analysis.curve.correlation) expect(value).toBeCloseTo(1, 12);
        expect(analysis.fixed).toEqual({ threshold: "0.5", status: "never-below", reached: false, frequency: null, resolutionPx: null });
        expect(analysis.halfBit).toMatchObject({ status: "never-below", reached: false, resolutionPx: null });
      }
    }
  });

  it("a constant image against a textured one is 'not reached' at both thresholds, never a finite resolution", () => {
    const truth = generateObject({ height: 48, width: 40, seed: 2 });
    for (const [re, im] of [[0.7, 0.2], [1, 0], [0.3, -0.9]] as const) {
      const constant = new Float64Array(2 * 48 * 40);
      for (let index = 0; index < 48 * 40; index++) {
        constant[2 * index] = re;
        constant[2 * index + 1] = im;
      }
      const analysis = analyseFourierRingCorrelation(constant, truth.data, 48, 40);
      for (const value of analysis.curve.correlation) expect(value).toBeNaN();
      for (const resolution of [analysis.fixed, analysis.halfBit]) {
        expect(resolution.reached).toBe(false);
        expect(resolution.status).toBe("never-above");
        expect(resolution.resolutionPx).toBeNull();
        expect(resolution.frequency).toBeNull();
      }
    }
  });

  it("two independent noise images scatter around 0 with variance 1/(2n) and stay under the half-bit curve", () => {
    const random = new SeededRandom(77);
    const size = 128;
    const a = complexNoise(random, size * size);
    const b = complexNoise(random, size * size);
    // Without apodisation every Fourier coefficient is independent: 2n·FRC² averages 1 over the rings.
    const flat = apodisedFrcCurve(a, b, size, size, undefined, { tukeyAlpha: 0 });
    let sum = 0;
    for (let ring = 1; ring < flat.correlation.length; ring++) sum += 2 * flat.pixelsInRing[ring]! * flat.correlation[ring]! ** 2;
    expect(sum / (flat.correlation.length - 1)).toBeGreaterThan(0.7);
    expect(sum / (flat.correlation.length - 1)).toBeLessThan(1.4);
    const analysis = analyseFourierRingCorrelation(a, b, size, size);
    const above = analysis.curve.correlation.slice(1).filter((value, index) => value >= analysis.curve.halfBitThreshold[index + 1]!).length;
    expect(above).toBeLessThanOrEqual(2);
    expect(analysis.halfBit.reached).toBe(false);
    expect(analysis.halfBit.status).toBe("never-above");
    expect(analysis.fixed.status).toBe("never-above");
  });

  it("crosses 0.5 where the signal power falls to the noise power, and the half-bit curve further out", () => {
    // Both images share a signal with power spectrum P(f) = exp(−f²/2s²) and carry independent white
    // noise of power σ²: the expected FRC is P/(P + σ²), which is 0.5 at f* = s·√(2·ln(1/σ²)).
    const size = 256;
    const s = 0.12;
    const noisePower = 0.2;
    const random = new SeededRandom(5);
    const signal = new Float64Array(2 * size * size);
    const first = new Float64Array(2 * size * size);
    const second = new Float64Array(2 * size * size);
    for (let row = 0; row < size; row++) {
      const fy = (row <= size / 2 ? row : row - size) / size;
      for (let column = 0; column < size; column++) {
        const fx = (column <= size / 2 ? column : column - size) / size;
        const amplitude = Math.sqrt(Math.exp(-(fx * fx + fy * fy) / (2 * s * s)) / 2);
        const index = 2 * (row * size + column);
        signal[index] = amplitude * random.nextNormal();
        signal[index + 1] = amplitude * random.nextNormal();
      }
    }
    const noise = Math.sqrt(noisePower / 2);
    for (let index = 0; index < signal.length; index++) {
      first[index] = signal[index]! + noise * random.nextNormal();
      second[index] = signal[index]! + noise * random.nextNormal();
    }
    const transform = new Fourier2D(size, size);
    transform.inverse(first);
    transform.inverse(second);
    const analysis = analyseFourierRingCorrelation(first, second, size, size);
    const expected = s * Math.sqrt(2 * Math.log(1 / noisePower));
    expect(analysis.fixed.status).toBe("crossed");
    expect(analysis.fixed.frequency!).toBeGreaterThan(expected - 0.02);
    expect(analysis.fixed.frequency!).toBeLessThan(expected + 0.02);
    expect(analysis.fixed.resolutionPx).toBeCloseTo(1 / analysis.fixed.frequency!, 12);
    // Half-bit: solve P/(P + σ²) = T(2πfL) on the expected curve, n ≈ 2π·r pixels per ring.
    let low = 0.01;
    let high = 0.5;
    for (let step = 0; step < 60; step++) {
      const f = (low + high) / 2;
      const power = Math.exp(-(f * f) / (2 * s * s));
      if (power / (power + noisePower) > halfBit(2 * Math.PI * f * size)) low = f;
      else high = f;
    }
    expect(analysis.halfBit.status).toBe("crossed");
    expect(analysis.halfBit.frequency!).toBeGreaterThan(analysis.fixed.frequency!);
    expect(analysis.halfBit.frequency!).toBeGreaterThan(low - 0.02);
    expect(analysis.halfBit.frequency!).toBeLessThan(low + 0.02);
  });

  it("locates a crossing by linear interpolation between the rings around it; an undefined ring counts as 0", () => {
    const curve = (correlation: number[]): FrcCurve => ({
      frequency: correlation.map((_, ring) => ring / 10),
      correlation,
      pixelsInRing: correlation.map((_, ring) => Math.max(1, Math.round(2 * Math.PI * ring))),
      halfBitThreshold: correlation.map((_, ring) => halfBit(Math.max(1, Math.round(2 * Math.PI * ring)))),
    });
    // Margins 0.1 and −0.3 around ring 3: t = 0.25, f = 0.225.
    expect(frcCrossing(curve([1, 0.8, 0.6, 0.2, 0.1]), "0.5")).toEqual({ threshold: "0.5", status: "crossed", reached: true, frequency: 0.225, resolutionPx: 1 / 0.225 });
    // The DC ring is ignored: a curve already below at ring 1 resolves nothing.
    expect(frcCrossing(curve([1, 0.4, 0.9, 0.9]), "0.5")).toMatchObject({ status: "never-above", reached: false, resolutionPx: null });
    // NaN at ring 2 is a drop to 0: margins 0.3, −0.5 give t = 0.375.
    expect(frcCrossing(curve([1, 0.8, Number.NaN, 0.9]), "0.5").frequency).toBeCloseTo(0.1375, 12);
    // Half-bit: T ≈ 0.51, 0.46, 0.42 at rings 2, 3, 4 (n = 13, 19, 25), so 0.5 at ring 3 is still above
    // (0.5 would already have crossed) and the crossing lies between rings 3 and 4.
    const halfBitResult = frcCrossing(curve([1, 0.9, 0.7, 0.5, 0.1]), "half-bit");
    const m3 = 0.5 - halfBit(19);
    const m4 = 0.1 - halfBit(25);
    expect(halfBitResult.frequency).toBeCloseTo(0.3 + (0.1 * m3) / (m3 - m4), 12);
    expect(frcCrossing(curve([1, 0.9, 0.7, 0.5, 0.1]), "0.5").frequency).toBeCloseTo(0.3, 12);
  });

  it("the half-bit threshold and the Tukey window follow their formulas", () => {
    for (const n of [1, 4, 13, 100, 1e4]) expect(halfBitThreshold(n)).toBeCloseTo(halfBit(n), 14);
    expect(halfBitThreshold(1e12)).toBeCloseTo(0.2071 / 1.2071, 5);
    // α = 1 is the (symmetric) Hann window; α = 0 is flat.
    const hann = tukeyWindow(17, 1);
    for (let index = 0; index < 17; index++) expect(hann[index]).toBeCloseTo(0.5 - 0.5 * Math.cos((2 * Math.PI * index) / 16), 14);
    expect([...tukeyWindow(9, 0)]).toEqual(new Array(9).fill(1));
    // α = 0.5 on 21 points: tapers of (α(N−1)/2) = 5 samples, flat in between.
    const tukey = tukeyWindow(21, 0.5);
    expect([...tukey.slice(5, 16)]).toEqual(new Array(11).fill(1));
    expect(tukey[0]).toBe(0);
    expect(tukey[2]).toBeCloseTo(0.5 - 0.5 * Math.cos((Math.PI * 2) / 5), 14);
  });

  it("is symmetric in its arguments and ignores an offset and a positive scale of either image", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        (seed, scale, offsetRe, offsetIm) => {
          const random = new SeededRandom(seed);
          const a = complexNoise(random, 16 * 20);
          const b = Float64Array.from(a, (value) => value + 0.8 * random.nextNormal());
          const base = apodisedFrcCurve(a, b, 16, 20).correlation;
          const swapped = apodisedFrcCurve(b, a, 16, 20).correlation;
          const moved = apodisedFrcCurve(Float64Array.from(a, (value, index) => scale * value + (index % 2 ? offsetIm : offsetRe)), b, 16, 20).correlation;
          for (let ring = 0; ring < base.length; ring++) {
            expect(Math.abs(base[ring]!)).toBeLessThanOrEqual(1 + 1e-12);
            expect(swapped[ring]).toBeCloseTo(base[ring]!, 10);
            expect(moved[ring]).toBeCloseTo(base[ring]!, 8);
          }
        },
      ),
      { numRuns: 40, seed: 12 },
    );
  });

  it("rejects images of different shapes, a region under 4×4 and a Tukey alpha outside [0, 1]", () => {
    const image = new Float64Array(2 * 8 * 8);
    expect(() => apodisedFrcCurve(image, new Float64Array(2 * 8 * 7), 8, 8)).toThrow(expect.objectContaining({ code: "E_METRIC_INPUT" }));
    expect(() => apodisedFrcCurve(new Float64Array(2 * 3 * 8), new Float64Array(2 * 3 * 8), 3, 8)).toThrow(expect.objectContaining({ code: "E_METRIC_REGION_TOO_SMALL" }));
    expect(() => apodisedFrcCurve(image, image, 8, 8, undefined, { tukeyAlpha: 2 })).toThrow(expect.objectContaining({ code: "E_METRIC_INPUT" }));
  });
});

/** numpy's FRC: the same definition written with numpy's FFT, boolean ring masks and np.where tapers. */
const NUMPY_FRC = `
import json, sys
import numpy as np
case = json.load(sys.stdin)
h, w, alpha = case["height"], case["width"], case["alpha"]
def image(values):
    v = np.array(values, dtype=float).reshape(h, w, 2)
    return v[..., 0] + 1j * v[..., 1]
def tukey(n):
    x = np.arange(n, dtype=float)
    taper = alpha * (n - 1) / 2
    d = np.minimum(x, n - 1 - x)
    return np.where(d < taper, 0.5 * (1 - np.cos(np.pi * d / max(taper, 1e-300))), 1.0)
mask = np.array(case["mask"], dtype=float).reshape(h, w)
window = np.outer(tukey(h), tukey(w)) * mask
def prepared(z):
    mean = (z * mask).sum() / mask.sum()
    # A ring with power at rounding level (1e-20 of N times the image's energy) has no correlation.
    return np.fft.fft2((z - mean) * window), 1e-20 * h * w * np.sum(mask * np.abs(z) ** 2)
(A, floorA), (B, floorB) = prepared(image(case["a"])), prepared(image(case["b"]))
side = min(h, w)
fy = np.fft.fftfreq(h)[:, None]
fx = np.fft.fftfreq(w)[None, :]
ring = np.rint(np.sqrt(fx ** 2 + fy ** 2) * side).astype(int)
out = {"correlation": [], "pixels": [], "halfBit": []}
for r in range(side // 2 + 1):
    sel = ring == r
    n = int(sel.sum())
    pa, pb = np.sum(np.abs(A[sel]) ** 2), np.sum(np.abs(B[sel]) ** 2)
    c = np.real(np.sum(A[sel] * np.conj(B[sel]))) / np.sqrt(pa * pb) if pa > floorA and pb > floorB else None
    out["correlation"].append(None if c is None else float(c))
    out["pixels"].append(n)
    out["halfBit"].append(float((0.2071 + 1.9102 / np.sqrt(n)) / (1.2071 + 0.9102 / np.sqrt(n))))
print(json.dumps(out))
`;

describe.skipIf(noNumpy)("apodised FRC against numpy", () => {
  it("matches numpy's curve, ring sizes and half-bit values on masked, non-square regions", () => {
    const random = new SeededRandom(404);
    for (const [height, width, alpha] of [[36, 44, 0.5], [32, 32, 1], [40, 27, 0]] as const) {
      const truth = generateObject({ height, width, seed: height + width });
      const noisy = Float64Array.from(truth.data, (value) => value + 0.15 * random.nextNormal());
      const mask = Uint8Array.from({ length: height * width }, () => (random.nextDouble() < 0.95 ? 1 : 0));
      const curve = apodisedFrcCurve(noisy, truth.data, height, width, mask, { tukeyAlpha: alpha });
      const reference = runPython(NUMPY_FRC, { height, width, alpha, a: [...noisy], b: [...truth.data], mask: [...mask] });
      expect(curve.pixelsInRing).toEqual(reference.pixels);
      expect(curve.correlation.length).toBe(reference.correlation.length);
      curve.correlation.forEach((value, ring) => {
        if (reference.correlation[ring] === null) expect(value).toBeNaN();
        else expect(value).toBeCloseTo(reference.correlation[ring], 10);
      });
      // Without a taper the masked mean removal leaves no DC power: that ring has no value.
      if (alpha === 0) expect(curve.correlation[0]).toBeNaN();
      curve.halfBitThreshold.forEach((value, ring) => expect(value).toBeCloseTo(reference.halfBit[ring], 12));
    }
  });
});
