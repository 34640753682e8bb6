/**
 * Large buffers backed by transparent huge pages, and file ranges read into them.
 *
 * Why: a fresh 200 MB ArrayBuffer takes ~50,000 page faults (one per 4 KiB page) when first written,
 * a large share of the cost of reading a file into it. numpy advises huge pages on big arrays; Node's
 * allocators do not. The addon advises `MADV_HUGEPAGE` on new V8 ArrayBuffers of 1 MiB or more before
 * their first write (Linux), so each fault maps 2 MiB; V8 still owns and frees the memory. The fallback
 * uses the same allocation without the advice: same contents, same errors, more faults.
 */
import { readSync } from "node:fs";
import { withRegularFile, withRegularFileSync } from "./internal/regular-file.js";
import { activeBinding } from "./internal/loader.js";
import { IoError, IoErrorCode } from "./errors.js";
import { argumentError, callNative, fromNativeError, ioError } from "./internal/typed-errors.js";

function checkCount(value: unknown, name: string): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw argumentError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
}

function checkRange(path: unknown, offset: unknown, length: unknown): asserts path is string {
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) throw argumentError(`path ${JSON.stringify(path)} is not a valid file path`);
  checkCount(offset, "offset");
  checkCount(length, "length");
}

/** Worded like the addon's error for a range past the end of the file. */
function pastEnd(path: string, offset: number, length: number, size: number): IoError {
  return new IoError(
    IoErrorCode.Other,
    `cannot read bytes ${offset}..${BigInt(offset) + BigInt(length)} of ${path}: the file holds only ${size} bytes; check the offset and length`,
    path,
  );
}

/**
 * `byteLength` zero bytes in a new ArrayBuffer. With the addon, buffers of 1 MiB or more are
 * huge-page-backed memory (Linux), which is much cheaper to fill for the first time.
 */
export function allocateLargeBuffer(byteLength: number): ArrayBuffer {
  checkCount(byteLength, "byteLength");
  const binding = activeBinding();
  return binding ? callNative(() => binding.allocateLargeBuffer(byteLength)) : new ArrayBuffer(byteLength);
}

function readRangeFallback(path: string, offset: number, length: number): ArrayBuffer {
  return withRegularFileSync(path, (descriptor, size) => {
    if (offset + length > size) throw pastEnd(path, offset, length, size);
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const read = readSync(descriptor, bytes, done, Math.min(length - done, 1 << 30), offset + done);
      if (read === 0) throw pastEnd(path, offset, length, offset + done);
      done += read;
    }
    return bytes.buffer;
  });
}

/**
 * Bytes `offset..offset + length` of the file at `path`, in a new ArrayBuffer of exactly `length` bytes
 * (huge-page-backed with the addon, see {@link allocateLargeBuffer}). Fails with `E_IO_NOT_FOUND`,
 * `E_IO_PERMISSION`, `E_IO_IS_DIRECTORY`, or `E_IO` (including a range that runs past the end of the file).
 */
export function readFileRange(path: string, offset: number, length: number): ArrayBuffer {
  checkRange(path, offset, length);
  const binding = activeBinding();
  return binding ? callNative(() => binding.readFileRange(path, offset, length), path) : readRangeFallback(path, offset, length);
}

/** {@link readFileRange} off the main thread (a libuv worker with the addon, `fs/promises` without). */
export async function readFileRangeAsync(path: string, offset: number, length: number): Promise<ArrayBuffer> {
  checkRange(path, offset, length);
  const binding = activeBinding();
  if (binding) {
    try {
      return await binding.readFileRangeAsync(path, offset, length);
    } catch (error) {
      throw fromNativeError(error, path);
    }
  }
  return withRegularFile(path, async (handle, size) => {
    try {
      if (offset + length > size) throw pastEnd(path, offset, length, size);
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(bytes, done, Math.min(length - done, 1 << 30), offset + done);
        if (bytesRead === 0) throw pastEnd(path, offset, length, offset + done);
        done += bytesRead;
      }
      return bytes.buffer;
    } catch (error) {
      if (error instanceof IoError) throw error;
      throw ioError(path, "read", error);
    }
  });
}
