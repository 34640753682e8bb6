/**
 * `@studykit/trainer`: model descriptions, the TF.js and ONNX Runtime engines, the training loop and
 * checksummed bundles.
 */
export {
  BundleError,
  EngineError,
  ModelDescriptionError,
  OnnxEngineError,
  OnnxExportError,
  OnnxInferenceError,
  TrainerErrorCode,
  TrainingDataError,
  TrainingError,
} from "./errors.js";
export { ENGINE_NAMES, parseEngineName } from "./engines/engine-name.js";
export type { EngineName } from "./engines/engine-name.js";
export type { OnnxThreadLayout } from "./engines/create-engine.js";
export {
  MODEL_DESCRIPTION_VERSION,
  countMultiplyAdds,
  countParameters,
  initialWeights,
  validateModelDescription,
  weightSpecs,
} from "./model-description.js";
export type {
  ActivationLayer,
  ActivationName,
  Conv2dLayer,
  DropoutLayer,
  InitializerName,
  LayerDescription,
  MaxPool2dLayer,
  ModelDescription,
  MultiplyAddCount,
  NamedWeight,
  OutputHeads,
  SampleShape,
  Upsample2dLayer,
} from "./model-description.js";
export { LOSS_CONSTANTS } from "./engines/training-engine.js";
export type {
  AdamOptimizer,
  EngineHyperparameters,
  EngineInfo,
  LossDescription,
  OptimizerState,
  PhysicsLoss,
  PhysicsOverlap,
  ProbeData,
  SupervisedLoss,
  TrainingBatch,
  TrainingEngine,
} from "./engines/training-engine.js";
export {
  exportOnnx,
  readOnnxModelDescription,
  ONNX_INPUT_NAME,
  ONNX_OUTPUT_NAME,
  ONNX_DESCRIPTION_METADATA_KEY,
} from "./engines/onnx/onnx-export.js";
export { createInferenceSession, ONNX_EXECUTION_PROVIDERS } from "./engines/onnx/inference-session.js";
export type { OnnxExecutionProvider, OnnxInferenceOptions, OnnxInferenceSession, OnnxModelSource, ProviderAttempt } from "./engines/onnx/inference-session.js";
export { createOnnxTrainingEngine, OnnxTrainingEngine, onnxTrainingSetup } from "./engines/onnx/onnx-training-engine.js";
export { probeExecutionProvider } from "./engines/onnx/provider-check.js";
export type { FilterGradientStrategy, OnnxTrainingEngineOptions, OnnxTrainingSetup, SgdMomentumOptimizer } from "./engines/onnx/onnx-training-engine.js";
export { BACKEND_CHOICES, BACKEND_PRIORITY, parseBackendChoice, selectBackend } from "./engines/tfjs/backend-selection.js";
export type { BackendChoice, BackendName, BackendSelection } from "./engines/tfjs/backend-selection.js";
export { createTfjsEngine } from "./engines/tfjs/tfjs-engine.js";
export { inMemoryTrainingData, rowSourceTrainingData } from "./training-data.js";
export type { TrainingData, TrainingSamples } from "./training-data.js";
export { train } from "./train.js";
export { DIHEDRAL_PROBE_TOLERANCE, dihedralProbeMismatch } from "./internal/dihedral.js";
export { CHECKPOINT_FILE, METRICS_JSONL_FILE, METRICS_CSV_FILE, LOSS_CURVE_FILE, BUNDLE_FILE } from "./training-files.js";
export type { Augmentation, EarlyStopping, EpochMetrics, EpochRecord, LearningRateSchedule, TrainOptions, TrainResult, TrainWarning } from "./train.js";
export { BUNDLE_FORMAT, BUNDLE_MEMBERS, encodeBundle, loadBundle, writeBundle } from "./bundle.js";
export type { BundleContents, LoadedBundle, OnnxExportFailure, OnnxExportOutcome } from "./bundle.js";
export { loadBundleModel } from "./bundle-model.js";
export type { BundleModel } from "./bundle-model.js";
