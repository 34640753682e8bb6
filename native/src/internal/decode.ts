/**
 * Public decode kernels: argument checks, output allocation, then the addon's kernel or the pure-TS one.
 * Both paths get the same validated arguments, so they fail with the same errors.
 *
 * Each kernel has a synchronous form and an `*Async` form that runs the same native kernel on a libuv
 * worker thread (the fallback computes on the main thread and resolves). While an `*Async` call runs,
 * do not detach its arrays (no `close()` of an mmapFile buffer they view, no transfer to a worker).
 */
import { activeBinding } from "./loader.js";
import { allocateLargeBuffer } from "./file-buffer.js";
import { fallbackDecodeKernels, type DecodeKernels } from "./decode-fallback.js";
import { argumentError, callNative, fromNativeError } from "./typed-errors.js";

function kernels(): DecodeKernels {
  return activeBinding() ?? fallbackDecodeKernels;
}

type KernelName = keyof DecodeKernels;
type AnyKernel = (...args: never[]) => unknown;

/** Runs a kernel now (native or fallback). */
function runKernel(name: KernelName, args: readonly unknown[]): unknown {
  const kernel = kernels()[name] as unknown as (...args: readonly unknown[]) => unknown;
  return callNative(() => kernel(...args));
}

/** Runs a kernel on a worker thread (native) or now (fallback). */
async function runKernelAsync(name: KernelName, args: readonly unknown[]): Promise<unknown> {
  const binding = activeBinding();
  if (!binding) return (fallbackDecodeKernels[name] as AnyKernel as (...args: readonly unknown[]) => unknown)(...args);
  const kernel = binding[`${name}Async`] as unknown as (...args: readonly unknown[]) => Promise<unknown>;
  let pending: Promise<unknown>;
  try {
    pending = kernel(...args);
  } catch (error) {
    throw fromNativeError(error);
  }
  try {
    return await pending;
  } catch (error) {
    throw fromNativeError(error);
  }
}

/** A checked call: the kernel, its arguments, and what the public function returns after it ran. */
interface Plan<R> {
  readonly kernel: KernelName;
  readonly args: readonly unknown[];
  readonly result: (value: unknown) => R;
}

function runPlan<R>(plan: Plan<R>): R {
  return plan.result(runKernel(plan.kernel, plan.args));
}

async function runPlanAsync<R>(plan: Plan<R>): Promise<R> {
  return plan.result(await runKernelAsync(plan.kernel, plan.args));
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  return Array.isArray(value) ? "an array" : typeof value;
}

/** A Uint8Array over the same memory as `data` (no copy). */
function bytesView(data: unknown, name: string): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw argumentError(`${name} must be a TypedArray, DataView or ArrayBuffer, got ${describe(data)}`);
}

/** Element sizes {@link byteSwap} accepts. */
export type SwapElementSize = 2 | 4 | 8 | 16;

/**
 * Reverses the byte order of every `elementSize`-byte element (big- ↔ little-endian).
 *
 * `elementSize` 16 swaps each 8-byte half on its own, which is what `complex128` needs; for `complex64`
 * pass 4. Returns a new array, or `data`'s own bytes with `{ inPlace: true }`. Any alignment works.
 */
/** Outputs this large or larger come from {@link allocateLargeBuffer}. */
const LARGE_OUTPUT_BYTES = 1 << 20;

/**
 * Zeroed memory for a kernel's output. A fresh 50 MB typed array takes ~12,000 page faults (one per 4 KiB
 * page) when the kernel first writes it, which costs as much as the conversion itself; with the addon,
 * large outputs are huge-page-backed, so each fault maps 2 MiB.
 */
function outputBuffer(byteLength: number): ArrayBuffer {
  return byteLength >= LARGE_OUTPUT_BYTES ? allocateLargeBuffer(byteLength) : new ArrayBuffer(byteLength);
}

export function byteSwap(data: ArrayBufferView | ArrayBuffer, elementSize: SwapElementSize, options: { inPlace?: boolean } = {}): Uint8Array {
  return runPlan(planByteSwap(data, elementSize, options));
}

/** {@link byteSwap} on a worker thread. */
export function byteSwapAsync(data: ArrayBufferView | ArrayBuffer, elementSize: SwapElementSize, options: { inPlace?: boolean } = {}): Promise<Uint8Array> {
  return runPlanAsync(planByteSwap(data, elementSize, options));
}

