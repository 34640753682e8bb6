/**
 * Compiles an engine-neutral model description into ONNX nodes.
 *
 * Layout: the description is channels-last (NHWC, HWIO kernels, see `model-description.ts`), ONNX Runtime's
 * CPU convolutions are channels-first (NCHW, OIHW). The graph transposes the input once to NCHW at the
 * boundary and the output back to NHWC, and stores kernels as OIHW, so every layer inside runs in ORT's
 * native layout (where its NCHWc graph transformer can fuse Conv+activation and pooling).
 */
import type { ActivationName, Conv2dLayer, ModelDescription, NamedWeight } from "../../../model-description.js";
import { fusesAsSubpixel, patternDescription, validateModelDescription } from "../../../model-description.js";
import { type GraphBuilder } from "./graph-builder.js";
import { OnnxGraphError } from "../../../errors.js";
import { blockedConv, blockedMaxPool, blockedUpsample, narrowConv, reorderInput, reorderOutput } from "./nchwc.js";

/** Explicit [begin, end] padding for one spatial axis, TensorFlow's `same` rule (extra pixel at the end). */
export function samePadding(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** HWIO kernel values → OIHW. */
export function hwioToOihw(values: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + h) * kw + w] = values[((h * kw + w) * ci + i) * co + o]!;
  return out;
}

/** OIHW kernel values → HWIO (`shape` is the HWIO shape). */
export function oihwToHwio(values: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((h * kw + w) * ci + i) * co + o] = values[((o * ci + i) * kh + h) * kw + w]!;
  return out;
}

/** The ONNX-side shape of a weight: kernels OIHW, biases unchanged. */
export function onnxWeightShape(weight: { name: string; shape: readonly number[] }): number[] {
  if (weight.name.endsWith("/kernel")) {
    const [kh, kw, ci, co] = weight.shape as [number, number, number, number];
    return [co, ci, kh, kw];
  }
  return [...weight.shape];
}

export function applyActivation(b: GraphBuilder, x: string, activation: ActivationName, alpha = 0.2): string {
  switch (activation) {
    case "linear":
      return x;
    case "relu":
      return b.op("Relu", [x]);
    case "leakyRelu":
      return b.op("LeakyRelu", [x], { alpha: { float: alpha } });
    case "sigmoid":
      return b.op("Sigmoid", [x]);
    case "tanh":
      return b.op("Tanh", [x]);
  }
}

export interface ForwardOptions {
  /** Graph value holding each weight (ONNX layout), by description weight name. */
  readonly weights: ReadonlyMap<string, string>;
  /** Per dropout layer, a graph value with the keep-mask (NCHW, already scaled); absent → identity. */
  readonly dropoutMasks?: ReadonlyMap<string, string>;
  /** Emit MaxPool's Indices output (training graphs: its gradient scatters through them). */
  readonly poolIndices?: boolean;
  /**
   * Lay activations out in ORT's blocked NCHWc layout with the builder's `nchwcBlock` (see nchwc.ts; the
   * caller checks `nchwcUnsupportedReason` first). Dropout masks are then channels-last inputs.
   */
  readonly nchwc?: boolean;
  /**
   * Compile each ×2 nearest upsample followed by a 3×3 "same" conv as one sub-pixel conv at the low
   * resolution ({@link compileUpsampledConv}). In an exported model the trained 3×3 kernels stay the
   * initializers and ORT folds the phase kernels from them at load; in a blocked training graph the phase
   * kernels are computed from the weight inputs each step (a small MatMul), and differentiated through it.
   */
  readonly subpixelUpsampleConv?: boolean;
}

/**
 * Appends the model's layers and heads to `b`, from an NCHW input value to the NCHW output
 * `[N, 2C, H, W]` (amplitude channels then phase channels).
 */
