/**
 * Random-access reads from a file or an in-memory buffer, with the size known up front, so readers can
 * check every offset and length against it before reading or allocating.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
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
  close(): void;
}

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
    if (this.descriptor === null) throw new DataError(DataErrorCode.Io, `${this.label} was already closed`, { userFacing: false });
    // allocUnsafeSlow: never a slice of Node's shared pool, so views of it start at offset 0 and stay aligned.
    const out = Buffer.allocUnsafeSlow(length);
    let done = 0;
    while (done < length) {
      const chunk = readSync(this.descriptor, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (chunk === 0) throw new DataError(DataErrorCode.Io, `${this.label}: the file ended at byte ${offset + done} while ${offset + length} bytes were expected; it changed while being read`);
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

  close(): void {}
}
