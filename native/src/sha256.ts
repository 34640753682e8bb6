/**
 * SHA-256: of bytes in memory (`sha256`, `sha256Bytes`), streaming (`Sha256`), and of files
 * (`sha256File`, `sha256FileSync`, `sha256Files`).
 *
 * Native path: files are read with `pread` and hashed in Rust on libuv worker threads; no file bytes pass
 * through JS. `sha256File` runs in slices of {@link PROGRESS_SLICE_BYTES}: each slice is one worker job,
 * and between slices the main thread reports progress and queues the next one, so the main thread only
 * spends microseconds per slice. Cancellation sets a flag the worker checks between chunks.
 * `sha256Files` hashes files on its own Rust threads (one job for the whole list), so it never fills
 * libuv's shared pool. Every file is read ahead on a helper thread while the previous chunk hashes.
 * Fallback path: `node:crypto` (with `fs.promises` reads for files), same results and errors.
 */
import { createHash, type Hash } from "node:crypto";
import { readSync } from "node:fs";
import { availableParallelism } from "node:os";
import { CancelledError, type IoError, NativeError, NativeErrorCode } from "./errors.js";
import type { NativeBinding, NativeHandle } from "./internal/binding.js";
import { withRegularFile, withRegularFileSync } from "./internal/regular-file.js";
import { activeBinding, withBinding } from "./internal/loader.js";
import { fallbackSha256, fallbackSha256Hex } from "./internal/fallback.js";
import { argumentError, callNative, fromNativeError, ioError } from "./internal/typed-errors.js";

/** Bytes accepted by the hashing functions. */
export type BytesLike = ArrayBufferView | ArrayBuffer;

/** Default read size: 1 MiB. */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Smallest read size accepted: 64 KiB. */
export const MIN_CHUNK_SIZE = 64 * 1024;
/** Largest read size accepted: 256 MiB. */
export const MAX_CHUNK_SIZE = 256 * 1024 * 1024;
/** Bytes hashed between two progress reports (about 20 ms at SHA-NI speed). */
export const PROGRESS_SLICE_BYTES = 32 * 1024 * 1024;

function asBytes(data: BytesLike): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function assertBytes(data: unknown): asserts data is BytesLike {
  if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
    const shown = data === null ? "null" : Array.isArray(data) ? "an array" : typeof data;
    throw argumentError(`expected a Buffer, TypedArray, DataView or ArrayBuffer, got ${shown}`);
  }
}

/** SHA-256 digest (32 bytes) of `data`. */
export function sha256Bytes(data: BytesLike): Buffer {
  assertBytes(data);
  const binding = activeBinding();
  return binding ? callNative(() => binding.sha256(data)) : fallbackSha256(data);
}

/** SHA-256 of `data` as lower-case hex. */
export function sha256(data: BytesLike): string {
  assertBytes(data);
  const binding = activeBinding();
  return binding ? callNative(() => binding.sha256Hex(data)) : fallbackSha256Hex(data);
}

function finalizedError(): NativeError {
  return new NativeError(NativeErrorCode.HashFinalized, "this Sha256 was already digested; create a new one (or copy() before digest())");
}

/**
 * Streaming SHA-256: `update()` any number of times, then `digest()` once.
 *
 * ```ts
 * const hash = new Sha256().update(header).update(body).digest("hex");
 * ```
 */
export class Sha256 {
  readonly #binding: NativeBinding | null;
  #native: NativeHandle | null = null;
  #fallback: Hash | null = null;
  #digested = false;

