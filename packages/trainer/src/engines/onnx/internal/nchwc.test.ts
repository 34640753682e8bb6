/**
 * Which models the blocked (NCHWc) training graphs support, and the block size probe on real ONNX Runtime.
 * That the blocked graphs compute what the NCHW graphs compute is checked on whole models in
 * onnx-training-engine.test.ts.
 */
import { describe, expect, it } from "vitest";
import { type ModelDescription } from "../../../model-description.js";
import { compactStridedPtychoModel, referencePtychoModel, tinyPtychoModel } from "../../../../test/fixtures/models.mjs";
import { nchwcBlockSize } from "../provider-check.js";
import { nchwcUnsupportedReason } from "./nchwc.js";

describe("nchwcUnsupportedReason", () => {
  const tiny = tinyPtychoModel({ size: 16, channels: 1, seed: 1 });
  it("accepts the shipped models at block sizes 8 and 16", () => {
    for (const block of [8, 16]) {
      expect(nchwcUnsupportedReason(referencePtychoModel({ size: 64, channels: 1 }), block)).toBeUndefined();
      expect(nchwcUnsupportedReason(tiny, block)).toBeUndefined();
      expect(nchwcUnsupportedReason(compactStridedPtychoModel({ size: 32, channels: 4, perPattern: true }), block)).toBeUndefined();
    }
  });
  it("names what the blocked graph cannot do", () => {
    const withLayer = (index: number, patch: Record<string, unknown>): ModelDescription => ({ ...tiny, layers: tiny.layers.map((l, i) => (i === index ? ({ ...l, ...patch } as typeof l) : l)) });
    expect(nchwcUnsupportedReason(withLayer(0, { strides: [2, 2] }), 8)).toMatch(/conv enc1 has stride > 1 on the network input/);
    expect(nchwcUnsupportedReason(withLayer(2, { dilation: [2, 2] }), 8)).toMatch(/conv enc2 has dilation > 1/);
    // Strides are fine after the first conv.
    expect(nchwcUnsupportedReason(withLayer(2, { strides: [2, 2] }), 8)).toBeUndefined();
    expect(nchwcUnsupportedReason(withLayer(1, { poolSize: [3, 3], strides: [2, 2], padding: "same" }), 8)).toMatch(/pool1 overlaps/);
    expect(nchwcUnsupportedReason(withLayer(1, { poolSize: [3, 3], strides: [3, 3], padding: "same" }), 8)).toMatch(/pool1 does not divide 16×16/);
    expect(nchwcUnsupportedReason(tiny, 6)).toMatch(/block size 6/);
    expect(nchwcUnsupportedReason({ ...tiny, layers: [{ kind: "maxPool2d", name: "p", poolSize: [2, 2], strides: [2, 2], padding: "valid" }, ...tiny.layers] }, 8)).toMatch(/before the first conv/);
  });
});

describe("nchwcBlockSize", () => {
  it("is 0 (no blocked kernels) or a multiple of 4 of at least 8, the same on every call", async () => {
    const block = await nchwcBlockSize();
    expect(block === 0 || (block >= 8 && block % 4 === 0)).toBe(true);
    expect(await nchwcBlockSize()).toBe(block);
  });
});
