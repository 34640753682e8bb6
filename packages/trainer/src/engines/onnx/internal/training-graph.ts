/**
 * Compiles a model description, its loss and its optimizer into the ONNX graphs the ONNX Runtime engine
 * runs: `train` (forward, loss, reverse-mode gradients and the optimizer update in one graph, so one
 * `session.run` is one training step), `evaluate` (forward + loss) and `predict` (forward only).
 *
 * Weights and optimizer slots are graph inputs and the updated ones graph outputs (ONNX layout: OIHW
 * kernels), so the engine keeps them in its own buffers between steps and nothing is re-serialised.
 * The learning rate and Adam's bias corrections are scalar inputs: the loop's schedule needs no recompile.
 */
import type { ModelDescription } from "../../../model-description.js";
import { weightSpecs } from "../../../model-description.js";
import type { AdamOptimizer, LossDescription, PhysicsLoss } from "../../training-engine.js";
import { LOSS_CONSTANTS } from "../../training-engine.js";
import { dftMatrix } from "../../../internal/dft-matrix.js";
import { appendGradients, type FilterGradientStrategy } from "./autodiff.js";
import { GraphBuilder } from "./graph-builder.js";
import { compileForward, onnxWeightShape } from "./model-compiler.js";
import { nchwcUnsupportedReason } from "./nchwc.js";
import { applyOverlapConstraint } from "./overlap-constraint.js";

/** SGD with (heavy-ball) momentum: `a ← μa + g`, `w ← w − lr·a` (as TF.js' and PyTorch's momentum). */
export interface SgdMomentumOptimizer {
  readonly kind: "sgdMomentum";
  readonly momentum: number;
}
export type GraphOptimizer = AdamOptimizer | SgdMomentumOptimizer;

/**
 * `train`: forward, loss, gradients and the update; `gradients`: forward, loss and the gradients (one
 * micro-batch of a data-parallel step, see {@link compileUpdateGraph}); `evaluate`: forward and loss;
 * `predict`: forward only.
 */
export type GraphMode = "train" | "gradients" | "evaluate" | "predict";

export interface TrainingGraphSpec {
  readonly description: ModelDescription;
  readonly loss: LossDescription;
  readonly optimizer: GraphOptimizer;
  readonly mode: GraphMode;
  /** Batch size; the train graph is static, the others take `-1` (dynamic). */
  readonly batch: number;
  /** Train graph only: dropout masks are fed as inputs. */
  readonly dropout: boolean;
  readonly filterGradient?: FilterGradientStrategy;
  /** MaxPool gradient: scatter through the argmax indices (default) or mask by the upsampled maximum. */
  readonly maxPoolGradient?: "scatter" | "mask";
  /**
   * ORT's NCHWc block size on this machine (CPU provider only): when set and the model supports it
   * (`nchwcUnsupportedReason`), the graph runs in the blocked layout (see nchwc.ts). 0 or absent: NCHW.
   */
  readonly nchwcBlock?: number;
}

/** Fixed I/O names of the compiled graphs. */
export const GRAPH_NAMES = {
  input: "x",
  amplitude: "target_amplitude",
  phase: "target_phase",
  /** Per-sample channel offsets `[batch, C, 2]` (x, y) of the physics loss with `overlap`. */
  offsets: "offsets",
  learningRate: "learning_rate",
  correction1: "adam_correction1",
  correction2: "adam_correction2",
  loss: "loss",
  output: "y",
  weight: (name: string) => `w:${name}`,
  slot: (slot: string, name: string) => `${slot}:${name}`,
  weightOut: (name: string) => `w_out:${name}`,
  /** All gradients of a `gradients` graph as one flat vector (weights in description order). */
  flatGradient: "grad:*",
  replicaGradient: (part: number) => `grad${part}:*`,
  replicaShare: (part: number) => `share${part}`,
  slotOut: (slot: string, name: string) => `${slot}_out:${name}`,
  dropout: (layer: string) => `dropout:${layer}`,
} as const;

