/**
 * Public decode kernels: argument checks, output allocation, then the addon's kernel or the pure-TS one.
 * Both paths get the same validated arguments, so they fail with the same errors.
 *
 * Each kernel has a synchronous form and an `*Async` form that runs the same native kernel on a libuv
 * worker thread (the fallback computes on the main thread and resolves). While an `*Async` call runs,
 * do not detach its arrays (no `close()` of an mmapFile buffer they view, no transfer to a worker).
 */
import { activeBinding } from "./internal/loader.js";
import { allocateLargeBuffer } from "./file-buffer.js";
import { fallbackDecodeKernels, type DecodeKernels } from "./internal/decode-fallback.js";
import { argumentError, callNative, fromNativeError } from "./internal/typed-errors.js";

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

/** Whether two views share at least one byte of the same buffer. */
function sameMemory(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength && a.byteLength > 0 && b.byteLength > 0;
}

/**
 * Checks a caller's output array (`options.into`): the right type and length, and no shared bytes with
 * any input (the kernels read and write in parallel chunks, so an overlapping output would be read after
 * being written).
 */
function checkInto<T extends ArrayBufferView>(
  kernel: string,
  into: unknown,
  type: { readonly name: string; isInstance(value: unknown): value is T },
  byteLength: number,
  inputs: readonly ArrayBufferView[],
  name = "into",
): T {
  if (!type.isInstance(into)) throw argumentError(`${kernel}: options.${name} must be a ${type.name}, got ${describe(into)}`);
  if (into.byteLength !== byteLength) {
    throw argumentError(`${kernel}: options.${name} holds ${into.byteLength} bytes but the result needs ${byteLength}; pass an array of exactly that size`);
  }
  if (inputs.some((input) => sameMemory(input, into))) {
    throw argumentError(`${kernel}: options.${name} shares memory with the input; pass a separate array${kernel === "byteSwap" ? " (or { inPlace: true })" : ""}`);
  }
  return into;
}

/** Type tests for {@link checkInto}, named for its messages. */
const typedArrayOf = <T extends ArrayBufferView>(name: string, test: (value: unknown) => value is T) => ({ name, isInstance: test });
const ANY_VIEW = typedArrayOf("TypedArray or DataView", (value): value is ArrayBufferView => ArrayBuffer.isView(value));
const FLOAT32 = typedArrayOf("Float32Array", (value): value is Float32Array => value instanceof Float32Array);

/** A byte view of a caller's output (any TypedArray or DataView) or a new array of `byteLength` bytes. */
function byteOutput(kernel: string, into: ArrayBufferView | undefined, byteLength: number, input: ArrayBufferView): Uint8Array {
  if (into === undefined) return new Uint8Array(outputBuffer(byteLength));
  const checked = checkInto(kernel, into, ANY_VIEW, byteLength, [input]);
  return new Uint8Array(checked.buffer, checked.byteOffset, checked.byteLength);
}

/**
 * Where a kernel writes. Without `into` every kernel returns a new array; with it, the result is written
 * into the caller's array (which is returned), so a loader can decode straight into a batch buffer and a
 * loop over many arrays allocates nothing. `into` must have exactly the result's size and share no
 * memory with the input. For the `*Async` forms, leave it alone until the promise settles.
 */
export interface IntoOption<T> {
  readonly into?: T | undefined;
}

/** Element sizes {@link byteSwap} accepts. */
export type SwapElementSize = 2 | 4 | 8 | 16;

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

/**
 * Reverses the byte order of every `elementSize`-byte element (big- ↔ little-endian).
 *
 * `elementSize` 16 swaps each 8-byte half on its own, which is what `complex128` needs; for `complex64`
 * pass 4. Returns a new array, or `data`'s own bytes with `{ inPlace: true }`, or
 * the bytes of `options.into`. Any alignment works.
 */
export function byteSwap(data: ArrayBufferView | ArrayBuffer, elementSize: SwapElementSize, options: ByteSwapOptions = {}): Uint8Array {
  return runPlan(planByteSwap(data, elementSize, options));
}

/** {@link byteSwap} on a worker thread. */
export function byteSwapAsync(data: ArrayBufferView | ArrayBuffer, elementSize: SwapElementSize, options: ByteSwapOptions = {}): Promise<Uint8Array> {
  return runPlanAsync(planByteSwap(data, elementSize, options));
}

/** {@link byteSwap}'s options: swap `data` itself, or write into another array's bytes (returned as a byte view). */
export interface ByteSwapOptions extends IntoOption<ArrayBufferView> {
  readonly inPlace?: boolean;
}

