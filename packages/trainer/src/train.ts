/**
 * The training loop shared by every engine: seeded shuffling, validation split, dropout masks, learning-rate
 * schedule, early stopping, an atomic checkpoint after every epoch, resume after a crash, `AbortSignal`
 * cancellation, per-epoch metrics (JSONL + CSV), a progress bar on a TTY, and the bundle at the end.
 *
 * Determinism: initial weights come from the description's seeds, and every random draw of the loop
 * from `SeededRandom.derive(seed, label, epoch, ...)` streams, which depend on nothing but the seeds and the
 * position in training. So the same inputs on the same back end give bitwise-identical weights and the
 * same bundle SHA-256, whether or not the run was interrupted and resumed at an epoch boundary.
 *
 * Files in `outDir`: `checkpoint.bin` (weights, Adam state, history; replaced atomically each epoch),
 * `metrics.jsonl` and `metrics.csv` (rewritten atomically each epoch, so a resumed run never duplicates
 * lines), `loss-curve.svg`, and `bundle.zip`.
 *
 * A failed ONNX export does not fail training (the TF.js model and weights are in the bundle), but it is never
 * silent: the bundle records why in `onnx-export.json`, `onWarning` (default: a Node process warning) is
 * told, and the result's `onnxExport` says `{ written: false, reason }`.
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { SingleBar } from "cli-progress";
import { canonicalJson, createPartialIdentity, fingerprint, SeededRandom, writeFileAtomic, type JsonObject, type JsonValue } from "@studykit/core";
import { StudykitError, sha256 } from "@studykit/native";
import type { BackendChoice } from "./backend-selection.js";
import type { OnnxExecutionProvider } from "./onnx/inference-session.js";
import { writeBundle, type OnnxExportFailure, type OnnxExportOutcome } from "./bundle.js";
import { parseEngineName, type EngineName } from "./engine-name.js";
import { lossCurveSvg } from "./internal/loss-curve.js";
import { initialWeights, validateModelDescription, type ModelDescription, type NamedWeight } from "./model-description.js";
import { createTfjsEngine } from "./tfjs-engine.js";
import type { TrainingData } from "./training-data.js";
import type { AdamOptimizer, LossDescription, OptimizerState, TrainingBatch, TrainingEngine } from "./training-engine.js";

/** Learning rate per epoch (0-based `epoch`). */
export type LearningRateSchedule =
  | { readonly kind: "constant" }
  /** `lr·decay^epoch` */
  | { readonly kind: "exponential"; readonly decay: number }
  /** `lr·factor^⌊epoch/every⌋` */
  | { readonly kind: "step"; readonly every: number; readonly factor: number }
  /** cosine from `lr` to `minLearningRate` over the run's epochs */
  | { readonly kind: "cosine"; readonly minLearningRate: number };

export interface EarlyStopping {
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** Smallest decrease that counts as an improvement (default 0). */
  readonly minDelta?: number;
  /**
   * End with the weights of the epoch with the best monitored loss instead of the last epoch's (default
   * false), whether or not training stopped early. They are kept in `best-weights.bin` beside the
   * checkpoint, so a resumed run restores them too.
   */
  readonly restoreBestWeights?: boolean;
}

/** Everything a training run needs. */
export interface TrainOptions {
  readonly description: ModelDescription;
  readonly data: TrainingData;
  readonly loss: LossDescription;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly schedule?: LearningRateSchedule;
  /** Fraction of samples held out for validation (default 0.1; 0 for none). */
  readonly validationSplit?: number;
  /** Monitors validation loss (training loss without a validation split). */
  readonly earlyStopping?: EarlyStopping;
  /** Loop seeds (default: the description's seed for each). Initialisation seeds live in the description. */
  readonly seeds?: { readonly shuffle?: number; readonly dropout?: number };
  readonly optimizer?: Partial<Omit<AdamOptimizer, "kind">>;
  /** `"tfjs"` (default), `"onnxruntime"`, or an engine instance (its `init` is called here; the caller disposes it). */
  readonly engine?: EngineName | TrainingEngine;
  /**
   * TF.js back end (default `STUDYKIT_BACKEND`, then `auto`); with `engine: "onnxruntime"`, the ONNX
   * Runtime execution provider (`cpu`, the default, or `cuda`; `auto` means `cpu`).
   */
  readonly backend?: BackendChoice | string;
  /** The job's artifact directory (created). */
  readonly outDir: string;
  /** Resume from `outDir/checkpoint.bin` when present (default true). */
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  /** Progress bar on stderr: `"auto"` (default) shows it on a TTY. */
  readonly progress?: boolean | "auto";
  /** The run identity record for the bundle (default: a partial identity built from these options). */
  readonly identity?: JsonValue;
  /** Content hash of the dataset, for the default identity. */
  readonly datasetSnapshotHash?: string | null;
  /** Called after each epoch's checkpoint is written. */
  readonly onEpoch?: (metrics: EpochMetrics) => void;
  /**
   * Told about problems that do not stop training (today: the ONNX export failed, so the bundle has no
   * `model.onnx`). Default: `process.emitWarning` with the warning's code.
   */
  readonly onWarning?: (warning: TrainWarning) => void;
}

