/**
 * Public batched 2-D FFT: argument checks with typed errors, then the addon's kernel (AVX2/FMA column
 * passes and transposes, images split across threads) or the pure-TS fallback. Both paths get the same
 * checked arguments, so they fail with the same codes and messages and agree to rounding.
 */
import { FftErrorCode, NativeError } from "./errors.js";
import { activeBinding } from "./internal/loader.js";
import { fallbackFftKernels } from "./internal/fft-fallback.js";
import { callNative, fromNativeError } from "./internal/typed-errors.js";

/** Options of {@link fft2InPlace} and {@link fft2InPlaceAsync}. */
export interface Fft2Options {
  /** Inverse transform: `exp(+2πi…)` and scaled by `1/(n·n)`, as `numpy.fft.ifft2`. Default `false`. */
  readonly inverse?: boolean | undefined;
  /**
   * Most threads the addon may use (the calling or worker thread included); whole images are shared
   * between them, and a batch too small to repay starting a thread (under ~32 Ki complex values per
   * thread) uses fewer. Default: the number of cores. The fallback always runs on the calling thread.
   */
  readonly threads?: number | undefined;
}

/** Largest `threads` accepted; more than the cores only adds start-up cost. */
const MAX_THREADS = 256;

interface CheckedCall {
  readonly data: Float32Array | Float64Array;
  readonly n: number;
  readonly batch: number;
  readonly inverse: boolean;
  /** 0: the addon chooses. */
  readonly threads: number;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (Array.isArray(value)) return "an array";
  return typeof value === "number" ? String(value) : typeof value;
}

function fftError(code: string, message: string): NativeError {
  return new NativeError(code, message);
}

function check(data: unknown, n: unknown, batch: unknown, options: unknown): CheckedCall {
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    throw fftError(FftErrorCode.Type, `FFT data must be a Float32Array (complex64) or Float64Array (complex128) of interleaved (re, im) values, got ${describe(data)}`);
  }
  if (typeof n !== "number" || !Number.isInteger(n) || n < 2 || n > 1024 || (n & (n - 1)) !== 0) {
    throw fftError(FftErrorCode.Size, `FFT size n = ${describe(n)} is not a power of two between 2 and 1024; pad or crop the images to a power-of-two side`);
  }
  if (typeof batch !== "number" || !Number.isSafeInteger(batch) || batch < 0) {
    throw fftError(FftErrorCode.Batch, `FFT batch = ${describe(batch)} is not a non-negative integer; pass the number of n × n images in data`);
  }
  const expected = batch * n * n * 2;
  if (data.length !== expected) {
    throw fftError(
      FftErrorCode.Length,
      `FFT data holds ${data.length} values but batch ${batch} × ${n} × ${n} complex images need ${expected}; pass batch · n · n · 2 interleaved (re, im) values`,
    );
  }
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw fftError(FftErrorCode.Option, `FFT options must be an object like { inverse: true, threads: 2 }, got ${describe(options)}`);
  }
  const { inverse, threads } = (options ?? {}) as Fft2Options;
  if (inverse !== undefined && typeof inverse !== "boolean") {
    throw fftError(FftErrorCode.Option, `FFT options.inverse must be true or false, got ${describe(inverse)}`);
  }
  if (threads !== undefined && (typeof threads !== "number" || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)) {
    throw fftError(FftErrorCode.Option, `FFT options.threads must be an integer from 1 to ${MAX_THREADS}, got ${describe(threads)}; leave it out to let the addon choose`);
  }
  return { data, n, batch, inverse: inverse ?? false, threads: threads ?? 0 };
}

/**
 * In-place batched 2-D DFT of `batch` square `n × n` complex images stored interleaved `(re, im)`
 * row-major, i.e. `data.length === batch · n · n · 2`. Forward: `X[k,l] = Σ x[r,c]·exp(−2πi(kr+lc)/n)`
 * (unnormalised, as `numpy.fft.fft2`); inverse: `exp(+2πi…)` scaled by `1/(n·n)` (as
 * `numpy.fft.ifft2`). `n` is a power of two from 2 to 1024. `Float32Array` holds complex64,
 * `Float64Array` complex128. Native when the addon loads, pure TypeScript otherwise (same results to
 * rounding).
 *
 * Throws a `NativeError` with code `E_FFT_TYPE`, `E_FFT_SIZE`, `E_FFT_BATCH`, `E_FFT_LENGTH` or
 * `E_FFT_OPTION` (see `FftErrorCode`) for bad arguments.
 */
export function fft2InPlace(data: Float32Array | Float64Array, n: number, batch: number, options?: Fft2Options): void {
  const call = check(data, n, batch, options);
  if (call.batch === 0) return;
  const binding = activeBinding();
  if (!binding) return fallbackFftKernels.fft2InPlace(call.data, call.n, call.batch, call.inverse, call.threads);
  callNative(() => binding.fft2InPlace(call.data, call.n, call.batch, call.inverse, call.threads));
}

/**
 * {@link fft2InPlace} off the main thread (a libuv worker, which shares the images with helper threads),
 * resolving when `data` holds the result. Do not read, write or transfer `data` until it settles. The
 * fallback computes on the calling thread before resolving. Bad arguments reject with the same errors.
 */
export async function fft2InPlaceAsync(data: Float32Array | Float64Array, n: number, batch: number, options?: Fft2Options): Promise<void> {
  const call = check(data, n, batch, options);
  if (call.batch === 0) return;
  const binding = activeBinding();
  if (!binding) return fallbackFftKernels.fft2InPlace(call.data, call.n, call.batch, call.inverse, call.threads);
  let pending: Promise<void>;
  try {
    pending = binding.fft2InPlaceAsync(call.data, call.n, call.batch, call.inverse, call.threads);
  } catch (error) {
    throw fromNativeError(error);
  }
  try {
    await pending;
  } catch (error) {
    throw fromNativeError(error);
  }
}
