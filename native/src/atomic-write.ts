/**
 * Atomic file writes, the one implementation every studykit package uses for files others read (manifests,
 * npy/npz, bundles, bench results): a reader sees the old file or the complete new one, never a torn mix,
 * even when the writer is killed (SIGKILL, power loss) half-way.
 *
 * The recipe: write a temporary file in the target's *own directory* (rename is atomic only within one file
 * system), fsync it so its bytes are on disk before the name points at them, rename it over the target (or,
 * for an exclusive write, hard-link it to the target, which fails instead of replacing), then fsync the
 * directory so the rename itself survives a power cut. Any failure removes the temporary file and leaves the
 * target as it was. Temporary names carry the writer's pid (`.<name>.<pid>.<12 hex>.tmp`), so what a killed
 * writer leaves behind can be recognised and swept ({@link sweepStaleTempFiles}).
 *
 * Three shapes of the same primitive:
 * - {@link writeFileAtomic}: async, for a string or bytes already in memory;
 * - {@link writeFileAtomicSync} / {@link writeChunksAtomicSync}: synchronous (exit handlers, sync writers),
 *   the latter streaming a sequence of chunks without concatenating them;
 * - {@link AtomicFileWriter}: incremental, for writers that need the offset of what they write next (zip).
 *
 * Failures are {@link IoError}s naming the target (never the temporary file), with a stable code
 * (`E_IO_NOT_FOUND` for a missing directory, `E_IO_EXISTS` for an exclusive write onto an existing file,
 * `E_IO_PERMISSION`, `E_IO_IS_DIRECTORY`, else `E_IO`), the system's code in `systemCode` and its error as
 * `cause`.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { link, open, readdir, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { IoError, IoErrorCode, NativeError, NativeErrorCode } from "./errors.js";

/** Options of the atomic writers. */
export interface AtomicWriteOptions {
  /** File mode of a newly created file (default `0o666`, reduced by the umask). */
  readonly mode?: number;
  /**
   * Create only: fail with `E_IO_EXISTS` when the target already exists. The temporary file is then
   * hard-linked to the target instead of renamed over it, just as atomic, and never replaces another
   * writer's file (locks rely on this).
   */
  readonly exclusive?: boolean;
}

const TEMP_SUFFIX = ".tmp";
const DEFAULT_MODE = 0o666;
/** Largest single `write(2)` request; Linux caps one call at about 2 GiB anyway. */
const MAX_WRITE = 1 << 30;

/** A fresh temporary path next to `target`, in the form {@link sweepStaleTempFiles} recognises. */
function temporaryPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
}

// Parses `.<name>.<pid>.<12 hex>.tmp` back into the writer's pid; null for any other name.
function temporaryFileWriterPid(fileName: string, targetName: string): number | null {
  const prefix = `.${targetName}.`;
  if (!fileName.startsWith(prefix) || !fileName.endsWith(TEMP_SUFFIX)) return null;
  const match = /^(\d+)\.[0-9a-f]{12}$/.exec(fileName.slice(prefix.length, -TEMP_SUFFIX.length));
  return match ? Number(match[1]) : null;
}

/** True when a process with this pid exists on this host (`EPERM` means it exists but is not ours). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files that killed writers of `target` left behind (files named like this module's
 * temporary files whose writer's pid is dead on this host). Call it only while holding the target's lock,
 * so that no live writer's file on another host can match. Returns the removed paths.
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
    const pid = temporaryFileWriterPid(entry, name);
    if (pid === null || pid === process.pid || isProcessAlive(pid)) continue;
    const path = join(directory, entry);
    await unlink(path).then(
      () => removed.push(path),
      () => undefined,
    );
  }
  return removed;
}

/** The coded error for a failed atomic write of `target`; `error` is the system error behind it. */
function writeFailure(target: string, error: unknown): unknown {
  if (!(error instanceof Error) || typeof (error as NodeJS.ErrnoException).syscall !== "string") return error;
  const systemCode = (error as NodeJS.ErrnoException).code;
  const options = { cause: error, systemCode };
  const directory = dirname(target);
  switch (systemCode) {
    case "ENOENT":
      return new IoError(IoErrorCode.NotFound, `cannot write ${target}: the directory ${directory} does not exist; create it first`, target, options);
    case "EEXIST":
      return new IoError(IoErrorCode.Exists, `cannot create ${target}: it already exists; remove it first or write without \`exclusive\``, target, options);
    case "EACCES":
    case "EPERM":
      return new IoError(IoErrorCode.Permission, `cannot write ${target}: permission denied in ${directory}; make it writable or choose another path`, target, options);
    case "EISDIR":
    case "ENOTEMPTY":
      return new IoError(IoErrorCode.IsDirectory, `cannot write ${target}: it is a directory; remove it or choose another path`, target, options);
    default:
      return new IoError(
        IoErrorCode.Other,
        `cannot write ${target}: ${error.message} [${systemCode ?? "unknown"}]; nothing was written (check free space and permissions)`,
        target,
        options,
      );
  }
}

// Some platforms (Windows) and file systems cannot open or fsync a directory; the rename is atomic there
// all the same, only its durability across a power cut is weaker.
const DIRECTORY_SYNC_UNSUPPORTED = new Set(["EISDIR", "EPERM", "EINVAL", "EACCES", "ENOTSUP"]);