export function compileForward(b: GraphBuilder, description: ModelDescription, inputNchw: string, options: ForwardOptions): string {
  if (description.perPattern === true) {
    // [B, C, H, W] → [B·C, 1, H, W] through the 1-channel model → [B·C, 2, H, W] → [B, 2, C, H, W] →
    // [B, 2C, H, W]: amplitudes of the C patterns, then their phases.
    const { height, width, channels } = description.input;
    const patterns = b.op("Reshape", [inputNchw, b.constInt64([-1, 1, height, width])]);
    const each = compileForward(b, patternDescription(description), patterns, options);
    const split = b.op("Reshape", [each, b.constInt64([-1, channels, 2, height, width])]);
    return b.op("Reshape", [b.op("Transpose", [split], { perm: [0, 2, 1, 3, 4] }), b.constInt64([-1, 2 * channels, height, width])]);
  }
  if (options.nchwc) return compileBlockedForward(b, description, inputNchw, options);
  const shapes = validateModelDescription(description);
  let x = inputNchw;
  let [height, width] = [description.input.height, description.input.width];
  for (let index = 0; index < description.layers.length; index++) {
    const layer = description.layers[index]!;
    const next = description.layers[index + 1];
    if (options.subpixelUpsampleConv && layer.kind === "upsample2d" && next?.kind === "conv2d" && fusesAsSubpixel(layer, next)) {
      x = compileUpsampledConv(b, next, x, options.weights);
      index++;
      [height, width] = [shapes[index]![0], shapes[index]![1]];
      continue;
    }
    switch (layer.kind) {
      case "conv2d":
        x = compileConv(b, layer, x, height, width, options.weights);
        break;
      case "maxPool2d": {
        const [ph, pw] = padsFor(layer.padding, height, width, layer.poolSize, layer.strides, [1, 1]);
        const attributes = { kernel_shape: [...layer.poolSize], strides: [...layer.strides], pads: [ph[0], pw[0], ph[1], pw[1]] };
        // Training graphs keep the argmax indices for a scatter gradient; inference graphs leave them out
        // so ORT can run its blocked (NCHWc) pooling.
        x = options.poolIndices ? b.node("MaxPool", [x], attributes, { outputs: 2 })[0]! : b.op("MaxPool", [x], attributes);
        break;
      }
      case "upsample2d":
        x = b.op("Resize", [x, "", b.constFloat32([1, 1, layer.size[0], layer.size[1]])], {
          mode: "nearest",
          coordinate_transformation_mode: "asymmetric",
          nearest_mode: "floor",
        });
        break;
      case "activation":
        x = applyActivation(b, x, layer.activation, layer.alpha);
        break;
      case "dropout": {
        const mask = options.dropoutMasks?.get(layer.name);
        if (mask !== undefined) x = b.op("Mul", [x, mask]);
        break;
      }
    }
    [height, width] = [shapes[index]![0], shapes[index]![1]];
  }
  const c = description.heads.channels;
  const [amplitudeLogits, phaseLogits] = b.node("Split", [x, b.constInt64([c, c])], { axis: 1 }, { outputs: 2 }) as [string, string];
  const amplitude = b.op("Sigmoid", [amplitudeLogits]);
  const phase = b.op("Mul", [b.op("Tanh", [phaseLogits]), b.constFloat(Math.PI)]);
  return b.op("Concat", [amplitude, phase], { axis: 1 });
}

