/**
 * Every gradient rule (the standard ops' GRADIENT_RULES and the blocked ops' NCHWC_RULES) against central
 * finite differences, on real ONNX Runtime sessions. Each case builds a small graph, takes
 * loss = Σ f(inputs) ⊙ R for a fixed random R, and compares, along coordinate and random directions d,
 * the autodiff prediction g · (x⁺ − x⁻) with loss(x⁺) − loss(x⁻) for x± = x ± εd (the actual, rounded
 * perturbation, and the loss summed in float64 from the graph's output).
 *
 * Graphs run in float64 where ORT's CPU kernels have the op in double (step 1e-6, tolerance 1e-6). Conv,
 * Resize and the blocked ops exist only in float32: where the output is linear in each input (perturbed
 * one at a time) any step is exact, so those take a step of 0.5, which leaves float32 rounding far below
 * the tolerance; kinked ones (ReLU, pooling) get inputs that keep every kink farther away than their step
 * (0.04) reaches, so they are linear over it too; smooth activations take 4e-3. Tolerance 1e-3 in float32,
 * plus an allowance for the output's rounding. Either way a gradient 1% off fails every case (checked
 * below), and a rule without a case fails the coverage test.
 */
import * as ort from "onnxruntime-node";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { nchwcBlockSize } from "../provider-check.js";
import { appendGradients, type FilterGradientStrategy, GRADIENT_RULES } from "./autodiff.js";
import { type FloatDType, GraphBuilder, NCHWC_DOMAIN, product } from "./graph-builder.js";
import { applyOverlapConstraint } from "./overlap-constraint.js";
import { blockedConv, blockedMaxPool, blockedUpsample, NCHWC_RULES, narrowConv, reorderInput, reorderOutput } from "./nchwc.js";

interface Case {
  readonly name: string;
  readonly inputs: Record<string, number[]>;
  readonly build: (b: GraphBuilder, x: Record<string, string>) => string;
  /** Inputs held positive (log, sqrt, pow, division, reciprocal). */
  readonly positive?: readonly string[];
  readonly dtype?: FloatDType;
  readonly filterGradient?: FilterGradientStrategy;
  /** The output is linear in each input on its own (float32 cases then take a large, exact step). */
  readonly linear?: boolean;
  /** Built from ORT's blocked (NCHWc) ops, with the builder's block size set. */
  readonly blocked?: boolean;
  /**
   * Kinked float32 cases (ReLU, pooling): inputs made so that every pre-activation and every pooling
   * window's lead stays farther from its kink than `step` can move it, so the output is linear between
   * x⁻ and x⁺ and the difference exact up to rounding.
   */
  readonly values?: Readonly<Record<string, (prng: SeededRandom, shape: readonly number[]) => number[]>>;
  readonly step?: number;
}

/** Relative tolerance on loss(x⁺) − loss(x⁻) against the autodiff prediction. */
const TOLERANCE = { float64: 1e-6, float32: 1e-3 } as const;
/** Step along a direction: float64; float32 where the output is linear in the input; other float32. */
const STEP = { float64: 1e-6, linear: 0.5, float32: 4e-3 } as const;
/**
 * Allowance for float32 rounding of the output, in units of 2⁻²⁴·Σ|R ⊙ out| over both evaluations (each
 * output value is rounded once and carries the rounding of the sums inside it).
 */
const ROUNDING_UNITS = 16;

interface Probe {
  readonly input: string;
  /** loss(x⁺) − loss(x⁻). */
  readonly numeric: number;
  /** g · (x⁺ − x⁻) from the autodiff gradient g. */
  readonly analytic: number;
  /** The largest |numeric − analytic| the check allows. */
  readonly allowed: number;
}

interface Measured {
  /** The forward graph's ops, as `domain.op` for blocked ones: the rules the case exercises. */
  readonly ops: ReadonlySet<string>;
  readonly probes: readonly Probe[];
}