/** A problem that did not stop training, with a stable code (`E_ONNX_EXPORT_SKIPPED`). */
export interface TrainWarning {
  readonly code: string;
  readonly message: string;
}

/** One epoch's deterministic record (what the bundle's history holds). */
export interface EpochRecord {
  /** 1-based: the first epoch is 1. */
  readonly epoch: number;
  readonly loss: number;
  readonly valLoss: number | null;
  readonly learningRate: number;
}

/** One epoch's metrics line (history plus timing and back end). */
export interface EpochMetrics extends EpochRecord {
  readonly samplesPerSecond: number;
  readonly seconds: number;
  readonly engine: string;
  readonly backend: string;
}

export interface TrainResult {
  readonly bundlePath: string;
  readonly bundleSha256: string;
  readonly history: readonly EpochRecord[];
  readonly metrics: readonly EpochMetrics[];
  readonly epochsRun: number;
  readonly stoppedEarly: boolean;
  /** The 1-based epoch whose weights were returned and bundled: the best one with `restoreBestWeights`, else the last. */
  readonly keptEpoch: number;
  /** Epoch count restored from a checkpoint, or null for a fresh run. */
  readonly resumedFromEpoch: number | null;
  readonly engine: string;
  readonly backend: string;
  readonly weights: readonly NamedWeight[];
  /** Whether the bundle holds `model.onnx`; when not, the export error's code and message. */
  readonly onnxExport: OnnxExportOutcome;
}

/** Typed training failures. */
export class TrainingError extends StudykitError {}

export const CHECKPOINT_FILE = "checkpoint.bin";
export const METRICS_JSONL_FILE = "metrics.jsonl";
export const METRICS_CSV_FILE = "metrics.csv";
export const LOSS_CURVE_FILE = "loss-curve.svg";
export const BUNDLE_FILE = "bundle.zip";
export const BEST_WEIGHTS_FILE = "best-weights.bin";

const CHECKPOINT_MAGIC = "STUDYKIT-CHECKPOINT-1\n";

interface CheckpointState {
  readonly configHash: string;
  readonly epochsDone: number;
  readonly history: EpochRecord[];
  readonly metrics: EpochMetrics[];
  readonly best: number | null;
  readonly sinceBest: number;
  /** 1-based epoch of `best` (absent in checkpoints written before best-weight restore). */
  readonly bestEpoch?: number | null;
  readonly stoppedEarly: boolean;
  readonly optimizerStep: number;
}

function learningRateAt(options: TrainOptions, epoch: number): number {
  const lr = options.learningRate;
  const s = options.schedule ?? { kind: "constant" };
  switch (s.kind) {
    case "constant":
      return lr;
    case "exponential":
      return lr * s.decay ** epoch;
    case "step":
      return lr * s.factor ** Math.floor(epoch / s.every);
    case "cosine":
      return s.minLearningRate + 0.5 * (lr - s.minLearningRate) * (1 + Math.cos((Math.PI * epoch) / Math.max(options.epochs, 1)));
  }
}

