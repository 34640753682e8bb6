/**
 * Byte-level kernels the readers and writers use: CRC-32, byte swapping, float16 conversion and
 * Fortran-to-C reordering.
 *
 * These are the TypeScript versions; `@studykit/native` is gaining Rust versions of the same kernels
 * (`crc32`, `byteSwap`, `float16ToFloat32`, `fortranToC`), and these functions switch to them once they land.
 * CRC-32 already runs in Node's zlib (a SIMD build), which is as fast as a native kernel would be.
 */
import { crc32 as zlibCrc32 } from "node:zlib";

/** CRC-32 (the zip polynomial) of `bytes`, continuing from `initial`. */
export function crc32(bytes: Uint8Array, initial = 0): number {
  return zlibCrc32(bytes, initial) >>> 0;
}

/** Reverses the byte order of every `elementSize`-byte element of `bytes`, in place. */
export function byteSwapInPlace(bytes: Uint8Array, elementSize: number): void {
  if (elementSize <= 1) return;
  const length = bytes.length - (bytes.length % elementSize);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, length);
  // Buffer's swap16/32/64 are vectorised in Node's C++ core.
  if (elementSize === 2) buffer.swap16();
  else if (elementSize === 4) buffer.swap32();
  else if (elementSize === 8) buffer.swap64();
  else {
    for (let start = 0; start < length; start += elementSize) {
      for (let low = start, high = start + elementSize - 1; low < high; low++, high--) {
        const byte = bytes[low]!;
        bytes[low] = bytes[high]!;
        bytes[high] = byte;
      }
    }
  }
}

let float16Table: Uint32Array | null = null;

/** float32 bit patterns of all 65536 float16 values (NaN payloads and signs kept). */
function halfToSingleTable(): Uint32Array {
  if (float16Table) return float16Table;
  const table = new Uint32Array(65536);
  for (let half = 0; half < 65536; half++) {
    const sign = (half & 0x8000) << 16;
    let exponent = (half >> 10) & 0x1f;
    let mantissa = half & 0x3ff;
    let bits: number;
    if (exponent === 0) {
      if (mantissa === 0) bits = sign;
      else {
        exponent = 1;
        while ((mantissa & 0x400) === 0) {
          mantissa <<= 1;
          exponent--;
        }
        mantissa &= 0x3ff;
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
      }
    } else if (exponent === 31) bits = sign | 0x7f800000 | (mantissa << 13);
    else bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    table[half] = bits >>> 0;
  }
  float16Table = table;
  return table;
}

/** float16 bit patterns to float32 values (exact: every float16 is a float32). */
export function float16ToFloat32(halves: Uint16Array): Float32Array {
  const table = halfToSingleTable();
  const out = new Float32Array(halves.length);
  const bits = new Uint32Array(out.buffer);
  for (let index = 0; index < halves.length; index++) bits[index] = table[halves[index]!]!;
  return out;
}

/** float32 values to float16 bit patterns, rounding to nearest-even like numpy's `astype('f2')`. */
export function float32ToFloat16(singles: Float32Array): Uint16Array {
  const bits = new Uint32Array(singles.buffer, singles.byteOffset, singles.length);
  const out = new Uint16Array(singles.length);
  for (let index = 0; index < bits.length; index++) {
    const value = bits[index]!;
    const sign = (value >>> 16) & 0x8000;
    const exponent = (value >>> 23) & 0xff;
    const mantissa = value & 0x7fffff;
    let half: number;
    if (exponent === 0xff) {
      let payload = mantissa >>> 13;
      if (mantissa !== 0 && payload === 0) payload = 0x200;
      half = sign | 0x7c00 | payload;
    } else {
      const rebased = exponent - 127 + 15;
      if (rebased >= 31) half = sign | 0x7c00;
      else if (rebased <= 0) {
        if (rebased < -10) half = sign;
        else {
          const full = mantissa | 0x800000;
          const shift = 14 - rebased;
          let result = full >>> shift;
          const remainder = full & ((1 << shift) - 1);
          const halfway = 1 << (shift - 1);
          if (remainder > halfway || (remainder === halfway && (result & 1) === 1)) result++;
          half = sign | result;
        }
      } else {
        let result = (rebased << 10) | (mantissa >>> 13);
        const remainder = mantissa & 0x1fff;
        if (remainder > 0x1000 || (remainder === 0x1000 && (result & 1) === 1)) result++;
        half = sign | result;
      }
    }
    out[index] = half;
  }
  return out;
}

/** A view of `bytes` in `itemSize`-sized lanes that copy bit-exactly (no float canonicalisation). */
function laneView(bytes: Uint8Array, itemSize: number): { lanes: Uint8Array | Uint16Array | Uint32Array; perItem: number } {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (itemSize % 4 === 0) return { lanes: new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4), perItem: itemSize / 4 };
  if (itemSize === 2) return { lanes: new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2), perItem: 1 };
  return { lanes: aligned, perItem: itemSize };
}

/**
 * Reorders the elements of a Fortran-ordered array (first axis fastest) into C order (last axis fastest).
 * With `reverse`, goes the other way (C to Fortran).
 */
export function reorderAxes(bytes: Uint8Array, shape: readonly number[], itemSize: number, reverse = false): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  const count = shape.reduce((product, size) => product * size, 1);
  if (count === 0 || shape.length < 2) {
    out.set(bytes);
    return out;
  }
  const source = laneView(bytes, itemSize);
  const target = laneView(out, itemSize);
  const { perItem } = source;
  const input = source.lanes;
  const output = target.lanes;
  // Walk the output in its own order; `sourceStrides` gives the matching input offset per axis.
  const rank = shape.length;
  const outerShape = reverse ? [...shape].reverse() : [...shape];
  const fortranStrides: number[] = [];
  let stride = 1;
  for (let axis = 0; axis < rank; axis++) {
    fortranStrides.push(stride);
    stride *= shape[axis]!;
  }
  const cStrides: number[] = new Array<number>(rank);
  stride = 1;
  for (let axis = rank - 1; axis >= 0; axis--) {
    cStrides[axis] = stride;
    stride *= shape[axis]!;
  }
  const sourceStrides = (reverse ? [...cStrides].reverse() : fortranStrides).map((value) => value * perItem);
  const innerSize = outerShape[rank - 1]!;
  const innerStride = sourceStrides[rank - 1]!;
  const counters = new Array<number>(rank).fill(0);
  let sourceBase = 0;
  let targetOffset = 0;
  const rows = count / innerSize;
  for (let row = 0; row < rows; row++) {
    let sourceOffset = sourceBase;
    if (perItem === 1) {
      for (let index = 0; index < innerSize; index++, sourceOffset += innerStride) output[targetOffset++] = input[sourceOffset]!;
    } else {
      for (let index = 0; index < innerSize; index++, sourceOffset += innerStride) {
        for (let lane = 0; lane < perItem; lane++) output[targetOffset++] = input[sourceOffset + lane]!;
      }
    }
    for (let axis = rank - 2; axis >= 0; axis--) {
      counters[axis]!++;
      sourceBase += sourceStrides[axis]!;
      if (counters[axis]! < outerShape[axis]!) break;
      sourceBase -= sourceStrides[axis]! * outerShape[axis]!;
      counters[axis] = 0;
    }
  }
  if (target.lanes.buffer !== out.buffer) out.set(new Uint8Array(target.lanes.buffer, target.lanes.byteOffset, target.lanes.byteLength));
  return out;
}
