/**
 * Blocked-layout (NCHWc) training graphs for ONNX Runtime's CPU provider.
 *
 * Why: ORT's fast convolutions are its NCHWc kernels (`com.microsoft.nchwc` domain: activations stored as
 * `[N, C/B, H, W, B]`, filters as `[O/B, C/B, kH, kW, B, B]`). ORT's own graph transformer only uses them
 * when a Conv's weights are constant initializers, which in a training graph they are not (they are graph
 * inputs that change every step), so every Conv fell back to im2col + SGEMM. Here the graph itself is
 * written in the blocked layout: the filters are re-laid out inside the graph (small Reshape/Transpose of
 * the weight inputs, differentiated by the ordinary rules), activations stay blocked from the first Conv
 * to the last, and the backward pass (ReLU masks, input gradients as blocked Convs, pooling and upsampling
 * gradients) runs on blocked tensors too. Measured per 3×3 conv of the reference model: 25–45% less CPU
 * time than the im2col path.
 *
 * A blocked tensor has the logical shape `[N, C', H, W]` (C' = C rounded up to the block) and the memory
 * layout `[N, C'/B, H, W, B]`; every op that is not element-wise reshapes it to that 5-D view first.
 * Padded channels hold zeros (or an activation of zero) and meet only zero filter taps.
 *
 * These ops exist only on ORT's CPU provider (x86-64 with AVX2 or AVX-512: B = 8 or 16), so the engine
 * asks ORT for B at run time and uses this layout only there, and only for models it supports
 * ({@link nchwcUnsupportedReason}); everything else uses the portable NCHW graph.
 */
import type { ActivationName, ModelDescription } from "../../../model-description.js";
import { patternDescription, validateModelDescription } from "../../../model-description.js";
// A type-only import: autodiff imports these rules at run time, this module nothing from autodiff.
import type { GradientRule } from "./autodiff.js";
import { type AttributeValue, convTransposeToInput, flippedSwappedKernel, type GraphBuilder, type GraphNode, NCHWC_DOMAIN } from "./graph-builder.js";
import { OnnxGraphError } from "../../../errors.js";

/** Why `description` cannot use the blocked layout with block size `block`, or undefined when it can. */
export function nchwcUnsupportedReason(model: ModelDescription, block: number): string | undefined {
  if (!Number.isInteger(block) || block < 4 || block % 4 !== 0) return `NCHWc block size ${block} unsupported`;
  // A perPattern model's layers run on its 1-channel pattern model (see compileForward).
  const description = patternDescription(model);
  const shapes = validateModelDescription(description);
  let [height, width] = [description.input.height, description.input.width];
  let channels = description.input.channels;
  let blocked = channels >= block;
  if (blocked && channels % 4 !== 0) return `input channels ${channels} are not a multiple of 4`;
  for (const [index, layer] of description.layers.entries()) {
    if (layer.kind === "conv2d") {
      if (layer.dilation.some((d) => d !== 1)) return `conv ${layer.name} has dilation > 1`;
      if (layer.strides.some((s) => s !== 1) && !blocked) return `conv ${layer.name} has stride > 1 on the network input`;
      blocked = true;
    } else if (!blocked && layer.kind !== "activation") {
      return `layer ${layer.name} comes before the first conv`;
    } else if (layer.kind === "maxPool2d") {
      if (layer.poolSize.some((k, i) => k !== layer.strides[i])) return `pool ${layer.name} overlaps (pool size ≠ strides)`;
      if (height % layer.poolSize[0] !== 0 || width % layer.poolSize[1] !== 0) return `pool ${layer.name} does not divide ${height}×${width}`;
    } else if (layer.kind === "dropout" && channels % 4 !== 0) {
      return `dropout ${layer.name} on ${channels} channels (not a multiple of 4)`;
    }
    [height, width, channels] = shapes[index]!;
  }
  return undefined;
}

const FUSED_ACTIVATION: Record<ActivationName, string | undefined> = { linear: undefined, relu: "Relu", leakyRelu: "LeakyRelu", sigmoid: "Sigmoid", tanh: "Tanh" };

