/**
 * Error codes and error classes of `@studykit/cli` (one contract file for the command's own failures).
 *
 * Every class subclasses `StudykitError`; the error reporter prints `error[CODE]: message` and exits 2 for
 * them (bad input the user can fix). Failures raised by the packages the commands call keep those
 * packages' classes and codes.
 */
import { StudykitError } from "@studykit/native";

/** Stable codes raised by the `studykit` command itself. */
export const CliErrorCode = {
  /** Bad usage: an unknown command or option, a missing argument or value, flags that contradict each other. */
  Usage: "E_USAGE",
  /** `hash --check`: lines of a list that are not checksum lines. */
  ChecksumLineInvalid: "E_CHECKSUM_LINE_INVALID",
  /** `hash --check`: a list with no checksum line at all. */
  ChecksumListEmpty: "E_CHECKSUM_LIST_EMPTY",
  /** `hash --check`: files whose digest differs or that could not be read. */
  ChecksumMismatch: "E_CHECKSUM_MISMATCH",
  /** `study verify`: files of a study that no longer match its manifests. */
  StudyVerify: "E_STUDY_VERIFY",
  /** A failure with no code of its own: a bug in studykit (exit 1). */
  Internal: "E_INTERNAL",
} as const;

export type CliErrorCodeValue = (typeof CliErrorCode)[keyof typeof CliErrorCode];

/** Bad usage of the command line (`E_USAGE`): the message names the flag or argument and what it takes. */
export class UsageError extends StudykitError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(CliErrorCode.Usage, message, options);
  }
}

/** A `hash --check` finding; `code` is one of the `Checksum*` codes of {@link CliErrorCode}. */
export class ChecksumError extends StudykitError {
  constructor(code: typeof CliErrorCode.ChecksumLineInvalid | typeof CliErrorCode.ChecksumListEmpty | typeof CliErrorCode.ChecksumMismatch, message: string) {
    super(code, message);
  }
}

/** A study whose files do not match its manifests (`E_STUDY_VERIFY`). */
export class StudyVerifyError extends StudykitError {
  constructor(message: string) {
    super(CliErrorCode.StudyVerify, message);
  }
}
