/**
 * Complex 2-D images as the package passes them around: row-major, interleaved (re, im) float64 — the memory
 * layout of a numpy complex128 array, so they go to and from npz files without reshuffling.
 */

/** A complex image, `data[2 * (y * width + x)]` = real part, `+ 1` = imaginary part. */
export interface ComplexImage {
  readonly height: number;
  readonly width: number;
  readonly data: Float64Array;
}

/** A zero-filled complex image. */
export function createComplexImage(height: number, width: number): ComplexImage {
  return { height, width, data: new Float64Array(2 * height * width) };
}
