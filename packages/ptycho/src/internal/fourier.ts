/**
 * The 2-D transforms of the package: batches of n×n complex images (interleaved, row-major) through the
 * addon's FFT kernels. `forward` matches `numpy.fft.fft2` (unnormalised), `inverse` matches
 * `numpy.fft.ifft2` (divides by n²). The async variants run off the main thread, on `threads` threads.
 */
import { fft2InPlace, fft2InPlaceAsync } from "@studykit/native";

/** Forward (or, with `inverse`, inverse) transform of `batch` n×n images in place. */
export function fft2(data: Float64Array, n: number, batch: number, inverse: boolean): void {
  fft2InPlace(data, n, batch, { inverse });
}

/** {@link fft2} off the main thread on `threads` threads. */
export function fft2Async(data: Float64Array, n: number, batch: number, inverse: boolean, threads: number): Promise<void> {
  return fft2InPlaceAsync(data, n, batch, { inverse, threads });
}

/**
 * numpy's `fftshift` of one real h×w image: the zero frequency moves from (0, 0) to (⌊h/2⌋, ⌊w/2⌋).
 * `source` and `target` must not overlap.
 */
export function fftshiftReal(source: ArrayLike<number>, target: Float64Array | Float32Array, height: number, width: number): void {
  const shiftY = Math.floor(height / 2);
  const shiftX = Math.floor(width / 2);
  for (let row = 0; row < height; row++) {
    const targetRow = ((row + shiftY) % height) * width;
    const sourceRow = row * width;
    for (let column = 0; column < width; column++) target[targetRow + ((column + shiftX) % width)] = source[sourceRow + column]!;
  }
}

/** numpy's `ifftshift` (the inverse of {@link fftshiftReal}, also for odd sizes), times `scale`. */
export function ifftshiftReal(source: ArrayLike<number>, target: Float64Array | Float32Array, height: number, width: number, scale = 1): void {
  const shiftY = Math.floor(height / 2);
  const shiftX = Math.floor(width / 2);
  for (let row = 0; row < height; row++) {
    const sourceRow = ((row + shiftY) % height) * width;
    const targetRow = row * width;
    for (let column = 0; column < width; column++) target[targetRow + column] = source[sourceRow + ((column + shiftX) % width)]! * scale;
  }
}
