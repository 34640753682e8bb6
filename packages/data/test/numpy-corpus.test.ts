/**
 * The numpy-written fixture corpus (tools/generate-npy-fixtures.py): every file is read and compared with
 * what numpy recorded in expected.json (values as little-endian bytes, strings, content and snapshot
 * hashes), and every hostile file must fail with its error code.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hasErrorCode } from "@studykit/native";
import { arraySha256, datasetSnapshotHash, loadNpy, openNpz, readNpyInfo, type NdArray } from "../src/index.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

interface ExpectedArray {
  dtype: string;
  shape: number[];
  fortranOrder: boolean;
  le: string;
  sha256: string;
  f32?: string;
  strings?: string[];
  compressed?: boolean;
}
type ExpectedFile =
  | { kind: "npy"; note: string; array: ExpectedArray; snapshot: string }
  | { kind: "npz"; note: string; arrays: Record<string, ExpectedArray>; snapshot: string }
  | { kind: "npy" | "npz"; note: string; error: string };

const corpus = JSON.parse(readFileSync(join(fixtures, "expected.json"), "utf8")) as { files: Record<string, ExpectedFile> };
const entries = Object.entries(corpus.files);

function hexOf(array: NdArray): string {
  const data = array.data as ArrayBufferView;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}

function expectArray(actual: NdArray, expected: ExpectedArray): void {
  expect(actual.dtype).toBe(expected.dtype);
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.order).toBe("C");
  if (expected.strings) expect(actual.data).toEqual(expected.strings);
  else if (expected.f32 !== undefined) {
    expect(actual.data).toBeInstanceOf(Float32Array);
    expect(hexOf(actual)).toBe(expected.f32);
  } else expect(hexOf(actual)).toBe(expected.le);
  expect(actual.complex).toBe(expected.dtype.includes("c"));
  expect(arraySha256(actual)).toBe(expected.sha256);
}

function readEverything(path: string, kind: "npy" | "npz", mmap: boolean): void {
  if (kind === "npy") {
    loadNpy(path, { mmap });
    return;
  }
  const npz = openNpz(path, { mmap });
  try {
    for (const name of npz.names) npz.get(name);
  } finally {
    npz.close();
  }
}

describe("numpy fixture corpus", () => {
  it("has the coverage the issue asks for", () => {
    const names = entries.map(([name]) => name);
    expect(entries.filter(([, file]) => "error" in file).length).toBeGreaterThanOrEqual(12);
    for (const needed of ["f2-be.npy", "c16-be.npy", "U6-be.npy", "S4.npy", "b1.npy", "u8-be.npy", "f8-fortran.npy", "version-3.npy", "zero-d-f8.npy", "empty-3x0.npy", "savez.npz", "savez-compressed.npz", "streamed.npz"]) {
      expect(names).toContain(needed);
    }
  });

  for (const [name, file] of entries) {
    const path = join(fixtures, name);
    if ("error" in file) {
      it(`${name} (${file.note}) fails with ${file.error}, read or memory-mapped`, () => {
        for (const mmap of [false, true]) {
          let caught: unknown;
          try {
            readEverything(path, file.kind, mmap);
          } catch (error) {
            caught = error;
          }
          expect(hasErrorCode(caught, file.error), String(caught)).toBe(true);
          expect((caught as Error).message).toContain(name);
        }
      });
    } else if (file.kind === "npy" && "array" in file) {
      it(`${name} (${file.note}) reads as numpy wrote it`, () => {
        expectArray(loadNpy(path), file.array);
        expectArray(loadNpy(path, { mmap: true }), file.array);
        const info = readNpyInfo(path);
        expect(info.fortranOrder).toBe(file.array.fortranOrder);
        expect(datasetSnapshotHash(path)).toBe(file.snapshot);
        if (file.array.fortranOrder) {
          const kept = loadNpy(path, { keepFortranOrder: true });
          expect(kept.order).toBe("F");
          expect(kept.strides[0]).toBe(1);
          expect(arraySha256(kept)).toBe(file.array.sha256);
        }
      });
    } else if (file.kind === "npz" && "arrays" in file) {
      it(`${name} (${file.note}) reads as numpy wrote it`, () => {
        const npz = openNpz(path);
        try {
          expect([...npz.names].sort()).toEqual(Object.keys(file.arrays).sort());
          for (const [key, expected] of Object.entries(file.arrays)) {
            const info = npz.describe(key);
            expect(info.dtype).toBe(expected.dtype);
            expect(info.shape).toEqual(expected.shape);
            expect(info.fortranOrder).toBe(expected.fortranOrder);
            expect(info.compressed).toBe(expected.compressed);
            const array = npz.get(key);
            expect(array.key).toBe(key);
            expectArray(array, expected);
          }
        } finally {
          npz.close();
        }
        expect(datasetSnapshotHash(path)).toBe(file.snapshot);
        const mapped = openNpz(path, { mmap: true });
        for (const [key, expected] of Object.entries(file.arrays)) expectArray(mapped.get(key), expected);
        mapped.close();
      });
    }
  }

  it("refuses a header declaring 10^18 elements from the header alone, before allocating", () => {
    // An attempt to allocate would surface as a RangeError (or an OOM), not as the coded size error.
    expect(() => loadNpy(join(fixtures, "hostile-huge-shape.npy"))).toThrow(expect.objectContaining({ code: "E_NPY_SIZE" }));
    expect(() => loadNpy(join(fixtures, "hostile-huge-shape.npy"))).toThrow(/1000000000000000000/);
    expect(() => loadNpy(join(fixtures, "hostile-huge-2d.npy"))).toThrow(/needs 40000000000 data bytes but only 64 are present/);
  });

  it("names the descr of unsupported dtypes", () => {
    expect(() => loadNpy(join(fixtures, "hostile-datetime.npy"))).toThrow(/<M8\[D\]/);
    expect(() => loadNpy(join(fixtures, "hostile-structured.npy"))).toThrow(/'x'/);
  });
});
