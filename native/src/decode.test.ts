import { randomBytes } from "node:crypto";
import { crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  byteSwap,
  byteSwapAsync,
  crc32,
  crc32Async,
  float16ToFloat32,
  float16ToFloat32Async,
  float64ToFloat32,
  float64ToFloat32Async,
  fortranToC,
  fortranToCAsync,
  interleavedToPlanar,
  interleavedToPlanarAsync,
  planarToInterleaved,
  planarToInterleavedAsync,
} from "./index.js";
import { loadNativeBinding, withBinding } from "./internal/loader.js";
import type { NativeBinding } from "./internal/binding.js";
import { skipWithout } from "../../tools/test-dependencies.js";

const native = loadNativeBinding().binding;
const noNative = skipWithout({ name: "the native addon", available: native !== null, install: "build it with `npm run build` (needs Rust/cargo)" });
const implementations: [string, NativeBinding | null][] = [["fallback", null]];
if (native) implementations.push(["native", native]);

/** `length` random bytes starting at byte offset `offset` of a larger buffer (to test unaligned input). */
function unalignedBytes(length: number, offset: number): Uint8Array {
  const backing = randomBytes(length + offset + 8);
  return new Uint8Array(backing.buffer, backing.byteOffset + offset, length);
}

/** Byte-for-byte equality of two views (vitest's deep `toEqual` is slow on large typed arrays). */
function expectSameBytes(actual: ArrayBufferView, expected: ArrayBufferView): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  let index = 0;
  while (index < a.length && a[index] === b[index]) index++;
  expect.fail(`byte ${index} differs (lengths ${a.length} and ${b.length}): ${a[index]} vs ${b[index]}`);
}

/** Reference byte swap written independently of both kernels: through DataView big/little reads. */
function referenceSwap(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const half = size === 16 ? 8 : size;
  for (let start = 0; start < bytes.length; start += half) {
    for (let index = 0; index < half; index++) out[start + index] = bytes[start + half - 1 - index]!;
  }
  return out;
}

