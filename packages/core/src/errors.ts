/**
 * Error codes and error classes raised by `@studykit/core`'s identity, manifest, file and lock modules.
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