/** Slot names per optimizer, in output order. */
export function optimizerSlots(optimizer: GraphOptimizer): readonly string[] {
  return optimizer.kind === "adam" ? ["m", "v"] : ["momentum"];
}

export interface CompiledGraph {
  readonly bytes: Uint8Array;
  readonly weightNames: readonly string[];
  /** ONNX-layout weight shapes in `weightNames` order. */
  readonly weightShapes: readonly (readonly number[])[];
  /** The activation layout the graph was written in (`nchwc` only where `nchwcBlock` was given and the model allows it). */
  readonly layout: "nchwc" | "nchw";
}

export function compileTrainingGraph(spec: TrainingGraphSpec): CompiledGraph {
  const { description } = spec;
  const { height, width, channels } = description.input;
  const b = new GraphBuilder(`${description.name}-${spec.mode}`, "float32");
  const blocked = spec.nchwcBlock !== undefined && spec.nchwcBlock > 0 && nchwcUnsupportedReason(description, spec.nchwcBlock) === undefined;
  if (blocked) b.nchwcBlock = spec.nchwcBlock!;
  const batchDims = spec.batch === -1 ? ["batch"] : [];
  const x = b.addInput(GRAPH_NAMES.input, "float32", [spec.batch, height, width, channels], batchDims);
  const specs = weightSpecs(description);
  const weights = new Map<string, string>();
  for (const w of specs) weights.set(w.name, b.addInput(GRAPH_NAMES.weight(w.name), "float32", onnxWeightShape(w)));
  const masks = new Map<string, string>();
  const training = spec.mode === "train" || spec.mode === "gradients";
  if (spec.dropout && training) {
    const shapes = layerShapes(description);
    for (const layer of description.layers) {
      if (layer.kind !== "dropout") continue;
      const [h, w, c] = shapes.get(layer.name)!;
      const mask = b.addInput(GRAPH_NAMES.dropout(layer.name), "float32", [spec.batch, h, w, c], batchDims);
      // The blocked graph reorders the channels-last mask itself.
      masks.set(layer.name, blocked ? mask : b.op("Transpose", [mask], { perm: [0, 3, 1, 2] }));
    }
  }
  const xNchw = b.op("Transpose", [x], { perm: [0, 3, 1, 2] });
  const prediction = compileForward(b, description, xNchw, { weights, dropoutMasks: masks, poolIndices: training && spec.maxPoolGradient !== "mask", nchwc: blocked, subpixelUpsampleConv: blocked });
  if (spec.mode === "predict") {
    b.op("Transpose", [prediction], { perm: [0, 2, 3, 1] }, GRAPH_NAMES.output);
    b.addOutput(GRAPH_NAMES.output);
    return { bytes: b.toModelBytes(), weightNames: specs.map((s) => s.name), weightShapes: specs.map(onnxWeightShape), layout: blocked ? "nchwc" : "nchw" };
  }
  const lossValue = compileLoss(b, spec, prediction, xNchw, batchDims);
  const loss = b.op("Identity", [lossValue], {}, GRAPH_NAMES.loss);
  b.addOutput(loss);
  if (training) {
    const wrt = specs.map((s) => weights.get(s.name)!);
    const grads = appendGradients(b, loss, wrt, spec.filterGradient ? { filterGradient: spec.filterGradient } : {});
    const byName = new Map(specs.map((s) => [s.name, grads.get(weights.get(s.name)!)!]));
    if (spec.mode === "train") appendUpdate(b, spec.optimizer, specs, weights, byName);
    else {
      // One flat vector of all gradients, weights in description order: the update graph works on flat
      // vectors (a few nodes instead of a dozen per weight).
      const flat = specs.map((s) => b.op("Reshape", [byName.get(s.name)!, b.constInt64([-1])]));
      b.op("Concat", flat, { axis: 0 }, GRAPH_NAMES.flatGradient);
      b.addOutput(GRAPH_NAMES.flatGradient);
    }
  }
  return { bytes: b.toModelBytes(), weightNames: specs.map((s) => s.name), weightShapes: specs.map(onnxWeightShape), layout: blocked ? "nchwc" : "nchw" };
}

