/**
 * Atomic JSON files: core's JSON layer over `@studykit/native`'s atomic writer.
 *
 * The write primitive (temporary file in the target's directory, fsync, rename or exclusive hard link,
 * fsync of the directory; a reader sees the old file or the complete new one) has one implementation, in
 * `@studykit/native`, shared by every package; it is re-exported here so core's users keep one import.
 * Its failures are `IoError`s naming the target (`E_IO_EXISTS` for an exclusive write onto an existing
 * file, `E_IO_NOT_FOUND` for a missing directory), with the system's code in `systemCode`.
 * What is core's own: {@link formatJson} (pretty JSON that refuses values JSON would drop or mangle) and
 * the JSON writers on top of it.
 */
import { writeFileAtomic, writeFileAtomicSync, type AtomicWriteOptions } from "@studykit/native";
import { CoreError, CoreErrorCode } from "../errors.js";

export { isProcessAlive, sweepStaleTempFiles, writeFileAtomic, writeFileAtomicSync } from "@studykit/native";
export type { AtomicWriteOptions } from "@studykit/native";

/** Serialises `value` as pretty JSON (2-space indent, trailing newline); refuses values JSON drops or mangles. */
export function formatJson(value: unknown): string {
  const text = JSON.stringify(
    value,
    (key, item: unknown) => {
      if (typeof item === "number" && !Number.isFinite(item)) {
        throw new CoreError(CoreErrorCode.JsonInvalid, `cannot write ${String(item)} at key "${key}" as JSON: use null or a string`);
      }
      if (typeof item === "bigint") throw new CoreError(CoreErrorCode.JsonInvalid, `cannot write a bigint at key "${key}" as JSON: convert it to a string`);
      return item;
    },
    2,
  );
  if (text === undefined) throw new CoreError(CoreErrorCode.JsonInvalid, "value has no JSON representation");
  return `${text}\n`;
}

/** Writes `value` as pretty JSON, atomically (see {@link writeFileAtomic}). */
export async function writeJsonAtomic(path: string, value: unknown, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, formatJson(value), options);
}

/** Synchronous {@link writeJsonAtomic}. */
export function writeJsonAtomicSync(path: string, value: unknown, options: AtomicWriteOptions = {}): void {
  writeFileAtomicSync(path, formatJson(value), options);
}
