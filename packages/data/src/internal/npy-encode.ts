/**
 * Turns an {@link ArrayInput} into `.npy` bytes: a numpy-style preamble plus the element data in the
 * requested dtype and byte order. Native little-endian numeric data is passed through without a copy.
 */
import { inferDescr, parseDescr, scalarByteSize, typedArrayConstructor, type Dtype } from "../dtype.js";
import { DataError, DataErrorCode } from "../errors.js";
import { elementCount, toArrayInput, type WritableArray } from "../ndarray.js";
import { byteSwapInPlace, float32ToFloat16 } from "./element-kernels.js";
import { encodeNpyPreamble } from "./npy-header.js";

/** A validated array ready to be written. */
export interface EncodedArray {
  readonly preamble: Buffer;
  readonly body: Uint8Array;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly fortranOrder: boolean;
}

function argumentError(name: string, message: string): DataError {
  return new DataError(DataErrorCode.Argument, `${name}: ${message}`);
}

/** Validates `input` against its dtype and shape and encodes it. `name` labels errors. */
export function encodeArray(given: WritableArray, name: string): EncodedArray {
  const input = given === null || given === undefined ? given : toArrayInput(given);
  if (input === null || typeof input !== "object" || !("data" in input)) throw argumentError(name, "expected an array object with a `data` field");
  const { data } = input;
  const isStrings = Array.isArray(data);
  if (!isStrings && !ArrayBuffer.isView(data)) throw argumentError(name, "`data` must be a TypedArray or an array of strings");
  const descr = input.dtype ?? inferDescr(data, input.complex ?? false);
  let dtype: Dtype;
  try {
    dtype = parseDescr(descr);
  } catch (error) {
    throw argumentError(name, (error as Error).message);
  }
  const scalars = dtype.kind === "c" ? 2 : 1;
  const length = isStrings ? (data as string[]).length : (data as ArrayBufferView & { length: number }).length;
  const shape = input.shape ? [...input.shape] : [length / scalars];
  for (const size of shape) if (!Number.isSafeInteger(size) || size < 0) throw argumentError(name, `shape [${shape.join(", ")}] must hold non-negative integers`);
  const count = elementCount(shape);
  if (count * scalars !== length) {
    throw argumentError(name, `shape [${shape.join(", ")}] holds ${count} elements${scalars === 2 ? " (×2 interleaved scalars)" : ""} but data has ${length} values`);
  }
  const fortranOrder = input.order === "F" && shape.length > 1;
  const body = isStrings ? encodeStrings(data as string[], dtype, name) : encodeNumbers(data as ArrayBufferView, dtype, name);
  return { preamble: encodeNpyPreamble(normaliseDescr(dtype), fortranOrder, shape), body, dtype, shape, fortranOrder };
}

/** The descr numpy would write (`|b1`, `<f8`, `>i4`, `|S5`). */
function normaliseDescr(dtype: Dtype): string {
  const size = dtype.kind === "U" ? dtype.itemSize / 4 : dtype.itemSize;
  return `${dtype.byteOrder}${dtype.kind}${size}`;
}

function encodeNumbers(data: ArrayBufferView, dtype: Dtype, name: string): Uint8Array {
  if (dtype.kind === "U" || dtype.kind === "S") throw argumentError(name, `dtype ${dtype.descr} needs an array of strings, got ${data.constructor.name}`);
  let bytes: Uint8Array;
  if (dtype.kind === "f" && dtype.itemSize === 2 && data instanceof Float32Array) {
    const halves = float32ToFloat16(data);
    bytes = new Uint8Array(halves.buffer);
  } else {
    const expected = typedArrayConstructor(dtype, data instanceof Uint16Array && dtype.kind === "f");
    if (!(data instanceof expected)) throw argumentError(name, `dtype ${dtype.descr} needs a ${expected.name}, got ${data.constructor.name}`);
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (dtype.kind === "b") {
      let normal = true;
      for (let index = 0; index < bytes.length && normal; index++) if (bytes[index]! > 1) normal = false;
      if (!normal) bytes = bytes.map((value) => (value === 0 ? 0 : 1));
    }
  }
  const scalarSize = scalarByteSize(dtype);
  if (dtype.byteOrder === ">" && scalarSize > 1) {
    bytes = bytes.slice();
    byteSwapInPlace(bytes, scalarSize);
  }
  return bytes;
}

function encodeStrings(data: readonly string[], dtype: Dtype, name: string): Uint8Array {
  if (dtype.kind !== "U" && dtype.kind !== "S") throw argumentError(name, `dtype ${dtype.descr} needs a TypedArray, got an array of strings`);
  const out = new Uint8Array(data.length * dtype.itemSize);
  const view = new DataView(out.buffer);
  const littleEndian = dtype.byteOrder !== ">";
  const capacity = dtype.kind === "U" ? dtype.itemSize / 4 : dtype.itemSize;
  data.forEach((text, index) => {
    if (typeof text !== "string") throw argumentError(name, `element ${index} is ${typeof text}, not a string`);
    const start = index * dtype.itemSize;
    let unit = 0;
    for (const char of text) {
      const codePoint = char.codePointAt(0)!;
      if (unit >= capacity) throw argumentError(name, `element ${index} (${JSON.stringify(text.slice(0, 40))}) is longer than ${dtype.descr} allows`);
      if (dtype.kind === "U") view.setUint32(start + unit * 4, codePoint, littleEndian);
      else {
        if (codePoint > 0xff) throw argumentError(name, `element ${index} holds U+${codePoint.toString(16)}, which ${dtype.descr} (bytes) cannot store; use a 'U' dtype`);
        out[start + unit] = codePoint;
      }
      unit++;
    }
  });
  return out;
}
