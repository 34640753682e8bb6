import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unzipSync } from "fflate";
import { SeededRandom } from "@studykit/core";
import { initialWeights, type ModelDescription } from "./model-description.js";
import { tinyPtychoModel } from "../test/fixtures/models.mjs";
import { inMemoryTrainingData } from "./training-data.js";
import { train, type TrainOptions, type TrainWarning } from "./train.js";
import { loadBundle } from "./bundle.js";
import { loadBundleModel } from "./bundle-model.js";
import { createTfjsEngine } from "./engines/tfjs/tfjs-engine.js";
import type { TrainingEngine } from "./engines/training-engine.js";

const roots: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "studykit-train-"));
  roots.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

/** Smooth random 16×16 inputs; targets are fixed functions of them, so a conv net can learn them. */
function syntheticData(count: number, seed: number) {
  const size = 16;
  const prng = new SeededRandom(seed);
  const inputs = new Float32Array(count * size * size);
  for (let n = 0; n < count; n++) {
    const fx = 0.2 + prng.nextDouble() * 0.6;
    const fy = 0.2 + prng.nextDouble() * 0.6;
    const phase = prng.nextDouble() * 6;
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) inputs[(n * size + i) * size + j] = 0.5 + 0.5 * Math.sin(fx * i + fy * j + phase);
  }
  const amplitude = inputs.map((v) => 0.2 + 0.6 * v);
  const phase = inputs.map((v) => 1.5 * (v - 0.5));
  return inMemoryTrainingData({ sampleShape: [size, size, 1], inputs, amplitude, phase });
}

const IDENTITY = { stage: "train-test", note: "fixed identity so bundles compare across runs" };

function options(outDir: string, overrides: Partial<TrainOptions> = {}, model: ModelDescription = tinyPtychoModel({ size: 16, channels: 1, seed: 7 })): TrainOptions {
  return {
    description: model,
    data: syntheticData(48, 3),
    loss: { kind: "supervised", metric: "mae", amplitudeWeight: 1, phaseWeight: 1 },
    epochs: 4,
    batchSize: 8,
    learningRate: 3e-3,
    validationSplit: 0.25,
    outDir,
    backend: "wasm",
    progress: false,
    identity: IDENTITY,
    ...overrides,
  };
}

