/**
 * MS-SSIM (and the package's single-scale SSIM) against numpy code written here from Wang, Simoncelli
 * & Bovik (2003) / Wang et al. (2004), plus the properties a reader relies on: identical images score 1,
 * more noise scores lower, anti-correlated structure scores 0, and bad input gets a coded error.
 */
import { spawnSync } from "node:child_process";
import { SeededRandom } from "@studykit/core";
import { describe, expect, it } from "vitest";
import { findPython, pythonDependency, skipWithout } from "../../../../tools/test-dependencies.js";
import { MS_SSIM_WEIGHTS, multiScaleStructuralSimilarity } from "./multiscale-structural-similarity.js";
import { generateObject } from "../procedural-sample.js";
import { structuralSimilarity } from "../reconstruction-metrics.js";

const python = findPython("numpy");
const noNumpy = skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"]));

function runPython(script: string, input: unknown): any {
  const result = spawnSync(python!, ["-c", script], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`python failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

function amplitude(seed: number, height: number, width: number): Float64Array {
  const object = generateObject({ height, width, seed, featureSize: 12 });
  return Float64Array.from({ length: height * width }, (_, index) => Math.hypot(object.data[2 * index]!, object.data[2 * index + 1]!));
}

describe("multi-scale structural similarity", () => {
  it("scores identical images 1 at every scale", () => {
    const image = amplitude(3, 64, 80);
    const result = multiScaleStructuralSimilarity(image, image, 64, 80, 1);
    expect(result.value).toBeCloseTo(1, 12);
    expect(result.contrastStructure).toHaveLength(5);
    for (const value of result.contrastStructure) expect(value).toBeCloseTo(1, 12);
    expect(result.luminance).toBeCloseTo(1, 12);
  });

  it("falls as noise grows and is 0 for anti-correlated structure", () => {
    const image = amplitude(4, 64, 64);
    const random = new SeededRandom(9);
    const noise = Float64Array.from(image, () => random.nextNormal());
    const scores = [0.01, 0.05, 0.2].map((sigma) => multiScaleStructuralSimilarity(image, Float64Array.from(image, (value, index) => value + sigma * noise[index]!), 64, 64, 1).value);
    expect(scores[0]).toBeGreaterThan(scores[1]!);
    expect(scores[1]).toBeGreaterThan(scores[2]!);
    let mean = 0;
    for (const value of image) mean += value / image.length;
    const inverted = Float64Array.from(image, (value) => 2 * mean - value);
    expect(multiScaleStructuralSimilarity(image, inverted, 64, 64, 1).value).toBe(0);
  });

  it("rejects mismatched shapes, a non-positive range and a region too small for five scales", () => {
    const image = new Float64Array(32 * 32);
    expect(() => multiScaleStructuralSimilarity(image, new Float64Array(31 * 32), 32, 32, 1)).toThrow(expect.objectContaining({ code: "E_METRIC_INPUT" }));
    expect(() => multiScaleStructuralSimilarity(image, image, 32, 32, 0)).toThrow(expect.objectContaining({ code: "E_METRIC_INPUT" }));
    expect(() => multiScaleStructuralSimilarity(new Float64Array(15 * 40), new Float64Array(15 * 40), 15, 40, 1)).toThrow(expect.objectContaining({ code: "E_METRIC_REGION_TOO_SMALL" }));
    // Three scales fit in 15 rows.
    expect(multiScaleStructuralSimilarity(new Float64Array(15 * 40), new Float64Array(15 * 40), 15, 40, 1, undefined, { weights: [0.2, 0.3, 0.5] }).value).toBeCloseTo(1, 12);
    // A coverage that vanishes at the coarsest scale.
    const sparse = Uint8Array.from({ length: 32 * 32 }, (_, index) => (index % 2 === 0 ? 1 : 0));
    expect(() => multiScaleStructuralSimilarity(image, image, 32, 32, 1, sparse)).toThrow(expect.objectContaining({ code: "E_METRIC_REGION_TOO_SMALL" }));
  });
});

/**
 * numpy MS-SSIM: Gaussian window as an explicit 2-D outer product applied by summing shifted, edge-padded
 * copies; 2×2 block means by reshaping; mask means with boolean indexing.
 */
const NUMPY_MS_SSIM = `
import json, sys
import numpy as np
case = json.load(sys.stdin)
h, w, L = case["height"], case["width"], case["range"]
x = np.array(case["a"], dtype=float).reshape(h, w)
y = np.array(case["b"], dtype=float).reshape(h, w)
mask = np.array(case["mask"], dtype=bool).reshape(h, w)
weights = case["weights"]
def gauss(radius, sigma):
    t = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma ** 2))
    return t / t.sum()
