#!/usr/bin/env node
/**
 * Build a job matrix and run it with your own runner function.
 *
 *   node examples/run-job-matrix.mjs [WORK_DIR]
 *
 * The matrix crosses two datasets with two learning rates; rules derive parameters, and a job whose input
 * file is missing becomes a skip event (with the reason) instead of failing the study. The runner here is
 * a plain function run in-process; give `{ module, export }` instead to run each job in its own process.
 * Run it twice: the second run reuses every finished job (same identity, bundle hash verified).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildJobMatrix, formatSkipSummary, formatStudySummary, runStudy } from "@studykit/core";
import { loadNpz, saveNpz } from "@studykit/data";

const root = path.resolve(process.argv[2] ?? mkdtempSync(path.join(tmpdir(), "studykit-matrix-")));
mkdirSync(path.join(root, "data"), { recursive: true });
// Two small inputs; a third dataset ("large") is deliberately absent.
for (const [name, count] of [["small", 8], ["medium", 32]]) {
  const file = path.join(root, "data", `${name}.npz`);
  const values = Float32Array.from({ length: count }, (_, index) => Math.sin(index));
  saveNpz(file, { values: { data: values, shape: [count] } });
}

const matrix = buildJobMatrix(
  {
    axes: { dataset: ["small", "medium", "large"], learningRate: [0.01, 0.1] },
    rules: [(params) => ({ steps: params.dataset === "small" ? 10 : 20 })],
    id: (params) => `${params.dataset}/lr_${params.learningRate}`,
    inputs: (params) => ({ train: `data/${params.dataset}.npz` }),
    explainMissing: (params) => `dataset ${params.dataset} has not been prepared`,
    config: (params) => ({ ...params, seed: 7 }),
  },
  { inputRoot: root, artifactRoot: path.join(root, "runs") },
);
console.log(`${matrix.jobs.length} jobs to run, ${matrix.skipped.length} skipped`);

// Your runner: read the inputs, do the work, write artifacts into job.artifactDir, return metrics and
// the bundle path (hashed and recorded in the study manifest).
async function fitMean({ config, job, log }) {
  const { values } = loadNpz(job.inputs.train);
  let estimate = 0;
  for (let step = 0; step < config.steps; step++) {
    let gradient = 0;
    for (const value of values.data) gradient += estimate - value;
    estimate -= (config.learningRate * gradient) / values.data.length;
  }
  log(`estimate after ${config.steps} steps: ${estimate}`);
  writeFileSync(path.join(job.artifactDir, "model.json"), JSON.stringify({ estimate }));
  return { metrics: { estimate }, bundlePath: "model.json" };
}

const result = await runStudy(matrix, fitMean, { concurrency: 2, progress: "plain" });
console.log(formatStudySummary(result));
console.log(formatSkipSummary(result.manifest.skipped_views));
const manifest = JSON.parse(readFileSync(result.manifestPath, "utf8"));
for (const job of manifest.jobs) console.log(`${job.id.padEnd(20)} ${job.result.status.padEnd(9)} ${job.result.bundleSha256 ?? ""}`);