describe.each(["wasm", "cpu"])("train on %s", (backend) => {
  it("trains the tiny model for real: the loss falls and the bundle loads and predicts identically", async () => {
    const outDir = tempDir();
    // cpu is slow (pure JS): fewer samples there.
    const result = await train(options(outDir, { backend, ...(backend === "cpu" ? { data: syntheticData(24, 3), epochs: 4 } : {}) }));
    expect(result.backend).toBe(backend);
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    const first = result.history[0]!;
    const last = result.history.at(-1)!;
    expect(last.loss).toBeLessThan(first.loss * 0.8);
    expect(last.valLoss!).toBeLessThan(first.valLoss!);

    const bundle = await loadBundle(result.bundlePath, { expectSha256: result.bundleSha256 });
    expect(bundle.history).toEqual(JSON.parse(JSON.stringify(result.history)));
    expect(bundle.backend).toMatchObject({ engine: "tfjs", backend, convolutions: backend === "cpu" ? "tfjs-cpu" : expect.stringMatching(/^(studykit-native|xnnpack)$/) });
    expect(bundle.identity).toEqual(IDENTITY);

    // The bundled model predicts exactly what an engine holding the trained weights predicts.
    const model = await loadBundleModel(result.bundlePath, { expectSha256: result.bundleSha256, backend });
    const probe = syntheticData(5, 99);
    const inputs = (await probe.read(Uint32Array.from([0, 1, 2, 3, 4]))).inputs;
    const fromBundle = await model.predict(inputs, 5);
    await model.dispose();
    const engine = await createTfjsEngine(backend);
    await engine.init(bundle.description, result.weights, { loss: { kind: "supervised", metric: "mae", amplitudeWeight: 1, phaseWeight: 1 }, optimizer: { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } });
    const fromEngine = await engine.predict(inputs, 5);
    await engine.dispose();
    expect(Buffer.from(fromBundle.buffer).equals(Buffer.from(fromEngine.buffer))).toBe(true);

    // Metrics files: one JSONL line and one CSV row per epoch.
    const jsonl = readFileSync(join(outDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(jsonl.map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
    expect(jsonl[0]).toMatchObject({ backend, engine: "tfjs" });
    expect(jsonl[0].samplesPerSecond).toBeGreaterThan(0);
    expect(readFileSync(join(outDir, "metrics.csv"), "utf8").trim().split("\n")).toHaveLength(5);
    expect(readFileSync(join(outDir, "loss-curve.svg"), "utf8")).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
  }, 120_000);
});

describe("determinism and bundles (wasm)", () => {
  it("gives the same bundle SHA-256 for the same seeds, and a different one when a seed changes", async () => {
    const a = await train(options(tempDir()));
    const b = await train(options(tempDir()));
    expect(b.bundleSha256).toBe(a.bundleSha256);
    expect(Buffer.from(readFileSync(a.bundlePath)).equals(readFileSync(b.bundlePath))).toBe(true);
    const shuffled = await train(options(tempDir(), { seeds: { shuffle: 8 } }));
    expect(shuffled.bundleSha256).not.toBe(a.bundleSha256);
    const reinitialised = await train(options(tempDir(), {}, tinyPtychoModel({ size: 16, channels: 1, seed: 8 })));
    expect(reinitialised.bundleSha256).not.toBe(a.bundleSha256);
  }, 120_000);

  it("writes the members in a fixed order with fixed timestamps and no absolute paths", async () => {
    const result = await train(options(tempDir(), { epochs: 1 }));
    const zip = readFileSync(result.bundlePath);
    const names = Object.keys(unzipSync(zip));
    expect(names).toEqual(["model.json", "weights.bin", "description.json", "hyperparameters.json", "history.json", "identity.json", "backend.json", "loss-curve.svg", "model.onnx"]);
    expect(result.onnxExport).toEqual({ written: true });
    // Every local file header (PK\3\4) carries DOS time 00:00 and date 1980-01-01 (0x0021).
    for (let at = zip.indexOf("PK\u0003\u0004"); at >= 0; at = zip.indexOf("PK\u0003\u0004", at + 4)) {
      expect(zip.readUInt16LE(at + 10)).toBe(0);
      expect(zip.readUInt16LE(at + 12)).toBe(0x21);
    }
    const files = unzipSync(zip);
    for (const [name, bytes] of Object.entries(files)) {
      if (name.endsWith(".bin") || name.endsWith(".onnx")) continue;
      expect(new TextDecoder().decode(bytes), name).not.toContain(tmpdir());
    }
    const modelJson = JSON.parse(new TextDecoder().decode(files["model.json"]));
    expect(modelJson.weightsManifest[0].paths).toEqual(["weights.bin"]);
    expect(files["weights.bin"]!.length).toBe(modelJson.weightsManifest[0].weights.reduce((s: number, w: { shape: number[] }) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0));
  }, 60_000);

  it("stamps a given identity as is, and says so when it had to build a partial one itself", async () => {
    const given = await train(options(tempDir(), { epochs: 1 }));
    expect(given.identitySource).toBe("given");
    expect((await loadBundle(given.bundlePath)).identity).toEqual(IDENTITY);
    const built = await train(options(tempDir(), { epochs: 1, identity: undefined, datasetSnapshotHash: "f".repeat(64) }));
    expect(built.identitySource).toBe("built");
    const identity = (await loadBundle(built.bundlePath)).identity as Record<string, unknown>;
    // A partial identity: no run id, no strict key, but the dataset hash and the loop's seeds it was given.
    expect(identity).toMatchObject({ isFinal: false, stage: "train", datasetSnapshotHash: "f".repeat(64), seeds: { init: 7, shuffle: 7, dropout: 7 } });
    expect(identity["strictKey"]).toBeUndefined();
    expect(identity["runId"]).toBeUndefined();
  }, 60_000);

  it("refuses a bundle whose bytes do not match the recorded SHA-256 (E_BUNDLE_CORRUPT)", async () => {
    const result = await train(options(tempDir(), { epochs: 1 }));
    await expect(loadBundle(result.bundlePath, { expectSha256: "0".repeat(64) })).rejects.toMatchObject({ code: "E_BUNDLE_CORRUPT", message: expect.stringContaining(result.bundleSha256) });
    const bytes = readFileSync(result.bundlePath);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(result.bundlePath, bytes);
    await expect(loadBundle(result.bundlePath, { expectSha256: result.bundleSha256 })).rejects.toMatchObject({ code: "E_BUNDLE_CORRUPT" });
  }, 60_000);
});

describe("the same loop on ONNX Runtime (engine: \"onnxruntime\")", () => {
  it("gives the same bundle SHA-256 for the same seeds and records the provider, threads and graph layout", async () => {
    const ort = { engine: "onnxruntime" as const, backend: "cpu" };
    const a = await train(options(tempDir(), ort));
    const b = await train(options(tempDir(), { engine: "onnxruntime", backend: "auto" }));
    expect(b.bundleSha256).toBe(a.bundleSha256);
    expect(a.history.at(-1)!.loss).toBeLessThan(a.history[0]!.loss);
    const bundle = await loadBundle(a.bundlePath);
    // The CPU default: 2 data-parallel replicas of 1 thread, both recorded (the gradient sums follow them).
    expect(bundle.backend).toMatchObject({ engine: "onnxruntime", backend: "cpu", threads: 1, replicas: 2, layout: expect.stringMatching(/^(nchwc\(\d+\)|nchw)$/) });
    const reseeded = await train(options(tempDir(), { ...ort, seeds: { shuffle: 8 } }));
    expect(reseeded.bundleSha256).not.toBe(a.bundleSha256);
  }, 120_000);

  it("refuses a TF.js back end as an ONNX Runtime execution provider, naming both fixes", async () => {
    await expect(train(options(tempDir(), { engine: "onnxruntime", backend: "wasm" }))).rejects.toMatchObject({
      code: "E_BACKEND_UNKNOWN",
      message: expect.stringMatching(/"wasm" is not an ONNX Runtime execution provider: use one of cuda, cpu .*engine "tfjs"/),
    });
  });
});

describe("checkpoints, resume and cancellation (wasm)", () => {
  it("resumes after an abort and ends bitwise where an uninterrupted run ends", async () => {
    const uninterrupted = await train(options(tempDir()));
    const outDir = tempDir();
    const controller = new AbortController();
    await expect(
      train(options(outDir, { signal: controller.signal, onEpoch: (m) => m.epoch === 2 && controller.abort(new Error("test stop")) })),
    ).rejects.toMatchObject({ code: "E_ABORTED" });
    const resumed = await train(options(outDir));
    expect(resumed.resumedFromEpoch).toBe(2);
    expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(resumed.bundleSha256).toBe(uninterrupted.bundleSha256);
    const jsonl = readFileSync(join(outDir, "metrics.jsonl"), "utf8").trim().split("\n");
    expect(jsonl).toHaveLength(4);
  }, 120_000);

  it("refuses a checkpoint written for other hyperparameters", async () => {
    const outDir = tempDir();
    await train(options(outDir, { epochs: 1 }));
    await expect(train(options(outDir, { learningRate: 1e-2 }))).rejects.toMatchObject({ code: "E_CHECKPOINT_MISMATCH" });
  }, 60_000);

  it("stops early when the monitored loss stops improving", async () => {
    // A learning rate this small cannot move the validation loss by minDelta.
    const result = await train(options(tempDir(), { epochs: 6, learningRate: 1e-9, earlyStopping: { patience: 2, minDelta: 0.01 } }));
    expect(result.stoppedEarly).toBe(true);
    expect(result.epochsRun).toBe(3);
  }, 60_000);

  it("with restoreBestWeights, ends with the best validation epoch's weights, bit for bit", async () => {
    // A learning rate this large makes the validation loss bounce, so the best epoch is not the last.
    const noisy = { epochs: 6, learningRate: 0.3 };
    const result = await train(options(tempDir(), { ...noisy, earlyStopping: { patience: 10, restoreBestWeights: true } }));
    const losses = result.history.map((entry) => entry.valLoss!);
    const best = losses.indexOf(Math.min(...losses)) + 1;
    expect(result.epochsRun).toBe(6);
    expect(best, `validation losses ${losses.join(", ")}`).toBeLessThan(6);
    expect(result.keptEpoch).toBe(best);
    // Training is deterministic per epoch, so a run of exactly `best` epochs holds the weights to restore.
    const reference = await train(options(tempDir(), { ...noisy, epochs: best }));
    expect(result.weights.map((weight) => Array.from(weight.values))).toEqual(reference.weights.map((weight) => Array.from(weight.values)));
    const bundle = await loadBundle(result.bundlePath, { expectSha256: result.bundleSha256 });
    expect(bundle.weights.map((weight) => Array.from(weight.values))).toEqual(reference.weights.map((weight) => Array.from(weight.values)));
    // Without restore the last epoch's weights are kept.
    const last = await train(options(tempDir(), { ...noisy, earlyStopping: { patience: 10 } }));
    expect(last.keptEpoch).toBe(6);
    expect(last.weights.map((weight) => Array.from(weight.values))).not.toEqual(reference.weights.map((weight) => Array.from(weight.values)));
  }, 120_000);

  it("rejects data that does not fit the model with every problem listed", async () => {
    await expect(train(options(tempDir(), { description: tinyPtychoModel({ size: 8, channels: 1 }), batchSize: 0 }))).rejects.toMatchObject({
      code: "E_TRAIN_CONFIG",
      message: expect.stringMatching(/batchSize must be a positive integer.*16×16×1 but model "tiny-ptycho" takes 8×8×1/),
    });
  });
});

describe("physics-informed loss (wasm)", () => {
  it("trains against measured diffraction amplitudes with the Poisson NLL and the amplitude MAE", async () => {
    // Measured amplitudes |DFT(O·P)| of known objects, built with a plain O(n^4) DFT in the test.
    const size = 8;
    const count = 24;
    const prng = new SeededRandom(5);
    const probeReal = new Float32Array(size * size);
    const probeImag = new Float32Array(size * size);
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) probeReal[i * size + j] = Math.exp(-((i - 3.5) ** 2 + (j - 3.5) ** 2) / 8);
    const inputs = new Float32Array(count * size * size);
    for (let n = 0; n < count; n++) {
      const amp = Array.from({ length: size * size }, () => 0.5 + 0.4 * prng.nextDouble());
      const ph = Array.from({ length: size * size }, () => prng.nextDouble() - 0.5);
      for (let k = 0; k < size; k++) for (let l = 0; l < size; l++) {
        let re = 0, im = 0;
        for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) {
          const a = amp[i * size + j]! * probeReal[i * size + j]!;
          const angle = ph[i * size + j]! - (2 * Math.PI * (k * i + l * j)) / size;
          re += a * Math.cos(angle);
          im += a * Math.sin(angle);
        }
        inputs[(n * size + k) * size + l] = Math.hypot(re, im) / size;
      }
    }
    const data = inMemoryTrainingData({ sampleShape: [size, size, 1], inputs });
    for (const objective of ["poissonNll", "amplitudeMae"] as const) {
      const result = await train({
        ...options(tempDir(), { epochs: 5, batchSize: 6, learningRate: 5e-3, validationSplit: 0 }),
        description: tinyPtychoModel({ size, channels: 1, seed: 2 }),
        data,
        loss: { kind: "physics", objective, probe: { height: size, width: size, real: probeReal, imag: probeImag }, intensityScale: 1, fftshift: false },
      });
      expect(result.history.at(-1)!.loss, objective).toBeLessThan(result.history[0]!.loss);
    }
  }, 120_000);
});

describe("a failed ONNX export is recorded and reported, never silent (wasm)", () => {
  const model = tinyPtychoModel({ size: 16, channels: 1, seed: 7 });

  it("trains on, writes the bundle without model.onnx, records why, warns once and says so in the result", async () => {
    // No valid description makes the ONNX compiler refuse a model the TF.js engine trains, so the failure comes
    // from the engine side: an engine (through the public TrainingEngine interface, delegating everything to a
    // real TF.js engine) whose weights include one the description does not name. The bundle writer stores
    // the described weights; the real exporter refuses the unexpected one (E_ONNX_WEIGHTS).
    const real = await createTfjsEngine("wasm");
    const extra = { name: "extra/kernel", shape: [1], values: Float32Array.from([0.5]) };
    const engine: TrainingEngine = {
      info: real.info,
      init: (d, w, h) => real.init(d, w, h),
      trainStep: (b, lr) => real.trainStep(b, lr),
      evaluate: (b) => real.evaluate(b),
      predict: (x, n) => real.predict(x, n),
      getWeights: async () => [...(await real.getWeights()), extra],
      setWeights: (w) => real.setWeights(w.filter((x) => x.name !== extra.name)),
      getOptimizerState: () => real.getOptimizerState(),
      setOptimizerState: (state) => real.setOptimizerState(state),
      dispose: () => real.dispose(),
    };
    const warnings: TrainWarning[] = [];
    try {
      const result = await train(options(tempDir(), { epochs: 1, engine, onWarning: (warning) => warnings.push(warning) }));
      const reason = { code: "E_ONNX_WEIGHTS", message: expect.stringContaining("unexpected weight extra/kernel") };
      expect(result.onnxExport).toEqual({ written: false, reason });
      expect(warnings).toEqual([{ code: "E_ONNX_EXPORT_SKIPPED", message: expect.stringContaining(result.bundlePath) }]);
      expect(warnings[0]!.message).toContain("unexpected weight extra/kernel");
      const bundle = await loadBundle(result.bundlePath, { expectSha256: result.bundleSha256 });
      expect(bundle.modelOnnx).toBeNull();
      expect(bundle.onnxExport).toEqual({ written: false, reason });
      expect(Object.keys(unzipSync(readFileSync(result.bundlePath))).at(-1)).toBe("onnx-export.json");
      // The rest of the bundle is intact: the model it holds loads and predicts.
      const loaded = await loadBundleModel(result.bundlePath, { expectSha256: result.bundleSha256, backend: "wasm" });
      const prediction = await loaded.predict(new Float32Array(16 * 16), 1);
      await loaded.dispose();
      expect(prediction.every(Number.isFinite)).toBe(true);
    } finally {
      await real.dispose();
    }
  }, 60_000);
});

/**
 * A small noiseless gridsize-2 dataset: a smooth complex 32×32 object, an 8×8 probe, scan positions two
 * pixels apart, and each 2×2 block of neighbouring positions as one group (channels in row-major block
 * order), offsets from the block's centre (±1 pixel). Amplitudes √(scale)·|fftshift(DFT(P·O))|/8 by a
 * direct DFT.
 */
function groupedPhysicsData(scale: number, probeCentre = 3.5) {
  const [n, size] = [8, 32];
  const object = (r: number, c: number): [number, number] => {
    const amplitude = 0.7 + 0.2 * Math.sin(0.31 * c + 0.17 * r);
    const phase = 0.9 * Math.cos(0.23 * c - 0.29 * r);
    return [amplitude * Math.cos(phase), amplitude * Math.sin(phase)];
  };
  const probe = (r: number, c: number): [number, number] => {
    const radius2 = (r - probeCentre) ** 2 + (c - probeCentre) ** 2;
    const g = Math.exp(-radius2 / 8);
    // Off the pixel grid's centre (3.5) the spot has an asymmetric phase; centred on pixel (4, 4), a
    // radially symmetric one (a probe the dihedral augmentation keeps).
    return probeCentre === 3.5 ? [g, 0.2 * g * Math.sin(r - c)] : [g * Math.cos(0.1 * radius2), g * Math.sin(0.1 * radius2)];
  };
  const amplitudesAt = (cx: number, cy: number): Float64Array => {
    const wave: Array<[number, number]> = [];
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) {
        const [or, oi] = object(cy - n / 2 + r, cx - n / 2 + c);
        const [pr, pi] = probe(r, c);
        wave.push([or * pr - oi * pi, or * pi + oi * pr]);
      }
    const out = new Float64Array(n * n);
    for (let ky = 0; ky < n; ky++)
      for (let kx = 0; kx < n; kx++) {
        let [re, im] = [0, 0];
        wave.forEach(([wr, wi], k) => {
          const angle = (-2 * Math.PI * (ky * Math.floor(k / n) + kx * (k % n))) / n;
          re += wr * Math.cos(angle) - wi * Math.sin(angle);
          im += wr * Math.sin(angle) + wi * Math.cos(angle);
        });
        // fftshift: frequency k at index (k + n/2) mod n.
        out[((ky + n / 2) % n) * n + ((kx + n / 2) % n)] = (Math.sqrt(scale) * Math.hypot(re, im)) / n;
      }
    return out;
  };
  const centres = Array.from({ length: 13 }, (_, i) => 4 + 2 * i);
  const inputs: number[] = [];
  const offsets: number[] = [];
  let count = 0;
  for (let i = 0; i + 1 < centres.length; i += 2)
    for (let j = 0; j + 1 < centres.length; j += 2) {
      const members = [[0, 0], [1, 0], [0, 1], [1, 1]].map(([dx, dy]) => [centres[j + dx!]!, centres[i + dy!]!] as const);
      const patterns = members.map(([x, y]) => amplitudesAt(x, y));
      for (let p = 0; p < n * n; p++) for (const pattern of patterns) inputs.push(pattern[p]!);
      for (const [x, y] of members) offsets.push(x - (centres[j]! + 1), y - (centres[i]! + 1));
      count++;
    }
  const probeReal = new Float32Array(n * n);
  const probeImag = new Float32Array(n * n);
  for (let k = 0; k < n * n; k++) [probeReal[k], probeImag[k]] = probe(Math.floor(k / n), k % n);
  return {
    count,
    data: inMemoryTrainingData({ sampleShape: [n, n, 4], inputs: Float32Array.from(inputs), offsets: Float32Array.from(offsets) }),
    loss: { kind: "physics", objective: "poissonNll", probe: { height: n, width: n, real: probeReal, imag: probeImag }, intensityScale: scale, fftshift: true, overlap: { canvasPadding: 2 } } as const,
  };
}

