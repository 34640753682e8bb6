/**
 * Public decode kernels: argument checks, output allocation, then the addon's kernel or the pure-TS one.
 * Both paths get the same validated arguments, so they fail with the same errors.
 */
import { activeBinding } from "./loader.js";
import { fallbackDecodeKernels, type DecodeKernels } from "./decode-fallback.js";
import { argumentError, callNative } from "./typed-errors.js";

function kernels(): DecodeKernels {
  return activeBinding() ?? fallbackDecodeKernels;
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
export function byteSwap(data: ArrayBufferView | ArrayBuffer, elementSize: SwapElementSize, options: { inPlace?: boolean } = {}): Uint8Array {
  const input = bytesView(data, "data");
  if (![2, 4, 8, 16].includes(elementSize)) throw argumentError(`elementSize must be 2, 4, 8 or 16, got ${String(elementSize)}`);
  if (input.byteLength % elementSize !== 0) {
    throw argumentError(`data holds ${input.byteLength} bytes, not a whole number of ${elementSize}-byte elements`);
  }
  const output = options.inPlace ? input : new Uint8Array(input.byteLength);
  callNative(() => kernels().byteSwap(input, output, elementSize));
  return output;
}

/**
 * Converts IEEE float16 values to float32 (exact; NaN payloads kept). Takes a `Uint16Array` of half bits,
 * or a `Uint8Array` of raw native-endian halves at any offset (byte-swap big-endian data first).
 */
export function float16ToFloat32(data: Uint16Array | Uint8Array): Float32Array {
  if (!(data instanceof Uint16Array) && !(data instanceof Uint8Array)) {
    throw argumentError(`float16ToFloat32 needs a Uint16Array or Uint8Array, got ${describe(data)}`);
  }
  if (data.byteLength % 2 !== 0) throw argumentError(`float16 data holds ${data.byteLength} bytes, not a whole number of 2-byte values`);
  const output = new Float32Array(data.byteLength / 2);
  callNative(() => kernels().float16ToFloat32(data, output));
  return output;
}

/**
 * Converts float64 to float32, rounding to nearest-even (as numpy's `astype(np.float32)`). Takes a
 * `Float64Array`, or a `Uint8Array` of raw native-endian doubles at any offset.
 */
export function float64ToFloat32(data: Float64Array | Uint8Array): Float32Array {
  if (!(data instanceof Float64Array) && !(data instanceof Uint8Array)) {
    throw argumentError(`float64ToFloat32 needs a Float64Array or Uint8Array, got ${describe(data)}`);
  }
  if (data.byteLength % 8 !== 0) throw argumentError(`float64 data holds ${data.byteLength} bytes, not a whole number of 8-byte values`);
  const output = new Float32Array(data.byteLength / 8);
  callNative(() => kernels().float64ToFloat32(data, output));
  return output;
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
  if (!isFloatArray(interleaved)) throw argumentError(`interleavedToPlanar needs a Float32Array or Float64Array, got ${describe(interleaved)}`);
  if (interleaved.length % 2 !== 0) throw argumentError(`interleaved complex data has ${interleaved.length} values; it needs an even number`);
  const Constructor = interleaved.constructor as new (length: number) => T;
  const real = new Constructor(interleaved.length / 2);
  const imaginary = new Constructor(interleaved.length / 2);
  callNative(() => kernels().interleavedToPlanar(interleaved, real, imaginary));
  return { real, imaginary };
}

/** Joins real and imaginary planes into interleaved complex values `[re0, im0, re1, im1, ...]`. */
export function planarToInterleaved<T extends Float32Array | Float64Array>(real: T, imaginary: T): T {
  if (!isFloatArray(real) || !isFloatArray(imaginary) || real.constructor !== imaginary.constructor) {
    throw argumentError(`planarToInterleaved needs two Float32Arrays or two Float64Arrays, got ${describe(real)} and ${describe(imaginary)}`);
  }
  if (real.length !== imaginary.length) throw argumentError(`real has ${real.length} values but imaginary has ${imaginary.length}`);
  const interleaved = new (real.constructor as new (length: number) => T)(real.length * 2);
  callNative(() => kernels().planarToInterleaved(real, imaginary, interleaved));
  return interleaved;
}

/**
 * Reorders an N-d array's bytes from Fortran (column-major) to C (row-major) order: `shape` is the
 * array's shape as numpy reports it, `itemSize` the bytes per element. Returns a new array.
 */
export function fortranToC(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], itemSize: number): Uint8Array {
  const input = bytesView(data, "data");
  if (!Array.isArray(shape) || !shape.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0)) {
    throw argumentError(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Number.isSafeInteger(itemSize) || itemSize < 1) throw argumentError(`itemSize must be a positive integer, got ${String(itemSize)}`);
  const needed = shape.reduce((product, dimension) => product * dimension, itemSize);
  if (needed !== input.byteLength) {
    throw argumentError(`shape [${shape.join(", ")}] with ${itemSize}-byte items needs ${needed} bytes but data holds ${input.byteLength}`);
  }
  const output = new Uint8Array(needed);
  callNative(() => kernels().fortranToC(input, output, [...shape], itemSize));
  return output;
}

/**
 * CRC-32 as zlib and zip compute it. Pass a previous result as `initial` to continue:
 * `crc32(b, crc32(a)) === crc32(concat(a, b))`.
 */
export function crc32(data: ArrayBufferView | ArrayBuffer, initial = 0): number {
  const input = bytesView(data, "data");
  if (!Number.isInteger(initial) || initial < 0 || initial > 0xffffffff) {
    throw argumentError(`initial must be an unsigned 32-bit integer, got ${String(initial)}`);
  }
  return callNative(() => kernels().crc32(input, initial));
}