/** `compileForward` in the blocked layout: blocked from the first conv to the last layer, NCHW heads. */
function compileBlockedForward(b: GraphBuilder, description: ModelDescription, inputNchw: string, options: ForwardOptions): string {
  const shapes = validateModelDescription(description);
  let x = inputNchw;
  let channels = description.input.channels;
  let blocked = false;
  if (channels >= b.nchwcBlock) {
    x = reorderInput(b, x);
    blocked = true;
  }
  let [height, width] = [description.input.height, description.input.width];
  let fused: Conv2dLayer | undefined;
  const onlyActivationsAfter = (index: number): boolean => description.layers.slice(index + 1).every((l) => l.kind === "activation");
  description.layers.forEach((layer, index) => {
    if (layer === fused) {
      // Already computed with the upsample before it.
      [height, width, channels] = [shapes[index]![0], shapes[index]![1], shapes[index]![2]];
      return;
    }
    const next = description.layers[index + 1];
    const subpixel = options.subpixelUpsampleConv === true && blocked && layer.kind === "upsample2d" && next?.kind === "conv2d" && fusesAsSubpixel(layer, next);
    const wholeBlocks = subpixel && next.filters % b.nchwcBlock === 0;
    if (subpixel && (wholeBlocks || onlyActivationsAfter(index + 1))) {
      if (wholeBlocks) {
        x = compileBlockedUpsampledConv(b, next, x, options.weights);
      } else {
        // The output layer (2·C filters): its 4 phases fill a block at the low resolution, and the
        // result leaves the blocked layout there, moving a quarter of the upsampled layer's pixels.
        x = compileUpsampledConv(b, next, x, options.weights, true);
        blocked = false;
      }
      fused = next;
      [height, width] = [shapes[index]![0], shapes[index]![1]];
      return;
    }
    switch (layer.kind) {
      case "conv2d": {
        const { kernel, bias } = convWeights(layer, options.weights);
        const [ph, pw] = padsFor(layer.padding, height, width, layer.kernelSize, layer.strides, layer.dilation);
        const geometry = { kernel: layer.kernelSize, pads: [ph[0], pw[0], ph[1], pw[1]], strides: layer.strides };
        if (blocked && onlyActivationsAfter(index) && layer.filters < b.nchwcBlock && layer.strides.every((s) => s === 1)) {
          // The output layer (2·C filters): an NCHW result without a mostly-empty filter block.
          x = applyActivation(b, narrowConv(b, x, kernel, bias, geometry), layer.activation, layer.alpha);
          blocked = false;
        } else {
          x = blockedConv(b, x, kernel, bias, geometry, layer.activation, layer.alpha ?? 0.2);
          blocked = true;
        }
        break;
      }
      case "maxPool2d":
        x = blockedMaxPool(b, x, layer.poolSize);
        break;
      case "upsample2d":
        x = blockedUpsample(b, x, layer.size);
        break;
      case "activation":
        // Element-wise: the same on the blocked layout (padded channels only ever meet zero filter taps).
        x = applyActivation(b, x, layer.activation, layer.alpha);
        break;
      case "dropout": {
        const mask = options.dropoutMasks?.get(layer.name);
        if (mask !== undefined) x = b.op("Mul", [x, blocked ? reorderInput(b, mask, true) : b.op("Transpose", [mask], { perm: [0, 3, 1, 2] })]);
        break;
      }
    }
    [height, width, channels] = [shapes[index]![0], shapes[index]![1], shapes[index]![2]];
  });
  if (blocked) x = reorderOutput(b, x, channels);
  const c = description.heads.channels;
  const [amplitudeLogits, phaseLogits] = b.node("Split", [x, b.constInt64([c, c])], { axis: 1 }, { outputs: 2 }) as [string, string];
  const amplitude = b.op("Sigmoid", [amplitudeLogits]);
  const phase = b.op("Mul", [b.op("Tanh", [phaseLogits]), b.constFloat(Math.PI)]);
  return b.op("Concat", [amplitude, phase], { axis: 1 });
}

/** Geometry of the 2×2 phase conv of a sub-pixel upsample + conv (one extra row and column per side). */
const PHASE_CONV = { kernel: [2, 2], pads: [1, 1, 1, 1] } as const;

/**
 * A ×2 nearest upsample followed by a 3×3 "same" conv, computed at the low resolution.
 *
 * Each output pixel `(2i + a, 2j + b)` sees low-resolution rows `i - 1 + a .. i + a` and columns
 * `j - 1 + b .. j + b` only, through the 3×3 taps summed per low-resolution pixel: rows of phase `a = 0`
 * take tap row 0 and tap rows 1 + 2, phase `a = 1` tap rows 0 + 1 and tap row 2 (likewise columns). So
 * one 2×2 conv with 4·Cout filters (one set per phase) and padding 1, at the low resolution, gives
 * every phase; phase `(a, b)` is its output shifted by `(a, b)`, and the phases interleave into the
 * upsampled image. That is 16 instead of 36 multiply-adds per low-resolution pixel, channel pair and
 * output, no upsampled input, and the same sums up to float rounding order.
 *
 * The phase kernels are computed in the graph from the layer's 3×3 kernel (a MatMul with a constant
 * 0/1 matrix), which ORT constant-folds when the kernel is an initializer.
 */