async function measure(c: Case, seed: number, block: number): Promise<Measured> {
  const dtype = c.dtype ?? "float64";
  const prng = SeededRandom.derive(seed, c.name);
  const b = new GraphBuilder("gradcheck", dtype);
  if (c.blocked) b.nchwcBlock = block;
  const names: Record<string, string> = {};
  for (const [name, shape] of Object.entries(c.inputs)) names[name] = b.addInput(name, dtype, shape);
  const out = c.build(b, names);
  const ops = new Set(b.nodes.map((n) => (n.domain === "" ? n.opType : `${n.domain}.${n.opType}`)));
  const round = dtype === "float32" ? Math.fround : (v: number) => v;
  const weights = Array.from({ length: product(b.shape(out)) }, () => round(prng.nextDouble() * 2 - 1));
  const loss = b.op("ReduceSum", [b.op("Mul", [out, b.constFloat(weights, b.shape(out))])], { keepdims: 0 }, "loss");
  b.addOutput(out);
  const grads = appendGradients(b, loss, Object.values(names), c.filterGradient ? { filterGradient: c.filterGradient } : {});
  for (const [name, g] of grads) b.addOutput(b.op("Identity", [g], {}, `grad_${name}`));
  const session = await ort.InferenceSession.create(b.toModelBytes(), { intraOpNumThreads: 1, graphOptimizationLevel: "disabled" });
  try {
    /** `values` in the graph's float type (rounded to float32 there). */
    const typed = (values: ArrayLike<number>): Float64Array | Float32Array => (dtype === "float64" ? Float64Array.from(values) : Float32Array.from(values));
    const values: Record<string, Float64Array | Float32Array> = {};
    for (const [name, shape] of Object.entries(c.inputs)) {
      const made = c.values?.[name];
      if (made) {
        values[name] = typed(made(prng, shape));
        continue;
      }
      values[name] = typed(
        Array.from({ length: product(shape) }, () => {
          const v = prng.nextDouble() * 2 - 1;
          // Keep away from kinks (|x| small) and from zero for positive-only inputs.
          return c.positive?.includes(name) ? 0.5 + Math.abs(v) : Math.sign(v) * (0.1 + Math.abs(v));
        }),
      );
    }
    const feeds = (override?: [string, Float64Array | Float32Array]): Record<string, ort.Tensor> =>
      Object.fromEntries(Object.entries(c.inputs).map(([name, shape]) => [name, new ort.Tensor(dtype, override?.[0] === name ? override[1] : values[name]!, shape)]));
    const result = await session.run(feeds());
    /** The loss summed in float64 from the output, and Σ|R ⊙ out| (the scale of its rounding). */
    const lossAt = async (name: string, v: Float64Array | Float32Array): Promise<{ loss: number; magnitude: number }> => {
      const y = (await session.run(feeds([name, v]), [out]))[out]!.data as Float64Array | Float32Array;
      let sum = 0;
      let magnitude = 0;
      y.forEach((value, i) => {
        sum += weights[i]! * value;
        magnitude += Math.abs(weights[i]! * value);
      });
      return { loss: sum, magnitude };
    };
    const eps = c.step ?? (dtype === "float64" ? STEP.float64 : c.linear ? STEP.linear : STEP.float32);
    const unit = dtype === "float64" ? 2 ** -53 : 2 ** -24;
    const probes: Probe[] = [];
    for (const name of Object.keys(c.inputs)) {
      const grad = result[`grad_${name}`]!.data as Float64Array | Float32Array;
      expect(grad.length, `${c.name}: gradient of ${name}`).toBe(values[name]!.length);
      const x = values[name]!;
      const directions: Array<Float64Array> = [];
      const coords = Math.min(x.length, 8);
      for (let k = 0; k < coords; k++) {
        const d = new Float64Array(x.length);
        d[x.length <= 8 ? k : prng.nextInt(x.length)] = 1;
        directions.push(d);
      }
      for (let k = 0; k < 2; k++) directions.push(Float64Array.from({ length: x.length }, () => prng.nextDouble() * 2 - 1));
      for (const d of directions) {
        const plus = typed(Array.from(x, (v, i) => v + eps * d[i]!));
        const minus = typed(Array.from(x, (v, i) => v - eps * d[i]!));
        const [up, down] = [await lossAt(name, plus), await lossAt(name, minus)];
        const numeric = up.loss - down.loss;
        let analytic = 0;
        for (let i = 0; i < plus.length; i++) analytic += grad[i]! * (plus[i]! - minus[i]!);
        probes.push({ input: name, numeric, analytic, allowed: TOLERANCE[dtype] * Math.abs(numeric) + ROUNDING_UNITS * unit * (up.magnitude + down.magnitude) });
      }
    }
    return { ops, probes };
  } finally {
    await session.release();
  }
}

