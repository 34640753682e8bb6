/**
 * Engine-neutral model descriptions: a model as plain JSON-able data that the TF.js engine builds and the
 * ONNX Runtime engine compiles, plus the initial weights both engines start from.
 *
 * Conventions every engine follows (the contract, in one place):
 * - Tensors are channels-last, NHWC. The input is `[N, height, width, channels]`.
 * - `layers` run in order, each consuming the previous layer's output (the reference models are plain
 *   chains; no skip connections).
 * - Conv kernels are stored HWIO (`[kernelH, kernelW, inChannels, filters]`, TF's layout); biases are
 *   `[filters]`. ONNX's OIHW is a transpose of the same numbers.
 * - `padding: "same"` pads so that `out = ceil(in / stride)`, putting the odd extra pixel at the end
 *   (bottom/right), as TensorFlow does (ONNX `SAME_UPPER`). `"valid"` pads nothing.
 * - The last layer outputs `2·C` channels. `heads` then maps channels `[0, C)` to the object amplitude
 *   through `sigmoid` (range (0, 1)) and channels `[C, 2C)` to the phase through `π·tanh` (range (-π, π); float32 rounding can reach ±π exactly).
 *   The model's output is `concat([amplitude, phase], channel axis)`, shape `[N, H, W, 2C]`.
 * - `perPattern: true` (C > 1 channels of separate patterns, e.g. a gridsize-2 group): each input channel runs
 *   through `layers` alone, with the same weights, as a 1-channel input whose last layer outputs 2 channels
 *   (amplitude, phase); the C results form the usual `[N, H, W, 2C]` output (amplitudes, then phases).
 *   Weight shapes are those of the 1-channel model. Such a model has no dropout layers.
 * - Initial weights come from `initialWeights(description)`: our own PRNG (xoshiro128**), stream per
 *   layer derived from the layer's `init.seed`, so every engine and back end starts from identical
 *   Float32Arrays.
 */
import { SeededRandom } from "@studykit/core";
import { ModelDescriptionError } from "./errors.js";

/** Format version of a description; bumped when the meaning of a field changes. */
export const MODEL_DESCRIPTION_VERSION = 1 as const;

/** Element-wise activations. `linear` is the identity; `leakyRelu` uses the layer's `alpha`. */
export type ActivationName = "linear" | "relu" | "leakyRelu" | "sigmoid" | "tanh";

/**
 * Weight initialisers.
 * - `heNormal`: normal, std `sqrt(2 / fanIn)`, truncated at 2 std (redrawn), as Keras' he_normal.
 * - `glorotUniform`: uniform in `±sqrt(6 / (fanIn + fanOut))`.
 * - `zeros`: all zero.
 * `fanIn = kernelH·kernelW·inChannels`, `fanOut = kernelH·kernelW·filters`.
 */
export type InitializerName = "heNormal" | "glorotUniform" | "zeros";

export interface Conv2dLayer {
  readonly kind: "conv2d";
  /** Unique within the model; weight names are `<name>/kernel` and `<name>/bias`. */
  readonly name: string;
  readonly filters: number;
  readonly kernelSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: "same" | "valid";
  readonly dilation: readonly [number, number];
  readonly activation: ActivationName;
  /** Slope for `activation: "leakyRelu"` (ignored otherwise). */
  readonly alpha?: number;
  readonly useBias: boolean;
  readonly init: { readonly kernel: InitializerName; readonly bias: InitializerName; readonly seed: number };
}

export interface MaxPool2dLayer {
  readonly kind: "maxPool2d";
  readonly name: string;
  readonly poolSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: "same" | "valid";
}

/** Nearest-neighbour upsampling by integer factors (each pixel repeated `size` times per axis). */
export interface Upsample2dLayer {
  readonly kind: "upsample2d";
  readonly name: string;
  readonly size: readonly [number, number];
  readonly interpolation: "nearest";
}

export interface ActivationLayer {
  readonly kind: "activation";
  readonly name: string;
  readonly activation: ActivationName;
  readonly alpha?: number;
}

/**
 * Inverted dropout during training only (kept values scaled by `1 / (1 - rate)`), identity at inference.
 * Masks come from our PRNG stream `(seed, step)`, handed to the engine with each batch.
 */
export interface DropoutLayer {
  readonly kind: "dropout";
  readonly name: string;
  readonly rate: number;
  readonly seed: number;
}

export type LayerDescription = Conv2dLayer | MaxPool2dLayer | Upsample2dLayer | ActivationLayer | DropoutLayer;

