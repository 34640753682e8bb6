/**
 * `@studykit/native`: the Rust addon's kernels behind a stable API, with a pure-TypeScript fallback.
 *
 * Every function gives identical results whether the addon or the fallback serves it; `nativeStatus()`
 * says which one is in use and why.
 *
 * - Hashing: `sha256` / `sha256Bytes` (in memory), `Sha256` (streaming), `sha256File` (off the main
 *   thread, progress + cancellation), `sha256FileSync`, `sha256Files` (parallel across cores).
 * - Files: `mmapFile` (zero-copy ArrayBuffer over the file), `readFileRange` / `readFileRangeAsync` and
 *   `allocateLargeBuffer` (huge-page-backed memory: cheap to fill for the first time).
 * - Decode kernels for numpy data: `byteSwap`, `float16ToFloat32`, `float64ToFloat32`,
 *   `interleavedToPlanar`, `planarToInterleaved`, `fortranToC`.
 * - FFT: `fft2InPlace` / `fft2InPlaceAsync` (batched 2-D complex DFT of square power-of-two images, as
 *   `numpy.fft.fft2` / `ifft2`; AVX2/FMA on several threads).
 * - Ptychography: `pieSweep` / `pieSweepAsync` (the fused ePIE / rPIE per-position update over a list of
 *   positions: exit wave, FFT, modulus constraint, object and probe update).
 * - Atomic writes: `writeFileAtomic` (async), `writeFileAtomicSync`, `writeChunksAtomicSync`, the incremental
 *   `AtomicFileWriter`, and `sweepStaleTempFiles` for what killed writers leave behind.
 * - Errors: `StudykitError` (base of every package's errors), `NativeError`, `IoError`, `CancelledError`.
 */
import { activeBinding, nativeBinding, nativeLoadOutcome, type LoadAttempt } from "./internal/loader.js";
import { fallbackSha256, fallbackSha256Hex } from "./internal/fallback.js";
import { NativeError, NativeErrorCode } from "./errors.js";
import { callNative } from "./internal/typed-errors.js";

export {
  StudykitError,
  NativeError,
  NativeErrorCode,
  IoError,
  IoErrorCode,
  CancelledError,
  CANCELLED_CODE,
  FftErrorCode,
  PieErrorCode,
  hasErrorCode,
} from "./errors.js";
export type { LoadAttempt } from "./internal/loader.js";
export { AtomicFileWriter, writeFileAtomic, writeFileAtomicSync, writeChunksAtomicSync, sweepStaleTempFiles, isProcessAlive } from "./atomic-write.js";
export type { AtomicWriteOptions } from "./atomic-write.js";
export {
  Sha256,
  sha256File,
  sha256FileSync,
  sha256Files,
  DEFAULT_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
} from "./internal/file-hashing.js";
export type { FileDigest, HashProgress, Sha256FileOptions, Sha256FileResult, Sha256FilesOptions } from "./internal/file-hashing.js";
export { mmapFile } from "./internal/memory-map.js";
export type { MappedFile } from "./internal/memory-map.js";
export { allocateLargeBuffer, readFileRange, readFileRangeAsync } from "./internal/file-buffer.js";
export {
  byteSwap,
  float16ToFloat32,
  float64ToFloat32,
  interleavedToPlanar,
  planarToInterleaved,
  fortranToC,
  byteSwapAsync,
  float16ToFloat32Async,
  float64ToFloat32Async,
  interleavedToPlanarAsync,
  planarToInterleavedAsync,
  fortranToCAsync,
} from "./internal/decode.js";
export type { SwapElementSize, PlanarComplex, IntoOption, ByteSwapOptions } from "./internal/decode.js";

export { conv2dForward, conv2dBackpropInput, conv2dBackpropFilter } from "./internal/conv2d.js";
export type { Conv2dGeometry } from "./internal/conv2d.js";

export { fft2InPlace, fft2InPlaceAsync } from "./internal/fft.js";
export type { Fft2Options } from "./internal/fft.js";

export { pieSweep, pieSweepAsync } from "./internal/pie-sweep.js";
export type { PieRule, PieSweepArguments } from "./internal/pie-sweep.js";

/** Bytes accepted by the hashing functions. */
export type BytesLike = ArrayBufferView | ArrayBuffer;

/** Which implementation serves the API, and why. */
export interface NativeStatus {
  readonly implementation: "native" | "fallback";
  /** Path of the loaded `.node` file, when native. */
  readonly path: string | null;
  /** SHA-256 kernel in use: `x86-sha-ni`, `armv8-crypto`, `portable` or `node:crypto`. */
  readonly sha256Backend: string;
  readonly version: string | null;
  /** Every failed load attempt, in order. */
  readonly attempts: readonly LoadAttempt[];
}

/** Reports whether the addon is loaded (throws `E_NATIVE_UNAVAILABLE` when required but missing). */
export function nativeStatus(): NativeStatus {
  const binding = nativeBinding();
  const outcome = nativeLoadOutcome();
  if (binding) {
    const info = binding.nativeInfo();
    return { implementation: "native", path: outcome.path, sha256Backend: info.sha256Backend, version: info.version, attempts: outcome.attempts };
  }
  return { implementation: "fallback", path: null, sha256Backend: "node:crypto", version: null, attempts: outcome.attempts };
}

function assertBytes(data: unknown): asserts data is BytesLike {
  if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
    const shown = data === null ? "null" : Array.isArray(data) ? "an array" : typeof data;
    throw new NativeError(NativeErrorCode.Argument, `expected a Buffer, TypedArray, DataView or ArrayBuffer, got ${shown}`);
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
