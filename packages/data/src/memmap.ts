/**
 * Memory-mapped arrays: an `.npy` file or a stored (uncompressed) `.npz` member opened through
 * `@studykit/native`'s `mmapFile`. Opening parses only headers, so it takes the same time whatever the
 * array's size; `rows(start, count)` touches only the pages of that slab. Where the data is aligned for
 * its element type and native-endian, slabs are views of the mapping (no copy); otherwise they are copied.
 *
 * numpy silently ignores `mmap_mode` for `.npz` files; this module maps stored members for real. CRC-32 is
 * not checked (that would read the whole member), as with numpy's memmap.
 *
 * Through a schema (`{ schema: "ptycho", key: "diff3d" }`) an array is found by its canonical key or any
 * alias (legacy `diffraction`), and brought to the same canonical layout `loadDataset` gives, judged by the
 * same header-only schema check, so the rows are the same bytes `loadDataset` would return:
 *
 * - a trailing singleton axis (`(n, H, W, 1)`) is dropped: same bytes, row slabs stay views of the mapping;
 * - the legacy `(H, W, n)` layout is read as `(n, H, W)` through a strided view: each row gathers its H·W
 *   elements `n` apart, so rows are always copies (`zeroCopy` false, `layout` `"legacyTranspose"`) and one
 *   row touches pages across the whole member. It works without loading the array, which is what a reader
 *   of a large legacy file needs; for fast epochs, resave the file in `(n, H, W)`.
 */
import { mmapFile, type MappedFile } from "@studykit/native";
import { parseDescr, scalarByteSize, type Dtype } from "./dtype.js";
import { DataError, DataErrorCode } from "./errors.js";
import { elementCount, type NdArray } from "./ndarray.js";
import { readHeaderFrom } from "./npy.js";
import { openNpz, type NpzFile } from "./npz.js";
import { checkSchema, getSchema, schemaErrorFor, type ArrayDescription, type KeyTransform } from "./schema.js";
import { BufferSource } from "./internal/byte-source.js";
import { decodeElements } from "./internal/npy-decode.js";
import { NPY_MAGIC } from "./internal/npy-header.js";

/** Options for {@link openMemmap}. */
export interface MemmapOptions {
  /** For an `.npz`: the array to map (member name without `.npy`). Required when the archive holds more than one. */
  readonly member?: string;
  /**
   * Schema name (e.g. `"ptycho"`): find `key` through the schema's aliases and map it in its canonical
   * layout, as `loadDataset` loads it. Needs `key`; not with `member`.
   */
  readonly schema?: string;
  /** With `schema`: the canonical key to map (e.g. `"diff3d"`, stored as legacy `diffraction` in old files). */
  readonly key?: string;
  /** Return `f2` rows as raw `Uint16Array` bits. */
  readonly raw?: boolean;
}

/** How the stored array is read: as stored, or legacy `(H, W, n)` read as `(n, H, W)`. */
export type MemmapLayout = "stored" | "legacyTranspose";

/** A read-only, memory-mapped array read in slabs along its first axis. */
export class MemmapArray {
  readonly path: string;
  /** The canonical key when opened through a schema, else the npz member name without `.npy` (`""` for an `.npy`). */
  readonly key: string;
  /** The member name the array is stored under (e.g. `diffraction` for `diff3d`); `""` for an `.npy`. */
  readonly storedKey: string;
  /** `legacyTranspose` when a stored `(H, W, n)` array is read as `(n, H, W)`. */
  readonly layout: MemmapLayout;
  /** numpy descr as stored. */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly complex: boolean;
  /** Number of rows (the first axis; 1 for a 0-d array). */
  readonly length: number;
  /** Shape of one row. */
  readonly rowShape: readonly number[];
  /** True when `rows` returns views of the mapping rather than copies. */
  readonly zeroCopy: boolean;
  private readonly mapped: MappedFile;
  private readonly bytes: Uint8Array;
  private readonly parsed: Dtype;
  private readonly dataOffset: number;
  private readonly rowBytes: number;
  private readonly raw: boolean;

