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
} as const;

/** Failure to load or use the native addon. */
export class NativeError extends StudykitError {}
