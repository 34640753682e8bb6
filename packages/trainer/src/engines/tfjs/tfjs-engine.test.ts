import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { createTfjsEngine, forwardPass } from "./tfjs-engine.js";
import { selectBackend } from "./backend-selection.js";
import { SeededRandom } from "@studykit/core";
import { initialWeights, type ModelDescription, type NamedWeight } from "../../model-description.js";
import { referencePtychoModel, tinyPtychoModel } from "../../../test/fixtures/models.mjs";
import type { EngineHyperparameters, TrainingBatch } from "../training-engine.js";

const HYPER: EngineHyperparameters = {
  loss: { kind: "supervised", metric: "mse", amplitudeWeight: 1, phaseWeight: 0.5 },
  optimizer: { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
};

function batchFor(description: ModelDescription, count: number, seed: number): TrainingBatch {
  const { height, width, channels } = description.input;
  const prng = new SeededRandom(seed);
  const values = () => Float32Array.from({ length: count * height * width * channels }, () => prng.nextDouble());
  return { count, inputs: values(), amplitude: values(), phase: values().map((v) => v - 0.5) };
}

/** Weights after `steps` Adam steps on `backend`, plus the losses. */
async function trainOn(backend: string, description: ModelDescription, steps: number): Promise<{ losses: number[]; weights: NamedWeight[] }> {
  const engine = await createTfjsEngine(backend);
  await engine.init(description, initialWeights(description), HYPER);
  const batch = batchFor(description, 4, 1);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push(await engine.trainStep(batch, 1e-3));
  const weights = await engine.getWeights();
  await engine.dispose();
  return { losses, weights };
}

/** Gradients of an MSE loss of the model output on `backend`, per weight. */
async function gradientsOn(backend: string, description: ModelDescription, count: number): Promise<Array<[string, Float32Array]>> {
  await selectBackend(backend);
  const weights = initialWeights(description);
  const batch = batchFor(description, count, 3);
  const { height, width, channels } = description.input;
  return tf.tidy(() => {
    const names = weights.map((w) => w.name);
    const f = (...tensors: tf.Tensor[]) => {
      const params = new Map(names.map((name, i) => [name, tensors[i]!]));
      const out = forwardPass(description, params, tf.tensor4d(batch.inputs, [count, height, width, channels]));
      const target = tf.concat([tf.tensor4d(batch.amplitude!, [count, height, width, channels]), tf.tensor4d(batch.phase!, [count, height, width, channels])], 3);
      return tf.mean(tf.square(tf.sub(out, target))) as tf.Scalar;
    };
    const grads = tf.grads(f)(weights.map((w) => tf.tensor(w.values, [...w.shape])));
    return names.map((name, i) => [name, grads[i]!.dataSync() as Float32Array] as [string, Float32Array]);
  });
}

/** Largest gradient difference per weight, relative to that weight's largest gradient. */
function expectSameGradients(a: Array<[string, Float32Array]>, b: Array<[string, Float32Array]>): void {
  a.forEach(([name, ga], k) => {
    const gb = b[k]![1];
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < ga.length; i++) {
      scale = Math.max(scale, Math.abs(gb[i]!));
      diff = Math.max(diff, Math.abs(ga[i]! - gb[i]!));
    }
    expect(scale, name).toBeGreaterThan(0);
    expect(diff / scale, name).toBeLessThan(1e-4);
  });
}

