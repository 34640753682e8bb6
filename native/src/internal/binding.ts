/**
 * The one typed surface of the Rust addon. Every function the `.node` file exports is declared here;
 * the loader checks that each exists before handing the binding out. The public modules in `src/`
 * wrap these (argument checks, typed errors, output allocation); nothing else calls them.
 */

/** Opaque handle to a native object (a tagged N-API external). */
export type NativeHandle = { readonly __nativeHandle: unique symbol };

/** A per-file outcome of `sha256Files`: a digest or a coded error. */
export type NativeFileOutcome = { bytes: number; sha256: string } | { code: string; message: string };

/**
 * The array kernels. The addon exports each twice: as `name`, running on the calling thread, and as
 * `nameAsync` ({@link AsyncKernelFunctions}), running the same kernel on a libuv worker thread (its arrays
 * must stay attached until the promise settles).
 */
export interface KernelFunctions {
  /** Decode kernels write into `output`, allocated by the caller. */
  byteSwap(input: Uint8Array, output: Uint8Array, elementSize: number): void;
  float16ToFloat32(input: Uint16Array | Uint8Array, output: Float32Array): void;
  float64ToFloat32(input: Float64Array | Uint8Array, output: Float32Array): void;
  interleavedToPlanar(interleaved: Float32Array | Float64Array, real: Float32Array | Float64Array, imaginary: Float32Array | Float64Array): void;
  planarToInterleaved(real: Float32Array | Float64Array, imaginary: Float32Array | Float64Array, interleaved: Float32Array | Float64Array): void;
  fortranToC(input: Uint8Array, output: Uint8Array, shape: number[], itemSize: number): void;
  /** CRC-32 (zlib's, zip's) of `data`, continuing from a previous result `initial` (0 to start). */
  crc32(data: Uint8Array, initial: number): number;
  /** In-place batched 2-D DFT of `batch` interleaved complex `n × n` images; `threads` 0 lets the addon choose. */
  fft2InPlace(data: Float32Array | Float64Array, n: number, batch: number, inverse: boolean, threads: number): void;
  /**
   * One sequential PIE (ePIE / rPIE) sweep over the positions `order`, updating `object` (and `probe` when
   * `updateProbe`) in place; returns Σ(|Ψ| − M)² over them.
   */
  pieSweep(object: Float64Array, objectHeight: number, objectWidth: number, probe: Float64Array, n: number, measured: Float32Array, corners: Int32Array, order: Uint32Array, rule: "epie" | "rpie", objectWeight: number, probeWeight: number, updateProbe: boolean): number;
}

/** The `*Async` twin of every kernel: the same arguments, a promise of the same result. */
export type AsyncKernelFunctions = {
  [Name in keyof KernelFunctions as `${Name}Async`]: (...args: Parameters<KernelFunctions[Name]>) => Promise<ReturnType<KernelFunctions[Name]>>;
};

/** The decode kernels (the ones with a pure-TS twin in `decode-fallback.ts`). */
export const DECODE_KERNEL_NAMES = ["byteSwap", "float16ToFloat32", "float64ToFloat32", "interleavedToPlanar", "planarToInterleaved", "fortranToC", "crc32"] as const;

/** Every kernel's name, once; the loader expects each as `name` and `nameAsync`. */
export const KERNEL_NAMES = [...DECODE_KERNEL_NAMES, "fft2InPlace", "pieSweep"] as const satisfies readonly (keyof KernelFunctions)[];

// The compiler holds KERNEL_NAMES and KernelFunctions to the same set: a kernel declared above but not
// listed fails to build here.
const everyKernelListed: Exclude<keyof KernelFunctions, (typeof KERNEL_NAMES)[number]> extends never ? true : never = true;
void everyKernelListed;

export interface NativeBinding extends KernelFunctions, AsyncKernelFunctions {
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
  "conv2dForward",
  "conv2dBackpropInput",
  "conv2dBackpropFilter",
  "debugPanic",
  ...KERNEL_NAMES.flatMap((name) => [name, `${name}Async` as const]),
];
