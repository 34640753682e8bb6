#!/usr/bin/env node
// Two-stage sequential fine-tuning with @studykit/core's pipeline API.
//
//   npx nx run @studykit/core:build && node packages/core/examples/two-stage-pipeline.mjs [run-root]
//
// Stage "pretrain" fits a line to task A's data. Stage "finetune" starts from that model and trains on
// task B's data mixed with a replayed share of task A's data, so it does not forget task A (catastrophic
// forgetting). Stage "finetune" finds task A's data and model only through the run manifest
// (`context.upstream("pretrain", ...)`); the manifest, with both stages' artifact paths, is written before
// "pretrain" starts. Prints a JSON summary on stdout. With no run root, a fresh temp directory is used.
import { mkdtempSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runPipeline } from "@studykit/core";

const config = {
  taskA: { slope: 2, intercept: 1, rows: 200 },
  taskB: { slope: 2, intercept: 3, rows: 150 },
  replayFraction: 0.25, // share of stage 2's training rows taken from stage 1's data
  learningRate: 0.05,
  epochs: { pretrain: 300, finetune: 300 },
  noise: 0.1,
};

// mulberry32: a tiny seeded PRNG, so the example is reproducible run to run.
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeTask({ slope, intercept, rows }, random, source) {
  return Array.from({ length: rows }, () => {
    const x = random() * 2 - 1;
    return { x, y: slope * x + intercept + (random() - 0.5) * 2 * config.noise, source };
  });
}

function meanSquaredError(model, rows) {
  return rows.reduce((sum, { x, y }) => sum + (model.w * x + model.b - y) ** 2, 0) / rows.length;
}

// Full-batch gradient descent on mean squared error.
function train(model, rows, epochs) {
  let { w, b } = model;
  for (let epoch = 0; epoch < epochs; epoch++) {
    let gw = 0;
    let gb = 0;
    for (const { x, y } of rows) {
      const error = w * x + b - y;
      gw += (2 * error * x) / rows.length;
      gb += (2 * error) / rows.length;
    }
    w -= config.learningRate * gw;
    b -= config.learningRate * gb;
  }
  return { w, b };
}

const writeJson = (path, value) => writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
const readJson = async (path) => JSON.parse(await readFile(path, "utf8"));

const root = resolve(process.argv[2] ?? mkdtempSync(join(tmpdir(), "studykit-two-stage-")));
const seeds = { data: 7, replay: 11 };

const result = await runPipeline(root, {
  config,
  identity: { stage: "sequential-finetune", config, seeds, runtime: { engine: "plain-js" } },
  mode: "strict",
  stages: [
    {
      name: "pretrain",
      artifacts: { trainData: "pretrain/train-data.json", model: "pretrain/model.json" },
      async run(context) {
        const rows = makeTask(config.taskA, prng(seeds.data), "taskA");
        // The run's inputs are now fixed (features and rows), so the identity can be final.
        await context.finalizeIdentity({ features: ["x"], target: "y", taskARows: rows.length, taskBRows: config.taskB.rows });
        const model = train({ w: 0, b: 0 }, rows, config.epochs.pretrain);
        await writeJson(context.paths.trainData, rows);
        await writeJson(context.paths.model, model);
        return { metrics: { taskA_mse: meanSquaredError(model, rows), rows: rows.length } };
      },
    },
    {
      name: "finetune",
      dependsOn: ["pretrain"],
      artifacts: { mixedData: "finetune/mixed-data.json", model: "finetune/model.json" },
      async run(context) {
        // Stage 1's outputs, found through the manifest only (E_MISSING_ARTIFACT if stage 1 never completed).
        const upstream = await context.upstream("pretrain", { verify: true });
        const taskA = await readJson(upstream.trainData);
        const start = await readJson(upstream.model);

        // Mix: all of task B plus a replayed sample of task A, so replayed rows make up replayFraction.
        const random = prng(seeds.replay);
        const taskB = makeTask(config.taskB, prng(seeds.data + 1), "taskB");
        const replayRows = Math.round((config.replayFraction / (1 - config.replayFraction)) * taskB.length);
        const replay = [...taskA].sort(() => random() - 0.5).slice(0, replayRows);
        const mixed = [...taskB, ...replay];
        await writeJson(context.paths.mixedData, mixed);

        const model = train(start, mixed, config.epochs.finetune);
        const naive = train(start, taskB, config.epochs.finetune); // without replay, for comparison
        await writeJson(context.paths.model, model);
        return {
          metrics: {
            rows: { taskB: taskB.length, replayedFromPretrain: replay.length },
            taskA_mse_before: meanSquaredError(start, taskA),
            taskA_mse_after: meanSquaredError(model, taskA),
            taskA_mse_after_without_replay: meanSquaredError(naive, taskA),
            taskB_mse_after: meanSquaredError(model, taskB),
          },
        };
      },
    },
  ],
});

process.stdout.write(
  `${JSON.stringify(
    {
      root,
      manifest: result.run.manifestPath,
      runId: result.runId,
      runIdSource: result.runIdSource,
      status: result.manifest.status,
      stages: Object.fromEntries(Object.entries(result.manifest.stages).map(([name, stage]) => [name, { status: stage.status, metrics: stage.metrics }])),
    },
    null,
    2,
  )}\n`,
);