def filt(img, taps):
    r = (len(taps) - 1) // 2
    k = np.outer(taps, taps)
    p = np.pad(img, r, mode="edge")
    out = np.zeros_like(img)
    for i in range(2 * r + 1):
        for j in range(2 * r + 1):
            out += k[i, j] * p[i:i + img.shape[0], j:j + img.shape[1]]
    return out
if case["presmooth"] > 0:
    s = case["presmooth"]
    pre = gauss(int(np.ceil(4 * s)), s)
    x, y = filt(x, pre), filt(y, pre)
g = gauss(5, 1.5)
c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
cs, lum, ssim = [], None, None
for scale in range(len(weights)):
    mx, my = filt(x, g), filt(y, g)
    vx, vy, cxy = filt(x * x, g) - mx ** 2, filt(y * y, g) - my ** 2, filt(x * y, g) - mx * my
    cs_map = (2 * cxy + c2) / (vx + vy + c2)
    l_map = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
    cs.append(float(cs_map[mask].mean()))
    if scale == 0:
        ssim = float((l_map * cs_map)[mask].mean())
    if scale == len(weights) - 1:
        lum = float(l_map[mask].mean())
        break
    hh, ww = x.shape[0] // 2, x.shape[1] // 2
    block = lambda a: a[:2 * hh, :2 * ww].reshape(hh, 2, ww, 2)
    x, y = block(x).mean(axis=(1, 3)), block(y).mean(axis=(1, 3))
    mask = block(mask).all(axis=(1, 3))
value = max(lum, 0) ** weights[-1] * np.prod([max(c, 0) ** wt for c, wt in zip(cs, weights)])
print(json.dumps({"value": float(value), "cs": cs, "luminance": lum, "ssim": ssim}))
`;

describe.skipIf(noNumpy)("MS-SSIM and SSIM against numpy", () => {
  it("match numpy on masked, odd-sized images, with and without pre-smoothing", () => {
    const random = new SeededRandom(21);
    for (const [height, width, presmooth, noise] of [[64, 80, 0, 0.05], [71, 53, 1, 0.1], [48, 48, 0, 0.3]] as const) {
      const truth = amplitude(height * width, height, width);
      const recon = Float64Array.from(truth, (value) => value + noise * random.nextNormal());
      // A contiguous coverage like a scan's: the bottom rows and a top-left block uncovered.
      const mask = Uint8Array.from({ length: height * width }, (_, index) => {
        const row = Math.floor(index / width);
        return row >= height - 5 || (row < 12 && index % width < 20) ? 0 : 1;
      });
      let min = Infinity;
      let max = -Infinity;
      for (const value of truth) {
        min = Math.min(min, value);
        max = Math.max(max, value);
      }
      const range = max - min;
      const reference = runPython(NUMPY_MS_SSIM, { height, width, range, presmooth, weights: MS_SSIM_WEIGHTS, a: [...recon], b: [...truth], mask: [...mask] });
      const result = multiScaleStructuralSimilarity(recon, truth, height, width, range, mask, { preSmoothingSigma: presmooth });
      expect(result.value).toBeCloseTo(reference.value, 10);
      expect(result.luminance).toBeCloseTo(reference.luminance, 10);
      result.contrastStructure.forEach((value, scale) => expect(value).toBeCloseTo(reference.cs[scale], 10));
      expect(result.value).toBeGreaterThan(0);
      expect(result.value).toBeLessThan(1);
      if (presmooth === 0) expect(structuralSimilarity(recon, truth, height, width, range, mask)).toBeCloseTo(reference.ssim, 10);
    }
  });
});