describe.each(implementations)("decode kernels (%s)", (_name, binding) => {
  const run = <T>(body: () => T): T => withBinding(binding, body);

  it("gives the same results for outputs past 1 MiB (huge-page-backed with the addon) as element-wise references", () => {
    const count = (1 << 20) / 4 + 3; // float32 outputs just over 1 MiB
    const doubles = new Float64Array(count).map((_, i) => (i % 977) / 7 - 60);
    const converted = run(() => float64ToFloat32(doubles));
    expect(converted.byteLength).toBe(count * 4);
    expectSameBytes(converted, Float32Array.from(doubles));
    const interleaved = new Float32Array(2 * count).map((_, i) => i * 0.5);
    const { real, imaginary } = run(() => interleavedToPlanar(interleaved));
    expectSameBytes(real, Float32Array.from({ length: count }, (_, i) => interleaved[2 * i]!));
    expectSameBytes(imaginary, Float32Array.from({ length: count }, (_, i) => interleaved[2 * i + 1]!));
    expectSameBytes(run(() => planarToInterleaved(real, imaginary)), interleaved);
    const bytes = unalignedBytes(4 * count, 1);
    expectSameBytes(run(() => byteSwap(bytes, 4)), referenceSwap(bytes, 4));
  });

  it("writes into a caller's array (options.into) the same bytes it returns without one, at any output offset", () => {
    // Outputs view a larger buffer at an offset, so neither implementation can rely on alignment.
    const into = <T extends ArrayBufferView>(Type: new (buffer: ArrayBuffer, offset: number, length: number) => T, length: number, itemBytes: number, offset = 1): T =>
      new Type(new ArrayBuffer((length + offset + 3) * itemBytes), offset * itemBytes, length);
    for (const count of [0, 1, 7, 33, 1001]) {
      const doubles = new Float64Array(count).map((_, i) => (i - 17) / 3);
      const f32 = into(Float32Array, count, 4);
      expect(run(() => float64ToFloat32(doubles, { into: f32 }))).toBe(f32);
      expectSameBytes(f32, Float32Array.from(doubles));
      const halves = new Uint16Array(count).map((_, i) => (i * 2654435761) >>> 16);
      const fromHalves = into(Float32Array, count, 4, 3);
      expect(run(() => float16ToFloat32(halves, { into: fromHalves }))).toBe(fromHalves);
      expectSameBytes(fromHalves, run(() => float16ToFloat32(halves)));
      const complex = new Float64Array(2 * count).map((_, i) => i * 1.5 - 4);
      const planes = { real: into(Float64Array, count, 8), imaginary: into(Float64Array, count, 8, 2) };
      const split = run(() => interleavedToPlanar(complex, { into: planes }));
      expect(split.real).toBe(planes.real);
      expect(split.imaginary).toBe(planes.imaginary);
      expectSameBytes(planes.real, Float64Array.from({ length: count }, (_, i) => complex[2 * i]!));
      expectSameBytes(planes.imaginary, Float64Array.from({ length: count }, (_, i) => complex[2 * i + 1]!));
      const joined = into(Float64Array, 2 * count, 8);
      expect(run(() => planarToInterleaved(planes.real, planes.imaginary, { into: joined }))).toBe(joined);
      expectSameBytes(joined, complex);
      const bytes = unalignedBytes(4 * count, 1);
      const swapped = into(Uint32Array, count, 4);
      expectSameBytes(run(() => byteSwap(bytes, 4, { into: swapped })), referenceSwap(bytes, 4));
      expectSameBytes(swapped, referenceSwap(bytes, 4));
      const transposed = into(Uint8Array, 4 * count, 1, 5);
      expectSameBytes(run(() => fortranToC(bytes, [count, 2], 2, { into: transposed })), run(() => fortranToC(bytes, [count, 2], 2)));
      expectSameBytes(transposed, run(() => fortranToC(bytes, [count, 2], 2)));
    }
  });

  it("refuses an output of the wrong type or size, or one sharing memory with the input, naming the option", () => {
    const doubles = new Float64Array(8);
    const refusal = (pattern: RegExp) => expect.objectContaining({ code: "E_NATIVE_ARGUMENT", message: expect.stringMatching(pattern) });
    expect(() => run(() => float64ToFloat32(doubles, { into: new Float64Array(8) as unknown as Float32Array }))).toThrow(refusal(/options\.into must be a Float32Array, got Float64Array/));
    expect(() => run(() => float64ToFloat32(doubles, { into: new Float32Array(7) }))).toThrow(refusal(/options\.into holds 28 bytes but the result needs 32/));
    // The output would overwrite doubles not yet read.
    expect(() => run(() => float64ToFloat32(doubles, { into: new Float32Array(doubles.buffer, 16, 8) }))).toThrow(refusal(/shares memory with the input/));
    const complex = new Float32Array(8);
    expect(() => run(() => interleavedToPlanar(complex, { into: { real: new Float32Array(4), imaginary: new Float64Array(4) as unknown as Float32Array } }))).toThrow(
      refusal(/options\.into\.imaginary must be a Float32Array/),
    );
    const shared = new Float32Array(4);
    expect(() => run(() => interleavedToPlanar(complex, { into: { real: shared, imaginary: shared } }))).toThrow(refusal(/into\.imaginary shares memory/));
    expect(() => run(() => interleavedToPlanar(complex, { into: null as unknown as { real: Float32Array; imaginary: Float32Array } }))).toThrow(refusal(/must be \{ real, imaginary \}/));
    const bytes = new Uint8Array(8);
    expect(() => run(() => byteSwap(bytes, 4, { into: bytes }))).toThrow(refusal(/inPlace/));
    expect(() => run(() => byteSwap(bytes, 4, { into: new Uint8Array(8), inPlace: true }))).toThrow(refusal(/either inPlace or into/));
    expect(() => run(() => fortranToC(bytes, [2, 4], 1, { into: new Uint16Array(3) }))).toThrow(refusal(/holds 6 bytes but the result needs 8/));
    // Adjacent but separate ranges of one buffer are fine.
    const backing = new ArrayBuffer(64 + 32);
    const input = new Float64Array(backing, 0, 8);
    input.set([1, 2, 3, 4, 5, 6, 7, 8]);
    expectSameBytes(run(() => float64ToFloat32(input, { into: new Float32Array(backing, 64, 8) })), Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  it("byteSwap reverses each element, for every size, odd element counts and unaligned offsets", () => {
    for (const size of [2, 4, 8, 16] as const) {
      for (const count of [0, 1, 3, 17, 1001]) {
        for (const offset of [0, 1, 3]) {
          const input = unalignedBytes(count * size, offset);
          const before = input.slice();
          const swapped = run(() => byteSwap(input, size));
          expectSameBytes(swapped, referenceSwap(input, size));
          expectSameBytes(input, before);
          run(() => byteSwap(input, size, { inPlace: true }));
          expectSameBytes(input, swapped);
        }
      }
    }
    // complex128: real and imaginary float64 swapped separately.
    expect(run(() => byteSwap(Uint8Array.from({ length: 16 }, (_, i) => i), 16))).toEqual(
      Uint8Array.from([7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8]),
    );
    // A big-endian float64 read through DataView equals the native value after the swap.
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, Math.PI, false);
    expect(new Float64Array(run(() => byteSwap(new Uint8Array(view.buffer), 8)).buffer)[0]).toBe(Math.PI);
  });

  it("byteSwap refuses bad element sizes and partial elements with a coded error", () => {
    expect(() => run(() => byteSwap(new Uint8Array(6), 4))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => run(() => byteSwap(new Uint8Array(6), 3 as 2))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => run(() => byteSwap("abc" as unknown as Uint8Array, 2))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });

  it("float16ToFloat32 decodes known values exactly (values from numpy's float16 table)", () => {
    const halves = new Uint16Array([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x7c00, 0xfc00, 0x7e00]);
    const out = run(() => float16ToFloat32(halves));
    expect(Array.from(out.subarray(0, 11))).toEqual([0, -0, 1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 0.333251953125, Infinity, -Infinity]);
    expect(Object.is(out[1], -0)).toBe(true);
    expect(Number.isNaN(out[11])).toBe(true);
  });

  it("float16ToFloat32 matches the IEEE definition for every one of the 65536 bit patterns", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const out = run(() => float16ToFloat32(all));
    for (let half = 0; half < 65536; half++) {
      const sign = half >> 15 ? -1 : 1;
      const exponent = (half >> 10) & 0x1f;
      const mantissa = half & 0x3ff;
      const expected =
        exponent === 31 ? (mantissa ? NaN : sign * Infinity) : exponent === 0 ? sign * mantissa * 2 ** -24 : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
      if (!Object.is(out[half], expected)) expect(out[half], `half 0x${half.toString(16)}`).toBe(expected);
    }
  });

  it("float16ToFloat32 and float64ToFloat32 accept raw bytes at unaligned offsets", () => {
    for (const count of [0, 1, 7, 1000]) {
      const bytes = unalignedBytes(count * 8, 3);
      const aligned = new Float64Array(bytes.slice().buffer);
      expectSameBytes(run(() => float64ToFloat32(bytes)), run(() => float64ToFloat32(aligned)));
      const halves = unalignedBytes(count * 2, 1);
      expectSameBytes(run(() => float16ToFloat32(halves)), run(() => float16ToFloat32(new Uint16Array(halves.slice().buffer))));
    }
    expect(() => run(() => float16ToFloat32(new Uint8Array(3)))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => run(() => float64ToFloat32(new Uint8Array(12)))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });

  it("float64ToFloat32 rounds like Math.fround (nearest-even, overflow to Infinity)", () => {
    fc.assert(
      fc.property(fc.float64Array({ maxLength: 64 }), (values) => {
        const out = run(() => float64ToFloat32(values));
        expect(Array.from(out)).toEqual(Array.from(values, (value) => Math.fround(value)));
      }),
    );
    expect(Array.from(run(() => float64ToFloat32(new Float64Array([1 + 2 ** -24, 1 + 3 * 2 ** -24, 1e39, -1e-50]))))).toEqual([1, 1 + 2 ** -22, Infinity, -0]);
  });

  it("interleavedToPlanar / planarToInterleaved split and join complex values, both float widths", () => {
    for (const Type of [Float32Array, Float64Array]) {
      for (const count of [0, 1, 5, 333]) {
        const interleaved = new Type(Array.from({ length: 2 * count }, () => Math.random() * 100 - 50));
        const { real, imaginary } = run(() => interleavedToPlanar(interleaved));
        expect(real).toBeInstanceOf(Type);
        expect(Array.from(real)).toEqual(Array.from(interleaved).filter((_, i) => i % 2 === 0));
        expect(Array.from(imaginary)).toEqual(Array.from(interleaved).filter((_, i) => i % 2 === 1));
        expect(run(() => planarToInterleaved(real, imaginary))).toEqual(interleaved);
      }
    }
    expect(() => run(() => interleavedToPlanar(new Float64Array(3)))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => run(() => planarToInterleaved(new Float64Array(2), new Float32Array(2) as unknown as Float64Array))).toThrow(
      expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }),
    );
    expect(() => run(() => planarToInterleaved(new Float64Array(2), new Float64Array(3)))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });

  it("fortranToC transposes a 2-D array (numpy: np.asfortranarray([[1,2,3],[4,5,6]]) stores 1,4,2,5,3,6)", () => {
    expect(Array.from(run(() => fortranToC(new Uint8Array([1, 4, 2, 5, 3, 6]), [2, 3], 1)))).toEqual([1, 2, 3, 4, 5, 6]);
    // A (2,3,4) int16 array: in Fortran order element (i,j,k) sits at i + 2j + 6k; C order wants 12i + 4j + k.
    const fortran = new Int16Array(24);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) fortran[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
    const c = new Int16Array(run(() => fortranToC(fortran, [2, 3, 4], 2)).buffer);
    expect(Array.from(c)).toEqual(Array.from({ length: 24 }, (_, n) => 100 * Math.floor(n / 12) + 10 * (Math.floor(n / 4) % 3) + (n % 4)));
  });

  it("fortranToC matches a direct index computation for random shapes, item sizes and offsets", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 4 }),
        fc.constantFrom(1, 2, 3, 4, 8, 12, 16),
        fc.integer({ min: 0, max: 7 }),
        (shape, itemSize, offset) => {
          const count = shape.reduce((a, b) => a * b, 1);
          const input = unalignedBytes(count * itemSize, offset);
          const out = run(() => fortranToC(input, shape, itemSize));
          // Reference: for each C-order flat index, decompose it and read the Fortran-order element.
          const expected = new Uint8Array(count * itemSize);
          for (let flat = 0; flat < count; flat++) {
            let rest = flat;
            let fortranOffset = 0;
            const index = new Array<number>(shape.length);
            for (let axis = shape.length - 1; axis >= 0; axis--) {
              index[axis] = rest % shape[axis]!;
              rest = Math.floor(rest / shape[axis]!);
            }
            for (let axis = shape.length - 1; axis >= 0; axis--) fortranOffset = fortranOffset * shape[axis]! + index[axis]!;
            expected.set(input.subarray(fortranOffset * itemSize, (fortranOffset + 1) * itemSize), flat * itemSize);
          }
          expectSameBytes(out, expected);
        },
      ),
      { numRuns: 200 },
    );
    expect(() => run(() => fortranToC(new Uint8Array(5), [2, 3], 1))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => run(() => fortranToC(new Uint8Array(6), [2, -3], 1))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });

  it("crc32 gives zlib's check values", () => {
    expect(run(() => crc32(new TextEncoder().encode("123456789")))).toBe(0xcbf43926);
    expect(run(() => crc32(new TextEncoder().encode("The quick brown fox jumps over the lazy dog")))).toBe(0x414fa339);
    expect(run(() => crc32(new Uint8Array(0)))).toBe(0);
    // Empty data continues nothing: the previous value comes back unchanged (zip readers rely on it).
    expect(run(() => crc32(new Uint8Array(0), 0xdeadbeef))).toBe(0xdeadbeef);
    expect(run(() => crc32(new Uint8Array(new ArrayBuffer(16), 16, 0), 7))).toBe(7);
  });

  it("crc32 equals node:zlib's on any bytes, offset and previous value, and continues across any split", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(600), fc.nat(15), fc.nat(0xffffffff), (data, split, offset, previous) => {
        const cut = Math.min(split, data.length);
        const shifted = new Uint8Array(data.length + offset);
        shifted.set(data, offset);
        const view = shifted.subarray(offset);
        const whole = run(() => crc32(view, previous));
        expect(whole).toBe(data.length === 0 ? previous : zlibCrc32(data, previous) >>> 0);
        expect(run(() => crc32(view.subarray(cut), crc32(view.subarray(0, cut), previous)))).toBe(whole);
      }),
      { numRuns: 300 },
    );
    // Past 1 MiB, unaligned, any view type and an ArrayBuffer: the same bytes give the same CRC.
    const large = unalignedBytes((1 << 20) + 77, 3);
    expect(run(() => crc32(large))).toBe(zlibCrc32(large) >>> 0);
    const aligned = large.slice(0, 1 << 20);
    expect(run(() => crc32(new Float64Array(aligned.buffer)))).toBe(zlibCrc32(aligned) >>> 0);
    expect(run(() => crc32(aligned.buffer))).toBe(zlibCrc32(aligned) >>> 0);
  });

  it("crc32 refuses a previous value that is not an unsigned 32-bit integer, and non-byte data", () => {
    for (const previous of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => run(() => crc32(new Uint8Array(4), previous))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT", message: expect.stringContaining("previous") }));
    }
    expect(() => run(() => crc32("abc" as unknown as Uint8Array))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });
});

