import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findPython, pythonDependency, skipWithout } from "../../../tools/test-dependencies.js";
import { iterateBatches } from "./dataset-bridge.js";
import { loadDataset } from "./dataset.js";
import { openMemmap, type MemmapArray } from "./memmap.js";
import type { NdArray } from "./ndarray.js";
import { loadNpy, saveNpy } from "./npy.js";
import { saveNpz } from "./npz.js";

const directory = mkdtempSync(join(tmpdir(), "studykit-memmap-schema-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const n = 7;
const height = 3;
const width = 4;
// Pattern k, pixel (i, j) holds k·1000 + i·10 + j: every value says where it belongs.
const expectedValue = (k: number, i: number, j: number) => k * 1000 + i * 10 + j;

/** The legacy layout: `diffraction` as (H, W, n), element (i, j, k) at ((i·W + j)·n + k). */
function legacyDiffraction(): Float32Array {
  const data = new Float32Array(height * width * n);
  for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) for (let k = 0; k < n; k++) data[(i * width + j) * n + k] = expectedValue(k, i, j);
  return data;
}

function canonicalDiffraction(): Float32Array {
  const data = new Float32Array(n * height * width);
  for (let k = 0; k < n; k++) for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) data[(k * height + i) * width + j] = expectedValue(k, i, j);
  return data;
}

const otherKeys = {
  xcoords: { data: Float64Array.from({ length: n }, (_, index) => index * 1.5) },
  ycoords: { data: Float64Array.from({ length: n }, (_, index) => -index) },
  objectGuess: { data: new Float32Array(2 * 5 * 6), shape: [5, 6], dtype: "<c8" },
  probeGuess: { data: new Float32Array(2 * 2 * 2), shape: [2, 2], dtype: "<c8" },
};

const bytesOf = (array: NdArray) => {
  const data = array.data as Float32Array;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
};

function withMap<T>(file: string, use: (array: MemmapArray) => T): T {
  const array = openMemmap(file, { schema: "ptycho", key: "diff3d" });
  try {
    return use(array);
  } finally {
    array.close();
  }
}

