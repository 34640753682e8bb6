/**
 * The ONNX Runtime training engine on real sessions: whole-graph gradients against finite differences of
 * the engine's own evaluated loss, the Adam and SGD-momentum updates against their formulas, the physics
 * loss against an FFT (fft.js), determinism, state round trips and errors.
 */
import { existsSync, readFileSync } from "node:fs";
import FFT from "fft.js";
import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { initialWeights, type ModelDescription, type NamedWeight } from "../../model-description.js";
import { compactPtychoModel, compactStridedPtychoModel, referencePtychoModel, tinyPtychoModel } from "../../../test/fixtures/models.mjs";
import type { EngineHyperparameters, LossDescription, PhysicsLoss, TrainingBatch } from "../training-engine.js";
import { createOnnxTrainingEngine, onnxTrainingSetup, type OnnxTrainingEngineOptions } from "./onnx-training-engine.js";
import { nchwcBlockSize } from "./provider-check.js";

const ADAM = { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;
const SUPERVISED: LossDescription = { kind: "supervised", metric: "mse", amplitudeWeight: 1, phaseWeight: 0.5 };

function makeBatch(d: ModelDescription, count: number, seed: number): TrainingBatch {
  const prng = SeededRandom.derive(seed, "batch");
  const { height, width, channels } = d.input;
  const size = count * height * width * channels;
  return {
    count,
    inputs: Float32Array.from({ length: size }, () => 0.2 + prng.nextDouble()),
    amplitude: Float32Array.from({ length: size }, () => prng.nextDouble()),
    phase: Float32Array.from({ length: size }, () => prng.nextDouble() * 2 - 1),
  };
}

function physicsLoss(d: ModelDescription, objective: PhysicsLoss["objective"]): PhysicsLoss {
  const prng = SeededRandom.derive(5, "probe");
  const n = d.input.height * d.input.width;
  return {
    kind: "physics",
    objective,
    probe: { height: d.input.height, width: d.input.width, real: Float32Array.from({ length: n }, () => prng.nextDouble()), imag: Float32Array.from({ length: n }, () => prng.nextDouble() - 0.5) },
    intensityScale: 3,
    fftshift: true,
  };
}

async function engineFor(d: ModelDescription, loss: LossDescription, options: OnnxTrainingEngineOptions = {}, weights: readonly NamedWeight[] = initialWeights(d)) {
  const engine = createOnnxTrainingEngine({ intraOpNumThreads: 1, ...options });
  const hyper: EngineHyperparameters = { loss, optimizer: ADAM };
  await engine.init(d, weights, hyper);
  return engine;
}

/** d loss / d w at `weights`: one SGD step with momentum 0 leaves exactly the gradient in the slot. */
async function gradientAt(d: ModelDescription, loss: LossDescription, weights: readonly NamedWeight[], batch: TrainingBatch, options: OnnxTrainingEngineOptions = {}): Promise<{ loss: number; grads: NamedWeight[] }> {
  const engine = await engineFor(d, loss, { ...options, optimizer: { kind: "sgdMomentum", momentum: 0 } }, weights);
  const value = await engine.trainStep(batch, 0);
  const state = await engine.getOptimizerState();
  await engine.dispose();
  return { loss: value, grads: state.slots.map((s) => ({ ...s, name: s.name.replace(/\/momentum$/, "") })) };
}

const tiny = tinyPtychoModel({ size: 8, channels: 1, seed: 2 });
/** Gridsize 2: four channels per sample, their patches tied by the overlap constraint on a 3-pixel-padded canvas. */
const gs2 = tinyPtychoModel({ size: 8, channels: 4, seed: 3 });
const gs2Loss: PhysicsLoss = { ...physicsLoss(gs2, "poissonNll"), overlap: { canvasPadding: 3 } };
/** Gridsize 2 with one shared network per pattern (`perPattern`): the 1-channel tiny model's weights. */
const gs2PerPattern = tinyPtychoModel({ size: 8, channels: 4, seed: 3, perPattern: true });
/** The overlap average weighted by the probe's intensity |P|²/max|P|². */
const gs2WeightedLoss: PhysicsLoss = { ...gs2Loss, overlap: { canvasPadding: 3, weighting: "probeIntensity" } };
/** The amplitude-MAE objective through the probe-weighted overlap. */
const gs2WeightedAmplitudeLoss: PhysicsLoss = { ...physicsLoss(gs2, "amplitudeMae"), overlap: { canvasPadding: 3, weighting: "probeIntensity" } };
/** The quick study's network shape (three pools), per pattern at gridsize 2, on 16×16 patterns. */
const compactPerPattern = compactPtychoModel({ size: 16, channels: 4, seed: 3, perPattern: true });
/** The quick study's network (stride-2 convs instead of pools) and PINN loss, at 16×16. */
const compactStridedPerPattern = compactStridedPtychoModel({ size: 16, channels: 4, seed: 3, perPattern: true });
const compactStridedLoss: PhysicsLoss = { ...physicsLoss(compactStridedPerPattern, "poissonNll"), overlap: { canvasPadding: 3, weighting: "probeIntensity" } };
/** The tiny model with enc2 at stride 2 in place of pool1 and enc2. */
const tinyStrided: ModelDescription = { ...tiny, layers: tiny.layers.flatMap((l) => (l.kind === "maxPool2d" ? [] : l.kind === "conv2d" && l.name === "enc2" ? [{ ...l, strides: [2, 2] as const }] : [l])) };
/** The tiny model at 8×12 with its pool and upsample halving and doubling the rows only, and enc2 at stride 2×1. */
const rowStrided: ModelDescription = (() => {
  const base = tinyPtychoModel({ size: 8, channels: 1, seed: 5 });
  return {
    ...base,
    input: { ...base.input, width: 12 },
    layers: base.layers.flatMap((l) => {
      if (l.kind === "maxPool2d") return [];
      if (l.kind === "upsample2d") return [{ ...l, size: [2, 1] as const }];
      return l.kind === "conv2d" && l.name === "enc2" ? [{ ...l, strides: [2, 1] as const }] : [l];
    }),
  };
})();

/** `batch` with random fractional channel offsets (x, y) in [−2.5, 2.5] where the loss has the overlap constraint. */
function placed(batch: TrainingBatch, d: ModelDescription, loss: LossDescription): TrainingBatch {
  if (loss.kind !== "physics" || !loss.overlap) return batch;
  const prng = SeededRandom.derive(batch.count, "offsets");
  return { ...batch, offsets: Float32Array.from({ length: batch.count * d.heads.channels * 2 }, () => 5 * prng.nextDouble() - 2.5) };
}

/**
 * Skips a blocked-vs-NCHW comparison where ORT has no blocked kernels (it would compare NCHW with NCHW),
 * saying so. Under CI an x86-64 CPU with AVX2 must have them, so there the missing layout is a failure.
 */
async function skipWithoutBlockedLayout(skip: (condition: boolean, note?: string) => void): Promise<void> {
  const block = await nchwcBlockSize();
  if (block > 0) return;
  const avx2 = process.arch === "x64" && existsSync("/proc/cpuinfo") && /\bavx2\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  if (process.env.CI && avx2) throw new Error("ONNX Runtime reports no NCHWc block size on an AVX2 CPU: the blocked layout is missing from this onnxruntime-node build");
  skip(true, "ONNX Runtime has no blocked (NCHWc) kernels on this CPU (needs x86-64 with AVX2 or AVX-512): the blocked graph cannot be compared with the NCHW graph here");
}

describe("ONNX Runtime training engine", () => {
  for (const [label, loss, d = tiny] of [
    ["supervised mse", SUPERVISED],
    ["supervised mae", { ...SUPERVISED, metric: "mae" }],
    ["physics poissonNll", physicsLoss(tiny, "poissonNll")],
    ["physics amplitudeMae", physicsLoss(tiny, "amplitudeMae")],
    ["physics poissonNll, gridsize 2 with the overlap constraint", gs2Loss, gs2],
    ["physics poissonNll, gridsize 2 per pattern with the overlap constraint", gs2Loss, gs2PerPattern],
    ["physics poissonNll, gridsize 2 per pattern, overlap weighted by the probe intensity", gs2WeightedLoss, gs2PerPattern],
    ["physics amplitudeMae, gridsize 2 per pattern, overlap weighted by the probe intensity", gs2WeightedAmplitudeLoss, gs2PerPattern],
    // Stride-2 convs: the tiny model with its pool and the conv after it replaced by one stride-2 conv (the
    // strided compact model's float32 differences are too noisy for this test: at steps 1e-4, 3e-4 and 1e-3
    // its dec1 derivative spread 9%; its blocked graph is checked against the NCHW graph below).
    ["supervised mse, a stride-2 conv", SUPERVISED, tinyStrided],
    ["physics poissonNll, a stride-2 conv", physicsLoss(tinyStrided, "poissonNll"), tinyStrided],
  ] as const) {
    // On the NCHW graph; the blocked graph is checked against it below (float32 central differences of
    // the kinked |·| losses are too noisy to tell two correct roundings apart).
    it(`whole-model gradient (${label}) matches central differences of the evaluated loss`, async () => {
      const weights = initialWeights(d);
      const batch = placed(makeBatch(d, 2, 1), d, loss);
      const { loss: stepLoss, grads } = await gradientAt(d, loss, weights, batch, { layout: "nchw" });
      const evaluator = await engineFor(d, loss, { layout: "nchw" }, weights);
      expect(await evaluator.evaluate(batch)).toBeCloseTo(stepLoss, 6);
      const prng = SeededRandom.derive(9, label);
      for (const target of ["enc1/kernel", "dec1/kernel", "out/kernel", "out/bias"]) {
        const index = weights.findIndex((w) => w.name === target);
        const direction = Float32Array.from(weights[index]!.values, () => prng.nextDouble() * 2 - 1);
        // Smaller steps for |·| losses, whose kinks a larger step would cross.
        const kinked = label.includes("mae") || label.includes("Mae");
        const eps = (kinked ? 2e-4 : 1e-3) / Math.sqrt(direction.reduce((s, v) => s + v * v, 0));
        const at = async (sign: number) => {
          await evaluator.setWeights(weights.map((w, i) => (i === index ? { ...w, values: w.values.map((v, k) => v + sign * eps * direction[k]!) } : w)));
          return evaluator.evaluate(batch);
        };
        const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
        const analytic = grads[index]!.values.reduce((s, g, k) => s + g * direction[k]!, 0);
        // The perPattern model's float32 differences are noisier: measured on it, steps from 3e-3 down to
        // 1e-4 spread by ±2e-3 and ±3% around autodiff (larger steps cross ReLU kinks), hence its margin.
        const [relative, absolute] = d.perPattern === true ? [3e-2, 2.5e-3] : [1e-2, kinked ? 5e-4 : 2e-4];
        expect(Math.abs(numeric - analytic), `${label}, ${target}: numeric ${numeric}, autodiff ${analytic}`).toBeLessThan(relative * Math.abs(numeric) + absolute);
      }
      await evaluator.dispose();
    });
  }

  it("runs the blocked NCHWc graph (default where ORT has it) with the NCHW graph's loss, gradients and predictions", async (context) => {
    await skipWithoutBlockedLayout(context.skip);
    const withDropout: ModelDescription = { ...tiny, layers: [...tiny.layers.slice(0, 2), { kind: "dropout", name: "drop", rate: 0.5, seed: 1 }, ...tiny.layers.slice(2)] };
    // Non-square, with a 16-filter conv after the upsample: a whole block (or two) per sub-pixel phase.
    const wide: ModelDescription = { ...tiny, input: { ...tiny.input, width: 12 }, layers: tiny.layers.map((l) => (l.kind === "conv2d" && l.name === "dec1" ? { ...l, filters: 16 } : l)) };
    const prng = SeededRandom.derive(4, "dropout mask");
    const mask = Float32Array.from({ length: 2 * 4 * 4 * 8 }, () => (prng.nextDouble() < 0.5 ? 0 : 2));
    // 32×32 images, 40 of them: the filter gradients of the 32×32 layers go in two chunks of images (32 + 8);
    // every other case has images small enough for the folded form.
    const large = tinyPtychoModel({ size: 32, channels: 1, seed: 2 });
    for (const [label, d, loss, masks, count = 2] of [
      ["supervised mse", tiny, SUPERVISED, undefined],
      ["supervised mae", tiny, { ...SUPERVISED, metric: "mae" }, undefined],
      ["physics poissonNll", tiny, physicsLoss(tiny, "poissonNll"), undefined],
      ["physics amplitudeMae", tiny, physicsLoss(tiny, "amplitudeMae"), undefined],
      ["physics poissonNll, gridsize 2 with the overlap constraint", gs2, gs2Loss, undefined],
      ["physics poissonNll, gridsize 2 per pattern with the overlap constraint", gs2PerPattern, gs2Loss, undefined],
      // Three pools down to 2×2 and three upsamples back: the quick study's network and loss.
      ["physics amplitudeMae, the compact model per pattern, probe-weighted overlap", compactPerPattern, { ...physicsLoss(compactPerPattern, "amplitudeMae"), overlap: { canvasPadding: 3, weighting: "probeIntensity" } }, undefined],
      ["dropout", withDropout, SUPERVISED, { drop: mask }],
      ["sub-pixel upsample conv, 8×12", wide, SUPERVISED, undefined],
      // The output layer right after the upsample: its 2 filters' 4 phases leave the blocked layout at the low resolution.
      ["sub-pixel output layer", { ...tiny, layers: tiny.layers.filter((l) => l.name !== "dec1") }, SUPERVISED, undefined],
      ["chunked filter gradients, 32×32", large, SUPERVISED, undefined, 40],
      // Stride-2 convs in place of the pools: the quick study's network since the strided rework.
      ["physics poissonNll, the strided compact model per pattern, probe-weighted overlap", compactStridedPerPattern, compactStridedLoss, undefined],
      // Unequal strides (2 down the rows, 1 across) on a non-square input, one image to a few chunks.
      ["strides 2×1, 8×12", rowStrided, SUPERVISED, undefined],
    ] as const) {
      const weights = initialWeights(d);
      const batch = placed({ ...makeBatch(d, count, 6), ...(masks ? { dropoutMasks: masks } : {}) }, d, loss);
      const nchw = await gradientAt(d, loss, weights, batch, { layout: "nchw" });
      const blocked = await gradientAt(d, loss, weights, batch, { layout: "nchwc" });
      expect(Math.abs(blocked.loss - nchw.loss), label).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(nchw.loss)));
      nchw.grads.forEach((g, i) => {
        const scale = g.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const worst = g.values.reduce((m, v, k) => Math.max(m, Math.abs(v - blocked.grads[i]!.values[k]!)), 0);
        expect(worst, `${label}: d loss / d ${g.name}`).toBeLessThanOrEqual(1e-5 * scale + 1e-8);
      });
    }
    const predictions = await Promise.all(
      (["nchw", "nchwc"] as const).map(async (layout) => {
        const engine = await engineFor(tiny, SUPERVISED, { layout });
        const block = await nchwcBlockSize();
        expect(engine.layout).toBe(layout === "nchwc" && block > 0 ? `nchwc(${block})` : "nchw");
        const out = await engine.predict(makeBatch(tiny, 3, 7).inputs, 3);
        await engine.dispose();
        return out;
      }),
    );
    expect(predictions[1]!.reduce((m, v, k) => Math.max(m, Math.abs(v - predictions[0]![k]!)), 0)).toBeLessThan(1e-5);
  });

  /**
   * Low-dose diffraction has exact-zero regions: after a conv with a positive bias a 2×2 window there holds
   * four equal positive values. Its gradient belongs to one of them (the first, as ORT's pool indices and
   * TF.js route it), not to all four. The reference model at 16×16, biases 0.05, the left half of every
   * image 0: `options`' gradient must be the NCHW graph's, which scatters through the pool's indices.
   */
  async function expectTiesRoutedAsByIndices(label: string, options: OnnxTrainingEngineOptions): Promise<void> {
    const d = referencePtychoModel({ size: 16, channels: 1, seed: 3 });
    const weights = initialWeights(d).map((w) => (w.name.endsWith("/bias") ? { ...w, values: new Float32Array(w.values.length).fill(0.05) } : w));
    const batch = makeBatch(d, 2, 14);
    batch.inputs.forEach((_, k) => {
      if (k % 16 < 8) batch.inputs[k] = 0;
    });
    const nchw = await gradientAt(d, SUPERVISED, weights, batch, { layout: "nchw" });
    const other = await gradientAt(d, SUPERVISED, weights, batch, options);
    nchw.grads.forEach((g, i) => {
      const scale = g.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const worst = g.values.reduce((m, v, k) => Math.max(m, Math.abs(v - other.grads[i]!.values[k]!)), 0);
      expect(worst, `${label}: d loss / d ${g.name} (largest ${scale})`).toBeLessThanOrEqual(1e-5 * scale + 1e-8);
    });
  }

  it("routes a pooling window's tied maxima to one input on the blocked graph as on the NCHW graph", async (context) => {
    await skipWithoutBlockedLayout(context.skip);
    await expectTiesRoutedAsByIndices("blocked", { layout: "nchwc" });
  });

  it("routes a pooling window's tied maxima to one input with the mask max-pool gradient as with the indices", async () => {
    await expectTiesRoutedAsByIndices("NCHW, mask gradient", { layout: "nchw", maxPoolGradient: "mask" });
  });

  it("runs a perPattern model as the 1-channel model on each pattern: same weights, amplitudes then phases", async () => {
    const single = tinyPtychoModel({ size: 8, channels: 1, seed: 3 });
    const weights = initialWeights(gs2PerPattern);
    // The 1-channel model's weights are the perPattern model's, name for name and shape for shape.
    expect(initialWeights(single).map((w) => [w.name, [...w.shape]])).toEqual(weights.map((w) => [w.name, [...w.shape]]));
    const count = 3;
    const batch = makeBatch(gs2PerPattern, count, 7);
    const pixels = 8 * 8;
    for (const layout of ["nchw", "auto"] as const) {
      const grouped = await engineFor(gs2PerPattern, SUPERVISED, layout === "nchw" ? { layout } : {}, weights);
      const out = await grouped.predict(batch.inputs, count);
      await grouped.dispose();
      const alone = await engineFor(single, SUPERVISED, { layout: "nchw" }, weights);
      for (let channel = 0; channel < 4; channel++) {
        // Channel `channel` of every sample as a 1-channel batch.
        const inputs = Float32Array.from({ length: count * pixels }, (_, k) => batch.inputs[k * 4 + channel]!);
        const expected = await alone.predict(inputs, count);
        for (let sample = 0; sample < count; sample++)
          for (let pixel = 0; pixel < pixels; pixel++)
            for (const head of [0, 1]) {
              const got = out[(sample * pixels + pixel) * 8 + head * 4 + channel]!;
              const want = expected[(sample * pixels + pixel) * 2 + head]!;
              expect(Math.abs(got - want), `${layout}: sample ${sample}, pixel ${pixel}, channel ${channel}, ${head === 0 ? "amplitude" : "phase"}`).toBeLessThan(1e-5);
            }
      }
      await alone.dispose();
    }
  });

  it("applies Adam's first step as w − lr·g/(|g| + ε) and SGD momentum as a ← μa + g, w ← w − lr·a", async () => {
    const weights = initialWeights(tiny);
    const batch = makeBatch(tiny, 2, 3);
    const { grads } = await gradientAt(tiny, SUPERVISED, weights, batch);
    const adam = await engineFor(tiny, SUPERVISED, {}, weights);
    await adam.trainStep(batch, 0.01);
    const updated = await adam.getWeights();
    updated.forEach((w, i) =>
      w.values.forEach((v, k) => {
        const g = grads[i]!.values[k]!;
        expect(Math.abs(v - (weights[i]!.values[k]! - (0.01 * g) / (Math.abs(g) + 1e-7)))).toBeLessThan(1e-5);
      }),
    );
    const state = await adam.getOptimizerState();
    expect(state.step).toBe(1);
    expect(state.slots.map((s) => s.name).slice(0, 2)).toEqual(["enc1/kernel/m", "enc1/bias/m"]);
    const sgd = await engineFor(tiny, SUPERVISED, { optimizer: { kind: "sgdMomentum", momentum: 0.9 } }, weights);
    await sgd.trainStep(batch, 0.1);
    const { grads: g2 } = await gradientAt(tiny, SUPERVISED, await sgd.getWeights(), batch);
    await sgd.trainStep(batch, 0.1);
    const after = await sgd.getWeights();
    after.forEach((w, i) =>
      w.values.forEach((v, k) => {
        const a1 = grads[i]!.values[k]!;
        const a2 = 0.9 * a1 + g2[i]!.values[k]!;
        expect(Math.abs(v - (weights[i]!.values[k]! - 0.1 * a1 - 0.1 * a2))).toBeLessThan(1e-5);
      }),
    );
    await Promise.all([adam.dispose(), sgd.dispose()]);
  });

  it("computes the physics intensity as intensityScale·|fftshift(FFT2(O·P))/√(HW)|² (checked with fft.js)", async () => {
    const loss = physicsLoss(tiny, "poissonNll");
    const engine = await engineFor(tiny, loss);
    const batch = makeBatch(tiny, 2, 4);
    const value = await engine.evaluate(batch);
    const prediction = await engine.predict(batch.inputs, batch.count);
    const n = 8;
    const fft = new FFT(n);
    let total = 0;
    for (let b = 0; b < batch.count; b++) {
      // exit wave ψ = A·e^{iφ}·P, then a 2-D FFT as rows then columns.
      const rows: number[][] = [];
      for (let y = 0; y < n; y++) {
        const line = fft.createComplexArray() as number[];
        for (let x = 0; x < n; x++) {
          const at = (b * n + y) * n + x;
          const a = prediction[2 * at]!;
          const phi = prediction[2 * at + 1]!;
          const [or, oi] = [a * Math.cos(phi), a * Math.sin(phi)];
          const [pr, pi] = [loss.probe.real[y * n + x]!, loss.probe.imag[y * n + x]!];
          line[2 * x] = or * pr - oi * pi;
          line[2 * x + 1] = or * pi + oi * pr;
        }
        const out = fft.createComplexArray() as number[];
        fft.transform(out, line);
        rows.push(out);
      }
      for (let x = 0; x < n; x++) {
        const column = fft.createComplexArray() as number[];
        for (let y = 0; y < n; y++) [column[2 * y], column[2 * y + 1]] = [rows[y]![2 * x]!, rows[y]![2 * x + 1]!];
        const out = fft.createComplexArray() as number[];
        fft.transform(out, column);
        for (let k = 0; k < n; k++) {
          const intensity = (3 * (out[2 * k]! ** 2 + out[2 * k + 1]! ** 2)) / (n * n);
          // fftshift: frequency k lands at row (k + n/2) mod n, frequency x at column (x + n/2) mod n.
          const measured = batch.inputs[(b * n + ((k + n / 2) % n)) * n + ((x + n / 2) % n)]!;
          total += intensity - measured * measured * Math.log(intensity + 1e-6);
        }
      }
    }
    expect(value).toBeCloseTo(total / (batch.count * n * n), 4);
    await engine.dispose();
  });

  it("trains: the loss falls on a fixed batch, and two engines with the same inputs give bit-identical weights", async () => {
    const batch = makeBatch(tiny, 4, 6);
    const run = async () => {
      const engine = await engineFor(tiny, SUPERVISED, { intraOpNumThreads: 2 });
      const losses: number[] = [];
      for (let i = 0; i < 25; i++) losses.push(await engine.trainStep(batch, 0.01));
      const weights = await engine.getWeights();
      expect(engine.info).toEqual({ engine: "onnxruntime", backend: "cpu", threads: 2, layout: engine.layout, fallbacks: [] });
      await engine.dispose();
      return { losses, weights };
    };
    const a = await run();
    const b = await run();
    expect(a.losses.at(-1)!).toBeLessThan(0.5 * a.losses[0]!);
    expect(b.losses).toEqual(a.losses);
    a.weights.forEach((w, i) => expect(Buffer.from(w.values.buffer).equals(Buffer.from(b.weights[i]!.values.buffer))).toBe(true));
  });

  it("splits a step over data-parallel replicas: the same step as one session, bit-identical across runs", async () => {
    const withDropout: ModelDescription = { ...tiny, layers: [...tiny.layers.slice(0, 2), { kind: "dropout", name: "drop", rate: 0.5, seed: 1 }, ...tiny.layers.slice(2)] };
    const prng = SeededRandom.derive(9, "dropout mask");
    // 5 samples over 2 replicas (3 + 2) and 3 replicas (2 + 2 + 1): unequal shares must be weighted by size.
    const mask = Float32Array.from({ length: 5 * 4 * 4 * 8 }, () => (prng.nextDouble() < 0.5 ? 0 : 2));
    for (const [label, d, loss, masks] of [
      ["supervised mse", tiny, SUPERVISED, undefined],
      ["physics poissonNll", tiny, physicsLoss(tiny, "poissonNll"), undefined],
      ["physics poissonNll, gridsize 2 with the overlap constraint", gs2, gs2Loss, undefined],
      ["dropout", withDropout, SUPERVISED, { drop: mask }],
    ] as const) {
      const weights = initialWeights(d);
      const batch = placed({ ...makeBatch(d, 5, 11), ...(masks ? { dropoutMasks: masks } : {}) }, d, loss);
      const whole = await gradientAt(d, loss, weights, batch);
      for (const replicas of [2, 3]) {
        const split = await gradientAt(d, loss, weights, batch, { replicas });
        expect(Math.abs(split.loss - whole.loss), `${label}, ${replicas} replicas: loss`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(whole.loss)));
        whole.grads.forEach((g, i) => {
          const scale = g.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const worst = g.values.reduce((m, v, k) => Math.max(m, Math.abs(v - split.grads[i]!.values[k]!)), 0);
          expect(worst, `${label}, ${replicas} replicas: d loss / d ${g.name}`).toBeLessThanOrEqual(1e-5 * scale + 1e-8);
        });
      }
    }
    const batch = makeBatch(tiny, 6, 12);
    const run = async () => {
      const engine = await engineFor(tiny, SUPERVISED, { replicas: 2 });
      const losses: number[] = [];
      for (let i = 0; i < 6; i++) losses.push(await engine.trainStep(batch, 0.01));
      // A batch smaller than the replica count runs whole, on the calling thread.
      losses.push(await engine.trainStep(makeBatch(tiny, 1, 13), 0.01));
      expect(engine.info).toEqual({ engine: "onnxruntime", backend: "cpu", threads: 1, replicas: 2, layout: engine.layout, fallbacks: [] });
      const state = { weights: await engine.getWeights(), optimizer: await engine.getOptimizerState() };
      await engine.dispose();
      return { losses, state };
    };
    const [a, b] = [await run(), await run()];
    expect(a.losses.slice(0, 6).every((l, i) => i === 0 || l < a.losses[0]!)).toBe(true);
    expect(b.losses).toEqual(a.losses);
    expect(a.state.optimizer.step).toBe(7);
    a.state.weights.forEach((w, i) => expect(Buffer.from(w.values.buffer).equals(Buffer.from(b.state.weights[i]!.values.buffer)), w.name).toBe(true));
  });

  it("resumes from saved weights and optimizer state exactly", async () => {
    const batch = makeBatch(tiny, 3, 7);
    const first = await engineFor(tiny, SUPERVISED);
    await first.trainStep(batch, 0.01);
    await first.trainStep(batch, 0.01);
    const saved = { weights: await first.getWeights(), state: await first.getOptimizerState() };
    await first.trainStep(batch, 0.01);
    const expected = await first.getWeights();
    const resumed = await engineFor(tiny, SUPERVISED, {}, saved.weights);
    await resumed.setOptimizerState(saved.state);
    await resumed.trainStep(batch, 0.01);
    const got = await resumed.getWeights();
    got.forEach((w, i) => expect(Array.from(w.values)).toEqual(Array.from(expected[i]!.values)));
    await Promise.all([first.dispose(), resumed.dispose()]);
  });

  it("handles a smaller last batch and dropout masks", async () => {
    const d: ModelDescription = { ...tiny, layers: [...tiny.layers.slice(0, 2), { kind: "dropout", name: "drop", rate: 0.5, seed: 1 }, ...tiny.layers.slice(2)] };
    const engine = await engineFor(d, SUPERVISED);
    const batch = makeBatch(d, 3, 8);
    const ones = new Float32Array(3 * 4 * 4 * 8).fill(1);
    const zeros = new Float32Array(3 * 4 * 4 * 8);
    const base = await engine.evaluate(batch);
    const before = await engine.getWeights();
    // An all-ones mask is the identity: the step's loss is the evaluated loss.
    expect(await engine.trainStep({ ...batch, dropoutMasks: { drop: ones } }, 0)).toBeCloseTo(base, 6);
    // An all-zero mask cuts the encoder off: its kernel gets no gradient, so a fresh Adam leaves it unchanged.
    const fresh = await engineFor(d, SUPERVISED);
    await fresh.trainStep({ ...batch, dropoutMasks: { drop: zeros } }, 0.01);
    const after = await fresh.getWeights();
    expect(Array.from(after[0]!.values)).toEqual(Array.from(before[0]!.values));
    expect(Array.from(after.at(-1)!.values)).not.toEqual(Array.from(before.at(-1)!.values));
    await fresh.dispose();
    expect(Number.isFinite(await engine.trainStep(makeBatch(d, 1, 9), 0.01))).toBe(true);
    await engine.dispose();
  });

  it("reports the execution provider it runs on, and why CUDA was skipped when its provider is missing", async () => {
    const engine = createOnnxTrainingEngine({ executionProviders: ["cuda", "cpu"] });
    const before = engine.info;
    await engine.init(tiny, initialWeights(tiny), { loss: SUPERVISED, optimizer: ADAM });
    const after = engine.info;
    // The provider guessed before init is the one that runs; init adds the graph layout it chose.
    expect(after).toEqual({ ...before, layout: engine.layout });
    expect(before.layout).toBeUndefined();
    if (after.backend === "cpu") {
      expect(after.fallbacks.map((f) => f.backend)).toEqual(["cuda"]);
      expect(after.fallbacks[0]!.reason).toMatch(/cuda/i);
    } else {
      expect(after.backend).toBe("cuda");
    }
    await engine.dispose();
  });

  it("tells before any model is compiled what an engine with the same options runs on (for run identities)", async () => {
    const variants: OnnxTrainingEngineOptions[] = [{}, { layout: "nchw" }, { intraOpNumThreads: 1 }, { executionProviders: ["cuda", "cpu"] }, { replicas: 2 }];
    for (const options of variants) {
      const setup = await onnxTrainingSetup(options);
      const engine = createOnnxTrainingEngine(options);
      await engine.init(tiny, initialWeights(tiny), { loss: SUPERVISED, optimizer: ADAM });
      // The tiny model allows the blocked layout, so it gets exactly the layout the setup announced.
      const replicas = engine.info.replicas === undefined ? {} : { replicas: engine.info.replicas };
      expect(setup, JSON.stringify(options)).toEqual({ engine: "onnxruntime", provider: engine.info.backend, threads: engine.info.threads, ...replicas, layout: engine.layout, onnxruntime: expect.stringMatching(/^\d+\.\d+\.\d+/) });
      await engine.dispose();
    }
    await expect(onnxTrainingSetup({ intraOpNumThreads: 0 })).rejects.toMatchObject({ code: "E_ONNX_OPTIONS" });
    await expect(onnxTrainingSetup({ replicas: 0 })).rejects.toMatchObject({ code: "E_ONNX_OPTIONS", message: expect.stringContaining("replicas") });
    await expect(onnxTrainingSetup({ replicas: 2 })).resolves.toMatchObject({ threads: 1, replicas: 2 });
    // CUDA alone where its provider library is missing: the engine could not start, so neither can the setup.
    const cudaInstalled = (await onnxTrainingSetup({ executionProviders: ["cuda", "cpu"] })).provider === "cuda";
    const cudaSetup = onnxTrainingSetup({ executionProviders: ["cuda"] });
    if (!cudaInstalled) await expect(cudaSetup).rejects.toMatchObject({ code: "E_ONNX_NO_PROVIDER", message: expect.stringContaining("cuda: ") });
    else await expect(cudaSetup).resolves.toMatchObject({ provider: "cuda", layout: "nchw" });
  });

  it("reports misuse with typed errors", async () => {
    const engine = createOnnxTrainingEngine();
    await expect(engine.trainStep(makeBatch(tiny, 1, 1), 0.1)).rejects.toMatchObject({ code: "E_ENGINE_NOT_INITIALISED" });
    await expect(engine.init(tiny, initialWeights(tiny).slice(1), { loss: SUPERVISED, optimizer: ADAM })).rejects.toMatchObject({ code: "E_ONNX_WEIGHTS", message: expect.stringContaining("missing weight enc1/kernel") });
    await engine.init(tiny, initialWeights(tiny), { loss: SUPERVISED, optimizer: ADAM });
    const batch = makeBatch(tiny, 2, 1);
    await expect(engine.trainStep({ ...batch, inputs: batch.inputs.subarray(1) }, 0.1)).rejects.toMatchObject({ code: "E_BATCH_SHAPE" });
    await expect(engine.trainStep({ count: 2, inputs: batch.inputs }, 0.1)).rejects.toMatchObject({ code: "E_BATCH_SHAPE", message: expect.stringContaining("amplitude targets are missing") });
    await expect(engine.trainStep(batch, Number.NaN)).rejects.toMatchObject({ code: "E_ONNX_OPTIONS" });
    await expect(engine.setOptimizerState({ step: 1, slots: [] })).rejects.toMatchObject({ code: "E_OPTIMIZER_STATE" });
    expect(() => createOnnxTrainingEngine({ layout: "nhwc" as "nchw" })).toThrow(expect.objectContaining({ code: "E_ONNX_OPTIONS" }));
    await engine.dispose();
    await expect(engineFor(gs2, { ...gs2Loss, overlap: { canvasPadding: 2.5 } })).rejects.toMatchObject({ code: "E_LOSS_CONFIG", message: expect.stringContaining("got 2.5") });
    const grouped = await engineFor(gs2, gs2Loss);
    const gs2Batch = placed(makeBatch(gs2, 2, 1), gs2, gs2Loss);
    await expect(grouped.trainStep({ ...gs2Batch, offsets: undefined }, 0.1)).rejects.toMatchObject({ code: "E_BATCH_SHAPE", message: expect.stringContaining("offsets are missing") });
    await expect(grouped.evaluate({ ...gs2Batch, offsets: gs2Batch.offsets!.subarray(2) })).rejects.toMatchObject({ code: "E_BATCH_SHAPE", message: expect.stringContaining("needs 2×4×2") });
    const far = Float32Array.from(gs2Batch.offsets!);
    far[5] = -3.5;
    await expect(grouped.trainStep({ ...gs2Batch, offsets: far }, 0.1)).rejects.toMatchObject({ code: "E_BATCH_SHAPE", message: expect.stringContaining("offsets[0, 2, 1] = -3.5 is beyond the canvas padding 3") });
    // Predictions need no offsets (the constraint belongs to the loss).
    expect(await grouped.predict(gs2Batch.inputs, 2)).toHaveLength(2 * 8 * 8 * 8);
    await grouped.dispose();
  });
});
