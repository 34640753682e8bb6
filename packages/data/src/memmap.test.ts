import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openMemmap } from "./memmap.js";
import { saveNpy } from "./npy.js";
import { saveNpz } from "./npz.js";
import { arrayRowSource, iterateBatches, shuffledOrder } from "./dataset-bridge.js";

const directory = mkdtempSync(join(tmpdir(), "studykit-memmap-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

// 10 patterns of 2×3, value = pattern * 100 + position, so every element says where it came from.
const patterns = Float32Array.from({ length: 60 }, (_, index) => Math.floor(index / 6) * 100 + (index % 6));
const coords = Float64Array.from({ length: 10 }, (_, index) => index * 0.5);

describe("openMemmap", () => {
  const npz = join(directory, "stored.npz");
  saveNpz(npz, { diff3d: { data: patterns, shape: [10, 2, 3] }, xcoords: { data: coords }, big: { data: patterns, shape: [10, 6], dtype: ">f4" } });

  it("maps a stored npz member and reads row slabs as views of the mapping", () => {
    const array = openMemmap(npz, { member: "diff3d" });
    try {
      expect(array.shape).toEqual([10, 2, 3]);
      expect(array.rowShape).toEqual([2, 3]);
      expect(array.zeroCopy).toBe(true);
      const slab = array.rows(3, 2);
      expect(slab.shape).toEqual([2, 2, 3]);
      expect(Array.from(slab.data as Float32Array)).toEqual([300, 301, 302, 303, 304, 305, 400, 401, 402, 403, 404, 405]);
      expect(array.rows(10, 0).shape).toEqual([0, 2, 3]);
      expect(() => array.rows(9, 2)).toThrow(expect.objectContaining({ code: "E_DATA_ARGUMENT" }));
      expect(Array.from(array.gather([9, 0]).data as Float32Array).slice(0, 2)).toEqual([900, 901]);
    } finally {
      array.close();
    }
  });

  it("copies and byte-swaps big-endian members", () => {
    const array = openMemmap(npz, { member: "big" });
    try {
      expect(array.zeroCopy).toBe(false);
      expect(Array.from(array.rows(1, 1).data as Float32Array)).toEqual([100, 101, 102, 103, 104, 105]);
    } finally {
      array.close();
    }
  });

  it("maps an .npy file", () => {
    const path = join(directory, "coords.npy");
    saveNpy(path, { data: coords });
    const array = openMemmap(path);
    try {
      expect(array.key).toBe("");
      expect(Array.from(array.rows(8, 2).data as Float64Array)).toEqual([4, 4.5]);
    } finally {
      array.close();
    }
  });

  it("refuses compressed members, Fortran order and an unnamed member of a multi-array npz", () => {
    const compressed = join(directory, "compressed.npz");
    saveNpz(compressed, { a: { data: coords } }, { compress: true });
    expect(() => openMemmap(compressed)).toThrow(expect.objectContaining({ code: "E_MEMMAP_UNSUPPORTED" }));
    const fortran = join(directory, "fortran.npy");
    saveNpy(fortran, { data: patterns, shape: [10, 6], order: "F" });
    expect(() => openMemmap(fortran)).toThrow(expect.objectContaining({ code: "E_MEMMAP_UNSUPPORTED" }));
    expect(() => openMemmap(npz)).toThrow(expect.objectContaining({ code: "E_DATA_ARGUMENT" }));
    expect(() => openMemmap(npz, { member: "nope" })).toThrow(expect.objectContaining({ code: "E_NPZ_MEMBER_MISSING" }));
  });
});

describe("iterateBatches", () => {
  const npz = join(directory, "bridge.npz");
  saveNpz(npz, { diff3d: { data: patterns, shape: [10, 2, 3] }, xcoords: { data: coords } });

  it("yields every sample exactly once per epoch, in a seeded order that repeats for the same seed", () => {
    const diff = openMemmap(npz, { member: "diff3d" });
    try {
      const run = (seed: number) => [...iterateBatches({ diff3d: diff }, { batchSize: 4, seed, epochs: 2 })];
      const first = run(7);
      expect(first.map((batch) => batch.arrays.diff3d!.shape[0])).toEqual([4, 4, 2, 4, 4, 2]);
      const epoch0 = first.filter((batch) => batch.epoch === 0).flatMap((batch) => Array.from(batch.samples));
      expect([...epoch0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(epoch0).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const epoch1 = first.filter((batch) => batch.epoch === 1).flatMap((batch) => Array.from(batch.samples));
      expect(epoch1).not.toEqual(epoch0);
      expect(run(7).map((batch) => Array.from(batch.samples))).toEqual(first.map((batch) => Array.from(batch.samples)));
      expect(run(8).map((batch) => Array.from(batch.samples))).not.toEqual(first.map((batch) => Array.from(batch.samples)));
      // Each row of the batch is the pattern its sample number names.
      for (const batch of first) {
        const data = batch.arrays.diff3d!.data as Float32Array;
        batch.samples.forEach((sample, row) => expect(data[row * 6]).toBe(sample * 100));
      }
    } finally {
      diff.close();
    }
  });

  it("stacks a group's patterns as channels: (B, H, W, C) and (B, C)", () => {
    const diff = openMemmap(npz, { member: "diff3d" });
    const x = openMemmap(npz, { member: "xcoords" });
    try {
      const groups = { data: Int32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 5), shape: [3, 4] };
      const batches = [...iterateBatches({ diff3d: diff, xcoords: x }, { batchSize: 2, seed: 1, groups, shuffle: false, dropLast: true })];
      expect(batches).toHaveLength(1);
      const [batch] = batches;
      expect(Array.from(batch!.samples)).toEqual([0, 1]);
      expect(batch!.arrays.diff3d!.shape).toEqual([2, 2, 3, 4]);
      expect(batch!.arrays.xcoords!.shape).toEqual([2, 4]);
      const d = batch!.arrays.diff3d!.data as Float32Array;
      // [b=1, h=0, w=2, c=1] is pattern groups[1][1] = 5, position (0, 2) → 502.
      expect(d[((1 * 2 + 0) * 3 + 2) * 4 + 1]).toBe(502);
      expect(Array.from(batch!.arrays.xcoords!.data as Float64Array)).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
    } finally {
      diff.close();
      x.close();
    }
  });

  it("refuses groups that point outside the rows, and sources of different lengths", () => {
    const source = arrayRowSource({ data: coords, dtype: "<f8", shape: [10], key: "x", complex: false, order: "C", strides: [1], raw: false });
    const short = arrayRowSource({ data: coords.subarray(0, 4), dtype: "<f8", shape: [4], key: "y", complex: false, order: "C", strides: [1], raw: false });
    expect(() => [...iterateBatches({ x: source }, { batchSize: 2, seed: 0, groups: { data: Int32Array.of(0, 10), shape: [1, 2] } })]).toThrow(/groups\[0, 1\] = 10/);
    expect(() => [...iterateBatches({ x: source, y: short }, { batchSize: 2, seed: 0 })]).toThrow(expect.objectContaining({ code: "E_DATA_ARGUMENT" }));
  });

  it("draws from loaded arrays too, with the same batches as from the memory map", () => {
    const mapped = openMemmap(npz, { member: "diff3d" });
    try {
      const loaded = mapped.rows(0, 10);
      const fromMap = [...iterateBatches({ d: mapped }, { batchSize: 3, seed: 5 })];
      const fromArray = [...iterateBatches({ d: loaded }, { batchSize: 3, seed: 5 })];
      expect(fromArray.map((batch) => Array.from(batch.arrays.d!.data as Float32Array))).toEqual(fromMap.map((batch) => Array.from(batch.arrays.d!.data as Float32Array)));
    } finally {
      mapped.close();
    }
  });

  it("shuffles with a permutation", () => {
    const order = shuffledOrder(1000, 3);
    expect(new Set(order).size).toBe(1000);
    expect(Math.max(...order)).toBe(999);
  });
});
