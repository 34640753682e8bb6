/**
 * Atomic file writing: data goes to a temporary file in the destination's directory, is fsynced, and is
 * renamed over the destination, so readers see either the old file or the complete new one, never a torn
 * one. A failed write removes its temporary file.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { DataError, DataErrorCode } from "../errors.js";

/** A file being written; call `commit()` to publish it or `abort()` to drop it. */
export class AtomicFile {
  readonly path: string;
  private readonly temporaryPath: string;
  private descriptor: number | null;
  /** Bytes written so far (the offset of the next write). */
  position = 0;

  constructor(path: string) {
    this.path = path;
    this.temporaryPath = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      this.descriptor = openSync(this.temporaryPath, "wx", 0o644);
    } catch (error) {
      throw new DataError(DataErrorCode.Io, `cannot write ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Appends `bytes`. */
  write(bytes: Uint8Array): void {
    if (this.descriptor === null) throw new DataError(DataErrorCode.Io, `write to ${this.path} after it was closed`, { userFacing: false });
    let offset = 0;
    try {
      while (offset < bytes.byteLength) {
        offset += writeSync(this.descriptor, bytes, offset, Math.min(bytes.byteLength - offset, 1 << 30), this.position + offset);
      }
    } catch (error) {
      this.abort();
      throw new DataError(DataErrorCode.Io, `cannot write ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    this.position += bytes.byteLength;
  }

  /** Flushes to disk and renames over the destination. */
  commit(): void {
    if (this.descriptor === null) return;
    try {
      fsyncSync(this.descriptor);
      closeSync(this.descriptor);
      this.descriptor = null;
      renameSync(this.temporaryPath, this.path);
    } catch (error) {
      this.abort();
      throw new DataError(DataErrorCode.Io, `cannot write ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      // Make the rename itself durable; not every platform lets a directory be opened, which is harmless.
      const directory = openSync(dirname(this.path), "r");
      try {
        fsyncSync(directory);
      } finally {
        closeSync(directory);
      }
    } catch {
      /* directory fsync unsupported here */
    }
  }

  /** Closes and deletes the temporary file (safe to call more than once). */
  abort(): void {
    if (this.descriptor !== null) {
      try {
        closeSync(this.descriptor);
      } catch {
        /* already closed */
      }
      this.descriptor = null;
    }
    try {
      unlinkSync(this.temporaryPath);
    } catch {
      /* never created or already gone */
    }
  }
}

/** Writes `chunks` to `path` atomically. */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const file = new AtomicFile(path);
  try {
    for (const chunk of chunks) file.write(chunk);
    file.commit();
  } catch (error) {
    file.abort();
    throw error;
  }
}
