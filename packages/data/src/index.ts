/**
 * `@studykit/data`: numpy npy/npz reading and writing, memmap, schemas with canonical keys, and the
 * dataset bridge.
 */
export { parseDescr, DtypeError } from "./dtype.js";
export type { Dtype, DtypeKind } from "./dtype.js";
