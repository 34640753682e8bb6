/**
 * Reads of a regular file for the pure-TypeScript fallbacks, with the same typed errors as the addon: open
 * failures, directories and read failures become `IoError`s naming the path.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { IoError } from "../errors.js";
import { ioError, isDirectoryError } from "./typed-errors.js";

/** Opens `path` read-only, checks it is not a directory, runs `use(descriptor, size)`, and always closes it. */
export function withRegularFileSync<T>(path: string, use: (descriptor: number, size: number) => T): T {
  let descriptor: number;
  try {
    descriptor = openSync(path, "r");
  } catch (error) {
    throw ioError(path, "open", error);
  }
  try {
    const stat = fstatSync(descriptor);
    if (stat.isDirectory()) throw isDirectoryError(path);
    return use(descriptor, stat.size);
  } catch (error) {
    if (error instanceof IoError) throw error;
    throw ioError(path, "read", error);
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Opens `path` read-only, checks it is not a directory, runs `use(handle, size)`, and always closes it.
 * Errors thrown by `use` pass through unchanged: the callers wrap their own reads.
 */
export async function withRegularFile<T>(path: string, use: (handle: FileHandle, size: number) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw ioError(path, "open", error);
  }
  try {
    let size: number;
    try {
      const stat = await handle.stat();
      if (stat.isDirectory()) throw isDirectoryError(path);
      size = stat.size;
    } catch (error) {
      if (error instanceof IoError) throw error;
      throw ioError(path, "read", error);
    }
    return await use(handle, size);
  } finally {
    await handle.close();
  }
}