function checkOptions(options: TrainOptions): void {
  const problems: string[] = [];
  const positiveInt = (v: number) => Number.isSafeInteger(v) && v > 0;
  if (!positiveInt(options.epochs)) problems.push(`epochs must be a positive integer, got ${options.epochs}`);
  if (!positiveInt(options.batchSize)) problems.push(`batchSize must be a positive integer, got ${options.batchSize}`);
  if (!(options.learningRate > 0)) problems.push(`learningRate must be > 0, got ${options.learningRate}`);
  const split = options.validationSplit ?? 0.1;
  if (!(split >= 0 && split < 1)) problems.push(`validationSplit must be in [0, 1), got ${split}`);
  if (options.earlyStopping && !positiveInt(options.earlyStopping.patience)) problems.push(`earlyStopping.patience must be a positive integer, got ${options.earlyStopping.patience}`);
  const { height, width, channels } = options.description.input;
  if (options.data.sampleShape.join() !== [height, width, channels].join()) {
    problems.push(`the data's samples are ${options.data.sampleShape.join("×")} but model ${JSON.stringify(options.description.name)} takes ${height}×${width}×${channels}`);
  }
  if (options.loss.kind === "supervised" && !options.data.hasTargets) problems.push("the supervised loss needs amplitude and phase targets (Y patches) in the data; use the physics loss or add targets");
  if (options.loss.kind === "physics" && options.loss.overlap) {
    const padding = options.loss.overlap.canvasPadding;
    if (!(Number.isSafeInteger(padding) && padding >= 0)) problems.push(`overlap.canvasPadding must be a whole number of pixels ≥ 0, got ${padding}`);
    const weighting = options.loss.overlap.weighting;
    if (weighting !== undefined && weighting !== "uniform" && weighting !== "probeIntensity") problems.push(`overlap.weighting must be "uniform" or "probeIntensity", got ${JSON.stringify(weighting)}`);
    if (!options.data.hasOffsets) problems.push("the physics loss with overlap needs each sample's channel offsets in the data (pass offsets, [count, C, 2] pixels, to the training data)");
  }
  if (options.data.count < 1) problems.push("the data has no samples");
  if (problems.length) throw new TrainingError("E_TRAIN_CONFIG", `cannot train: ${problems.join("; ")}`);
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The hyperparameters recorded in the bundle and fingerprinted for resume (probe bytes by hash). */
function hyperparametersOf(options: TrainOptions, seeds: { shuffle: number; dropout: number }, optimizer: AdamOptimizer): JsonObject {
  const loss: JsonObject =
    options.loss.kind === "physics"
      ? {
          kind: "physics",
          objective: options.loss.objective,
          intensityScale: options.loss.intensityScale,
          fftshift: options.loss.fftshift,
          ...(options.loss.overlap ? { overlap: { canvasPadding: options.loss.overlap.canvasPadding } } : {}),
          probe: {
            height: options.loss.probe.height,
            width: options.loss.probe.width,
            sha256: sha256(Buffer.concat([bytesOf(options.loss.probe.real), bytesOf(options.loss.probe.imag)])),
          },
        }
      : { ...options.loss };
  return {
    epochs: options.epochs,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    schedule: (options.schedule ?? { kind: "constant" }) as unknown as JsonObject,
    validationSplit: options.validationSplit ?? 0.1,
    earlyStopping: (options.earlyStopping ?? null) as unknown as JsonObject | null,
    seeds: { init: options.description.seed, ...seeds },
    optimizer: optimizer as unknown as JsonObject,
    loss,
    samples: options.data.count,
  };
}

// ---- checkpoint file: magic, u32 header length, canonical JSON header, float32 payload ----

function encodeCheckpoint(state: CheckpointState, weights: readonly NamedWeight[], optimizer: OptimizerState): Uint8Array {
  const tensors = [...weights, ...optimizer.slots];
  const total = tensors.reduce((s, t) => s + t.values.length, 0);
  const payload = new Float32Array(total);
  let offset = 0;
  for (const t of tensors) {
    payload.set(t.values, offset);
    offset += t.values.length;
  }
  const payloadBytes = new Uint8Array(payload.buffer);
  const header = new TextEncoder().encode(
    canonicalJson({
      state: state as unknown as JsonObject,
      weights: weights.map((w) => ({ name: w.name, shape: [...w.shape] })),
      slots: optimizer.slots.map((w) => ({ name: w.name, shape: [...w.shape] })),
      payloadSha256: sha256(payloadBytes),
    }),
  );
  const magic = new TextEncoder().encode(CHECKPOINT_MAGIC);
  const out = new Uint8Array(magic.length + 4 + header.length + payloadBytes.length);
  out.set(magic, 0);
  new DataView(out.buffer).setUint32(magic.length, header.length, true);
  out.set(header, magic.length + 4);
  out.set(payloadBytes, magic.length + 4 + header.length);
  return out;
}

function decodeCheckpoint(path: string, bytes: Uint8Array): { state: CheckpointState; weights: NamedWeight[]; optimizer: OptimizerState } {
  const bad = (why: string) => new TrainingError("E_CHECKPOINT_CORRUPT", `checkpoint ${path} is unreadable: ${why}; delete it to start over, or restore it from a copy`);
  const magic = new TextEncoder().encode(CHECKPOINT_MAGIC);
  if (bytes.length < magic.length + 4 || new TextDecoder().decode(bytes.subarray(0, magic.length)) !== CHECKPOINT_MAGIC) throw bad("wrong magic (not a studykit checkpoint)");
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(magic.length, true);
  const start = magic.length + 4;
  if (start + headerLength > bytes.length) throw bad(`header length ${headerLength} exceeds the file (${bytes.length} bytes)`);
  let header: { state: CheckpointState; weights: Array<{ name: string; shape: number[] }>; slots: Array<{ name: string; shape: number[] }>; payloadSha256: string };
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(start, start + headerLength)));
  } catch (error) {
    throw bad(`header is not JSON (${(error as Error).message})`);
  }
  const payloadBytes = new Uint8Array(bytes.subarray(start + headerLength)); // a copy: aligned for Float32Array
  if (sha256(payloadBytes) !== header.payloadSha256) throw bad("payload checksum mismatch");
  const payload = new Float32Array(payloadBytes.buffer, payloadBytes.byteOffset, payloadBytes.byteLength / 4);
  let offset = 0;
  const take = (list: Array<{ name: string; shape: number[] }>) =>
    list.map((t) => {
      const size = t.shape.reduce((a, b) => a * b, 1);
      const values = payload.slice(offset, offset + size);
      offset += size;
      return { name: t.name, shape: t.shape, values };
    });
  const weights = take(header.weights);
  const slots = take(header.slots);
  if (offset !== payload.length) throw bad(`payload holds ${payload.length} values, the header lists ${offset}`);
  return { state: header.state, weights, optimizer: { step: header.state.optimizerStep, slots } };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function createEngine(options: TrainOptions): Promise<TrainingEngine> {
  const choice = options.engine ?? "tfjs";
  if (typeof choice !== "string") return choice;
  const name = parseEngineName(choice);
  if (name === "tfjs") return createTfjsEngine(options.backend);
  // Loaded on demand so TF.js-only users never load onnxruntime-node.
  const { createOnnxTrainingEngine } = await import("./onnx/onnx-training-engine.js");
  const { ONNX_EXECUTION_PROVIDERS } = await import("./onnx/inference-session.js");
  const provider = options.backend === undefined || options.backend === "auto" ? "cpu" : options.backend;
  if (!(ONNX_EXECUTION_PROVIDERS as readonly string[]).includes(provider)) {
    throw new TrainingError("E_BACKEND_UNKNOWN", `backend ${JSON.stringify(options.backend)} is not an ONNX Runtime execution provider: use one of ${ONNX_EXECUTION_PROVIDERS.join(", ")} with engine "onnxruntime", or engine "tfjs" for TF.js back ends`);
  }
  return createOnnxTrainingEngine({ executionProviders: [provider as OnnxExecutionProvider] });
}