/**
 * The optimizer update of a data-parallel step: the flat gradients of each of its `parts` micro-batches
 * (`grad{k}:*`, the `gradients` graphs' `grad:*`) are summed in order, weighted by the micro-batch's share
 * of the samples (scalar input `share{k}`: every loss is a mean over samples, so this is the whole batch's
 * gradient), then updated exactly as in the `train` graph, on the flat vectors of all weights (`w:*`) and
 * slots (`m:*`, …; outputs `w_out:*`, `m_out:*`, …).
 */
export function compileUpdateGraph(description: ModelDescription, optimizer: GraphOptimizer, parts: number): Uint8Array {
  const b = new GraphBuilder(`${description.name}-update`, "float32");
  const size = weightSpecs(description).reduce((total, s) => total + s.shape.reduce((a, c) => a * c, 1), 0);
  // Weights, slots and gradients as flat vectors (the engine keeps its state in one buffer per set): the
  // update is then ~15 element-wise nodes, not ~15 per weight (measured on the reference model with 4
  // micro-batches: ~6.0 → ~4.7 ms per step; the rest is reading and writing the vectors).
  const all: { name: string; shape: number[] } = { name: FLAT, shape: [size] };
  const weights = new Map([[FLAT, b.addInput(GRAPH_NAMES.weight(FLAT), "float32", [size])]]);
  const shares = Array.from({ length: parts }, (_, k) => b.addInput(GRAPH_NAMES.replicaShare(k), "float32", []));
  const parted = shares.map((share, k) => b.op("Mul", [b.addInput(GRAPH_NAMES.replicaGradient(k), "float32", [size]), share]));
  appendUpdate(b, optimizer, [all], weights, new Map([[FLAT, parted.reduce((sum, part) => b.op("Add", [sum, part]))]]));
  return b.toModelBytes();
}

/** The name of the flat vector of all weights (or slots) in the update graph's inputs and outputs. */
export const FLAT = "*";

/** Appends the optimizer step: slot inputs and outputs, the learning rate (and Adam's corrections), new weights. */
function appendUpdate(
  b: GraphBuilder,
  optimizer: GraphOptimizer,
  specs: ReadonlyArray<{ name: string; shape: number[] }>,
  weights: ReadonlyMap<string, string>,
  grads: ReadonlyMap<string, string>,
): void {
  const lr = b.addInput(GRAPH_NAMES.learningRate, "float32", []);
  if (optimizer.kind === "adam") {
    const c1 = b.addInput(GRAPH_NAMES.correction1, "float32", []);
    const c2 = b.addInput(GRAPH_NAMES.correction2, "float32", []);
    const { beta1, beta2, epsilon } = optimizer;
    for (const s of specs) {
      const w = weights.get(s.name)!;
      const g = grads.get(s.name)!;
      const shape = onnxWeightShape(s);
      const m = b.addInput(GRAPH_NAMES.slot("m", s.name), "float32", shape);
      const v = b.addInput(GRAPH_NAMES.slot("v", s.name), "float32", shape);
      const m2 = b.op("Add", [b.op("Mul", [m, b.constFloat(beta1, [])]), b.op("Mul", [g, b.constFloat(1 - beta1, [])])], {}, GRAPH_NAMES.slotOut("m", s.name));
      const v2 = b.op("Add", [b.op("Mul", [v, b.constFloat(beta2, [])]), b.op("Mul", [b.op("Mul", [g, g]), b.constFloat(1 - beta2, [])])], {}, GRAPH_NAMES.slotOut("v", s.name));
      const denominator = b.op("Add", [b.op("Sqrt", [b.op("Mul", [v2, c2])]), b.constFloat(epsilon, [])]);
      const stepSize = b.op("Div", [b.op("Mul", [m2, c1]), denominator]);
      b.op("Sub", [w, b.op("Mul", [stepSize, lr])], {}, GRAPH_NAMES.weightOut(s.name));
      b.addOutput(GRAPH_NAMES.weightOut(s.name));
      b.addOutput(m2);
      b.addOutput(v2);
    }
  } else {
    const { momentum } = optimizer;
    for (const s of specs) {
      const w = weights.get(s.name)!;
      const g = grads.get(s.name)!;
      const a = b.addInput(GRAPH_NAMES.slot("momentum", s.name), "float32", onnxWeightShape(s));
      const a2 = b.op("Add", [b.op("Mul", [a, b.constFloat(momentum, [])]), g], {}, GRAPH_NAMES.slotOut("momentum", s.name));
      b.op("Sub", [w, b.op("Mul", [a2, lr])], {}, GRAPH_NAMES.weightOut(s.name));
      b.addOutput(GRAPH_NAMES.weightOut(s.name));
      b.addOutput(a2);
    }
  }
}

