/**
 * Property tests: arrays written by saveNpz / encodeNpy read back identical (values, dtype, shape and
 * content hash), and random corruption of the bytes never crashes or hangs the readers.
 */
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { hasErrorCode } from "@studykit/native";
import { arraySha256, arraysSnapshotHash, datasetSnapshotHash } from "./content-hash.js";
import type { ArrayInput, NdArray } from "./ndarray.js";
import { encodeNpy, loadNpy, parseNpy } from "./npy.js";
import { loadNpz, openNpz, saveNpz } from "./npz.js";

const directory = mkdtempSync(join(tmpdir(), "studykit-npz-test-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const shapeArbitrary = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 });
const order = fc.constantFrom("<", ">");

/** A random array of a random supported dtype and byte order, in C or Fortran order. */
const arrayArbitrary: fc.Arbitrary<ArrayInput> = fc
  .record({ shape: shapeArbitrary, fortran: fc.boolean(), kind: fc.constantFrom("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1", "c8", "c16", "U", "S"), order })
  .chain(({ shape, fortran, kind, order: byteOrder }) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const base = { shape, order: fortran ? ("F" as const) : ("C" as const) };
    const bytes = (size: number) => fc.uint8Array({ minLength: count * size, maxLength: count * size });
    switch (kind) {
      case "f2":
        return bytes(2).map((b) => ({ ...base, dtype: `${byteOrder}f2`, data: new Uint16Array(b.buffer) }));
      case "f4":
        return bytes(4).map((b) => ({ ...base, dtype: `${byteOrder}f4`, data: new Float32Array(b.buffer) }));
      case "f8":
        return bytes(8).map((b) => ({ ...base, dtype: `${byteOrder}f8`, data: new Float64Array(b.buffer) }));
      case "c8":
        return bytes(8).map((b) => ({ ...base, dtype: `${byteOrder}c8`, complex: true, data: new Float32Array(b.buffer) }));
      case "c16":
        return bytes(16).map((b) => ({ ...base, dtype: `${byteOrder}c16`, complex: true, data: new Float64Array(b.buffer) }));
      case "i1":
        return bytes(1).map((b) => ({ ...base, dtype: "|i1", data: new Int8Array(b.buffer) }));
      case "u1":
        return bytes(1).map((b) => ({ ...base, dtype: "|u1", data: b }));
      case "b1":
        return bytes(1).map((b) => ({ ...base, dtype: "|b1", data: b.map((v) => v & 1) }));
      case "i2":
        return bytes(2).map((b) => ({ ...base, dtype: `${byteOrder}i2`, data: new Int16Array(b.buffer) }));
      case "u2":
        return bytes(2).map((b) => ({ ...base, dtype: `${byteOrder}u2`, data: new Uint16Array(b.buffer) }));
      case "i4":
        return bytes(4).map((b) => ({ ...base, dtype: `${byteOrder}i4`, data: new Int32Array(b.buffer) }));
      case "u4":
        return bytes(4).map((b) => ({ ...base, dtype: `${byteOrder}u4`, data: new Uint32Array(b.buffer) }));
      case "i8":
        return bytes(8).map((b) => ({ ...base, dtype: `${byteOrder}i8`, data: new BigInt64Array(b.buffer) }));
      case "u8":
        return bytes(8).map((b) => ({ ...base, dtype: `${byteOrder}u8`, data: new BigUint64Array(b.buffer) }));
      case "U": {
        // numpy strips trailing NULs from strings, so generated strings never end with one.
        const text = fc.string({ unit: "binary", maxLength: 5 }).filter((s) => !s.endsWith("\0"));
        return fc.tuple(fc.array(text, { minLength: count, maxLength: count }), fc.integer({ min: 0, max: 2 })).map(([data, extra]) => {
          const longest = Math.max(1, ...data.map((s) => [...s].length));
          return { ...base, dtype: `${byteOrder}U${longest + extra}`, data };
        });
      }
      default: {
        const text = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)), maxLength: 4 }).filter((s) => !s.endsWith("\0"));
        return fc.array(text, { minLength: count, maxLength: count }).map((data) => ({ ...base, dtype: `|S4`, data }));
      }
    }
  });