/**
 * The ONNX export of trained weights for the bundle, or why it failed (the error's `code` when it has one,
 * else `E_ONNX_EXPORT`, and its message). A failure is returned, not thrown: the rest of the bundle is still
 * worth writing, and the caller records and reports the reason.
 */
export async function exportOnnxForBundle(description: ModelDescription, weights: readonly NamedWeight[]): Promise<{ readonly modelOnnx: Uint8Array } | { readonly failure: OnnxExportFailure }> {
  try {
    // Loaded on demand, like the ONNX engine, so TF.js-only training never loads the ONNX compiler.
    const { exportOnnx } = await import("./onnx/onnx-export.js");
    return { modelOnnx: exportOnnx(description, weights) };
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    return { failure: { code: typeof code === "string" ? code : "E_ONNX_EXPORT", message: error instanceof Error ? error.message : String(error) } };
  }
}

/** The warning for a bundle written without `model.onnx`. */
function onnxSkippedWarning(bundlePath: string, failure: OnnxExportFailure): TrainWarning {
  return {
    code: "E_ONNX_EXPORT_SKIPPED",
    message: `bundle ${bundlePath} has no model.onnx: the ONNX export failed (${failure.code}: ${failure.message}); the reason is recorded in the bundle's onnx-export.json, and the TF.js model in the bundle is unaffected`,
  };
}

