/**
 * Content hashes of arrays and datasets: computed from element values, not file bytes, so the same arrays
 * saved compressed or stored, in Fortran order or big-endian, hash the same.
 *
 * - `arraySha256`: SHA-256 of the elements in C order, each little-endian in its own dtype (complex as
 *   real then imaginary; bool as one byte 0/1; `U<n>` as n UTF-32LE code units, NUL-padded; `S<n>` as n bytes).
 * - `datasetSnapshotHash`: SHA-256 of the canonical JSON (RFC 8785: sorted keys, no spaces) of the list,
 *   sorted by name, of `{ "dtype": kind+size (e.g. "f8", "c16", "U12"), "name": canonical name,
 *   "sha256": arraySha256, "shape": [..] }` for every array.
 */
import { sha256 } from "@studykit/native";
import { descrKindSize, inferDescr, parseDescr, type Dtype } from "./dtype.js";
import { toArrayInput, type WritableArray } from "./ndarray.js";
import { detectFormat, loadNpy } from "./npy.js";
import { openNpz } from "./npz.js";
import { canonicalNames } from "./schema.js";
import { reorderAxes } from "./internal/element-kernels.js";
import { encodeArray } from "./internal/npy-encode.js";

/** The little-endian form of a dtype, in which content hashes are taken. */
function littleEndian(dtype: Dtype): string {
  const kindSize = descrKindSize(dtype);
  return dtype.kind === "S" || (dtype.kind !== "U" && dtype.itemSize === 1) ? `|${kindSize}` : `<${kindSize}`;
}

/** SHA-256 (hex) of an array's elements in C order, little-endian per element; see the module doc for the exact bytes. */
export function arraySha256(given: WritableArray): string {
  const array = toArrayInput(given);
  const dtype = parseDescr(array.dtype ?? inferDescr(array.data, array.complex ?? false));
  const encoded = encodeArray({ ...array, dtype: littleEndian(dtype) }, "array");
  let bytes = encoded.body;
  if (encoded.fortranOrder) bytes = reorderAxes(bytes, encoded.shape, encoded.dtype.itemSize);
  return sha256(bytes);
}

/** One line of a snapshot: what the snapshot hash covers for one array. */
export interface SnapshotEntry {
  /** Canonical name (schema aliases resolved; `""` for an `.npy`). */
  readonly name: string;
  /** Kind and size, without byte order: `f8`, `c16`, `U12`, `S5`, `b1`. */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly sha256: string;
}

/** Options for the snapshot hash. */
export interface SnapshotOptions {
  /** Schema whose aliases give canonical names (default `"ptycho"`; `null` keeps names as stored). */
  readonly schema?: string | null;
}

/** The snapshot hash over already computed entries (sorted by name here). */
export function snapshotHashOfEntries(entries: readonly SnapshotEntry[]): string {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Keys in sorted order and integers/strings only: this JSON.stringify output is RFC 8785 canonical.
  const canonical = JSON.stringify(sorted.map((entry) => ({ dtype: entry.dtype, name: entry.name, sha256: entry.sha256, shape: [...entry.shape] })));
  return sha256(Buffer.from(canonical, "utf8"));
}

/** Snapshot entry of one in-memory array. */
export function snapshotEntry(name: string, given: WritableArray): SnapshotEntry {
  const array = toArrayInput(given);
  const dtype = parseDescr(array.dtype ?? inferDescr(array.data, array.complex ?? false));
  const shape = array.shape ? [...array.shape] : [Array.isArray(array.data) ? array.data.length : array.data.length / (dtype.kind === "c" ? 2 : 1)];
  return { name, dtype: descrKindSize(dtype), shape, sha256: arraySha256(array) };
}

/** Snapshot hash of in-memory arrays (names canonicalised through the schema, like {@link datasetSnapshotHash}). */
export function arraysSnapshotHash(arrays: Readonly<Record<string, WritableArray>>, options: SnapshotOptions = {}): string {
  const names = Object.keys(arrays);
  const canonical = canonicalNames(names, options.schema === undefined ? "ptycho" : options.schema);
  return snapshotHashOfEntries(names.map((name) => snapshotEntry(canonical.get(name)!, arrays[name]!)));
}

/** Snapshot hash of an `.npz` or `.npy` file: the `datasetSnapshotHash` run identities record. */
export function datasetSnapshotHash(file: string, options: SnapshotOptions = {}): string {
  return snapshotHashOfEntries(datasetSnapshotEntries(file, options));
}

/** The per-array entries {@link datasetSnapshotHash} covers, decoding one array at a time. */
export function datasetSnapshotEntries(file: string, options: SnapshotOptions = {}): SnapshotEntry[] {
  if (detectFormat(file) === "npy") return [snapshotEntry("", loadNpy(file))];
  const npz = openNpz(file);
  try {
    const canonical = canonicalNames(npz.names, options.schema === undefined ? "ptycho" : options.schema);
    return npz.names.map((name) => snapshotEntry(canonical.get(name)!, npz.get(name)));
  } finally {
    npz.close();
  }
}
