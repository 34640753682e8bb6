/**
 * The TF.js training engine: builds a model description as TF.js ops over variables, computes the
 * engine-neutral losses (see `training-engine.ts`), and steps Adam, on the back end `selectBackend`
 * picked. Written with tfjs-core ops rather than tfjs-layers so that every weight, gradient and optimizer
 * slot is ours to read and restore bitwise (checkpoints, resume, bundles).
 */
import * as tf from "@tensorflow/tfjs-core";
import { EngineError, TrainerErrorCode } from "../../errors.js";
import { selectBackend, type BackendChoice, type BackendSelection } from "./backend-selection.js";
import { conv2dWithGradients } from "./internal/conv-gradients.js";
import { createDftPlan, diffractionIntensity, disposeDft, type DftPlan } from "./internal/real-dft.js";
import { patternDescription, validateModelDescription, weightSpecs, type ActivationName, type ModelDescription, type NamedWeight } from "../../model-description.js";
import { LOSS_CONSTANTS, type EngineHyperparameters, type EngineInfo, type OptimizerState, type TrainingBatch, type TrainingEngine } from "../training-engine.js";

/** Samples per forward call in `predict` (bounds memory on large inputs). */
const PREDICT_CHUNK = 32;

function activate(x: tf.Tensor4D, activation: ActivationName, alpha = 0.2): tf.Tensor4D {
  switch (activation) {
    case "linear":
      return x;
    case "relu":
      return tf.relu(x);
    case "leakyRelu":
      return tf.leakyRelu(x, alpha);
    case "sigmoid":
      return tf.sigmoid(x);
    case "tanh":
      return tf.tanh(x);
  }
}

/** The model's forward pass: description layers, then the amplitude/phase heads. */
export function forwardPass(
  description: ModelDescription,
  params: ReadonlyMap<string, tf.Tensor>,
  x: tf.Tensor4D,
  dropoutMasks?: ReadonlyMap<string, tf.Tensor>,
): tf.Tensor4D {
  if (description.perPattern === true) {
    // [B, H, W, C] → [B·C, H, W, 1] through the 1-channel model → [B, C, H, W, 2] → [B, H, W, 2, C] →
    // [B, H, W, 2C]: amplitudes of the C patterns, then their phases.
    const [batch, height, width, channels] = x.shape;
    const patterns = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [batch * channels, height, width, 1]) as tf.Tensor4D;
    const each = forwardPass(patternDescription(description), params, patterns, dropoutMasks);
    const split = tf.reshape(each, [batch, channels, height, width, 2]);
    return tf.reshape(tf.transpose(split, [0, 2, 3, 4, 1]), [batch, height, width, 2 * channels]) as tf.Tensor4D;
  }
  let y = x;
  for (const layer of description.layers) {
    switch (layer.kind) {
      case "conv2d": {
        const kernel = params.get(`${layer.name}/kernel`) as tf.Tensor4D;
        const bias = layer.useBias ? (params.get(`${layer.name}/bias`) as tf.Tensor1D) : undefined;
        const dilated = layer.dilation[0] > 1 || layer.dilation[1] > 1;
        if (!dilated && (layer.activation === "relu" || layer.activation === "linear")) {
          // Fused conv+bias+activation: one XNNPACK call on wasm; TF.js differentiates it.
          y = tf.fused.conv2d({ x: y, filter: kernel, strides: [...layer.strides] as [number, number], pad: layer.padding, bias, activation: layer.activation });
        } else {
          y = dilated
            ? conv2dWithGradients(y, kernel, [...layer.strides] as [number, number], layer.padding, [...layer.dilation] as [number, number])
            : tf.conv2d(y, kernel, [...layer.strides] as [number, number], layer.padding);
          if (bias) y = tf.add(y, bias);
          y = activate(y, layer.activation, layer.alpha);
        }
        break;
      }
      case "maxPool2d":
        y = tf.maxPool(y, [...layer.poolSize] as [number, number], [...layer.strides] as [number, number], layer.padding);
        break;
      case "upsample2d":
        // Integer factors with align_corners = half_pixel = false: source pixel floor(dst / k).
        y = tf.image.resizeNearestNeighbor(y, [y.shape[1] * layer.size[0], y.shape[2] * layer.size[1]], false, false);
        break;
      case "activation":
        y = activate(y, layer.activation, layer.alpha);
        break;
      case "dropout": {
        const mask = dropoutMasks?.get(layer.name);
        if (mask) y = tf.mul(y, mask);
        break;
      }
    }
  }
  const c = description.heads.channels;
  const [rawAmplitude, rawPhase] = tf.split(y, [c, c], 3);
  return tf.concat([tf.sigmoid(rawAmplitude!), tf.mul(tf.tanh(rawPhase!), Math.PI)], 3) as tf.Tensor4D;
}

