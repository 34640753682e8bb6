/**
 * Reverse-mode differentiation over a {@link GraphBuilder} graph: appends, for a scalar `loss`, the nodes
 * that compute d loss / d x for each requested value x. Every gradient rule is built from standard ONNX
 * ops (opset 17), so the result runs on any ONNX Runtime build, CPU or CUDA.
 *
 * Shapes are static (the training graph is compiled per batch size), so broadcasting gradients reduce
 * over axes fixed at build time.
 */
import { type AttributeValue, convTransposeToInput, flippedSwappedKernel, type GraphBuilder, type GraphNode, NCHWC_DOMAIN, normAxis, type Shape } from "./graph-builder.js";
import { OnnxGraphError } from "../../../errors.js";
import { NCHWC_RULES } from "./nchwc.js";

/** How a Conv's filter gradient is formed (measured choices; see the bench suites). */
export type FilterGradientStrategy = "chunked-matmul" | "row-shift" | "im2col-gemm" | "shifted-gemm" | "batched-matmul" | "transposed-conv";

export interface GradientOptions {
  /** Filter-gradient strategy for stride-1, dilation-1 convolutions (default `chunked-matmul`, the fastest measured). */
  readonly filterGradient?: FilterGradientStrategy;
}

/**
 * A gradient rule: the gradients of `node`'s inputs (undefined where not needed). `contribute` adds a
 * gradient to a value further up the graph directly, for rules that know it more cheaply than the chain of
 * nodes in between would compute it (the blocked Conv's logical filter).
 */
export type GradientRule = (
  b: GraphBuilder,
  node: GraphNode,
  grads: ReadonlyArray<string | undefined>,
  needs: readonly boolean[],
  options: GradientOptions,
  contribute: (value: string, grad: string) => void,
) => Array<string | undefined>;

/** Ops whose outputs carry no gradient (comparisons, shapes, casts to non-float). */
const NON_DIFFERENTIABLE = new Set(["Greater", "Less", "Equal", "GreaterOrEqual", "LessOrEqual", "Sign", "Cast", "Shape"]);

/**
 * Appends gradient nodes for `loss` (a scalar) with respect to `wrt`; returns the gradient value of each
 * (a zero constant where the loss does not depend on it).
 */
export function appendGradients(b: GraphBuilder, loss: string, wrt: readonly string[], options: GradientOptions = {}): Map<string, string> {
  if (b.shape(loss).length !== 0) throw new OnnxGraphError(`loss ${loss} must be a scalar, has shape [${b.shape(loss).join(",")}]`);
  const forward = [...b.nodes];
  const dependsOnWrt = new Set(wrt);
  for (const node of forward) if (node.inputs.some((i) => dependsOnWrt.has(i))) for (const o of node.outputs) dependsOnWrt.add(o);
  const leadsToLoss = new Set([loss]);
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i]!;
    if (node.outputs.some((o) => leadsToLoss.has(o))) for (const input of node.inputs) leadsToLoss.add(input);
  }
  const contributions = new Map<string, string[]>([[loss, [b.constFloat(1, [])]]]);
  const total = (name: string): string | undefined => {
    const parts = contributions.get(name);
    if (!parts || parts.length === 0) return undefined;
    if (parts.length > 1) {
      const sum = parts.reduce((acc, g) => b.op("Add", [acc, g]));
      contributions.set(name, [sum]);
      return sum;
    }
    return parts[0];
  };
  const add = (value: string, g: string): void => {
    const list = contributions.get(value) ?? [];
    list.push(g);
    contributions.set(value, list);
  };
  const contribute = (value: string, g: string): void => {
    if (dependsOnWrt.has(value) && leadsToLoss.has(value)) add(value, g);
  };
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i]!;
    if (!node.outputs.some((o) => leadsToLoss.has(o) && dependsOnWrt.has(o))) continue;
    const needs = node.inputs.map((input) => input !== "" && dependsOnWrt.has(input) && leadsToLoss.has(input));
    if (!needs.some(Boolean) || NON_DIFFERENTIABLE.has(node.opType)) continue;
    const grads = node.outputs.map(total);
    if (grads.every((g) => g === undefined)) continue;
    const rule = node.domain === NCHWC_DOMAIN ? NCHWC_RULES[node.opType] : node.domain === "" ? GRADIENT_RULES[node.opType] : undefined;
    if (!rule) throw new OnnxGraphError(`no gradient rule for ONNX op ${node.domain === "" ? "" : `${node.domain}.`}${node.opType} (node output ${node.outputs[0]})`);
    const inputGrads = rule(b, node, grads, needs, options, contribute);
    node.inputs.forEach((input, k) => {
      const g = inputGrads[k];
      if (needs[k] && g !== undefined) add(input, g);
    });
  }
  const result = new Map<string, string>();
  for (const name of wrt) {
    const g = total(name);
    result.set(name, g ?? zerosLike(b, name));
  }
  return result;
}

