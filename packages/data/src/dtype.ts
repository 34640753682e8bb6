/**
 * numpy dtype descriptors ("descr" strings such as `<f8`, `|b1`, `>U12`) and what they map to in memory.
 *
 * This is the one dtype table of the project: readers, writers and hashes all use it.
 *
 * In-memory mapping (always native byte order, which is little-endian on every supported platform):
 *
 * | descr        | elements as                                  |
 * | ------------ | -------------------------------------------- |
 * | `f2`         | `Float32Array` (or raw `Uint16Array` bits)   |
 * | `f4` `f8`    | `Float32Array` `Float64Array`                |
 * | `i1`..`i8`   | `Int8Array` `Int16Array` `Int32Array` `BigInt64Array` |
 * | `u1`..`u8`   | `Uint8Array` `Uint16Array` `Uint32Array` `BigUint64Array` |
 * | `b1`         | `Uint8Array` holding 0 / 1                   |
 * | `c8` `c16`   | interleaved (real, imag) `Float32Array` / `Float64Array` |
 * | `U<n>` `S<n>`| `string[]`                                   |
 */
import { DataErrorCode, NpyError } from "./errors.js";

/** numpy's kind letters for the dtypes studykit supports. */
export type DtypeKind = "f" | "i" | "u" | "b" | "c" | "U" | "S";

/** A parsed numpy descr. */
export interface Dtype {
  /** The descr exactly as numpy writes it, e.g. `<f8`. */
  readonly descr: string;
  readonly kind: DtypeKind;
  /** Bytes per element (for `U<n>`: 4·n). */
  readonly itemSize: number;
  /** Byte order of stored data; `|` for single-byte and byte-string types. */
  readonly byteOrder: "<" | ">" | "|";
}

/** Raised for a descr studykit cannot read (`E_NPY_OBJECT`, `E_NPY_DTYPE_UNSUPPORTED`). */
export class DtypeError extends NpyError {}

/** Element sizes numpy offers per numeric kind. */
const NUMERIC_SIZES: Readonly<Record<string, readonly number[]>> = {
  f: [2, 4, 8],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  b: [1],
  c: [8, 16],
};

/** Kinds numpy has but studykit refuses, with the reason shown to the user. */
const REFUSED_KINDS: Readonly<Record<string, string>> = {
  V: "void / structured dtypes are not supported",
  M: "datetime64 dtypes are not supported",
  m: "timedelta64 dtypes are not supported",
  a: "the legacy 'a' byte-string code is not supported (resave with dtype 'S')",
};

/** Largest `U<n>`/`S<n>` length accepted (numpy's own limit is far larger; this keeps allocations sane). */
const MAX_STRING_LENGTH = 1 << 24;

function unsupported(descr: string, why: string): DtypeError {
  return new DtypeError(DataErrorCode.NpyDtypeUnsupported, `unsupported dtype descr ${JSON.stringify(descr)}: ${why}`);
}

/** Parses a numpy descr string; throws `E_NPY_OBJECT` for object arrays and `E_NPY_DTYPE_UNSUPPORTED` naming it otherwise. */
export function parseDescr(descr: string): Dtype {
  if (/^[<>|=]?O\d*$/.test(descr)) {
    throw new DtypeError(DataErrorCode.NpyObject, `object arrays (${JSON.stringify(descr)}) are refused: loading them would require unpickling, which studykit never does`);
  }
  const match = /^([<>|=]?)([a-zA-Z?])(\d*)(\[[^\]]*\])?$/.exec(descr);
  if (!match) throw unsupported(descr, "not a simple numpy descr such as '<f8'");
  const [, orderText = "", kindText = "", sizeText = "", unit] = match;
  const refused = REFUSED_KINDS[kindText];
  if (refused) throw unsupported(descr, refused);
  if (unit) throw unsupported(descr, "unit suffixes belong to datetime dtypes, which are not supported");
  if (kindText === "?" && sizeText === "") return { descr, kind: "b", itemSize: 1, byteOrder: "|" };
  if (sizeText === "" || sizeText.length > 9) throw unsupported(descr, "the element size is missing or out of range");
  const size = Number(sizeText);
  if (kindText === "U" || kindText === "S") {
    if (size > MAX_STRING_LENGTH) throw unsupported(descr, `string length ${size} exceeds ${MAX_STRING_LENGTH}`);
    const kind = kindText;
    const itemSize = kind === "U" ? size * 4 : size;
    const byteOrder = kind === "S" ? "|" : orderText === ">" ? ">" : "<";
    return { descr, kind, itemSize, byteOrder };
  }
  const sizes = NUMERIC_SIZES[kindText];
  if (!sizes) throw unsupported(descr, `kind '${kindText}' is not a numeric, bool or string kind studykit reads`);
  if (!sizes.includes(size)) throw unsupported(descr, `kind '${kindText}' has no ${size}-byte variant`);
  const byteOrder = size === 1 ? "|" : orderText === ">" ? ">" : "<";
  return { descr, kind: kindText as DtypeKind, itemSize: size, byteOrder };
}

