/**
 * The study's code version is captured once, at its start, and handed down: every job identity, every
 * bundle's identity.json and the study's own identity name that one code version,
 * whatever the code's checkout says by the time a job runs (a commit landing mid-study).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { saveNpz } from "@studykit/data";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { detectCodeVersion, type CodeVersion } from "@studykit/core";
import { loadBundle } from "@studykit/trainer";
import { generateObject, generateProbe } from "./procedural-sample.js";
import { mergeStudyConfig, presetConfig } from "./study-config.js";
import { runStudyPipeline } from "./study-pipeline.js";
import { compareModels } from "./compare-phase.js";
import { resolveRuntime } from "./runtime-selection.js";
import { TINY_STUDY_CONFIG } from "../test/tiny-study-config.js";

const root = mkdtempSync(path.join(tmpdir(), "studykit-pipeline-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The tests' tiny study: one dose, baseline and dense views, one epoch, three ePIE iterations.
const config = mergeStudyConfig(presetConfig("quick"), TINY_STUDY_CONFIG);

describe("runStudyPipeline", () => {
  it("stamps the code version it started with into every identity, bundles included", async () => {
    // Not this checkout's state: what a job's own detection would find differs from it in every field.
    const started: CodeVersion = { packages: { "@studykit/core": "0.0.0-captured" }, git: { commit: "c0de".repeat(10), dirty: false } };
    expect(detectCodeVersion()).not.toEqual(started);
    const result = await runStudyPipeline({ config, preset: "quick", out: root, progress: "silent", codeVersion: started });
    expect(result.failed).toBe(false);
    const training = result.training!;
    const trained = training.jobs.filter((job) => job.result.status === "succeeded");
    expect(trained.length).toBe(3);
    for (const job of trained) {
      expect(job.identity!.fields["codeVersion"]).toEqual(started);
      const bundle = await loadBundle(path.join(root, "phaseE", job.artifactDir, job.result.bundlePath!));
      expect((bundle.identity as { codeVersion: unknown }).codeVersion, job.id).toEqual(started);
    }
    expect((result.manifest.identity.fields as { codeVersion: unknown }).codeVersion).toEqual(started);
    const written = JSON.parse(readFileSync(result.manifestPath, "utf8")) as { state: string; runId: string };
    expect(written.state).toBe("completed");
    expect(written.runId).toBe(result.manifest.runId);
  }, 240_000);

  it("scores a per-pattern gridsize-2 network on each test pattern once: the test grouping's seed cannot move it", async () => {
    // The study above: its dense PINN gs2 network maps each pattern alone (the quick preset's perPattern).
    const json = (file: string) => JSON.parse(readFileSync(path.join(root, file), "utf8"));
    const inputs = { config, root, runId: "scoring", preset: "quick", phaseC: json("phaseC/phase_manifest.json"), phaseD: json("phaseD/phase_manifest.json"), training: json("phaseE/training_manifest.json"), iterative: null, runtime: await resolveRuntime("auto", "auto"), writeReport: false };
    const scored = async (seed: number) => (await compareModels({ ...inputs, seed })).jobs.find((row) => row.jobId === "dose_1000/dense/pinn-gs2")!.metrics;
    const first = await scored(1);
    expect(first).not.toBeNull();
    expect(await scored(2)).toEqual(first);
  }, 120_000);

  it("runs jobs at once as single ONNX Runtime sessions of their share of the cores, and names that in the run identity", async () => {
    const out = path.join(root, "two-at-once");
    const jobIds = ["dose_1000/baseline/gs1", "dose_1000/baseline/pinn-gs1"];
    const result = await runStudyPipeline({ config, preset: "quick", out, progress: "silent", engine: "onnxruntime", backend: "cpu", concurrency: 2, filters: { jobId: jobIds } });
    expect(result.failed).toBe(false);
    const trained = result.training!.jobs.filter((job) => job.result.status === "succeeded");
    expect(trained.map((job) => job.id).sort()).toEqual(jobIds);
    const threads = Math.max(1, Math.floor(availableParallelism() / 2));
    for (const job of trained) {
      expect((job.config as { onnxThreads?: unknown }).onnxThreads).toEqual({ replicas: 1, intraOpNumThreads: threads });
      // What the job's engine really ran with, as its bundle records it.
      const bundle = await loadBundle(path.join(out, "phaseE", job.artifactDir, job.result.bundlePath!));
      expect(bundle.backend, job.id).toMatchObject({ engine: "onnxruntime", threads });
      expect(bundle.backend, job.id).not.toHaveProperty("replicas");
    }
    const runtime = (result.manifest.identity.fields as { runtime: Record<string, unknown> }).runtime;
    expect(runtime).toMatchObject({ threads });
    expect(runtime).not.toHaveProperty("replicas");
  }, 240_000);

  it("trains with the configured learning-rate schedule: a cosine job's bundle records it and its rates fall", async () => {
    const out = path.join(root, "cosine");
    const cosine = mergeStudyConfig(config, { training: { epochs: 3, schedule: { kind: "cosine", minLearningRate: 1e-4 } } });
    const result = await runStudyPipeline({ config: cosine, preset: "quick", out, progress: "silent", filters: { jobId: "dose_1000/baseline/gs1" } });
    const job = result.training!.jobs.find((entry) => entry.result.status === "succeeded")!;
    expect(job.id).toBe("dose_1000/baseline/gs1");
    const bundle = await loadBundle(path.join(out, "phaseE", job.artifactDir, job.result.bundlePath!));
    expect((bundle.hyperparameters as { schedule: unknown }).schedule).toEqual({ kind: "cosine", minLearningRate: 1e-4 });
    // 3e-3 → 1e-4 by half a cosine over 3 epochs: 3e-3, (3e-3 + 1e-4) / 2, then close to 1e-4.
    const rates = (bundle.history as { learningRate: number }[]).map((row) => row.learningRate);
    expect(rates[0]).toBeCloseTo(3e-3, 9);
    expect(rates[1]).toBeLessThan(rates[0]!);
    expect(rates[2]).toBeLessThan(rates[1]!);
  }, 240_000);

  it("augments supervised and PINN training by the dihedral maps when asked, and refuses a probe they change", async () => {
    const out = path.join(root, "dihedral");
    const augmented = mergeStudyConfig(config, { training: { augmentation: "dihedral" } });
    const jobIds = ["dose_1000/baseline/gs1", "dose_1000/dense/pinn-gs2"];
    const result = await runStudyPipeline({ config: augmented, preset: "quick", out, progress: "silent", filters: { jobId: jobIds } });
    const trained = result.training!.jobs.filter((entry) => entry.result.status === "succeeded");
    expect(trained.map((job) => job.id).sort()).toEqual(jobIds);
    for (const job of trained) {
      const bundle = await loadBundle(path.join(out, "phaseE", job.artifactDir, job.result.bundlePath!));
      expect((bundle.hyperparameters as { augmentation?: unknown }).augmentation, job.id).toBe("dihedral");
    }

    // The same study from a file whose probe sits half a pixel off the window's centre in x: its patterns
    // are not physical once reflected, so the supervised job (whose loss never sees the probe) must refuse.
    const size = config.probe.size;
    const probe = generateProbe({ size, apertureFraction: config.probe.apertureFraction, defocusRadians: config.probe.defocusRadians });
    const shifted = new Float64Array(probe.data.length);
    for (let row = 0; row < size; row++)
      for (let column = 0; column < size; column++)
        for (const part of [0, 1]) {
          const at = (c: number) => probe.data[2 * (row * size + Math.min(size - 1, Math.max(0, c))) + part]!;
          shifted[2 * (row * size + column) + part] = (at(column) + at(column - 1)) / 2;
        }
    const object = generateObject({ height: config.object.height, width: config.object.width, seed: 5 });
    const file = path.join(root, "off-centre-probe.npz");
    saveNpz(file, { objectGuess: { data: object.data, shape: [object.height, object.width], complex: true }, probeGuess: { data: shifted, shape: [size, size], complex: true } });
    const fromFile = mergeStudyConfig(augmented, { object: { source: "file", path: file, reuseCoordinates: false } });
    const refused = await runStudyPipeline({ config: fromFile, preset: "quick", out: path.join(root, "off-centre"), progress: "silent", filters: { jobId: ["dose_1000/baseline/gs1"] } });
    const job = refused.training!.jobs.find((entry) => entry.id === "dose_1000/baseline/gs1")!;
    expect(job.result.status).toBe("failed");
    expect(job.result.error).toMatchObject({ code: "E_TRAINING_DATA", message: expect.stringMatching(/augmentation "dihedral" needs a probe \(probeGuess\).*changes by up to/) });
  }, 240_000);
});
