import { describe, expect, it } from "vitest";
import { generateObject } from "../procedural-sample.js";
import { reconstructTestRegion, type Predictor, type TestSet } from "./reconstruct.js";
import { scoreReconstruction } from "../reconstruction-metrics.js";
import { randomScanPositions } from "./scan-positions.js";

const size = 16;
const object = generateObject({ height: 64, width: 64, seed: 5 });
const positions = randomScanPositions({ objectHeight: 64, objectWidth: 64, patchSize: size, count: 60, seed: 2 });
const pixels = size * size;
// Each pattern's first pixel encodes its row, so an oracle model can look up the true patch.
const diffraction = new Float32Array(positions.length * pixels);
positions.forEach((_, row) => (diffraction[row * pixels] = row + 1));
const test: TestSet = { size, diffraction, positions, object };

/** Returns the ground-truth amplitude / maxAmplitude and phase of every channel's pattern. */
function oracle(maxAmplitude: number): Predictor & { calls: number } {
  return {
    calls: 0,
    async predict(input, count) {
      this.calls += 1;
      const channels = input.length / (count * pixels);
      const out = new Float32Array(count * pixels * 2 * channels);
      for (let sample = 0; sample < count; sample++) {
        for (let channel = 0; channel < channels; channel++) {
          const row = Math.round(input[sample * pixels * channels + channel]!) - 1;
          const { x, y } = positions[row]!;
          for (let pixel = 0; pixel < pixels; pixel++) {
            const oy = y - size / 2 + Math.floor(pixel / size);
            const ox = x - size / 2 + (pixel % size);
            const re = object.data[2 * (oy * 64 + ox)]!;
            const im = object.data[2 * (oy * 64 + ox) + 1]!;
            out[(sample * pixels + pixel) * 2 * channels + channel] = Math.hypot(re, im) / maxAmplitude;
            out[(sample * pixels + pixel) * 2 * channels + channels + channel] = Math.atan2(im, re);
          }
        }
      }
      return out;
    },
  };
}

describe("reconstructTestRegion", () => {
  it.each([1, 2] as const)("stitches a perfect model's patches (gridsize %i) back into the object", async (gridsize) => {
    const model = oracle(2);
    const stitched = await reconstructTestRegion(model, test, { gridsize, candidates: 7, seed: 1, inputScale: 1, amplitudeScale: 2, stitchWindow: 8, batchSize: 16 });
    expect(model.calls).toBe(Math.ceil(positions.length / 16));
    const metrics = scoreReconstruction(object, stitched.object, stitched.counts, stitched.box);
    expect(metrics.pixels).toBeGreaterThan(500);
    expect(metrics.amplitudeMae).toBeLessThan(1e-6);
    expect(metrics.phaseMae).toBeLessThan(1e-6);
  });

  it("predicts and stitches each test pattern once for a per-pattern gridsize-2 network", async () => {
    // 59 patterns: the last of 15 samples holds 3 patterns and a repeat, which must not count twice.
    const subset: TestSet = { ...test, positions: positions.slice(0, 59), diffraction: diffraction.subarray(0, 59 * pixels) };
    const samples: number[] = [];
    const model = oracle(2);
    const counting: Predictor = { predict: (input, count) => (samples.push(count), model.predict(input, count)) };
    const options = { candidates: 7, seed: 1, inputScale: 1, amplitudeScale: 2, stitchWindow: 8, batchSize: 16 };
    const packed = await reconstructTestRegion(counting, subset, { ...options, gridsize: 2, perPattern: true });
    expect(samples).toEqual([15]);
    const single = await reconstructTestRegion(oracle(2), subset, { ...options, gridsize: 1 });
    expect(Array.from(packed.counts)).toEqual(Array.from(single.counts));
    const metrics = scoreReconstruction(object, packed.object, packed.counts, packed.box);
    expect(metrics.phaseMae).toBeLessThan(1e-6);
    expect(metrics.amplitudeMae).toBeLessThan(1e-6);
    // Inside groups (a network over the channels), each pattern is stitched as often as the groups hold it.
    const grouped = await reconstructTestRegion(oracle(2), subset, { ...options, gridsize: 2 });
    expect(Array.from(grouped.counts).reduce((a, b) => a + b, 0)).toBe(4 * Array.from(single.counts).reduce((a, b) => a + b, 0));
  });

  it("refuses a model whose output has the wrong shape", async () => {
    const wrong: Predictor = { predict: async (_input, count) => new Float32Array(count * pixels) };
    await expect(reconstructTestRegion(wrong, test, { gridsize: 1, candidates: 7, seed: 1, inputScale: 1, amplitudeScale: 1, stitchWindow: 8 })).rejects.toThrow(/expected \[/);
  });
});
