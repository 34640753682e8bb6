import FFT from "fft.js";
import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { dftMatrix } from "./dft-matrix.js";

/** `D·x` for a complex vector `x` (real and imaginary parts). */
function apply(d: { real: Float64Array; imag: Float64Array }, n: number, xr: number[], xi: number[]): { re: number[]; im: number[] } {
  const re: number[] = [];
  const im: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const [a, b] = [d.real[k * n + j]!, d.imag[k * n + j]!];
      sr += a * xr[j]! - b * xi[j]!;
      si += a * xi[j]! + b * xr[j]!;
    }
    re.push(sr);
    im.push(si);
  }
  return { re, im };
}

describe("dftMatrix", () => {
  it.each([[2, false], [4, true], [8, false], [16, true], [32, true]] as const)("times a vector equals fft.js's FFT / √n, fftshifted when asked (n = %i, shift %s)", (n, shift) => {
    const prng = new SeededRandom(n);
    const xr = Array.from({ length: n }, () => prng.nextDouble() * 2 - 1);
    const xi = Array.from({ length: n }, () => prng.nextDouble() * 2 - 1);
    const fft = new FFT(n);
    const out = fft.createComplexArray() as number[];
    // fft.js takes interleaved complex input [re0, im0, re1, im1, ...].
    const input = xr.flatMap((v, j) => [v, xi[j]!]);
    fft.transform(out, input);
    const got = apply(dftMatrix(n, shift), n, xr, xi);
    for (let row = 0; row < n; row++) {
      const k = shift ? (row - Math.floor(n / 2) + n) % n : row;
      expect(got.re[row]).toBeCloseTo(out[2 * k]! / Math.sqrt(n), 12);
      expect(got.im[row]).toBeCloseTo(out[2 * k + 1]! / Math.sqrt(n), 12);
    }
  });

  it.each([1, 2, 3, 5, 7, 9, 12])("is unitary (D·Dᴴ = I) for n = %i, shifted or not", (n) => {
    for (const shift of [false, true]) {
      const d = dftMatrix(n, shift);
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          let re = 0;
          let im = 0;
          for (let j = 0; j < n; j++) {
            // (D·Dᴴ)[a, b] = Σ_j D[a, j]·conj(D[b, j])
            const [pr, pi, qr, qi] = [d.real[a * n + j]!, d.imag[a * n + j]!, d.real[b * n + j]!, -d.imag[b * n + j]!];
            re += pr * qr - pi * qi;
            im += pr * qi + pi * qr;
          }
          expect(re).toBeCloseTo(a === b ? 1 : 0, 12);
          expect(im).toBeCloseTo(0, 12);
        }
      }
    }
  });

  it("gives the transpose when asked", () => {
    const n = 6;
    const d = dftMatrix(n, true);
    const t = dftMatrix(n, true, true);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      expect(t.real[i * n + j]).toBe(d.real[j * n + i]);
      expect(t.imag[i * n + j]).toBe(d.imag[j * n + i]);
    }
  });
});
