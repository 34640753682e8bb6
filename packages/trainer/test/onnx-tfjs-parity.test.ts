/**
 * ONNX Runtime against TF.js on identical weights and inputs: predictions of every shipped model within
 * 1e-4 (max abs), and whole training steps (loss, updated weights) within float32 tolerance.
 * TF.js runs on its pure-JS `cpu` back end (float32 throughout, no fused approximations).
 */
import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { initialWeights, type ModelDescription, referencePtychoModel, tinyPtychoModel } from "../src/model-description.js";
import { createOnnxTrainingEngine } from "../src/onnx/onnx-training-engine.js";
import { createInferenceSession } from "../src/onnx/inference-session.js";
import { exportOnnx } from "../src/onnx/onnx-export.js";
import { createTfjsEngine } from "../src/tfjs-engine.js";
import type { EngineHyperparameters, LossDescription, TrainingBatch } from "../src/training-engine.js";

const ADAM = { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

function batchFor(d: ModelDescription, count: number, seed: number): TrainingBatch {
  const prng = SeededRandom.derive(seed, "parity");
  const { height, width, channels } = d.input;
  const size = count * height * width * channels;
  return {
    count,
    inputs: Float32Array.from({ length: size }, () => 0.1 + prng.nextDouble()),
    amplitude: Float32Array.from({ length: size }, () => prng.nextDouble()),
    phase: Float32Array.from({ length: size }, () => prng.nextDouble() * 2 - 1),
  };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

const SHIPPED: Array<[string, ModelDescription, number]> = [
  ["tiny, C = 1", tinyPtychoModel({ size: 16, channels: 1, seed: 1 }), 3],
  ["tiny, C = 4", tinyPtychoModel({ size: 16, channels: 4, seed: 2 }), 3],
  ["reference 64×64, C = 1", referencePtychoModel({ size: 64, channels: 1, seed: 3 }), 2],
];

describe("ONNX Runtime vs TF.js", () => {
  for (const [label, d, count] of SHIPPED) {
    it(`predicts the same (max abs ≤ 1e-4): ${label}`, async () => {
      const weights = initialWeights(d);
      const batch = batchFor(d, count, 1);
      const tfjs = await createTfjsEngine("cpu");
      await tfjs.init(d, weights, { loss: { kind: "supervised", metric: "mse", amplitudeWeight: 1, phaseWeight: 1 }, optimizer: ADAM });
      const expected = await tfjs.predict(batch.inputs, count);
      await tfjs.dispose();
      const session = await createInferenceSession(exportOnnx(d, weights));
      const got = await session.predict(batch.inputs, count);
      await session.release();
      expect(got.length).toBe(expected.length);
      expect(maxAbsDiff(got, expected)).toBeLessThanOrEqual(1e-4);
    }, 120_000);
  }

  const tiny = tinyPtychoModel({ size: 16, channels: 1, seed: 5 });
  const n = 16 * 16;
  const probePrng = SeededRandom.derive(3, "probe");
  const LOSSES: Array<[string, LossDescription]> = [
    ["supervised mse", { kind: "supervised", metric: "mse", amplitudeWeight: 1, phaseWeight: 0.5 }],
    ["supervised mae", { kind: "supervised", metric: "mae", amplitudeWeight: 1, phaseWeight: 1 }],
    [
      "physics poissonNll",
      {
        kind: "physics",
        objective: "poissonNll",
        probe: { height: 16, width: 16, real: Float32Array.from({ length: n }, () => probePrng.nextDouble()), imag: Float32Array.from({ length: n }, () => probePrng.nextDouble() - 0.5) },
        intensityScale: 2,
        fftshift: true,
      },
    ],
  ];
  // TF.js's cpu gradient of resizeNearestNeighbor is wrong for every image after the first of a batch
  // (found by this test; checked against block sums), so the shipped models (which upsample) are compared
  // at batch 1, and a conv-only variant (no pooling, no upsampling) at batch 4.
  const small = tinyPtychoModel({ size: 8, channels: 1, seed: 5 });
  const convOnly: ModelDescription = { ...small, name: "conv-only", layers: small.layers.filter((l) => l.kind !== "upsample2d" && l.kind !== "maxPool2d") };
  const CASES: Array<[string, ModelDescription, LossDescription, number]> = [
    ...LOSSES.map(([label, loss]): [string, ModelDescription, LossDescription, number] => [`tiny, ${label}, batch 1`, tiny, loss, 1]),
    ["conv-only, supervised mse, batch 4", convOnly, LOSSES[0]![1], 4],
  ];
  for (const [label, model, loss, count] of CASES) {
    it(`takes the same training steps (${label}): loss and updated weights`, async () => {
      const weights = initialWeights(model);
      const hyper: EngineHyperparameters = { loss, optimizer: ADAM };
      const tfjs = await createTfjsEngine("cpu");
      await tfjs.init(model, weights, hyper);
      const onnx = createOnnxTrainingEngine();
      await onnx.init(model, weights, hyper);
      for (let step = 0; step < 3; step++) {
        const batch = batchFor(model, count, 10 + step);
        const [a, b] = [await tfjs.trainStep(batch, 1e-3), await onnx.trainStep(batch, 1e-3)];
        expect(Math.abs(a - b), `step ${step}: TF.js loss ${a}, ONNX Runtime loss ${b}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(a)));
      }
      const [wa, wb] = [await tfjs.getWeights(), await onnx.getWeights()];
      wa.forEach((w, i) => {
        expect(wb[i]!.name).toBe(w.name);
        // Adam's early steps are ≈ lr·sign(g): a gradient within float32 noise of zero may flip a step,
        // so require near-equality for almost every weight and a bound of one step for all.
        const diffs = w.values.map((v, k) => Math.abs(v - wb[i]!.values[k]!));
        expect(Math.max(...diffs), w.name).toBeLessThanOrEqual(6e-3);
        expect(diffs.filter((d) => d > 1e-5).length / diffs.length, w.name).toBeLessThanOrEqual(0.01);
      });
      await Promise.all([tfjs.dispose(), onnx.dispose()]);
    }, 120_000);
  }
});
