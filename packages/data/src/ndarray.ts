/**
 * The array type every reader returns and every writer accepts.
 */
import type { NumericArray } from "./dtype.js";

/** Element storage: a TypedArray for numeric dtypes, `string[]` for `U<n>` and `S<n>`. */
export type ArrayData = NumericArray | string[];

/** An array read from a `.npy` / `.npz` (or built to be written). */
export interface NdArray {
  /** Elements in native byte order; complex as interleaved (real, imag). */
  readonly data: ArrayData;
  /** numpy descr of the stored data (e.g. `>f8`): the byte order is the file's, the data is native. */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Where it came from: the npz member name without `.npy`, or `""` for an `.npy`. */
  readonly key: string;
  /** True for `c8` / `c16`, whose `data` interleaves real and imaginary parts. */
  readonly complex: boolean;
  /** `"C"` (the default) or `"F"` when a Fortran-ordered array was kept in its order. */
  readonly order: "C" | "F";
  /** Element strides (not bytes) of `data` per axis, numpy-style; C-contiguous unless `order` is `"F"`. */
  readonly strides: readonly number[];
  /** True when an `f2` array is returned as raw `Uint16Array` bits. */
  readonly raw: boolean;
}

/** What writers accept: an `NdArray`, or the fields that define one. */
export interface ArrayInput {
  readonly data: ArrayData;
  readonly shape?: readonly number[];
  /** numpy descr to write (e.g. `>f8` writes big-endian); inferred from `data` when absent. */
  readonly dtype?: string;
  readonly complex?: boolean;
  /** `"F"` when `data` is in Fortran order (written with `fortran_order: True`). */
  readonly order?: "C" | "F";
}

/** What writers and hashes accept: an array object, or bare elements (a TypedArray or `string[]`, taken as 1-D). */
export type WritableArray = ArrayInput | ArrayData;

/** The {@link ArrayInput} form of a {@link WritableArray}. */
export function toArrayInput(array: WritableArray): ArrayInput {
  if (ArrayBuffer.isView(array) || Array.isArray(array)) return { data: array as ArrayData };
  return array;
}

/** Element strides for a C-ordered (or, with `fortran`, F-ordered) array of this shape. */
export function contiguousStrides(shape: readonly number[], fortran = false): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  if (fortran) {
    for (let axis = 0; axis < shape.length; axis++) {
      strides[axis] = stride;
      stride *= shape[axis]!;
    }
  } else {
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      strides[axis] = stride;
      stride *= shape[axis]!;
    }
  }
  return strides;
}

/** Number of elements of a shape (1 for a 0-d array). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const size of shape) count *= size;
  return count;
}
