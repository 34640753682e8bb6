/**
 * Error codes and error classes of `@studykit/study` (one contract file for the package's failures).
 *
 * Every class subclasses `StudykitError` and takes only its family's codes; callers test `code` through
 * `hasErrorCode`, not `instanceof`. Failures of the packages below (core's manifests and runner, data's
 * readers, ptycho's reconstruction, native's IO and cancellation) keep their own classes and codes.
 */
import { DataErrorCode } from "@studykit/data";
import { StudykitError } from "@studykit/native";

/** Stable codes raised by `@studykit/study`. */
export const StudyErrorCode = {
  /** The study configuration (file or flags) is invalid; every problem is listed. */
  ConfigInvalid: "E_STUDY_CONFIG",
  /** A preset name other than the ones the study defines. */
  PresetUnknown: "E_STUDY_PRESET",
  /** An `--object-from` file lacks `objectGuess`/`probeGuess` or holds unusable arrays. */
  ObjectFile: "E_STUDY_OBJECT_FILE",
  /** The scan leaves too few positions for a train/test split. */
  TooFewPositions: "E_STUDY_POSITIONS",
  /** A training job was handed no file for an input it needs (train data, groups). */
  MissingInput: "E_MISSING_INPUT",
  /** A training input lacks an array the job needs (data's code for a missing schema key). */
  SchemaMissingKey: DataErrorCode.SchemaMissingKey,
  /** Training inputs that do not fit the job (pattern size, group rows, physics settings). */
  TrainingData: "E_TRAINING_DATA",
  /** Images, masks or options a metric cannot use (shapes differ, a parameter out of range). */
  MetricInput: "E_METRIC_INPUT",
  /** A region too small for the metric (FRC below 4×4, MS-SSIM below its coarsest scale). */
  MetricRegionTooSmall: "E_METRIC_REGION_TOO_SMALL",
  /** A back end name neither ONNX Runtime nor TF.js knows. */
  BackendUnknown: "E_BACKEND_UNKNOWN",
  /** `--backend cuda` where ONNX Runtime's CUDA provider cannot run. */
  OnnxNoProvider: "E_ONNX_NO_PROVIDER",
  /** The chosen training engine does not load. */
  EngineUnavailable: "E_ENGINE_UNAVAILABLE",
  /** Strict comparison of two runs whose identities make their results incomparable. */
  RunsIncomparable: "E_RUNS_INCOMPARABLE",
  /** The path given to a comparison holds neither a study manifest nor a run manifest. */
  RunNotFound: "E_RUN_NOT_FOUND",
  /** A comparison mode other than strict, warn or off. */
  Usage: "E_USAGE",
  /** `--phase-c-root` / `--phase-d-root` lacks its phase manifest or a file the manifest lists. */
  PhaseRootMissing: "E_MISSING_ARTIFACT",
  /** A phase root's manifest is unreadable or of another phase or format. */
  PhaseRootInvalid: "E_PHASE_ROOT_INVALID",
  /** A phase root's data was made for other inputs than this study's, or no longer holds what it recorded. */
  PhaseRootMismatch: "E_PHASE_ROOT_MISMATCH",
  /** The study has not finished (interrupted or still running): there is no final record to check. */
  StudyUnfinished: "E_STUDY_UNFINISHED",
  /** A phase manifest the study's run manifest records as produced cannot be read back as that phase's manifest. */
  StageOutputInvalid: "E_STAGE_OUTPUT_INVALID",
} as const;

export type StudyErrorCodeValue = (typeof StudyErrorCode)[keyof typeof StudyErrorCode];

/** Error codes of study configuration ({@link StudyConfigError}). */
export const StudyConfigErrorCode = {
  /** The configuration (file or flags) is invalid; every problem is listed. */
  Invalid: StudyErrorCode.ConfigInvalid,
} as const;

/** Error codes of Phase C's inputs ({@link SimulationInputError}). */
export const SimulateErrorCode = {
  /** `--object-from` file lacks `objectGuess`/`probeGuess` or holds unusable arrays. */
  ObjectFile: StudyErrorCode.ObjectFile,
  /** The scan leaves too few positions for a train/test split. */
  TooFewPositions: StudyErrorCode.TooFewPositions,
} as const;

/** Error codes of a training job's inputs ({@link TrainingInputError}). */
export const TrainingInputErrorCode = {
  MissingInput: StudyErrorCode.MissingInput,
  SchemaMissingKey: StudyErrorCode.SchemaMissingKey,
  TrainingData: StudyErrorCode.TrainingData,
} as const;

