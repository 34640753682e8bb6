/**
 * Synchronous reads of a regular file for the pure-TypeScript fallbacks, with the same typed errors as the
 * addon: open failures, directories and read failures become `IoError`s naming the path.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
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