function planByteSwap(data: ArrayBufferView | ArrayBuffer, elementSize: SwapElementSize, options: ByteSwapOptions): Plan<Uint8Array> {
  const input = bytesView(data, "data");
  if (![2, 4, 8, 16].includes(elementSize)) throw argumentError(`elementSize must be 2, 4, 8 or 16, got ${String(elementSize)}`);
  if (input.byteLength % elementSize !== 0) {
    throw argumentError(`data holds ${input.byteLength} bytes, not a whole number of ${elementSize}-byte elements`);
  }
  if (options.inPlace && options.into !== undefined) throw argumentError("byteSwap: pass either inPlace or into, not both");
  const output = options.inPlace ? input : byteOutput("byteSwap", options.into, input.byteLength, input);
  return { kernel: "byteSwap", args: [input, output, elementSize], result: () => output };
}

/**
 * Converts IEEE float16 values to float32 (exact; NaN payloads kept). Takes a `Uint16Array` of half bits,
 * or a `Uint8Array` of raw native-endian halves at any offset (byte-swap big-endian data first).
 */
export function float16ToFloat32(data: Uint16Array | Uint8Array, options: IntoOption<Float32Array> = {}): Float32Array {
  return runPlan(planFloat16(data, options));
}

/** {@link float16ToFloat32} on a worker thread. */
export function float16ToFloat32Async(data: Uint16Array | Uint8Array, options: IntoOption<Float32Array> = {}): Promise<Float32Array> {
  return runPlanAsync(planFloat16(data, options));
}

/** `options.into` checked against `inputs`, or a new Float32Array of `byteLength` bytes. */
function float32Output(kernel: string, into: Float32Array | undefined, byteLength: number, inputs: readonly ArrayBufferView[]): Float32Array {
  return into === undefined ? new Float32Array(outputBuffer(byteLength)) : checkInto(kernel, into, FLOAT32, byteLength, inputs);
}

function planFloat16(data: Uint16Array | Uint8Array, options: IntoOption<Float32Array>): Plan<Float32Array> {
  if (!(data instanceof Uint16Array) && !(data instanceof Uint8Array)) {
    throw argumentError(`float16ToFloat32 needs a Uint16Array or Uint8Array, got ${describe(data)}`);
  }
  if (data.byteLength % 2 !== 0) throw argumentError(`float16 data holds ${data.byteLength} bytes, not a whole number of 2-byte values`);
  const output = float32Output("float16ToFloat32", options.into, data.byteLength * 2, [data]);
  return { kernel: "float16ToFloat32", args: [data, output], result: () => output };
}

/**
 * Converts float64 to float32, rounding to nearest-even (as numpy's `astype(np.float32)`). Takes a
 * `Float64Array`, or a `Uint8Array` of raw native-endian doubles at any offset.
 */
export function float64ToFloat32(data: Float64Array | Uint8Array, options: IntoOption<Float32Array> = {}): Float32Array {
  return runPlan(planFloat64(data, options));
}

/** {@link float64ToFloat32} on a worker thread. */
export function float64ToFloat32Async(data: Float64Array | Uint8Array, options: IntoOption<Float32Array> = {}): Promise<Float32Array> {
  return runPlanAsync(planFloat64(data, options));
}

