/**
 * Atomic file writes: a reader sees either the old file or the new one, never a torn mix, even when the
 * writer is killed (SIGKILL, power loss) half-way.
 *
 * The recipe: write a temporary file in the *same directory* (rename is only atomic within one file
 * system), fsync it so its bytes are on disk before the name points at it, rename it over the target,
 * then fsync the directory so the rename itself is durable. Temporary names carry the writer's pid so
 * that leftovers of a killed writer can be recognised and swept ({@link sweepStaleTempFiles}).
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { link, open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CoreError, CoreErrorCode } from "../errors.js";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode of a newly created file (default `0o666` before umask). */
  readonly mode?: number;
  /**
   * Create only: fail with `EEXIST` when the target already exists. The temp file is then hard-linked to
   * the target instead of renamed over it, which is just as atomic and never replaces another writer's file.
   */
  readonly exclusive?: boolean;
}

const TEMP_SUFFIX = ".tmp";

/** A fresh temp path next to `target`, named so that {@link sweepStaleTempFiles} recognises it. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
}

// Parses `.<name>.<pid>.<12 hex>.tmp`, the names tempPathFor makes, back into the writer's pid.
function tempFileWriterPid(fileName: string, targetName: string): number | null {
  const prefix = `.${targetName}.`;
  if (!fileName.startsWith(prefix) || !fileName.endsWith(TEMP_SUFFIX)) return null;
  const match = /^(\d+)\.[0-9a-f]{12}$/.exec(fileName.slice(prefix.length, -TEMP_SUFFIX.length));
  return match ? Number(match[1]) : null;
}

/** True when a process with this pid exists on this host (EPERM means it exists but is not ours). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function fsyncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch (error) {
    // Some platforms (Windows) and file systems cannot open or fsync a directory; the rename is still
    // atomic there, only its durability across a power cut is weaker.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EACCES") throw error;
  } finally {
    await handle?.close();
  }
}

function fsyncDirectorySync(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, "r");
    fsyncSync(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EACCES") throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}

/**
 * Writes `data` to `path` atomically (temp file in the same directory, fsync, rename, fsync directory).
 * The directory must exist. On failure the temp file is removed and the target is untouched.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = tempPathFor(path);
  const handle = await open(temp, "wx", options.mode ?? 0o666);
  let placed = false;
  try {
    try {
      await handle.writeFile(toBytes(data));
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.exclusive) {
      await link(temp, path);
      await unlink(temp);
    } else {
      await rename(temp, path);
    }
    placed = true;
    await fsyncDirectory(dirname(path));
  } finally {
    if (!placed) await unlink(temp).catch(() => undefined);
  }
}

/** Synchronous {@link writeFileAtomic}, for exit handlers and other places that cannot await. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const temp = tempPathFor(path);
  const fd = openSync(temp, "wx", options.mode ?? 0o666);
  let placed = false;
  try {
    try {
      const bytes = toBytes(data);
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (options.exclusive) {
      linkSync(temp, path);
      unlinkSync(temp);
    } else {
      renameSync(temp, path);
    }
    placed = true;
    fsyncDirectorySync(dirname(path));
  } finally {
    if (!placed) {
      try {
        unlinkSync(temp);
      } catch {
        // already gone
      }
    }
  }
}

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

/**
 * Removes temp files that a killed writer of `target` left behind (their writer's pid is dead on this
 * host). Call it only while holding the target's lock, so no live writer's temp file can match.
 * Returns the removed paths.
 */
export async function sweepStaleTempFiles(target: string): Promise<string[]> {
  const directory = dirname(target);
  const name = basename(target);
  let entries: string[];
  try {
    entries = await readdir(directory);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const pid = tempFileWriterPid(entry, name);
    if (pid === null || pid === process.pid || isProcessAlive(pid)) continue;
    const path = join(directory, entry);
    await unlink(path).then(
      () => removed.push(path),
      () => undefined,
    );
  }
  return removed;
}