/** A TF.js implementation of `TrainingEngine`. Create with `createTfjsEngine`. */
class TfjsEngine implements TrainingEngine {
  readonly info: EngineInfo;
  private description: ModelDescription | null = null;
  private hyper: EngineHyperparameters | null = null;
  private params = new Map<string, tf.Variable>();
  private moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  private step = 0;
  private dft: DftPlan | null = null;
  private probe: { real: tf.Tensor2D; imag: tf.Tensor2D } | null = null;
  private order: string[] = [];

  constructor(readonly selection: BackendSelection) {
    this.info = { engine: "tfjs", backend: selection.backend, threads: selection.threads, convolutions: selection.convolutions, fallbacks: selection.fallbacks };
  }

  private ready(): { description: ModelDescription; hyper: EngineHyperparameters } {
    if (!this.description || !this.hyper) throw new EngineError(TrainerErrorCode.EngineState, "the TF.js engine is not initialised: call init(description, weights, hyper) first");
    if (tf.getBackend() !== this.selection.tfjsBackend) {
      throw new EngineError(TrainerErrorCode.EngineState, `the active TF.js back end changed from ${this.selection.tfjsBackend} to ${tf.getBackend()} after this engine was created; one engine per back end per process`);
    }
    return { description: this.description, hyper: this.hyper };
  }

  async init(description: ModelDescription, weights: readonly NamedWeight[], hyper: EngineHyperparameters): Promise<void> {
    validateModelDescription(description);
    if (hyper.loss.kind === "physics" && hyper.loss.overlap) {
      throw new EngineError(
        TrainerErrorCode.EngineUnsupported,
        `the physics loss with the overlap constraint (canvasPadding ${hyper.loss.overlap.canvasPadding}) runs on the ONNX Runtime engine only: train with engine "onnxruntime", or drop overlap from the loss`,
      );
    }
    this.disposeState();
    this.description = description;
    this.hyper = hyper;
    const specs = weightSpecs(description);
    this.order = specs.map((s) => s.name);
    for (const spec of specs) {
      const zeroVariable = (trainable: boolean) => {
        const initial = tf.zeros(spec.shape);
        const variable = tf.variable(initial, trainable);
        initial.dispose(); // the variable holds its own reference
        return variable;
      };
      this.params.set(spec.name, zeroVariable(true));
      this.moments.set(spec.name, { m: zeroVariable(false), v: zeroVariable(false) });
    }
    await this.setWeights(weights);
    this.step = 0;
    if (hyper.loss.kind === "physics") {
      const { probe } = hyper.loss;
      const { height, width } = description.input;
      if (probe.height !== height || probe.width !== width || probe.real.length !== height * width || probe.imag.length !== height * width) {
        throw new EngineError(TrainerErrorCode.LossConfig, `the probe is ${probe.height}×${probe.width} (${probe.real.length} values) but the model input is ${height}×${width}; pass a probe of the patch size`);
      }
      this.dft = createDftPlan(height, width, hyper.loss.fftshift);
      this.probe = { real: tf.keep(tf.tensor2d(probe.real, [height, width])), imag: tf.keep(tf.tensor2d(probe.imag, [height, width])) };
    }
  }

