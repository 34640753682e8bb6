/**
 * The one typed surface of the Rust addon. Every function the `.node` file exports is declared here;
 * the loader checks that each exists before handing the binding out. The public API in `../index.ts`
 * wraps these (argument checks, typed errors, output allocation); nothing else calls them.
 */

/** Opaque handle to a native object (a tagged N-API external). */
export type NativeHandle = { readonly __nativeHandle: unique symbol };

/** A per-file outcome of `sha256Files`: a digest or a coded error. */
export type NativeFileOutcome = { bytes: number; sha256: string } | { code: string; message: string };

export interface NativeBinding {
  version(): string;
  nativeInfo(): { version: string; sha256Backend: string; arch: string; os: string };
  sha256(data: ArrayBufferView | ArrayBuffer): Buffer;
  sha256Hex(data: ArrayBufferView | ArrayBuffer): string;

  /** Streaming SHA-256 (main thread; handles are garbage-collected). */
  hasherCreate(): NativeHandle;
  hasherUpdate(hasher: NativeHandle, data: ArrayBufferView | ArrayBuffer): void;
  hasherCopy(hasher: NativeHandle): NativeHandle;
  hasherDigest(hasher: NativeHandle): Buffer;

  /** A flag checked between chunks by running file jobs. */
  cancelTokenCreate(): NativeHandle;
  cancelTokenCancel(token: NativeHandle): void;
  /** Creates a file hasher (no I/O); each step hashes up to `sliceBytes` on a libuv worker thread. */
  fileHasherCreate(path: string, chunkSize: number, token: NativeHandle): NativeHandle;
  fileHasherStep(hasher: NativeHandle, sliceBytes: number): Promise<{ bytesHashed: number; totalBytes: number; sha256?: string }>;
  sha256FileSync(path: string, chunkSize: number): { bytes: number; sha256: string };
  sha256Files(paths: string[], concurrency: number, chunkSize: number, token: NativeHandle): Promise<NativeFileOutcome[]>;

  mmapFile(path: string): { buffer: ArrayBuffer; handle: NativeHandle };
  mmapClose(handle: NativeHandle, buffer: ArrayBuffer): void;

  /** A zero-filled V8 ArrayBuffer; from 1 MiB on, advised `MADV_HUGEPAGE` before its first write (Linux). */
  allocateLargeBuffer(byteLength: number): ArrayBuffer;
  /** Bytes `offset..offset+length` of a file, read with pread into `allocateLargeBuffer` memory. */
  readFileRange(path: string, offset: number, length: number): ArrayBuffer;
  /** `readFileRange` on a libuv worker thread. */
  readFileRangeAsync(path: string, offset: number, length: number): Promise<ArrayBuffer>;

  /** Decode kernels write into `output`, allocated by the caller. */
  byteSwap(input: Uint8Array, output: Uint8Array, elementSize: number): void;
  float16ToFloat32(input: Uint16Array | Uint8Array, output: Float32Array): void;
  float64ToFloat32(input: Float64Array | Uint8Array, output: Float32Array): void;
  interleavedToPlanar(interleaved: Float32Array | Float64Array, real: Float32Array | Float64Array, imaginary: Float32Array | Float64Array): void;
  planarToInterleaved(real: Float32Array | Float64Array, imaginary: Float32Array | Float64Array, interleaved: Float32Array | Float64Array): void;
  fortranToC(input: Uint8Array, output: Uint8Array, shape: number[], itemSize: number): void;
  /** The same kernels on a libuv worker thread (arrays must stay attached until the promise settles). */
  byteSwapAsync(input: Uint8Array, output: Uint8Array, elementSize: number): Promise<void>;
  float16ToFloat32Async(input: Uint16Array | Uint8Array, output: Float32Array): Promise<void>;
  float64ToFloat32Async(input: Float64Array | Uint8Array, output: Float32Array): Promise<void>;
  interleavedToPlanarAsync(interleaved: Float32Array | Float64Array, real: Float32Array | Float64Array, imaginary: Float32Array | Float64Array): Promise<void>;
  planarToInterleavedAsync(real: Float32Array | Float64Array, imaginary: Float32Array | Float64Array, interleaved: Float32Array | Float64Array): Promise<void>;
  fortranToCAsync(input: Uint8Array, output: Uint8Array, shape: number[], itemSize: number): Promise<void>;

  /**
   * In-place batched 2-D DFT of `batch` interleaved complex `n × n` images; `threads` 0 lets the addon
   * choose. The async form runs on a libuv worker (the array must stay attached until it settles).
   */
  fft2InPlace(data: Float32Array | Float64Array, n: number, batch: number, inverse: boolean, threads: number): void;
  fft2InPlaceAsync(data: Float32Array | Float64Array, n: number, batch: number, inverse: boolean, threads: number): Promise<void>;

  /**
   * One sequential PIE (ePIE / rPIE) sweep over the positions `order`, updating `object` (and `probe` when
   * `updateProbe`) in place; returns Σ(|Ψ| − M)² over them. The async form runs on a libuv worker.
   */
  pieSweep(object: Float64Array, objectHeight: number, objectWidth: number, probe: Float64Array, n: number, measured: Float32Array, corners: Int32Array, order: Uint32Array, rule: "epie" | "rpie", objectWeight: number, probeWeight: number, updateProbe: boolean): number;
  pieSweepAsync(object: Float64Array, objectHeight: number, objectWidth: number, probe: Float64Array, n: number, measured: Float32Array, corners: Int32Array, order: Uint32Array, rule: "epie" | "rpie", objectWeight: number, probeWeight: number, updateProbe: boolean): Promise<number>;

  /** NHWC convolution kernels; `geometry` is the 15 numbers of `Conv2dGeometry` in field order. */
  conv2dForward(x: Float32Array, filter: Float32Array, output: Float32Array, geometry: number[]): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, output: Float32Array, geometry: number[]): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, output: Float32Array, geometry: number[]): void;

  /** Test hook: panics on purpose (on a worker thread when `onWorker`, returning a promise). */
  debugPanic(onWorker: boolean): unknown;
}

/** Names the loader verifies on a freshly loaded addon. */
export const BINDING_FUNCTIONS: readonly (keyof NativeBinding)[] = [
  "version",
  "nativeInfo",
  "sha256",
  "sha256Hex",
  "hasherCreate",
  "hasherUpdate",
  "hasherCopy",
  "hasherDigest",
  "cancelTokenCreate",
  "cancelTokenCancel",
  "fileHasherCreate",
  "fileHasherStep",
  "sha256FileSync",
  "sha256Files",
  "mmapFile",
  "mmapClose",
  "allocateLargeBuffer",
  "readFileRange",
  "readFileRangeAsync",
  "byteSwap",
  "float16ToFloat32",
  "float64ToFloat32",
  "interleavedToPlanar",
  "planarToInterleaved",
  "fortranToC",
  "byteSwapAsync",
  "float16ToFloat32Async",
  "float64ToFloat32Async",
  "interleavedToPlanarAsync",
  "planarToInterleavedAsync",
  "fortranToCAsync",
  "conv2dForward",
  "conv2dBackpropInput",
  "conv2dBackpropFilter",
  "fft2InPlace",
  "fft2InPlaceAsync",
  "pieSweep",
  "pieSweepAsync",
  "debugPanic",
];