function planFloat64(data: Float64Array | Uint8Array, options: IntoOption<Float32Array>): Plan<Float32Array> {
  if (!(data instanceof Float64Array) && !(data instanceof Uint8Array)) {
    throw argumentError(`float64ToFloat32 needs a Float64Array or Uint8Array, got ${describe(data)}`);
  }
  if (data.byteLength % 8 !== 0) throw argumentError(`float64 data holds ${data.byteLength} bytes, not a whole number of 8-byte values`);
  const output = float32Output("float64ToFloat32", options.into, data.byteLength / 2, [data]);
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
export function interleavedToPlanar<T extends Float32Array | Float64Array>(interleaved: T, options: IntoOption<PlanarComplex<T>> = {}): PlanarComplex<T> {
  return runPlan(planInterleavedToPlanar(interleaved, options));
}

/** {@link interleavedToPlanar} on a worker thread. */
export function interleavedToPlanarAsync<T extends Float32Array | Float64Array>(interleaved: T, options: IntoOption<PlanarComplex<T>> = {}): Promise<PlanarComplex<T>> {
  return runPlanAsync(planInterleavedToPlanar(interleaved, options));
}

/** The type test for arrays of the same class as `example` (Float32Array or Float64Array). */
function sameClassAs<T extends Float32Array | Float64Array>(example: T) {
  const Constructor = example.constructor as new (buffer: ArrayBuffer) => T;
  return { Constructor, type: typedArrayOf(Constructor.name, (value): value is T => value instanceof Constructor) };
}

function planInterleavedToPlanar<T extends Float32Array | Float64Array>(interleaved: T, options: IntoOption<PlanarComplex<T>>): Plan<PlanarComplex<T>> {
  if (!isFloatArray(interleaved)) throw argumentError(`interleavedToPlanar needs a Float32Array or Float64Array, got ${describe(interleaved)}`);
  if (interleaved.length % 2 !== 0) throw argumentError(`interleaved complex data has ${interleaved.length} values; it needs an even number`);
  const { Constructor, type } = sameClassAs(interleaved);
  const planeBytes = interleaved.byteLength / 2;
  let real: T, imaginary: T;
  if (options.into === undefined) {
    real = new Constructor(outputBuffer(planeBytes));
    imaginary = new Constructor(outputBuffer(planeBytes));
  } else {
    if (typeof options.into !== "object" || options.into === null) throw argumentError(`interleavedToPlanar: options.into must be { real, imaginary }, got ${describe(options.into)}`);
    real = checkInto("interleavedToPlanar", options.into.real, type, planeBytes, [interleaved], "into.real");
    imaginary = checkInto("interleavedToPlanar", options.into.imaginary, type, planeBytes, [interleaved, real], "into.imaginary");
  }
  return { kernel: "interleavedToPlanar", args: [interleaved, real, imaginary], result: () => ({ real, imaginary }) };
}

/** Joins real and imaginary planes into interleaved complex values `[re0, im0, re1, im1, ...]`. */
export function planarToInterleaved<T extends Float32Array | Float64Array>(real: T, imaginary: T, options: IntoOption<T> = {}): T {
  return runPlan(planPlanarToInterleaved(real, imaginary, options));
}

/** {@link planarToInterleaved} on a worker thread. */
export function planarToInterleavedAsync<T extends Float32Array | Float64Array>(real: T, imaginary: T, options: IntoOption<T> = {}): Promise<T> {
  return runPlanAsync(planPlanarToInterleaved(real, imaginary, options));
}

function planPlanarToInterleaved<T extends Float32Array | Float64Array>(real: T, imaginary: T, options: IntoOption<T>): Plan<T> {
  if (!isFloatArray(real) || !isFloatArray(imaginary) || real.constructor !== imaginary.constructor) {
    throw argumentError(`planarToInterleaved needs two Float32Arrays or two Float64Arrays, got ${describe(real)} and ${describe(imaginary)}`);
  }
  if (real.length !== imaginary.length) throw argumentError(`real has ${real.length} values but imaginary has ${imaginary.length}`);
  const { Constructor, type } = sameClassAs(real);
  const interleaved =
    options.into === undefined ? new Constructor(outputBuffer(real.byteLength * 2)) : checkInto("planarToInterleaved", options.into, type, real.byteLength * 2, [real, imaginary]);
  return { kernel: "planarToInterleaved", args: [real, imaginary, interleaved], result: () => interleaved };
}

/**
 * Reorders an N-d array's bytes from Fortran (column-major) to C (row-major) order: `shape` is the
 * array's shape as numpy reports it, `itemSize` the bytes per element. Returns a new array, or the bytes
 * of `options.into`.
 */
export function fortranToC(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], itemSize: number, options: IntoOption<ArrayBufferView> = {}): Uint8Array {
  return runPlan(planFortranToC(data, shape, itemSize, options));
}

/** {@link fortranToC} on a worker thread. */
export function fortranToCAsync(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], itemSize: number, options: IntoOption<ArrayBufferView> = {}): Promise<Uint8Array> {
  return runPlanAsync(planFortranToC(data, shape, itemSize, options));
}

function planFortranToC(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], itemSize: number, options: IntoOption<ArrayBufferView>): Plan<Uint8Array> {
  const input = bytesView(data, "data");
  if (!Array.isArray(shape) || !shape.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0)) {
    throw argumentError(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Number.isSafeInteger(itemSize) || itemSize < 1) throw argumentError(`itemSize must be a positive integer, got ${String(itemSize)}`);
  const needed = shape.reduce((product, dimension) => product * dimension, itemSize);
  if (needed !== input.byteLength) {
    throw argumentError(`shape [${shape.join(", ")}] with ${itemSize}-byte items needs ${needed} bytes but data holds ${input.byteLength}`);
  }
  const output = byteOutput("fortranToC", options.into, needed, input);
  return { kernel: "fortranToC", args: [input, output, [...shape], itemSize], result: () => output };
}

/**
 * CRC-32 as zlib and zip compute it (`zlib.crc32`, the check value of every zip member). Pass a previous
 * result as `previous` to continue: `crc32(b, crc32(a)) === crc32(concat(a, b))`; empty data returns
 * `previous` unchanged.
 */
export function crc32(data: ArrayBufferView | ArrayBuffer, previous = 0): number {
  return runPlan(planCrc32(data, previous));
}

/** {@link crc32} on a worker thread. */
export function crc32Async(data: ArrayBufferView | ArrayBuffer, previous = 0): Promise<number> {
  return runPlanAsync(planCrc32(data, previous));
}

function planCrc32(data: ArrayBufferView | ArrayBuffer, previous: number): Plan<number> {
  const input = bytesView(data, "data");
  if (!Number.isInteger(previous) || previous < 0 || previous > 0xffffffff) {
    throw argumentError(`previous must be an unsigned 32-bit integer (an earlier crc32 result), got ${String(previous)}`);
  }
  return { kernel: "crc32", args: [input, previous], result: (value) => value as number };
}