describe("TF.js engine", () => {
  it("runs a perPattern model as the 1-channel model on each pattern: amplitudes, then phases", async () => {
    await selectBackend("cpu");
    const grouped = tinyPtychoModel({ size: 8, channels: 4, seed: 3, perPattern: true });
    const single = tinyPtychoModel({ size: 8, channels: 1, seed: 3 });
    const weights = initialWeights(grouped);
    const count = 2;
    const pixels = 64;
    const batch = batchFor(grouped, count, 5);
    const [out, alone] = tf.tidy(() => {
      const params = new Map(weights.map((w) => [w.name, tf.tensor(w.values, [...w.shape])] as [string, tf.Tensor]));
      const all = forwardPass(grouped, params, tf.tensor4d(batch.inputs, [count, 8, 8, 4])).dataSync() as Float32Array;
      const each = [0, 1, 2, 3].map((channel) => {
        const inputs = Float32Array.from({ length: count * pixels }, (_, k) => batch.inputs[k * 4 + channel]!);
        return forwardPass(single, params, tf.tensor4d(inputs, [count, 8, 8, 1])).dataSync() as Float32Array;
      });
      return [all, each] as const;
    });
    for (let channel = 0; channel < 4; channel++)
      for (let at = 0; at < count * pixels; at++)
        for (const head of [0, 1]) expect(Math.abs(out[at * 8 + head * 4 + channel]! - alone[channel]![at * 2 + head]!)).toBeLessThan(1e-6);
  });

  it("computes the reference model's gradients on wasm as on cpu (every kernel its training needs)", async () => {
    // The reference architecture at 8×8: the same layers and kernels as at 64×64, small enough for cpu.
    const description = referencePtychoModel({ size: 8, channels: 2, seed: 4 });
    expectSameGradients(await gradientsOn("wasm", description, 3), await gradientsOn("cpu", description, 3));
  }, 60_000);

  it("differentiates dilated convolutions and leaky ReLU (TF.js has no dilated conv gradient of its own)", async () => {
    const base = tinyPtychoModel({ size: 16, channels: 1, seed: 2 });
    const description: ModelDescription = {
      ...base,
      layers: base.layers.map((layer) => (layer.kind === "conv2d" && layer.name === "enc2" ? { ...layer, dilation: [2, 2] as const, activation: "leakyRelu" as const, alpha: 0.1 } : layer)),
    };
    expectSameGradients(await gradientsOn("wasm", description, 2), await gradientsOn("cpu", description, 2));
    const wasm = await trainOn("wasm", description, 3);
    expect(wasm.losses[2]).toBeLessThan(wasm.losses[0]!);
  }, 60_000);

  it("is bitwise reproducible on one back end and restores weights and Adam state exactly", async () => {
    const description = tinyPtychoModel({ size: 8, channels: 4, seed: 9 });
    const a = await trainOn("wasm", description, 3);
    const b = await trainOn("wasm", description, 3);
    expect(a.losses).toEqual(b.losses);
    a.weights.forEach((w, i) => expect(Buffer.from(w.values.buffer).equals(Buffer.from(b.weights[i]!.values.buffer))).toBe(true));

    // Train 2 steps, snapshot, train 1: equals a fresh engine restored from the snapshot plus 1 step.
    const batch = batchFor(description, 4, 1);
    const first = await createTfjsEngine("wasm");
    await first.init(description, initialWeights(description), HYPER);
    await first.trainStep(batch, 1e-3);
    await first.trainStep(batch, 1e-3);
    const weights = await first.getWeights();
    const optimizer = await first.getOptimizerState();
    const third = await first.trainStep(batch, 1e-3);
    const after = await first.getWeights();
    await first.dispose();
    const second = await createTfjsEngine("wasm");
    await second.init(description, initialWeights(description), HYPER);
    await second.setWeights(weights);
    await second.setOptimizerState(optimizer);
    expect(await second.trainStep(batch, 1e-3)).toBe(third);
    const restored = await second.getWeights();
    await second.dispose();
    after.forEach((w, i) => expect(Buffer.from(w.values.buffer).equals(Buffer.from(restored[i]!.values.buffer))).toBe(true));
    expect(tf.memory().numTensors).toBeLessThan(50);
  }, 60_000);

  it("applies the heads: amplitude in [0, 1], phase in [−π, π] (float32)", async () => {
    const description = tinyPtychoModel({ size: 8, channels: 1, seed: 1 });
    const engine = await createTfjsEngine("wasm");
    await engine.init(description, initialWeights(description), HYPER);
    const out = await engine.predict(batchFor(description, 3, 2).inputs.map((v) => v * 50), 3);
    await engine.dispose();
    for (let i = 0; i < out.length; i += 2) {
      expect(out[i]! >= 0 && out[i]! <= 1).toBe(true);
      expect(Math.abs(out[i + 1]!)).toBeLessThanOrEqual(Math.fround(Math.PI));
    }
  });

  it("rejects weights and batches that do not fit, with typed errors", async () => {
    const description = tinyPtychoModel({ size: 8, channels: 1, seed: 1 });
    const engine = await createTfjsEngine("wasm");
    const weights = initialWeights(description);
    await expect(engine.init(description, weights.slice(1), HYPER)).rejects.toMatchObject({ code: "E_WEIGHTS_MISMATCH", message: expect.stringContaining("missing weight enc1/kernel") });
    await engine.init(description, weights, HYPER);
    await expect(engine.trainStep({ count: 2, inputs: new Float32Array(10) }, 1e-3)).rejects.toMatchObject({ code: "E_BATCH_SHAPE" });
    await expect(engine.trainStep({ count: 1, inputs: new Float32Array(64) }, 1e-3)).rejects.toMatchObject({ code: "E_LOSS_CONFIG" });
    await engine.dispose();
  });
});