const ew = (op: string) => (b: GraphBuilder, x: Record<string, string>) => b.op(op, [x.a!, x.b!]);
const un = (op: string, attrs = {}) => (b: GraphBuilder, x: Record<string, string>) => b.op(op, [x.a!], attrs);

const same3x3 = { kernel: [3, 3], pads: [1, 1, 1, 1] } as const;
/** Step of the kinked blocked cases: smaller than every margin their inputs keep (see each generator). */
const KINKED_STEP = 0.04;
/** Inputs in [lo, hi). */
const uniform = (lo: number, hi: number) => (prng: SeededRandom, shape: readonly number[]) => Array.from({ length: product(shape) }, () => lo + (hi - lo) * prng.nextDouble());
/**
 * OIHW filters whose taps share one sign per filter, alternating (+, −, +, …), magnitudes in [0.5, 1): on
 * positive inputs every pre-activation is ≥ 0.25 per tap in magnitude, far from ReLU's kink.
 */
const signedFilters = (prng: SeededRandom, shape: readonly number[]) => {
  const perFilter = product(shape.slice(1));
  return Array.from({ length: product(shape) }, (_, i) => (Math.floor(i / perFilter) % 2 === 0 ? 1 : -1) * (0.5 + 0.5 * prng.nextDouble()));
};
/**
 * NCHW images in [1, 1.5) whose every 2×2 pooling window has one pixel raised 1 above the window's others
 * (at a random place): no step can change a window's maximum.
 */
