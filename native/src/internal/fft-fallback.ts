/**
 * Pure-TypeScript 2-D FFT with the binding's signature, for when the addon is not built. Each image is
 * copied into float64 work planes, transformed along its rows then its columns by an iterative radix-2
 * FFT (bit-reversal permutation, then butterflies), and written back (rounded to float32 for complex64),
 * so it agrees with the addon to rounding, not bit for bit.
 */
import type { NativeBinding } from "./binding.js";

/** The subset of the binding this implements. */
export type FftKernels = Pick<NativeBinding, "fft2InPlace">;

interface FftTables {
  /** `cos(2πk/n)` and `−sin(2πk/n)`: the forward twiddle `exp(−2πik/n)` is `(cos[k], sin[k])`. */
  readonly cos: Float64Array;
  readonly sin: Float64Array;
  readonly bitrev: Uint32Array;
}

const tableCache = new Map<number, FftTables>();

function tablesFor(n: number): FftTables {
  let tables = tableCache.get(n);
  if (!tables) {
    const bits = Math.log2(n);
    const cos = new Float64Array(n);
    const sin = new Float64Array(n);
    const bitrev = new Uint32Array(n);
    for (let k = 0; k < n; k++) {
      const angle = (-2 * Math.PI * k) / n;
      cos[k] = Math.cos(angle);
      sin[k] = Math.sin(angle);
      let reversed = 0;
      for (let bit = 0; bit < bits; bit++) reversed |= ((k >> bit) & 1) << (bits - 1 - bit);
      bitrev[k] = reversed;
    }
    tables = { cos, sin, bitrev };
    tableCache.set(n, tables);
  }
  return tables;
}

/** In-place 1-D DFT of the `n` complex values at `start, start + stride, …` of the `re` / `im` planes. */
function transform1d(re: Float64Array, im: Float64Array, start: number, stride: number, n: number, tables: FftTables, inverse: boolean): void {
  const { cos, sin, bitrev } = tables;
  for (let i = 0; i < n; i++) {
    const j = bitrev[i]!;
    if (j > i) {
      const a = start + i * stride;
      const b = start + j * stride;
      const tr = re[a]!;
      const ti = im[a]!;
      re[a] = re[b]!;
      im[a] = im[b]!;
      re[b] = tr;
      im[b] = ti;
    }
  }
  const sign = inverse ? -1 : 1;
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const step = n / size;
    for (let block = 0; block < n; block += size) {
      for (let j = 0; j < half; j++) {
        const wr = cos[j * step]!;
        const wi = sign * sin[j * step]!;
        const a = start + (block + j) * stride;
        const b = a + half * stride;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}

function fft2InPlace(data: Float32Array | Float64Array, n: number, batch: number, inverse: boolean): void {
  if (batch === 0) return;
  const tables = tablesFor(n);
  const pixels = n * n;
  const re = new Float64Array(pixels);
  const im = new Float64Array(pixels);
  const scale = inverse ? 1 / pixels : 1;
  for (let image = 0; image < batch; image++) {
    const base = image * 2 * pixels;
    for (let p = 0; p < pixels; p++) {
      re[p] = data[base + 2 * p]!;
      im[p] = data[base + 2 * p + 1]!;
    }
    for (let row = 0; row < n; row++) transform1d(re, im, row * n, 1, n, tables, inverse);
    for (let column = 0; column < n; column++) transform1d(re, im, column, n, n, tables, inverse);
    for (let p = 0; p < pixels; p++) {
      data[base + 2 * p] = re[p]! * scale;
      data[base + 2 * p + 1] = im[p]! * scale;
    }
  }
}

/** The fallback's kernels (threads are ignored: the fallback runs on the calling thread). */
export const fallbackFftKernels: FftKernels = { fft2InPlace };
