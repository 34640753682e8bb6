/**
 * The error base shared by every studykit package.
 *
 * Each failure family subclasses {@link StudykitError} with a stable upper-snake-case `code`. Callers test
 * `code` (through {@link hasErrorCode}), not `instanceof`, so a package loaded twice still matches.
 */
export class StudykitError extends Error {
  /** Stable machine-readable code, e.g. `E_NPY_TRUNCATED`. */
  readonly code: string;
  /** Whether the user can fix it (bad input: CLI exit 2) or it is an internal failure (exit 1). */
  readonly userFacing: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; userFacing?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.userFacing = options.userFacing ?? true;
  }
}

/** True when `error` carries the given code (or, without `code`, any `E_*` code). */
export function hasErrorCode(error: unknown, code?: string): error is Error & { code: string } {
  if (typeof error !== "object" || error === null) return false;
  const actual = (error as { code?: unknown }).code;
  if (typeof actual !== "string") return false;
  return code === undefined ? actual.startsWith("E_") : actual === code;
}

/** Error codes raised by `@studykit/native`. */
export const NativeErrorCode = {
  /** No addon could be loaded while `STUDYKIT_REQUIRE_NATIVE=1`. */
  Unavailable: "E_NATIVE_UNAVAILABLE",
  /** The addon's version differs from its package's version. */
  Mismatch: "E_NATIVE_MISMATCH",
  /** A bad argument reached the addon. */
  Argument: "E_NATIVE_ARGUMENT",
  /** Native code panicked; the panic was caught and turned into this error. */
  Panic: "E_NATIVE_PANIC",
  /** An N-API call failed inside the addon. */
  Napi: "E_NATIVE_NAPI",
  /** `update()`/`digest()` on a `Sha256` that was already digested. */
  HashFinalized: "E_HASH_FINALIZED",
} as const;

/** Error codes for file access (`sha256File`, `sha256Files`, `mmapFile`, the atomic writers). */
export const IoErrorCode = {
  /** The file does not exist. */
  NotFound: "E_IO_NOT_FOUND",
  /** The file exists but may not be read. */
  Permission: "E_IO_PERMISSION",
  /** The path names a directory. */
  IsDirectory: "E_IO_IS_DIRECTORY",
  /** An exclusive (create-only) write found the file already there. */
  Exists: "E_IO_EXISTS",
  /** Any other I/O failure (the message carries the system's reason). */
  Other: "E_IO",
} as const;

/**
 * Error codes of the FFT kernels (`fft2InPlace`, `fft2InPlaceAsync`), raised as {@link NativeError}s by the
 * addon and the fallback alike.
 */
export const FftErrorCode = {
  /** The image side `n` is not a power of two between 2 and 1024. */
  Size: "E_FFT_SIZE",
  /** The data's length is not `batch · n · n · 2` values. */
  Length: "E_FFT_LENGTH",
  /** `batch` is not a non-negative integer. */
  Batch: "E_FFT_BATCH",
  /** The data is not a `Float32Array` (complex64) or `Float64Array` (complex128). */
  Type: "E_FFT_TYPE",
  /** An option (`inverse`, `threads`) has a bad value. */
  Option: "E_FFT_OPTION",
} as const;

/**
 * Error codes of the PIE sweep kernel (`pieSweep`, `pieSweepAsync`), raised as {@link NativeError}s by the
 * addon and the fallback alike.
 */
export const PieErrorCode = {
  /** An array is not of its documented type (`Float64Array` object and probe, `Float32Array` measured, ...). */
  Type: "E_PIE_TYPE",
  /** Lengths do not match the stated shapes, or the probe side is not a supported power of two. */
  Shape: "E_PIE_SHAPE",
  /** `order` names a position the scan does not have, or a position's patch is not inside the object. */
  Position: "E_PIE_POSITION",
  /** A weight is outside its rule's range (ePIE (0, 2], rPIE [0, 1]), or the rule is unknown. */
  Weight: "E_PIE_WEIGHT",
} as const;

/** Code of {@link CancelledError}. */
export const CANCELLED_CODE = "E_CANCELLED";

/** Failure to load or use the native addon. */
export class NativeError extends StudykitError {}

/**
 * A file could not be opened, read, mapped or written; `code` is one of {@link IoErrorCode}, `path` names
 * the file, `systemCode` the system's reason (`ENOENT`, `EEXIST`, ...) where one is known.
 */
export class IoError extends StudykitError {
  /** The file the operation was given. */
  readonly path: string;
  /** The system error code behind this error (`ENOENT`, `EEXIST`, `ENOSPC`, ...), when there was one. */
  readonly systemCode: string | undefined;

  constructor(code: string, message: string, path: string, options: { cause?: unknown; systemCode?: string } = {}) {
    super(code, message, options);
    this.path = path;
    this.systemCode = options.systemCode;
  }
}

/**
 * An operation stopped through its `AbortSignal`. `name` is `"AbortError"` (as DOM and Node APIs use),
 * `code` is `E_CANCELLED`, `cause` is the signal's reason.
 */
export class CancelledError extends StudykitError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(CANCELLED_CODE, message, options);
    this.name = "AbortError";
  }
}