const nchwc = (b: GraphBuilder, op: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}): string => b.node(op, inputs, attributes, { domain: NCHWC_DOMAIN })[0]!;

/** NCHW (or NHWC with `channelsLast`) → blocked. ORT needs a channel count that is a multiple of 4. */
export function reorderInput(b: GraphBuilder, x: string, channelsLast = false): string {
  return nchwc(b, "ReorderInput", [x], channelsLast ? { channels_last: 1 } : {});
}

/** Blocked → NCHW with the `channels` real channels. */
export function reorderOutput(b: GraphBuilder, x: string, channels: number): string {
  return nchwc(b, "ReorderOutput", [x], { channels });
}

/**
 * An OIHW filter `[O, C, kH, kW]` in the blocked layout ORT's NCHWc Conv reads: `OIHWBiBo` for a blocked
 * input (both channel counts padded with zeros to the block), `OIHWBo` for a plain NCHW input with fewer
 * channels than the block (the first layer).
 */
export function blockedFilter(b: GraphBuilder, w: string, nchwInput: boolean): string {
  const [o, c, kh, kw] = b.shape(w) as [number, number, number, number];
  const op = b.nchwcChannels(o);
  const cp = nchwInput ? c : b.nchwcChannels(c);
  const padded = op !== o || cp !== c ? b.op("Pad", [w, b.constInt64([0, 0, 0, 0, op - o, cp - c, 0, 0])]) : w;
  // Both steps are ORT's own (parallel, vectorised) reorders: ~5× faster here than the 6-D Transpose
  // they replace. First the input channels go innermost (OIHW → O, C/B, kH, kW, Bi), then each block of
  // B filters goes innermost behind all of that. (No gradient flows back through them: the blocked Conv
  // rule gives the logical filter's gradient directly.)
  const inner = nchwInput ? padded : reorderInput(b, padded);
  return b.op("Reshape", [blockOutputChannels(b, inner, op, cp * kh * kw), b.constInt64([op, cp, kh, kw])]);
}

/** `[O, rest…]` (O a multiple of the block) → `[O/B, rest, B]` as ORT's reorder of `[O/B, B, rest, 1]`. */
function blockOutputChannels(b: GraphBuilder, w: string, outChannels: number, rest: number): string {
  const block = b.nchwcBlock;
  return reorderInput(b, b.op("Reshape", [w, b.constInt64([outChannels / block, block, rest, 1])]));
}

interface FilterInfo {
  /** The logical OIHW filter value. */
  readonly logical: string;
  readonly nchwInput: boolean;
}
/**
 * Per builder: blocked filter value → its logical filter (the Conv rule's filter gradient goes to it, and
 * the first layer's input-gradient filter is laid out from it).
 */
const FILTERS = new WeakMap<GraphBuilder, Map<string, FilterInfo>>();

/**
 * The input-gradient filter of a stride-1 blocked Conv (flipped taps, inputs and outputs swapped) in the
 * blocked layout, re-laid out from the forward one, `[O'/B, C'/B, kH, kW, Bi, Bo]` → `[C'/B, O'/B, kH, kW,
 * Bo, Bi]` reversed along the taps: the block pairs swap in runs of kH·kW·B² floats, the taps reverse in
 * runs of B², and each B×B block transposes by ORT's reorder. Measured per step of the reference model:
 * ~3× faster than flipping and swapping the logical filter and laying it out again (a Transpose that moves
 * kH·kW floats at a time).
 */
function swappedBlockedFilter(b: GraphBuilder, filter: string): string {
  const [op, cp, kh, kw] = b.shape(filter) as [number, number, number, number];
  const block = b.nchwcBlock;
  const taps = kh * kw;
  const pairs = b.op("Transpose", [b.op("Reshape", [filter, b.constInt64([op / block, cp / block, taps * block * block])])], { perm: [1, 0, 2] });
  const reversed = b.op("Slice", [b.op("Reshape", [pairs, b.constInt64([cp / block, op / block, taps, block * block])]), b.constInt64([-1]), b.constInt64([-(2 ** 62)]), b.constInt64([2]), b.constInt64([-1])]);
  const transposed = reorderInput(b, b.op("Reshape", [reversed, b.constInt64([(cp / block) * (op / block) * taps, block, block, 1])]));
  return b.op("Reshape", [transposed, b.constInt64([cp, op, kh, kw])]);
}