function compileUpsampledConv(b: GraphBuilder, layer: Conv2dLayer, x: string, weights: ReadonlyMap<string, string>, blockedInput = false): string {
  const { kernel, bias } = convWeights(layer, weights);
  const [, , height, width] = b.info(x).shape;
  const outChannels = layer.filters;
  const { phaseKernel, phaseBias } = subpixelWeights(b, kernel, bias);
  // The activation is element-wise, so applied once to all phases (before the border rows and columns
  // are dropped): fused into the blocked Conv, or after the NCHW one.
  let activated: string;
  if (blockedInput) {
    activated = reorderOutput(b, blockedConv(b, x, phaseKernel, phaseBias, PHASE_CONV, layer.activation, layer.alpha ?? 0.2), 4 * outChannels);
  } else {
    const inputs = phaseBias === undefined ? [x, phaseKernel] : [x, phaseKernel, phaseBias];
    const conv = b.op("Conv", inputs, { kernel_shape: [...PHASE_CONV.kernel], strides: [1, 1], dilations: [1, 1], pads: [...PHASE_CONV.pads] });
    activated = applyActivation(b, conv, layer.activation, layer.alpha);
  }
  const phases: string[] = [];
  for (let a = 0; a < 2; a++)
    for (let bb = 0; bb < 2; bb++) {
      const phase = a * 2 + bb;
      phases.push(b.op("Slice", [activated, b.constInt64([phase * outChannels, a, bb]), b.constInt64([(phase + 1) * outChannels, a + height!, bb + width!]), b.constInt64([1, 2, 3])]));
    }
  // Channels (a, b, Cout) → pixel (2i + a, 2j + b) of channel Cout: DepthToSpace's "DCR" order.
  return b.op("DepthToSpace", [b.op("Concat", phases, { axis: 1 })], { blocksize: 2, mode: "DCR" });
}

/**
 * {@link compileUpsampledConv} in the blocked layout (training graphs): the same 2×2 phase conv as a
 * blocked Conv (activation fused), whose 4·Cout output channels are whole blocks per phase (Cout is a
 * multiple of the block); the phases interleave by Split, Slice and two Concats on the 7-D view
 * `[N, Cout/B, H, 2, W, 2, B]`, which is the upsampled blocked tensor's memory order, so no Transpose is
 * needed, and their gradients are the same few copies backwards (Split, Pad, Concat).
 */
function compileBlockedUpsampledConv(b: GraphBuilder, layer: Conv2dLayer, x: string, weights: ReadonlyMap<string, string>): string {
  const { kernel, bias } = convWeights(layer, weights);
  const [n, , height, width] = b.shape(x) as [number, number, number, number];
  const block = b.nchwcBlock;
  const outBlocks = layer.filters / block;
  const { phaseKernel, phaseBias } = subpixelWeights(b, kernel, bias);
  const z = blockedConv(b, x, phaseKernel, phaseBias, PHASE_CONV, layer.activation, layer.alpha ?? 0.2);
  const z5 = b.op("Reshape", [z, b.constInt64([n, 4 * outBlocks, height + 1, width + 1, block])]);
  const parts = b.node("Split", [z5, b.constInt64([outBlocks, outBlocks, outBlocks, outBlocks])], { axis: 1 }, { outputs: 4 });
  const phase = (a: number, bb: number): string => {
    const cropped = b.op("Slice", [parts[a * 2 + bb]!, b.constInt64([a, bb]), b.constInt64([a + height, bb + width]), b.constInt64([2, 3])]);
    return b.op("Reshape", [cropped, b.constInt64([n, outBlocks, height, 1, width, 1, block])]);
  };
  const rows = [0, 1].map((a) => b.op("Concat", [phase(a, 0), phase(a, 1)], { axis: 5 }));
  const interleaved = b.op("Concat", rows, { axis: 3 });
  return b.op("Reshape", [interleaved, b.constInt64([n, layer.filters, 2 * height, 2 * width])]);
}

/**
 * The 2×2 phase kernels `[4·Cout, Cin, 2, 2]` (phase-major) of a 3×3 OIHW kernel, and the bias repeated
 * per phase, for {@link compileUpsampledConv}.
 */
