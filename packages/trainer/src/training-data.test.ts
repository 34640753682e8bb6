import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { arrayRowSource, openMemmap, saveNpy } from "@studykit/data";
import { inMemoryTrainingData, rowSourceTrainingData } from "./training-data.js";

const dir = mkdtempSync(join(tmpdir(), "studykit-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("rowSourceTrainingData", () => {
  it("reads batches from a memory-mapped .npy and complex Y patches as |Y| and angle(Y)", async () => {
    const [n, h, w] = [6, 4, 3];
    const diff = Float64Array.from({ length: n * h * w }, (_, i) => i / 10);
    saveNpy(join(dir, "diff.npy"), { data: diff, shape: [n, h, w] });
    const objects = new Float32Array(n * h * w * 2);
    for (let i = 0; i < n * h * w; i++) {
      objects[2 * i] = Math.cos(i / 7) * (1 + i / 100);
      objects[2 * i + 1] = Math.sin(i / 7) * (1 + i / 100);
    }
    const data = rowSourceTrainingData({
      inputs: openMemmap(join(dir, "diff.npy")),
      objects: arrayRowSource({ data: objects, dtype: "<c8", shape: [n, h, w], key: "Y", complex: true, order: "C", strides: [h * w, w, 1], raw: false }),
    });
    expect(data).toMatchObject({ count: n, sampleShape: [h, w, 1], hasTargets: true });
    const batch = await data.read(Uint32Array.from([4, 1]));
    expect(Array.from(batch.inputs.subarray(0, 3))).toEqual([4.8, 4.9, 5].map(Math.fround));
    expect(batch.inputs[h * w]).toBe(Math.fround(1.2));
    const i = 4 * h * w + 5; // sample 4, pixel 5
    expect(batch.amplitude![5]).toBeCloseTo(1 + i / 100, 5);
    expect(batch.phase![5]).toBeCloseTo(Math.atan2(Math.sin(i / 7), Math.cos(i / 7)), 5);
  });

  it("stacks grouped rows as channels, last axis", async () => {
    const [n, h, w] = [5, 2, 2];
    const rows = Float32Array.from({ length: n * h * w }, (_, i) => i);
    const data = rowSourceTrainingData({
      inputs: arrayRowSource({ data: rows, dtype: "<f4", shape: [n, h, w], key: "diff", complex: false, order: "C", strides: [h * w, w, 1], raw: false }),
      groups: { data: Int32Array.from([0, 3, 4, 2]), shape: [2, 2] },
    });
    expect(data).toMatchObject({ count: 2, sampleShape: [h, w, 2], hasTargets: false });
    const { inputs } = await data.read(Uint32Array.from([1]));
    // group 1 = rows 4 and 2: pixel p holds [row4[p], row2[p]].
    expect(Array.from(inputs)).toEqual([16, 8, 17, 9, 18, 10, 19, 11]);
  });

  it("carries each group's channel offsets with its samples, and rejects offsets of the wrong shape or not finite", async () => {
    const [n, h, w] = [5, 2, 2];
    const inputs = arrayRowSource({ data: new Float32Array(n * h * w), dtype: "<f4", shape: [n, h, w], key: "diff", complex: false, order: "C", strides: [h * w, w, 1], raw: false });
    const groups = { data: Int32Array.from([0, 3, 4, 2]), shape: [2, 2] };
    const offsets = { data: Float64Array.from([-1, 0.5, 1, -0.5, 2, 2, -2, -2]), shape: [2, 2, 2] };
    const data = rowSourceTrainingData({ inputs, groups, offsets });
    expect(data).toMatchObject({ count: 2, hasOffsets: true });
    expect(Array.from((await data.read(Uint32Array.from([1, 0]))).offsets!)).toEqual([2, 2, -2, -2, -1, 0.5, 1, -0.5]);
    expect(rowSourceTrainingData({ inputs, groups }).hasOffsets).toBe(false);
    expect(() => rowSourceTrainingData({ inputs, groups, offsets: { data: new Float64Array(6), shape: [2, 3, 1] } })).toThrow(
      expect.objectContaining({ code: "E_TRAINING_DATA", message: expect.stringContaining("offsets have shape (2, 3, 1) but the data has 2 samples of 2 channels: they must be (2, 2, 2)") }),
    );
    expect(() => rowSourceTrainingData({ inputs, groups, offsets: { data: Float64Array.from([0, 0, 0, Number.NaN, 0, 0, 0, 0]), shape: [2, 2, 2] } })).toThrow(/offsets\[0, 1, 1\] is NaN/);
  });

  it("rejects mismatched sources with E_TRAINING_DATA", () => {
    const source = (shape: number[]) => arrayRowSource({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), dtype: "<f4", shape, key: "x", complex: false, order: "C", strides: shape.map(() => 1), raw: false });
    expect(() => rowSourceTrainingData({ inputs: source([3, 4, 4]), amplitude: source([3, 4, 5]), phase: source([3, 4, 5]) })).toThrow(expect.objectContaining({ code: "E_TRAINING_DATA", message: expect.stringContaining("amplitude rows are (4, 5)") }));
    expect(() => rowSourceTrainingData({ inputs: source([3, 4, 4]), groups: { data: [0, 9], shape: [1, 2] } })).toThrow(/groups\[0, 1\] = 9/);
  });
});

describe("inMemoryTrainingData", () => {
  it("gathers samples in the requested order and checks lengths", () => {
    const data = inMemoryTrainingData({ sampleShape: [1, 2, 1], inputs: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(data.count).toBe(3);
    expect(Array.from((data.read(Uint32Array.from([2, 0])) as { inputs: Float32Array }).inputs)).toEqual([5, 6, 1, 2]);
    expect(() => inMemoryTrainingData({ sampleShape: [2, 2, 1], inputs: new Float32Array(6) })).toThrow(/not a whole number/);
  });

  it("gathers offsets with their samples and checks their length", () => {
    const data = inMemoryTrainingData({ sampleShape: [1, 1, 2], inputs: Float32Array.from([1, 2, 3, 4]), offsets: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]) });
    expect(data.hasOffsets).toBe(true);
    expect(Array.from((data.read(Uint32Array.from([1])) as { offsets: Float32Array }).offsets)).toEqual([4, 5, 6, 7]);
    expect(() => inMemoryTrainingData({ sampleShape: [1, 1, 2], inputs: Float32Array.from([1, 2, 3, 4]), offsets: new Float32Array(6) })).toThrow(
      expect.objectContaining({ code: "E_TRAINING_DATA", message: expect.stringContaining("offsets hold 6 values but 2 samples of 2 channels need 2×2×2") }),
    );
  });
});
