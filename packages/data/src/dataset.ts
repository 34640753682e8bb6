/**
 * Loading a dataset through a schema: keys resolved to canonical names, arrays brought to their canonical
 * layout, every violation reported at once.
 */
import { typedArrayConstructor, parseDescr, type NumericArray } from "./dtype.js";
import type { SchemaViolation } from "./errors.js";
import { contiguousStrides, type NdArray } from "./ndarray.js";
import { detectFormat, loadNpy, readNpyInfo, type ReadOptions } from "./npy.js";
import { openNpz, type NpzFile } from "./npz.js";
import { checkSchema, getSchema, schemaErrorFor, type ArrayDescription, type KeyTransform, type SchemaCheck } from "./schema.js";

/** A dataset in canonical form. */
export interface Dataset {
  readonly path: string;
  readonly schema: string;
  /** Arrays under their canonical keys only. */
  readonly arrays: Readonly<Record<string, NdArray>>;
  /** Canonical key → the name it was stored under. */
  readonly sources: Readonly<Record<string, string>>;
  /** Values of the schema's shape symbols (e.g. `n`, `H`, `W`). */
  readonly dimensions: Readonly<Record<string, number>>;
  readonly warnings: readonly string[];
}

/** Options for {@link loadDataset}. */
export interface LoadDatasetOptions extends ReadOptions {
  /** Schema name (default `"ptycho"`). */
  readonly schema?: string;
}

/** Result of {@link validateDataset}. */
export interface ValidationReport {
  readonly path: string;
  readonly schema: string;
  readonly valid: boolean;
  readonly arrays: readonly { readonly name: string; readonly canonicalName: string; readonly dtype: string; readonly shape: readonly number[] }[];
  readonly violations: readonly SchemaViolation[];
  readonly warnings: readonly string[];
}

function describeFile(path: string, npz: NpzFile | null): Map<string, ArrayDescription> {
  const descriptions = new Map<string, ArrayDescription>();
  if (!npz) {
    const info = readNpyInfo(path);
    descriptions.set("", { dtype: info.dtype, shape: info.shape });
    return descriptions;
  }
  for (const name of npz.names) {
    const info = npz.describe(name);
    descriptions.set(name, { dtype: info.dtype, shape: info.shape });
  }
  return descriptions;
}

/** Checks a file against a schema from its headers only (no array data is decoded). */
export function validateDataset(path: string, options: { schema?: string } = {}): ValidationReport {
  const schema = getSchema(options.schema ?? "ptycho");
  const npz = detectFormat(path) === "npz" ? openNpz(path) : null;
  try {
    const descriptions = describeFile(path, npz);
    const check = checkSchema(schema, descriptions);
    const canonical = new Map([...check.sources].map(([key, stored]) => [stored, key]));
    return {
      path,
      schema: schema.name,
      valid: check.violations.length === 0,
      arrays: [...descriptions].map(([name, description]) => ({ name, canonicalName: canonical.get(name) ?? name, dtype: description.dtype, shape: description.shape })),
      violations: check.violations,
      warnings: check.warnings,
    };
  } finally {
    npz?.close();
  }
}

/**
 * Loads a dataset through a schema: canonical keys only, legacy layouts fixed, every violation reported in
 * one `E_SCHEMA_MISSING_KEY` / `E_SCHEMA_VIOLATION` error.
 */
export function loadDataset(path: string, options: LoadDatasetOptions = {}): Dataset {
  const schema = getSchema(options.schema ?? "ptycho");
  const npz = detectFormat(path) === "npz" ? openNpz(path, options) : null;
  try {
    const check = checkSchema(schema, describeFile(path, npz));
    if (check.violations.length > 0) throw schemaErrorFor(path, schema, check.violations);
    const arrays: Record<string, NdArray> = {};
    for (const [key, stored] of check.sources) {
      const array = npz ? npz.get(stored, { ...options, keepFortranOrder: false }) : loadNpy(path, { ...options, keepFortranOrder: false });
      arrays[key] = conform({ ...array, key }, check.transforms.get(key) ?? { kind: "none" }, check.shapes.get(key) ?? array.shape);
    }
    return {
      path,
      schema: schema.name,
      arrays,
      sources: Object.fromEntries(check.sources),
      dimensions: Object.fromEntries(check.dimensions),
      warnings: check.warnings,
    };
  } finally {
    npz?.close();
  }
}

/** Applies a schema to arrays already in memory (same checks and reshapes as {@link loadDataset}). */
export function conformArrays(arrays: Readonly<Record<string, NdArray>>, schemaName = "ptycho", label = "<arrays>"): Dataset {
  const schema = getSchema(schemaName);
  const check: SchemaCheck = checkSchema(schema, new Map(Object.entries(arrays).map(([name, array]) => [name, { dtype: array.dtype, shape: array.shape }])));
  if (check.violations.length > 0) throw schemaErrorFor(label, schema, check.violations);
  const out: Record<string, NdArray> = {};
  for (const [key, stored] of check.sources) {
    const array = arrays[stored]!;
    out[key] = conform({ ...array, key }, check.transforms.get(key) ?? { kind: "none" }, check.shapes.get(key) ?? array.shape);
  }
  return { path: label, schema: schema.name, arrays: out, sources: Object.fromEntries(check.sources), dimensions: Object.fromEntries(check.dimensions), warnings: check.warnings };
}

function conform(array: NdArray, transform: KeyTransform, shape: readonly number[]): NdArray {
  if (transform.kind === "none") return array;
  if (transform.kind === "squeeze") return { ...array, shape: [...shape], strides: contiguousStrides(shape) };
  // Legacy (H, W, n) → (n, H, W): out[k, i, j] = in[i, j, k].
  const [height, width, count] = array.shape as [number, number, number];
  const scalars = array.complex ? 2 : 1;
  const source = array.data;
  let data: NdArray["data"];
  if (Array.isArray(source)) {
    const strings = new Array<string>(source.length);
    for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) for (let k = 0; k < count; k++) strings[(k * height + i) * width + j] = source[(i * width + j) * count + k]!;
    data = strings;
  } else {
    const Constructor = array.raw ? Uint16Array : typedArrayConstructor(parseDescr(array.dtype));
    const target = new Constructor(source.length) as NumericArray;
    const input = source as unknown as { [index: number]: number | bigint };
    const output = target as unknown as { [index: number]: number | bigint };
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++) {
        for (let k = 0; k < count; k++) {
          const from = ((i * width + j) * count + k) * scalars;
          const to = ((k * height + i) * width + j) * scalars;
          for (let s = 0; s < scalars; s++) output[to + s] = input[from + s]!;
        }
      }
    }
    data = target;
  }
  return { ...array, data, shape: [...shape], order: "C", strides: contiguousStrides(shape) };
}
