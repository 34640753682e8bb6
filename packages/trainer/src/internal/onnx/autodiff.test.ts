/**
 * Gradient rules against central finite differences, on real ONNX Runtime sessions. Each case builds a
 * small graph, takes loss = Σ f(inputs) ⊙ R for a fixed random R, and compares the autodiff gradient
 * with (loss(x + εv) − loss(x − εv)) / 2ε along coordinate and random directions. Graphs run in float64
 * where ORT's CPU kernels support the op in double; Conv and Resize only exist in float32 there, so those
 * cases run in float32 with a looser tolerance.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { appendGradients, type FilterGradientStrategy } from "./autodiff.js";
import { type FloatDType, GraphBuilder, product } from "./graph-builder.js";

interface Case {
  readonly name: string;
  readonly inputs: Record<string, number[]>;
  readonly build: (b: GraphBuilder, x: Record<string, string>) => string;
  /** Inputs held positive (log, sqrt, pow, division). */
  readonly positive?: readonly string[];
  readonly dtype?: FloatDType;
  readonly filterGradient?: FilterGradientStrategy;
}

async function gradCheck(c: Case, seed: number): Promise<void> {
  const dtype = c.dtype ?? "float64";
  const prng = SeededRandom.derive(seed, c.name);
  const b = new GraphBuilder("gradcheck", dtype);
  const names: Record<string, string> = {};
  for (const [name, shape] of Object.entries(c.inputs)) names[name] = b.addInput(name, dtype, shape);
  const out = c.build(b, names);
  const weights = Array.from({ length: product(b.shape(out)) }, () => prng.nextDouble() * 2 - 1);
  const loss = b.op("ReduceSum", [b.op("Mul", [out, b.constFloat(weights, b.shape(out))])], { keepdims: 0 }, "loss");
  b.addOutput(loss);
  const grads = appendGradients(b, loss, Object.values(names), c.filterGradient ? { filterGradient: c.filterGradient } : {});
  for (const [name, g] of grads) b.addOutput(b.op("Identity", [g], {}, `grad_${name}`));
  const session = await ort.InferenceSession.create(b.toModelBytes(), { intraOpNumThreads: 1, graphOptimizationLevel: "disabled" });
  const Array_ = dtype === "float64" ? Float64Array : Float32Array;
  const values: Record<string, Float64Array | Float32Array> = {};
  for (const [name, shape] of Object.entries(c.inputs)) {
    values[name] = Array_.from({ length: product(shape) }, () => {
      const v = prng.nextDouble() * 2 - 1;
      // Keep away from kinks (|x| small) and from zero for positive-only inputs.
      return c.positive?.includes(name) ? 0.5 + Math.abs(v) : Math.sign(v) * (0.1 + Math.abs(v));
    });
  }
  const feeds = (override?: [string, Float64Array | Float32Array]): Record<string, ort.Tensor> =>
    Object.fromEntries(Object.entries(c.inputs).map(([name, shape]) => [name, new ort.Tensor(dtype, override?.[0] === name ? override[1] : values[name]!, shape)]));
  const result = await session.run(feeds());
  const lossAt = async (name: string, v: Float64Array | Float32Array): Promise<number> => Number((await session.run(feeds([name, v]), ["loss"])).loss!.data[0]);
  const eps = dtype === "float64" ? 1e-6 : 1e-2;
  const tolerance = dtype === "float64" ? 1e-6 : 2e-2;
  for (const name of Object.keys(c.inputs)) {
    const grad = result[`grad_${name}`]!.data as Float64Array;
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
      const plus = Array_.from(x, (v, i) => v + eps * d[i]!);
      const minus = Array_.from(x, (v, i) => v - eps * d[i]!);
      const numeric = ((await lossAt(name, plus)) - (await lossAt(name, minus))) / (2 * eps);
      const analytic = d.reduce((s, v, i) => s + v * grad[i]!, 0);
      expect(Math.abs(numeric - analytic), `${c.name}: d loss / d ${name} (numeric ${numeric}, autodiff ${analytic})`).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(numeric)));
    }
  }
  await session.release();
}