function planByteSwap(data: ArrayBufferView | ArrayBuffer, elementSize: SwapElementSize, options: { inPlace?: boolean }): Plan<Uint8Array> {
  const input = bytesView(data, "data");
  if (![2, 4, 8, 16].includes(elementSize)) throw argumentError(`elementSize must be 2, 4, 8 or 16, got ${String(elementSize)}`);
  if (input.byteLength % elementSize !== 0) {
    throw argumentError(`data holds ${input.byteLength} bytes, not a whole number of ${elementSize}-byte elements`);
  }
  const output = options.inPlace ? input : new Uint8Array(outputBuffer(input.byteLength));
  return { kernel: "byteSwap", args: [input, output, elementSize], result: () => output };
}

/**
 * Converts IEEE float16 values to float32 (exact; NaN payloads kept). Takes a `Uint16Array` of half bits,
 * or a `Uint8Array` of raw native-endian halves at any offset (byte-swap big-endian data first).
 */
export function float16ToFloat32(data: Uint16Array | Uint8Array): Float32Array {
  return runPlan(planFloat16(data));
}

/** {@link float16ToFloat32} on a worker thread. */
export function float16ToFloat32Async(data: Uint16Array | Uint8Array): Promise<Float32Array> {
  return runPlanAsync(planFloat16(data));
}

function planFloat16(data: Uint16Array | Uint8Array): Plan<Float32Array> {
  if (!(data instanceof Uint16Array) && !(data instanceof Uint8Array)) {
    throw argumentError(`float16ToFloat32 needs a Uint16Array or Uint8Array, got ${describe(data)}`);
  }
  if (data.byteLength % 2 !== 0) throw argumentError(`float16 data holds ${data.byteLength} bytes, not a whole number of 2-byte values`);
  const output = new Float32Array(outputBuffer(data.byteLength * 2));
  return { kernel: "float16ToFloat32", args: [data, output], result: () => output };
}

/**
 * Converts float64 to float32, rounding to nearest-even (as numpy's `astype(np.float32)`). Takes a
 * `Float64Array`, or a `Uint8Array` of raw native-endian doubles at any offset.
 */
export function float64ToFloat32(data: Float64Array | Uint8Array): Float32Array {
  return runPlan(planFloat64(data));
}

/** {@link float64ToFloat32} on a worker thread. */
export function float64ToFloat32Async(data: Float64Array | Uint8Array): Promise<Float32Array> {
  return runPlanAsync(planFloat64(data));
}

function planFloat64(data: Float64Array | Uint8Array): Plan<Float32Array> {
  if (!(data instanceof Float64Array) && !(data instanceof Uint8Array)) {
    throw argumentError(`float64ToFloat32 needs a Float64Array or Uint8Array, got ${describe(data)}`);
  }
  if (data.byteLength % 8 !== 0) throw argumentError(`float64 data holds ${data.byteLength} bytes, not a whole number of 8-byte values`);
  const output = new Float32Array(outputBuffer(data.byteLength / 2));
  return { kernel: "float64ToFloat32", args: [data, output], result: () => output };
}

/** Real and imaginary parts of complex data, as separate arrays of the input's float type. */
export interface PlanarComplex<T extends Float32Array | Float64Array> {
  readonly real: T;
  readonly imaginary: T;
}

function isFloatArray(value: unknown): value is Float32Array | Float64Array {
  return value instanceof Float32Array || value instanceof Float64Array;
}

/** Splits interleaved complex values `[re0, im0, re1, im1, ...]` (complex64 / complex128) into planes. */
export function interleavedToPlanar<T extends Float32Array | Float64Array>(interleaved: T): PlanarComplex<T> {
  return runPlan(planInterleavedToPlanar(interleaved));
}

/** {@link interleavedToPlanar} on a worker thread. */
export function interleavedToPlanarAsync<T extends Float32Array | Float64Array>(interleaved: T): Promise<PlanarComplex<T>> {
  return runPlanAsync(planInterleavedToPlanar(interleaved));
}