/** Each layer's output shape `[H, W, C]` (channels-last), by layer name. */
export function layerShapes(description: ModelDescription): Map<string, readonly [number, number, number]> {
  // Shapes after each layer, channels-last, from the description's own validator.
  const map = new Map<string, readonly [number, number, number]>();
  let shape: readonly [number, number, number] = [description.input.height, description.input.width, description.input.channels];
  let inChannels = description.input.channels;
  for (const layer of description.layers) {
    if (layer.kind === "conv2d") {
      const out = (size: number, k: number, s: number, d: number) => (layer.padding === "same" ? Math.ceil(size / s) : Math.floor((size - ((k - 1) * d + 1)) / s) + 1);
      shape = [out(shape[0], layer.kernelSize[0], layer.strides[0], layer.dilation[0]), out(shape[1], layer.kernelSize[1], layer.strides[1], layer.dilation[1]), layer.filters];
      inChannels = layer.filters;
    } else if (layer.kind === "maxPool2d") {
      const out = (size: number, k: number, s: number) => (layer.padding === "same" ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1);
      shape = [out(shape[0], layer.poolSize[0], layer.strides[0]), out(shape[1], layer.poolSize[1], layer.strides[1]), inChannels];
    } else if (layer.kind === "upsample2d") {
      shape = [shape[0] * layer.size[0], shape[1] * layer.size[1], inChannels];
    }
    map.set(layer.name, shape);
  }
  return map;
}

function compileLoss(b: GraphBuilder, spec: TrainingGraphSpec, prediction: string, xNchw: string, batchDims: string[]): string {
  const { description, loss } = spec;
  const c = description.heads.channels;
  const { height, width } = description.input;
  const [amplitude, phase] = b.node("Split", [prediction, b.constInt64([c, c])], { axis: 1 }, { outputs: 2 }) as [string, string];
  const mean = (v: string): string => b.op("ReduceMean", [v], { keepdims: 0 });
  if (loss.kind === "supervised") {
    const target = (name: string): string => b.op("Transpose", [b.addInput(name, "float32", [spec.batch, height, width, c], batchDims)], { perm: [0, 3, 1, 2] });
    const distance = (p: string, t: string): string => {
      const d = b.op("Sub", [p, t]);
      return loss.metric === "mae" ? b.op("Abs", [d]) : b.op("Mul", [d, d]);
    };
    const amplitudeTerm = b.op("Mul", [mean(distance(amplitude, target(GRAPH_NAMES.amplitude))), b.constFloat(loss.amplitudeWeight, [])]);
    const phaseTerm = b.op("Mul", [mean(distance(phase, target(GRAPH_NAMES.phase))), b.constFloat(loss.phaseWeight, [])]);
    return b.op("Add", [amplitudeTerm, phaseTerm]);
  }
  let objectReal = b.op("Mul", [amplitude, b.op("Cos", [phase])]);
  let objectImag = b.op("Mul", [amplitude, b.op("Sin", [phase])]);
  if (loss.overlap) {
    const offsets = b.addInput(GRAPH_NAMES.offsets, "float32", [spec.batch, c, 2], batchDims);
    const weight = loss.overlap.weighting === "probeIntensity" ? probeIntensityWeight(loss.probe) : undefined;
    ({ real: objectReal, imag: objectImag } = applyOverlapConstraint(b, objectReal, objectImag, offsets, { size: height, padding: loss.overlap.canvasPadding, ...(weight ? { weight } : {}) }));
  }
  const intensity = physicsIntensity(b, loss, objectReal, objectImag, height, width);
  return physicsObjective(b, loss, intensity, xNchw);
}

