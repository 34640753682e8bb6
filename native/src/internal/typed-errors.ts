/**
 * Turns the plain coded `Error`s the addon throws (and Node's `errno` errors in the fallback) into the
 * package's typed errors, so both implementations fail with the same class, code and message.
 */
import { CANCELLED_CODE, CancelledError, IoError, IoErrorCode, NativeError, NativeErrorCode, StudykitError } from "../errors.js";

/** Converts an error thrown by the addon; `path` is attached to I/O errors. */
export function fromNativeError(error: unknown, path?: string): unknown {
  if (error instanceof StudykitError || !(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return error;
  if (code === CANCELLED_CODE) return new CancelledError(error.message);
  if (code.startsWith("E_IO")) return new IoError(code, error.message, path ?? "");
  const internal = code === NativeErrorCode.Panic || code === NativeErrorCode.Napi;
  return new NativeError(code, error.message, { userFacing: !internal });
}

const ERRNO_CODES: Record<string, string> = {
  ENOENT: IoErrorCode.NotFound,
  EACCES: IoErrorCode.Permission,
  EPERM: IoErrorCode.Permission,
  EISDIR: IoErrorCode.IsDirectory,
};

/** Builds the I/O error for a failed `operation` on `path`, worded like the addon's. */
export function ioError(path: string, operation: string, error: unknown): IoError {
  const errno = (error as { code?: unknown }).code;
  const code = (typeof errno === "string" && ERRNO_CODES[errno]) || IoErrorCode.Other;
  const reason = error instanceof Error ? error.message : String(error);
  switch (code) {
    case IoErrorCode.NotFound:
      return new IoError(code, `cannot ${operation} ${path}: no such file or directory; check the path`, path, { cause: error });
    case IoErrorCode.Permission:
      return new IoError(code, `cannot ${operation} ${path}: permission denied; check the file's read permission`, path, { cause: error });
    case IoErrorCode.IsDirectory:
      return isDirectoryError(path);
    default:
      return new IoError(code, `cannot ${operation} ${path}: ${reason}`, path, { cause: error });
  }
}

/** The error for a directory where a file was expected. */
export function isDirectoryError(path: string): IoError {
  return new IoError(IoErrorCode.IsDirectory, `cannot read ${path}: it is a directory; pass a regular file`, path);
}

/** The error for a bad argument. */
export function argumentError(message: string): NativeError {
  return new NativeError(NativeErrorCode.Argument, message);
}

/** Runs a synchronous binding call, converting what it throws. */
export function callNative<T>(call: () => T, path?: string): T {
  try {
    return call();
  } catch (error) {
    throw fromNativeError(error, path);
  }
}
