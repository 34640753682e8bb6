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
 *   `interleavedToPlanar`, `planarToInterleaved`, `fortranToC`; `crc32` (zip's check value).
 * - FFT: `fft2InPlace` / `fft2InPlaceAsync` (batched 2-D complex DFT of square power-of-two images, as
 *   `numpy.fft.fft2` / `ifft2`; AVX2/FMA on several threads).
 * - Ptychography: `pieSweep` / `pieSweepAsync` (the fused ePIE / rPIE per-position update over a list of
 *   positions: exit wave, FFT, modulus constraint, object and probe update).
 * - Atomic writes: `writeFileAtomic` (async), `writeFileAtomicSync`, `writeChunksAtomicSync`, the incremental
 *   `AtomicFileWriter`, and `sweepStaleTempFiles` for what killed writers leave behind.
 * - Status: `nativeStatus()` (addon or fallback, and every failed load attempt with its Error).
 * - Errors: `StudykitError` (base of every package's errors), `NativeError`, `IoError`, `CancelledError`.
 */
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
export { nativeStatus } from "./native-status.js";
export type { NativeStatus, LoadAttempt } from "./native-status.js";
export { AtomicFileWriter, writeFileAtomic, writeFileAtomicSync, writeChunksAtomicSync, sweepStaleTempFiles, isProcessAlive } from "./atomic-write.js";
export type { AtomicWriteOptions } from "./atomic-write.js";
export {
  sha256,
  sha256Bytes,
  Sha256,
  sha256File,
  sha256FileSync,
  sha256Files,
  DEFAULT_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
} from "./sha256.js";
export type { BytesLike, FileDigest, HashProgress, Sha256FileOptions, Sha256FileResult, Sha256FilesOptions } from "./sha256.js";
export { mmapFile } from "./memory-map.js";
export type { MappedFile } from "./memory-map.js";
export { allocateLargeBuffer, readFileRange, readFileRangeAsync } from "./file-buffer.js";
export {
  byteSwap,
  float16ToFloat32,
  float64ToFloat32,
  interleavedToPlanar,
  planarToInterleaved,
  fortranToC,
  crc32,
  byteSwapAsync,
  float16ToFloat32Async,
  float64ToFloat32Async,
  interleavedToPlanarAsync,
  planarToInterleavedAsync,
  fortranToCAsync,
  crc32Async,
} from "./decode.js";
export type { SwapElementSize, PlanarComplex, IntoOption, ByteSwapOptions } from "./decode.js";

export { conv2dForward, conv2dBackpropInput, conv2dBackpropFilter } from "./conv2d.js";
export type { Conv2dGeometry } from "./conv2d.js";

export { fft2InPlace, fft2InPlaceAsync } from "./fft.js";
export type { Fft2Options } from "./fft.js";

export { pieSweep, pieSweepAsync } from "./pie-sweep.js";
export type { PieRule, PieSweepArguments } from "./pie-sweep.js";