/** Output heads applied to the last layer's `2·C` channels (see the module doc). */
export interface OutputHeads {
  readonly kind: "amplitudePhase";
  /** Channels per head (C); the last layer must output `2·channels`. */
  readonly channels: number;
  readonly amplitude: "sigmoid";
  /** `piTanh` is `π·tanh(x)`. */
  readonly phase: "piTanh";
}

/** A whole model as plain data. */
export interface ModelDescription {
  readonly formatVersion: typeof MODEL_DESCRIPTION_VERSION;
  readonly name: string;
  /** Channels-last input shape, one sample. */
  readonly input: { readonly height: number; readonly width: number; readonly channels: number };
  readonly layers: readonly LayerDescription[];
  readonly heads: OutputHeads;
  /** The seed the per-layer seeds were derived from (recorded for the identity). */
  readonly seed: number;
  /** Each of the C input channels through the same layers alone (see the module doc); absent: false. */
  readonly perPattern?: boolean;
}

/**
 * The model one forward pass of the layers sees: the description itself, or for a `perPattern` model the
 * same layers with one input channel and one channel per head (what each of its C patterns runs through).
 */
export function patternDescription(description: ModelDescription): ModelDescription {
  if (description.perPattern !== true) return description;
  const { perPattern: _perPattern, ...rest } = description;
  return { ...rest, input: { ...description.input, channels: 1 }, heads: { ...description.heads, channels: 1 } };
}

/** A named weight tensor as plain data: `values.length === product(shape)`, row-major. */
export interface NamedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Shape of one sample after a layer, `[height, width, channels]`. */
export type SampleShape = readonly [number, number, number];

function outSize(size: number, kernel: number, stride: number, dilation: number, padding: "same" | "valid"): number {
  const effective = (kernel - 1) * dilation + 1;
  return padding === "same" ? Math.ceil(size / stride) : Math.floor((size - effective) / stride) + 1;
}

const positiveInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
const pair = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && v.every(positiveInt);
const ACTIVATIONS: readonly ActivationName[] = ["linear", "relu", "leakyRelu", "sigmoid", "tanh"];
const INITIALIZERS: readonly InitializerName[] = ["heNormal", "glorotUniform", "zeros"];

/**
 * Checks a description and returns each layer's output shape. Gathers every problem and throws one
 * `E_MODEL_DESCRIPTION` naming them all (capped at 20).
 */