describe.each(implementations)("decode kernels, async forms (%s)", (_name, binding) => {
  const run = <T>(body: () => T): T => withBinding(binding, body);

  it("give the same results as the sync forms, and the same coded errors", async () => {
    const bytes = unalignedBytes(6 * 1024 * 1024, 3);
    expectSameBytes(await run(() => byteSwapAsync(bytes, 8)), run(() => byteSwap(bytes, 8)));
    expectSameBytes(await run(() => float16ToFloat32Async(bytes)), run(() => float16ToFloat32(bytes)));
    expectSameBytes(await run(() => float64ToFloat32Async(bytes)), run(() => float64ToFloat32(bytes)));
    expectSameBytes(await run(() => fortranToCAsync(bytes, [1024, 3, 512], 4)), run(() => fortranToC(bytes, [1024, 3, 512], 4)));
    expect(await run(() => crc32Async(bytes, 7))).toBe(zlibCrc32(bytes, 7) >>> 0);
    expect(() => run(() => crc32Async(bytes, -1))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    const complex = new Float32Array(bytes.slice().buffer);
    const planar = await run(() => interleavedToPlanarAsync(complex));
    expectSameBytes(planar.real, run(() => interleavedToPlanar(complex)).real);
    expectSameBytes(await run(() => planarToInterleavedAsync(planar.real, planar.imaginary)), complex);
    const inPlace = bytes.slice();
    expect((await run(() => byteSwapAsync(inPlace, 4, { inPlace: true }))).buffer).toBe(inPlace.buffer);
    expectSameBytes(inPlace, run(() => byteSwap(bytes, 4)));
    expect(() => run(() => byteSwapAsync(new Uint8Array(3), 2))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  }, 60_000);
});

describe("decode kernels: native and fallback agree on random input", () => {
  it.skipIf(noNative)("for odd lengths and unaligned offsets", () => {
    for (const length of [0, 1, 2, 7, 31, 64, 1023, 4099]) {
      for (const offset of [0, 1, 5]) {
        const bytes = unalignedBytes(length * 16, offset);
        const both = <T>(body: () => T): [T, T] => [withBinding(null, body), withBinding(native, body)];
        for (const size of [2, 4, 8, 16] as const) {
          const [a, b] = both(() => byteSwap(bytes, size));
          expectSameBytes(b, a);
        }
        const [h1, h2] = both(() => float16ToFloat32(bytes));
        expectSameBytes(h2, h1);
        const [f1, f2] = both(() => float64ToFloat32(bytes));
        expectSameBytes(f2, f1);
        const [t1, t2] = both(() => fortranToC(bytes, [length, 4], 4));
        expectSameBytes(t2, t1);
        const [c1, c2] = both(() => crc32(bytes, 12345));
        expect(c2).toBe(c1);
      }
    }
  });
});

describe("decode kernels: float16 NaN payloads, infinities and subnormals", () => {
  it.skipIf(noNative)("native and fallback agree bit for bit on every half, at every alignment and tail length", () => {
    // Every pattern, twice over in shuffled order, so sNaN/qNaN/Inf/subnormal halves sit at every lane of
    // the native kernel's 16-wide loop; then cut at odd lengths and unaligned byte offsets.
    const patterns = Uint16Array.from({ length: 2 * 65536 }, (_, i) => (i < 65536 ? i : (i * 40503) & 0xffff));
    for (const offset of [0, 1, 3]) {
      const backing = new Uint8Array(patterns.byteLength + offset);
      backing.set(new Uint8Array(patterns.buffer), offset);
      for (const length of [2 * 65536, 65536 + 15, 4097, 33, 16, 15, 1]) {
        const bytes = backing.subarray(offset, offset + 2 * length);
        const fallback = withBinding(null, () => float16ToFloat32(bytes));
        expectSameBytes(withBinding(native, () => float16ToFloat32(bytes)), fallback);
      }
    }
    // Signalling NaNs stay signalling (numpy: 0x7c01 → 0x7f802000), quiet ones keep their payload.
    const nans = new Uint32Array(withBinding(native, () => float16ToFloat32(new Uint16Array([0x7c01, 0xfd55, 0x7e00, 0x7fff, ...new Array(12).fill(0x7c01)]))).buffer);
    expect(Array.from(nans.subarray(0, 4), (bits) => bits.toString(16))).toEqual(["7f802000", "ffaaa000", "7fc00000", "7fffe000"]);
    expect(nans[15]).toBe(0x7f802000);
  });
});

describe("decode kernels: large arrays (split across threads natively) match the fallback", () => {
  it.skipIf(noNative)("byteSwap, float16/float64 → float32, complex split/join and fortranToC on 12 MiB", () => {
    const bytes = unalignedBytes(12 * 1024 * 1024, 1);
    const both = <T>(body: () => T): [T, T] => [withBinding(null, body), withBinding(native, body)];
    for (const size of [2, 8, 16] as const) {
      const [a, b] = both(() => byteSwap(bytes, size));
      expectSameBytes(b, a);
    }
    const [h1, h2] = both(() => float16ToFloat32(bytes));
    expectSameBytes(h2, h1);
    const [f1, f2] = both(() => float64ToFloat32(bytes));
    expectSameBytes(f2, f1);
    const complex = new Float64Array(bytes.slice().buffer);
    const [p1, p2] = both(() => interleavedToPlanar(complex));
    expectSameBytes(p2.real, p1.real);
    expectSameBytes(p2.imaginary, p1.imaginary);
    expectSameBytes(withBinding(native, () => planarToInterleaved(p2.real, p2.imaginary)), complex);
    const [t1, t2] = both(() => fortranToC(bytes, [3 * 1024, 1024, 2], 2));
    expectSameBytes(t2, t1);
    // complex64 planes (the native kernel streams outputs of 4 MiB and more past the caches), into new
    // arrays and into planes that start 4 bytes past a 32-byte boundary.
    const complex64 = new Float32Array(bytes.slice().buffer);
    const [q1, q2] = both(() => interleavedToPlanar(complex64));
    expectSameBytes(q2.real, q1.real);
    expectSameBytes(q2.imaginary, q1.imaginary);
    const offsetPlanes = { real: new Float32Array(new ArrayBuffer(bytes.length / 2 + 64), 4, bytes.length / 8), imaginary: new Float32Array(new ArrayBuffer(bytes.length / 2 + 64), 4, bytes.length / 8) };
    withBinding(native, () => interleavedToPlanar(complex64, { into: offsetPlanes }));
    expectSameBytes(offsetPlanes.real, q1.real);
    expectSameBytes(offsetPlanes.imaginary, q1.imaginary);
    const doubles = new Float64Array(bytes.slice(0, 8 << 20).buffer).map((value) => (Number.isNaN(value) ? 0.5 : value));
    const offsetFloats = new Float32Array(new ArrayBuffer((4 << 20) + 64), 12, 1 << 20);
    withBinding(native, () => float64ToFloat32(doubles, { into: offsetFloats }));
    expectSameBytes(offsetFloats, Float32Array.from(doubles));
  }, 60_000);
});
