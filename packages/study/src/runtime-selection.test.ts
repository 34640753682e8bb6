/** The study's runtime choice on this machine's real ONNX Runtime and TF.js, and what job identities record. */
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createOnnxTrainingEngine, initialWeights } from "@studykit/trainer";
import { tinyPtychoModel } from "./model-presets.js";
import { resolveRuntime } from "./runtime-selection.js";

/** Whether onnxruntime-node's CUDA provider library is installed (looked up here, not through the trainer). */
function cudaLibraryInstalled(): boolean {
  const bin = path.join(path.dirname(createRequire(import.meta.url).resolve("onnxruntime-node/package.json")), "bin");
  return existsSync(bin) && readdirSync(bin).some((napi) => existsSync(path.join(bin, napi, "linux", process.arch, "libonnxruntime_providers_cuda.so")));
}
const noCudaLibrary = process.platform === "linux" && !cudaLibraryInstalled();

describe("resolveRuntime", () => {
  it("records ONNX Runtime's version, threads, replicas and the graph layout its engine will train with", async () => {
    const runtime = await resolveRuntime("auto", "cpu");
    expect(runtime).toMatchObject({ engine: "onnxruntime", backend: "cpu" });
    // The layout a job's engine actually gets (the study's models allow the blocked layout).
    const engine = createOnnxTrainingEngine({ executionProviders: ["cpu"] });
    const model = tinyPtychoModel({ size: 16, channels: 4 });
    await engine.init(model, initialWeights(model), { loss: { kind: "supervised", metric: "mae", amplitudeWeight: 1, phaseWeight: 1 }, optimizer: { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } });
    const replicas = engine.info.replicas === undefined ? {} : { replicas: engine.info.replicas };
    expect(runtime.identity).toEqual({ engine: "onnxruntime", provider: "cpu", threads: engine.info.threads, ...replicas, layout: engine.layout, onnxruntime: expect.stringMatching(/^\d+\.\d+/) });
    await engine.dispose();
  });

  it("gives each of several jobs at once one ONNX Runtime session of its share of the cores, and records it", async () => {
    const alone = await resolveRuntime("onnxruntime", "cpu");
    expect(alone.onnxThreads).toBeUndefined();
    expect(alone.identity).toMatchObject({ threads: 1, replicas: 2 });
    const two = await resolveRuntime("onnxruntime", "cpu", { jobsAtOnce: 2, cores: 2 });
    expect(two.onnxThreads).toEqual({ replicas: 1, intraOpNumThreads: 1 });
    expect(two.identity).toMatchObject({ threads: 1 });
    expect(two.identity).not.toHaveProperty("replicas");
    // 8 cores, 3 jobs: ⌊8/3⌋ = 2 threads each; more jobs than cores still get one thread.
    expect((await resolveRuntime("onnxruntime", "cpu", { jobsAtOnce: 3, cores: 8 })).onnxThreads).toEqual({ replicas: 1, intraOpNumThreads: 2 });
    expect((await resolveRuntime("onnxruntime", "cpu", { jobsAtOnce: 4, cores: 2 })).identity).toMatchObject({ threads: 1 });
    // TF.js keeps its own threads.
    expect((await resolveRuntime("tfjs", "wasm", { jobsAtOnce: 2, cores: 2 })).onnxThreads).toBeUndefined();
  });

  // The fallback path; on a machine with a GPU, tools/gpu-smoke.sh checks that auto picks CUDA.
  it.skipIf(!noCudaLibrary)("auto falls back from CUDA to the CPU without its provider library, recording why; cuda refuses", async () => {
    const runtime = await resolveRuntime("auto", "auto");
    expect(runtime).toMatchObject({ engine: "onnxruntime", backend: "cpu" });
    expect(runtime.fallbacks).toEqual([{ name: "onnxruntime/cuda", reason: expect.stringContaining("libonnxruntime_providers_cuda.so is not installed") }]);
    expect(runtime.identity).toMatchObject({ provider: "cpu", providerFallback: { from: "cuda", to: "cpu" } });
    // Asked for the CPU, nothing fell back: the identity says so by the field's absence.
    const cpu = await resolveRuntime("auto", "cpu");
    expect(cpu.fallbacks).toEqual([]);
    expect(cpu.identity).not.toHaveProperty("providerFallback");
    await expect(resolveRuntime("onnxruntime", "cuda")).rejects.toMatchObject({ code: "E_ONNX_NO_PROVIDER", message: expect.stringContaining("libonnxruntime_providers_cuda.so") });
  });

  it("records TF.js's back end, version and threads when TF.js is asked for", async () => {
    const runtime = await resolveRuntime("tfjs", "wasm");
    expect(runtime.identity).toEqual({ engine: "tfjs", backend: "wasm", tfjs: expect.stringMatching(/^\d+\.\d+/), threads: expect.any(Number), convolutions: expect.stringMatching(/^(studykit-native|xnnpack)$/) });
  });

  it("refuses a TF.js back end for ONNX Runtime, and treats it as a TF.js choice under engine auto", async () => {
    await expect(resolveRuntime("onnxruntime", "wasm")).rejects.toMatchObject({ code: "E_BACKEND_UNKNOWN" });
    const auto = await resolveRuntime("auto", "wasm");
    expect(auto).toMatchObject({ engine: "tfjs", backend: "wasm", fallbacks: [{ name: "onnxruntime", reason: "back end wasm is a TF.js back end" }] });
  });
});
