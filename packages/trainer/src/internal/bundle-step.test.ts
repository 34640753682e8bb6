import { describe, expect, it } from "vitest";
import { initialWeights } from "../model-description.js";
import { tinyPtychoModel } from "../../test/fixtures/models.mjs";
import { exportOnnxForBundle } from "./bundle-step.js";

describe("a failed ONNX export is recorded and reported, never silent (wasm)", () => {
  const model = tinyPtychoModel({ size: 16, channels: 1, seed: 7 });

  it("exportOnnxForBundle returns the real exporter's bytes, or its error code and message", async () => {
    const ok = await exportOnnxForBundle(model, initialWeights(model));
    expect("modelOnnx" in ok && ok.modelOnnx.length > 0).toBe(true);
    const [first, ...rest] = initialWeights(model);
    const missing = await exportOnnxForBundle(model, rest);
    expect(missing).toEqual({ failure: { code: "E_ONNX_WEIGHTS", message: expect.stringContaining(`missing weight ${first!.name}`) } });
  });
});