function zerosLike(b: GraphBuilder, name: string): string {
  return b.op("Expand", [b.constFloat(0, []), b.constInt64([...b.shape(name)])]);
}

/** Sums `g` over the axes along which a value of shape `target` was broadcast to `g`'s shape. */
export function reduceToShape(b: GraphBuilder, g: string, target: Shape): string {
  const shape = b.shape(g);
  if (shape.length === target.length && shape.every((d, i) => d === target[i])) return g;
  const offset = shape.length - target.length;
  const axes: number[] = [];
  shape.forEach((d, i) => {
    if (i < offset || (target[i - offset] === 1 && d !== 1)) axes.push(i);
  });
  const reduced = axes.length === 0 ? g : b.op("ReduceSum", [g, b.constInt64(axes)], { keepdims: 1 });
  return b.op("Reshape", [reduced, b.constInt64([...target])]);
}

const attrs = (node: GraphNode): Readonly<Record<string, AttributeValue>> => node.attributes;
const ints = (node: GraphNode, key: string, fallback: readonly number[]): readonly number[] => (attrs(node)[key] as readonly number[] | undefined) ?? fallback;
const floatAttr = (node: GraphNode, key: string, fallback: number): number => {
  const v = attrs(node)[key];
  if (v === undefined) return fallback;
  return typeof v === "number" ? v : (v as { float: number }).float;
};

const unary = (f: (b: GraphBuilder, x: string, y: string, g: string) => string): GradientRule => (b, node, [g]) => [f(b, node.inputs[0]!, node.outputs[0]!, g!)];

function binaryBroadcast(f: (b: GraphBuilder, node: GraphNode, g: string) => [string | undefined, string | undefined]): GradientRule {
  return (b, node, [g], needs) => {
    const [ga, gb] = f(b, node, g!);
    return [
      needs[0] && ga ? reduceToShape(b, ga, b.shape(node.inputs[0]!)) : undefined,
      needs[1] && gb ? reduceToShape(b, gb, b.shape(node.inputs[1]!)) : undefined,
    ];
  };
}