export function validateModelDescription(description: ModelDescription): SampleShape[] {
  if (description.perPattern !== undefined && typeof description.perPattern !== "boolean") {
    throw new ModelDescriptionError(`model ${JSON.stringify(description.name)}: perPattern must be a boolean, got ${JSON.stringify(description.perPattern)}`);
  }
  if (description.perPattern === true) {
    if (!positiveInt(description.input?.channels) || !positiveInt(description.heads?.channels) || description.input.channels !== description.heads.channels) {
      throw new ModelDescriptionError(`model ${JSON.stringify(description.name)}: a perPattern model needs input.channels = heads.channels (C patterns in, C patches out); got ${JSON.stringify(description.input?.channels)} and ${JSON.stringify(description.heads?.channels)}`);
    }
    const dropout = (description.layers ?? []).find((layer) => layer?.kind === "dropout");
    if (dropout) throw new ModelDescriptionError(`model ${JSON.stringify(description.name)}: a perPattern model cannot have dropout (layer ${JSON.stringify(dropout.name)}): its masks are per sample, not per pattern`);
    return validateModelDescription(patternDescription(description));
  }
  const problems: string[] = [];
  const d = description;
  if (d.formatVersion !== MODEL_DESCRIPTION_VERSION) problems.push(`formatVersion must be ${MODEL_DESCRIPTION_VERSION}, got ${String(d.formatVersion)}`);
  if (!d.input || !positiveInt(d.input.height) || !positiveInt(d.input.width) || !positiveInt(d.input.channels)) {
    problems.push(`input must have positive integer height, width, channels; got ${JSON.stringify(d.input)}`);
    throw new ModelDescriptionError(`model ${JSON.stringify(d.name)}: ${problems.join("; ")}`);
  }
  if (!Number.isSafeInteger(d.seed) || d.seed < 0) problems.push(`seed must be a non-negative integer, got ${String(d.seed)}`);
  const shapes: SampleShape[] = [];
  let shape: SampleShape = [d.input.height, d.input.width, d.input.channels];
  const names = new Set<string>();
  (d.layers ?? []).forEach((layer, i) => {
    const where = `layers[${i}] (${JSON.stringify(layer?.name)})`;
    if (typeof layer?.name !== "string" || layer.name === "" || layer.name.includes("/")) problems.push(`${where}: name must be a non-empty string without "/"`);
    else if (names.has(layer.name)) problems.push(`${where}: duplicate layer name`);
    else names.add(layer.name);
    const [h, w, c] = shape;
    switch (layer?.kind) {
      case "conv2d": {
        if (!positiveInt(layer.filters)) problems.push(`${where}: filters must be a positive integer, got ${String(layer.filters)}`);
        if (!pair(layer.kernelSize) || !pair(layer.strides) || !pair(layer.dilation)) problems.push(`${where}: kernelSize, strides and dilation must be pairs of positive integers`);
        if (layer.padding !== "same" && layer.padding !== "valid") problems.push(`${where}: padding must be "same" or "valid", got ${JSON.stringify(layer.padding)}`);
        if (!ACTIVATIONS.includes(layer.activation)) problems.push(`${where}: unknown activation ${JSON.stringify(layer.activation)} (use ${ACTIVATIONS.join(", ")})`);
        if (!layer.init || !INITIALIZERS.includes(layer.init.kernel) || !INITIALIZERS.includes(layer.init.bias) || !Number.isSafeInteger(layer.init.seed)) problems.push(`${where}: init needs kernel/bias in ${INITIALIZERS.join(", ")} and an integer seed`);
        if (problems.length === 0) {
          shape = [
            outSize(h, layer.kernelSize[0], layer.strides[0], layer.dilation[0], layer.padding),
            outSize(w, layer.kernelSize[1], layer.strides[1], layer.dilation[1], layer.padding),
            layer.filters,
          ];
        }
        break;
      }
      case "maxPool2d":
        if (!pair(layer.poolSize) || !pair(layer.strides)) problems.push(`${where}: poolSize and strides must be pairs of positive integers`);
        else shape = [outSize(h, layer.poolSize[0], layer.strides[0], 1, layer.padding), outSize(w, layer.poolSize[1], layer.strides[1], 1, layer.padding), c];
        break;
      case "upsample2d":
        if (!pair(layer.size) || layer.interpolation !== "nearest") problems.push(`${where}: size must be a pair of positive integers and interpolation "nearest"`);
        else shape = [h * layer.size[0], w * layer.size[1], c];
        break;
      case "activation":
        if (!ACTIVATIONS.includes(layer.activation)) problems.push(`${where}: unknown activation ${JSON.stringify(layer.activation)} (use ${ACTIVATIONS.join(", ")})`);
        break;
      case "dropout":
        if (!(layer.rate >= 0 && layer.rate < 1)) problems.push(`${where}: rate must be in [0, 1), got ${String(layer.rate)}`);
        break;
      default:
        problems.push(`${where}: unknown layer kind ${JSON.stringify((layer as { kind?: unknown })?.kind)}`);
    }
    if (shape[0] <= 0 || shape[1] <= 0) problems.push(`${where}: output would be empty (${shape.join("×")})`);
    shapes.push(shape);
  });
  const heads = d.heads;
  if (heads?.kind !== "amplitudePhase" || !positiveInt(heads.channels)) problems.push(`heads must be {kind: "amplitudePhase", channels: C}`);
  else if (shape[2] !== 2 * heads.channels) problems.push(`the last layer outputs ${shape[2]} channels but heads need 2·${heads.channels} = ${2 * heads.channels}`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    if (problems.length > 20) shown.push(`… and ${problems.length - 20} more`);
    throw new ModelDescriptionError(`model ${JSON.stringify(d.name)} is invalid: ${shown.join("; ")}`);
  }
  return shapes;
}

/** Shapes and initialisers of every weight, in the fixed order engines use (layer order, kernel then bias). */
export function weightSpecs(description: ModelDescription): Array<{ name: string; shape: number[]; layer: string }> {
  const shapes = validateModelDescription(description);
  const specs: Array<{ name: string; shape: number[]; layer: string }> = [];
  let inChannels = patternDescription(description).input.channels;
  description.layers.forEach((layer, i) => {
    if (layer.kind === "conv2d") {
      specs.push({ name: `${layer.name}/kernel`, shape: [layer.kernelSize[0], layer.kernelSize[1], inChannels, layer.filters], layer: layer.name });
      if (layer.useBias) specs.push({ name: `${layer.name}/bias`, shape: [layer.filters], layer: layer.name });
    }
    inChannels = shapes[i]![2];
  });
  return specs;
}

