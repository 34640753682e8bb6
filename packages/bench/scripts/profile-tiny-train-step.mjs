// Where a training step of the study's tiny model (32×32, batch 16, the README's main job) spends its time
// in ONNX Runtime: the step's median over many steps in each parallel layout the engine offers, so the
// data-parallel split's fixed costs (two micro-batch sessions, the hand-off to the worker thread, the
// summed gradients, a separate update session) show against one session doing the whole step.
// Run after `npm run build`:  node packages/bench/scripts/profile-tiny-train-step.mjs [channels] [steps]
// Add `node --cpu-prof --cpu-prof-dir DIR` for a V8 profile of the JS side of the same steps.
import * as trainer from "@studykit/trainer";
import { buildWorkload, HYPERPARAMETERS, LEARNING_RATE } from "../dist/internal/suites/model-contender.js";

const channels = Number(process.argv[2] ?? 1);
const steps = Number(process.argv[3] ?? 300);
const work = buildWorkload(32, 16, "tiny", channels);

async function timeSteps(label, options, batch = work.batch) {
  const engine = trainer.createOnnxTrainingEngine({ executionProviders: ["cpu"], ...options });
  await engine.init(work.description, trainer.initialWeights(work.description), HYPERPARAMETERS);
  for (let i = 0; i < 30; i++) await engine.trainStep(batch, LEARNING_RATE);
  const times = [];
  for (let i = 0; i < steps; i++) {
    const start = process.hrtime.bigint();
    await engine.trainStep(batch, LEARNING_RATE);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  await engine.dispose();
  times.sort((a, b) => a - b);
  const q = (f) => times[Math.min(times.length - 1, Math.floor(f * times.length))];
  return { label, median: q(0.5), p10: q(0.1), p90: q(0.9) };
}

const half = { ...work.batch, count: work.batch.count / 2, inputs: work.batch.inputs.subarray(0, work.batch.inputs.length / 2), amplitude: work.batch.amplitude.subarray(0, work.batch.amplitude.length / 2), phase: work.batch.phase.subarray(0, work.batch.phase.length / 2) };
const rows = [];
// Interleaved rounds, so a slow spell of the host falls on every layout alike.
for (let round = 0; round < 3; round++) {
  rows.push(await timeSteps("2 replicas × 1 thread (the engine's CPU default), batch 16", { replicas: 2, intraOpNumThreads: 1 }));
  rows.push(await timeSteps("1 session × 2 threads, batch 16", { replicas: 1, intraOpNumThreads: 2 }));
  rows.push(await timeSteps("1 session × 1 thread, batch 16", { replicas: 1, intraOpNumThreads: 1 }));
  rows.push(await timeSteps("1 session × 1 thread, batch 8 (one replica's share, with its own update)", { replicas: 1, intraOpNumThreads: 1 }, half));
}
const byLabel = new Map();
for (const row of rows) byLabel.set(row.label, [...(byLabel.get(row.label) ?? []), row]);
console.log(`tiny model 32×32×${channels}, ${steps} timed steps after 30 warm-up, 3 interleaved rounds; ms per step (median of the round medians; each round's median, p10–p90):`);
for (const [label, list] of byLabel) {
  const medians = list.map((r) => r.median).sort((a, b) => a - b);
  console.log(`  ${medians[1].toFixed(2)} ms  ${label}   [${list.map((r) => `${r.median.toFixed(2)} (${r.p10.toFixed(2)}–${r.p90.toFixed(2)})`).join(", ")}]`);
}