describe("physics-informed training of grouped samples (gridsize 2, overlap constraint)", () => {
  const gs2 = tinyPtychoModel({ size: 8, channels: 4, seed: 5 });

  it("lowers the Poisson loss on a small simulated gridsize-2 dataset (ONNX Runtime)", async () => {
    const { data, loss } = groupedPhysicsData(200);
    const outDir = tempDir();
    const result = await train(options(outDir, { description: gs2, data, loss, engine: "onnxruntime", backend: "cpu", epochs: 6, batchSize: 6, learningRate: 5e-3 }, gs2));
    const first = result.history[0]!;
    const last = result.history.at(-1)!;
    expect(last.loss).toBeLessThan(first.loss);
    expect(last.valLoss!).toBeLessThan(first.valLoss!);
    // The bundle records the constraint with the loss (a different padding is a different model).
    expect((await loadBundle(result.bundlePath)).hyperparameters).toMatchObject({ loss: { kind: "physics", overlap: { canvasPadding: 2 } } });
  });

  it("trains reproducibly with dihedral augmentation, records it, and refuses a probe its maps would change", async () => {
    const symmetric = groupedPhysicsData(200, 4);
    const run = (augmentation: "none" | "dihedral") => train(options(tempDir(), { description: gs2, data: symmetric.data, loss: symmetric.loss, engine: "onnxruntime", backend: "cpu", epochs: 4, batchSize: 6, learningRate: 5e-3, augmentation }, gs2));
    const [first, again, plain] = [await run("dihedral"), await run("dihedral"), await run("none")];
    expect(again.bundleSha256).toBe(first.bundleSha256);
    expect(plain.bundleSha256).not.toBe(first.bundleSha256);
    expect(first.history.at(-1)!.valLoss!).toBeLessThan(first.history[0]!.valLoss!);
    expect((await loadBundle(first.bundlePath)).hyperparameters).toMatchObject({ augmentation: "dihedral" });
    expect((await loadBundle(plain.bundlePath)).hyperparameters).not.toHaveProperty("augmentation");
    const { data, loss } = groupedPhysicsData(200);
    await expect(train(options(tempDir(), { description: gs2, data, loss, engine: "onnxruntime", backend: "cpu", augmentation: "dihedral" }, gs2))).rejects.toMatchObject({
      code: "E_TRAIN_CONFIG",
      message: expect.stringMatching(/dihedral augmentation needs a probe .* changes by up to \S+ of its peak/),
    });
  }, 60_000);

  it("refuses data without offsets (E_TRAIN_CONFIG) and the TF.js engine (E_ENGINE_UNSUPPORTED)", async () => {
    const { data, loss } = groupedPhysicsData(200);
    const withoutOffsets = inMemoryTrainingData({ sampleShape: [8, 8, 4], inputs: (await data.read(Uint32Array.from([0, 1]))).inputs });
    await expect(train(options(tempDir(), { description: gs2, data: withoutOffsets, loss, engine: "onnxruntime", backend: "cpu" }, gs2))).rejects.toMatchObject({
      code: "E_TRAIN_CONFIG",
      message: expect.stringContaining("the physics loss with overlap needs each sample's channel offsets"),
    });
    await expect(train(options(tempDir(), { description: gs2, data, loss, engine: "tfjs", backend: "cpu", epochs: 1 }, gs2))).rejects.toMatchObject({
      code: "E_ENGINE_UNSUPPORTED",
      message: expect.stringContaining('runs on the ONNX Runtime engine only: train with engine "onnxruntime"'),
    });
  });
});
