/**
 * The contract between the shared training loop and an engine (TF.js, ONNX Runtime), and the
 * engine-neutral definitions of the losses and the optimizer, so that both engines compute the same
 * numbers from the same description.
 *
 * Losses (scalars, means over every element of the batch):
 * - `supervised`: `amplitudeWeight·mean(d(Â, A)) + phaseWeight·mean(d(φ̂, φ))` with `d` the absolute
 *   (`mae`) or squared (`mse`) difference; `A`, `φ` are the batch's `amplitude` / `phase` targets.
 * - `physics`: the predicted object `O = Â·(cos φ̂ + i·sin φ̂)` (per channel) times the probe `P`
 *   (`[H, W]` complex, the same for every channel) gives the exit wave `ψ`; its orthonormal 2-D DFT
 *   `F = D_H ψ D_Wᵀ` (`D_n[k, j] = exp(-2πi·kj/n)/√n`, rows rolled by `⌊n/2⌋` when `fftshift`, like
 *   numpy's `fftshift`) gives the predicted intensity `I = intensityScale·|F|²`. Against the measured
 *   amplitudes `X` (the model input): `poissonNll = mean(I − X²·log(I + 1e-6))`,
 *   `amplitudeMae = mean(|√(I + 1e-10) − X|)`.
 *   With `overlap` (grouped samples, gridsize > 1: PtychoPINN's real-space overlap constraint), the C
 *   predicted patches of a sample are first translated by the batch's `offsets` onto one padded canvas,
 *   averaged where they overlap (Σ shifted patches / Σ shifted N×N masks) and cut back out at the same
 *   offsets; `O` above is the patch cut back out (bilinear translation, see overlap-constraint.ts).
 * Optimizer: Adam with bias correction, `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
 * `w ← w − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`, `t` counting steps from 1.
 */
import type { EngineName } from "./engine-name.js";
import type { ModelDescription, NamedWeight } from "../model-description.js";

/** Constants of the loss formulas above (one place, shared by every engine). */
export const LOSS_CONSTANTS = { poissonEpsilon: 1e-6, amplitudeEpsilon: 1e-10 } as const;

/** A complex probe, `[height, width]`, row-major. */
export interface ProbeData {
  readonly height: number;
  readonly width: number;
  readonly real: Float32Array;
  readonly imag: Float32Array;
}

export interface SupervisedLoss {
  readonly kind: "supervised";
  readonly metric: "mae" | "mse";
  readonly amplitudeWeight: number;
  readonly phaseWeight: number;
}

export interface PhysicsLoss {
  readonly kind: "physics";
  readonly objective: "poissonNll" | "amplitudeMae";
  readonly probe: ProbeData;
  readonly intensityScale: number;
  readonly fftshift: boolean;
  /**
   * Grouped samples only: apply the overlap constraint on a canvas of (N + 2·canvasPadding)² pixels.
   * Every batch then carries `offsets`, and every |offset| must be ≤ `canvasPadding`.
   */
  readonly overlap?: PhysicsOverlap;
}

/** The overlap constraint of the physics loss (see the module doc). */
export interface PhysicsOverlap {
  /** Canvas margin on each side of the centred N×N patch, whole pixels ≥ 0. */
  readonly canvasPadding: number;
  /**
   * How overlapping patches are averaged on the canvas: `uniform` (absent), each patch pixel counts once;
   * `probeIntensity`, each counts with the probe's intensity there, |P|²/max|P|² (the overlap projection of
   * iterative ptychography, Σ|P|²·O / Σ|P|²): where patches overlap, the one that illuminated a pixel
   * more, and so measured it better, decides it; where one patch alone covers a pixel it is unchanged.
   */
  readonly weighting?: "uniform" | "probeIntensity";
}

export type LossDescription = SupervisedLoss | PhysicsLoss;

export interface AdamOptimizer {
  readonly kind: "adam";
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

/** What an engine needs to set up training (the learning rate comes with each step: the loop schedules it). */
export interface EngineHyperparameters {
  readonly loss: LossDescription;
  readonly optimizer: AdamOptimizer;
}

/**
 * One mini-batch, channels-last, `count` samples of the description's input shape.
 * `amplitude` / `phase` are required by the supervised loss. `dropoutMasks` (per dropout layer name,
 * the layer's output shape × count, values 0 or `1/(1−rate)`) are drawn by the loop from our PRNG so
 * that every engine applies the same masks; absent means no dropout (evaluation). `offsets` (`[count, C, 2]`,
 * pixels, `(x, y)` per channel: column then row) are each channel's scan position relative to the
 * group's reference point; required by the physics loss with `overlap`.
 */
export interface TrainingBatch {
  readonly count: number;
  readonly inputs: Float32Array;
  readonly amplitude?: Float32Array;
  readonly phase?: Float32Array;
  readonly offsets?: Float32Array;
  readonly dropoutMasks?: Readonly<Record<string, Float32Array>>;
}

/** Adam's state: the step count and `<weight>/m`, `<weight>/v` slots in weight order. */
export interface OptimizerState {
  readonly step: number;
  readonly slots: readonly NamedWeight[];
}

/** Which engine and back end run, and how. */
export interface EngineInfo {
  readonly engine: EngineName;
  /** Back end in use: `tensorflow-gpu`, `tensorflow`, `wasm`, `cpu` (TF.js) or an execution provider. */
  readonly backend: string;
  readonly threads: number;
  /**
   * Activation layout of the engine's graphs when it chose one at `init` (ONNX Runtime: `nchwc(8)` for ORT's
   * blocked layout with 8-channel blocks, or `nchw`). Recorded in identities: the block size follows the
   * CPU's vector width, and the float sums, hence the trained weights, follow the layout.
   */
  readonly layout?: string;
  /**
   * Data-parallel replicas of a training step (ONNX Runtime, when more than 1): each runs `threads`
   * intra-op threads on its share of the batch. Recorded in identities: the gradient sums follow it.
   */
  readonly replicas?: number;
  /** What runs the convolutions where a back end has a choice (TF.js: see `BackendSelection.convolutions`). */
  readonly convolutions?: string;
  /** Why each preferred back end above the chosen one failed, in priority order. */
  readonly fallbacks: ReadonlyArray<{ readonly backend: string; readonly reason: string }>;
}

/**
 * A training engine, driven by the shared loop. Calls are sequential (the loop awaits each); weights
 * passed in and out are plain data in `weightSpecs(description)` order.
 */
export interface TrainingEngine {
  readonly info: EngineInfo;
  /** Builds the model from `description`, loads `weights`, sets up the loss and optimizer. */
  init(description: ModelDescription, weights: readonly NamedWeight[], hyper: EngineHyperparameters): Promise<void>;
  /** One optimizer step on `batch`; returns the batch loss before the update. */
  trainStep(batch: TrainingBatch, learningRate: number): Promise<number>;
  /** The loss on `batch` without updating anything (no dropout). */
  evaluate(batch: TrainingBatch): Promise<number>;
  /** Model output `[count, H, W, 2C]` (amplitude channels, then phase channels) for `inputs`. */
  predict(inputs: Float32Array, count: number): Promise<Float32Array>;
  getWeights(): Promise<NamedWeight[]>;
  setWeights(weights: readonly NamedWeight[]): Promise<void>;
  getOptimizerState(): Promise<OptimizerState>;
  setOptimizerState(state: OptimizerState): Promise<void>;
  dispose(): Promise<void>;
}