function defaultWarning(warning: TrainWarning): void {
  process.emitWarning(warning.message, { code: warning.code });
}

function abortError(signal: AbortSignal): TrainingError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? "aborted");
  return new TrainingError("E_ABORTED", `training was cancelled (${reason}); the last completed epoch's checkpoint is kept and a rerun resumes from it`);
}

function dropoutMasks(description: ModelDescription, seed: number, epoch: number, batchIndex: number, count: number): Record<string, Float32Array> | undefined {
  if (!description.layers.some((l) => l.kind === "dropout")) return undefined;
  const shapes = validateModelDescription(description);
  const masks: Record<string, Float32Array> = {};
  description.layers.forEach((layer, i) => {
    if (layer.kind !== "dropout" || layer.rate === 0) return;
    const prng = SeededRandom.derive(seed, "dropout", layer.seed, layer.name, epoch, batchIndex);
    const [h, w, c] = shapes[i]!;
    const mask = new Float32Array(count * h * w * c);
    const keep = 1 / (1 - layer.rate);
    for (let k = 0; k < mask.length; k++) mask[k] = prng.nextDouble() < layer.rate ? 0 : keep;
    masks[layer.name] = mask;
  });
  return masks;
}

const CSV_COLUMNS = ["epoch", "loss", "valLoss", "learningRate", "samplesPerSecond", "seconds", "engine", "backend"] as const;

function metricsCsv(metrics: readonly EpochMetrics[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? "" : String(v));
  return [CSV_COLUMNS.join(","), ...metrics.map((m) => CSV_COLUMNS.map((c) => cell(m[c])).join(","))].join("\n") + "\n";
}

