/**
 * The ptychography model presets of the study: encoder-decoders, as `@studykit/trainer` model descriptions,
 * that map a diffraction patch (`size`×`size`, `channels` = gridsize² patterns) to the object's amplitude and
 * phase. `reference` is the network the full study trains and the benchmarks measure; `compactStrided` (the
 * quick study's) sees nearly the whole pattern at a tenth of the reference's cost; `compact` is its max-pool
 * predecessor; `tiny` trains in seconds, for tests.
 *
 * Every conv is 3×3, "same", with a bias, stride 1 except `compactStrided`'s downsampling convs; (leaky) ReLU
 * convs start He-normal, the linear output conv Glorot-uniform, biases at zero. Each conv's initialiser seed is drawn from the model seed and the conv's
 * position, so the whole description (and its initial weights) follows from the options alone.
 */
import { SeededRandom } from "@studykit/core";
import {
  MODEL_DESCRIPTION_VERSION,
  ModelDescriptionError,
  type ActivationName,
  type Conv2dLayer,
  type LayerDescription,
  type MaxPool2dLayer,
  type ModelDescription,
  type Upsample2dLayer,
} from "@studykit/trainer";

/** Options of the ptychography model builders. */
export interface PtychoModelOptions {
  /** Input height = width (the diffraction patch size N). */
  readonly size: number;
  /** Channels C = gridsize². */
  readonly channels: number;
  /** Seed for every layer's initialiser (default 0). */
  readonly seed?: number;
  readonly name?: string;
  /** C > 1: one network for every pattern of a group, shared weights (the trainer's `ModelDescription.perPattern`). */
  readonly perPattern?: boolean;
}

const positiveInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;

function conv(name: string, filters: number, seed: number, layerIndex: number, activation: ActivationName = "relu"): Conv2dLayer {
  const rectifier = activation === "relu" || activation === "leakyRelu";
  return {
    kind: "conv2d",
    name,
    filters,
    kernelSize: [3, 3],
    strides: [1, 1],
    padding: "same",
    dilation: [1, 1],
    activation,
    ...(activation === "leakyRelu" ? { alpha: LEAKY_SLOPE } : {}),
    useBias: true,
    init: { kernel: rectifier ? "heNormal" : "glorotUniform", bias: "zeros", seed: layerSeed(seed, layerIndex) },
  };
}

/** The negative slope of the strided compact model's leaky ReLUs. */
const LEAKY_SLOPE = 0.1;

/** Per-layer seed: a 31-bit draw from the model seed's "layers" stream, so layer seeds differ. */
function layerSeed(seed: number, layerIndex: number): number {
  return SeededRandom.derive(seed, "layer-seed", layerIndex).nextUint32() >>> 1;
}

const pool = (name: string): MaxPool2dLayer => ({ kind: "maxPool2d", name, poolSize: [2, 2], strides: [2, 2], padding: "valid" });
const up = (name: string): Upsample2dLayer => ({ kind: "upsample2d", name, size: [2, 2], interpolation: "nearest" });

function checkOptions(options: PtychoModelOptions, minDivisor: number): void {
  if (!positiveInt(options.size) || options.size % minDivisor !== 0) throw new ModelDescriptionError(`size must be a positive multiple of ${minDivisor}, got ${String(options.size)}`);
  if (!positiveInt(options.channels)) throw new ModelDescriptionError(`channels must be a positive integer (gridsize²), got ${String(options.channels)}`);
}

/** The description around a layer plan: C-channel input, amplitude (sigmoid) and phase (π·tanh) heads. */
function ptychoDescription(options: PtychoModelOptions, defaultName: string, layers: LayerDescription[]): ModelDescription {
  const c = options.channels;
  return {
    formatVersion: MODEL_DESCRIPTION_VERSION,
    name: options.name ?? defaultName,
    input: { height: options.size, width: options.size, channels: c },
    layers,
    heads: { kind: "amplitudePhase", channels: c, amplitude: "sigmoid", phase: "piTanh" },
    seed: options.seed ?? 0,
    ...(options.perPattern ? { perPattern: true } : {}),
  };
}

/**
 * The reference ptychography encoder-decoder (benchmarks): encoder 3×3 conv+ReLU 32,32 → max-pool →
 * 64,64 → max-pool → 128,128 → max-pool; decoder upsample ×2 → 64,64 → upsample → 32,32 → upsample →
 * 3×3 linear conv to 2·C, then the amplitude/phase heads. 425 442 parameters at 64×64 with C = 1.
 */
export function referencePtychoModel(options: PtychoModelOptions): ModelDescription {
  checkOptions(options, 8);
  const seed = options.seed ?? 0;
  const c = options.channels;
  let i = 0;
  const layers: LayerDescription[] = [
    conv("enc1a", 32, seed, i++), conv("enc1b", 32, seed, i++), pool("pool1"),
    conv("enc2a", 64, seed, i++), conv("enc2b", 64, seed, i++), pool("pool2"),
    conv("enc3a", 128, seed, i++), conv("enc3b", 128, seed, i++), pool("pool3"),
    up("up1"), conv("dec1a", 64, seed, i++), conv("dec1b", 64, seed, i++),
    up("up2"), conv("dec2a", 32, seed, i++), conv("dec2b", 32, seed, i++),
    up("up3"), conv("out", 2 * (options.perPattern ? 1 : c), seed, i++, "linear"),
  ];
  return ptychoDescription(options, "reference-ptycho", layers);
}

