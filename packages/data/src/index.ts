/**
 * `@studykit/data`: numpy npy/npz reading and writing, memmap, schemas with canonical keys, and the
 * dataset bridge.
 */
export { parseDescr, descrKindSize, DtypeError } from "./dtype.js";
export type { Dtype, DtypeKind, NumericArray } from "./dtype.js";
export { DataErrorCode, NpyError, ZipError, DataError, SchemaError } from "./errors.js";
export type { DataErrorCodeValue, SchemaViolation } from "./errors.js";
export type { NdArray, ArrayInput, ArrayData, WritableArray } from "./ndarray.js";
export { loadNpy, parseNpy, readNpyInfo, encodeNpy, saveNpy } from "./npy.js";
export type { ReadOptions, NpyInfo } from "./npy.js";
export { openNpz, loadNpz, saveNpz, NpzFile } from "./npz.js";
export type { NpzMemberInfo, SaveNpzOptions } from "./npz.js";
export { arraySha256, datasetSnapshotHash, datasetSnapshotEntries, arraysSnapshotHash, snapshotHashOfEntries } from "./content-hash.js";
export type { SnapshotEntry, SnapshotOptions } from "./content-hash.js";
export { detectFormat } from "./npy.js";
export { PTYCHO_SCHEMA, SchemaRegistry, schemaRegistry, registerSchema, getSchema, resolveKeys, canonicalNames, checkSchema } from "./schema.js";
export type { DatasetSchema, SchemaKey, KeyResolution, SchemaCheck, ArrayDescription, KeyTransform } from "./schema.js";
export { loadDataset, validateDataset, conformArrays } from "./dataset.js";
export type { Dataset, LoadDatasetOptions, ValidationReport } from "./dataset.js";
export { openMemmap, MemmapArray } from "./memmap.js";
export type { MemmapLayout, MemmapOptions } from "./memmap.js";
export { iterateBatches, arrayRowSource, shuffledOrder } from "./dataset-bridge.js";
export type { RowSource, BatchOptions, Batch } from "./dataset-bridge.js";
