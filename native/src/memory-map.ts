/**
 * `mmapFile`: a whole file as an ArrayBuffer. Native: the buffer *is* the kernel's mapping of the file
 * (no copy, pages loaded on first touch). Fallback: the file read into memory. Either way `close()`
 * detaches the buffer (every view on it becomes length 0) and releases the memory at once.
 */
import { readSync } from "node:fs";
import { withRegularFileSync } from "./internal/regular-file.js";
import { activeBinding } from "./internal/loader.js";
import { argumentError, callNative } from "./internal/typed-errors.js";

/** A mapped (or, in the fallback, loaded) file. */
export interface MappedFile {
  /**
   * The file's bytes. Treat as read-only: the native mapping is private copy-on-write, so a write
   * changes only this process's copy, never the file.
   */
  readonly buffer: ArrayBuffer;
  /** Size of the file when it was mapped. */
  readonly byteLength: number;
  /** Detaches `buffer` and unmaps it now, instead of when it is garbage-collected. Idempotent. */
  close(): void;
}

function readWholeFile(path: string): ArrayBuffer {
  return withRegularFileSync(path, (descriptor, size) => {
    const bytes = new Uint8Array(size);
    let filled = 0;
    while (filled < bytes.length) {
      const read = readSync(descriptor, bytes, filled, bytes.length - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    return filled === bytes.length ? bytes.buffer : bytes.buffer.slice(0, filled);
  });
}

/** Detaches an ArrayBuffer (Node 20 has no `ArrayBuffer.prototype.transfer`; transferring through
 * `structuredClone` detaches the original). */
function detach(buffer: ArrayBuffer): void {
  if (buffer.byteLength > 0) structuredClone(buffer, { transfer: [buffer] });
}

/**
 * Maps the whole file at `path` read-only into memory.
 *
 * The mapping is released by `close()` or, failing that, when the buffer is garbage-collected. Do not
 * map files that another process may truncate while mapped (reading past the new end crashes the
 * process with SIGBUS; an inherent limit of memory mapping). Fails with `E_IO_NOT_FOUND`,
 * `E_IO_PERMISSION`, `E_IO_IS_DIRECTORY` or `E_IO`.
 */
export function mmapFile(path: string): MappedFile {
  if (typeof path !== "string" || path.length === 0) throw argumentError(`path must be a non-empty string, got ${JSON.stringify(path)}`);
  const binding = activeBinding();
  if (binding) {
    const { buffer, handle } = callNative(() => binding.mmapFile(path), path);
    let closed = false;
    return {
      buffer,
      byteLength: buffer.byteLength,
      close() {
        if (closed) return;
        closed = true;
        callNative(() => binding.mmapClose(handle, buffer), path);
      },
    };
  }
  const buffer = readWholeFile(path);
  return {
    buffer,
    byteLength: buffer.byteLength,
    close() {
      detach(buffer);
    },
  };
}
