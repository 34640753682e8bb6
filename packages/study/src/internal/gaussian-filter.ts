/**
 * Normalised Gaussian taps and a separable filter with edge replication ("nearest" boundary), shared by
 * single-scale SSIM (reconstruction-metrics.ts) and MS-SSIM (multiscale-structural-similarity.ts) so the
 * two filter identically and agree on the first scale.
 */

/** 2·radius + 1 Gaussian taps of standard deviation `sigma` (pixels), summing to 1. */
export function gaussianTaps(radius: number, sigma: number): Float64Array {
  const taps = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let offset = -radius; offset <= radius; offset++) {
    taps[offset + radius] = Math.exp(-(offset * offset) / (2 * sigma * sigma));
    sum += taps[offset + radius]!;
  }
  for (let index = 0; index < taps.length; index++) taps[index] = taps[index]! / sum;
  return taps;
}

/** Filters a `height`×`width` row-major image along rows, then columns, replicating edge pixels. */
export function filterSeparable(values: Float64Array, height: number, width: number, taps: Float64Array): Float64Array {
  const radius = (taps.length - 1) / 2;
  const temp = new Float64Array(values.length);
  const out = new Float64Array(values.length);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      let total = 0;
      for (let k = -radius; k <= radius; k++) total += taps[k + radius]! * values[row * width + Math.min(width - 1, Math.max(0, column + k))]!;
      temp[row * width + column] = total;
    }
  }
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      let total = 0;
      for (let k = -radius; k <= radius; k++) total += taps[k + radius]! * temp[Math.min(height - 1, Math.max(0, row + k)) * width + column]!;
      out[row * width + column] = total;
    }
  }
  return out;
}
