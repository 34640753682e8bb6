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