const ew = (op: string) => (b: GraphBuilder, x: Record<string, string>) => b.op(op, [x.a!, x.b!]);
const un = (op: string, attrs = {}) => (b: GraphBuilder, x: Record<string, string>) => b.op(op, [x.a!], attrs);

const CASES: Case[] = [
  { name: "Add broadcast", inputs: { a: [2, 3, 4], b: [3, 1] }, build: ew("Add") },
  { name: "Sub broadcast", inputs: { a: [4], b: [2, 3, 4] }, build: ew("Sub") },
  { name: "Mul broadcast", inputs: { a: [2, 1, 4], b: [3, 1] }, build: ew("Mul") },
  { name: "Div broadcast", inputs: { a: [2, 3], b: [3] }, build: ew("Div"), positive: ["b"] },
  { name: "Pow", inputs: { a: [5], b: [1] }, build: ew("Pow"), positive: ["a"] },
  { name: "Relu", inputs: { a: [3, 4] }, build: un("Relu") },
  { name: "LeakyRelu", inputs: { a: [3, 4] }, build: un("LeakyRelu", { alpha: { float: 0.2 } }) },
  { name: "Sigmoid", inputs: { a: [6] }, build: un("Sigmoid") },
  { name: "Tanh", inputs: { a: [6] }, build: un("Tanh") },
  { name: "Sqrt", inputs: { a: [6] }, build: un("Sqrt"), positive: ["a"] },
  { name: "Abs", inputs: { a: [6] }, build: un("Abs") },
  { name: "Log", inputs: { a: [6] }, build: un("Log"), positive: ["a"] },
  { name: "Exp", inputs: { a: [6] }, build: un("Exp") },
  { name: "Sin/Cos", inputs: { a: [6] }, build: (b, x) => b.op("Mul", [b.op("Sin", [x.a!]), b.op("Cos", [x.a!])]) },
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
    inputs: { a: [2, 3, 3, 4] },
    build: (b, x) => b.op("Resize", [x.a!, "", b.constFloat32([1, 1, 2, 2])], { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }),
  },
  ...(["chunked-matmul", "row-shift", "im2col-gemm", "shifted-gemm", "batched-matmul", "transposed-conv"] as const).map((strategy): Case => ({
    name: `Conv 3x3 same (${strategy})`,
    dtype: "float32",
    filterGradient: strategy,
    inputs: { a: [2, 3, 5, 6], b: [4, 3, 3, 3], c: [4] },
    build: (b, x) => b.op("Conv", [x.a!, x.b!, x.c!], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
  })),
  {
    name: "Conv strided dilated asymmetric padding",
    dtype: "float32",
    inputs: { a: [2, 2, 7, 8], b: [3, 2, 3, 2] },
    build: (b, x) => b.op("Conv", [x.a!, x.b!], { kernel_shape: [3, 2], strides: [2, 1], dilations: [1, 2], pads: [1, 0, 2, 1] }),
  },
  {
    name: "Conv valid 1x1",
    dtype: "float32",
    inputs: { a: [3, 4, 3, 3], b: [2, 4, 1, 1] },
    build: (b, x) => b.op("Conv", [x.a!, x.b!], { kernel_shape: [1, 1] }),
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

describe("autodiff gradient rules vs central finite differences (ONNX Runtime)", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      await gradCheck(c, 7);
    });
  }

  it("fails clearly on an op without a rule", () => {
    const b = new GraphBuilder("g", "float64");
    const x = b.addInput("x", "float64", [3]);
    const y = b.op("ReduceMax", [x], { keepdims: 0 });
    expect(() => appendGradients(b, y, [x])).toThrow(/no gradient rule for ONNX op ReduceMax/);
  });
});
