/**
 * Reading and writing `.npz` archives (numpy's `savez` / `savez_compressed`).
 *
 * Opening reads only the zip's end records and central directory; each array is decoded when asked for
 * (`npz.get(name)`), with its CRC-32 checked. Member names are exposed as numpy's `NpzFile.files` does:
 * without the `.npy` suffix.
 */
import { DataError, DataErrorCode, ZipError } from "./errors.js";
import type { NdArray, WritableArray } from "./ndarray.js";
import { readHeaderFrom, toInfo, type NpyInfo, type ReadOptions } from "./npy.js";
import { BufferSource, FileSource, MappedSource, type ByteSource } from "./internal/byte-source.js";
import { decodeElements } from "./internal/npy-decode.js";
import { encodeArray } from "./internal/npy-encode.js";
import { NPY_PREFIX_LENGTH, parseNpyHeader, readPreambleLength } from "./internal/npy-header.js";
import { checkEntry, isCompressed, memberDataOffset, readCentralDirectory, readMember, readMemberPrefix, type ZipEntry } from "./internal/zip-reader.js";
import { writeZip } from "./internal/zip-writer.js";

const NPY_SUFFIX = ".npy";

/** What the archive says about one array, read without decoding its data. */
export interface NpzMemberInfo extends NpyInfo {
  /** Array name (member name without `.npy`). */
  readonly name: string;
  /** Member name inside the zip, e.g. `diff3d.npy`. */
  readonly memberName: string;
  readonly compressed: boolean;
  readonly compressedSize: number;
  /** Uncompressed size of the whole `.npy` member. */
  readonly size: number;
  /** Absolute file offset of the first data byte, for stored members (else `null`). */
  readonly fileDataOffset: number | null;
}

/** An open `.npz`. Close it when done (or use `loadNpz`). */
export class NpzFile {
  /** The path, or `<buffer>`. */
  readonly path: string;
  /** Array names in archive order, without `.npy`. */
  readonly names: readonly string[];
  /** The same as `names` (numpy's `NpzFile.files`). */
  get files(): readonly string[] {
    return this.names;
  }
  private readonly source: ByteSource;
  private readonly entries: Map<string, ZipEntry>;
  private readonly directoryOffset: number;
  private readonly dataOffsets = new Map<string, number>();
  private readonly options: ReadOptions;

  /** @internal Use {@link openNpz}. */
  constructor(source: ByteSource, options: ReadOptions) {
    this.source = source;
    this.path = source.label;
    this.options = options;
    const { entries, directoryOffset } = readCentralDirectory(source);
    this.directoryOffset = directoryOffset;
    this.entries = new Map();
    const seen = new Set<string>();
    for (const entry of entries) {
      if (seen.has(entry.name)) throw new ZipError(DataErrorCode.ZipDuplicate, `${source.label}: the archive holds two members named '${entry.name}'; refusing an ambiguous file`);
      seen.add(entry.name);
      const name = entry.name.endsWith(NPY_SUFFIX) ? entry.name.slice(0, -NPY_SUFFIX.length) : entry.name;
      if (this.entries.has(name)) throw new ZipError(DataErrorCode.ZipDuplicate, `${source.label}: members '${this.entries.get(name)!.name}' and '${entry.name}' both give array '${name}'; refusing an ambiguous file`);
      this.entries.set(name, entry);
    }
    this.names = [...this.entries.keys()];
  }

