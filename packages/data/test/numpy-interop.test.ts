/**
 * Files written by saveNpy / saveNpz must be read back bit-exactly by numpy's own `np.load`. Runs the
 * first python3 with numpy (PATH's, then Debian's); skipped with a message where there is none, failed under CI.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { arraySha256, saveNpy, saveNpz, type ArrayInput } from "../src/index.js";
import { findPython, pythonDependency, skipWithout } from "../../../tools/test-dependencies.js";

const python = findPython("numpy");
const noNumpy = skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"]));

const directory = mkdtempSync(join(tmpdir(), "studykit-interop-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Loads each file with np.load and reports dtype, shape, order and the bytes numpy holds. */
const READER = `
import hashlib, json, sys
import numpy as np
def le(a, order):
    a = np.asarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    if a.dtype.kind == "b":
        a = a.view(np.uint8)
    return a.tobytes(order=order)
out = {}
for path in sys.argv[1:]:
    loaded = np.load(path, allow_pickle=False)
    items = loaded.items() if hasattr(loaded, "files") else [("", loaded)]
    report = {}
    for name, a in items:
        fortran = bool(a.flags.f_contiguous and not a.flags.c_contiguous and a.ndim > 1)
        entry = {"dtype": a.dtype.str, "shape": list(a.shape), "fortran": fortran,
                 "bytes": le(a, "F" if fortran else "C").hex(), "sha256": hashlib.sha256(le(a, "C")).hexdigest()}
        if a.dtype.kind in "US":
            entry["strings"] = [s if a.dtype.kind == "U" else s.decode("latin1") for s in np.asarray(a).reshape(-1, order="F" if fortran else "C").tolist()]
        report[name] = entry
    if hasattr(loaded, "files") and "half" in loaded.files:
        report["half"]["matchesNumpyRounding"] = bool(np.array_equal(loaded["half"].view("<u2"), loaded["half_source"].astype("<f2").view("<u2")))
    out[path] = report
print(json.dumps(out))
`;

interface NumpyReport {
  dtype: string;
  shape: number[];
  fortran: boolean;
  bytes: string;
  sha256: string;
  strings?: string[];
  matchesNumpyRounding?: boolean;
}

function numpyLoad(paths: string[]): Record<string, Record<string, NumpyReport>> {
  const result = spawnSync(python!, ["-c", READER, ...paths], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`np.load failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, Record<string, NumpyReport>>;
}

function inputBytes(array: ArrayInput): string {
  const data = array.data as ArrayBufferView;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}

const halfSource = Float32Array.of(0, -0, 1, 1.0009765625, 1.00048828125, 1.000732421875, 65504, 65520, 1e-8, 5.960464477539063e-8, 3e-5, -7.5, Infinity, NaN);
const arrays: Record<string, ArrayInput> = {
  f8: { data: Float64Array.of(1.5, -0, Number.MAX_VALUE, Number.MIN_VALUE, NaN, -Infinity), shape: [2, 3] },
  f8_be: { data: Float64Array.of(1.5, -2.25, 3), dtype: ">f8" },
  f4_be_fortran: { data: Float32Array.from({ length: 12 }, (_, i) => i * 0.5), shape: [3, 4], dtype: ">f4", order: "F" },
  half: { data: halfSource, dtype: "<f2" },
  half_source: { data: halfSource },
  half_be_raw: { data: Uint16Array.of(0x3c00, 0x7e00, 0x0001, 0xfbff), dtype: ">f2" },
  i1: { data: Int8Array.of(-128, 127, 0) },
  i2_be: { data: Int16Array.of(-32768, 32767, 1), dtype: ">i2" },
  i4: { data: Int32Array.of(-(2 ** 31), 2 ** 31 - 1), shape: [2, 1] },
  i8_be: { data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 42n), dtype: ">i8" },
  u1: { data: Uint8Array.of(0, 255) },
  u2: { data: Uint16Array.of(65535, 1), dtype: ">u2" },
  u4: { data: Uint32Array.of(4294967295, 7) },
  u8: { data: BigUint64Array.of(2n ** 64n - 1n, 0n), dtype: ">u8" },
  b1: { data: Uint8Array.of(1, 0, 1, 1), dtype: "|b1", shape: [2, 2] },
  c8: { data: Float32Array.of(1, 2, -3, 4.5), complex: true },
  c16_be: { data: Float64Array.of(1, -1, 0.25, 1e300, NaN, 0), complex: true, dtype: ">c16", shape: [3] },
  c16_fortran: { data: Float64Array.from({ length: 12 }, (_, i) => i), complex: true, shape: [2, 3], order: "F" },
  unicode: { data: ["", "abc", "héllo", "😀"], dtype: "<U6" },
  unicode_be: { data: ["xy", "Ω"], dtype: ">U2" },
  bytes: { data: ["ab", "\u00ff\u0001", ""], dtype: "|S3" },
  scalar: { data: Float64Array.of(2.5), shape: [] },
  scalar_text: { data: ["only"], shape: [] },
  empty: { data: new Float32Array(0), shape: [0, 3] },
  empty_fortran: { data: new Int16Array(0), shape: [4, 0], order: "F" },
};

describe.skipIf(noNumpy)("np.load reads what studykit writes", { timeout: 120_000 }, () => {
  it("bit-exactly, for every dtype, byte order, layout, stored and compressed, npz and npy", () => {
    const stored = join(directory, "stored.npz");
    const compressed = join(directory, "compressed.npz");
    saveNpz(stored, arrays);
    saveNpz(compressed, arrays, { compress: true });
    const npyPaths = Object.keys(arrays).map((name) => join(directory, `${name}.npy`));
    Object.values(arrays).forEach((array, index) => saveNpy(npyPaths[index]!, array));
    const reports = numpyLoad([stored, compressed, ...npyPaths]);
    for (const [file, byName] of Object.entries(reports)) {
      const entries = file.endsWith(".npz") ? Object.entries(byName) : [[file.slice(directory.length + 1, -4), byName[""]!] as const];
      expect(entries.length, file).toBe(file.endsWith(".npz") ? Object.keys(arrays).length : 1);
      for (const [name, report] of entries) {
        const array = arrays[name]!;
        const label = `${file}:${name}`;
        const expectedDtype = array.dtype ?? { f8: "<f8", half_source: "<f4", i1: "|i1", i4: "<i4", u1: "|u1", u4: "<u4", c8: "<c8", c16_fortran: "<c16", scalar: "<f8", scalar_text: "<U4", empty: "<f4", empty_fortran: "<i2" }[name];
        expect(report.dtype, label).toBe(expectedDtype);
        expect(report.shape, label).toEqual(array.shape ? [...array.shape] : [(array.data as { length: number }).length / (array.complex ? 2 : 1)]);
        // numpy calls an array Fortran-only when it is not also C-contiguous (two or more axes longer than 1).
        const shape = array.shape ?? [];
        const fortranOnly = array.order === "F" && shape.filter((size) => size > 1).length >= 2 && !shape.includes(0);
        expect(report.fortran, label).toBe(fortranOnly);
        if (Array.isArray(array.data)) expect(report.strings, label).toEqual(array.data);
        else if (name !== "half") expect(report.bytes, label).toBe(inputBytes(array));
        if (name !== "half") expect(report.sha256, label).toBe(arraySha256(array));
        if (name === "half" && file.endsWith(".npz")) expect(report.matchesNumpyRounding, label).toBe(true);
      }
    }
  });
});
