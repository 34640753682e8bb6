/**
 * numpy's `fftshift` and `ifftshift` for one real h×w image stored row-major: the far-field amplitudes are
 * kept with the zero frequency at the centre (⌊h/2⌋, ⌊w/2⌋), as the ptychography datasets store them.
 */

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
