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
 * Files in `outDir` (names in `training-files.ts`): `checkpoint.bin` (weights, Adam state, history;
 * replaced atomically each epoch, format in `internal/checkpoint-codec.ts`), `metrics.jsonl` and
 * `metrics.csv` (rewritten atomically each epoch, so a resumed run never duplicates lines), then
 * `loss-curve.svg` and `bundle.zip` from the bundle step (`internal/bundle-step.ts`).
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { SingleBar } from "cli-progress";
import { fingerprint, SeededRandom, writeFileAtomic, type JsonObject, type JsonValue } from "@studykit/core";
import { sha256 } from "@studykit/native";
import type { OnnxExportOutcome } from "./bundle.js";
import { createEngine, type OnnxThreadLayout } from "./engines/create-engine.js";
import type { EngineName } from "./engines/engine-name.js";
import type { BackendChoice } from "./engines/tfjs/backend-selection.js";
import type { AdamOptimizer, LossDescription, TrainingBatch, TrainingEngine } from "./engines/training-engine.js";
import { TrainerErrorCode, TrainingError } from "./errors.js";
import { writeTrainingBundle } from "./internal/bundle-step.js";
import { decodeCheckpoint, encodeCheckpoint, type CheckpointState } from "./internal/checkpoint-codec.js";
import { applyDihedral, DIHEDRAL_PROBE_TOLERANCE, DIHEDRAL_TRANSFORMS, dihedralPixelMaps, dihedralProbeMismatch } from "./internal/dihedral.js";
import { learningRateAt } from "./internal/learning-rate.js";
import { metricsCsv, metricsJsonl } from "./internal/metrics-files.js";
import { initialWeights, validateModelDescription, type ModelDescription, type NamedWeight } from "./model-description.js";
import type { TrainingData } from "./training-data.js";
import { BEST_WEIGHTS_FILE, CHECKPOINT_FILE, METRICS_CSV_FILE, METRICS_JSONL_FILE } from "./training-files.js";

/** Learning rate per epoch (0-based `epoch`). */
export type LearningRateSchedule =
  | { readonly kind: "constant" }
  /** `lr·decay^epoch` */
  | { readonly kind: "exponential"; readonly decay: number }
  /** `lr·factor^⌊epoch/every⌋` */
  | { readonly kind: "step"; readonly every: number; readonly factor: number }
  /** cosine from `lr` to `minLearningRate` over the run's epochs */
  | { readonly kind: "cosine"; readonly minLearningRate: number };