function subpixelWeights(b: GraphBuilder, kernel: string, bias: string | undefined): { phaseKernel: string; phaseBias: string | undefined } {
  const [outChannels, inChannels] = b.shape(kernel) as [number, number];
  // Which 3×3 tap row (column) feeds phase a's 2-tap row r: TAPS[a][r].
  const TAPS = [
    [[0], [1, 2]],
    [[0, 1], [2]],
  ];
  // mixing[(y, x), (phase, r, c)] = 1 where tap (y, x) feeds tap (r, c) of phase (a, b) = phase.
  const mixing = new Array<number>(9 * 16).fill(0);
  for (let a = 0; a < 2; a++)
    for (let bb = 0; bb < 2; bb++)
      for (let r = 0; r < 2; r++)
        for (let c = 0; c < 2; c++)
          for (const y of TAPS[a]![r]!) for (const xx of TAPS[bb]![c]!) mixing[(y * 3 + xx) * 16 + ((a * 2 + bb) * 2 + r) * 2 + c] = 1;
  const flat = b.op("Reshape", [kernel, b.constInt64([outChannels * inChannels, 9])]);
  // One MatMul per phase, joined phase-major: ~3× faster than one MatMul for all phases followed by the
  // Transpose that brings the phases out, which moves 4 floats at a time.
  const phases = [0, 1, 2, 3].map((phase) => {
    const columns = new Array<number>(9 * 4).fill(0);
    for (let t = 0; t < 9; t++) for (let tap = 0; tap < 4; tap++) columns[t * 4 + tap] = mixing[t * 16 + phase * 4 + tap]!;
    return b.op("Reshape", [b.op("MatMul", [flat, b.constFloat(columns, [9, 4])]), b.constInt64([outChannels, inChannels, 2, 2])]);
  });
  const phaseKernel = b.op("Concat", phases, { axis: 0 });
  return { phaseKernel, phaseBias: bias === undefined ? undefined : b.op("Concat", [bias, bias, bias, bias], { axis: 0 }) };
}

function padsFor(padding: "same" | "valid", height: number, width: number, kernel: readonly [number, number], strides: readonly [number, number], dilation: readonly [number, number]): [[number, number], [number, number]] {
  if (padding === "valid") return [[0, 0], [0, 0]];
  return [samePadding(height, kernel[0], strides[0], dilation[0]), samePadding(width, kernel[1], strides[1], dilation[1])];
}

/** The graph values of a conv layer's kernel and (with `useBias`) bias. */
function convWeights(layer: Conv2dLayer, weights: ReadonlyMap<string, string>): { kernel: string; bias: string | undefined } {
  const kernel = weights.get(`${layer.name}/kernel`);
  if (kernel === undefined) throw new OnnxGraphError(`no graph value for weight ${layer.name}/kernel`);
  if (!layer.useBias) return { kernel, bias: undefined };
  const bias = weights.get(`${layer.name}/bias`);
  if (bias === undefined) throw new OnnxGraphError(`no graph value for weight ${layer.name}/bias`);
  return { kernel, bias };
}

function compileConv(b: GraphBuilder, layer: Conv2dLayer, x: string, height: number, width: number, weights: ReadonlyMap<string, string>): string {
  const { kernel, bias } = convWeights(layer, weights);
  const inputs = bias === undefined ? [x, kernel] : [x, kernel, bias];
  const [ph, pw] = padsFor(layer.padding, height, width, layer.kernelSize, layer.strides, layer.dilation);
  const y = b.op("Conv", inputs, {
    kernel_shape: [...layer.kernelSize],
    strides: [...layer.strides],
    dilations: [...layer.dilation],
    pads: [ph[0], pw[0], ph[1], pw[1]],
  });
  return applyActivation(b, y, layer.activation, layer.alpha);
}

/** Checks that `weights` match the description's specs (names, shapes, lengths); collects every problem. */
export function checkWeights(description: ModelDescription, weights: readonly NamedWeight[], specs: ReadonlyArray<{ name: string; shape: readonly number[] }>): string[] {
  const problems: string[] = [];
  const byName = new Map(weights.map((w) => [w.name, w]));
  for (const spec of specs) {
    const w = byName.get(spec.name);
    if (!w) problems.push(`missing weight ${spec.name}`);
    else if (w.shape.length !== spec.shape.length || w.shape.some((d, i) => d !== spec.shape[i])) problems.push(`weight ${spec.name} has shape [${w.shape.join(",")}], model ${description.name} needs [${spec.shape.join(",")}]`);
    else if (w.values.length !== spec.shape.reduce((a, c) => a * c, 1)) problems.push(`weight ${spec.name} has ${w.values.length} values for shape [${spec.shape.join(",")}]`);
  }
  for (const w of weights) if (!specs.some((s) => s.name === w.name)) problems.push(`unexpected weight ${w.name}`);
  return problems;
}
