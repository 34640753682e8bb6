/**
 * The last step of a training run: the loss curve, the record of where it ran, the run identity, the ONNX
 * export of the trained weights and the bundle that holds them all.
 *
 * A failed ONNX export does not fail training (the TF.js model and weights are in the bundle), but it is
 * never silent: the bundle records why in `onnx-export.json`, `onWarning` (default: a Node process warning)
 * is told, and the outcome says `{ written: false, reason }`.
 */
import { join } from "node:path";
import { createPartialIdentity, writeFileAtomic, type JsonObject, type JsonValue } from "@studykit/core";
import { writeBundle, type OnnxExportFailure, type OnnxExportOutcome } from "../bundle.js";
import type { EngineInfo } from "../engines/training-engine.js";
import { TrainerErrorCode } from "../errors.js";
import type { ModelDescription, NamedWeight } from "../model-description.js";
import type { EpochRecord, TrainOptions, TrainWarning } from "../train.js";
import { BUNDLE_FILE, LOSS_CURVE_FILE } from "../training-files.js";
import { lossCurveSvg } from "./loss-curve.js";

/** What the loop hands to the bundle step once training is over. */
export interface BundleStepInput {
  readonly options: TrainOptions;
  /** The hyperparameters recorded in the bundle (and fingerprinted for resume). */
  readonly hyperparameters: JsonObject;
  readonly seeds: { readonly shuffle: number; readonly dropout: number };
  readonly history: readonly EpochRecord[];
  /** The engine's info when it was created (names the loss curve). */
  readonly createdOn: EngineInfo;
  /** The engine's info after training: an engine settles its provider and graph layout only in `init`. */
  readonly ranOn: EngineInfo;
  /** The weights to bundle. */
  readonly weights: readonly NamedWeight[];
}

/** Where the bundle went and whether it holds `model.onnx`. */
export interface BundleStepResult {
  readonly bundlePath: string;
  readonly bundleSha256: string;
  readonly onnxExport: OnnxExportOutcome;
  /** `"given"`: the caller's identity was stamped; `"built"`: none was given, a partial one was built here. */
  readonly identitySource: "given" | "built";
}

/** Writes `loss-curve.svg` and `bundle.zip` into `options.outDir`, warning when the ONNX export failed. */
export async function writeTrainingBundle(input: BundleStepInput): Promise<BundleStepResult> {
  const { options, hyperparameters, seeds, history, createdOn, ranOn, weights } = input;
  const svg = lossCurveSvg(history, `${options.description.name}: ${options.loss.kind} loss (${createdOn.engine}/${createdOn.backend})`);
  await writeFileAtomic(join(options.outDir, LOSS_CURVE_FILE), svg);
  const backendRecord = {
    engine: ranOn.engine,
    backend: ranOn.backend,
    threads: ranOn.threads,
    ...(ranOn.layout !== undefined ? { layout: ranOn.layout } : {}),
    ...(ranOn.replicas !== undefined ? { replicas: ranOn.replicas } : {}),
    ...(ranOn.convolutions !== undefined ? { convolutions: ranOn.convolutions } : {}),
    fallbacks: ranOn.fallbacks.map((f) => ({ ...f })),
  };
  // The caller's identity (a study job's final one) is stamped as given; only without one is a partial
  // identity built here, and the result says which happened.
  const identitySource = options.identity === undefined ? "built" : "given";
  const identity =
    options.identity ??
    (createPartialIdentity({
      stage: "train",
      config: { description: options.description as unknown as JsonObject, hyperparameters },
      datasetSnapshotHash: options.datasetSnapshotHash ?? null,
      seeds: { init: options.description.seed, shuffle: seeds.shuffle, dropout: seeds.dropout },
      runtime: backendRecord as unknown as JsonObject,
    }).toJSON() as unknown as JsonValue);
  const bundlePath = join(options.outDir, BUNDLE_FILE);
  const exported = await exportOnnxForBundle(options.description, weights);
  const { bundleSha256 } = await writeBundle(bundlePath, {
    description: options.description,
    weights,
    hyperparameters,
    history: history as unknown as JsonValue,
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
  return { bundlePath, bundleSha256, onnxExport, identitySource };
}

/**
 * The ONNX export of trained weights for the bundle, or why it failed (the error's `code` when it has one,
 * else `E_ONNX_EXPORT`, and its message). A failure is returned, not thrown: the rest of the bundle is still
 * worth writing, and the caller records and reports the reason.
 */
export async function exportOnnxForBundle(description: ModelDescription, weights: readonly NamedWeight[]): Promise<{ readonly modelOnnx: Uint8Array } | { readonly failure: OnnxExportFailure }> {
  try {
    // Loaded on demand, like the ONNX engine, so TF.js-only training never loads the ONNX compiler.
    const { exportOnnx } = await import("../engines/onnx/onnx-export.js");
    return { modelOnnx: exportOnnx(description, weights) };
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    return { failure: { code: typeof code === "string" ? code : TrainerErrorCode.OnnxExport, message: error instanceof Error ? error.message : String(error) } };
  }
}

/** The warning for a bundle written without `model.onnx`. */
function onnxSkippedWarning(bundlePath: string, failure: OnnxExportFailure): TrainWarning {
  return {
    code: TrainerErrorCode.OnnxExportSkipped,
    message: `bundle ${bundlePath} has no model.onnx: the ONNX export failed (${failure.code}: ${failure.message}); the reason is recorded in the bundle's onnx-export.json, and the TF.js model in the bundle is unaffected`,
  };
}

function defaultWarning(warning: TrainWarning): void {
  process.emitWarning(warning.message, { code: warning.code });
}
