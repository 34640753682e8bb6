/**
 * Public convolution kernels (NHWC, any stride / dilation / explicit top-left padding): argument checks,
 * then the addon's kernel (im2col + AVX2/FMA GEMM on up to two threads) or the pure-TS one. The caller
 * allocates the output (TF.js's wasm back end passes views of its heap, so nothing is copied).
 */
import { activeBinding } from "./internal/loader.js";
import { fallbackConv2dKernels, type Conv2dKernels } from "./internal/conv2d-fallback.js";
import { argumentError, callNative } from "./internal/typed-errors.js";

/**
 * Shape and geometry of one convolution: `x` is `[batch, inHeight, inWidth, inChannels]`, the filter
 * `[filterHeight, filterWidth, inChannels, outChannels]`, the output `[batch, outHeight, outWidth,
 * outChannels]`. Output pixel `(oy, ox)` reads input row `oy·strideHeight − padTop + ky·dilationHeight`
 * (columns alike); reads outside the input are zeros.
 */
export interface Conv2dGeometry {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly inChannels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly outChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  readonly dilationHeight: number;
  readonly dilationWidth: number;
  readonly padTop: number;
  readonly padLeft: number;
}

const FIELDS = [
  "batch", "inHeight", "inWidth", "inChannels", "filterHeight", "filterWidth", "outChannels", "outHeight", "outWidth",
  "strideHeight", "strideWidth", "dilationHeight", "dilationWidth", "padTop", "padLeft",
] as const;

function kernels(): Conv2dKernels {
  return activeBinding() ?? fallbackConv2dKernels;
}

function dimsOf(geometry: Conv2dGeometry): number[] {
  if (typeof geometry !== "object" || geometry === null) throw argumentError("conv2d geometry must be an object");
  return FIELDS.map((field) => {
    const value = geometry[field];
    if (!Number.isSafeInteger(value) || value < 0) throw argumentError(`conv2d geometry.${field} must be a non-negative integer, got ${String(value)}`);
    if (value === 0 && field.startsWith("stride")) throw argumentError(`conv2d geometry.${field} must be at least 1`);
    if (value === 0 && field.startsWith("dilation")) throw argumentError(`conv2d geometry.${field} must be at least 1`);
    return value;
  });
}

function check(name: string, array: unknown, expected: number): asserts array is Float32Array {
  if (!(array instanceof Float32Array)) throw argumentError(`conv2d ${name} must be a Float32Array`);
  if (array.length !== expected) throw argumentError(`conv2d ${name} holds ${array.length} floats but the geometry needs ${expected}`);
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer || a.length === 0 || b.length === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function sizes(g: Conv2dGeometry): { input: number; filter: number; output: number } {
  return {
    input: g.batch * g.inHeight * g.inWidth * g.inChannels,
    filter: g.filterHeight * g.filterWidth * g.inChannels * g.outChannels,
    output: g.batch * g.outHeight * g.outWidth * g.outChannels,
  };
}

function run(call: "conv2dForward" | "conv2dBackpropInput" | "conv2dBackpropFilter", names: [string, string], a: Float32Array, b: Float32Array, output: Float32Array, lengths: [number, number, number], geometry: Conv2dGeometry): void {
  const dims = dimsOf(geometry);
  check(names[0], a, lengths[0]);
  check(names[1], b, lengths[1]);
  check("output", output, lengths[2]);
  if (overlaps(output, a) || overlaps(output, b)) throw argumentError("conv2d output must not share memory with its inputs");
  callNative(() => kernels()[call](a, b, output, dims));
}

/** `output = conv2d(x, filter)` (overwritten). */
export function conv2dForward(x: Float32Array, filter: Float32Array, output: Float32Array, geometry: Conv2dGeometry): void {
  const s = sizes(geometry);
  run("conv2dForward", ["x", "filter"], x, filter, output, [s.input, s.filter, s.output], geometry);
}

/** `output` = gradient of `conv2d(x, filter)` with respect to `x`, given the output gradient `dy`. */
export function conv2dBackpropInput(dy: Float32Array, filter: Float32Array, output: Float32Array, geometry: Conv2dGeometry): void {
  const s = sizes(geometry);
  run("conv2dBackpropInput", ["dy", "filter"], dy, filter, output, [s.output, s.filter, s.input], geometry);
}

/**
 * `output` = gradient of `conv2d(x, filter)` with respect to the filter, given `dy`. Bitwise repeatable
 * run to run: the native kernel always sums two fixed halves of the pixels, whatever the thread timing.
 */
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, output: Float32Array, geometry: Conv2dGeometry): void {
  const s = sizes(geometry);
  run("conv2dBackpropFilter", ["x", "dy"], x, dy, output, [s.input, s.output, s.filter], geometry);
}