/**
 * Appends a blocked Conv (activation fused) of `x` (blocked, or NCHW with fewer channels than the block)
 * with the logical OIHW filter `w` and bias; returns the blocked output `[N, O', H', W']`.
 */
export function blockedConv(
  b: GraphBuilder,
  x: string,
  w: string,
  bias: string | undefined,
  geometry: { kernel: readonly number[]; pads: readonly number[]; strides?: readonly number[] },
  activation: ActivationName,
  alpha: number,
): string {
  const nchwInput = b.shape(x)[1]! < b.nchwcBlock;
  const filter = blockedFilter(b, w, nchwInput);
  let filters = FILTERS.get(b);
  if (!filters) FILTERS.set(b, (filters = new Map()));
  filters.set(filter, { logical: w, nchwInput });
  const inputs = [x, filter];
  if (bias !== undefined) {
    const o = b.shape(bias)[0]!;
    const op = b.nchwcChannels(o);
    inputs.push(op === o ? bias : b.op("Pad", [bias, b.constInt64([0, op - o])]));
  }
  const fused = FUSED_ACTIVATION[activation];
  const attributes: Record<string, AttributeValue> = { kernel_shape: [...geometry.kernel], pads: [...geometry.pads] };
  if (geometry.strides !== undefined && geometry.strides.some((s) => s !== 1)) {
    if (nchwInput) throw new OnnxGraphError(`a strided blocked Conv needs a blocked input (${x} has ${b.shape(x)[1]} channels)`);
    attributes.strides = [...geometry.strides];
  }
  if (fused !== undefined) attributes.activation = fused;
  if (activation === "leakyRelu") attributes.activation_params = { floats: [alpha] };
  return nchwc(b, "Conv", inputs, attributes);
}

/**
 * A stride-1 Conv with fewer filters than the block (the model's output layer: 2·C filters) from a blocked
 * input to an NCHW output. ORT's blocked Conv with one partly used filter block is as slow as a full
 * layer (one block per pass, most of it zero padding), so the kH·kW taps become filters of one 1×1
 * blocked Conv (Z, kH·kW·O channels, efficient), and the output is the sum of the taps' shifted slices of
 * Z. Split before Slice keeps each slice's gradient a small Pad.
 */
export function narrowConv(
  b: GraphBuilder,
  x: string,
  w: string,
  bias: string | undefined,
  geometry: { kernel: readonly number[]; pads: readonly number[] },
): string {
  const [o, c, kh, kw] = b.shape(w) as [number, number, number, number];
  const [n, , h, wd] = b.shape(x) as [number, number, number, number];
  const taps = kh * kw;
  const pointwise = b.op("Reshape", [b.op("Transpose", [w], { perm: [2, 3, 0, 1] }), b.constInt64([taps * o, c, 1, 1])]);
  const z = reorderOutput(b, blockedConv(b, x, pointwise, undefined, { kernel: [1, 1], pads: [0, 0, 0, 0] }, "linear", 0), taps * o);
  const [pt, pl, pb, pr] = geometry.pads as [number, number, number, number];
  const padded = pt + pl + pb + pr > 0 ? b.op("Pad", [z, b.constInt64([0, 0, pt, pl, 0, 0, pb, pr])]) : z;
  const [ho, wo] = [h + pt + pb - kh + 1, wd + pl + pr - kw + 1];
  const parts = b.node("Split", [padded, b.constInt64(new Array<number>(taps).fill(o))], { axis: 1 }, { outputs: taps });
  let y: string | undefined;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const shifted = b.op("Slice", [parts[i * kw + j]!, b.constInt64([i, j]), b.constInt64([i + ho, j + wo]), b.constInt64([2, 3])]);
      y = y === undefined ? shifted : b.op("Add", [y, shifted]);
    }
  void n;
  return bias === undefined ? y! : b.op("Add", [y!, b.op("Reshape", [bias, b.constInt64([1, o, 1, 1])])]);
}

