/**
 * Pure-TypeScript versions of the addon's convolution kernels (`native/rust/conv2d.rs`), with the same
 * signatures as the binding's (inputs, caller-allocated output, geometry) and the same definition.
 * Direct loops, slow but simple: they serve only when the addon is missing. Sums run in a different
 * order than the native GEMM (and without FMA), so results agree to rounding, not bit for bit.
 */
import type { NativeBinding } from "./binding.js";

/** The subset of the binding these implement. */
export type Conv2dKernels = Pick<NativeBinding, "conv2dForward" | "conv2dBackpropInput" | "conv2dBackpropFilter">;

/** Calls `visit(xBase, wBase, yBase)` for every (output pixel, filter tap) pair that reads the input. */
function forEachTap(dims: readonly number[], visit: (xBase: number, wBase: number, yBase: number) => void): void {
  const [n, h, w, c, kh, kw, f, oh, ow, sh, sw, dh, dw, pt, pl] = dims as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const yBase = ((b * oh + oy) * ow + ox) * f;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh + ky * dh - pt;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw + kx * dw - pl;
            if (ix < 0 || ix >= w) continue;
            visit(((b * h + iy) * w + ix) * c, (ky * kw + kx) * c * f, yBase);
          }
        }
      }
    }
  }
}

function conv2dForward(x: Float32Array, filter: Float32Array, output: Float32Array, dims: number[]): void {
  const [c, f] = [dims[3]!, dims[6]!];
  const sums = new Float64Array(output.length);
  forEachTap(dims, (xBase, wBase, yBase) => {
    for (let ci = 0; ci < c; ci++) {
      const value = x[xBase + ci]!;
      const row = wBase + ci * f;
      for (let fi = 0; fi < f; fi++) sums[yBase + fi] = sums[yBase + fi]! + value * filter[row + fi]!;
    }
  });
  output.set(sums);
}

function conv2dBackpropInput(dy: Float32Array, filter: Float32Array, output: Float32Array, dims: number[]): void {
  const [c, f] = [dims[3]!, dims[6]!];
  const sums = new Float64Array(output.length);
  forEachTap(dims, (xBase, wBase, yBase) => {
    for (let ci = 0; ci < c; ci++) {
      const row = wBase + ci * f;
      let total = 0;
      for (let fi = 0; fi < f; fi++) total += dy[yBase + fi]! * filter[row + fi]!;
      sums[xBase + ci] = sums[xBase + ci]! + total;
    }
  });
  output.set(sums);
}

function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, output: Float32Array, dims: number[]): void {
  const [c, f] = [dims[3]!, dims[6]!];
  const sums = new Float64Array(output.length);
  forEachTap(dims, (xBase, wBase, yBase) => {
    for (let ci = 0; ci < c; ci++) {
      const value = x[xBase + ci]!;
      const row = wBase + ci * f;
      for (let fi = 0; fi < f; fi++) sums[row + fi] = sums[row + fi]! + value * dy[yBase + fi]!;
    }
  });
  output.set(sums);
}

/** The fallback kernels, dispatched to by `conv2d.ts` when the addon is not loaded. */
export const fallbackConv2dKernels: Conv2dKernels = { conv2dForward, conv2dBackpropInput, conv2dBackpropFilter };
