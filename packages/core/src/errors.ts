/**
 * Error codes and error classes raised by `@studykit/core`: identity, manifest, file and lock failures
 * ({@link CoreError}), job execution ({@link RunnerError}, recorded in job results) and the distributed
 * executor ({@link QueueError}). The job-matrix errors live with the matrix (they carry its problem list).
 *
 * One place for every code (STYLE 10), so callers can match `error.code` against a named constant
 * (through `hasErrorCode` from `@studykit/native`) instead of a string literal.
 */
import { StudykitError } from "@studykit/native";

/** Stable error codes of the identity, manifest, pipeline, atomic-file and lock modules. */
export const CoreErrorCode = {
  /** A lock could not be acquired in time; the message names the holder's pid and host. */
  Locked: "E_LOCKED",
  /** A JSON file that should hold a document is unreadable (bad JSON) or fails its schema. */
  JsonInvalid: "E_JSON_INVALID",
  /** A path is absolute, contains `..`, or resolves (through symlinks) outside its root. */
  PathEscape: "E_PATH_ESCAPE",
  /** A run id or comparability verdict was asked of an identity that is not final (strict mode). */
  IdentityNotFinal: "E_IDENTITY_NOT_FINAL",
  /** `finalize` was called on an identity that is already final, or a second time. */
  IdentityFinal: "E_IDENTITY_FINAL",
  /** An identity input is malformed (bad stage name, non-integer seed, bad hash). */
  IdentityInvalid: "E_IDENTITY_INVALID",
  /** Strict comparability was asked of identities without a dataset snapshot hash. */
  SnapshotRequired: "E_SNAPSHOT_REQUIRED",
  /** An artifact a stage needs (or promised to produce) is absent. */
  MissingArtifact: "E_MISSING_ARTIFACT",
  /** A run plan is malformed (duplicate stage, unknown upstream, bad artifact name or path). */
  PlanInvalid: "E_PLAN_INVALID",
  /** `createRun` found a run manifest already in the run root. */
  RunExists: "E_RUN_EXISTS",
  /** `openRun` found no run manifest in the run root. */
  RunNotFound: "E_RUN_NOT_FOUND",
  /** A stage was used out of order (completed before it began, began twice, unknown name). */
  StageState: "E_STAGE_STATE",
  /** A package's compiled worker or child-process entry is missing (the package is not built). */
  EntryMissing: "E_ENTRY_MISSING",
  /** A concurrency setting is not an integer ≥ 1. */
  Concurrency: "E_CONCURRENCY",
} as const;

/** One of {@link CoreErrorCode}'s values. */
export type CoreErrorCodeValue = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

/** Failure of a `@studykit/core` identity, manifest, pipeline, file or lock operation. */
export class CoreError extends StudykitError {
  declare readonly code: CoreErrorCodeValue;

  constructor(code: CoreErrorCodeValue, message: string, options: { cause?: unknown; userFacing?: boolean } = {}) {
    super(code, message, options);
  }
}

/** Raised when a lock is held by someone else past the caller's timeout. */
export class LockedError extends CoreError {
  /** The holder's record, when it could be read. */
  readonly holder: { readonly pid: number; readonly host: string; readonly createdAt: string; readonly purpose: string } | null;

  constructor(message: string, holder: LockedError["holder"]) {
    super(CoreErrorCode.Locked, message);
    this.holder = holder;
  }
}

/** Error codes of job execution, as recorded in job results. */
export const RunnerErrorCode = {
  /** The job was cancelled (Ctrl-C, an aborted signal) while it ran. */
  Cancelled: "E_CANCELLED",
  /** The runner threw or rejected without a studykit error code of its own. */
  JobFailed: "E_JOB_FAILED",
  /** The job's process died (exit, signal, out of memory) before returning a result. */
  JobCrashed: "E_JOB_CRASHED",
  /** The runner module could not be loaded, or lacks the named export. */
  RunnerLoad: "E_RUNNER_LOAD",
  /** The runner returned something other than an object of results. */
  RunnerOutput: "E_RUNNER_OUTPUT",
  /** The runner's `bundlePath` does not exist. */
  MissingArtifact: "E_MISSING_ARTIFACT",
  /** The runner's `bundlePath` points outside the job's artifact directory. */
  PathEscape: "E_PATH_ESCAPE",
} as const;

/** A job-execution failure with a code from {@link RunnerErrorCode} (or the runner's own code). */
export class RunnerError extends StudykitError {}

/** Error codes of the distributed executor. */
export const QueueErrorCode = {
  /** Redis cannot be reached (or stayed unreachable past the configured outage time). */
  Unavailable: "E_QUEUE_UNAVAILABLE",
  /** The distributed executor was given something it cannot ship to workers (an in-process runner). */
  Runner: "E_QUEUE_RUNNER",
  /** A bad Redis URL or option. */
  Config: "E_QUEUE_CONFIG",
  /** A worker cannot see or write a study's artifact root (wrong mount or `--artifact-root`). */
  ArtifactRoot: "E_QUEUE_ARTIFACT_ROOT",
  /** A bundle a worker reported is missing at the coordinator or has another SHA-256. */
  BundleMismatch: "E_QUEUE_BUNDLE_MISMATCH",
} as const;

/** A distributed-execution failure. */
export class QueueError extends StudykitError {}