/** Number of trainable parameters. */
export function countParameters(description: ModelDescription): number {
  return weightSpecs(description).reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Multiply-adds per sample of a model's convolutions (see {@link countMultiplyAdds}). */
export interface MultiplyAddCount {
  /** Forward pass: Σ over conv layers of output pixels · filters · kH · kW · input channels. */
  readonly forward: number;
  /**
   * One training step: the forward pass, every conv's filter gradient (the same count as its forward
   * pass) and every conv's input gradient except where the input is the model's input (no gradient is
   * needed there, so no engine computes it).
   */
  readonly training: number;
}

/**
 * Whether a ×2 nearest `upsample` followed by `conv` can be computed at the low resolution as one 2×2
 * conv per output phase (a 3×3, stride-1, undilated "same" conv): 16 instead of 36 multiply-adds per
 * low-resolution pixel, channel pair and output (see the ONNX compiler's `compileUpsampledConv`).
 */
export function fusesAsSubpixel(upsample: Upsample2dLayer, conv: Conv2dLayer): boolean {
  const is = (pair: readonly number[], a: number, b: number) => pair[0] === a && pair[1] === b;
  return is(upsample.size, 2, 2) && is(conv.kernelSize, 3, 3) && is(conv.strides, 1, 1) && is(conv.dilation, 1, 1) && conv.padding === "same";
}

/**
 * The convolutions' multiply-adds per sample, the work any engine doing direct (im2col or GEMM)
 * convolution must do; element-wise ops, pooling and the loss are not counted (they are memory-bound and
 * a few percent of it). Benchmarks divide by it to report GFLOP/s (2 FLOPs per multiply-add). With
 * `subpixelUpsampleConv`, every ×2 upsample + 3×3 conv pair ({@link fusesAsSubpixel}) counts as
 * computed at the low resolution (16/36 of its direct count): the least work of an engine that does so.
 */
export function countMultiplyAdds(description: ModelDescription, options: { readonly subpixelUpsampleConv?: boolean } = {}): MultiplyAddCount {
  const shapes = validateModelDescription(description);
  let forward = 0;
  let inputGradients = 0;
  let inChannels = patternDescription(description).input.channels;
  let seenConv = false;
  description.layers.forEach((layer, i) => {
    const [h, w, c] = shapes[i]!;
    if (layer.kind === "conv2d") {
      const previous = description.layers[i - 1];
      const subpixel = options.subpixelUpsampleConv === true && previous?.kind === "upsample2d" && fusesAsSubpixel(previous, layer);
      const count = (h * w * c * layer.kernelSize[0] * layer.kernelSize[1] * inChannels * (subpixel ? 16 : 36)) / 36;
      forward += count;
      // Layers before the first conv (activations, pooling) carry no weights, so the first conv's input
      // needs no gradient either.
      if (seenConv) inputGradients += count;
      seenConv = true;
    }
    inChannels = c;
  });
  // A perPattern model runs its layers once per pattern.
  const passes = description.perPattern === true ? description.input.channels : 1;
  return { forward: passes * forward, training: passes * (2 * forward + inputGradients) };
}

function fill(values: Float32Array, init: InitializerName, fanIn: number, fanOut: number, prng: SeededRandom): void {
  switch (init) {
    case "zeros":
      values.fill(0);
      return;
    case "heNormal": {
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < values.length; i++) {
        let z = prng.nextNormal();
        while (Math.abs(z) > 2) z = prng.nextNormal();
        values[i] = z * std;
      }
      return;
    }
    case "glorotUniform": {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < values.length; i++) values[i] = (prng.nextDouble() * 2 - 1) * limit;
      return;
    }
  }
}

/**
 * The initial weights for a description, in `weightSpecs` order. Each layer draws from its own stream
 * `SeededRandom.derive(init.seed, layerName, "kernel" | "bias")`, so the result depends only on the description.
 */
export function initialWeights(description: ModelDescription): NamedWeight[] {
  const specs = weightSpecs(description);
  const byName = new Map(description.layers.map((l) => [l.name, l]));
  return specs.map((spec) => {
    const layer = byName.get(spec.layer) as Conv2dLayer;
    const values = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    const isKernel = spec.name.endsWith("/kernel");
    const [kh, kw, cin, cout] = isKernel ? spec.shape : [layer.kernelSize[0], layer.kernelSize[1], 0, layer.filters];
    const inChannels = isKernel ? cin! : spec.shape[0]!;
    fill(values, isKernel ? layer.init.kernel : layer.init.bias, kh! * kw! * (isKernel ? inChannels : 1), kh! * kw! * cout!, SeededRandom.derive(layer.init.seed, layer.name, isKernel ? "kernel" : "bias"));
    return { name: spec.name, shape: spec.shape, values };
  });
}
