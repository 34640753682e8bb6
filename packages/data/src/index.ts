/**
 * `@studykit/data`: numpy npy/npz reading and writing, memmap, schemas with canonical keys, and the
 * dataset bridge.
 */
export { parseDescr, descrKindSize, DtypeError } from "./dtype.js";
export type { Dtype, DtypeKind, NumericArray } from "./dtype.js";
export { DataErrorCode, NpyError, ZipError, DataError, SchemaError } from "./errors.js";
export type { DataErrorCodeValue, SchemaViolation } from "./errors.js";
export type { NdArray, ArrayInput, ArrayData } from "./ndarray.js";
export { loadNpy, parseNpy, readNpyInfo, encodeNpy, saveNpy } from "./npy.js";
export type { ReadOptions, NpyInfo } from "./npy.js";
export { openNpz, loadNpz, saveNpz, NpzFile } from "./npz.js";
export type { NpzMemberInfo, SaveNpzOptions } from "./npz.js";
