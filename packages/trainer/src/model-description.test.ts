import { describe, expect, it } from "vitest";
import { countMultiplyAdds, countParameters, initialWeights, validateModelDescription, weightSpecs } from "./model-description.js";
import { referencePtychoModel, tinyPtychoModel } from "../test/fixtures/models.mjs";
import type { ModelDescription } from "./model-description.js";

describe("initialWeights", () => {
  it("is deterministic per seed and changes with the seed", () => {
    const a = initialWeights(tinyPtychoModel({ size: 16, channels: 1, seed: 1 }));
    const b = initialWeights(tinyPtychoModel({ size: 16, channels: 1, seed: 1 }));
    const c = initialWeights(tinyPtychoModel({ size: 16, channels: 1, seed: 2 }));
    expect(a.map((w) => Array.from(w.values))).toEqual(b.map((w) => Array.from(w.values)));
    expect(Array.from(a[0]!.values)).not.toEqual(Array.from(c[0]!.values));
  });

  it("follows weightSpecs order and shapes, zero biases and He-normal spread", () => {
    const model = referencePtychoModel({ size: 64, channels: 1 });
    const weights = initialWeights(model);
    expect(weights.map((w) => [w.name, w.shape])).toEqual(weightSpecs(model).map((s) => [s.name, s.shape]));
    const bias = weights.find((w) => w.name === "enc2a/bias")!;
    expect(Array.from(bias.values).every((v) => v === 0)).toBe(true);
    const kernel = weights.find((w) => w.name === "enc3b/kernel")!; // fanIn 3·3·128
    const std = Math.sqrt(kernel.values.reduce((s, v) => s + v * v, 0) / kernel.values.length);
    const heStd = Math.sqrt(2 / (9 * 128));
    // Normal truncated at 2σ has std ≈ 0.88σ.
    expect(std / heStd).toBeGreaterThan(0.84);
    expect(std / heStd).toBeLessThan(0.92);
    expect(kernel.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeLessThanOrEqual(2 * heStd + 1e-7);
  });
});

describe("validateModelDescription", () => {
  it("reports every problem together with E_MODEL_DESCRIPTION", () => {
    const bad = {
      ...tinyPtychoModel({ size: 16, channels: 1 }),
      layers: [
        { kind: "conv2d", name: "a", filters: 0, kernelSize: [3, 3], strides: [1, 1], padding: "same", dilation: [1, 1], activation: "gelu", useBias: true, init: { kernel: "zeros", bias: "zeros", seed: 1 } },
        { kind: "warp", name: "a" },
      ],
    } as unknown as ModelDescription;
    expect(() => validateModelDescription(bad)).toThrow(expect.objectContaining({
      code: "E_MODEL_DESCRIPTION",
      message: expect.stringMatching(/filters must be.*gelu.*duplicate layer name.*unknown layer kind "warp"/),
    }));
  });

  it("rejects a last layer that does not match the heads", () => {
    const model = tinyPtychoModel({ size: 16, channels: 1 });
    const bad = { ...model, heads: { ...model.heads, channels: 2 } };
    expect(() => validateModelDescription(bad)).toThrow(/outputs 2 channels but heads need 2·2 = 4/);
  });
});

describe("perPattern models", () => {
  it("have the 1-channel model's weights, C times its multiply-adds, and C channels in and per head", () => {
    const grouped = referencePtychoModel({ size: 64, channels: 4, perPattern: true });
    const single = referencePtychoModel({ size: 64, channels: 1 });
    expect(grouped.input.channels).toBe(4);
    expect(grouped.heads.channels).toBe(4);
    expect(countParameters(grouped)).toBe(425442);
    expect(weightSpecs(grouped)).toEqual(weightSpecs(single));
    expect(countMultiplyAdds(grouped).forward).toBe(4 * countMultiplyAdds(single).forward);
  });

  it("are refused with E_MODEL_DESCRIPTION when channels differ, dropout is present or the flag is not a boolean", () => {
    const grouped = tinyPtychoModel({ size: 8, channels: 4, perPattern: true });
    const cases: Array<[ModelDescription, RegExp]> = [
      [{ ...grouped, heads: { ...grouped.heads, channels: 2 } }, /input\.channels = heads\.channels.*4 and 2/],
      [{ ...grouped, layers: [...grouped.layers.slice(0, 1), { kind: "dropout", name: "drop", rate: 0.5, seed: 1 }, ...grouped.layers.slice(1)] }, /dropout \(layer "drop"\)/],
      [{ ...grouped, perPattern: "yes" as unknown as boolean }, /perPattern must be a boolean, got "yes"/],
      // Its last layer must output 2 channels (one pattern), not 2·C.
      [{ ...tinyPtychoModel({ size: 8, channels: 4 }), perPattern: true }, /outputs 8 channels but heads need 2·1 = 2/],
    ];
    for (const [description, message] of cases) {
      expect(() => validateModelDescription(description)).toThrow(message);
      try {
        validateModelDescription(description);
      } catch (error) {
        expect((error as { code?: string }).code).toBe("E_MODEL_DESCRIPTION");
      }
    }
  });
});

describe("countMultiplyAdds", () => {
  it("counts each conv as output pixels · filters · kernel taps · input channels, pooling and upsampling changing the sizes", () => {
    // tiny 16×16, C = 1: conv 8 (16×16) → pool → conv 16 (8×8) → upsample → conv 8 (16×16) → conv 2 (16×16).
    const perLayer = [16 * 16 * 8 * 9 * 1, 8 * 8 * 16 * 9 * 8, 16 * 16 * 8 * 9 * 16, 16 * 16 * 2 * 9 * 8];
    const forward = perLayer.reduce((a, b) => a + b);
    const counts = countMultiplyAdds(tinyPtychoModel({ size: 16, channels: 1 }));
    expect(counts.forward).toBe(forward);
    // Filter gradients of every conv, input gradients of all but the first (its input is the model's).
    expect(counts.training).toBe(2 * forward + forward - perLayer[0]!);
    // Sub-pixel: dec1 (a 3×3 conv after the ×2 upsample) as four 2×2 phase convs at 8×8: 4·(8·8·8·4·16).
    const subpixel = [perLayer[0]!, perLayer[1]!, 4 * (8 * 8 * 8 * 4 * 16), perLayer[3]!];
    const least = countMultiplyAdds(tinyPtychoModel({ size: 16, channels: 1 }), { subpixelUpsampleConv: true });
    expect(least.forward).toBe(subpixel.reduce((a, b) => a + b));
    expect(least.training).toBe(3 * least.forward - perLayer[0]!);
  });

  it("follows strides and valid padding in the output size", () => {
    const model: ModelDescription = {
      ...tinyPtychoModel({ size: 16, channels: 1 }),
      layers: [
        { kind: "conv2d", name: "a", filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: "valid", dilation: [1, 1], activation: "relu", useBias: true, init: { kernel: "heNormal", bias: "zeros", seed: 1 } },
        { kind: "conv2d", name: "b", filters: 2, kernelSize: [1, 1], strides: [1, 1], padding: "same", dilation: [1, 1], activation: "linear", useBias: false, init: { kernel: "glorotUniform", bias: "zeros", seed: 2 } },
      ],
    };
    // a: (16 − 3) / 2 + 1 = 7 → 7·7·4·9·1; b: 7·7·2·1·4.
    expect(countMultiplyAdds(model)).toEqual({ forward: 7 * 7 * 4 * 9 + 7 * 7 * 2 * 4, training: 3 * (7 * 7 * 4 * 9 + 7 * 7 * 2 * 4) - 7 * 7 * 4 * 9 });
  });
});