export function blockedMaxPool(b: GraphBuilder, x: string, kernel: readonly number[]): string {
  return nchwc(b, "MaxPool", [x], { kernel_shape: [...kernel], strides: [...kernel] });
}

export function blockedUpsample(b: GraphBuilder, x: string, size: readonly number[]): string {
  return nchwc(b, "Upsample", [x], { scales: [1, 1, ...size] });
}

/** Bytes of shifted windows per chunk in the filter gradient (about an L2 cache's worth). */
const CHUNK_BYTES = 1 << 20;
/** Output pixels per image up to which the filter gradient folds the batch into one MatMul per tap. */
const FOLD_MAX_PIXELS = 512;

/** Gradient rules of the blocked ops (used by `appendGradients` for nodes in the NCHWc domain). */
export const NCHWC_RULES: Record<string, GradientRule> = {
  ReorderInput: (b, node, [g]) => {
    if (node.attributes.channels_last === 1) throw new OnnxGraphError("no gradient rule for ReorderInput with channels_last");
    return [reorderOutput(b, g!, b.shape(node.inputs[0]!)[1]!)];
  },
  ReorderOutput: (b, node, [g]) => {
    // Back to blocked; pad the channels first (ORT reorders multiples of 4 only; the pad is zeros anyway).
    const [, c] = b.shape(g!) as [number, number];
    const cp = b.shape(node.inputs[0]!)[1]!;
    const padded = cp === c ? g! : b.op("Pad", [g!, b.constInt64([0, 0, 0, 0, 0, cp - c, 0, 0])]);
    return [reorderInput(b, padded)];
  },
  MaxPool: (b, node, [g]) => {
    // Non-overlapping windows dividing the input (checked by nchwcUnsupportedReason). Each window's
    // gradient goes to one input, its first maximum in window order, as ORT's pool indices (the NCHW
    // graph) and TF.js route it. Ties are real: an exact-zero region of the input, after a conv with a
    // positive bias, leaves windows of equal positive values, and masking every pixel equal to the maximum
    // gave such a window kH·kW times its gradient.
    const x = node.inputs[0]!;
    const y = node.outputs[0]!;
    const kernel = node.attributes.kernel_shape as readonly [number, number];
    const [n, c, h, w] = b.shape(x) as [number, number, number, number];
    if ([n, c, h, w].some((d) => d < 1)) throw new OnnxGraphError(`blocked MaxPool gradient needs a static input shape, ${x} has [${b.shape(x).join(",")}]`);
    let pooled = g!;
    const producer = b.nodes.find((other) => other.outputs[0] === x);
    const relu = producer?.domain === NCHWC_DOMAIN && producer.opType === "Conv" && producer.attributes.activation === "Relu";
    if (relu && b.nodes.filter((other) => other.inputs.includes(x)).length === 1) {
      // The pooled ReLU output: a window's maximum is positive iff the ReLU passed it, so the ReLU's mask
      // is applied here at the pooled size (1/kH·kW of the pixels), not by the Conv rule.
      pooled = mask(b, g!, b.op("Greater", [y, b.constFloat(0, [])]));
      premasked(b).add(x);
    }
    // The blocked memory [N, C'/B, H, W, B] seen as a 3-D image [N·C'/B, 1, H, W, B] pooled by kH × kW × 1:
    // ONNX's MaxPool then gives each window's first maximum as a flat index into that memory, and
    // MaxUnpool puts the pooled gradient (blocked the same way) there, zeros elsewhere (measured ~40%
    // faster than a ScatterElements into expanded zeros).
    const planes = (n * c) / b.nchwcBlock;
    const pool = { kernel_shape: [...kernel, 1], strides: [...kernel, 1] };
    const indices = b.node("MaxPool", [b.op("Reshape", [x, b.constInt64([planes, 1, h, w, b.nchwcBlock])])], pool, { outputs: 2 })[1]!;
    const unpooled = b.op("MaxUnpool", [b.op("Reshape", [pooled, b.constInt64([planes, 1, h / kernel[0], w / kernel[1], b.nchwcBlock])]), indices], pool);
    return [b.op("Reshape", [unpooled, b.constInt64([n, c, h, w])])];
  },
  Upsample: (b, node, [g]) => {
    // Each input pixel was repeated sh × sw times: sum each block, as a blocked average pool times its
    // size (exact: the size is a power of two here, and either way one rounding of the same sum).
    const [, , sh, sw] = node.attributes.scales as readonly number[];
    const mean = nchwc(b, "AveragePool", [g!], { kernel_shape: [sh!, sw!], strides: [sh!, sw!] });
    return [b.op("Mul", [mean, b.constFloat(sh! * sw!, [])])];
  },
  Conv: (b, node, [g], needs, _options, contribute) => {
    const [x, filter, bias] = node.inputs as [string, string, string | undefined];
    const info = FILTERS.get(b)?.get(filter);
    if (!info) throw new OnnxGraphError(`blocked Conv ${node.outputs[0]} has no logical filter (build it with blockedConv)`);
    const gPre = activationGradient(b, node, g!);
    const kernel = node.attributes.kernel_shape as readonly [number, number];
    const pads = node.attributes.pads as readonly number[];
    const strides = (node.attributes.strides as readonly [number, number] | undefined) ?? [1, 1];
    let gx: string | undefined;
    if (needs[0] && strides.every((s) => s === 1)) {
      // Stride 1: dL/dx is the correlation of the output gradient with the flipped, in/out-swapped filter.
      const swapped = info.nchwInput ? blockedFilter(b, flippedSwappedKernel(b, info.logical), false) : swappedBlockedFilter(b, filter);
      const begin = kernel.map((k, i) => k - 1 - pads[i]!);
      const end = kernel.map((k, i) => k - 1 - pads[i + kernel.length]!);
      gx = nchwc(b, "Conv", [gPre, swapped], { kernel_shape: [...kernel], pads: [...begin, ...end] });
      if (info.nchwInput) gx = reorderOutput(b, gx, b.shape(x)[1]!);
    } else if (needs[0]) {
      // Stride > 1 (never the first layer: nchwcUnsupportedReason): ORT's NCHW ConvTranspose of the output
      // gradient with the logical filter, between two reorders. Measured on the strided compact model
      // (32×32, batch 16, supervised step, 1 thread): 10.8 ms a step, against 12.7 ms for a blocked stride-1
      // Conv over the output gradient spread with zeros to the input size (4× the multiply-adds), and
      // 12.0 ms for the compact model's pools.
      const [, c, h, w] = b.shape(x) as [number, number, number, number];
      const [lo, lc] = b.shape(info.logical) as [number, number];
      const nchw = convTransposeToInput(b, reorderOutput(b, gPre, lo), info.logical, [h, w], { kernel, strides, dilations: [1, 1], pads });
      gx = reorderInput(b, lc === c ? nchw : b.op("Pad", [nchw, b.constInt64([0, 0, 0, 0, 0, c - lc, 0, 0])]));
    }
    const wantBias = bias !== undefined && needs[2] === true;
    const filterGrad = needs[1] || wantBias ? blockedFilterGradient(b, x, gPre, kernel, pads, strides, info.nchwInput, wantBias, b.shape(info.logical)) : undefined;
    // The filter's gradient goes straight to the logical OIHW filter: re-laying it out blocked only for the
    // blocked-filter nodes' rules to lay it out logically again cost two reorders per layer and step.
    if (needs[1]) contribute(info.logical, filterGrad!.kernel);
    return [gx, undefined, wantBias ? filterGrad!.bias : undefined];
  },
};