  private inputTensor(values: Float32Array, count: number, what: string): tf.Tensor4D {
    const { height, width, channels } = this.ready().description.input;
    const expected = count * height * width * channels;
    if (values.length !== expected) {
      throw new EngineError(TrainerErrorCode.BatchShape, `${what} holds ${values.length} values but ${count} samples of ${height}×${width}×${channels} need ${expected}`);
    }
    return tf.tensor4d(values, [count, height, width, channels]);
  }

  private lossOf(batch: TrainingBatch, training: boolean): tf.Scalar {
    const { description, hyper } = this.ready();
    const x = this.inputTensor(batch.inputs, batch.count, "batch.inputs");
    let masks: Map<string, tf.Tensor> | undefined;
    if (training && batch.dropoutMasks) {
      masks = new Map(Object.entries(batch.dropoutMasks).map(([name, values]) => [name, tf.tensor(values)]));
      // Reshape each mask to the layer's output shape.
      const shapes = validateModelDescription(description);
      description.layers.forEach((layer, i) => {
        const m = masks!.get(layer.name);
        if (m) masks!.set(layer.name, tf.reshape(m, [batch.count, ...shapes[i]!]));
      });
    }
    const out = forwardPass(description, this.params, x, masks);
    const c = description.heads.channels;
    const [amplitude, phase] = tf.split(out, [c, c], 3) as [tf.Tensor4D, tf.Tensor4D];
    const loss = hyper.loss;
    if (loss.kind === "supervised") {
      if (!batch.amplitude || !batch.phase) throw new EngineError(TrainerErrorCode.LossConfig, "the supervised loss needs amplitude and phase targets in every batch (the dataset's Y patches)");
      const distance = loss.metric === "mae" ? (a: tf.Tensor, b: tf.Tensor) => tf.abs(tf.sub(a, b)) : (a: tf.Tensor, b: tf.Tensor) => tf.squaredDifference(a, b);
      const ta = this.inputTensor(batch.amplitude, batch.count, "batch.amplitude");
      const tp = this.inputTensor(batch.phase, batch.count, "batch.phase");
      return tf.add(tf.mul(tf.mean(distance(amplitude, ta)), loss.amplitudeWeight), tf.mul(tf.mean(distance(phase, tp)), loss.phaseWeight)) as tf.Scalar;
    }
    const intensity = diffractionIntensity(amplitude, phase, this.probe!.real, this.probe!.imag, this.dft!, loss.intensityScale);
    if (loss.objective === "poissonNll") {
      const measured = tf.square(x);
      return tf.mean(tf.sub(intensity, tf.mul(measured, tf.log(tf.add(intensity, LOSS_CONSTANTS.poissonEpsilon))))) as tf.Scalar;
    }
    return tf.mean(tf.abs(tf.sub(tf.sqrt(tf.add(intensity, LOSS_CONSTANTS.amplitudeEpsilon)), x))) as tf.Scalar;
  }