/** Training-sample augmentation (see {@link TrainOptions.augmentation}). */
export type Augmentation = "none" | "dihedral";

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
  /**
   * `"dihedral"`: each training sample (not validation) goes through one of the square's 8 rotations and
   * reflections about its centre pixel, drawn per sample, epoch and batch from the shuffle seed; inputs,
   * supervised targets and group offsets move together. It keeps a diffraction sample physical only when
   * the probe is unchanged by those maps (a centred, radially symmetric probe): with the physics loss the
   * trainer checks its probe and refuses another (`E_TRAIN_CONFIG`); with the supervised loss that is the
   * caller's to check. Default `"none"`.
   */
  readonly augmentation?: Augmentation;
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
  /**
   * With `engine: "onnxruntime"`: its thread layout (replicas, intra-op threads per replica; default 2
   * replicas of 1 thread on the CPU). A caller running k trainings at once on c cores gives each
   * `{ replicas: 1, intraOpNumThreads: ⌊c / k⌋ }`. Ignored by TF.js.
   */
  readonly onnxThreads?: OnnxThreadLayout;
  /** The job's artifact directory (created). */
  readonly outDir: string;
  /** Resume from `outDir/checkpoint.bin` when present (default true). */
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  /** Progress bar on stderr: `"auto"` (default) shows it on a TTY. */
  readonly progress?: boolean | "auto";
  /**
   * The run identity record stamped into the bundle's `identity.json`, as given: a study passes the job's
   * final identity (the record its manifest holds, with `isFinal: true`, the strict key and the run id).
   * Without one, `train()` builds a partial identity from these options (`isFinal: false`, no run id) and
   * says so in the result's `identitySource` (`"built"`).
   */
  readonly identity?: JsonValue;
  /** Content hash of the dataset, for the identity `train()` builds when none is given. */
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
  /**
   * Where the bundle's `identity.json` came from: `"given"` (the caller's `identity`, as passed) or
   * `"built"` (none was passed; `train()` built a partial identity, which has no run id).
   */
  readonly identitySource: "given" | "built";
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
  const augmentation = options.augmentation ?? "none";
  if (augmentation !== "none" && augmentation !== "dihedral") problems.push(`augmentation must be "none" or "dihedral", got ${JSON.stringify(augmentation)}`);
  if (augmentation === "dihedral") {
    if (height !== width) problems.push(`dihedral augmentation needs square samples, got ${height}×${width}`);
    if (options.loss.kind === "physics" && options.loss.probe.height === options.loss.probe.width) {
      const mismatch = dihedralProbeMismatch(options.loss.probe);
      if (mismatch > DIHEDRAL_PROBE_TOLERANCE) {
        problems.push(`dihedral augmentation needs a probe that its rotations and reflections about pixel (N/2, N/2) leave unchanged, but this probe changes by up to ${mismatch.toExponential(2)} of its peak (tolerance ${DIHEDRAL_PROBE_TOLERANCE}); train without augmentation`);
      }
    }
  }
  if (options.data.count < 1) problems.push("the data has no samples");
  if (problems.length) throw new TrainingError(TrainerErrorCode.TrainConfig, `cannot train: ${problems.join("; ")}`);
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
    // Recorded only when on, so bundles trained before the option keep their fingerprints.
    ...(options.augmentation === "dihedral" ? { augmentation: "dihedral" } : {}),
    seeds: { init: options.description.seed, ...seeds },
    optimizer: optimizer as unknown as JsonObject,
    loss,
    samples: options.data.count,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function abortError(signal: AbortSignal): TrainingError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? "aborted");
  return new TrainingError(TrainerErrorCode.Aborted, `training was cancelled (${reason}); the last completed epoch's checkpoint is kept and a rerun resumes from it`);
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

  const engine = await createEngine(options.engine, options.backend, options.onnxThreads);
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
          TrainerErrorCode.CheckpointMismatch,
          `checkpoint ${checkpointPath} was written for a different model, hyperparameters, engine or back end (config ${restored.state.configHash.slice(0, 12)}, this run ${configHash.slice(0, 12)}); delete it or pass resume: false to start over`,
        );
      }
      await engine.setWeights(restored.weights);
      await engine.setOptimizerState(restored.optimizer);
      state = restored.state;
      resumedFromEpoch = state.epochsDone;
      if (restoreBest && state.bestEpoch !== undefined && state.bestEpoch !== null) {
        if (!(await exists(bestWeightsPath))) throw new TrainingError(TrainerErrorCode.CheckpointCorrupt, `checkpoint ${checkpointPath} records best epoch ${state.bestEpoch} but ${bestWeightsPath} is missing; delete the checkpoint to start over`);
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

    const maps = options.augmentation === "dihedral" ? dihedralPixelMaps(options.description.input.height) : null;
    const augment = (batch: TrainingBatch, epoch: number, batchIndex: number): TrainingBatch => {
      if (maps === null) return batch;
      const random = SeededRandom.derive(seeds.shuffle, "augmentation", epoch, batchIndex);
      const transforms = Uint8Array.from({ length: batch.count }, () => random.nextInt(DIHEDRAL_TRANSFORMS));
      return applyDihedral(batch, maps, options.description.input.channels, transforms);
    };

    for (let epoch = state.epochsDone; epoch < options.epochs && !state.stoppedEarly; epoch++) {
      const learningRate = learningRateAt(options.learningRate, options.schedule, epoch, options.epochs);
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
        const batch = augment(await batchOf(indices), epoch, b);
        const masks = dropoutMasks(options.description, seeds.dropout, epoch, b, indices.length);
        const loss = await engine.trainStep(masks ? { ...batch, dropoutMasks: masks } : batch, learningRate);
        if (!Number.isFinite(loss)) {
          bar?.stop();
          throw new TrainingError(TrainerErrorCode.TrainDiverged, `the loss became ${loss} at epoch ${epoch + 1}, batch ${b + 1}; lower the learning rate (now ${learningRate}) or check the data for NaN/Inf`);
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
      await writeFileAtomic(join(options.outDir, METRICS_JSONL_FILE), metricsJsonl(state.metrics));
      await writeFileAtomic(join(options.outDir, METRICS_CSV_FILE), metricsCsv(state.metrics));
      options.onEpoch?.(metrics);
    }

    let keptEpoch = state.epochsDone;
    if (restoreBest && bestWeights !== null && state.bestEpoch !== null && state.bestEpoch !== undefined && state.bestEpoch !== state.epochsDone) {
      await engine.setWeights(bestWeights);
      keptEpoch = state.bestEpoch;
    }
    const weights = await engine.getWeights();
    // Read again after training: an engine settles its provider and graph layout only in `init`.
    const { bundlePath, bundleSha256, onnxExport, identitySource } = await writeTrainingBundle({ options, hyperparameters, seeds, history: state.history, createdOn: engineInfo, ranOn: engine.info, weights });
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
      identitySource,
    };
  } finally {
    if (typeof options.engine !== "object") await engine.dispose();
  }
}