/** Conv outputs whose gradient a MaxPool rule already masked by the Conv's ReLU. */
const PREMASKED = new WeakMap<GraphBuilder, Set<string>>();
function premasked(b: GraphBuilder): Set<string> {
  let set = PREMASKED.get(b);
  if (!set) PREMASKED.set(b, (set = new Set()));
  return set;
}

/** `g` where `condition`, else 0, as `g · float(condition)`: ORT's Cast + Mul take ~¾ of its Where's time. */
function mask(b: GraphBuilder, g: string, condition: string): string {
  return b.op("Mul", [g, b.op("Cast", [condition], { to: 1 })]);
}

function activationGradient(b: GraphBuilder, node: GraphNode, g: string): string {
  const y = node.outputs[0]!;
  const zero = b.constFloat(0, []);
  switch (node.attributes.activation as string | undefined) {
    case undefined:
      return g;
    case "Relu":
      return premasked(b).has(y) ? g : mask(b, g, b.op("Greater", [y, zero]));
    case "LeakyRelu": {
      const alpha = (node.attributes.activation_params as { floats: readonly number[] }).floats[0]!;
      return b.op("Where", [b.op("Greater", [y, zero]), g, b.op("Mul", [g, b.constFloat(alpha, [])])]);
    }
    case "Sigmoid":
      return b.op("Mul", [g, b.op("Mul", [y, b.op("Sub", [b.constFloat(1, []), y])])]);
    case "Tanh":
      return b.op("Mul", [g, b.op("Sub", [b.constFloat(1, []), b.op("Mul", [y, y])])]);
    default:
      throw new OnnxGraphError(`no gradient for fused activation ${String(node.attributes.activation)}`);
  }
}