const leadingWindows = (prng: SeededRandom, shape: readonly number[]) => {
  const [n, c, h, w] = shape as [number, number, number, number];
  const x = uniform(1, 1.5)(prng, shape);
  for (let plane = 0; plane < n * c; plane++)
    for (let i = 0; i < h; i += 2)
      for (let j = 0; j < w; j += 2) {
        const k = prng.nextInt(4);
        x[(plane * h + i + (k >> 1)) * w + j + (k & 1)]! += 1;
      }
  return x;
};
/** Blocked graphs (float32): NCHW inputs are laid out blocked, and the result back to NCHW for the loss. */
const BLOCKED_GRAPHS: Array<Omit<Case, "dtype" | "blocked">> = [
  {
    // Pre-activations ≥ 4 taps · 0.25 − 0.1 from zero (a corner has 4 taps); a step moves them < 0.5.
    name: "blocked Conv from an NCHW input (1 channel, 6 filters), bias, fused ReLU",
    inputs: { a: [2, 1, 5, 6], b: [6, 1, 3, 3], c: [6] },
    values: { a: uniform(0.5, 1), b: signedFilters, c: uniform(-0.1, 0.1) },
    step: KINKED_STEP,
    build: (b, x) => reorderOutput(b, blockedConv(b, x.a!, x.b!, x.c!, same3x3, "relu", 0), 6),
  },
  {
    // 1×1 taps over 4 channels (padded to the block): pre-activations ≥ 4 · 0.25 − 0.1 from zero; a step
    // moves them < 0.4.
    name: "blocked Conv 1×1 from a blocked input (4 → 5 channels), bias, fused leakyRelu",
    inputs: { a: [2, 4, 4, 5], b: [5, 4, 1, 1], c: [5] },
    values: { a: uniform(0.5, 1), b: signedFilters, c: uniform(-0.1, 0.1) },
    step: KINKED_STEP,
    build: (b, x) => reorderOutput(b, blockedConv(b, reorderInput(b, x.a!), x.b!, x.c!, { kernel: [1, 1], pads: [0, 0, 0, 0] }, "leakyRelu", 0.2), 5),
  },
  // Smooth activations: small filters keep them off their flat tails.
  ...(["sigmoid", "tanh"] as const).map(
    (activation): Omit<Case, "dtype" | "blocked"> => ({
      name: `blocked Conv from a blocked input (8 → 5 channels), bias, fused ${activation}`,
      inputs: { a: [2, 8, 4, 5], b: [5, 8, 3, 3], c: [5] },
      values: { b: uniform(-0.3, 0.3) },
      build: (b, x) => reorderOutput(b, blockedConv(b, reorderInput(b, x.a!), x.b!, x.c!, same3x3, activation, 0), 5),
    }),
  ),
  {
    name: "blocked Conv from a blocked input, no activation, no bias",
    linear: true,
    inputs: { a: [2, 4, 5, 4], b: [9, 4, 3, 3] },
    build: (b, x) => reorderOutput(b, blockedConv(b, reorderInput(b, x.a!), x.b!, undefined, same3x3, "linear", 0), 9),
  },
  // Over 512 pixels per image: the filter gradient goes by image chunks instead of one folded MatMul.
  {
    name: "blocked Conv, 24×24 images from a blocked input, bias (chunked filter gradient)",
    linear: true,
    inputs: { a: [2, 8, 24, 24], b: [3, 8, 3, 3], c: [3] },
    build: (b, x) => reorderOutput(b, blockedConv(b, reorderInput(b, x.a!), x.b!, x.c!, same3x3, "linear", 0), 3),
  },
  {
    name: "blocked Conv, 24×24 images from an NCHW input, bias (chunked filter gradient)",
    linear: true,
    inputs: { a: [2, 1, 24, 24], b: [4, 1, 3, 3], c: [4] },
    build: (b, x) => reorderOutput(b, blockedConv(b, x.a!, x.b!, x.c!, same3x3, "linear", 0), 4),
  },
  {
    // A 1×1 conv keeps each window's order (filters of one sign): the raised pixel leads by ≥ 0.5 after
    // it, and a step moves two outputs by < 0.2 each. Negative filters give all-zero windows, which the
    // pooled ReLU mask must leave without gradient.
    name: "blocked MaxPool 2×2 after a fused-ReLU Conv (mask at the pooled size), then Upsample ×2",
    inputs: { a: [2, 1, 4, 6], b: [8, 1, 1, 1], c: [8] },
    values: { a: leadingWindows, b: signedFilters, c: uniform(-0.1, 0.1) },
    step: KINKED_STEP,
    build: (b, x) => reorderOutput(b, blockedUpsample(b, blockedMaxPool(b, blockedConv(b, x.a!, x.b!, x.c!, { kernel: [1, 1], pads: [0, 0, 0, 0] }, "relu", 0), [2, 2]), [2, 2]), 8),
  },
  {
    name: "blocked MaxPool 2×2 and Upsample ×2 on a blocked input",
    inputs: { a: [2, 8, 4, 6] },
    values: { a: leadingWindows },
    step: KINKED_STEP,
    build: (b, x) => reorderOutput(b, blockedUpsample(b, blockedMaxPool(b, reorderInput(b, x.a!), [2, 2]), [2, 2]), 8),
  },
  {
    name: "narrow Conv (2 filters: the output layer) from a blocked input, bias",
    linear: true,
    inputs: { a: [2, 8, 4, 5], b: [2, 8, 3, 3], c: [2] },
    build: (b, x) => narrowConv(b, reorderInput(b, x.a!), x.b!, x.c!, same3x3),
  },
];
const BLOCKED_CASES = BLOCKED_GRAPHS.map((c): Case => ({ ...c, dtype: "float32", blocked: true }));

