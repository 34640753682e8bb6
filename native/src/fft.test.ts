/**
 * The batched 2-D FFT against numpy.fft (run in a python3 subprocess on the same input), against the
 * definition on inputs whose spectrum is known exactly, and the addon against the pure-TS fallback. Every
 * property runs on both implementations. The numpy tests need a python3 with numpy, the comparison the
 * addon: skipped with a message outside CI, failed under CI.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { FftErrorCode, fft2InPlace, fft2InPlaceAsync, hasErrorCode } from "./index.js";
import { nativeBinding, withBinding } from "./internal/loader.js";
import { findPython, pythonDependency, skipWithout } from "../../tools/test-dependencies.js";

type ComplexArray = Float32Array | Float64Array;

/** The addon (when it loads) and the fallback; tests that compare the two need the addon. */
const native = nativeBinding();
const implementations = [...(native ? [{ name: "native", binding: native }] : []), { name: "fallback", binding: null }] as const;
const noNative = skipWithout({ name: "the native addon", available: native !== null, install: "build it with `npm run build` (needs Rust/cargo)" });

/** Deterministic values in [−1, 1) from a seed (xorshift32). */
function randomValues(length: number, seed: number, double: boolean): ComplexArray {
  let state = seed >>> 0 || 1;
  const values = double ? new Float64Array(length) : new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    values[i] = state / 2 ** 31 - 1;
  }
  return values;
}

/** Largest absolute difference, relative to the largest magnitude in `expected`. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let peak = Number.MIN_VALUE;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    peak = Math.max(peak, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  }
  return worst / peak;
}

/** Rounding bounds: a few ulps times log₂ n passes, well below what any wrong twiddle or index gives. */
const TOLERANCE = { single: 1e-5, double: 1e-12 } as const;

/**
 * Asserts that two arrays hold the same bits. Compared as bytes: vitest's deep `toEqual` walks a typed
 * array element by element and took ~50 s for this file's 330 k-value arrays on a loaded 2-core machine.
 */
function expectSameBits(actual: ComplexArray, expected: ComplexArray): void {
  const bytes = (a: ComplexArray) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  if (bytes(actual).equals(bytes(expected))) return;
  const first = actual.findIndex((value, i) => !Object.is(value, expected[i]));
  expect.fail(`arrays differ (lengths ${actual.length} and ${expected.length}); first difference at index ${first}: ${actual[first]} against ${expected[first]}`);
}

const python = findPython("numpy");

/**
 * numpy's fft2 / ifft2 over the last two axes of the same values, computed in complex128 (the values
 * of complex64 input are exact in it, so this is the reference to rounding for both precisions).
 */
