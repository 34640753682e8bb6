/**
 * Turns the element bytes of an `.npy` into an {@link NdArray}: byte-swapping big-endian data to native,
 * widening float16, normalising bools, decoding strings and reordering Fortran data to C order.
 */
import { scalarByteSize, typedArrayConstructor, type Dtype, type NumericArray } from "../dtype.js";
import { DataErrorCode, NpyError } from "../errors.js";
import { contiguousStrides, elementCount, type NdArray } from "../ndarray.js";
import { byteSwapInPlace, float16ToFloat32, reorderAxes } from "./element-kernels.js";

/** Options shared by every reader. */
export interface DecodeOptions {
  /** Return `f2` data as raw `Uint16Array` bits instead of `Float32Array`. */
  readonly raw?: boolean;
  /** Keep Fortran-ordered arrays in their order (`order: "F"`, Fortran strides) instead of converting to C. */
  readonly keepFortranOrder?: boolean;
}

/** What the decoder needs to know about the stored elements. */
export interface ElementLayout {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly fortranOrder: boolean;
}

/**
 * Decodes `bytes` (exactly the element data). `owned` says the caller hands the memory over, so it may be
 * swapped in place and viewed without a copy; otherwise anything that must change is copied first.
 */
export function decodeElements(bytes: Uint8Array, layout: ElementLayout, key: string, source: string, owned: boolean, options: DecodeOptions = {}): NdArray {
  const { dtype, shape } = layout;
  const keepFortran = layout.fortranOrder && options.keepFortranOrder === true && shape.length > 1;
  const reorder = layout.fortranOrder && !keepFortran && shape.length > 1;
  let work = bytes;
  let workOwned = owned;
  if (reorder) {
    work = reorderAxes(bytes, shape, dtype.itemSize);
    workOwned = true;
  }
  const order = keepFortran ? "F" : "C";
  const strides = contiguousStrides(shape, keepFortran);
  const base = { dtype: dtype.descr, shape: [...shape], key, complex: dtype.kind === "c", order, strides } as const;

  if (dtype.kind === "U" || dtype.kind === "S") return { ...base, data: decodeStrings(work, dtype, elementCount(shape), source), raw: false };

  const scalarSize = scalarByteSize(dtype);
  const needsSwap = dtype.byteOrder === ">" && scalarSize > 1;
  const aligned = work.byteOffset % scalarSize === 0;
  if ((needsSwap || !aligned || dtype.kind === "b") && !workOwned) {
    work = work.slice();
    workOwned = true;
  } else if (!aligned) work = work.slice();
  if (needsSwap) byteSwapInPlace(work, scalarSize);

  if (dtype.kind === "b") {
    // numpy treats any non-zero byte as True; keep the documented 0/1 form.
    for (let index = 0; index < work.length; index++) if (work[index]! > 1) work[index] = 1;
    return { ...base, data: work, raw: false };
  }
  if (dtype.kind === "f" && dtype.itemSize === 2) {
    const halves = new Uint16Array(work.buffer, work.byteOffset, work.byteLength / 2);
    return options.raw ? { ...base, data: halves, raw: true } : { ...base, data: float16ToFloat32(halves), raw: false };
  }
  const Constructor = typedArrayConstructor(dtype);
  const data = new Constructor(work.buffer as ArrayBuffer, work.byteOffset, work.byteLength / Constructor.BYTES_PER_ELEMENT) as NumericArray;
  return { ...base, data, raw: false };
}

/** Decodes `U<n>` (UTF-32 code units) and `S<n>` (bytes) elements, dropping trailing NULs as numpy does. */
function decodeStrings(bytes: Uint8Array, dtype: Dtype, count: number, source: string): string[] {
  const itemSize = dtype.itemSize;
  const out = new Array<string>(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype.kind === "S") {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let index = 0; index < count; index++) {
      let end = (index + 1) * itemSize;
      const start = index * itemSize;
      while (end > start && buffer[end - 1] === 0) end--;
      out[index] = buffer.toString("latin1", start, end);
    }
    return out;
  }
  const littleEndian = dtype.byteOrder !== ">";
  const units = itemSize / 4;
  const codePoints: number[] = [];
  for (let index = 0; index < count; index++) {
    const start = index * itemSize;
    let length = units;
    while (length > 0 && view.getUint32(start + (length - 1) * 4, littleEndian) === 0) length--;
    let text = "";
    for (let unit = 0; unit < length; unit++) {
      const codePoint = view.getUint32(start + unit * 4, littleEndian);
      if (codePoint > 0x10ffff) {
        throw new NpyError(DataErrorCode.NpyString, `${source}: element ${index} of ${dtype.descr} holds 0x${codePoint.toString(16)}, which is not a Unicode code point`);
      }
      codePoints.push(codePoint);
      if (codePoints.length === 4096) {
        text += String.fromCodePoint(...codePoints);
        codePoints.length = 0;
      }
    }
    if (codePoints.length > 0) text += String.fromCodePoint(...codePoints);
    codePoints.length = 0;
    out[index] = text;
  }
  return out;
}
