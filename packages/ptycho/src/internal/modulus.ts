/**
 * The Fourier-modulus constraint: keep each far-field pixel's phase, replace its magnitude by the measured
 * one. Measured magnitudes are kept in FFT order and in |FFT2(Ψ)| units (Phase C's centred amplitudes
 * ifftshifted and multiplied by N), so no shift or scale is needed per position.
 */

/**
 * Replaces |Ψ| by `measured` in place for `pixels` values of `wave` from `waveOffset` (interleaved), and
 * returns Σ(|Ψ| − measured)² (the Fourier-magnitude error before the replacement).
 */
export function applyModulus(wave: Float64Array, waveOffset: number, measured: Float32Array, measuredOffset: number, pixels: number): number {
  let error = 0;
  for (let pixel = 0, w = waveOffset, m = measuredOffset; pixel < pixels; pixel++, w += 2, m++) {
    const re = wave[w]!;
    const im = wave[w + 1]!;
    const target = measured[m]!;
    const magnitude = Math.sqrt(re * re + im * im);
    const difference = magnitude - target;
    error += difference * difference;
    if (magnitude > 0) {
      const factor = target / magnitude;
      wave[w] = re * factor;
      wave[w + 1] = im * factor;
    } else {
      // No phase to keep: take the measured magnitude with zero phase.
      wave[w] = target;
      wave[w + 1] = 0;
    }
  }
  return error;
}
