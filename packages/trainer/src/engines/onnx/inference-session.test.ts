import { describe, expect, it } from "vitest";
import { initialWeights } from "../../model-description.js";
import { tinyPtychoModel } from "../../../test/fixtures/models.mjs";
import { createInferenceSession } from "./inference-session.js";
import { exportOnnx } from "./onnx-export.js";

const d = tinyPtychoModel({ size: 8, channels: 1, seed: 4 });
const weights = initialWeights(d);
const sample = 8 * 8;
const input = (count: number) => Float32Array.from({ length: count * sample }, (_, i) => Math.abs(Math.sin(i * 0.13)));

describe("createInferenceSession", () => {
  it("runs on CPU by default and predicts in batches exactly as sample by sample", async () => {
    const session = await createInferenceSession(exportOnnx(d, weights), { batchSize: 2 });
    expect(session.provider).toBe("cpu");
    expect(session.description.name).toBe(d.name);
    const x = input(5);
    const all = await session.predict(x, 5);
    expect(all.length).toBe(5 * sample * 2);
    for (let i = 0; i < 5; i++) {
      const one = await session.predict(x.subarray(i * sample, (i + 1) * sample), 1);
      expect(Array.from(one)).toEqual(Array.from(all.subarray(i * sample * 2, (i + 1) * sample * 2)));
    }
    const batches = [];
    for await (const y of session.predictBatches([{ x: x.subarray(0, 2 * sample), count: 2 }, { x: x.subarray(2 * sample), count: 3 }])) batches.push(...y);
    expect(batches).toEqual(Array.from(all));
    await session.release();
  });

  it("shares batches between replicas on the CPU by default, with exactly one session's predictions", async () => {
    const single = await createInferenceSession(exportOnnx(d, weights), { replicas: 1, intraOpNumThreads: 2, batchSize: 4 });
    const shared = await createInferenceSession(exportOnnx(d, weights), { batchSize: 4 });
    const three = await createInferenceSession(exportOnnx(d, weights), { replicas: 3, batchSize: 7 });
    expect([single.replicas, single.intraOpNumThreads]).toEqual([1, 2]);
    expect([shared.replicas, shared.intraOpNumThreads]).toEqual([2, 1]);
    expect([three.replicas, three.intraOpNumThreads]).toEqual([3, 1]);
    // 9 samples: batches of 4, 4 and 1 (one micro-batch per sample, then a batch too small to split);
    // with 3 replicas batches of 7 and 2 (micro-batches of 2, 1, 1, 1, 1, 1, then 1 and 1).
    const x = input(9);
    const expected = Array.from(await single.predict(x, 9));
    expect(Array.from(await shared.predict(x, 9))).toEqual(expected);
    expect(Array.from(await three.predict(x, 9))).toEqual(expected);
    expect(Array.from(await shared.predict(x.subarray(0, 0), 0))).toEqual([]);
    await Promise.all([single.release(), shared.release(), three.release()]);
    const withCuda = await createInferenceSession(exportOnnx(d, weights), { executionProviders: ["cuda", "cpu"] });
    expect(withCuda.replicas).toBe(1);
    await withCuda.release();
  });

  it("builds from a description and weights, and from a bundle's model bytes, with the same predictions", async () => {
    const a = await createInferenceSession({ description: d, weights });
    const b = await createInferenceSession({ modelOnnx: exportOnnx(d, weights) });
    const c = await createInferenceSession({ modelOnnx: null, description: d, weights });
    const x = input(3);
    expect(Array.from(await a.predict(x, 3))).toEqual(Array.from(await b.predict(x, 3)));
    expect(Array.from(await c.predict(x, 3))).toEqual(Array.from(await b.predict(x, 3)));
    await Promise.all([a.release(), b.release(), c.release()]);
  });

  it("falls back from CUDA to CPU when the CUDA provider is not installed, and says why", async () => {
    const session = await createInferenceSession(exportOnnx(d, weights), { executionProviders: ["cuda", "cpu"] });
    if (session.provider === "cuda") {
      expect(session.failedProviders).toEqual([]);
    } else {
      expect(session.provider).toBe("cpu");
      expect(session.failedProviders.map((f) => f.provider)).toEqual(["cuda"]);
      expect(session.failedProviders[0]!.error).toMatch(/cuda/i);
    }
    await session.release();
  });

  it("reports bad input, unknown providers and a model it cannot read with typed errors", async () => {
    const session = await createInferenceSession(exportOnnx(d, weights));
    await expect(session.predict(new Float32Array(10), 1)).rejects.toMatchObject({ code: "E_ONNX_INPUT", message: expect.stringContaining("1 × 64") });
    await session.release();
    await expect(createInferenceSession(exportOnnx(d, weights), { executionProviders: ["tpu" as "cpu"] })).rejects.toMatchObject({ code: "E_ONNX_OPTIONS" });
    await expect(createInferenceSession(exportOnnx(d, weights), { batchSize: 0 })).rejects.toMatchObject({ code: "E_ONNX_OPTIONS" });
    for (const replicas of [0, 1.5, 65]) {
      await expect(createInferenceSession(exportOnnx(d, weights), { replicas })).rejects.toMatchObject({ code: "E_ONNX_OPTIONS", message: expect.stringContaining(`got ${replicas}`) });
    }
    await expect(createInferenceSession(new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ code: "E_ONNX_MODEL" });
    await expect(createInferenceSession({ modelOnnx: null })).rejects.toMatchObject({ code: "E_ONNX_MODEL" });
  });
});
