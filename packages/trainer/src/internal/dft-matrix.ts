/**
 * The orthonormal discrete Fourier transform as a matrix, for the physics loss of both engines (TF.js
 * multiplies by it with `matMul`, the ONNX compiler bakes it into the graph as constants); plain numbers, no
 * tensor library, so each engine turns it into its own tensors.
 *
 * `D_n[k, j] = exp(−2πi·kj/n) / √n` (numpy's `norm="ortho"`), split into the real part `cos` and the
 * imaginary part `−sin`. With `fftshift` the rows are rolled by `⌊n/2⌋`: row `r` holds frequency
 * `(r − ⌊n/2⌋) mod n`, which equals numpy's `fftshift` of the transform. A 2-D transform of an image `ψ`
 * is `F = D_H · ψ · D_Wᵀ`.
 */

/**
 * `D_n` as real and imaginary parts, row-major `[n, n]`, transposed when `transposed` (`D_nᵀ`). The values
 * are doubles: a float32 consumer rounds each once, a float64 graph keeps them exact.
 */
export function dftMatrix(n: number, fftshift: boolean, transposed = false): { real: Float64Array; imag: Float64Array } {
  const real = new Float64Array(n * n);
  const imag = new Float64Array(n * n);
  const scale = 1 / Math.sqrt(n);
  const shift = fftshift ? Math.floor(n / 2) : 0;
  for (let row = 0; row < n; row++) {
    const k = (((row - shift) % n) + n) % n;
    for (let j = 0; j < n; j++) {
      // Reduce k·j mod n in integers first so the angle stays accurate for large n.
      const angle = (-2 * Math.PI * ((k * j) % n)) / n;
      const at = transposed ? j * n + row : row * n + j;
      real[at] = Math.cos(angle) * scale;
      imag[at] = Math.sin(angle) * scale;
    }
  }
  return { real, imag };
}