function numpyFft2(data: ComplexArray, n: number, batch: number, inverse: boolean): Float64Array {
  const script = `
import sys, numpy as np
n, batch, inverse, dtype = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
x = np.frombuffer(sys.stdin.buffer.read(), dtype=dtype).astype(np.complex128).reshape(batch, n, n)
y = np.fft.ifft2(x) if inverse else np.fft.fft2(x)
sys.stdout.buffer.write(np.ascontiguousarray(y, dtype="<c16").tobytes())
`;
  const dtype = data instanceof Float32Array ? "<c8" : "<c16";
  const input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const result = spawnSync(python!, ["-c", script, String(n), String(batch), inverse ? "1" : "0", dtype], { input, maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`numpy.fft failed: ${result.stderr.toString()}`);
  const bytes = result.stdout as Buffer;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float64Array(copy.buffer);
}

const sizes = fc.integer({ min: 1, max: 8 }).map((log2) => 2 ** log2);
/** Up to 40 small images (enough for several threads' chunks), fewer large ones. */
const cases = sizes.chain((n) =>
  fc.record({
    n: fc.constant(n),
    batch: fc.integer({ min: 0, max: n <= 16 ? 40 : n <= 64 ? 4 : 2 }),
    double: fc.boolean(),
    inverse: fc.boolean(),
    threads: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  }),
);

describe("fft2InPlace against numpy.fft", () => {
  const noNumpy = skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"]));

  it.skipIf(noNumpy)("matches numpy.fft.fft2 / ifft2 for sizes 2..256, batches, complex64 and complex128, on every implementation", () => {
    fc.assert(
      fc.property(cases, ({ n, batch, double, inverse, threads, seed }) => {
        const input = randomValues(batch * n * n * 2, seed, double);
        const expected = numpyFft2(input, n, batch, inverse);
        for (const { name, binding } of implementations) {
          const data = input.slice();
          withBinding(binding, () => fft2InPlace(data, n, batch, { inverse, threads }));
          if (batch === 0) continue;
          const error = relativeError(data, expected);
          expect(error, `${name} n=${n} batch=${batch} ${double ? "f64" : "f32"} inverse=${inverse}`).toBeLessThan(double ? TOLERANCE.double : TOLERANCE.single);
        }
      }),
      { numRuns: 25 },
    );
  });

  it.skipIf(noNumpy)("matches numpy at the largest size, 1024 × 1024, in both directions", async () => {
    const n = 1024;
    const input = randomValues(n * n * 2, 99, false);
    for (const inverse of [false, true]) {
      const expected = numpyFft2(input, n, 1, inverse);
      const data = input.slice();
      await fft2InPlaceAsync(data, n, 1, { inverse });
      expect(relativeError(data, expected)).toBeLessThan(TOLERANCE.single);
    }
  });
});

describe.each(implementations)("fft2InPlace ($name)", ({ binding }) => {
  const run = <T>(body: () => T): T => withBinding(binding, body);

  it("puts a single plane wave on exactly one bin with magnitude n², and the inverse brings it back", () => {
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat(), fc.boolean(), (n, kSeed, lSeed, double) => {
        const [k0, l0] = [kSeed % n, lSeed % n];
        const data = double ? new Float64Array(2 * n * n) : new Float32Array(2 * n * n);
        for (let r = 0; r < n; r++) {
          for (let c = 0; c < n; c++) {
            const angle = (2 * Math.PI * ((k0 * r + l0 * c) % n)) / n;
            data[2 * (r * n + c)] = Math.cos(angle);
            data[2 * (r * n + c) + 1] = Math.sin(angle);
          }
        }
        const original = data.slice();
        run(() => fft2InPlace(data, n, 1));
        const expected = new Float64Array(2 * n * n);
        expected[2 * (k0 * n + l0)] = n * n;
        expect(relativeError(data, expected)).toBeLessThan(double ? TOLERANCE.double : TOLERANCE.single);
        run(() => fft2InPlace(data, n, 1, { inverse: true }));
        expect(relativeError(data, original)).toBeLessThan(double ? TOLERANCE.double : TOLERANCE.single);
      }),
      { numRuns: 30 },
    );
  });

  it("round-trips: ifft2(fft2(x)) ≈ x, synchronously and off the main thread", async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ n, batch, double, threads, seed }) => {
        const input = randomValues(batch * n * n * 2, seed, double);
        const data = input.slice();
        await run(() => fft2InPlaceAsync(data, n, batch, { threads }));
        run(() => fft2InPlace(data, n, batch, { inverse: true, threads }));
        if (batch > 0) expect(relativeError(data, input)).toBeLessThan(double ? TOLERANCE.double : TOLERANCE.single);
      }),
      { numRuns: 30 },
    );
  });

  it("gives the same bits synchronously, asynchronously and with any thread count (each image is one task)", async () => {
    // Large enough (160 Ki complex values) for the addon to use 2 and 3 threads when allowed.
    const n = 64;
    const batch = 40;
    for (const double of [false, true]) {
      const input = randomValues(batch * n * n * 2, 5, double);
      const reference = input.slice();
      run(() => fft2InPlace(reference, n, batch, { threads: 1 }));
      for (const threads of [undefined, 2, 3]) {
        const sync = input.slice();
        run(() => fft2InPlace(sync, n, batch, { threads }));
        expectSameBits(sync, reference);
        const async = input.slice();
        await run(() => fft2InPlaceAsync(async, n, batch, { threads }));
        expectSameBits(async, reference);
      }
      // One image on its own transforms exactly as it does inside the batch.
      const single = input.slice(5 * 2 * n * n, 6 * 2 * n * n);
      run(() => fft2InPlace(single, n, 1));
      expectSameBits(single, reference.slice(5 * 2 * n * n, 6 * 2 * n * n));
    }
  });

  it("refuses bad arguments with a coded error naming the value and the fix, leaving the data untouched", async () => {
    const data = new Float32Array(2 * 8 * 8 * 3).fill(1.5);
    const bad: [string, () => void, RegExp][] = [
      [FftErrorCode.Size, () => fft2InPlace(new Float32Array(2 * 12 * 12), 12, 1), /n = 12 is not a power of two between 2 and 1024; pad or crop/],
      [FftErrorCode.Size, () => fft2InPlace(new Float32Array(2 * 2048 * 2048), 2048, 1), /n = 2048/],
      [FftErrorCode.Size, () => fft2InPlace(new Float32Array(2), 1, 1), /n = 1 /],
      [FftErrorCode.Size, () => fft2InPlace(data, 8.5, 3), /n = 8.5/],
      [FftErrorCode.Length, () => fft2InPlace(data, 8, 2), /holds 384 values but batch 2 × 8 × 8 complex images need 256; pass batch · n · n · 2/],
      [FftErrorCode.Length, () => fft2InPlace(data.subarray(1), 8, 3), /holds 383 values/],
      [FftErrorCode.Batch, () => fft2InPlace(data, 8, -1), /batch = -1 is not a non-negative integer/],
      [FftErrorCode.Batch, () => fft2InPlace(data, 8, 1.5), /batch = 1.5/],
      [FftErrorCode.Type, () => fft2InPlace(new Int32Array(384) as unknown as Float32Array, 8, 3), /Float32Array \(complex64\) or Float64Array \(complex128\).*got Int32Array/],
      [FftErrorCode.Type, () => fft2InPlace(Array.from(data) as unknown as Float32Array, 8, 3), /got an array/],
      [FftErrorCode.Option, () => fft2InPlace(data, 8, 3, { threads: 0 }), /threads must be an integer from 1 to 256, got 0/],
      [FftErrorCode.Option, () => fft2InPlace(data, 8, 3, { inverse: "yes" as unknown as boolean }), /inverse must be true or false/],
    ];
    for (const [code, call, message] of bad) {
      let thrown: unknown;
      try {
        run(call);
      } catch (error) {
        thrown = error;
      }
      expect(hasErrorCode(thrown, code), `${String(thrown)} should carry ${code}`).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    }
    await expect(run(() => fft2InPlaceAsync(data, 6, 3))).rejects.toMatchObject({ code: FftErrorCode.Size });
    await expect(run(() => fft2InPlaceAsync(data, 8, 4))).rejects.toMatchObject({ code: FftErrorCode.Length });
    expect(data.every((value) => value === 1.5)).toBe(true);
  });
});

describe.skipIf(noNative)("fft2InPlace: addon against fallback", () => {
  it("agree to rounding on random sizes, batches, precisions and directions", () => {
    fc.assert(
      fc.property(cases, ({ n, batch, double, inverse, threads, seed }) => {
        const input = randomValues(batch * n * n * 2, seed, double);
        const fromNative = input.slice();
        withBinding(native, () => fft2InPlace(fromNative, n, batch, { inverse, threads }));
        const fromFallback = input.slice();
        withBinding(null, () => fft2InPlace(fromFallback, n, batch, { inverse }));
        if (batch > 0) expect(relativeError(fromNative, fromFallback)).toBeLessThan(double ? TOLERANCE.double : TOLERANCE.single);
      }),
      { numRuns: 40 },
    );
  });

  it("throws the addon's own coded errors when its binding is called with a bad shape directly", () => {
    expect(() => native!.fft2InPlace(new Float32Array(18), 3, 1, false, 0)).toThrow(expect.objectContaining({ code: FftErrorCode.Size }) as Error);
    expect(() => native!.fft2InPlace(new Float64Array(30), 4, 1, false, 0)).toThrow(expect.objectContaining({ code: FftErrorCode.Length }) as Error);
  });
});
