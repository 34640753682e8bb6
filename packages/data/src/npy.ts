/**
 * Reading and writing `.npy` files (numpy format versions 1.0, 2.0 and 3.0).
 *
 * The header is parsed by a strict literal parser (never evaluated); the declared size is checked against
 * the bytes present before anything is allocated; object arrays are refused without unpickling.
 */
import { writeChunksAtomicSync } from "@studykit/native";
import type { NdArray, WritableArray } from "./ndarray.js";
import { BufferSource, FileSource, MappedSource, type ByteSource } from "./internal/byte-source.js";
import { decodeElements, type DecodeOptions } from "./internal/npy-decode.js";
import { encodeArray } from "./internal/npy-encode.js";
import { NPY_MAGIC, NPY_PREFIX_LENGTH, parseNpyHeader, readPreambleLength, type NpyHeader } from "./internal/npy-header.js";

/** Options for every reader. */
export interface ReadOptions extends DecodeOptions {
  /** Refuse arrays whose data exceeds this many bytes (`E_NPY_SIZE` / `E_ZIP_SIZE`). Default: no limit beyond memory. */
  readonly maxBytes?: number;
  /**
   * Read files through a memory map instead of `read` calls: aligned native-endian arrays become views of
   * the mapping (no copy; CRC-32 is still checked). Faster for large stored arrays, but another process
   * truncating the file in place while the arrays are alive crashes this one (SIGBUS), so it is opt-in.
   */
  readonly mmap?: boolean;
}

/** What an `.npy` header declares, without the data. */
export interface NpyInfo {
  /** numpy descr as stored, e.g. `>f8`. */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly fortranOrder: boolean;
  /** Format version, e.g. `[1, 0]`. */
  readonly version: readonly [number, number];
  /** Offset of the first data byte within the `.npy`. */
  readonly dataOffset: number;
  readonly dataByteLength: number;
}

/** @internal Reads and validates the header of the `.npy` that occupies `[start, start + length)` of `source`. */
export function readHeaderFrom(source: ByteSource, start: number, length: number, label: string, maxBytes?: number): NpyHeader {
  const prefix = source.read(start, Math.min(length, NPY_PREFIX_LENGTH));
  const { dataOffset } = readPreambleLength(prefix, length, label);
  return parseNpyHeader(source.read(start, dataOffset), length, label, maxBytes);
}

export function toInfo(header: NpyHeader): NpyInfo {
  return { dtype: header.dtype.descr, shape: header.shape, fortranOrder: header.fortranOrder, version: header.version, dataOffset: header.dataOffset, dataByteLength: header.dataByteLength };
}

/** Decodes a whole `.npy` held in memory. Numeric data may be a view of `bytes` (no copy) when aligned and native-endian. */
export function parseNpy(bytes: Uint8Array, options: ReadOptions = {}): NdArray {
  const source = new BufferSource(bytes);
  const header = readHeaderFrom(source, 0, bytes.byteLength, "<buffer>", options.maxBytes);
  return decodeElements(bytes.subarray(header.dataOffset, header.dataOffset + header.dataByteLength), header, "", "<buffer>", false, options);
}

/** Reads an `.npy` file. */
export function loadNpy(path: string, options: ReadOptions = {}): NdArray {
  const source = options.mmap ? new MappedSource(path) : new FileSource(path);
  try {
    const header = readHeaderFrom(source, 0, source.size, path, options.maxBytes);
    const data = source.read(header.dataOffset, header.dataByteLength);
    return decodeElements(data, header, "", path, source.ownsReads, options);
  } finally {
    source.close();
  }
}

/**
 * Says whether a file is an `.npy` or an `.npz` from its first bytes (numpy's magic, or a zip's `PK`),
 * falling back to the extension for files that are neither (so the matching reader reports the damage).
 */
export function detectFormat(path: string): "npy" | "npz" {
  const source = new FileSource(path);
  try {
    const head = source.read(0, Math.min(source.size, NPY_MAGIC.length));
    if (head.length === NPY_MAGIC.length && head.every((byte, index) => byte === NPY_MAGIC[index])) return "npy";
    if (head[0] === 0x50 && head[1] === 0x4b) return "npz";
  } finally {
    source.close();
  }
  return path.toLowerCase().endsWith(".npy") ? "npy" : "npz";
}

/** Reads only the header of an `.npy` file (dtype, shape, order, where the data starts). */
export function readNpyInfo(path: string): NpyInfo {
  const source = new FileSource(path);
  try {
    return toInfo(readHeaderFrom(source, 0, source.size, path));
  } finally {
    source.close();
  }
}

/** The `.npy` bytes numpy's `np.save` would write for `array` (preamble padded to 64 bytes). */
export function encodeNpy(array: WritableArray): Buffer {
  const encoded = encodeArray(array, "array");
  return Buffer.concat([encoded.preamble, encoded.body]);
}

/** Writes `array` to `path` as an `.npy`, atomically (temporary file, fsync, rename). */
export function saveNpy(path: string, array: WritableArray): void {
  const encoded = encodeArray(array, path);
  writeChunksAtomicSync(path, [encoded.preamble, encoded.body]);
}

