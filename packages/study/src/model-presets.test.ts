import { describe, expect, it } from "vitest";
import { countParameters, validateModelDescription } from "@studykit/trainer";
import { compactPtychoModel, compactStridedPtychoModel, ptychoModelPreset, referencePtychoModel, tinyPtychoModel } from "./model-presets.js";

describe("referencePtychoModel", () => {
  it("has the issue's layer plan and 425 442 parameters at 64×64, C = 1", () => {
    const model = referencePtychoModel({ size: 64, channels: 1 });
    // Hand count: 3·3·cin·cout + cout per conv, for (1→32, 32→32, 32→64, 64→64, 64→128, 128→128,
    // 128→64, 64→64, 64→32, 32→32, 32→2).
    const convs: Array<[number, number]> = [[1, 32], [32, 32], [32, 64], [64, 64], [64, 128], [128, 128], [128, 64], [64, 64], [64, 32], [32, 32], [32, 2]];
    const expected = convs.reduce((s, [i, o]) => s + 9 * i * o + o, 0);
    expect(expected).toBe(425442);
    expect(countParameters(model)).toBe(425442);
    const shapes = validateModelDescription(model);
    expect(shapes.at(-1)).toEqual([64, 64, 2]);
    expect(shapes[8]).toEqual([8, 8, 128]); // after the third pool
  });

  it("scales the output to 2·C channels", () => {
    const model = referencePtychoModel({ size: 32, channels: 4 });
    expect(validateModelDescription(model).at(-1)).toEqual([32, 32, 8]);
  });

  it("with perPattern, takes C patterns through the 1-channel model's layers and weights", () => {
    for (const build of [referencePtychoModel, compactPtychoModel, compactStridedPtychoModel, tinyPtychoModel]) {
      const grouped = build({ size: 32, channels: 4, seed: 3, perPattern: true });
      const single = build({ size: 32, channels: 1, seed: 3 });
      expect(grouped.perPattern).toBe(true);
      expect([grouped.input.channels, grouped.heads.channels]).toEqual([4, 4]);
      expect(grouped.layers).toEqual(single.layers);
      expect(validateModelDescription(grouped).at(-1)).toEqual([32, 32, 2]);
    }
  });

  it("is JSON round-trippable plain data", () => {
    const model = tinyPtychoModel({ size: 16, channels: 1, seed: 3 });
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });
});

describe("compactPtychoModel", () => {
  it("has its layer plan: three pools down to 4×4 at 32×32, 30 314 parameters with C = 1", () => {
    const model = compactPtychoModel({ size: 32, channels: 1 });
    // Hand count: 3·3·cin·cout + cout per conv, for (1→8, 8→16, 16→32, 32→32, 32→32, 32→16, 16→8, 8→2).
    const convs: Array<[number, number]> = [[1, 8], [8, 16], [16, 32], [32, 32], [32, 32], [32, 16], [16, 8], [8, 2]];
    const expected = convs.reduce((s, [i, o]) => s + 9 * i * o + o, 0);
    expect(expected).toBe(30314);
    expect(countParameters(model)).toBe(30314);
    const shapes = validateModelDescription(model);
    expect(shapes[6]).toEqual([4, 4, 32]); // the bottleneck, after the third pool
    expect(shapes.at(-1)).toEqual([32, 32, 2]);
  });

  it("needs a size divisible by 8 (three pools) and names the rule otherwise", () => {
    expect(() => compactPtychoModel({ size: 20, channels: 1 })).toThrow(/multiple of 8/);
  });

  it("is the study's `compact` preset, as `reference` and `tiny` are theirs", () => {
    const options = { size: 32, channels: 4, seed: 5 };
    expect(ptychoModelPreset("compact")(options)).toEqual(compactPtychoModel(options));
    expect(ptychoModelPreset("reference")(options)).toEqual(referencePtychoModel(options));
    expect(ptychoModelPreset("tiny")(options)).toEqual(tinyPtychoModel(options));
    expect(ptychoModelPreset("compactStrided")(options)).toEqual(compactStridedPtychoModel(options));
  });
});

describe("compactStridedPtychoModel", () => {
  it("has its layer plan: three stride-2 convs down to 4×4 at 32×32, leaky ReLUs, 39 562 parameters with C = 1", () => {
    const model = compactStridedPtychoModel({ size: 32, channels: 1 });
    // Hand count, for (1→8, 8→16, 16→32, 32→32, 32→32 | 32→32, 32→16, 16→8, 8→2): compact's convs and enc5.
    const convs: Array<[number, number]> = [[1, 8], [8, 16], [16, 32], [32, 32], [32, 32], [32, 32], [32, 16], [16, 8], [8, 2]];
    const expected = convs.reduce((s, [i, o]) => s + 9 * i * o + o, 0);
    expect(expected).toBe(39562);
    expect(countParameters(model)).toBe(39562);
    const shapes = validateModelDescription(model);
    expect(shapes.slice(0, 5)).toEqual([[32, 32, 8], [16, 16, 16], [8, 8, 32], [4, 4, 32], [4, 4, 32]]);
    expect(shapes.at(-1)).toEqual([32, 32, 2]);
    expect(model.layers.filter((l) => l.kind === "maxPool2d")).toEqual([]);
    // Every conv's seed differs: the strided convs draw theirs from the same per-position stream.
    const layers = model.layers.flatMap((l) => (l.kind === "conv2d" ? [l] : []));
    expect(new Set(layers.map((l) => l.init.seed)).size).toBe(9);
    // Leaky ReLUs (slope 0.1, He-initialised) in every hidden conv; the output conv linear, Glorot.
    for (const layer of layers.slice(0, -1)) expect([layer.activation, layer.alpha, layer.init.kernel], layer.name).toEqual(["leakyRelu", 0.1, "heNormal"]);
    expect([layers.at(-1)!.activation, layers.at(-1)!.init.kernel]).toEqual(["linear", "glorotUniform"]);
  });
});