function rawBytes(array: ArrayInput | NdArray): string {
  const data = array.data;
  if (Array.isArray(data)) return JSON.stringify(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}

function expectSame(read: NdArray, written: ArrayInput): void {
  expect(read.dtype).toBe(written.dtype);
  expect(read.shape).toEqual(written.shape);
  expect(rawBytes(read)).toBe(rawBytes(written));
}

describe("write then read (property)", () => {
  it("encodeNpy → parseNpy gives back identical elements, dtype, shape and hash", () => {
    fc.assert(
      fc.property(arrayArbitrary, (array) => {
        const kept = parseNpy(encodeNpy(array), { raw: true, keepFortranOrder: true });
        expectSame(kept, array);
        expect(kept.order).toBe(array.order === "F" && array.shape!.length > 1 ? "F" : "C");
        const converted = parseNpy(encodeNpy(array), { raw: true });
        expect(converted.order).toBe("C");
        expect(arraySha256(converted)).toBe(arraySha256(array));
        expect(arraySha256(kept)).toBe(arraySha256(array));
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it("saveNpz → loadNpz, stored and compressed, gives identical arrays and the same snapshot hash", () => {
    let file = 0;
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/), arrayArbitrary, { minKeys: 1, maxKeys: 4 }), fc.boolean(), (arrays, compress) => {
        const path = join(directory, `round-${file++}.npz`);
        saveNpz(path, arrays, { compress });
        const read = loadNpz(path, { raw: true, keepFortranOrder: true });
        expect(Object.keys(read).sort()).toEqual(Object.keys(arrays).sort());
        for (const [name, array] of Object.entries(arrays)) expectSame(read[name]!, array);
        expect(datasetSnapshotHash(path)).toBe(arraysSnapshotHash(arrays));
      }),
      { numRuns: 60 },
    );
  }, 60_000);

  it("gives the same snapshot hash whatever the storage: compressed, big-endian, Fortran order", () => {
    const values = Float64Array.from({ length: 12 }, (_, index) => index * 1.5 - 3);
    const fortran = new Float64Array(12);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) fortran[j * 3 + i] = values[i * 4 + j]!;
    const variants: [string, Record<string, ArrayInput>, boolean][] = [
      ["plain", { x: { data: values, shape: [3, 4] } }, false],
      ["compressed", { x: { data: values, shape: [3, 4] } }, true],
      ["big-endian", { x: { data: values, shape: [3, 4], dtype: ">f8" } }, false],
      ["fortran", { x: { data: fortran, shape: [3, 4], order: "F" } }, true],
    ];
    const hashes = variants.map(([name, arrays, compress]) => {
      const path = join(directory, `variant-${name}.npz`);
      saveNpz(path, arrays, { compress });
      return datasetSnapshotHash(path);
    });
    expect(new Set(hashes).size).toBe(1);
  });

  it("aligns the data of stored members on 64 bytes", () => {
    const path = join(directory, "aligned.npz");
    saveNpz(path, { a: { data: new Float64Array(3) }, much_longer_name: { data: new Int32Array(5) }, c: { data: ["x"] } });
    const npz = openNpz(path);
    try {
      for (const name of npz.names) expect(npz.describe(name).fileDataOffset! % 64).toBe(0);
    } finally {
      npz.close();
    }
  });
});

/** Reads everything a file holds; returns normally or throws. */
function readAll(bytes: Uint8Array, kind: "npy" | "npz"): void {
  if (kind === "npy") {
    parseNpy(bytes);
    return;
  }
  const npz = openNpz(bytes);
  for (const name of npz.names) {
    npz.describe(name);
    npz.get(name);
  }
}

const corruption = fc.array(
  fc.oneof(
    fc.record({ type: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ type: fc.constant("word" as const), at: fc.nat(), value: fc.nat({ max: 0xffffffff }) }),
    fc.record({ type: fc.constant("truncate" as const), at: fc.nat(), value: fc.constant(0) }),
  ),
  { minLength: 1, maxLength: 4 },
);

function corrupt(original: Uint8Array, edits: { type: "flip" | "word" | "truncate"; at: number; value: number }[]): Uint8Array {
  let bytes = Uint8Array.from(original);
  for (const edit of edits) {
    if (bytes.length === 0) break;
    const at = edit.at % bytes.length;
    if (edit.type === "flip") bytes[at] = bytes[at]! ^ edit.value;
    else if (edit.type === "truncate") bytes = bytes.slice(0, at);
    else for (let index = 0; index < 4 && at + index < bytes.length; index++) bytes[at + index] = (edit.value >>> (8 * index)) & 0xff;
  }
  return bytes;
}

describe("random corruption (property)", () => {
  const sample: Record<string, ArrayInput> = {
    floats: { data: Float32Array.from({ length: 24 }, (_, i) => i / 3), shape: [2, 3, 4] },
    big: { data: BigInt64Array.from({ length: 5 }, (_, i) => BigInt(i) << 40n), dtype: ">i8" },
    text: { data: ["ab", "cdé", ""] },
    fortran: { data: Float64Array.from({ length: 6 }, (_, i) => i), shape: [2, 3], order: "F" },
  };
  const stored = join(directory, "corrupt-stored.npz");
  const compressed = join(directory, "corrupt-compressed.npz");
  saveNpz(stored, sample);
  saveNpz(compressed, sample, { compress: true });
  const inputs: [string, Uint8Array, "npy" | "npz"][] = [
    ["stored npz", readFileSync(stored), "npz"],
    ["compressed npz", readFileSync(compressed), "npz"],
    ["npy", encodeNpy(sample.floats!), "npy"],
    ["string npy", encodeNpy(sample.text!), "npy"],
  ];
  for (const [label, original, kind] of inputs) {
    it(`never crashes or hangs on a corrupted ${label}: it returns arrays or throws a coded error`, () => {
      fc.assert(
        fc.property(corruption, (edits) => {
          const bytes = corrupt(original, edits);
          try {
            readAll(bytes, kind);
          } catch (error) {
            if (!hasErrorCode(error)) throw error;
          }
        }),
        { numRuns: 400 },
      );
    }, 60_000);
  }
});

describe("writer inputs", () => {
  it("accepts bare TypedArrays and string arrays as 1-D arrays, and lists names like numpy's NpzFile.files", () => {
    const path = join(directory, "bare.npz");
    saveNpz(path, { a: Float32Array.of(1, 2), b: ["x", "yz"], c: BigInt64Array.of(-1n) });
    const npz = openNpz(path);
    try {
      expect(npz.files).toEqual(["a", "b", "c"]);
      expect(npz.get("a")).toMatchObject({ dtype: "<f4", shape: [2], key: "a" });
      expect(npz.get("b")).toMatchObject({ dtype: "<U2", data: ["x", "yz"] });
      expect(npz.get("c").data).toEqual(BigInt64Array.of(-1n));
      expect(() => npz.get("d")).toThrow(expect.objectContaining({ code: "E_NPZ_MEMBER_MISSING" }));
    } finally {
      npz.close();
    }
    expect(arraySha256(Float32Array.of(1, 2))).toBe(arraySha256({ data: Float32Array.of(1, 2), dtype: ">f4" }));
  });

  it("refuses data that does not fit its shape or dtype, leaving no file behind", () => {
    const path = join(directory, "refused.npz");
    expect(() => saveNpz(path, { a: { data: Float32Array.of(1, 2, 3), shape: [2, 2] } })).toThrow(expect.objectContaining({ code: "E_DATA_ARGUMENT" }));
    expect(() => saveNpz(path, { a: { data: Float32Array.of(1), dtype: "<i4" } })).toThrow(/needs a Int32Array/);
    expect(() => saveNpz(path, { a: { data: ["toolong"], dtype: "<U3" } })).toThrow(/longer than <U3/);
    expect(() => readFileSync(path)).toThrow();
  });
});

// Reads of 1 MiB or more land in huge-page-backed native memory (see internal/byte-source.ts): the
// arrays must still hold the file's values, view aligned memory, and fail the CRC check when damaged.
describe("large members (huge-page-backed reads)", () => {
  const doubles = Float64Array.from({ length: 300_003 }, (_, i) => Math.sin(i) * 1e3);
  const swapped = Float32Array.from({ length: 400_001 }, (_, i) => i / 7);
  // Byte comparison: vitest's deep equality takes seconds on arrays this long.
  const bytesOf = (array: unknown): Buffer => {
    const view = array as ArrayBufferView;
    return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  };

  it("stored npz members and npy files over 1 MiB read back exactly", () => {
    const path = join(directory, "large.npz");
    saveNpz(path, { doubles: { data: doubles, shape: [3, 100_001] }, swapped: { data: swapped, dtype: ">f4" } });
    const arrays = loadNpz(path);
    expect(arrays.doubles!.shape).toEqual([3, 100_001]);
    expect(arrays.doubles!.data).toBeInstanceOf(Float64Array);
    expect(bytesOf(arrays.doubles!.data).equals(bytesOf(doubles))).toBe(true);
    expect(arrays.swapped!.data).toBeInstanceOf(Float32Array);
    expect(bytesOf(arrays.swapped!.data).equals(bytesOf(swapped))).toBe(true);
    const npyPath = join(directory, "large.npy");
    writeFileSync(npyPath, encodeNpy({ data: doubles }));
    const loaded = loadNpy(npyPath);
    expect(loaded.data).toBeInstanceOf(Float64Array);
    expect((loaded.data as Float64Array).byteOffset % 8).toBe(0);
    expect(bytesOf(loaded.data).equals(bytesOf(doubles))).toBe(true);
  });

  it("a damaged byte deep inside a large stored member fails the CRC-32 check", () => {
    const path = join(directory, "large-damaged.npz");
    saveNpz(path, { doubles });
    const npz = openNpz(path);
    const offset = npz.describe("doubles").fileDataOffset!;
    npz.close();
    const bytes = readFileSync(path);
    bytes[offset + 2_000_001] ^= 0x40;
    writeFileSync(path, bytes);
    const damaged = openNpz(path);
    try {
      expect(() => damaged.get("doubles")).toThrow(expect.objectContaining({ code: "E_ZIP_CRC" }));
    } finally {
      damaged.close();
    }
  });
});
