/**
 * Random-access reads from a file or an in-memory buffer, with the size known up front, so readers can
 * check every offset and length against it before reading or allocating.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { allocateLargeBuffer, mmapFile } from "@studykit/native";
import { DataError, DataErrorCode } from "../errors.js";

/** A readable byte range. */
export interface ByteSource {
  /** Human label for messages (the path, or `<buffer>`). */
  readonly label: string;
  readonly size: number;
  /** True when `read` returns fresh memory the caller may modify (files); false for views of a caller's buffer. */
  readonly ownsReads: boolean;
  /** Exactly `length` bytes from `offset` (the caller has checked the range). */
  read(offset: number, length: number): Uint8Array;
  /**
   * Like `read`, also handing each chunk to `visit` as soon as it arrives, while it is still in cache
   * (the zip reader computes CRC-32 this way instead of making a second pass over memory).
   */
  readVisiting(offset: number, length: number, visit: (chunk: Uint8Array) => void): Uint8Array;
  close(): void;
}

/** Chunk size for reads that visit their data: small enough to be still cached when visited (4 MiB measured best). */
const VISIT_CHUNK = 4 << 20;

/** Reads at least this long get huge-page-backed memory (see `FileSource.readVisiting`). */
const LARGE_READ = 1 << 20;

/** Reads from an open file descriptor. */
export class FileSource implements ByteSource {
  readonly label: string;
  readonly size: number;
  readonly ownsReads = true;
  private descriptor: number | null;

  constructor(path: string) {
    this.label = path;
    try {
      this.descriptor = openSync(path, "r");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (error as Error).message;
      throw new DataError(DataErrorCode.Io, `cannot open ${path}: ${why}`, { cause: error });
    }
    try {
      const stats = fstatSync(this.descriptor);
      if (!stats.isFile()) throw new Error("not a regular file");
      this.size = stats.size;
    } catch (error) {
      closeSync(this.descriptor);
      this.descriptor = null;
      throw new DataError(DataErrorCode.Io, `cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  read(offset: number, length: number): Uint8Array {
    return this.readVisiting(offset, length, null);
  }

  readVisiting(offset: number, length: number, visit: ((chunk: Uint8Array) => void) | null): Uint8Array {
    if (this.descriptor === null) throw new DataError(DataErrorCode.Io, `${this.label} was already closed`, { userFacing: false });
    // Large reads go to huge-page-backed memory (`allocateLargeBuffer`): filling a fresh 200 MB buffer otherwise
    // costs ~50,000 page faults, which made stored npz loads slower than np.load (numpy advises huge pages
    // on big arrays; Node's allocator does not). Small ones use allocUnsafeSlow: never a slice of Node's
    // shared pool. Either way views start at offset 0, so decoded arrays can view the memory aligned.
    const out = length >= LARGE_READ ? new Uint8Array(allocateLargeBuffer(length)) : Buffer.allocUnsafeSlow(length);
    let done = 0;
    const chunkSize = visit ? VISIT_CHUNK : 1 << 30;
    while (done < length) {
      const chunk = readSync(this.descriptor, out, done, Math.min(length - done, chunkSize), offset + done);
      if (chunk === 0) throw new DataError(DataErrorCode.Io, `${this.label}: the file ended at byte ${offset + done} while ${offset + length} bytes were expected; it changed while being read`);
      if (visit) visit(out.subarray(done, done + chunk));
      done += chunk;
    }
    return new Uint8Array(out.buffer, out.byteOffset, length);
  }

  close(): void {
    if (this.descriptor !== null) {
      closeSync(this.descriptor);
      this.descriptor = null;
    }
  }
}

/** Reads from a caller's buffer (views, not copies). */
export class BufferSource implements ByteSource {
  readonly label: string;
  readonly size: number;
  readonly ownsReads = false;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, label = "<buffer>") {
    this.bytes = bytes;
    this.size = bytes.byteLength;
    this.label = label;
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }

  readVisiting(offset: number, length: number, visit: (chunk: Uint8Array) => void): Uint8Array {
    const bytes = this.read(offset, length);
    visit(bytes);
    return bytes;
  }

  close(): void {}
}

/**
 * Reads from a memory map of the file (`@studykit/native`'s `mmapFile`): reads are views of the mapping,
 * so arrays decoded from it share its pages without a copy. The mapping lives until every view is
 * garbage-collected; `close` does not unmap it, since decoded arrays may still point into it.
 */
export class MappedSource implements ByteSource {
  readonly label: string;
  readonly size: number;
  readonly ownsReads = false;
  private readonly bytes: Uint8Array;

  constructor(path: string) {
    this.label = path;
    try {
      const mapped = mmapFile(path);
      this.bytes = new Uint8Array(mapped.buffer);
    } catch (error) {
      throw new DataError(DataErrorCode.Io, `cannot map ${path}: ${(error as Error).message}`, { cause: error });
    }
    this.size = this.bytes.byteLength;
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }

  readVisiting(offset: number, length: number, visit: (chunk: Uint8Array) => void): Uint8Array {
    const bytes = this.read(offset, length);
    for (let done = 0; done < length; done += VISIT_CHUNK) visit(bytes.subarray(done, Math.min(length, done + VISIT_CHUNK)));
    return bytes;
  }

  close(): void {}
}
