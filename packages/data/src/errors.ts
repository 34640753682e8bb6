/**
 * Error codes and error classes of `@studykit/data` (one contract file for the package's failures).
 *
 * Every class subclasses `StudykitError`; callers test `code` through `hasErrorCode`, not `instanceof`.
 */
import { StudykitError } from "@studykit/native";

/** Stable codes raised by `@studykit/data`. */
export const DataErrorCode = {
  /** The file does not start with numpy's `\x93NUMPY` magic. */
  NpyMagic: "E_NPY_MAGIC",
  /** An `.npy` format version other than 1.0, 2.0 or 3.0. */
  NpyVersion: "E_NPY_VERSION",
  /** The header is not a plain dict literal with exactly `descr`, `fortran_order` and `shape`, or a field is invalid. */
  NpyHeader: "E_NPY_HEADER",
  /** An object (`|O`) array: reading it would need unpickling, which is never done. */
  NpyObject: "E_NPY_OBJECT",
  /** A dtype studykit does not read (structured, datetime, void, ...). */
  NpyDtypeUnsupported: "E_NPY_DTYPE_UNSUPPORTED",
  /** Fewer bytes are present than the header declares. */
  NpyTruncated: "E_NPY_TRUNCATED",
  /** The declared size cannot be represented or exceeds the configured limit. */
  NpySize: "E_NPY_SIZE",
  /** A `U<n>` element holds a value that is not a Unicode code point. */
  NpyString: "E_NPY_STRING",
  /** A truncated, malformed or non-zip `.npz`. */
  ZipCorrupt: "E_ZIP_CORRUPT",
  /** A member's CRC-32 does not match its data. */
  ZipCrc: "E_ZIP_CRC",
  /** Two members share a name. */
  ZipDuplicate: "E_ZIP_DUPLICATE",
  /** A member's declared size is impossible for its compressed data or exceeds the limit (zip bomb guard). */
  ZipSize: "E_ZIP_SIZE",
  /** Encryption, multi-disk archives or a compression method other than stored/deflate. */
  ZipUnsupported: "E_ZIP_UNSUPPORTED",
  /** `npz.get(name)` for a name the archive does not hold. */
  NpzMemberMissing: "E_NPZ_MEMBER_MISSING",
  /** A memory map was asked for where it cannot be made (compressed member, Fortran order). */
  MemmapUnsupported: "E_MEMMAP_UNSUPPORTED",
  /** A file could not be opened, read or written. */
  Io: "E_DATA_IO",
  /** A caller passed an array or option the writer cannot use. */
  Argument: "E_DATA_ARGUMENT",
  /** A required schema key (or every alias of it) is missing. */
  SchemaMissingKey: "E_SCHEMA_MISSING_KEY",
  /** A dataset breaks its schema (dtype kind, ndim or shape relation). */
  SchemaViolation: "E_SCHEMA_VIOLATION",
  /** No schema is registered under the requested name. */
  SchemaUnknown: "E_SCHEMA_UNKNOWN",
  /** A schema (or dtype entry) was registered twice. */
  RegistryDuplicate: "E_REGISTRY_DUPLICATE",
} as const;

export type DataErrorCodeValue = (typeof DataErrorCode)[keyof typeof DataErrorCode];

/** A malformed or unsupported `.npy` (or `.npy` member of an `.npz`). */
export class NpyError extends StudykitError {}

/** A malformed, hostile or unsupported zip container. */
export class ZipError extends StudykitError {}

/** Failure to open, read or write a data file, or a bad argument to the readers and writers. */
export class DataError extends StudykitError {}

/** One problem found while checking a dataset against a schema. */
export interface SchemaViolation {
  /** Canonical key the problem concerns. */
  readonly key: string;
  readonly code: typeof DataErrorCode.SchemaMissingKey | typeof DataErrorCode.SchemaViolation;
  readonly message: string;
}

/** A dataset that breaks its schema; `violations` holds every problem found, not only the first. */
export class SchemaError extends StudykitError {
  readonly violations: readonly SchemaViolation[];
  constructor(code: string, message: string, violations: readonly SchemaViolation[] = []) {
    super(code, message);
    this.violations = violations;
  }
}