/** The descr without its byte order (`<f8` → `f8`, `>U12` → `U12`): the dtype's kind and size, independent of storage. */
export function descrKindSize(dtype: Dtype): string {
  const count = dtype.kind === "U" ? dtype.itemSize / 4 : dtype.itemSize;
  return `${dtype.kind}${count}`;
}

/** The descr numpy would write for this dtype in the given byte order (`<`, `>`; ignored for single bytes and `S`). */
export function descrWithOrder(dtype: Dtype, order: "<" | ">"): string {
  const kindSize = descrKindSize(dtype);
  if (dtype.kind === "S" || (dtype.kind !== "U" && dtype.itemSize === 1)) return `|${kindSize}`;
  return `${order}${kindSize}`;
}

/** Number of scalars per element in memory (2 for complex, 1 otherwise). */
export function scalarsPerElement(dtype: Dtype): number {
  return dtype.kind === "c" ? 2 : 1;
}

/** Bytes per scalar in the stored data (complex: one component; strings: one code unit). */
export function scalarByteSize(dtype: Dtype): number {
  if (dtype.kind === "c") return dtype.itemSize / 2;
  if (dtype.kind === "U") return 4;
  if (dtype.kind === "S") return 1;
  return dtype.itemSize;
}

/** Every numeric TypedArray the readers return or the writers accept. */
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

type NumericConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigUint64ArrayConstructor;

const CONSTRUCTORS: Readonly<Record<string, NumericConstructor>> = {
  f2: Float32Array,
  f4: Float32Array,
  f8: Float64Array,
  i1: Int8Array,
  i2: Int16Array,
  i4: Int32Array,
  i8: BigInt64Array,
  u1: Uint8Array,
  u2: Uint16Array,
  u4: Uint32Array,
  u8: BigUint64Array,
  b1: Uint8Array,
  c8: Float32Array,
  c16: Float64Array,
};

/** The TypedArray constructor holding this numeric dtype in memory (`f2` → `Float32Array`, or `Uint16Array` when `raw`). */
export function typedArrayConstructor(dtype: Dtype, raw = false): NumericConstructor {
  if (raw && dtype.kind === "f" && dtype.itemSize === 2) return Uint16Array;
  const constructor = CONSTRUCTORS[`${dtype.kind}${dtype.itemSize}`];
  if (!constructor) throw unsupported(dtype.descr, "strings have no TypedArray form");
  return constructor;
}

/** The little-endian descr studykit writes for a TypedArray when the caller names none. */
export function inferDescr(data: NumericArray | readonly string[], complex = false): string {
  if (Array.isArray(data)) {
    let longest = 1;
    for (const text of data as readonly string[]) {
      let length = 0;
      for (const _ of text) length++;
      if (length > longest) longest = length;
    }
    return `<U${longest}`;
  }
  if (complex) {
    if (data instanceof Float32Array) return "<c8";
    if (data instanceof Float64Array) return "<c16";
    throw new DtypeError(DataErrorCode.Argument, `complex arrays must be an interleaved Float32Array or Float64Array, got ${data.constructor.name}`);
  }
  if (data instanceof Float32Array) return "<f4";
  if (data instanceof Float64Array) return "<f8";
  if (data instanceof Int8Array) return "|i1";
  if (data instanceof Int16Array) return "<i2";
  if (data instanceof Int32Array) return "<i4";
  if (data instanceof BigInt64Array) return "<i8";
  if (data instanceof Uint8Array) return "|u1";
  if (data instanceof Uint16Array) return "<u2";
  if (data instanceof Uint32Array) return "<u4";
  if (data instanceof BigUint64Array) return "<u8";
  throw new DtypeError(DataErrorCode.Argument, `cannot infer a numpy dtype for ${(data as object)?.constructor?.name ?? typeof data}`);
}