function directorySyncUnsupported(error: unknown): boolean {
  return DIRECTORY_SYNC_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? "");
}

async function fsyncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch (error) {
    if (!directorySyncUnsupported(error)) throw error;
  } finally {
    await handle?.close();
  }
}

function fsyncDirectorySync(directory: string): void {
  let descriptor: number | undefined;
  try {
    descriptor = openSync(directory, "r");
    fsyncSync(descriptor);
  } catch (error) {
    if (!directorySyncUnsupported(error)) throw error;
  } finally {
    if (descriptor !== undefined) closeSync(descriptor);
  }
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}

function removeQuietlySync(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never created, or already gone
  }
}

/**
 * An atomic write in progress, synchronous: `write` appends, `commit` publishes the file under its name,
 * `abort` drops it. Until `commit` returns, the target is untouched. A failed `write` or `commit` aborts
 * by itself; `abort` is safe to call more than once, and after `commit`.
 */
export class AtomicFileWriter {
  /** The target path. */
  readonly path: string;
  private readonly temporaryPath: string;
  private readonly exclusive: boolean;
  private descriptor: number | null;
  private written = 0;

  /** Creates the temporary file next to `path` (whose directory must exist). */
  constructor(path: string, options: AtomicWriteOptions = {}) {
    this.path = path;
    this.exclusive = options.exclusive ?? false;
    this.temporaryPath = temporaryPathFor(path);
    try {
      this.descriptor = openSync(this.temporaryPath, "wx", options.mode ?? DEFAULT_MODE);
    } catch (error) {
      throw writeFailure(path, error);
    }
  }

  /** Bytes written so far: the file offset the next `write` starts at. */
  get position(): number {
    return this.written;
  }

  /** Appends `bytes`. */
  write(bytes: Uint8Array): void {
    const descriptor = this.openDescriptor();
    let offset = 0;
    try {
      while (offset < bytes.byteLength) {
        offset += writeSync(descriptor, bytes, offset, Math.min(bytes.byteLength - offset, MAX_WRITE), this.written + offset);
      }
    } catch (error) {
      this.abort();
      throw writeFailure(this.path, error);
    }
    this.written += bytes.byteLength;
  }

  /** Flushes the bytes to disk and puts the file under its name (replacing it, unless exclusive). */
  commit(): void {
    const descriptor = this.openDescriptor();
    try {
      fsyncSync(descriptor);
      this.descriptor = null;
      closeSync(descriptor);
      if (this.exclusive) {
        linkSync(this.temporaryPath, this.path);
        unlinkSync(this.temporaryPath);
      } else {
        renameSync(this.temporaryPath, this.path);
      }
    } catch (error) {
      this.abort();
      throw writeFailure(this.path, error);
    }
    try {
      fsyncDirectorySync(dirname(this.path));
    } catch (error) {
      // The file is in place and complete; only the durability of its name is in doubt.
      throw writeFailure(this.path, error);
    }
  }

  /** Closes and deletes the temporary file; the target stays as it was. */
  abort(): void {
    if (this.descriptor !== null) {
      try {
        closeSync(this.descriptor);
      } catch {
        // already closed
      }
      this.descriptor = null;
    }
    removeQuietlySync(this.temporaryPath);
  }

  private openDescriptor(): number {
    if (this.descriptor === null) {
      throw new NativeError(NativeErrorCode.Argument, `cannot write ${this.path}: its atomic writer was already committed or aborted`, { userFacing: false });
    }
    return this.descriptor;
  }
}

/**
 * Writes `chunks` to `path` atomically, one after the other, without concatenating them. If the iteration
 * throws half-way, the temporary file is removed, the target is untouched and the error is rethrown.
 */
export function writeChunksAtomicSync(path: string, chunks: Iterable<Uint8Array>, options: AtomicWriteOptions = {}): void {
  const writer = new AtomicFileWriter(path, options);
  try {
    for (const chunk of chunks) writer.write(chunk);
    writer.commit();
  } catch (error) {
    writer.abort();
    throw error;
  }
}

/** Synchronous {@link writeFileAtomic}, for exit handlers and other places that cannot await. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  writeChunksAtomicSync(path, [toBytes(data)], options);
}

/**
 * Writes `data` (a string is written as UTF-8) to `path` atomically. The directory must exist. On failure
 * the temporary file is removed and the target is untouched.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const temporaryPath = temporaryPathFor(path);
  let handle: FileHandle;
  try {
    handle = await open(temporaryPath, "wx", options.mode ?? DEFAULT_MODE);
  } catch (error) {
    throw writeFailure(path, error);
  }
  let placed = false;
  try {
    try {
      await handle.writeFile(toBytes(data));
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.exclusive) {
      await link(temporaryPath, path);
      await unlink(temporaryPath);
    } else {
      await rename(temporaryPath, path);
    }
    placed = true;
    await fsyncDirectory(dirname(path));
  } catch (error) {
    throw writeFailure(path, error);
  } finally {
    if (!placed) await unlink(temporaryPath).catch(() => undefined);
  }
}