/**
 * dL/dW (for the logical OIHW filter of `logicalShape`) and dL/dbias (padded) of a blocked Conv: x padded
 * and channels-last, g channels-first, and each kernel tap one MatMul of g with a shifted window of x (every
 * s-th pixel at stride s).
 *
 * Large images go a few at a time (batched per-image MatMuls `[n, O', H·W] × [n, H·W, C']`, summed over
 * the chunk), so the chunk's copies stay in cache, as in the NCHW engine's chunked-matmul strategy. Small
 * images (at most {@link FOLD_MAX_PIXELS}) fold the batch into the reduction instead: one
 * `[O', N·H·W] × [N·H·W, C']` MatMul per tap, with no per-image partial sums to add up. Measured on the
 * reference model's 16×16 layers: 20–25% less time than chunks; on its 32×32 and 64×64 layers, whose
 * filter counts are too small to split a folded product between threads, 30–40% more.
 */
function blockedFilterGradient(
  b: GraphBuilder,
  x: string,
  g: string,
  kernel: readonly number[],
  pads: readonly number[],
  strides: readonly [number, number],
  nchwInput: boolean,
  withBias: boolean,
  logicalShape: readonly number[],
): { kernel: string; bias?: string } {
  const [n, c] = b.shape(x) as [number, number];
  const [, o, ho, wo] = b.shape(g) as [number, number, number, number];
  const [kh, kw] = kernel as [number, number];
  const pixels = ho * wo;
  /** `v` (blocked, or NCHW for the first layer) padded and channels-last. */
  const paddedChannelsLast = (v: string): string => {
    if (nchwInput) {
      const padded = pads.some((p) => p !== 0) ? b.op("Pad", [v, b.constInt64([0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!])]) : v;
      return b.op("Transpose", [padded], { perm: [0, 2, 3, 1] });
    }
    // ORT's own reorder to channels-last: ~10× faster than the equivalent 5-D Transpose here.
    const nhwc = nchwc(b, "ReorderOutput", [v], { channels: c, channels_last: 1 });
    return pads.some((p) => p !== 0) ? b.op("Pad", [nhwc, b.constInt64([0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!, 0])]) : nhwc;
  };
  const [sh, sw] = strides;
  const unitStride = sh === 1 && sw === 1;
  /** Each tap's shifted `[count, ho, wo, C']` window of xs (every s-th pixel at stride s), reshaped to `shape`. */
  const windows = (xs: string, shape: readonly number[]): string[] => {
    const taps: string[] = [];
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        // At stride 1 the window is contiguous and the Slice needs no steps input.
        const end = b.constInt64([i + sh * (ho - 1) + 1, j + sw * (wo - 1) + 1]);
        const window = b.op("Slice", [xs, b.constInt64([i, j]), end, b.constInt64([1, 2]), ...(unitStride ? [] : [b.constInt64([sh, sw])])]);
        taps.push(b.op("Reshape", [window, b.constInt64([...shape])]));
      }
    return taps;
  };
  /**
   * `g · [window₀ … window₈]` along the last axis. With fewer input channels than the block (the first
   * layer, often 1 channel) the windows are joined first: one MatMul instead of kH·kW thin ones (N = C).
   */
  const tapProducts = (gs: string, taps: string[]): string => {
    const axis = b.shape(taps[0]!).length - 1;
    if (nchwInput) return b.op("MatMul", [gs, b.op("Concat", taps, { axis })]);
    return b.op("Concat", taps.map((window) => b.op("MatMul", [gs, window])), { axis });
  };
  let summed: string;
  let bias: string | undefined;
  if (pixels <= FOLD_MAX_PIXELS) {
    const gt = b.op("Reshape", [b.op("Transpose", [b.op("Reshape", [reorderOutput(b, g, o), b.constInt64([n, o, pixels])])], { perm: [1, 0, 2] }), b.constInt64([o, n * pixels])]);
    summed = tapProducts(gt, windows(paddedChannelsLast(x), [n * pixels, c]));
    if (withBias) bias = b.op("ReduceSum", [gt, b.constInt64([1])], { keepdims: 0 });
  } else {
    const chunk = Math.max(1, Math.min(n, Math.floor(CHUNK_BYTES / (pixels * c * 4)) || 1));
    const partials: string[] = [];
    const biasPartials: string[] = [];
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const part = (v: string): string => (count === n ? v : b.op("Slice", [v, b.constInt64([start]), b.constInt64([start + count]), b.constInt64([0])]));
      const gs = b.op("Reshape", [reorderOutput(b, part(g), o), b.constInt64([count, o, pixels])]);
      partials.push(b.op("ReduceSum", [tapProducts(gs, windows(paddedChannelsLast(part(x)), [count, pixels, c])), b.constInt64([0])], { keepdims: 0 }));
      // The bias gradient sums the same cached chunk of g (a ReduceSum: a ones-column MatMul was slower).
      if (withBias) biasPartials.push(b.op("ReduceSum", [gs, b.constInt64([0, 2])], { keepdims: 0 }));
    }
    summed = partials.reduce((acc, p) => b.op("Add", [acc, p]));
    if (withBias) bias = biasPartials.reduce((acc, p) => b.op("Add", [acc, p]));
  }
  // [O', kH·kW·C'] → the logical OIHW filter [O, C, kH, kW]: each filter's [kH·kW, C'] transposed (as a
  // channels-last image reordered to blocked and back to NCHW: ORT's fast reorders), the padding dropped.
  const [lo, lc] = logicalShape as [number, number];
  const ockt = nchwInput
    ? b.op("Transpose", [b.op("Reshape", [summed, b.constInt64([o, kh * kw, c])])], { perm: [0, 2, 1] })
    : reorderOutput(b, reorderInput(b, b.op("Reshape", [summed, b.constInt64([o, kh * kw, 1, c])]), true), c);
  const padded = b.op("Reshape", [ockt, b.constInt64([o, c, kh, kw])]);
  const kernelGrad = lo === o && lc === c ? padded : b.op("Slice", [padded, b.constInt64([0, 0]), b.constInt64([lo, lc]), b.constInt64([0, 1])]);
  return bias === undefined ? { kernel: kernelGrad } : { kernel: kernelGrad, bias };
}