  /**
   * @internal Use {@link openMemmap}. `shape` is the shape rows are read in; with `legacyTranspose` the
   * stored array is `(H, W, n)` for a `shape` of `(n, H, W)`.
   */
  constructor(path: string, key: string, mapped: MappedFile, dtype: Dtype, shape: readonly number[], dataOffset: number, raw: boolean, storedKey: string = key, layout: MemmapLayout = "stored") {
    this.path = path;
    this.key = key;
    this.storedKey = storedKey;
    this.layout = layout;
    this.mapped = mapped;
    this.bytes = new Uint8Array(mapped.buffer);
    this.parsed = dtype;
    this.dtype = dtype.descr;
    this.shape = [...shape];
    this.complex = dtype.kind === "c";
    this.rowShape = shape.slice(1);
    this.length = shape.length === 0 ? 1 : shape[0]!;
    this.rowBytes = elementCount(this.rowShape) * dtype.itemSize;
    this.dataOffset = dataOffset;
    this.raw = raw;
    const scalar = scalarByteSize(dtype);
    const nativeEndian = dtype.byteOrder !== ">" || scalar === 1;
    const plainKind = dtype.kind !== "b" && dtype.kind !== "U" && dtype.kind !== "S" && !(dtype.kind === "f" && dtype.itemSize === 2 && !raw);
    this.zeroCopy = layout === "stored" && nativeEndian && plainKind && dataOffset % scalar === 0;
  }

