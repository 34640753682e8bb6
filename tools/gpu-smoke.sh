#!/usr/bin/env bash
# Short GPU check for a machine with an NVIDIA GPU: ONNX Runtime's CUDA provider runs a session on the
# device and the study's `--backend auto` picks it, and TF.js's tfjs-node-gpu back end starts (when that
# optional package is installed). Needs the packages built (`npx nx run-many -t build`).
#
# Exit 0: every check that applies passed, or there is no GPU here (said so: nothing to check).
# Exit 1: a GPU is present and a check failed (the reason is printed, with the fix).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-smoke: no GPU check on this machine: nvidia-smi is not installed (no NVIDIA driver), so there is no GPU to test"
  exit 0
fi
if ! gpus="$(nvidia-smi -L 2>/dev/null)" || ! grep -q '^GPU ' <<<"$gpus"; then
  echo "gpu-smoke: no GPU check on this machine: nvidia-smi lists no GPU"
  exit 0
fi
echo "gpu-smoke: found"
sed 's/^/  /' <<<"$gpus"

for built in packages/trainer/dist/index.js packages/study/dist/index.js; do
  if [[ ! -f "$root/$built" ]]; then
    echo "gpu-smoke: $built is missing: build first (npx nx run-many -t build)" >&2
    exit 1
  fi
done

cd "$root/packages/study"
exec node --input-type=module - <<'NODE'
import { createRequire } from "node:module";
import { probeExecutionProvider, selectBackend } from "@studykit/trainer";
import { resolveRuntime } from "@studykit/study";

let failed = false;
const fail = (message) => {
  failed = true;
  console.log(`FAIL ${message}`);
};

// ONNX Runtime: a session on the CUDA provider alone, then the study's automatic choice.
const cuda = await probeExecutionProvider("cuda");
if (cuda === undefined) console.log("ok   onnxruntime-node: a session ran on the CUDA provider");
else fail(`onnxruntime-node CUDA provider: ${cuda}`);
if (cuda === undefined) {
  const runtime = await resolveRuntime("auto", "auto");
  if (runtime.engine === "onnxruntime" && runtime.backend === "cuda") console.log("ok   study --backend auto resolves to onnxruntime/cuda");
  else fail(`study --backend auto resolved to ${runtime.engine}/${runtime.backend} (${runtime.fallbacks.map((entry) => `${entry.name}: ${entry.reason}`).join("; ")})`);
}

// TF.js: tfjs-node-gpu is optional; when it is installed it must start.
let installed = true;
try {
  createRequire(new URL("../trainer/package.json", `file://${process.cwd()}/`)).resolve("@tensorflow/tfjs-node-gpu");
} catch {
  installed = false;
}
if (!installed) {
  console.log("skip TF.js tensorflow-gpu: @tensorflow/tfjs-node-gpu is not installed (npm install @tensorflow/tfjs-node-gpu to check it)");
} else {
  try {
    const selection = await selectBackend("tensorflow-gpu");
    console.log(`ok   TF.js ${selection.tfjsVersion}: back end ${selection.backend} (${selection.tfjsBackend}) started`);
  } catch (error) {
    fail(`TF.js tensorflow-gpu: ${error instanceof Error ? error.message : String(error)}`);
  }
}
process.exit(failed ? 1 : 0);
NODE