const CASES: Case[] = [
  { name: "Add broadcast", inputs: { a: [2, 3, 4], b: [3, 1] }, build: ew("Add") },
  { name: "Sub broadcast", inputs: { a: [4], b: [2, 3, 4] }, build: ew("Sub") },
  { name: "Mul broadcast", inputs: { a: [2, 1, 4], b: [3, 1] }, build: ew("Mul") },
  { name: "Div broadcast", inputs: { a: [2, 3], b: [3] }, build: ew("Div"), positive: ["b"] },
  { name: "Pow", inputs: { a: [5], b: [1] }, build: ew("Pow"), positive: ["a"] },
  { name: "Identity", inputs: { a: [2, 3] }, build: un("Identity") },
  { name: "Neg", inputs: { a: [2, 3] }, build: un("Neg") },
  { name: "Reciprocal", inputs: { a: [6] }, build: un("Reciprocal"), positive: ["a"] },
  { name: "Relu", inputs: { a: [3, 4] }, build: un("Relu") },
  { name: "LeakyRelu", inputs: { a: [3, 4] }, build: un("LeakyRelu", { alpha: { float: 0.2 } }) },
  { name: "Sigmoid", inputs: { a: [6] }, build: un("Sigmoid") },
  { name: "Tanh", inputs: { a: [6] }, build: un("Tanh") },
  { name: "Sqrt", inputs: { a: [6] }, build: un("Sqrt"), positive: ["a"] },
  { name: "Abs", inputs: { a: [6] }, build: un("Abs") },
  { name: "Log", inputs: { a: [6] }, build: un("Log"), positive: ["a"] },
  { name: "Exp", inputs: { a: [6] }, build: un("Exp") },
  { name: "Sin/Cos", inputs: { a: [6] }, build: (b, x) => b.op("Mul", [b.op("Sin", [x.a!]), b.op("Cos", [x.a!])]) },
  { name: "Expand", inputs: { a: [3, 1] }, build: (b, x) => b.op("Expand", [x.a!, b.constInt64([2, 3, 4])]) },
  { name: "Unsqueeze", inputs: { a: [2, 3] }, build: (b, x) => b.op("Unsqueeze", [x.a!, b.constInt64([1])]) },
  { name: "DepthToSpace DCR", inputs: { a: [2, 8, 2, 3] }, build: un("DepthToSpace", { blocksize: 2, mode: "DCR" }) },
  { name: "Pad constant", inputs: { a: [2, 3, 4] }, build: (b, x) => b.op("Pad", [x.a!, b.constInt64([0, 1, 2, 1, 0, 1])]) },
  { name: "Reshape", inputs: { a: [2, 6] }, build: (b, x) => b.op("Reshape", [x.a!, b.constInt64([3, 4])]) },
  { name: "Transpose", inputs: { a: [2, 3, 4] }, build: un("Transpose", { perm: [2, 0, 1] }) },
  { name: "Concat", inputs: { a: [2, 3], b: [2, 2] }, build: (b, x) => b.op("Concat", [x.a!, x.b!, x.a!], { axis: 1 }) },
  {
    name: "Split",
    inputs: { a: [2, 5] },
    build: (b, x) => {
      const [p, q] = b.node("Split", [x.a!, b.constInt64([2, 3])], { axis: 1 }, { outputs: 2 }) as [string, string];
      return b.op("Mul", [b.op("ReduceSum", [p, b.constInt64([1])], { keepdims: 1 }), q]);
    },
  },
  { name: "Slice", inputs: { a: [4, 5] }, build: (b, x) => b.op("Slice", [x.a!, b.constInt64([1, 1]), b.constInt64([3, 4]), b.constInt64([0, 1])]) },
  { name: "ReduceSum", inputs: { a: [2, 3, 4] }, build: (b, x) => b.op("ReduceSum", [x.a!, b.constInt64([0, 2])], { keepdims: 0 }) },
  { name: "ReduceMean", inputs: { a: [2, 3, 4] }, build: un("ReduceMean", { axes: [1], keepdims: 1 }) },
  { name: "MatMul", inputs: { a: [3, 4], b: [4, 5] }, build: ew("MatMul") },
  { name: "MatMul batched broadcast", inputs: { a: [2, 3, 4], b: [4, 2] }, build: ew("MatMul") },
  { name: "Gemm transA", inputs: { a: [4, 3], b: [4, 5] }, build: (b, x) => b.op("Gemm", [x.a!, x.b!], { transA: 1, alpha: { float: 0.5 } }) },
  { name: "Gemm transB + C", inputs: { a: [3, 4], b: [5, 4], c: [5] }, build: (b, x) => b.op("Gemm", [x.a!, x.b!, x.c!], { transB: 1, beta: { float: 2 } }) },
  { name: "Where", inputs: { a: [3, 4], b: [3, 4] }, build: (b, x) => b.op("Where", [b.op("Greater", [x.a!, x.b!]), x.a!, b.op("Mul", [x.b!, x.b!])]) },
  { name: "MaxPool 2x2", inputs: { a: [2, 3, 4, 6] }, build: un("MaxPool", { kernel_shape: [2, 2], strides: [2, 2] }) },
  {
    name: "MaxPool 2x2 with Indices (scatter gradient)",
    inputs: { a: [2, 3, 4, 6] },
    build: (b, x) => b.node("MaxPool", [x.a!], { kernel_shape: [2, 2], strides: [2, 2] }, { outputs: 2 })[0]!,
  },
  { name: "MaxPool 2x2 odd size", inputs: { a: [1, 2, 5, 5] }, build: un("MaxPool", { kernel_shape: [2, 2], strides: [2, 2] }) },
  {
    name: "Resize nearest x2",
    dtype: "float32",
    linear: true,
    inputs: { a: [2, 3, 3, 4] },
    build: (b, x) => b.op("Resize", [x.a!, "", b.constFloat32([1, 1, 2, 2])], { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }),
  },
  ...(["chunked-matmul", "row-shift", "im2col-gemm", "shifted-gemm", "batched-matmul", "transposed-conv"] as const).map((strategy): Case => ({
    name: `Conv 3x3 same (${strategy})`,
    dtype: "float32",
    linear: true,
    filterGradient: strategy,
    inputs: { a: [2, 3, 5, 6], b: [4, 3, 3, 3], c: [4] },
    build: (b, x) => b.op("Conv", [x.a!, x.b!, x.c!], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
  })),
  {
    name: "Conv strided dilated asymmetric padding",
    dtype: "float32",
    linear: true,
    inputs: { a: [2, 2, 7, 8], b: [3, 2, 3, 2] },
    build: (b, x) => b.op("Conv", [x.a!, x.b!], { kernel_shape: [3, 2], strides: [2, 1], dilations: [1, 2], pads: [1, 0, 2, 1] }),
  },
  {
    name: "Conv valid 1x1",
    dtype: "float32",
    linear: true,
    inputs: { a: [3, 4, 3, 3], b: [2, 4, 1, 1] },
    build: (b, x) => b.op("Conv", [x.a!, x.b!], { kernel_shape: [1, 1] }),
  },
  ...BLOCKED_CASES,
  {
    // The physics loss's overlap constraint: two groups of two 4×4 complex patches (a, b: real and
    // imaginary parts) at fixed fractional offsets, translated onto a 3-pixel-padded canvas, averaged
    // and cut back out (MatMul through data-built bilinear weights, a Div by the constant coverage).
    name: "overlap constraint (bilinear translate, canvas average, cut back out)",
    inputs: { a: [2, 2, 4, 4], b: [2, 2, 4, 4] },
    build: (b, x) => {
      const offsets = b.constFloat([1.25, -0.5, -1, 0.75, 0, 2.5, -2, -1.5], [2, 2, 2]);
      const cut = applyOverlapConstraint(b, x.a!, x.b!, offsets, { size: 4, padding: 3 });
      return b.op("Concat", [cut.real, b.op("Mul", [cut.imag, cut.real])], { axis: 1 });
    },
  },
  {
    name: "real DFT magnitude (physics-loss shape)",
    inputs: { a: [2, 4, 4], b: [2, 4, 4] },
    build: (b, x) => {
      // |F X F|² for X = a + i·b with the 4-point DFT matrices as constants.
      const n = 4;
      const cos = Array.from({ length: n * n }, (_, k) => Math.cos((-2 * Math.PI * Math.floor(k / n) * (k % n)) / n));
      const sin = Array.from({ length: n * n }, (_, k) => Math.sin((-2 * Math.PI * Math.floor(k / n) * (k % n)) / n));
      const C = b.constFloat(cos, [n, n]);
      const S = b.constFloat(sin, [n, n]);
      const mm = (p: string, q: string) => b.op("MatMul", [p, q]);
      // rows: (C + iS)(a + ib) = (Ca − Sb) + i(Sa + Cb); then columns the same from the right.
      const re1 = b.op("Sub", [mm(C, x.a!), mm(S, x.b!)]);
      const im1 = b.op("Add", [mm(S, x.a!), mm(C, x.b!)]);
      const re = b.op("Sub", [mm(re1, C), mm(im1, S)]);
      const im = b.op("Add", [mm(re1, S), mm(im1, C)]);
      return b.op("Sqrt", [b.op("Add", [b.op("Add", [b.op("Mul", [re, re]), b.op("Mul", [im, im])]), b.constFloat(1e-3, [])])]);
    },
  },
];

const block = await nchwcBlockSize();
/**
 * Skips a blocked case where ORT has no blocked kernels, saying so. Under CI an x86-64 CPU with AVX2 must
 * have them, so there the missing layout is a failure.
 */
function skipWithoutBlockedLayout(skip: (condition: boolean, note?: string) => void): void {
  if (block > 0) return;
  const avx2 = process.arch === "x64" && existsSync("/proc/cpuinfo") && /\bavx2\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  if (process.env.CI && avx2) throw new Error("ONNX Runtime reports no NCHWc block size on an AVX2 CPU: the blocked layout is missing from this onnxruntime-node build");
  skip(true, "ONNX Runtime has no blocked (NCHWc) kernels on this CPU (needs x86-64 with AVX2 or AVX-512): the blocked gradient rules cannot run here");
}

const measured = new Map<string, Promise<Measured>>();
const measureOnce = (c: Case): Promise<Measured> => {
  if (!measured.has(c.name)) measured.set(c.name, measure(c, 7, block));
  return measured.get(c.name)!;
};
const describeProbe = (c: Case, p: Probe): string => `${c.name}: d loss / d ${p.input} (finite difference ${p.numeric}, autodiff ${p.analytic}, allowed ±${p.allowed})`;

describe("autodiff gradient rules vs central finite differences (ONNX Runtime)", () => {
  for (const c of CASES) {
    it(c.name, async (context) => {
      if (c.blocked) skipWithoutBlockedLayout(context.skip);
      for (const probe of (await measureOnce(c)).probes) expect(Math.abs(probe.numeric - probe.analytic), describeProbe(c, probe)).toBeLessThanOrEqual(probe.allowed);
    });
  }

  it("rejects a gradient 1% off in every case (the tolerances are tight enough)", async () => {
    const missed: string[] = [];
    for (const c of CASES) {
      if (c.blocked && block === 0) continue;
      const { probes } = await measureOnce(c);
      if (!probes.some((p) => Math.abs(p.numeric - 1.01 * p.analytic) > p.allowed)) missed.push(c.name);
    }
    expect(missed, "cases where autodiff × 1.01 passes every probe").toEqual([]);
  });

  it("has a case for every gradient rule", async (context) => {
    const covered = new Set<string>();
    for (const c of CASES) if (!c.blocked || block > 0) for (const op of (await measureOnce(c)).ops) covered.add(op);
    expect(Object.keys(GRADIENT_RULES).filter((op) => !covered.has(op)), "standard ops whose rule has no case").toEqual([]);
    skipWithoutBlockedLayout(context.skip);
    expect(Object.keys(NCHWC_RULES).filter((op) => !covered.has(`${NCHWC_DOMAIN}.${op}`)), "blocked ops whose rule has no case").toEqual([]);
  });

  it("fails clearly on an op without a rule", () => {
    const b = new GraphBuilder("g", "float64");
    const x = b.addInput("x", "float64", [3]);
    const y = b.op("ReduceMax", [x], { keepdims: 0 });
    expect(() => appendGradients(b, y, [x])).toThrow(/no gradient rule for ONNX op ReduceMax/);
  });
});