/** The gradient rules of standard ONNX ops, by op type (the blocked ops' are `NCHWC_RULES`). */
export const GRADIENT_RULES: Record<string, GradientRule> = {
  Identity: unary((_b, _x, _y, g) => g),
  Neg: unary((b, _x, _y, g) => b.op("Neg", [g])),
  // Masked on the output (y > 0 ⇔ x > 0) so the pre-activation need not be kept: ORT can then fuse
  // Conv+Relu in the forward pass.
  Relu: unary((b, _x, y, g) => b.op("Where", [b.op("Greater", [y, b.constFloat(0, [])]), g, b.constFloat(0, [])])),
  LeakyRelu: (b, node, [g]) => {
    const alpha = floatAttr(node, "alpha", 0.01);
    const x = node.inputs[0]!;
    return [b.op("Where", [b.op("Greater", [x, b.constFloat(0, [])]), g!, b.op("Mul", [g!, b.constFloat(alpha, [])])])];
  },
  Sigmoid: unary((b, _x, y, g) => b.op("Mul", [g, b.op("Mul", [y, b.op("Sub", [b.constFloat(1, []), y])])])),
  Tanh: unary((b, _x, y, g) => b.op("Mul", [g, b.op("Sub", [b.constFloat(1, []), b.op("Mul", [y, y])])])),
  Exp: unary((b, _x, y, g) => b.op("Mul", [g, y])),
  Log: unary((b, x, _y, g) => b.op("Div", [g, x])),
  Sqrt: unary((b, _x, y, g) => b.op("Div", [b.op("Mul", [g, b.constFloat(0.5, [])]), y])),
  Abs: unary((b, x, _y, g) => b.op("Mul", [g, b.op("Sign", [x])])),
  Reciprocal: unary((b, _x, y, g) => b.op("Neg", [b.op("Mul", [g, b.op("Mul", [y, y])])])),
  Sin: unary((b, x, _y, g) => b.op("Mul", [g, b.op("Cos", [x])])),
  Cos: unary((b, x, _y, g) => b.op("Neg", [b.op("Mul", [g, b.op("Sin", [x])])])),
  Add: binaryBroadcast((_b, _node, g) => [g, g]),
  Sub: binaryBroadcast((b, _node, g) => [g, b.op("Neg", [g])]),
  Mul: binaryBroadcast((b, node, g) => [b.op("Mul", [g, node.inputs[1]!]), b.op("Mul", [g, node.inputs[0]!])]),
  Div: binaryBroadcast((b, node, g) => {
    const [, d] = node.inputs as [string, string];
    const ga = b.op("Div", [g, d]);
    // d(a/d)/dd = −a/d² = −(g/d)·y
    return [ga, b.op("Neg", [b.op("Mul", [ga, node.outputs[0]!])])];
  }),
  Pow: (b, node, [g], needs) => {
    const [x, p] = node.inputs as [string, string];
    const y = node.outputs[0]!;
    const ga = needs[0] ? b.op("Mul", [g!, b.op("Mul", [p, b.op("Pow", [x, b.op("Sub", [p, b.constFloat(1, [])])])])]) : undefined;
    const gp = needs[1] ? b.op("Mul", [g!, b.op("Mul", [y, b.op("Log", [x])])]) : undefined;
    return [ga && reduceToShape(b, ga, b.shape(x)), gp && reduceToShape(b, gp, b.shape(p))];
  },
  Where: (b, node, [g], needs) => {
    const [c, x, y] = node.inputs as [string, string, string];
    const zero = b.constFloat(0, []);
    return [
      undefined,
      needs[1] ? reduceToShape(b, b.op("Where", [c, g!, zero]), b.shape(x)) : undefined,
      needs[2] ? reduceToShape(b, b.op("Where", [c, zero, g!]), b.shape(y)) : undefined,
    ];
  },
  Expand: (b, node, [g]) => [reduceToShape(b, g!, b.shape(node.inputs[0]!))],
  Reshape: (b, node, [g]) => [b.op("Reshape", [g!, b.constInt64([...b.shape(node.inputs[0]!)])])],
  Unsqueeze: (b, node, [g]) => [b.op("Reshape", [g!, b.constInt64([...b.shape(node.inputs[0]!)])])],
  Transpose: (b, node, [g]) => {
    const rank = b.shape(node.inputs[0]!).length;
    const perm = ints(node, "perm", Array.from({ length: rank }, (_, i) => rank - 1 - i));
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    return [b.op("Transpose", [g!], { perm: inverse })];
  },
  Concat: (b, node, [g], needs) => {
    const rank = b.shape(node.inputs[0]!).length;
    const axis = normAxis(attrs(node).axis as number, rank);
    let offset = 0;
    return node.inputs.map((input, k) => {
      const size = b.shape(input)[axis]!;
      const start = offset;
      offset += size;
      if (!needs[k]) return undefined;
      return b.op("Slice", [g!, b.constInt64([start]), b.constInt64([start + size]), b.constInt64([axis])]);
    });
  },
  Split: (b, node, grads) => {
    const rank = b.shape(node.inputs[0]!).length;
    const axis = normAxis((attrs(node).axis as number | undefined) ?? 0, rank);
    const parts = node.outputs.map((o, k) => grads[k] ?? zerosLike(b, o));
    return [b.op("Concat", parts, { axis })];
  },
  Slice: (b, node, [g]) => {
    const x = node.inputs[0]!;
    const shape = b.shape(x);
    const starts = b.constants.get(node.inputs[1]!)!;
    const ends = b.constants.get(node.inputs[2]!)!;
    const axes = node.inputs[3] ? b.constants.get(node.inputs[3])! : starts.map((_, i) => i);
    const steps = node.inputs[4] ? b.constants.get(node.inputs[4])! : starts.map(() => 1);
    if (steps.some((s) => s !== 1)) throw new OnnxGraphError("Slice gradient supports step 1 only");
    const pads = new Array<number>(2 * shape.length).fill(0);
    axes.forEach((a, i) => {
      const axis = normAxis(a, shape.length);
      const size = shape[axis]!;
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
      pads[axis] = clamp(starts[i]!);
      pads[axis + shape.length] = size - clamp(ends[i]!);
    });
    return [b.op("Pad", [g!, b.constInt64(pads)])];
  },
  DepthToSpace: (b, node, [g]) => {
    // DCR order (ONNX's default) is exactly SpaceToDepth's channel order, so that is its adjoint (a
    // permutation of elements); CRD would need a Reshape/Transpose pair instead.
    const mode = (attrs(node).mode as string | undefined) ?? "DCR";
    if (mode !== "DCR") throw new OnnxGraphError(`DepthToSpace gradient supports mode DCR only, got ${mode}`);
    return [b.op("SpaceToDepth", [g!], { blocksize: attrs(node).blocksize as number })];
  },
  Pad: (b, node, [g]) => {
    const shape = b.shape(node.inputs[0]!);
    const pads = b.constants.get(node.inputs[1]!)!;
    const mode = (attrs(node).mode as string | undefined) ?? "constant";
    if (mode !== "constant") throw new OnnxGraphError(`Pad gradient supports mode constant only, got ${mode}`);
    return [b.op("Slice", [g!, b.constInt64(shape.map((_, i) => pads[i]!)), b.constInt64(shape.map((d, i) => pads[i]! + d)), b.constInt64(shape.map((_, i) => i))])];
  },
  ReduceSum: (b, node, [g]) => [expandReduced(b, node, g!, node.inputs[1] ? b.constants.get(node.inputs[1])! : undefined, 1)],
  ReduceMean: (b, node, [g]) => {
    const shape = b.shape(node.inputs[0]!);
    const axes = (attrs(node).axes as readonly number[] | undefined) ?? shape.map((_, i) => i);
    const count = axes.reduce((n, a) => n * shape[normAxis(a, shape.length)]!, 1);
    return [expandReduced(b, node, g!, axes, 1 / count)];
  },
  MatMul: (b, node, [g], needs) => {
    const [a, m] = node.inputs as [string, string];
    const swapLast = (x: string): string => {
      const rank = b.shape(x).length;
      const perm = Array.from({ length: rank }, (_, i) => i);
      [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
      return b.op("Transpose", [x], { perm });
    };
    return [
      needs[0] ? reduceToShape(b, b.op("MatMul", [g!, swapLast(m)]), b.shape(a)) : undefined,
      needs[1] ? reduceToShape(b, b.op("MatMul", [swapLast(a), g!]), b.shape(m)) : undefined,
    ];
  },
  Gemm: (b, node, [g], needs) => {
    const [a, m, c] = node.inputs as [string, string, string | undefined];
    const transA = (attrs(node).transA as number | undefined) ?? 0;
    const transB = (attrs(node).transB as number | undefined) ?? 0;
    const alpha = floatAttr(node, "alpha", 1);
    const beta = floatAttr(node, "beta", 1);
    const scale = (x: string, s: number): string => (s === 1 ? x : b.op("Mul", [x, b.constFloat(s, [])]));
    // Y = alpha·op(A)·op(B) + beta·C
    const ga = needs[0] ? scale(transA ? b.op("Gemm", [m, g!], { transA: transB, transB: 1 }) : b.op("Gemm", [g!, m], { transB: transB ? 0 : 1 }), alpha) : undefined;
    const gb = needs[1] ? scale(transB ? b.op("Gemm", [g!, a], { transA: 1, transB: transA }) : b.op("Gemm", [a, g!], { transA: transA ? 0 : 1 }), alpha) : undefined;
    const gc = c !== undefined && needs[2] ? reduceToShape(b, scale(g!, beta), b.shape(c)) : undefined;
    return [ga, gb, gc];
  },
  Resize: (b, node, [g]) => {
    const x = node.inputs[0]!;
    const scales = b.constants.get(node.inputs[2]!)!;
    if (attrs(node).mode !== "nearest" || scales.some((s) => !Number.isInteger(s))) throw new OnnxGraphError("Resize gradient supports nearest mode with integer scales only");
    const shape = b.shape(x);
    // Each input pixel was repeated scale times per axis: sum each block of the gradient. Axes with
    // scale 1 are merged into their neighbours first, so ORT reduces a low-rank tensor (an 8-D reduce
    // over NCHW's split axes measured several times slower).
    const dims: number[] = [];
    const axes: number[] = [];
    shape.forEach((d, i) => {
      const scale = scales[i]!;
      if (scale === 1) {
        if (dims.length > 0 && !axes.includes(dims.length - 1)) dims[dims.length - 1]! *= d;
        else dims.push(d);
      } else {
        dims.push(d, scale);
        axes.push(dims.length - 1);
      }
    });
    const blocks = b.op("Reshape", [g!, b.constInt64(dims)]);
    return [b.op("Reshape", [b.op("ReduceSum", [blocks, b.constInt64(axes)], { keepdims: 0 }), b.constInt64([...shape])])];
  },
  MaxPool: (b, node, [g]) => {
    const x = node.inputs[0]!;
    const shape = b.shape(x);
    if (node.outputs.length === 2) {
      // With the Indices output (flat NCHW positions of each window's first maximum), the gradient is
      // one scatter into zeros: cheaper than comparing with the upsampled maximum, and it routes ties to
      // one input pixel as TensorFlow does.
      const total = shape.reduce((a, d) => a * d, 1);
      const zeros = b.op("Expand", [b.constFloat(0, []), b.constInt64([total])]);
      const positions = b.op("Reshape", [node.outputs[1]!, b.constInt64([-1])]);
      const scattered = b.op("ScatterElements", [zeros, positions, b.op("Reshape", [g!, b.constInt64([-1])])], { axis: 0 });
      return [b.op("Reshape", [scattered, b.constInt64([...shape])])];
    }
    const kernel = ints(node, "kernel_shape", []);
    const strides = ints(node, "strides", kernel.map(() => 1));
    const pads = ints(node, "pads", [0, 0, 0, 0]);
    if (kernel.some((k, i) => k !== strides[i]) || pads.some((p) => p !== 0)) {
      throw new OnnxGraphError("MaxPool gradient supports non-overlapping, unpadded pooling (kernel = strides) only");
    }
    // Gradient flows to the first input pixel (in window order) equal to its window's maximum, as through
    // the indices. Ties are real (an exact-zero input region after a conv with a positive bias), so the
    // pixels equal to the maximum get a priority, kH·kW for a window's first position down to 1 for its
    // last; a second pooling picks each window's highest.
    const upsample = (v: string): string => {
      const [n, c, ph, pw] = b.shape(v) as [number, number, number, number];
      const [kh, kw] = kernel as [number, number];
      // Repeat each pooled value over its window: Resize (fast, float32 only in ORT) or, for double
      // graphs, Reshape + Expand.
      const up =
        b.floatType === "float32"
          ? b.op("Resize", [v, "", b.constFloat32([1, 1, kh, kw])], { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" })
          : b.op("Reshape", [b.op("Expand", [b.op("Reshape", [v, b.constInt64([n, c, ph, 1, pw, 1])]), b.constInt64([n, c, ph, kh, pw, kw])]), b.constInt64([n, c, ph * kh, pw * kw])]);
      const upShape = b.shape(up);
      if (upShape.every((d, i) => d === shape[i])) return up;
      const padding = [...shape.map(() => 0), ...shape.map((d, i) => d - upShape[i]!)];
      return b.op("Pad", [up, b.constInt64(padding)]);
    };
    const [kh, kw] = kernel as [number, number];
    const [height, width] = shape.slice(2) as [number, number];
    const priority = b.constFloat(
      Array.from({ length: height * width }, (_, k) => kh * kw - ((Math.floor(k / width) % kh) * kw + ((k % width) % kw))),
      [height, width],
    );
    const zero = b.constFloat(0, []);
    const tied = b.op("Where", [b.op("Equal", [x, upsample(node.outputs[0]!)]), priority, zero]);
    const first = b.op("Equal", [tied, upsample(b.op("MaxPool", [tied], { kernel_shape: [kh, kw], strides: [kh, kw] }))]);
    return [b.op("Where", [first, upsample(g!), zero])];
  },
  Conv: (b, node, [g], needs, options) => {
    const [x, w, bias] = node.inputs as [string, string, string | undefined];
    void x;
    void w;
    const strategy = options.filterGradient ?? "chunked-matmul";
    const wantBias = bias !== undefined && needs[2] === true;
    // The chunked strategy also sums the bias gradient per chunk, while that chunk of g is in cache.
    const filter = needs[1] ? convFilterGradient(b, node, g!, strategy, wantBias) : undefined;
    return [
      needs[0] ? convInputGradient(b, node, g!) : undefined,
      filter?.kernel,
      wantBias ? (filter?.bias ?? biasGradient(b, g!)) : undefined,
    ];
  },
};

/** Σ over batch and pixels of an NCHW gradient: pixels first (contiguous), then the batch (faster in ORT). */
function biasGradient(b: GraphBuilder, g: string): string {
  const [n, o, h, w] = b.shape(g) as [number, number, number, number];
  const perImage = b.op("ReduceSum", [b.op("Reshape", [g, b.constInt64([n, o, h * w])]), b.constInt64([2])], { keepdims: 0 });
  return b.op("ReduceSum", [perImage, b.constInt64([0])], { keepdims: 0 });
}

function expandReduced(b: GraphBuilder, node: GraphNode, g: string, axes: readonly number[] | undefined, scale: number): string {
  const shape = b.shape(node.inputs[0]!);
  const all = axes ?? shape.map((_, i) => i);
  const normalized = all.map((a) => normAxis(a, shape.length));
  const keptShape = shape.map((d, i) => (normalized.includes(i) ? 1 : d));
  const scaled = scale === 1 ? g : b.op("Mul", [g, b.constFloat(scale, [])]);
  return b.op("Expand", [b.op("Reshape", [scaled, b.constInt64(keptShape)]), b.constInt64([...shape])]);
}

/** Bytes of shifted windows per chunk in the chunked filter gradient (about an L2 cache's worth). */
const CHUNK_BYTES = 1 << 20;

interface ConvGeometry {
  kernel: readonly number[];
  strides: readonly number[];
  dilations: readonly number[];
  pads: readonly number[];
  group: number;
}

function convGeometry(b: GraphBuilder, node: GraphNode): ConvGeometry {
  const w = b.shape(node.inputs[1]!);
  const kernel = w.slice(2);
  const geometry = {
    kernel,
    strides: ints(node, "strides", [1, 1]),
    dilations: ints(node, "dilations", [1, 1]),
    pads: ints(node, "pads", [0, 0, 0, 0]),
    group: (attrs(node).group as number | undefined) ?? 1,
  };
  if (geometry.group !== 1) throw new OnnxGraphError("Conv gradient supports group = 1 only");
  if (kernel.length !== 2) throw new OnnxGraphError("Conv gradient supports 2-D convolutions only");
  return geometry;
}

/**
 * dL/dX. Stride 1: a Conv of the output gradient with the spatially flipped, in/out-swapped kernel (runs
 * on ORT's fast NCHWc convolution path). Otherwise a ConvTranspose with output padding to the input size.
 */
export function convInputGradient(b: GraphBuilder, node: GraphNode, g: string, useConvTranspose = false): string {
  const [x, w] = node.inputs as [string, string];
  const { kernel, strides, dilations, pads } = convGeometry(b, node);
  const xShape = b.shape(x);
  const gShape = b.shape(g);
  const effective = kernel.map((k, i) => (k - 1) * dilations[i]! + 1);
  const begin = effective.map((e, i) => e - 1 - pads[i]!);
  const end = effective.map((e, i) => xShape[2 + i]! - gShape[2 + i]! - begin[i]! + e - 1);
  if (!useConvTranspose && strides.every((s) => s === 1) && [...begin, ...end].every((p) => p >= 0)) {
    return b.op("Conv", [g, flippedSwappedKernel(b, w)], { kernel_shape: [...kernel], dilations: [...dilations], pads: [...begin, ...end] });
  }
  return convTransposeToInput(b, g, w, xShape.slice(2), { kernel, strides, dilations, pads });
}

/** dL/dW for Conv, by one of the strategies (stride/dilation 1 for the GEMM ones). */
export function convFilterGradient(b: GraphBuilder, node: GraphNode, g: string, strategy: FilterGradientStrategy, withBias = false): { kernel: string; bias?: string } {
  const bias: string[] = [];
  const kernel = filterGradientOf(b, node, g, strategy, withBias ? bias : undefined);
  return bias.length > 0 ? { kernel, bias: bias[0]! } : { kernel };
}

function filterGradientOf(b: GraphBuilder, node: GraphNode, g: string, strategy: FilterGradientStrategy, biasOut: string[] | undefined): string {
  const [x, w] = node.inputs as [string, string];
  const { kernel, strides, dilations, pads } = convGeometry(b, node);
  const [n, c, h, wd] = b.shape(x) as [number, number, number, number];
  const [, o, ho, wo] = b.shape(g) as [number, number, number, number];
  const [kh, kw] = kernel as [number, number];
  const unit = strides.every((s) => s === 1) && dilations.every((d) => d === 1);
  if (!unit || strategy === "transposed-conv") {
    // Correlate the batch-transposed input with the batch-transposed gradient: the batch becomes the
    // contraction (channel) axis, the original stride becomes the dilation and vice versa.
    const xt = b.op("Transpose", [x], { perm: [1, 0, 2, 3] });
    const gt = b.op("Transpose", [g], { perm: [1, 0, 2, 3] });
    const corr = b.op("Conv", [xt, gt], { kernel_shape: [ho, wo], strides: [...dilations], dilations: [...strides], pads: [...pads] });
    const cs = b.shape(corr);
    const cropped = cs[2] === kh && cs[3] === kw ? corr : b.op("Slice", [corr, b.constInt64([0, 0]), b.constInt64([kh, kw]), b.constInt64([2, 3])]);
    return b.op("Transpose", [cropped], { perm: [1, 0, 2, 3] });
  }
  if (strategy === "chunked-matmul") {
    // As batched-matmul, but a few images at a time, each chunk padded, made channels-last and cut
    // into its shifted windows right before its MatMuls read them: the chunk's copies stay in cache
    // (measured ~40% faster than whole-batch copies on the reference model's layer shapes).
    const chunk = Math.max(1, Math.min(n, Math.floor(CHUNK_BYTES / (ho * wo * c * 4)) || 1));
    const partials: string[] = [];
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const xc = n === count ? x : b.op("Slice", [x, b.constInt64([start]), b.constInt64([start + count]), b.constInt64([0])]);
      const gc = n === count ? g : b.op("Slice", [g, b.constInt64([start]), b.constInt64([start + count]), b.constInt64([0])]);
      const xPadded = pads.some((p) => p !== 0) ? b.op("Pad", [xc, b.constInt64([0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!])]) : xc;
      const xs = b.op("Transpose", [xPadded], { perm: [0, 2, 3, 1] });
      const gs = b.op("Reshape", [gc, b.constInt64([count, o, ho * wo])]);
      const taps: string[] = [];
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) {
          const win = b.op("Reshape", [b.op("Slice", [xs, b.constInt64([i, j]), b.constInt64([i + ho, j + wo]), b.constInt64([1, 2])]), b.constInt64([count, ho * wo, c])]);
          taps.push(b.op("MatMul", [gs, win]));
        }
      if (biasOut) taps.push(b.op("MatMul", [gs, b.constFloat(new Array<number>(ho * wo).fill(1), [ho * wo, 1])]));
      partials.push(b.op("ReduceSum", [b.op("Concat", taps, { axis: 2 }), b.constInt64([0])], { keepdims: 0 }));
    }
    let summed = partials.reduce((acc, p) => b.op("Add", [acc, p]));
    if (biasOut) {
      // The last column holds Σ over the chunk's pixels and images of g: the bias gradient.
      const [weightPart, biasPart] = b.node("Split", [summed, b.constInt64([kh * kw * c, 1])], { axis: 1 }, { outputs: 2 }) as [string, string];
      biasOut.push(b.op("Reshape", [biasPart, b.constInt64([o])]));
      summed = weightPart;
    }
    return b.op("Transpose", [b.op("Reshape", [summed, b.constInt64([o, kh, kw, c])])], { perm: [0, 3, 1, 2] });
  }
  // Channels-last: every (kh, kw) tap is a shifted window of the padded input; the filter gradient is
  // the product of the output gradient (rows: N·Ho·Wo, cols: O) with those windows.
  const padded = pads.some((p) => p !== 0) ? b.op("Pad", [x, b.constInt64([0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!])]) : x;
  const xNhwc = b.op("Transpose", [padded], { perm: [0, 2, 3, 1] });
  const gRows = b.op("Reshape", [b.op("Transpose", [g], { perm: [0, 2, 3, 1] }), b.constInt64([n * ho * wo, o])]);
  const window = (i: number, j: number): string =>
    b.op("Slice", [xNhwc, b.constInt64([i, j]), b.constInt64([i + ho, j + wo]), b.constInt64([1, 2])]);
  void h;
  void wd;
  if (strategy === "row-shift") {
    // The taps' shifts split between the operands so that only kh + kw shifted copies are made (not
    // kh·kw): vertical shifts slice whole rows of the channels-last padded input (contiguous blocks);
    // horizontal shifts pad the gradient's rows to the padded width, so that in the flattened
    // (row · padded-width) index both line up. Per image, tap (i, j) is then one MatMul
    // [O × Ho·Wp] · [Ho·Wp × C]; the batch sum is one ReduceSum over every tap at once.
    const wp = b.shape(xNhwc)[2]!;
    const rowsOf = Array.from({ length: kh }, (_, i) =>
      b.op("Reshape", [b.op("Slice", [xNhwc, b.constInt64([i]), b.constInt64([i + ho]), b.constInt64([1])]), b.constInt64([n, ho * wp, c])]),
    );
    const shiftedGradient = Array.from({ length: kw }, (_, j) =>
      b.op("Reshape", [b.op("Pad", [g, b.constInt64([0, 0, 0, j, 0, 0, 0, wp - wo - j])]), b.constInt64([n, o, ho * wp])]),
    );
    const taps: string[] = [];
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) taps.push(b.op("MatMul", [shiftedGradient[j]!, rowsOf[i]!]));
    const summed = b.op("ReduceSum", [b.op("Concat", taps, { axis: 2 }), b.constInt64([0])], { keepdims: 0 });
    return b.op("Transpose", [b.op("Reshape", [summed, b.constInt64([o, kh, kw, c])])], { perm: [0, 3, 1, 2] });
  }
  if (strategy === "batched-matmul") {
    // Per image: g[n] (O × Ho·Wo) times the channels-last window (Ho·Wo × C), summed over the batch;
    // the gradient keeps its NCHW layout (no transpose of g).
    const gImages = b.op("Reshape", [g, b.constInt64([n, o, ho * wo])]);
    const taps: string[] = [];
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const rows = b.op("Reshape", [window(i, j), b.constInt64([n, ho * wo, c])]);
        taps.push(b.op("ReduceSum", [b.op("MatMul", [gImages, rows]), b.constInt64([0])], { keepdims: 0 }));
      }
    return b.op("Reshape", [b.op("Concat", taps.map((t) => b.op("Unsqueeze", [t, b.constInt64([2])])), { axis: 2 }), b.constInt64([o, c, kh, kw])]);
  }
  if (strategy === "shifted-gemm") {
    const taps: string[] = [];
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const rows = b.op("Reshape", [window(i, j), b.constInt64([n * ho * wo, c])]);
        taps.push(b.op("Unsqueeze", [b.op("Gemm", [gRows, rows], { transA: 1 }), b.constInt64([2])]));
      }
    return b.op("Reshape", [b.op("Concat", taps, { axis: 2 }), b.constInt64([o, c, kh, kw])]);
  }
  const windows: string[] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) windows.push(window(i, j));
  const columns = b.op("Reshape", [b.op("Concat", windows, { axis: 3 }), b.constInt64([n * ho * wo, kh * kw * c])]);
  const flat = b.op("Gemm", [gRows, columns], { transA: 1 });
  return b.op("Transpose", [b.op("Reshape", [flat, b.constInt64([o, kh, kw, c])])], { perm: [0, 3, 1, 2] });
}
