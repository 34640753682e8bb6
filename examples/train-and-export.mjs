#!/usr/bin/env node
/**
 * Train the reference ptychography model on your own npz and export it to ONNX.
 *
 *   node examples/train-and-export.mjs data/patched_train.npz out/ [EPOCHS]
 *
 * The npz needs the `ptycho` schema's `diff3d` (or legacy `diffraction`) amplitudes and `Y` complex
 * object patches, (n, N, N) with N a multiple of 8. Writes `out/bundle.zip` (weights, ONNX export, history,
 * identity; its SHA-256 is printed) and `out/model.onnx`, then checks the ONNX model with ONNX Runtime.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { datasetSnapshotHash, loadDataset } from "@studykit/data";
import { referencePtychoModel } from "@studykit/study";
import { createInferenceSession, exportOnnx, inMemoryTrainingData, loadBundle, train } from "@studykit/trainer";

const [file, outDir, epochsArgument] = process.argv.slice(2);
if (!file || !outDir) {
  console.error("usage: node examples/train-and-export.mjs FILE.npz OUT_DIR [EPOCHS]");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const dataset = loadDataset(file, { schema: "ptycho" });
const diffraction = dataset.arrays.diff3d;
const patches = dataset.arrays.Y;
if (!patches) {
  console.error(`error[E_SCHEMA_MISSING_KEY]: ${file} has no Y (object patches): supervised training needs them`);
  process.exit(2);
}
const [count, size] = diffraction.shape;

// Channels-last inputs (count, N, N, 1), scaled to unit RMS; targets: |Y| scaled into (0, 1] and angle(Y).
const inputs = Float32Array.from(diffraction.data);
const rms = Math.sqrt(inputs.reduce((sum, value) => sum + value * value, 0) / inputs.length) || 1;
for (let index = 0; index < inputs.length; index++) inputs[index] /= rms;
const amplitude = new Float32Array(inputs.length);
const phase = new Float32Array(inputs.length);
for (let index = 0; index < inputs.length; index++) {
  amplitude[index] = Math.hypot(patches.data[2 * index], patches.data[2 * index + 1]);
  phase[index] = Math.atan2(patches.data[2 * index + 1], patches.data[2 * index]);
}
const peak = amplitude.reduce((max, value) => Math.max(max, value), 0) || 1;
for (let index = 0; index < amplitude.length; index++) amplitude[index] /= peak;

const description = referencePtychoModel({ size, channels: 1, seed: 1 });
const result = await train({
  description,
  data: inMemoryTrainingData({ sampleShape: [size, size, 1], inputs, amplitude, phase }),
  loss: { kind: "supervised", metric: "mae", amplitudeWeight: 1, phaseWeight: 1 },
  epochs: Number(epochsArgument ?? 5),
  batchSize: 16,
  learningRate: 1e-3,
  engine: "onnxruntime",
  outDir,
  datasetSnapshotHash: datasetSnapshotHash(file),
});
for (const entry of result.history) console.log(`epoch ${entry.epoch}: loss ${entry.loss.toFixed(5)}`);
console.log(`bundle ${result.bundlePath} sha256 ${result.bundleSha256}`);

// The bundle carries the ONNX export; write it out and run it once with ONNX Runtime.
const bundle = await loadBundle(result.bundlePath, { expectSha256: result.bundleSha256 });
const onnxPath = path.join(outDir, "model.onnx");
const onnxBytes = bundle.modelOnnx ?? exportOnnx(bundle.description, bundle.weights);
writeFileSync(onnxPath, onnxBytes);
const session = await createInferenceSession(onnxBytes);
const prediction = await session.predict(inputs.subarray(0, size * size), 1);
await session.release();
console.log(`onnx ${onnxPath} (${onnxBytes.length} bytes), ${count} samples, prediction [1, ${size}, ${size}, ${prediction.length / (size * size)}] on ${session.provider}`);
