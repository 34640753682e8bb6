/**
 * The shared training loop driving the ONNX Runtime engine: the loss falls, the bundle carries a
 * model.onnx that ONNX Runtime serves with the trained weights' predictions, and the same seeds give the
 * same bundle SHA-256 (a changed seed changes it), in one process and across separate processes.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadBundle } from "../src/bundle.js";
import { SeededRandom } from "@studykit/core";
import { tinyPtychoModel } from "./fixtures/models.mjs";
import { createInferenceSession } from "../src/engines/onnx/inference-session.js";
import { createOnnxTrainingEngine } from "../src/engines/onnx/onnx-training-engine.js";
import { train, type TrainOptions } from "../src/train.js";
import { inMemoryTrainingData } from "../src/training-data.js";

const roots: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "studykit-onnx-train-"));
  roots.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

function arrays(count: number) {
  const size = 8;
  const prng = new SeededRandom(4);
  const inputs = new Float32Array(count * size * size);
  for (let n = 0; n < count; n++) {
    const [fx, fy, p] = [0.2 + prng.nextDouble() * 0.6, 0.2 + prng.nextDouble() * 0.6, prng.nextDouble() * 6];
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) inputs[(n * size + i) * size + j] = 0.5 + 0.5 * Math.sin(fx * i + fy * j + p);
  }
  return { sampleShape: [size, size, 1] as [number, number, number], inputs, amplitude: inputs.map((v) => 0.2 + 0.6 * v), phase: inputs.map((v) => 1.5 * (v - 0.5)) };
}
const data = (count: number) => inMemoryTrainingData(arrays(count));

const options = (outDir: string, seed = 7): TrainOptions => ({
  description: tinyPtychoModel({ size: 8, channels: 1, seed }),
  data: data(40),
  loss: { kind: "supervised", metric: "mae", amplitudeWeight: 1, phaseWeight: 1 },
  epochs: 4,
  // 40 samples, 25% validation: 30 training samples in batches of 8 leave a last batch of 6.
  batchSize: 8,
  learningRate: 3e-3,
  validationSplit: 0.25,
  engine: "onnxruntime",
  outDir,
  progress: false,
  identity: { stage: "onnx-train-test" },
});

describe("training loop on the ONNX Runtime engine", () => {
  it("trains, bundles a model.onnx that predicts like the trained weights, and is reproducible from its seeds", async () => {
    const result = await train(options(tempDir()));
    expect(result.engine).toBe("onnxruntime");
    expect(result.backend).toBe("cpu");
    expect(result.history.at(-1)!.loss).toBeLessThan(result.history[0]!.loss);

    const bundle = await loadBundle(result.bundlePath, { expectSha256: result.bundleSha256 });
    expect(bundle.modelOnnx).toBeInstanceOf(Uint8Array);
    // The graph layout decides the float sums, so the bundle's runtime record (and the default identity) names
    // it: nchwc(B) on CPUs with ORT's blocked kernels.
    const runtime = bundle.backend as { engine?: string; threads?: number; replicas?: number; layout?: string } | undefined;
    expect(runtime).toMatchObject({ engine: "onnxruntime", threads: 1, replicas: 2 });
    expect(runtime?.layout).toMatch(/^(nchwc\(\d+\)|nchw)$/);
    const session = await createInferenceSession(bundle);
    const { inputs } = arrays(5);
    const fromBundle = await session.predict(inputs.subarray(0, 5 * 64), 5);
    await session.release();
    const engine = createOnnxTrainingEngine();
    await engine.init(bundle.description, result.weights, { loss: options("").loss, optimizer: { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } });
    const fromEngine = await engine.predict(inputs.subarray(0, 5 * 64), 5);
    await engine.dispose();
    expect(Math.max(...fromBundle.map((v, i) => Math.abs(v - fromEngine[i]!)))).toBeLessThanOrEqual(1e-6);

    const again = await train(options(tempDir()));
    expect(again.bundleSha256).toBe(result.bundleSha256);
    const otherSeed = await train(options(tempDir(), 8));
    expect(otherSeed.bundleSha256).not.toBe(result.bundleSha256);
  }, 120_000);

  it("gives byte-identical bundles from two separate processes with the same seeds (default replicas)", async () => {
    // Each process loads ORT, compiles the graphs and starts its replica threads afresh: nothing carried
    // over in memory can make the two agree. Run at once, so their threads also compete for the cores.
    const child = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "onnx-train-child.mjs");
    const run = (outDir: string) =>
      new Promise<{ bundleSha256: string; runtime: { replicas?: number; layout?: string }; losses: number[] }>((resolve, reject) => {
        const proc = spawn(process.execPath, [child, outDir], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        proc.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        proc.on("error", reject);
        proc.on("exit", (code) => {
          const line = stdout.split("\n").find((l) => l.startsWith("result "));
          if (code !== 0 || !line) reject(new Error(`training child exited with ${code}: ${stderr}`));
          else resolve(JSON.parse(line.slice("result ".length)));
        });
      });
    const [a, b] = await Promise.all([run(tempDir()), run(tempDir())]);
    expect(a.runtime.replicas).toBe(2);
    expect(a.losses.length).toBe(2);
    expect(b.losses).toEqual(a.losses);
    expect(b.bundleSha256).toBe(a.bundleSha256);
  }, 180_000);
});