/**
 * Trains `options.description` on `options.data` and writes the bundle. Resumes from the checkpoint in
 * `outDir` when one exists (and `resume` is not false); refuses a checkpoint written for different
 * options (`E_CHECKPOINT_MISMATCH`).
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  validateModelDescription(options.description);
  checkOptions(options);
  if (options.signal?.aborted) throw abortError(options.signal);
  const seeds = { shuffle: options.seeds?.shuffle ?? options.description.seed, dropout: options.seeds?.dropout ?? options.description.seed };
  const optimizer: AdamOptimizer = { kind: "adam", beta1: options.optimizer?.beta1 ?? 0.9, beta2: options.optimizer?.beta2 ?? 0.999, epsilon: options.optimizer?.epsilon ?? 1e-7 };
  const hyperparameters = hyperparametersOf(options, seeds, optimizer);
  await mkdir(options.outDir, { recursive: true });
  const checkpointPath = join(options.outDir, CHECKPOINT_FILE);

  const engine = await createEngine(options);
  const engineInfo = engine.info;
  // Resume compatibility covers the model, the hyperparameters (but not the epoch budget, so a run can be
  // extended) and the engine/back end (different back ends give different bits).
  const configHash = fingerprint({
    description: options.description as unknown as JsonObject,
    hyperparameters: { ...hyperparameters, epochs: null },
    engine: engineInfo.engine,
    backend: engineInfo.backend,
  });

  let state: CheckpointState = { configHash, epochsDone: 0, history: [], metrics: [], best: null, sinceBest: 0, bestEpoch: null, stoppedEarly: false, optimizerStep: 0 };
  const restoreBest = options.earlyStopping?.restoreBestWeights === true;
  const bestWeightsPath = join(options.outDir, BEST_WEIGHTS_FILE);
  let bestWeights: readonly NamedWeight[] | null = null;
  let resumedFromEpoch: number | null = null;
  try {
    await engine.init(options.description, initialWeights(options.description), { loss: options.loss, optimizer });
    if (options.resume !== false && (await exists(checkpointPath))) {
      const restored = decodeCheckpoint(checkpointPath, await readFile(checkpointPath));
      if (restored.state.configHash !== configHash) {
        throw new TrainingError(
          "E_CHECKPOINT_MISMATCH",
          `checkpoint ${checkpointPath} was written for a different model, hyperparameters, engine or back end (config ${restored.state.configHash.slice(0, 12)}, this run ${configHash.slice(0, 12)}); delete it or pass resume: false to start over`,
        );
      }
      await engine.setWeights(restored.weights);
      await engine.setOptimizerState(restored.optimizer);
      state = restored.state;
      resumedFromEpoch = state.epochsDone;
      if (restoreBest && state.bestEpoch !== undefined && state.bestEpoch !== null) {
        if (!(await exists(bestWeightsPath))) throw new TrainingError("E_CHECKPOINT_CORRUPT", `checkpoint ${checkpointPath} records best epoch ${state.bestEpoch} but ${bestWeightsPath} is missing; delete the checkpoint to start over`);
        bestWeights = decodeCheckpoint(bestWeightsPath, await readFile(bestWeightsPath)).weights;
      }
    }

    // Validation split: a fixed seeded permutation; the first nVal samples validate.
    const count = options.data.count;
    const split = options.validationSplit ?? 0.1;
    const nVal = split > 0 && count > 1 ? Math.min(count - 1, Math.max(1, Math.floor(count * split))) : 0;
    const permutation = SeededRandom.derive(seeds.shuffle, "validation-split").permutation(count);
    const valIndices = permutation.slice(0, nVal);
    const trainIndices = permutation.slice(nVal);
    const batchesPerEpoch = Math.ceil(trainIndices.length / options.batchSize);

    const showProgress = options.progress === true || ((options.progress ?? "auto") === "auto" && process.stderr.isTTY === true);
    const bar = showProgress ? new SingleBar({ format: "epoch {epoch}/{epochs} [{bar}] {value}/{total} batches | loss {loss} | {rate} samples/s", hideCursor: true, stream: process.stderr }) : null;

    const batchOf = async (indices: Uint32Array): Promise<TrainingBatch> => {
      const samples = await options.data.read(indices);
      return {
        count: indices.length,
        inputs: samples.inputs,
        ...(samples.amplitude ? { amplitude: samples.amplitude, phase: samples.phase! } : {}),
        ...(samples.offsets ? { offsets: samples.offsets } : {}),
      };
    };

    for (let epoch = state.epochsDone; epoch < options.epochs && !state.stoppedEarly; epoch++) {
      const learningRate = learningRateAt(options, epoch);
      const order = SeededRandom.derive(seeds.shuffle, "shuffle", epoch).permutation(trainIndices.length);
      const started = performance.now();
      let lossSum = 0;
      bar?.start(batchesPerEpoch, 0, { epoch: epoch + 1, epochs: options.epochs, loss: "-", rate: "-" });
      for (let b = 0; b < batchesPerEpoch; b++) {
        if (options.signal?.aborted) {
          bar?.stop();
          throw abortError(options.signal);
        }
        const slice = order.subarray(b * options.batchSize, Math.min((b + 1) * options.batchSize, order.length));
        const indices = Uint32Array.from(slice, (k) => trainIndices[k]!);
        const batch = await batchOf(indices);
        const masks = dropoutMasks(options.description, seeds.dropout, epoch, b, indices.length);
        const loss = await engine.trainStep(masks ? { ...batch, dropoutMasks: masks } : batch, learningRate);
        if (!Number.isFinite(loss)) {
          bar?.stop();
          throw new TrainingError("E_TRAIN_DIVERGED", `the loss became ${loss} at epoch ${epoch + 1}, batch ${b + 1}; lower the learning rate (now ${learningRate}) or check the data for NaN/Inf`);
        }
        lossSum += loss * indices.length;
        const elapsed = (performance.now() - started) / 1000;
        bar?.update(b + 1, { loss: loss.toPrecision(4), rate: (((b + 1) * options.batchSize) / Math.max(elapsed, 1e-9)).toFixed(1) });
      }
      bar?.stop();
      const seconds = (performance.now() - started) / 1000;
      let valLoss: number | null = null;
      if (nVal > 0) {
        let sum = 0;
        for (let start = 0; start < nVal; start += options.batchSize) {
          const indices = valIndices.slice(start, Math.min(start + options.batchSize, nVal));
          sum += (await engine.evaluate(await batchOf(indices))) * indices.length;
        }
        valLoss = sum / nVal;
      }
      const record: EpochRecord = { epoch: epoch + 1, loss: lossSum / trainIndices.length, valLoss, learningRate };
      const metrics: EpochMetrics = { ...record, samplesPerSecond: trainIndices.length / Math.max(seconds, 1e-9), seconds, engine: engineInfo.engine, backend: engineInfo.backend };
      const monitored = valLoss ?? record.loss;
      let { best, sinceBest } = state;
      let bestEpoch = state.bestEpoch ?? null;
      if (best === null || monitored < best - (options.earlyStopping?.minDelta ?? 0)) {
        best = monitored;
        sinceBest = 0;
        bestEpoch = epoch + 1;
        if (restoreBest) bestWeights = await engine.getWeights();
      } else {
        sinceBest += 1;
      }
      const stoppedEarly = options.earlyStopping !== undefined && sinceBest >= options.earlyStopping.patience;
      const optimizerState = await engine.getOptimizerState();
      state = {
        configHash,
        epochsDone: epoch + 1,
        history: [...state.history, record],
        metrics: [...state.metrics, metrics],
        best,
        sinceBest,
        bestEpoch,
        stoppedEarly,
        optimizerStep: optimizerState.step,
      };
      // The best weights first: a checkpoint never names a best epoch whose weights are not on disk.
      if (restoreBest && bestEpoch === epoch + 1) await writeFileAtomic(bestWeightsPath, encodeCheckpoint(state, bestWeights!, { step: 0, slots: [] }));
      await writeFileAtomic(checkpointPath, encodeCheckpoint(state, await engine.getWeights(), optimizerState));
      await writeFileAtomic(join(options.outDir, METRICS_JSONL_FILE), state.metrics.map((m) => JSON.stringify(m)).join("\n") + "\n");
      await writeFileAtomic(join(options.outDir, METRICS_CSV_FILE), metricsCsv(state.metrics));
      options.onEpoch?.(metrics);
    }

    let keptEpoch = state.epochsDone;
    if (restoreBest && bestWeights !== null && state.bestEpoch !== null && state.bestEpoch !== undefined && state.bestEpoch !== state.epochsDone) {
      await engine.setWeights(bestWeights);
      keptEpoch = state.bestEpoch;
    }
    const weights = await engine.getWeights();
    const svg = lossCurveSvg(state.history, `${options.description.name}: ${options.loss.kind} loss (${engineInfo.engine}/${engineInfo.backend})`);
    await writeFileAtomic(join(options.outDir, LOSS_CURVE_FILE), svg);
    // Read again after training: an engine settles its provider and graph layout only in `init`.
    const ranOn = engine.info;
    const backendRecord = {
      engine: ranOn.engine,
      backend: ranOn.backend,
      threads: ranOn.threads,
      ...(ranOn.layout !== undefined ? { layout: ranOn.layout } : {}),
      ...(ranOn.replicas !== undefined ? { replicas: ranOn.replicas } : {}),
      ...(ranOn.convolutions !== undefined ? { convolutions: ranOn.convolutions } : {}),
      fallbacks: ranOn.fallbacks.map((f) => ({ ...f })),
    };
    const identity =
      options.identity ??
      (createPartialIdentity({
        stage: "train",
        config: { description: options.description as unknown as JsonObject, hyperparameters },
        datasetSnapshotHash: options.datasetSnapshotHash ?? null,
        seeds: { init: options.description.seed, shuffle: seeds.shuffle, dropout: seeds.dropout },
        runtime: backendRecord as unknown as JsonObject,
        root: options.outDir,
      }).toJSON() as unknown as JsonValue);
    const bundlePath = join(options.outDir, BUNDLE_FILE);
    const exported = await exportOnnxForBundle(options.description, weights);
    const { bundleSha256 } = await writeBundle(bundlePath, {
      description: options.description,
      weights,
      hyperparameters,
      history: state.history as unknown as JsonValue,
      identity,
      backend: backendRecord as unknown as JsonValue,
      lossCurveSvg: svg,
      ...("modelOnnx" in exported ? { modelOnnx: exported.modelOnnx } : { onnxExportFailure: exported.failure }),
    });
    let onnxExport: OnnxExportOutcome = { written: true };
    if ("failure" in exported) {
      onnxExport = { written: false, reason: exported.failure };
      (options.onWarning ?? defaultWarning)(onnxSkippedWarning(bundlePath, exported.failure));
    }
    return {
      bundlePath,
      bundleSha256,
      history: state.history,
      metrics: state.metrics,
      epochsRun: state.epochsDone,
      stoppedEarly: state.stoppedEarly,
      keptEpoch,
      resumedFromEpoch,
      engine: engineInfo.engine,
      backend: engineInfo.backend,
      weights,
      onnxExport,
    };
  } finally {
    if (typeof options.engine !== "object") await engine.dispose();
  }
}
