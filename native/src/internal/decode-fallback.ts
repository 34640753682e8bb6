/**
 * Pure-TypeScript versions of the addon's decode kernels, with the same signatures as the binding's
 * (input, caller-allocated output) so `decode.ts` dispatches to either without knowing which. Results are
 * bit-identical to the Rust kernels (`native/rust/decode.rs`, `native/rust/crc32.rs`).
 */
import { endianness } from "node:os";
import type { DECODE_KERNEL_NAMES, KernelFunctions } from "./binding.js";

/** The subset of the binding these implement. */
export type DecodeKernels = Pick<KernelFunctions, (typeof DECODE_KERNEL_NAMES)[number]>;

/** Typed arrays use the host's byte order; DataView reads must say which that is. */
const LITTLE_ENDIAN_HOST = endianness() === "LE";

function byteSwap(input: Uint8Array, output: Uint8Array, elementSize: number): void {
  // 16-byte elements are two independent 8-byte halves (complex128), like the native kernel.
  const width = elementSize === 16 ? 8 : elementSize;
  const length = input.length - (input.length % width);
  for (let start = 0; start < length; start += width) {
    // Read both ends before writing, so input === output (in place) works.
    for (let low = 0, high = width - 1; low < high; low++, high--) {
      const a = input[start + low]!;
      const b = input[start + high]!;
      output[start + low] = b;
      output[start + high] = a;
    }
  }
}

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** binary16 bits → binary32 bits; the same steps as `half_bits_to_float_bits` in decode.rs. */
function halfBitsToFloatBits(half: number): number {
  const shiftedExponent = 0x7c00 << 13;
  const magnitude = (half & 0x7fff) << 13;
  const exponent = magnitude & shiftedExponent;
  let bits = magnitude + ((127 - 15) << 23);
  if (exponent === shiftedExponent) {
    bits += (128 - 16) << 23;
  } else if (exponent === 0) {
    scratchBits[0] = bits + (1 << 23);
    const shifted = scratchFloat[0]!;
    scratchBits[0] = 113 << 23;
    scratchFloat[0] = shifted - scratchFloat[0]!;
    bits = scratchBits[0]!;
  }
  return (bits | ((half & 0x8000) << 16)) >>> 0;
}

function float16ToFloat32(input: Uint16Array | Uint8Array, output: Float32Array): void {
  const outputBits = new Uint32Array(output.buffer, output.byteOffset, output.length);
  if (input instanceof Uint16Array) {
    for (let index = 0; index < output.length; index++) outputBits[index] = halfBitsToFloatBits(input[index]!);
  } else {
    const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
    for (let index = 0; index < output.length; index++) outputBits[index] = halfBitsToFloatBits(view.getUint16(2 * index, LITTLE_ENDIAN_HOST));
  }
}

function float64ToFloat32(input: Float64Array | Uint8Array, output: Float32Array): void {
  // A Float32Array store rounds to nearest-even, as Rust's `as f32`.
  if (input instanceof Float64Array) {
    for (let index = 0; index < output.length; index++) output[index] = input[index]!;
  } else {
    const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
    for (let index = 0; index < output.length; index++) output[index] = view.getFloat64(8 * index, LITTLE_ENDIAN_HOST);
  }
}

type FloatArray = Float32Array | Float64Array;

/**
 * Values are moved as 32-bit words, not as numbers: reading a float into a JS number and back may quiet
 * a signalling NaN, and the native kernel copies bits exactly.
 */
function words(array: FloatArray): Uint32Array {
  return new Uint32Array(array.buffer, array.byteOffset, array.byteLength / 4);
}

function interleavedToPlanar(interleaved: FloatArray, real: FloatArray, imaginary: FloatArray): void {
  const width = interleaved.BYTES_PER_ELEMENT / 4;
  const [from, re, im] = [words(interleaved), words(real), words(imaginary)];
  for (let index = 0; index < real.length; index++) {
    for (let word = 0; word < width; word++) {
      re[index * width + word] = from[2 * index * width + word]!;
      im[index * width + word] = from[(2 * index + 1) * width + word]!;
    }
  }
}

function planarToInterleaved(real: FloatArray, imaginary: FloatArray, interleaved: FloatArray): void {
  const width = interleaved.BYTES_PER_ELEMENT / 4;
  const [re, im, to] = [words(real), words(imaginary), words(interleaved)];
  for (let index = 0; index < real.length; index++) {
    for (let word = 0; word < width; word++) {
      to[2 * index * width + word] = re[index * width + word]!;
      to[(2 * index + 1) * width + word] = im[index * width + word]!;
    }
  }
}

function fortranToC(input: Uint8Array, output: Uint8Array, shape: number[], itemSize: number): void {
  const rank = shape.length;
  const count = shape.reduce((product, dimension) => product * dimension, 1);
  if (count === 0) return;
  // Fortran strides in bytes: axis 0 fastest.
  const strides: number[] = [];
  let stride = itemSize;
  for (let axis = 0; axis < rank; axis++) {
    strides.push(stride);
    stride *= shape[axis]!;
  }
  // Walk the output in C order (last axis fastest), moving the source offset along with an odometer.
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  for (let target = 0; target < count * itemSize; target += itemSize) {
    for (let byte = 0; byte < itemSize; byte++) output[target + byte] = input[source + byte]!;
    for (let axis = rank - 1; axis >= 0; axis--) {
      if (++index[axis]! < shape[axis]!) {
        source += strides[axis]!;
        break;
      }
      source -= (shape[axis]! - 1) * strides[axis]!;
      index[axis] = 0;
    }
  }
}

/** CRC-32 remainders of every byte value for the reflected zip polynomial 0xEDB88320. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

function crc32(data: Uint8Array, initial: number): number {
  let crc = ~initial >>> 0;
  for (let index = 0; index < data.length; index++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ data[index]!) & 0xff]!;
  return ~crc >>> 0;
}

/** The fallback kernels. */
export const fallbackDecodeKernels: DecodeKernels = {
  byteSwap,
  float16ToFloat32,
  float64ToFloat32,
  interleavedToPlanar,
  planarToInterleaved,
  fortranToC,
  crc32,
};