describe("openMemmap through a schema", () => {
  const legacy = join(directory, "legacy.npz");
  saveNpz(legacy, { ...otherKeys, diffraction: { data: legacyDiffraction(), shape: [height, width, n] } });

  it("maps legacy `diffraction` (H, W, n) by the canonical key as (n, H, W), byte for byte what loadDataset returns", () => {
    const loaded = loadDataset(legacy).arrays["diff3d"]!;
    expect(loaded.shape).toEqual([n, height, width]);
    withMap(legacy, (array) => {
      expect(array.key).toBe("diff3d");
      expect(array.storedKey).toBe("diffraction");
      expect(array.layout).toBe("legacyTranspose");
      expect(array.zeroCopy).toBe(false);
      expect(array.shape).toEqual([n, height, width]);
      const all = array.rows(0, n);
      expect(all.shape).toEqual(loaded.shape);
      expect(all.dtype).toBe(loaded.dtype);
      expect(bytesOf(all).equals(bytesOf(loaded))).toBe(true);
      // Against the ground truth, not only against loadDataset.
      expect(Array.from(all.data as Float32Array)).toEqual(Array.from(canonicalDiffraction()));
      const some = array.gather([6, 0, 6, 3]);
      expect(Array.from(some.data as Float32Array).slice(0, width + 1)).toEqual([6000, 6001, 6002, 6003, 6010]);
      expect(Array.from(array.rows(2, 1).data as Float32Array)).toEqual(Array.from(canonicalDiffraction().subarray(2 * height * width, 3 * height * width)));
    });
  });

  it("maps an alias already in (n, H, W), and drops a trailing singleton axis, as zero-copy views", () => {
    const aliased = join(directory, "alias.npz");
    saveNpz(aliased, { ...otherKeys, diffraction: { data: canonicalDiffraction(), shape: [n, height, width] } });
    const singleton = join(directory, "singleton.npz");
    saveNpz(singleton, { ...otherKeys, diff3d: { data: canonicalDiffraction(), shape: [n, height, width, 1] } });
    for (const file of [aliased, singleton]) {
      const loaded = loadDataset(file).arrays["diff3d"]!;
      withMap(file, (array) => {
        expect(array.layout).toBe("stored");
        expect(array.zeroCopy).toBe(true);
        expect(array.shape).toEqual([n, height, width]);
        expect(bytesOf(array.rows(0, n)).equals(bytesOf(loaded))).toBe(true);
      });
    }
  });

  it("feeds iterateBatches the same batches as the loaded array", () => {
    const loaded = loadDataset(legacy).arrays["diff3d"]!;
    withMap(legacy, (array) => {
      const fromMap = [...iterateBatches({ diff3d: array }, { batchSize: 3, seed: 11, epochs: 2 })];
      const fromLoaded = [...iterateBatches({ diff3d: loaded }, { batchSize: 3, seed: 11, epochs: 2 })];
      expect(fromMap.length).toBe(fromLoaded.length);
      fromMap.forEach((batch, index) => {
        expect(Array.from(batch.samples)).toEqual(Array.from(fromLoaded[index]!.samples));
        expect(bytesOf(batch.arrays["diff3d"]!).equals(bytesOf(fromLoaded[index]!.arrays["diff3d"]!))).toBe(true);
      });
    });
  });

  it("says E_SCHEMA_MISSING_KEY naming the file, the key and every alias tried", () => {
    const without = join(directory, "no-diffraction.npz");
    saveNpz(without, otherKeys);
    expect(() => openMemmap(without, { schema: "ptycho", key: "diff3d" })).toThrow(
      expect.objectContaining({ code: "E_SCHEMA_MISSING_KEY", message: expect.stringMatching(/no-diffraction\.npz[\s\S]*'diff3d'[\s\S]*'diffraction'/) }),
    );
    // The bug this fixes: by stored name the canonical key is not there.
    expect(() => openMemmap(legacy, { member: "diff3d" })).toThrow(expect.objectContaining({ code: "E_NPZ_MEMBER_MISSING" }));
  });

  it("refuses when a key that decides the layout is missing, but not for unrelated keys", () => {
    // Without xcoords and ycoords nothing binds n, so (H, W, n) could not be told from (n, H, W).
    const { xcoords: _x, ycoords: _y, ...noCoords } = otherKeys;
    const unbound = join(directory, "no-coords.npz");
    saveNpz(unbound, { ...noCoords, diffraction: { data: legacyDiffraction(), shape: [height, width, n] } });
    expect(() => openMemmap(unbound, { schema: "ptycho", key: "diff3d" })).toThrow(expect.objectContaining({ code: "E_SCHEMA_MISSING_KEY", message: expect.stringContaining("xcoords") }));
    // A missing probe guess does not change how the patterns are laid out: the map still works.
    const { probeGuess: _p, ...noProbe } = otherKeys;
    const partial = join(directory, "no-probe.npz");
    saveNpz(partial, { ...noProbe, diffraction: { data: legacyDiffraction(), shape: [height, width, n] } });
    withMap(partial, (array) => expect(Array.from(array.rows(0, n).data as Float32Array)).toEqual(Array.from(canonicalDiffraction())));
  });

  it("refuses a key the schema lacks, half an option pair, and an .npy, with E_DATA_ARGUMENT", () => {
    expect(() => openMemmap(legacy, { schema: "ptycho", key: "diffraction" })).toThrow(expect.objectContaining({ code: "E_DATA_ARGUMENT", message: expect.stringContaining("alias of 'diff3d'") }));
    expect(() => openMemmap(legacy, { key: "diff3d" })).toThrow(expect.objectContaining({ code: "E_DATA_ARGUMENT" }));
    expect(() => openMemmap(legacy, { schema: "ptycho", key: "diff3d", member: "diffraction" })).toThrow(expect.objectContaining({ code: "E_DATA_ARGUMENT" }));
    expect(() => openMemmap(legacy, { schema: "nope", key: "diff3d" })).toThrow(expect.objectContaining({ code: "E_SCHEMA_UNKNOWN" }));
    const npy = join(directory, "plain.npy");
    saveNpy(npy, { data: canonicalDiffraction(), shape: [n, height, width] });
    expect(() => openMemmap(npy, { schema: "ptycho", key: "diff3d" })).toThrow(expect.objectContaining({ code: "E_DATA_ARGUMENT", message: expect.stringContaining(".npy") }));
  });
});

describe("openMemmap through a schema, on files numpy wrote", () => {
  const python = findPython("numpy");
  if (skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"]))) return;

  it("maps numpy's legacy (H, W, n) file (big-endian too) as numpy's own transpose to (n, H, W)", () => {
    const script = `
import numpy as np, sys
out = sys.argv[1]
rng = np.random.default_rng(5)
d = rng.random((3, 4, 7)).astype(np.float32)
np.save(out + "/expected.npy", np.ascontiguousarray(np.transpose(d, (2, 0, 1))))
common = dict(xcoords=np.arange(7.0), ycoords=np.arange(7.0), objectGuess=np.ones((5, 6), np.complex64), probeGuess=np.ones((2, 2), np.complex64))
np.savez(out + "/numpy-legacy.npz", diffraction=d, **common)
np.savez(out + "/numpy-legacy-be.npz", diffraction=d.astype(">f4"), **common)
`;
    const result = spawnSync(python!, ["-c", script, directory], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    const expected = loadNpy(join(directory, "expected.npy"));
    for (const file of ["numpy-legacy.npz", "numpy-legacy-be.npz"]) {
      const path = join(directory, file);
      withMap(path, (array) => {
        const rows = array.rows(0, array.length);
        expect(rows.shape).toEqual([7, 3, 4]);
        expect(Array.from(rows.data as Float32Array)).toEqual(Array.from(expected.data as Float32Array));
        expect(bytesOf(rows).equals(bytesOf(loadDataset(path).arrays["diff3d"]!))).toBe(true);
      });
    }
  });
});
