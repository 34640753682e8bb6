/**
 * The scripts in `examples/` run as a user would run them (`node examples/NAME.mjs ...`) on real files,
 * so they cannot rot.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datasetSnapshotHash, saveNpz } from "@studykit/data";
import { mergeStudyConfig, presetConfig, runPhaseC } from "@studykit/study";

const root = path.resolve(new URL("..", import.meta.url).pathname);
const work = mkdtempSync(path.join(tmpdir(), "studykit-examples-"));
const example = (name: string, ...args: string[]) => spawnSync(process.execPath, [path.join(root, "examples", name), ...args], { cwd: root, encoding: "utf8", timeout: 240_000 });
let trainFile = "";

beforeAll(() => {
  // A small simulated dataset (16×16 patterns) written by the study's Phase C.
  const config = mergeStudyConfig(presetConfig("quick"), { object: { source: "procedural", height: 64, width: 64 }, probe: { size: 16 }, scan: { count: 48 }, doses: [1000], compare: { stitchWindow: 8 } });
  const { manifest } = runPhaseC(config, path.join(work, "sim"));
  trainFile = path.join(work, "sim", manifest.doses[0]!.files.train);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("examples", { timeout: 240_000 }, () => {
  it("load-dataset.mjs validates an npz, shows the canonical keys and prints its snapshot hash", () => {
    const result = example("load-dataset.mjs", trainFile);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^diff3d\s+<f4\s+\(\d+, 16, 16\) \(stored as diffraction\)$/m);
    expect(result.stdout).toContain(`snapshot ${datasetSnapshotHash(trainFile)}`);
  });

  it("load-dataset.mjs reports a schema violation as a coded error (exit 2)", () => {
    const bad = path.join(work, "no-diffraction.npz");
    saveNpz(bad, { xcoords: { data: new Float64Array(3), shape: [3] } });
    const result = example("load-dataset.mjs", bad);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_SCHEMA_MISSING_KEY\]/);
  });

  it("run-job-matrix.mjs runs its matrix with its own runner, skips the missing dataset, and reuses on a second run", () => {
    const dir = path.join(work, "matrix");
    const first = example("run-job-matrix.mjs", dir);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("4 jobs to run, 2 skipped");
    expect(first.stdout).toMatch(/4 succeeded, 0 reused, 0 failed, 2 skipped/);
    expect(first.stdout).toContain("dataset large has not been prepared");
    const manifest = JSON.parse(readFileSync(path.join(dir, "runs", "training_manifest.json"), "utf8")) as { jobs: { id: string; result: { metrics: { estimate: number } | null } }[] };
    // Gradient descent on the mean of sin(0..7) from 0: the estimate moves towards that mean.
    const small = manifest.jobs.find((job) => job.id === "small/lr_0.1")!;
    const mean = Array.from({ length: 8 }, (_, index) => Math.sin(index)).reduce((sum, value) => sum + value, 0) / 8;
    expect(small.result.metrics!.estimate).toBeCloseTo(mean * (1 - 0.9 ** 10), 5);
    const second = example("run-job-matrix.mjs", dir);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/0 succeeded, 4 reused, 0 failed, 2 skipped/);
  });

  it("train-and-export.mjs trains the reference model and writes a bundle and an ONNX model ONNX Runtime runs", async () => {
    const out = path.join(work, "trained");
    const result = example("train-and-export.mjs", trainFile, out, "1");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^epoch 1: loss \d+\.\d+$/m);
    const sha = /sha256 ([0-9a-f]{64})/.exec(result.stdout)?.[1];
    expect(sha).toBeDefined();
    const { createHash } = await import("node:crypto");
    expect(createHash("sha256").update(readFileSync(path.join(out, "bundle.zip"))).digest("hex")).toBe(sha);
    const onnxFile = path.join(out, "model.onnx");
    expect(existsSync(onnxFile)).toBe(true);
    const session = await ort.InferenceSession.create(onnxFile);
    const input = new ort.Tensor("float32", new Float32Array(2 * 16 * 16), [2, 16, 16, 1]);
    const output = await session.run({ [session.inputNames[0]!]: input });
    expect(output[session.outputNames[0]!]!.dims).toEqual([2, 16, 16, 2]);
    await session.release();
  });
});
