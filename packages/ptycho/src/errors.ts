/**
 * Error codes and the error class of `@studykit/ptycho` (one contract file for the package's failures).
 *
 * `PtychoError` subclasses `StudykitError`; callers test `code` through `hasErrorCode`, not `instanceof`.
 * Cancellation uses native's `CancelledError` (`E_CANCELLED`), shared by every package.
 */
import { StudykitError } from "@studykit/native";

/** Stable codes raised by `@studykit/ptycho`. */
export const PtychoErrorCode = {
  /** The input file lacks an array the reconstruction needs (diffraction, probe, coordinates, object shape). */
  MissingKey: "E_PTYCHO_MISSING_KEY",
  /** Arrays whose shapes or dtypes do not fit together (pattern size ≠ probe size, counts differ, ...). */
  Shape: "E_PTYCHO_SHAPE",
  /** A scan position whose N×N patch does not lie inside the object. */
  PositionOutside: "E_PTYCHO_POSITION_OUTSIDE",
  /** A NaN, infinite or negative diffraction amplitude, or a non-finite probe, object or coordinate. */
  NonFinite: "E_PTYCHO_NON_FINITE",
  /** An option outside its range (iterations, step sizes, batch size, threads, ...). */
  Option: "E_PTYCHO_OPTION",
} as const;

export type PtychoErrorCodeValue = (typeof PtychoErrorCode)[keyof typeof PtychoErrorCode];

/** Bad input to the forward model or the reconstruction; `code` is one of {@link PtychoErrorCode}. */
export class PtychoError extends StudykitError {}
