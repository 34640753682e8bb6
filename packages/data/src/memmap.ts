/**
 * Memory-mapped arrays: an `.npy` file or a stored (uncompressed) `.npz` member opened through
 * `@studykit/native`'s `mmapFile`. Opening parses only headers, so it takes the same time whatever the
 * array's size; `rows(start, count)` touches only the pages of that slab. Where the data is aligned for
 * its element type and native-endian, slabs are views of the mapping (no copy); otherwise they are copied.
 *
 * numpy silently ignores `mmap_mode` for `.npz` files; this module maps stored members for real. CRC-32 is
 * not checked (that would read the whole member), as with numpy's memmap.
 */
import { mmapFile, type MappedFile } from "@studykit/native";
import { parseDescr, scalarByteSize, type Dtype } from "./dtype.js";
import { DataError, DataErrorCode } from "./errors.js";
import { elementCount, type NdArray } from "./ndarray.js";
import { readHeaderFrom } from "./npy.js";
import { openNpz } from "./npz.js";
import { BufferSource } from "./internal/byte-source.js";
import { decodeElements } from "./internal/npy-decode.js";
import { NPY_MAGIC } from "./internal/npy-header.js";

/** Options for {@link openMemmap}. */
export interface MemmapOptions {
  /** For an `.npz`: the array to map (member name without `.npy`). Required when the archive holds more than one. */
  readonly member?: string;
  /** Return `f2` rows as raw `Uint16Array` bits. */
  readonly raw?: boolean;
}

/** A read-only, memory-mapped array read in slabs along its first axis. */
export class MemmapArray {
  readonly path: string;
  /** npz member name without `.npy`, or `""` for an `.npy`. */
  readonly key: string;
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

  /** @internal Use {@link openMemmap}. */
  constructor(path: string, key: string, mapped: MappedFile, dtype: Dtype, shape: readonly number[], dataOffset: number, raw: boolean) {
    this.path = path;
    this.key = key;
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
    this.zeroCopy = nativeEndian && plainKind && dataOffset % scalar === 0;
  }

  private checkRange(start: number, count: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > this.length) {
      throw new DataError(DataErrorCode.Argument, `${this.label()}: rows(${start}, ${count}) is outside 0..${this.length}`);
    }
  }

  private label(): string {
    return this.key ? `${this.path}[${this.key}]` : this.path;
  }

  /** Rows `[start, start + count)` as an array of shape `[count, ...rowShape]`. */
  rows(start: number, count: number): NdArray {
    this.checkRange(start, count);
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
      const from = this.dataOffset + index * this.rowBytes;
      out.set(this.bytes.subarray(from, from + this.rowBytes), position * this.rowBytes);
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

/**
 * Memory-maps an `.npy`, or one stored member of an `.npz`. Compressed members and Fortran-ordered
 * arrays cannot be mapped row by row (`E_MEMMAP_UNSUPPORTED`).
 */
export function openMemmap(path: string, options: MemmapOptions = {}): MemmapArray {
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
    if (!isNpy) {
      const npz = openNpz(bytes);
      const names = npz.names.map((name) => `'${name}'`).join(", ");
      if (options.member === undefined && npz.names.length !== 1) {
        throw new DataError(DataErrorCode.Argument, `${path} holds ${npz.names.length} arrays (${names}); say which to map with { member }`);
      }
      key = options.member ?? npz.names[0]!;
      if (!npz.has(key)) throw new DataError(DataErrorCode.NpzMemberMissing, `${path}: no array named '${key}' (it holds: ${names})`);
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
    return new MemmapArray(path, key, mapped, header.dtype, header.shape, start + header.dataOffset, options.raw ?? false);
  } catch (error) {
    mapped.close();
    throw error;
  }
}
