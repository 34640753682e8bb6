/**
 * Every error code `@studykit/trainer` raises, in one table, and one error class per failure family.
 *
 * The classes extend `StudykitError` (from `@studykit/native`, the one error base every package shares), so
 * each carries a stable `code` and says whether the user can fix it. Callers tell failures apart by `code`
 * (`hasErrorCode(error, TrainerErrorCode.CheckpointMismatch)`), never by `instanceof`: a package loaded
 * twice still answers, and a code moving between families breaks no caller.
 */
import { StudykitError } from "@studykit/native";

/** Error and warning codes of the trainer, one named constant each. */
export const TrainerErrorCode = {
  /** A model description is inconsistent (layers, shapes, heads, seeds). */
  ModelDescription: "E_MODEL_DESCRIPTION",
  /** Training arrays do not fit each other, the model or the loss. */
  TrainingData: "E_TRAINING_DATA",
  /** `train` options are invalid (epochs, batch size, split, loss vs data). */
  TrainConfig: "E_TRAIN_CONFIG",
  /** Training was cancelled through its `AbortSignal`. */
  Aborted: "E_ABORTED",
  /** The loss became NaN or infinite. */
  TrainDiverged: "E_TRAIN_DIVERGED",
  /** A checkpoint (or its best-weights file) cannot be read. */
  CheckpointCorrupt: "E_CHECKPOINT_CORRUPT",
  /** A checkpoint was written for another model, hyperparameters, engine or back end. */
  CheckpointMismatch: "E_CHECKPOINT_MISMATCH",
  /** An engine name that is neither `tfjs` nor `onnxruntime`. */
  EngineUnknown: "E_ENGINE_UNKNOWN",
  /** An engine used before `init`, or after its TF.js back end changed. */
  EngineState: "E_ENGINE_STATE",
  /** The ONNX Runtime engine used before `init`. */
  EngineNotInitialised: "E_ENGINE_NOT_INITIALISED",
  /** A model or loss the engine cannot train on its back end. */
  EngineUnsupported: "E_ENGINE_UNSUPPORTED",
  /** A back end (TF.js) or execution provider (ONNX Runtime) name nobody knows. */
  BackendUnknown: "E_BACKEND_UNKNOWN",
  /** An explicitly chosen TF.js back end cannot start. */
  BackendUnavailable: "E_BACKEND_UNAVAILABLE",
  /** The loss does not fit the model or the batch (probe size, missing targets, canvas padding). */
  LossConfig: "E_LOSS_CONFIG",
  /** A batch (inputs, targets, dropout masks) does not fit the model. */
  BatchShape: "E_BATCH_SHAPE",
  /** Weights handed to an engine do not fit its model. */
  WeightsMismatch: "E_WEIGHTS_MISMATCH",
  /** Optimizer state handed to an engine does not fit its model. */
  OptimizerState: "E_OPTIMIZER_STATE",
  /** No ONNX Runtime execution provider could start. */
  OnnxNoProvider: "E_ONNX_NO_PROVIDER",
  /** Invalid ONNX engine or session options (replicas, threads, layout, provider, batch size). */
  OnnxOptions: "E_ONNX_OPTIONS",
  /** Weights that do not fit the description, for the ONNX engine or the export. */
  OnnxWeights: "E_ONNX_WEIGHTS",
  /** A replica thread of an ONNX Runtime session failed. */
  OnnxReplica: "E_ONNX_REPLICA",
  /** Bytes that are not a model.onnx written by `exportOnnx`, or no model at all. */
  OnnxModel: "E_ONNX_MODEL",
  /** Inference input that does not fit the model. */
  OnnxInput: "E_ONNX_INPUT",
  /** The ONNX compiler built an inconsistent graph (an internal bug). */
  OnnxGraph: "E_ONNX_GRAPH",
  /** The ONNX export failed with an error that carries no code of its own. */
  OnnxExport: "E_ONNX_EXPORT",
  /** Warning: a bundle was written without model.onnx because the export failed. */
  OnnxExportSkipped: "E_ONNX_EXPORT_SKIPPED",
  /** Recorded in a bundle whose writer passed neither ONNX bytes nor an export failure. */
  OnnxNotGiven: "E_ONNX_NOT_GIVEN",
  /** Bundle contents that cannot be written (weights missing, ONNX bytes and failure both given). */
  BundleInvalid: "E_BUNDLE_INVALID",
  /** A bundle that does not verify (checksum, members, JSON). */
  BundleCorrupt: "E_BUNDLE_CORRUPT",
  /** A bundle file that cannot be read. */
  BundleMissing: "E_BUNDLE_MISSING",
} as const;

/** One of the trainer's codes. */
export type TrainerErrorCode = (typeof TrainerErrorCode)[keyof typeof TrainerErrorCode];

type ErrorOptions = { readonly cause?: unknown; readonly userFacing?: boolean };

/** An inconsistent model description (always `E_MODEL_DESCRIPTION`). */
export class ModelDescriptionError extends StudykitError {
  constructor(message: string) {
    super(TrainerErrorCode.ModelDescription, message);
  }
}

/** Training data that does not fit the model or the loss (always `E_TRAINING_DATA`). */
export class TrainingDataError extends StudykitError {
  constructor(message: string) {
    super(TrainerErrorCode.TrainingData, message);
  }
}

/** The training loop's failures: options, cancellation, divergence, checkpoints, the engine choice. */
export class TrainingError extends StudykitError {
  constructor(code: TrainerErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Choosing or misusing an engine: names, back ends, state, and batches, losses or weights it cannot take. */
export class EngineError extends StudykitError {
  constructor(code: TrainerErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The ONNX Runtime training engine's failures (a kind of {@link EngineError}). */
export class OnnxEngineError extends EngineError {}

/** Writing or reading a model.onnx: weights that do not fit (`E_ONNX_WEIGHTS`, the default), unreadable bytes (`E_ONNX_MODEL`). */
export class OnnxExportError extends StudykitError {
  constructor(message: string, options: ErrorOptions & { readonly code?: TrainerErrorCode } = {}) {
    super(options.code ?? TrainerErrorCode.OnnxWeights, message, options);
  }
}

/** Bad inference input or no usable execution provider. */
export class OnnxInferenceError extends StudykitError {
  constructor(code: TrainerErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The ONNX compiler built an inconsistent graph: an internal bug, not a user error (always `E_ONNX_GRAPH`). */
export class OnnxGraphError extends StudykitError {
  constructor(message: string) {
    super(TrainerErrorCode.OnnxGraph, message, { userFacing: false });
  }
}

/** Bundles that cannot be written, read or verified. */
export class BundleError extends StudykitError {
  constructor(code: TrainerErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}