function planInterleavedToPlanar<T extends Float32Array | Float64Array>(interleaved: T): Plan<PlanarComplex<T>> {
  if (!isFloatArray(interleaved)) throw argumentError(`interleavedToPlanar needs a Float32Array or Float64Array, got ${describe(interleaved)}`);
  if (interleaved.length % 2 !== 0) throw argumentError(`interleaved complex data has ${interleaved.length} values; it needs an even number`);
  const Constructor = interleaved.constructor as new (buffer: ArrayBuffer) => T;
  const real = new Constructor(outputBuffer(interleaved.byteLength / 2));
  const imaginary = new Constructor(outputBuffer(interleaved.byteLength / 2));
  return { kernel: "interleavedToPlanar", args: [interleaved, real, imaginary], result: () => ({ real, imaginary }) };
}

/** Joins real and imaginary planes into interleaved complex values `[re0, im0, re1, im1, ...]`. */
export function planarToInterleaved<T extends Float32Array | Float64Array>(real: T, imaginary: T): T {
  return runPlan(planPlanarToInterleaved(real, imaginary));
}

/** {@link planarToInterleaved} on a worker thread. */
export function planarToInterleavedAsync<T extends Float32Array | Float64Array>(real: T, imaginary: T): Promise<T> {
  return runPlanAsync(planPlanarToInterleaved(real, imaginary));
}

function planPlanarToInterleaved<T extends Float32Array | Float64Array>(real: T, imaginary: T): Plan<T> {
  if (!isFloatArray(real) || !isFloatArray(imaginary) || real.constructor !== imaginary.constructor) {
    throw argumentError(`planarToInterleaved needs two Float32Arrays or two Float64Arrays, got ${describe(real)} and ${describe(imaginary)}`);
  }
  if (real.length !== imaginary.length) throw argumentError(`real has ${real.length} values but imaginary has ${imaginary.length}`);
  const interleaved = new (real.constructor as new (buffer: ArrayBuffer) => T)(outputBuffer(real.byteLength * 2));
  return { kernel: "planarToInterleaved", args: [real, imaginary, interleaved], result: () => interleaved };
}

/**
 * Reorders an N-d array's bytes from Fortran (column-major) to C (row-major) order: `shape` is the
 * array's shape as numpy reports it, `itemSize` the bytes per element. Returns a new array.
 */
export function fortranToC(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], itemSize: number): Uint8Array {
  return runPlan(planFortranToC(data, shape, itemSize));
}

/** {@link fortranToC} on a worker thread. */
export function fortranToCAsync(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], itemSize: number): Promise<Uint8Array> {
  return runPlanAsync(planFortranToC(data, shape, itemSize));
}

function planFortranToC(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], itemSize: number): Plan<Uint8Array> {
  const input = bytesView(data, "data");
  if (!Array.isArray(shape) || !shape.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0)) {
    throw argumentError(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Number.isSafeInteger(itemSize) || itemSize < 1) throw argumentError(`itemSize must be a positive integer, got ${String(itemSize)}`);
  const needed = shape.reduce((product, dimension) => product * dimension, itemSize);
  if (needed !== input.byteLength) {
    throw argumentError(`shape [${shape.join(", ")}] with ${itemSize}-byte items needs ${needed} bytes but data holds ${input.byteLength}`);
  }
  const output = new Uint8Array(outputBuffer(needed));
  return { kernel: "fortranToC", args: [input, output, [...shape], itemSize], result: () => output };
}

/**
 * CRC-32 as zlib and zip compute it. Pass a previous result as `initial` to continue:
 * `crc32(b, crc32(a)) === crc32(concat(a, b))`.
 */
export function crc32(data: ArrayBufferView | ArrayBuffer, initial = 0): number {
  return runPlan(planCrc32(data, initial));
}

/** {@link crc32} on a worker thread. */
export function crc32Async(data: ArrayBufferView | ArrayBuffer, initial = 0): Promise<number> {
  return runPlanAsync(planCrc32(data, initial));
}

function planCrc32(data: ArrayBufferView | ArrayBuffer, initial: number): Plan<number> {
  const input = bytesView(data, "data");
  if (!Number.isInteger(initial) || initial < 0 || initial > 0xffffffff) {
    throw argumentError(`initial must be an unsigned 32-bit integer, got ${String(initial)}`);
  }
  return { kernel: "crc32", args: [input, initial], result: (value) => value as number };
}
