/**
 * The overlap constraint and the grouped physics forward model on real ONNX Runtime sessions: whole-pixel
 * translation against a plain shift, the forward model against the ptychography simulator (numpy: exit
 * wave P·O of the object's patch at each rounded position, |FFT2|²/N², fftshift) and, at sub-pixel
 * offsets, against a numpy bilinear splat-and-sample canvas written independently of the graph's
 * translation matrices; and, on noiseless data, the true patches as the loss's minimum with a zero gradient.
 */
import { spawnSync } from "node:child_process";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { findPython, pythonDependency, skipWithout } from "../../../../../../tools/test-dependencies.js";
import type { PhysicsLoss } from "../../training-engine.js";
import { appendGradients } from "./autodiff.js";
import { GraphBuilder } from "./graph-builder.js";
import { applyOverlapConstraint, groupTranslations, translateToCanvas } from "./overlap-constraint.js";
import { physicsIntensity, physicsObjective } from "./training-graph.js";

const python = findPython("numpy");

/** Runs a float32 graph once; returns the named outputs. */
async function run(b: GraphBuilder, feeds: Record<string, { data: Float32Array; shape: number[] }>, outputs: string[]): Promise<Record<string, Float32Array>> {
  for (const name of outputs) b.addOutput(name);
  const session = await ort.InferenceSession.create(b.toModelBytes(), { intraOpNumThreads: 1 });
  try {
    const result = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor("float32", v.data, v.shape)])));
    return Object.fromEntries(outputs.map((name) => [name, result[name]!.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** A complex test problem: a smooth random object, a probe, and groups of four scan positions. */
interface Problem {
  readonly size: number;
  readonly objectSize: number;
  /** Interleaved complex, objectSize². */
  readonly object: Float64Array;
  /** Interleaved complex, size². */
  readonly probe: Float64Array;
  /** Per group, four (x, y) scan positions (patch centres, object pixels). */
  readonly groups: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  readonly scale: number;
}

function makeProblem(seed: number, size: number, subpixel: boolean): Problem {
  const prng = SeededRandom.derive(seed, "overlap-problem");
  const objectSize = size + 10;
  const object = new Float64Array(2 * objectSize * objectSize);
  const [fx, fy, gx, gy] = [0.3, 0.21, 0.17, 0.4].map((f) => f * (0.7 + 0.6 * prng.nextDouble()));
  for (let r = 0; r < objectSize; r++)
    for (let c = 0; c < objectSize; c++) {
      const amplitude = 0.6 + 0.3 * Math.sin(fx! * c + fy! * r);
      const phase = 0.8 * Math.cos(gx! * c - gy! * r);
      object[2 * (r * objectSize + c)] = amplitude * Math.cos(phase);
      object[2 * (r * objectSize + c) + 1] = amplitude * Math.sin(phase);
    }
  const probe = new Float64Array(2 * size * size);
  const centre = (size - 1) / 2;
  for (let r = 0; r < size; r++)
    for (let c = 0; c < size; c++) {
      const radius2 = ((r - centre) ** 2 + (c - centre) ** 2) / (size * size);
      probe[2 * (r * size + c)] = Math.exp(-6 * radius2) * (1 + 0.2 * prng.nextDouble());
      probe[2 * (r * size + c) + 1] = 0.3 * Math.exp(-6 * radius2) * (prng.nextDouble() - 0.5);
    }
  const half = Math.floor(size / 2);
  const groups: Array<Array<[number, number]>> = [];
  for (let g = 0; g < 3; g++) {
    const members: Array<[number, number]> = [];
    for (let k = 0; k < 4; k++) {
      // Centres within 4 pixels of each other (so every pair of patches overlaps), the patch inside the object.
      const at = (): number => half + 2 + prng.nextInt(5) + (subpixel ? prng.nextDouble() - 0.5 : 0);
      members.push([at(), at()]);
    }
    groups.push(members);
  }
  return { size, objectSize, object, probe, groups, scale: 500 };
}

/** Offsets of a group's members from its rounded centroid, `[groups, 4, 2]` (x, y). */
function offsetsOf(problem: Problem): Float32Array {
  const out: number[] = [];
  for (const members of problem.groups) {
    const cx = Math.round(members.reduce((s, m) => s + m[0], 0) / members.length);
    const cy = Math.round(members.reduce((s, m) => s + m[1], 0) / members.length);
    for (const [x, y] of members) out.push(x - cx, y - cy);
  }
  return Float32Array.from(out);
}

/** The object's N×N patch at each member's rounded position (the simulator's patch), NCHW real and imaginary parts. */
function truePatches(problem: Problem): { real: Float32Array; imag: Float32Array } {
  const { size, objectSize, object, groups } = problem;
  const half = Math.floor(size / 2);
  const real = new Float32Array(groups.length * 4 * size * size);
  const imag = new Float32Array(real.length);
  groups.forEach((members, g) =>
    members.forEach(([x, y], k) => {
      const top = Math.round(y) - half;
      const left = Math.round(x) - half;
      for (let r = 0; r < size; r++)
        for (let c = 0; c < size; c++) {
          const at = ((g * 4 + k) * size + r) * size + c;
          real[at] = object[2 * ((top + r) * objectSize + left + c)]!;
          imag[at] = object[2 * ((top + r) * objectSize + left + c) + 1]!;
        }
    }),
  );
  return { real, imag };
}

function physicsLossOf(problem: Problem, padding: number): PhysicsLoss {
  const { size, probe } = problem;
  return {
    kind: "physics",
    objective: "poissonNll",
    probe: { height: size, width: size, real: Float32Array.from({ length: size * size }, (_, i) => probe[2 * i]!), imag: Float32Array.from({ length: size * size }, (_, i) => probe[2 * i + 1]!) },
    intensityScale: problem.scale,
    fftshift: true,
    overlap: { canvasPadding: padding },
  };
}

/** The grouped forward model as a graph: patches and offsets in, intensity (and, with `x`, the loss and its gradients) out. */
async function forwardModel(
  problem: Problem,
  padding: number,
  patches: { real: Float32Array; imag: Float32Array },
  offsets: Float32Array,
  measured?: Float32Array,
): Promise<{ intensity: Float32Array; loss?: number; gradReal?: Float32Array; gradImag?: Float32Array }> {
  const { size } = problem;
  const count = problem.groups.length;
  const loss = physicsLossOf(problem, padding);
  const b = new GraphBuilder("forward", "float32");
  const shape = [count, 4, size, size];
  const real = b.addInput("real", "float32", shape);
  const imag = b.addInput("imag", "float32", shape);
  const off = b.addInput("offsets", "float32", [count, 4, 2]);
  const object = applyOverlapConstraint(b, real, imag, off, { size, padding });
  const intensity = b.op("Identity", [physicsIntensity(b, loss, object.real, object.imag, size, size)], {}, "intensity");
  const feeds: Record<string, { data: Float32Array; shape: number[] }> = { real: { data: patches.real, shape }, imag: { data: patches.imag, shape }, offsets: { data: offsets, shape: [count, 4, 2] } };
  if (!measured) return { intensity: (await run(b, feeds, [intensity])).intensity! };
  const x = b.addInput("x", "float32", shape);
  const value = b.op("Identity", [physicsObjective(b, loss, intensity, x)], {}, "loss");
  const grads = appendGradients(b, value, [real, imag]);
  b.op("Identity", [grads.get(real)!], {}, "grad_real");
  b.op("Identity", [grads.get(imag)!], {}, "grad_imag");
  const out = await run(b, { ...feeds, x: { data: measured, shape } }, ["intensity", "loss", "grad_real", "grad_imag"]);
  return { intensity: out.intensity!, loss: out.loss![0]!, gradReal: out.grad_real!, gradImag: out.grad_imag! };
}

/**
 * numpy: `simulator` — amplitudes √(fftshift(|FFT2(P·O[patch])|²)/N²) at each rounded position (Phase C's
 * forward model); `bilinear` — the sub-pixel canvas model, each patch splatted onto the canvas with
 * bilinear weights (4 neighbours per pixel), divided by the splatted ones, sampled back bilinearly, times
 * the probe, scale·|fftshift(FFT2)|²/N².
 */
const NUMPY_REFERENCE = String.raw`
import json, sys
import numpy as np
p = json.load(sys.stdin)
N = p["size"]; S = p["objectSize"]; pad = p["padding"]
obj = np.array(p["object"]).reshape(S, S, 2); obj = obj[..., 0] + 1j * obj[..., 1]
probe = np.array(p["probe"]).reshape(N, N, 2); probe = probe[..., 0] + 1j * probe[..., 1]
out = {"simulator": [], "bilinear": []}
def intensity(patch):
    f = np.fft.fftshift(np.fft.fft2(probe * patch))
    return np.abs(f) ** 2 / (N * N)
for members in p["groups"]:
    xs = np.array([m[0] for m in members]); ys = np.array([m[1] for m in members])
    for x, y in members:
        top = int(np.floor(y + 0.5)) - N // 2; left = int(np.floor(x + 0.5)) - N // 2
        out["simulator"].extend(np.sqrt(intensity(obj[top:top + N, left:left + N])).ravel().tolist())
    M = N + 2 * pad
    cx = np.floor(xs.mean() + 0.5); cy = np.floor(ys.mean() + 0.5)
    canvas = np.zeros((M, M), complex); weight = np.zeros((M, M))
    patches = []
    for x, y in members:
        top = int(np.floor(y + 0.5)) - N // 2; left = int(np.floor(x + 0.5)) - N // 2
        patch = obj[top:top + N, left:left + N]
        patches.append(patch)
        dx = x - cx; dy = y - cy
        for j in range(N):
            for k in range(N):
                ty = j + pad + dy; tx = k + pad + dx
                y0 = int(np.floor(ty)); x0 = int(np.floor(tx)); fy = ty - y0; fx = tx - x0
                for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
                    for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
                        if 0 <= yy < M and 0 <= xx < M and wy * wx > 0:
                            canvas[yy, xx] += wy * wx * patch[j, k]; weight[yy, xx] += wy * wx
    average = canvas / np.maximum(weight, 1e-3)
    padded = np.zeros((M + 1, M + 1), complex); padded[:M, :M] = average
    for x, y in members:
        dx = x - cx; dy = y - cy
        cut = np.zeros((N, N), complex)
        for j in range(N):
            for k in range(N):
                ty = j + pad + dy; tx = k + pad + dx
                y0 = int(np.floor(ty)); x0 = int(np.floor(tx)); fy = ty - y0; fx = tx - x0
                cut[j, k] = ((1 - fy) * (1 - fx) * padded[y0, x0] + (1 - fy) * fx * padded[y0, x0 + 1]
                             + fy * (1 - fx) * padded[y0 + 1, x0] + fy * fx * padded[y0 + 1, x0 + 1])
        out["bilinear"].extend((p["scale"] * intensity(cut)).ravel().tolist())
json.dump(out, sys.stdout)
`;

function numpyReference(problem: Problem, padding: number): { simulator: number[]; bilinear: number[] } {
  const input = JSON.stringify({ ...problem, object: Array.from(problem.object), probe: Array.from(problem.probe), padding });
  const result = spawnSync(python!, ["-c", NUMPY_REFERENCE], { input, encoding: "utf8", maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`numpy reference failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { simulator: number[]; bilinear: number[] };
}

/** max |a − b| over max |b|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let error = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    error = Math.max(error, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return error / scale;
}

describe("overlap constraint (bilinear translation onto a shared canvas)", () => {
  it("translates by whole-pixel offsets exactly as a plain shift into the padded canvas", async () => {
    const [count, channels, size, padding] = [2, 3, 5, 3];
    const canvas = size + 2 * padding;
    const prng = SeededRandom.derive(1, "shift");
    const patches = Float32Array.from({ length: count * channels * size * size }, () => prng.nextDouble() * 2 - 1);
    const offsets = Float32Array.from({ length: count * channels * 2 }, () => prng.nextInt(2 * padding + 1) - padding);
    const b = new GraphBuilder("shift", "float32");
    const input = b.addInput("patches", "float32", [count, channels, size, size]);
    const off = b.addInput("offsets", "float32", [count, channels, 2]);
    const out = b.op("Identity", [translateToCanvas(b, input, groupTranslations(b, off, { size, padding }))], {}, "canvas");
    const { canvas: shifted } = await run(b, { patches: { data: patches, shape: [count, channels, size, size] }, offsets: { data: offsets, shape: [count, channels, 2] } }, [out]);
    const expected = new Float32Array(count * channels * canvas * canvas);
    for (let n = 0; n < count * channels; n++) {
      const [dx, dy] = [offsets[2 * n]!, offsets[2 * n + 1]!];
      for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) expected[(n * canvas + r + padding + dy) * canvas + c + padding + dx] = patches[(n * size + r) * size + c]!;
    }
    expect(Array.from(shifted!)).toEqual(Array.from(expected));
  });

  it("moves a patch by a fractional offset with bilinear weights (a pixel split between its two neighbours)", async () => {
    const [size, padding] = [3, 2];
    const b = new GraphBuilder("fraction", "float32");
    const input = b.addInput("patches", "float32", [1, 1, size, size]);
    const off = b.addInput("offsets", "float32", [1, 1, 2]);
    const out = b.op("Identity", [translateToCanvas(b, input, groupTranslations(b, off, { size, padding }))], {}, "canvas");
    // One bright pixel at (row 1, column 1), moved by x = +0.25, y = −1.5.
    const patch = new Float32Array(9);
    patch[4] = 1;
    const { canvas } = await run(b, { patches: { data: patch, shape: [1, 1, size, size] }, offsets: { data: Float32Array.of(0.25, -1.5), shape: [1, 1, 2] } }, [out]);
    const m = size + 2 * padding;
    // Lands at row 1 + 2 − 1.5 = 1.5 (rows 1 and 2, half each) and column 1 + 2 + 0.25 = 3.25 (columns 3 and 4: 0.75, 0.25).
    const expected = new Float32Array(m * m);
    for (const [r, wr] of [[1, 0.5], [2, 0.5]] as const) for (const [c, wc] of [[3, 0.75], [4, 0.25]] as const) expected[r * m + c] = wr * wc;
    expect(Array.from(canvas!)).toEqual(Array.from(expected));
  });

  it("cuts patches of one object back out unchanged at whole-pixel offsets (they already agree where they overlap)", async () => {
    const problem = makeProblem(3, 8, false);
    const patches = truePatches(problem);
    const count = problem.groups.length;
    /** The constraint alone: patches in, the patches cut back out of the averaged canvas. */
    const cutBackOut = async (input: { real: Float32Array; imag: Float32Array }) => {
      const b = new GraphBuilder("roundtrip", "float32");
      const shape = [count, 4, 8, 8];
      const cut = applyOverlapConstraint(b, b.addInput("real", "float32", shape), b.addInput("imag", "float32", shape), b.addInput("offsets", "float32", [count, 4, 2]), { size: 8, padding: 6 });
      b.op("Identity", [cut.real], {}, "out_real");
      b.op("Identity", [cut.imag], {}, "out_imag");
      return run(b, { real: { data: input.real, shape }, imag: { data: input.imag, shape }, offsets: { data: offsetsOf(problem), shape: [count, 4, 2] } }, ["out_real", "out_imag"]);
    };
    const out = await cutBackOut(patches);
    expect(relativeError(out.out_real!, patches.real)).toBeLessThan(1e-6);
    expect(relativeError(out.out_imag!, patches.imag)).toBeLessThan(1e-6);
    // A first patch that disagrees with the others changes the second where they overlap (every pair
    // overlaps): the constraint is not the identity.
    const changed = await cutBackOut({ real: patches.real.map((v, i) => (i < 64 ? v + 0.5 : v)), imag: patches.imag });
    expect(relativeError(changed.out_real!.subarray(64, 128), patches.real.subarray(64, 128))).toBeGreaterThan(1e-2);
  });
});

describe("overlap constraint weighted by the probe intensity", () => {
  it("averages each canvas pixel as Σ W·patch / Σ W over the patches covering it (whole-pixel offsets, direct sums)", async () => {
    const [count, channels, size, padding] = [2, 4, 6, 3];
    const m = size + 2 * padding;
    const prng = SeededRandom.derive(4, "weighted");
    const real = Float32Array.from({ length: count * channels * size * size }, () => prng.nextDouble() * 2 - 1);
    const imag = Float32Array.from({ length: count * channels * size * size }, () => prng.nextDouble() * 2 - 1);
    const offsets = Float32Array.from({ length: count * channels * 2 }, () => prng.nextInt(2 * padding + 1) - padding);
    // A centre-heavy weight with a few zeros, as |P|²/max|P|² of a probe would be.
    const weight = Float32Array.from({ length: size * size }, (_, k) => {
      const [r, c] = [Math.floor(k / size) - 2.5, (k % size) - 2.5];
      return k % 7 === 0 ? 0 : Math.exp(-(r * r + c * c) / 4);
    });
    const b = new GraphBuilder("weighted", "float32");
    const shape = [count, channels, size, size];
    const cut = applyOverlapConstraint(b, b.addInput("real", "float32", shape), b.addInput("imag", "float32", shape), b.addInput("offsets", "float32", [count, channels, 2]), { size, padding, weight });
    b.op("Identity", [cut.real], {}, "out_real");
    b.op("Identity", [cut.imag], {}, "out_imag");
    const out = await run(b, { real: { data: real, shape }, imag: { data: imag, shape }, offsets: { data: offsets, shape: [count, channels, 2] } }, ["out_real", "out_imag"]);
    for (const [part, got] of [[real, out.out_real!], [imag, out.out_imag!]] as const) {
      const expected = new Float32Array(part.length);
      for (let n = 0; n < count; n++) {
        const numerator = new Float64Array(m * m);
        const denominator = new Float64Array(m * m);
        for (let ch = 0; ch < channels; ch++) {
          const [dx, dy] = [offsets[2 * (n * channels + ch)]!, offsets[2 * (n * channels + ch) + 1]!];
          for (let r = 0; r < size; r++)
            for (let c = 0; c < size; c++) {
              const at = (r + padding + dy) * m + c + padding + dx;
              numerator[at]! += weight[r * size + c]! * part[((n * channels + ch) * size + r) * size + c]!;
              denominator[at]! += weight[r * size + c]!;
            }
        }
        for (let ch = 0; ch < channels; ch++) {
          const [dx, dy] = [offsets[2 * (n * channels + ch)]!, offsets[2 * (n * channels + ch) + 1]!];
          for (let r = 0; r < size; r++)
            for (let c = 0; c < size; c++) {
              const at = (r + padding + dy) * m + c + padding + dx;
              expected[((n * channels + ch) * size + r) * size + c] = numerator[at]! / Math.max(denominator[at]!, 1e-3);
            }
        }
      }
      expect(relativeError(got, expected)).toBeLessThan(1e-5);
    }
  });

  it("lets the illuminated patch decide where an unilluminated border overlaps it, unlike the uniform average", async () => {
    // Two 8×8 patches 4 pixels apart in x; the first is right, the second wrong everywhere. With
    // weights |P|² of a centred spot, the first patch's centre is almost unchanged; with uniform
    // weights it is the mean of the two.
    const size = 8;
    const weight = Float32Array.from({ length: size * size }, (_, k) => Math.exp(-(((Math.floor(k / size) - 3.5) ** 2 + ((k % size) - 3.5) ** 2) / 2)));
    const shape = [1, 2, size, size];
    const real = Float32Array.from({ length: 2 * size * size }, (_, k) => (k < size * size ? 1 : -1));
    const offsets = Float32Array.of(-2, 0, 2, 0);
    const centreOfFirst = async (geometryWeight?: Float32Array) => {
      const b = new GraphBuilder("decide", "float32");
      const cut = applyOverlapConstraint(b, b.addInput("real", "float32", shape), b.addInput("imag", "float32", shape), b.addInput("offsets", "float32", [1, 2, 2]), { size, padding: 2, ...(geometryWeight ? { weight: geometryWeight } : {}) });
      b.op("Identity", [cut.real], {}, "out");
      const out = await run(b, { real: { data: real, shape }, imag: { data: new Float32Array(real.length), shape }, offsets: { data: offsets, shape: [1, 2, 2] } }, ["out"]);
      // Row 3, column 5 of the first patch (weight e^(−1.25)) lies on column 1 of the second, its border
      // (weight e^(−3.25)).
      return out.out![3 * size + 5]!;
    };
    expect(await centreOfFirst()).toBeCloseTo(0, 6);
    expect(await centreOfFirst(weight)).toBeGreaterThan(0.6);
  });
});

describe.skipIf(skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"])))("grouped physics forward model against numpy", () => {
  it("reproduces the simulator's amplitudes for the true patches at whole-pixel positions", async () => {
    const problem = makeProblem(5, 16, false);
    const reference = numpyReference(problem, 8);
    const { intensity } = await forwardModel(problem, 8, truePatches(problem), offsetsOf(problem));
    // The graph's intensity is scale·|F|²: the simulator's amplitude² times the scale.
    const expected = reference.simulator.map((a) => problem.scale * a * a);
    expect(relativeError(intensity, expected)).toBeLessThan(2e-6);
    // And the bilinear model agrees with the simulator at whole pixels.
    expect(relativeError(reference.bilinear, expected)).toBeLessThan(1e-12);
  });

  it("matches a bilinear splat-and-sample canvas at sub-pixel offsets", async () => {
    const problem = makeProblem(9, 8, true);
    const reference = numpyReference(problem, 6);
    const { intensity } = await forwardModel(problem, 6, truePatches(problem), offsetsOf(problem));
    expect(relativeError(intensity, reference.bilinear)).toBeLessThan(2e-6);
    // Sub-pixel offsets do change the result (the test would not pass with whole-pixel rounding).
    expect(relativeError(intensity, reference.simulator.map((a) => problem.scale * a * a))).toBeGreaterThan(1e-3);
  });

  it("puts the loss's minimum at the true patches of noiseless data, with a zero gradient there", async () => {
    const problem = makeProblem(11, 8, false);
    const reference = numpyReference(problem, 4);
    const measured = Float32Array.from(reference.simulator, (a) => Math.sqrt(problem.scale) * a);
    const truth = truePatches(problem);
    const offsets = offsetsOf(problem);
    const atTruth = await forwardModel(problem, 4, truth, offsets, measured);
    const prng = SeededRandom.derive(2, "perturb");
    let largestAway = 0;
    for (let k = 0; k < 4; k++) {
      const step = 0.02 * (k + 1);
      const moved = { real: truth.real.map((v) => v + step * (prng.nextDouble() * 2 - 1)), imag: truth.imag.map((v) => v + step * (prng.nextDouble() * 2 - 1)) };
      const away = await forwardModel(problem, 4, moved, offsets, measured);
      expect(away.loss!, `loss after a random step of ${step}`).toBeGreaterThan(atTruth.loss!);
      largestAway = Math.max(largestAway, ...Array.from(away.gradReal!, Math.abs));
    }
    const largestAtTruth = Math.max(...Array.from(atTruth.gradReal!, Math.abs), ...Array.from(atTruth.gradImag!, Math.abs));
    expect(largestAtTruth).toBeLessThan(1e-3 * largestAway);
  });
});