  private checkRange(start: number, count: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > this.length) {
      throw new DataError(DataErrorCode.Argument, `${this.label()}: rows(${start}, ${count}) is outside 0..${this.length}`);
    }
  }

  private label(): string {
    return this.storedKey ? `${this.path}[${this.storedKey}]` : this.path;
  }

  // Bytes of one row: contiguous as stored, or (legacy) its H·W elements, each `n` elements apart.
  private copyRow(index: number, out: Uint8Array, at: number): void {
    if (this.layout === "stored") {
      const from = this.dataOffset + index * this.rowBytes;
      out.set(this.bytes.subarray(from, from + this.rowBytes), at);
      return;
    }
    const item = this.parsed.itemSize;
    const stride = this.length * item;
    const elements = this.rowBytes / item;
    let from = this.dataOffset + index * item;
    for (let element = 0; element < elements; element++, from += stride, at += item) out.set(this.bytes.subarray(from, from + item), at);
  }

  /** Rows `[start, start + count)` as an array of shape `[count, ...rowShape]`. */
  rows(start: number, count: number): NdArray {
    this.checkRange(start, count);
    if (this.layout !== "stored") return this.gather(Uint32Array.from({ length: count }, (_, offset) => start + offset));
    const from = this.dataOffset + start * this.rowBytes;
    const slab = this.bytes.subarray(from, from + count * this.rowBytes);
    const shape = this.shape.length === 0 ? [] : [count, ...this.rowShape];
    return decodeElements(slab, { dtype: this.parsed, shape, fortranOrder: false }, this.key, this.label(), false, { raw: this.raw });
  }

  /** The rows at `indices` (any order, repeats allowed), copied into one array of shape `[indices.length, ...rowShape]`. */
  gather(indices: ArrayLike<number>): NdArray {
    const out = new Uint8Array(indices.length * this.rowBytes);
    for (let position = 0; position < indices.length; position++) {
      const index = indices[position]!;
      if (!Number.isSafeInteger(index) || index < 0 || index >= this.length) {
        throw new DataError(DataErrorCode.Argument, `${this.label()}: row index ${index} is outside 0..${this.length}`);
      }
      this.copyRow(index, out, position * this.rowBytes);
    }
    return decodeElements(out, { dtype: this.parsed, shape: [indices.length, ...this.rowShape], fortranOrder: false }, this.key, this.label(), true, { raw: this.raw });
  }

  /** Unmaps the file; views returned by `rows` become empty. */
  close(): void {
    this.mapped.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

// Which stored member serves `key` under `schemaName`, and how to read it: the same header-only check as
// loadDataset. Problems of `key`, and of keys sharing a shape symbol with it (they decide its layout, e.g.
// `n` from `xcoords`), refuse the map; the rest of the file is not this array's business.
function resolveSchemaMember(path: string, npz: NpzFile, schemaName: string, key: string): { stored: string; transform: KeyTransform; shape: readonly number[] } {
  const schema = getSchema(schemaName);
  const entry = schema.keys.find((candidate) => candidate.name === key);
  if (!entry) {
    const aliasOf = schema.keys.find((candidate) => candidate.aliases?.includes(key));
    throw new DataError(
      DataErrorCode.Argument,
      `schema '${schema.name}' has no key '${key}'${aliasOf ? `; '${key}' is an alias of '${aliasOf.name}': ask for { key: '${aliasOf.name}' }` : ""} (keys: ${schema.keys.map((candidate) => `'${candidate.name}'`).join(", ")})`,
    );
  }
  const descriptions = new Map<string, ArrayDescription>(npz.names.map((name) => {
    const info = npz.describe(name);
    return [name, { dtype: info.dtype, shape: info.shape }];
  }));
  const check = checkSchema(schema, descriptions);
  const stored = check.sources.get(key);
  if (stored === undefined) {
    const tried = [entry.name, ...(entry.aliases ?? [])].map((name) => `'${name}'`).join(", ");
    throw schemaErrorFor(path, schema, [
      { key, code: DataErrorCode.SchemaMissingKey, message: `no array for key '${key}' (tried ${tried}; it holds: ${npz.names.map((name) => `'${name}'`).join(", ") || "nothing"})` },
    ]);
  }
  const symbols = new Set((entry.shape ?? []).filter((axis): axis is string => typeof axis === "string"));
  const related = new Set([key, ...schema.keys.filter((other) => other.shape?.some((axis) => typeof axis === "string" && symbols.has(axis))).map((other) => other.name)]);
  const problems = check.violations.filter((violation) => related.has(violation.key));
  if (problems.length > 0) throw schemaErrorFor(path, schema, problems);
  return { stored, transform: check.transforms.get(key) ?? { kind: "none" }, shape: check.shapes.get(key) ?? descriptions.get(stored)!.shape };
}

/**
 * Memory-maps an `.npy`, or one stored member of an `.npz`, by member name or (with `schema` and `key`)
 * by canonical key in its canonical layout. Compressed members and Fortran-ordered arrays cannot be
 * mapped row by row (`E_MEMMAP_UNSUPPORTED`); a key absent under every alias is `E_SCHEMA_MISSING_KEY`.
 */
export function openMemmap(path: string, options: MemmapOptions = {}): MemmapArray {
  if (options.schema !== undefined || options.key !== undefined) {
    if (options.schema === undefined || options.key === undefined) {
      throw new DataError(DataErrorCode.Argument, `${path}: give { schema, key } together (e.g. { schema: "ptycho", key: "diff3d" }), or { member } for a stored name`);
    }
    if (options.member !== undefined) throw new DataError(DataErrorCode.Argument, `${path}: give either { member } (a stored name) or { schema, key } (a canonical key), not both`);
    getSchema(options.schema); // an unknown schema fails before the file is mapped
  }
  let mapped: MappedFile;
  try {
    mapped = mmapFile(path);
  } catch (error) {
    throw new DataError(DataErrorCode.Io, `cannot map ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const bytes = new Uint8Array(mapped.buffer);
    const isNpy = bytes.length >= NPY_MAGIC.length && NPY_MAGIC.every((byte, index) => bytes[index] === byte);
    let key = "";
    let start = 0;
    let length = bytes.length;
    let canonical: { key: string; transform: KeyTransform; shape: readonly number[] } | null = null;
    if (isNpy && options.schema !== undefined) {
      throw new DataError(DataErrorCode.Argument, `${path} is an .npy (one unnamed array): a schema key names an array inside an .npz; open it without { schema, key }`);
    }
    if (!isNpy) {
      const npz = openNpz(bytes);
      const names = npz.names.map((name) => `'${name}'`).join(", ");
      if (options.schema !== undefined) {
        const resolved = resolveSchemaMember(path, npz, options.schema, options.key!);
        key = resolved.stored;
        canonical = { key: options.key!, transform: resolved.transform, shape: resolved.shape };
      } else {
        if (options.member === undefined && npz.names.length !== 1) {
          throw new DataError(DataErrorCode.Argument, `${path} holds ${npz.names.length} arrays (${names}); say which to map with { member }, or with { schema, key } by canonical key`);
        }
        key = options.member ?? npz.names[0]!;
        if (!npz.has(key)) throw new DataError(DataErrorCode.NpzMemberMissing, `${path}: no array named '${key}' (it holds: ${names}); to find a canonical key under its aliases, pass { schema, key }`);
      }
      const info = npz.describe(key);
      if (info.compressed) {
        throw new DataError(DataErrorCode.MemmapUnsupported, `${path}[${info.memberName}] is deflate-compressed and cannot be memory-mapped; save it with np.savez (not savez_compressed) or saveNpz without compress, or load it with openNpz`);
      }
      start = info.fileDataOffset! - info.dataOffset;
      length = info.size;
    }
    const label = key ? `${path}[${key}]` : path;
    const header = readHeaderFrom(new BufferSource(bytes, label), start, length, label);
    if (header.fortranOrder && header.shape.length > 1) {
      throw new DataError(DataErrorCode.MemmapUnsupported, `${label} is stored in Fortran order, which cannot be read in row slabs; resave it in C order or load it whole`);
    }
    parseDescr(header.dtype.descr);
    if (canonical) {
      const layout: MemmapLayout = canonical.transform.kind === "legacyTranspose" ? "legacyTranspose" : "stored";
      return new MemmapArray(path, canonical.key, mapped, header.dtype, canonical.shape, start + header.dataOffset, options.raw ?? false, key, layout);
    }
    return new MemmapArray(path, key, mapped, header.dtype, header.shape, start + header.dataOffset, options.raw ?? false);
  } catch (error) {
    mapped.close();
    throw error;
  }
}