/**
 * A tiny encoder-decoder of the same shape family for tests: conv 8 → max-pool → conv 16 → upsample →
 * conv 8 → conv to 2·C. Trains in seconds on 16×16 inputs.
 */
export function tinyPtychoModel(options: PtychoModelOptions): ModelDescription {
  checkOptions(options, 2);
  const seed = options.seed ?? 0;
  const c = options.channels;
  let i = 0;
  const layers: LayerDescription[] = [
    conv("enc1", 8, seed, i++), pool("pool1"), conv("enc2", 16, seed, i++),
    up("up1"), conv("dec1", 8, seed, i++), conv("out", 2 * (options.perPattern ? 1 : c), seed, i++, "linear"),
  ];
  return ptychoDescription(options, "tiny-ptycho", layers);
}

/**
 * The quick study's encoder-decoder: one 3×3 conv per level, encoder 8 → max-pool → 16 → max-pool → 32 →
 * max-pool → 32, decoder upsample → 32 → upsample → 16 → upsample → 8 → 3×3 linear conv to 2·C. Three
 * levels give each output pixel a 54-pixel receptive field (tiny's: 12), so a 32×32 network sees the whole
 * pattern: a pattern's slowly varying phase (a tilt shifts the whole bright-field disc) is a global feature
 * of it. 30 314 parameters with C = 1.
 */
export function compactPtychoModel(options: PtychoModelOptions): ModelDescription {
  checkOptions(options, 8);
  const seed = options.seed ?? 0;
  const c = options.channels;
  let i = 0;
  const layers: LayerDescription[] = [
    conv("enc1", 8, seed, i++), pool("pool1"), conv("enc2", 16, seed, i++), pool("pool2"), conv("enc3", 32, seed, i++), pool("pool3"), conv("enc4", 32, seed, i++),
    up("up1"), conv("dec1", 32, seed, i++), up("up2"), conv("dec2", 16, seed, i++), up("up3"), conv("dec3", 8, seed, i++), conv("out", 2 * (options.perPattern ? 1 : c), seed, i++, "linear"),
  ];
  return ptychoDescription(options, "compact-ptycho", layers);
}

/**
 * The quick study's encoder-decoder since the strided rework: the compact model with each max-pool and the
 * conv after it replaced by one 3×3 stride-2 conv, encoder 8 → 16/2 → 32/2 → 32/2 → 32 (at 4×4), decoder as
 * `compact`'s, and leaky ReLUs (slope 0.1) in place of ReLUs. A max-pool keeps each window's largest
 * response and drops where in the window it was, and a pattern's information about features the size of
 * the illuminated spot is just that: a sub-pixel shift or a slight defocus of the bright-field disc. A
 * strided conv keeps it (its output is a linear function of every input pixel under it). With plain ReLUs
 * one supervised job in 16 (8 seeds, 1e4 and 1e5) lost every unit early and predicted a constant; with
 * leaky ReLUs none did, and every supervised job ended at a lower validation loss. 39 562 parameters with
 * C = 1; a 49-pixel receptive field.
 */
export function compactStridedPtychoModel(options: PtychoModelOptions): ModelDescription {
  checkOptions(options, 8);
  const seed = options.seed ?? 0;
  const c = options.channels;
  let i = 0;
  const leaky = (name: string, filters: number, stride = 1): Conv2dLayer => ({ ...conv(name, filters, seed, i++, "leakyRelu"), strides: [stride, stride] });
  const layers: LayerDescription[] = [
    leaky("enc1", 8), leaky("enc2", 16, 2), leaky("enc3", 32, 2), leaky("enc4", 32, 2), leaky("enc5", 32),
    up("up1"), leaky("dec1", 32), up("up2"), leaky("dec2", 16), up("up3"), leaky("dec3", 8), conv("out", 2 * (options.perPattern ? 1 : c), seed, i++, "linear"),
  ];
  return ptychoDescription(options, "compact-strided-ptycho", layers);
}

/** The model presets a study's `training.model` names. */
export const PTYCHO_MODEL_NAMES = ["reference", "compact", "compactStrided", "tiny"] as const;
export type PtychoModelName = (typeof PTYCHO_MODEL_NAMES)[number];

const PTYCHO_MODEL_BUILDERS: Readonly<Record<PtychoModelName, (options: PtychoModelOptions) => ModelDescription>> = {
  reference: referencePtychoModel,
  compact: compactPtychoModel,
  compactStrided: compactStridedPtychoModel,
  tiny: tinyPtychoModel,
};

/** The builder of a model preset. */
export function ptychoModelPreset(name: PtychoModelName): (options: PtychoModelOptions) => ModelDescription {
  return PTYCHO_MODEL_BUILDERS[name];
}