  constructor() {
    this.#binding = activeBinding();
    if (this.#binding) this.#native = this.#binding.hasherCreate();
    else this.#fallback = createHash("sha256");
  }

  /** Absorbs `data` (any TypedArray, DataView, Buffer or ArrayBuffer). Returns `this` for chaining. */
  update(data: BytesLike): this {
    assertBytes(data);
    if (this.#digested) throw finalizedError();
    if (this.#binding) this.#binding.hasherUpdate(this.#native!, data);
    else this.#fallback!.update(asBytes(data));
    return this;
  }

  /** An independent hasher with the same state (to hash several continuations of a common prefix). */
  copy(): Sha256 {
    if (this.#digested) throw finalizedError();
    const copy = withBinding(this.#binding, () => new Sha256());
    if (this.#binding) copy.#native = this.#binding.hasherCopy(this.#native!);
    else copy.#fallback = this.#fallback!.copy();
    return copy;
  }

  /** Finishes: the 32-byte digest, or its lower-case hex with `"hex"`. The hasher cannot be reused. */
  digest(): Buffer;
  digest(encoding: "hex"): string;
  digest(encoding?: "hex"): Buffer | string {
    if (this.#digested) throw finalizedError();
    this.#digested = true;
    const digest = this.#binding ? callNative(() => this.#binding!.hasherDigest(this.#native!)) : this.#fallback!.digest();
    this.#native = null;
    return encoding === "hex" ? digest.toString("hex") : digest;
  }
}

/** A file's SHA-256. */
export interface FileDigest {
  /** The path as given. */
  readonly path: string;
  /** Bytes hashed (the file's size). */
  readonly bytes: number;
  /** Lower-case hex SHA-256. */
  readonly sha256: string;
}

/** Progress of {@link sha256File}. */
export interface HashProgress {
  readonly path: string;
  readonly bytesHashed: number;
  /** The file's size when it was opened. */
  readonly totalBytes: number;
}

/** Options of {@link sha256File}. */
export interface Sha256FileOptions {
  /** Bytes per read, 64 KiB to 256 MiB (default 1 MiB). */
  readonly chunkSize?: number;
  /** Called on the main thread about every 32 MiB, and once at the end. */
  readonly onProgress?: (progress: HashProgress) => void;
  /** Aborting rejects with {@link CancelledError} (`code` `E_CANCELLED`, `name` `AbortError`). */
  readonly signal?: AbortSignal;
}

function checkChunkSize(chunkSize: number | undefined): number {
  const value = chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(value) || value < MIN_CHUNK_SIZE || value > MAX_CHUNK_SIZE) {
    throw argumentError(`chunkSize ${String(chunkSize)} is out of range; use ${MIN_CHUNK_SIZE} (64 KiB) to ${MAX_CHUNK_SIZE} (256 MiB) bytes`);
  }
  return value;
}

function checkPath(path: unknown): asserts path is string {
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
    throw argumentError(`path ${JSON.stringify(path)} is not a valid file path`);
  }
}

function cancelled(path: string, signal: AbortSignal): CancelledError {
  return new CancelledError(`hashing ${path} was cancelled`, { cause: signal.reason });
}

/**
 * SHA-256 of the file at `path`, read and hashed off the main thread.
 *
 * Rejects with an `IoError` (`E_IO_NOT_FOUND`, `E_IO_PERMISSION`, `E_IO_IS_DIRECTORY`, `E_IO`) naming
 * the path, or a {@link CancelledError} when `signal` aborts.
 */
export async function sha256File(path: string, options: Sha256FileOptions = {}): Promise<FileDigest> {
  checkPath(path);
  const chunkSize = checkChunkSize(options.chunkSize);
  const { onProgress, signal } = options;
  if (signal?.aborted) throw cancelled(path, signal);
  const binding = activeBinding();
  if (!binding) return fallbackSha256File(path, chunkSize, onProgress, signal);

  const token = binding.cancelTokenCreate();
  const onAbort = () => binding.cancelTokenCancel(token);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const hasher = callNative(() => binding.fileHasherCreate(path, chunkSize, token), path);
    for (;;) {
      let step: Awaited<ReturnType<NativeBinding["fileHasherStep"]>>;
      try {
        step = await binding.fileHasherStep(hasher, Math.max(PROGRESS_SLICE_BYTES, chunkSize));
      } catch (error) {
        throw signal?.aborted ? cancelled(path, signal) : fromNativeError(error, path);
      }
      onProgress?.({ path, bytesHashed: step.bytesHashed, totalBytes: step.totalBytes });
      if (step.sha256 !== undefined) return { path, bytes: step.bytesHashed, sha256: step.sha256 };
      if (signal?.aborted) throw cancelled(path, signal);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** `sha256File` on the calling thread (blocks it): the same read-and-hash, for scripts and tools. */
export function sha256FileSync(path: string, options: { chunkSize?: number } = {}): FileDigest {
  checkPath(path);
  const chunkSize = checkChunkSize(options.chunkSize);
  const binding = activeBinding();
  if (!binding) return fallbackSha256FileSync(path, chunkSize);
  const result = callNative(() => binding.sha256FileSync(path, chunkSize), path);
  return { path, bytes: result.bytes, sha256: result.sha256 };
}

/** One file's outcome in {@link sha256Files}. */
export type Sha256FileResult = ({ readonly ok: true } & FileDigest) | { readonly ok: false; readonly path: string; readonly error: IoError | NativeError };

/** Options of {@link sha256Files}. */
export interface Sha256FilesOptions {
  /** Files hashed at once (default: `os.availableParallelism()`). */
  readonly concurrency?: number;
  /** Bytes per read, as in {@link sha256File}. */
  readonly chunkSize?: number;
  /** Aborting rejects the whole call with {@link CancelledError}. */
  readonly signal?: AbortSignal;
}

/**
 * SHA-256 of many files, `concurrency` at a time across cores. Resolves with one result per path, in
 * order; a missing or unreadable file is an `{ ok: false, error }` result and does not stop the others.
 */
export async function sha256Files(paths: readonly string[], options: Sha256FilesOptions = {}): Promise<Sha256FileResult[]> {
  if (!Array.isArray(paths)) throw argumentError("paths must be an array of file paths");
  paths.forEach(checkPath);
  const concurrency = options.concurrency ?? availableParallelism();
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw argumentError(`concurrency must be a positive integer, got ${String(options.concurrency)}`);
  const chunkSize = checkChunkSize(options.chunkSize);
  const { signal } = options;
  const abortedError = () => new CancelledError(`hashing ${paths.length} files was cancelled`, { cause: signal?.reason });
  if (signal?.aborted) throw abortedError();
  const binding = activeBinding();
  if (!binding) {
    const results = await fallbackSha256Files(paths, concurrency, chunkSize, signal);
    if (signal?.aborted) throw abortedError();
    return results;
  }
  const token = binding.cancelTokenCreate();
  const onAbort = () => binding.cancelTokenCancel(token);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const outcomes = await binding.sha256Files([...paths], concurrency, chunkSize, token).catch((error: unknown) => {
      throw fromNativeError(error);
    });
    if (signal?.aborted) throw abortedError();
    return outcomes.map((outcome, index): Sha256FileResult => {
      const path = paths[index]!;
      if ("sha256" in outcome) return { ok: true, path, bytes: outcome.bytes, sha256: outcome.sha256 };
      const error = Object.assign(new Error(outcome.message), { code: outcome.code });
      return { ok: false, path, error: fromNativeError(error, path) as IoError | NativeError };
    });
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

// ---------------------------------------------------------------------------------------------------
// Fallback (node:crypto + fs.promises): same results, same errors.

async function fallbackSha256File(
  path: string,
  chunkSize: number,
  onProgress: Sha256FileOptions["onProgress"],
  signal: AbortSignal | undefined,
): Promise<FileDigest> {
  return withRegularFile(path, async (handle, size) => {
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(1, size + 1)));
    let offset = 0;
    let reported = 0;
    for (;;) {
      if (signal?.aborted) throw cancelled(path, signal);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, offset));
      } catch (error) {
        throw ioError(path, "read", error);
      }
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      offset += bytesRead;
      if (offset - reported >= PROGRESS_SLICE_BYTES) {
        reported = offset;
        onProgress?.({ path, bytesHashed: offset, totalBytes: size });
      }
    }
    onProgress?.({ path, bytesHashed: offset, totalBytes: size });
    return { path, bytes: offset, sha256: hash.digest("hex") };
  });
}

function fallbackSha256FileSync(path: string, chunkSize: number): FileDigest {
  return withRegularFileSync(path, (descriptor, size) => {
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(1, size + 1)));
    let offset = 0;
    for (;;) {
      const bytesRead = readSync(descriptor, buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
    return { path, bytes: offset, sha256: hash.digest("hex") };
  });
}

async function fallbackSha256Files(
  paths: readonly string[],
  concurrency: number,
  chunkSize: number,
  signal: AbortSignal | undefined,
): Promise<Sha256FileResult[]> {
  const results: Sha256FileResult[] = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length && !signal?.aborted) {
      const index = next++;
      const path = paths[index]!;
      try {
        const digest = await fallbackSha256File(path, chunkSize, undefined, signal);
        results[index] = { ok: true, ...digest };
      } catch (error) {
        results[index] = { ok: false, path, error: error as IoError | NativeError };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return results;
}