  /** True when the archive holds an array called `name`. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  private entry(name: string): ZipEntry {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new DataError(DataErrorCode.NpzMemberMissing, `${this.path}: no array named '${name}' (it holds: ${this.names.map((n) => `'${n}'`).join(", ") || "nothing"})`);
    }
    return entry;
  }

  private dataOffset(entry: ZipEntry): number {
    let offset = this.dataOffsets.get(entry.name);
    if (offset === undefined) {
      offset = memberDataOffset(this.source, entry, this.directoryOffset);
      this.dataOffsets.set(entry.name, offset);
    }
    return offset;
  }

  private label(entry: ZipEntry): string {
    return `${this.path}[${entry.name}]`;
  }

  /** dtype, shape and layout of one array, read from its header only (for deflate members, a small prefix is inflated). */
  describe(name: string): NpzMemberInfo {
    const entry = this.entry(name);
    const offset = this.dataOffset(entry);
    const label = this.label(entry);
    const maxBytes = this.options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    checkEntry(this.source, entry, maxBytes);
    let info: NpyInfo;
    if (!isCompressed(entry)) info = toInfo(readHeaderFrom(this.source, offset, entry.uncompressedSize, label, this.options.maxBytes));
    else {
      const prefix = readMemberPrefix(this.source, entry, offset, NPY_PREFIX_LENGTH, maxBytes);
      const { dataOffset } = readPreambleLength(prefix, entry.uncompressedSize, label);
      const headerBytes = readMemberPrefix(this.source, entry, offset, dataOffset, maxBytes);
      info = toInfo(parseNpyHeader(headerBytes, entry.uncompressedSize, label, this.options.maxBytes));
    }
    return {
      ...info,
      name,
      memberName: entry.name,
      compressed: isCompressed(entry),
      compressedSize: entry.compressedSize,
      size: entry.uncompressedSize,
      fileDataOffset: isCompressed(entry) ? null : offset + info.dataOffset,
    };
  }

  /** Decodes one array (CRC-32 checked). */
  get(name: string, options: ReadOptions = {}): NdArray {
    const entry = this.entry(name);
    const merged = { ...this.options, ...options };
    const label = this.label(entry);
    const { bytes, owned } = readMember(this.source, entry, this.dataOffset(entry), merged.maxBytes ?? Number.MAX_SAFE_INTEGER);
    const header = readHeaderFrom(new BufferSource(bytes, label), 0, bytes.byteLength, label, merged.maxBytes);
    return decodeElements(bytes.subarray(header.dataOffset, header.dataOffset + header.dataByteLength), header, name, label, owned, merged);
  }

  /** Decodes every array, in archive order. */
  getAll(options: ReadOptions = {}): Record<string, NdArray> {
    const out: Record<string, NdArray> = {};
    for (const name of this.names) out[name] = this.get(name, options);
    return out;
  }

  /** Releases the file. */
  close(): void {
    this.source.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Opens an `.npz` (a path, or the archive's bytes) reading only its directory. */
export function openNpz(file: string | Uint8Array, options: ReadOptions = {}): NpzFile {
  const source = typeof file === "string" ? (options.mmap ? new MappedSource(file) : new FileSource(file)) : new BufferSource(file);
  try {
    return new NpzFile(source, options);
  } catch (error) {
    source.close();
    throw error;
  }
}

/** Reads every array of an `.npz`. */
export function loadNpz(file: string | Uint8Array, options: ReadOptions = {}): Record<string, NdArray> {
  const npz = openNpz(file, options);
  try {
    return npz.getAll();
  } finally {
    npz.close();
  }
}

/** Options for {@link saveNpz}. */
export interface SaveNpzOptions {
  /** Deflate members like `np.savez_compressed` (default: stored, like `np.savez`, with 64-byte aligned data). */
  readonly compress?: boolean;
  /** zlib level for compressed members (default 6, as Python's zipfile). */
  readonly level?: number;
}

/** Writes arrays to an `.npz` that `np.load` reads back bit-exactly, atomically. */
export function saveNpz(path: string, arrays: Readonly<Record<string, WritableArray>> | ReadonlyMap<string, WritableArray>, options: SaveNpzOptions = {}): void {
  const entries = arrays instanceof Map ? [...arrays.entries()] : Object.entries(arrays as Record<string, WritableArray>);
  const members = entries.map(([name, array]) => {
    if (name.length === 0 || name.includes("\0")) throw new DataError(DataErrorCode.Argument, `${path}: array name ${JSON.stringify(name)} is not usable as a member name`);
    const encoded = encodeArray(array, `${path}[${name}]`);
    return { name: `${name}${NPY_SUFFIX}`, chunks: [encoded.preamble, encoded.body] };
  });
  writeZip(path, members, { compress: options.compress ?? false, ...(options.level === undefined ? {} : { level: options.level }) });
}
