/**
 * Turns the operating system's file errors (Node's `ENOTDIR`, `EACCES`, `ENOSPC`, … errors, which carry
 * no `E_` code) into `IoError`s that name the path and say what to do, so that an output root under a
 * regular file or in a read-only directory is reported as bad input (`error[E_IO…]`, exit 2) and not as
 * a bug in studykit. The study's public entry points (the pipeline, phases C and D) pass every error they
 * throw through {@link codedFileSystemError}: one place instead of a wrapper around each write.
 */
import { IoError, IoErrorCode, hasErrorCode } from "@studykit/native";

/** What Node's file-system calls attach to the errors they throw. */
interface SystemError extends Error {
  readonly code: string;
  readonly syscall: string;
  readonly path?: string;
  readonly dest?: string;
}

function isSystemError(error: unknown): error is SystemError {
  if (!(error instanceof Error) || hasErrorCode(error)) return false;
  const { code, syscall } = error as { code?: unknown; syscall?: unknown };
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) && typeof syscall === "string";
}

/** What the failed call was doing, in words. */
const OPERATIONS: Readonly<Record<string, string>> = {
  mkdir: "create the directory",
  open: "open",
  write: "write",
  read: "read",
  rename: "move",
  link: "link",
  unlink: "remove",
  rmdir: "remove",
  rm: "remove",
  scandir: "list",
  stat: "inspect",
  lstat: "inspect",
  fsync: "flush",
  copyfile: "copy",
};

/** Codes of the `IoErrorCode` family, and the advice that goes with each system error. */
const REASONS: Readonly<Record<string, { code: string; reason: string }>> = {
  ENOTDIR: { code: IoErrorCode.Other, reason: "a part of the path is a regular file, not a directory; choose an output root (--out) that is not under a file" },
  EEXIST: { code: IoErrorCode.Other, reason: "something that is not a directory already has that name; remove it or choose another output root (--out)" },
  EACCES: { code: IoErrorCode.Permission, reason: "permission denied; make the directory writable or choose another output root (--out)" },
  EPERM: { code: IoErrorCode.Permission, reason: "operation not permitted; make the directory writable or choose another output root (--out)" },
  EROFS: { code: IoErrorCode.Permission, reason: "the file system is read-only; choose an output root (--out) on a writable one" },
  ENOSPC: { code: IoErrorCode.Other, reason: "no space left on the device; free some space or choose an output root (--out) on another device" },
  EDQUOT: { code: IoErrorCode.Other, reason: "the disk quota is exceeded; free some space or choose an output root (--out) elsewhere" },
  EISDIR: { code: IoErrorCode.IsDirectory, reason: "it is a directory; remove it or choose another output root (--out)" },
  ENOENT: { code: IoErrorCode.NotFound, reason: "no such file or directory; if something removed part of the output root during the run, run the study again (with --force to rebuild everything)" },
  ENAMETOOLONG: { code: IoErrorCode.Other, reason: "the path is too long; choose a shorter output root (--out)" },
};

/**
 * `error` as a coded `IoError` when it is a system error from a file-system call (naming the path, and
 * the destination of a rename or link); any other error is returned unchanged.
 */
export function codedFileSystemError(error: unknown): unknown {
  if (!isSystemError(error)) return error;
  const operation = OPERATIONS[error.syscall] ?? error.syscall;
  const target = error.path ?? "(no path given)";
  const subject = error.dest ? `${target} to ${error.dest}` : target;
  const known = REASONS[error.code];
  const code = known?.code ?? IoErrorCode.Other;
  const reason = known?.reason ?? error.message;
  return new IoError(code, `cannot ${operation} ${subject}: ${reason} [${error.code}]`, error.dest ?? target, { cause: error });
}