  async trainStep(batch: TrainingBatch, learningRate: number): Promise<number> {
    const { hyper } = this.ready();
    const { beta1, beta2, epsilon } = hyper.optimizer;
    const t = this.step + 1;
    const lossTensor = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => this.lossOf(batch, true), this.order.map((n) => this.params.get(n)!));
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      for (const name of this.order) {
        const g = grads[this.params.get(name)!.name]!;
        const w = this.params.get(name)!;
        const { m, v } = this.moments.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        w.assign(tf.sub(w, tf.div(tf.mul(tf.div(m, c1), learningRate), tf.add(tf.sqrt(tf.div(v, c2)), epsilon))));
      }
      return value;
    });
    const loss = (await lossTensor.data())[0]!;
    lossTensor.dispose();
    this.step = t;
    return loss;
  }

  async evaluate(batch: TrainingBatch): Promise<number> {
    const value = tf.tidy(() => this.lossOf(batch, false));
    const loss = (await value.data())[0]!;
    value.dispose();
    return loss;
  }

  async predict(inputs: Float32Array, count: number): Promise<Float32Array> {
    const { description } = this.ready();
    const { height, width, channels } = description.input;
    const per = height * width * channels;
    this.inputTensor(inputs, count, "inputs").dispose();
    const out = new Float32Array(count * height * width * 2 * description.heads.channels);
    const outPer = out.length / Math.max(count, 1);
    for (let start = 0; start < count; start += PREDICT_CHUNK) {
      const n = Math.min(PREDICT_CHUNK, count - start);
      const y = tf.tidy(() => forwardPass(description, this.params, tf.tensor4d(inputs.subarray(start * per, (start + n) * per), [n, height, width, channels])));
      out.set(await y.data(), start * outPer);
      y.dispose();
    }
    return out;
  }

  async getWeights(): Promise<NamedWeight[]> {
    this.ready();
    const out: NamedWeight[] = [];
    for (const name of this.order) {
      const w = this.params.get(name)!;
      out.push({ name, shape: w.shape, values: new Float32Array(await w.data()) });
    }
    return out;
  }

  private assignAll(target: ReadonlyMap<string, tf.Variable>, weights: readonly NamedWeight[], what: string): void {
    const byName = new Map(weights.map((w) => [w.name, w]));
    const problems: string[] = [];
    for (const name of this.order) {
      const w = byName.get(name);
      const variable = target.get(name)!;
      if (!w) problems.push(`missing ${what} ${name}`);
      else if (w.shape.join() !== variable.shape.join() || w.values.length !== variable.size) problems.push(`${what} ${name} has shape [${w.shape.join(", ")}], the model needs [${variable.shape.join(", ")}]`);
    }
    for (const name of byName.keys()) if (!target.has(name)) problems.push(`unexpected ${what} ${name}`);
    if (problems.length > 0) throw new EngineError(TrainerErrorCode.WeightsMismatch, `weights do not fit model ${JSON.stringify(this.description?.name)}: ${problems.slice(0, 10).join("; ")}`);
    for (const name of this.order) {
      const w = byName.get(name)!;
      tf.tidy(() => target.get(name)!.assign(tf.tensor(w.values, [...w.shape])));
    }
  }

  async setWeights(weights: readonly NamedWeight[]): Promise<void> {
    if (!this.description) throw new EngineError(TrainerErrorCode.EngineState, "call init before setWeights");
    this.assignAll(this.params, weights, "weight");
  }

  async getOptimizerState(): Promise<OptimizerState> {
    this.ready();
    const slots: NamedWeight[] = [];
    for (const name of this.order) {
      const { m, v } = this.moments.get(name)!;
      slots.push({ name: `${name}/m`, shape: m.shape, values: new Float32Array(await m.data()) });
      slots.push({ name: `${name}/v`, shape: v.shape, values: new Float32Array(await v.data()) });
    }
    return { step: this.step, slots };
  }

  async setOptimizerState(state: OptimizerState): Promise<void> {
    this.ready();
    const pick = (suffix: string) => new Map(this.order.map((n) => [n, this.moments.get(n)![suffix === "m" ? "m" : "v"]]));
    const strip = (suffix: string) => state.slots.filter((s) => s.name.endsWith(`/${suffix}`)).map((s) => ({ ...s, name: s.name.slice(0, -2) }));
    this.assignAll(pick("m"), strip("m"), "optimizer slot");
    this.assignAll(pick("v"), strip("v"), "optimizer slot");
    this.step = state.step;
  }

  private disposeState(): void {
    for (const v of this.params.values()) v.dispose();
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.params.clear();
    this.moments.clear();
    if (this.dft) disposeDft(this.dft);
    if (this.probe) tf.dispose([this.probe.real, this.probe.imag]);
    this.dft = null;
    this.probe = null;
  }

  async dispose(): Promise<void> {
    this.disposeState();
    this.description = null;
    this.hyper = null;
  }
}

/**
 * Creates a TF.js engine on the back end `selectBackend(backend)` picks (default: `STUDYKIT_BACKEND`,
 * then `auto`). TF.js has one active back end per process, so engines in one process share it.
 */
export async function createTfjsEngine(backend?: BackendChoice | string): Promise<TrainingEngine & { readonly selection: BackendSelection }> {
  return new TfjsEngine(await selectBackend(backend));
}