/** |P|²/max|P|² of a probe, row-major: the overlap average's `probeIntensity` weights (see training-engine.ts). */
export function probeIntensityWeight(probe: PhysicsLoss["probe"]): Float32Array {
  const intensity = Float32Array.from(probe.real, (re, index) => re * re + probe.imag[index]! * probe.imag[index]!);
  const peak = intensity.reduce((max, value) => Math.max(max, value), 0);
  return peak > 0 ? intensity.map((value) => value / peak) : intensity.fill(1);
}

/** The physics loss's objective (see training-engine.ts) of a predicted intensity against measured amplitudes `x`, both NCHW. */
export function physicsObjective(b: GraphBuilder, loss: PhysicsLoss, intensity: string, x: string): string {
  const mean = (v: string): string => b.op("ReduceMean", [v], { keepdims: 0 });
  if (loss.objective === "poissonNll") {
    const logI = b.op("Log", [b.op("Add", [intensity, b.constFloat(LOSS_CONSTANTS.poissonEpsilon, [])])]);
    return mean(b.op("Sub", [intensity, b.op("Mul", [b.op("Mul", [x, x]), logI])]));
  }
  const predictedAmplitude = b.op("Sqrt", [b.op("Add", [intensity, b.constFloat(LOSS_CONSTANTS.amplitudeEpsilon, [])])]);
  return mean(b.op("Abs", [b.op("Sub", [predictedAmplitude, x])]));
}

/** `intensityScale·|D_H (O·P) D_Wᵀ|²` for the object `O` (real and imaginary parts), all NCHW; real arithmetic only. */
export function physicsIntensity(b: GraphBuilder, loss: PhysicsLoss, objectReal: string, objectImag: string, height: number, width: number): string {
  const { probe } = loss;
  const probeReal = b.constFloat(probe.real, [probe.height, probe.width]);
  const probeImag = b.constFloat(probe.imag, [probe.height, probe.width]);
  const psiReal = b.op("Sub", [b.op("Mul", [objectReal, probeReal]), b.op("Mul", [objectImag, probeImag])]);
  const psiImag = b.op("Add", [b.op("Mul", [objectReal, probeImag]), b.op("Mul", [objectImag, probeReal])]);
  const dh = dftMatrix(height, loss.fftshift);
  const dwT = dftMatrix(width, loss.fftshift, true);
  const hr = b.constFloat(dh.real, [height, height]);
  const hi = b.constFloat(dh.imag, [height, height]);
  const wr = b.constFloat(dwT.real, [width, width]);
  const wi = b.constFloat(dwT.imag, [width, width]);
  const mm = (p: string, q: string): string => b.op("MatMul", [p, q]);
  // A = D_H ψ, then F = A D_Wᵀ, each a complex product written as four real ones.
  const aReal = b.op("Sub", [mm(hr, psiReal), mm(hi, psiImag)]);
  const aImag = b.op("Add", [mm(hr, psiImag), mm(hi, psiReal)]);
  const fReal = b.op("Sub", [mm(aReal, wr), mm(aImag, wi)]);
  const fImag = b.op("Add", [mm(aReal, wi), mm(aImag, wr)]);
  const power = b.op("Add", [b.op("Mul", [fReal, fReal]), b.op("Mul", [fImag, fImag])]);
  return b.op("Mul", [power, b.constFloat(loss.intensityScale, [])]);
}
