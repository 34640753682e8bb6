/**
 * Compiles an engine-neutral model description into ONNX nodes.
 *
 * Layout: the description is channels-last (NHWC, HWIO kernels, see `model-description.ts`), ONNX Runtime's
 * CPU convolutions are channels-first (NCHW, OIHW). The graph transposes the input once to NCHW at the
 * boundary and the output back to NHWC, and stores kernels as OIHW, so every layer inside runs in ORT's
 * native layout (where its NCHWc graph transformer can fuse Conv+activation and pooling).
 */
import type { ActivationName, Conv2dLayer, ModelDescription, NamedWeight } from "../../model-description.js";
import { validateModelDescription } from "../../model-description.js";
import { OnnxGraphError, type GraphBuilder } from "./graph-builder.js";
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
}

/**
 * Appends the model's layers and heads to `b`, from an NCHW input value to the NCHW output
 * `[N, 2C, H, W]` (amplitude channels then phase channels).
 */
export function compileForward(b: GraphBuilder, description: ModelDescription, inputNchw: string, options: ForwardOptions): string {
  if (options.nchwc) return compileBlockedForward(b, description, inputNchw, options);
  const shapes = validateModelDescription(description);
  let x = inputNchw;
  let [height, width] = [description.input.height, description.input.width];
  description.layers.forEach((layer, index) => {
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
  });
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
  description.layers.forEach((layer, index) => {
    switch (layer.kind) {
      case "conv2d": {
        const kernel = options.weights.get(`${layer.name}/kernel`);
        const bias = layer.useBias ? options.weights.get(`${layer.name}/bias`) : undefined;
        if (kernel === undefined || (layer.useBias && bias === undefined)) throw new OnnxGraphError(`no graph value for the weights of ${layer.name}`);
        const [ph, pw] = padsFor(layer.padding, height, width, layer.kernelSize, layer.strides, layer.dilation);
        const geometry = { kernel: layer.kernelSize, pads: [ph[0], pw[0], ph[1], pw[1]] };
        const lastConv = description.layers.slice(index + 1).every((l) => l.kind === "activation");
        if (blocked && lastConv && layer.filters < b.nchwcBlock) {
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

function padsFor(padding: "same" | "valid", height: number, width: number, kernel: readonly [number, number], strides: readonly [number, number], dilation: readonly [number, number]): [[number, number], [number, number]] {
  if (padding === "valid") return [[0, 0], [0, 0]];
  return [samePadding(height, kernel[0], strides[0], dilation[0]), samePadding(width, kernel[1], strides[1], dilation[1])];
}

function compileConv(b: GraphBuilder, layer: Conv2dLayer, x: string, height: number, width: number, weights: ReadonlyMap<string, string>): string {
  const kernel = weights.get(`${layer.name}/kernel`);
  if (kernel === undefined) throw new OnnxGraphError(`no graph value for weight ${layer.name}/kernel`);
  const inputs = [x, kernel];
  if (layer.useBias) {
    const bias = weights.get(`${layer.name}/bias`);
    if (bias === undefined) throw new OnnxGraphError(`no graph value for weight ${layer.name}/bias`);
    inputs.push(bias);
  }
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