/** Error codes of the reconstruction metrics ({@link MetricInputError}). */
export const MetricErrorCode = {
  Input: StudyErrorCode.MetricInput,
  RegionTooSmall: StudyErrorCode.MetricRegionTooSmall,
} as const;

/** Error codes of the engine and back-end choice ({@link RuntimeSelectionError}). */
export const RuntimeSelectionErrorCode = {
  BackendUnknown: StudyErrorCode.BackendUnknown,
  OnnxNoProvider: StudyErrorCode.OnnxNoProvider,
  EngineUnavailable: StudyErrorCode.EngineUnavailable,
} as const;

/** Error codes of `compareRuns` ({@link RunComparisonError}). */
export const RunComparisonErrorCode = {
  /** Strict mode: the runs differ in something that makes their results incomparable. */
  Incomparable: StudyErrorCode.RunsIncomparable,
  /** The path holds neither a study manifest nor a run manifest. */
  NotARun: StudyErrorCode.RunNotFound,
  /** A comparison mode other than strict, warn or off. */
  Mode: StudyErrorCode.Usage,
} as const;

/** Error codes of reusing an earlier study's Phase C or D data ({@link PhaseRootError}). */
export const PhaseRootErrorCode = {
  Missing: StudyErrorCode.PhaseRootMissing,
  Invalid: StudyErrorCode.PhaseRootInvalid,
  Mismatch: StudyErrorCode.PhaseRootMismatch,
} as const;

/** Error codes of a study's recorded state ({@link StudyStateError}). */
export const StudyStateErrorCode = {
  Unfinished: StudyErrorCode.StudyUnfinished,
  StageOutputInvalid: StudyErrorCode.StageOutputInvalid,
} as const;

type CodeOf<Table> = Table[keyof Table];
interface ErrorOptions {
  readonly cause?: unknown;
}

/** Most configuration problems listed one by one; the rest are counted. */
const MAX_LISTED_PROBLEMS = 20;

/** An invalid study configuration; `problems` lists every problem found. */
export class StudyConfigError extends StudykitError {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    const shown = problems.slice(0, MAX_LISTED_PROBLEMS).map((problem) => `  - ${problem}`);
    if (problems.length > MAX_LISTED_PROBLEMS) shown.push(`  ... and ${problems.length - MAX_LISTED_PROBLEMS} more`);
    super(StudyConfigErrorCode.Invalid, `invalid study configuration (${source}):\n${shown.join("\n")}`);
    this.problems = problems;
  }
}

/** A preset name the study does not define (`E_STUDY_PRESET`). */
export class StudyPresetError extends StudykitError {
  constructor(message: string) {
    super(StudyErrorCode.PresetUnknown, message);
  }
}

/** Phase C cannot simulate from what it was given (object file, scan); `code` is one of {@link SimulateErrorCode}. */
export class SimulationInputError extends StudykitError {
  constructor(code: CodeOf<typeof SimulateErrorCode>, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A training job's inputs are missing or do not fit it; `code` is one of {@link TrainingInputErrorCode}. */
export class TrainingInputError extends StudykitError {
  constructor(code: CodeOf<typeof TrainingInputErrorCode>, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A metric cannot score these images; `code` is one of {@link MetricErrorCode}. */
export class MetricInputError extends StudykitError {
  constructor(code: CodeOf<typeof MetricErrorCode>, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The asked-for engine or back end cannot run; `code` is one of {@link RuntimeSelectionErrorCode}. */
export class RuntimeSelectionError extends StudykitError {
  constructor(code: CodeOf<typeof RuntimeSelectionErrorCode>, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Two runs cannot be loaded or compared; `code` is one of {@link RunComparisonErrorCode}. */
export class RunComparisonError extends StudykitError {
  constructor(code: CodeOf<typeof RunComparisonErrorCode>, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Phase C or D data given with `--phase-c-root` / `--phase-d-root` cannot be reused; `code` is one of {@link PhaseRootErrorCode}. */
export class PhaseRootError extends StudykitError {
  constructor(code: CodeOf<typeof PhaseRootErrorCode>, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A study's manifest is not in the state an operation needs (e.g. verifying a study that never finished). */
export class StudyStateError extends StudykitError {
  constructor(code: CodeOf<typeof StudyStateErrorCode>, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}
