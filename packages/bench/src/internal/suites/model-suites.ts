/**
 * `train` and `infer` suites: samples/s of the reference ptychography model (425 442 parameters at
 * 64×64, C = 1) at batch 32, on every engine and back end studykit offers, side by side with PyTorch CPU
 * running the same architecture (python/torch_peer.py, 2 threads). Unavailable back ends (no GPU, no
 * tfjs-node, no CUDA provider) are listed with the reason the trainer gives.
 */
import { hasErrorCode } from "@studykit/native";
import * as trainer from "@studykit/trainer";
import type { EngineHyperparameters, ModelDescription, TrainingBatch, TrainingEngine } from "@studykit/trainer";
import { absent, GroupBuilder, type RepeatPlan } from "../measure.js";
import { findPythonWith, numbersField, runPythonScript } from "../python-peer.js";
import type { SuiteResult } from "../results.js";
import { planArguments, type SuiteContext } from "../suite-context.js";

/** Every engine / back end pair the trainer issues name, in priority order. */
const ENGINE_TARGETS = [
  { engine: "tfjs", backend: "tensorflow-gpu", label: "TF.js node-gpu" },
  { engine: "tfjs", backend: "tensorflow", label: "TF.js node" },
  { engine: "tfjs", backend: "wasm", label: "TF.js wasm" },
  { engine: "tfjs", backend: "cpu", label: "TF.js cpu" },
  { engine: "onnxruntime", backend: "cuda", label: "ONNX Runtime CUDA" },
  { engine: "onnxruntime", backend: "cpu", label: "ONNX Runtime CPU" },
] as const;
type EngineTarget = (typeof ENGINE_TARGETS)[number];

/** Threads given to every contender (PyTorch's `set_num_threads`, ORT's intra-op pool). */
const THREADS = 2;

/** Error codes meaning "this back end cannot start on this machine" rather than "it broke". */
const UNAVAILABLE_CODES = new Set(["E_ONNX_NO_PROVIDER", "E_BACKEND_UNAVAILABLE"]);

function firstLine(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

interface Workload {
  readonly description: ModelDescription;
  readonly batch: TrainingBatch;
  readonly size: number;
  readonly batchSize: number;
}

/** Deterministic pseudo-random values in [0, 1): inputs only need to be the same for every contender. */
function uniform(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = (state >>> 0) / 2 ** 32;
  }
  return out;
}

function workload(context: SuiteContext): Workload {
  const size = context.quick ? 16 : 64;
  const batchSize = context.quick ? 4 : 32;
  const channels = 1;
  const description = trainer.referencePtychoModel({ size, channels, seed: 7 });
  const values = batchSize * size * size * channels;
  const phase = uniform(values, 3).map((v) => (v - 0.5) * 2 * Math.PI);
  return { description, size, batchSize, batch: { count: batchSize, inputs: uniform(values, 1), amplitude: uniform(values, 2), phase } };
}

/** The first `count` samples of `work`'s batch. */
function subsetWorkload(work: Workload, count: number): Workload {
  const per = work.size * work.size * work.description.input.channels;
  const batch: TrainingBatch = {
    count,
    inputs: work.batch.inputs.subarray(0, count * per),
    ...(work.batch.amplitude ? { amplitude: work.batch.amplitude.subarray(0, count * per) } : {}),
    ...(work.batch.phase ? { phase: work.batch.phase.subarray(0, count * per) } : {}),
  };
  return { ...work, batchSize: count, batch };
}

const HYPERPARAMETERS: EngineHyperparameters = {
  loss: { kind: "supervised", metric: "mse", amplitudeWeight: 1, phaseWeight: 1 },
  optimizer: { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
};

function modelPlan(context: SuiteContext, mode: "train" | "infer"): RepeatPlan {
  if (context.quick) return { warmup: 1, repetitions: 2, minRepetitions: 1, budgetSeconds: 2 };
  // Two warm-up steps: TF.js and ONNX Runtime compile kernels and plan memory on the first calls.
  return mode === "train" ? { warmup: 2, repetitions: 10, minRepetitions: 2, budgetSeconds: 10 } : { warmup: 3, repetitions: 10, minRepetitions: 3, budgetSeconds: 8 };
}

async function createEngine(target: EngineTarget, work: Workload): Promise<TrainingEngine> {
  let engine: TrainingEngine;
  if (target.engine === "onnxruntime") {
    engine = trainer.createOnnxTrainingEngine({ executionProviders: [target.backend], intraOpNumThreads: THREADS });
  } else {
    try {
      engine = await trainer.createTfjsEngine(target.backend);
    } catch (error) {
      // A back end that cannot start here (no GPU, tfjs-node not installed) is absent, with the trainer's reason.
      if (hasErrorCode(error) && UNAVAILABLE_CODES.has(error.code)) absent(firstLine(error));
      throw error;
    }
  }
  try {
    await engine.init(work.description, trainer.initialWeights(work.description), HYPERPARAMETERS);
  } catch (error) {
    await engine.dispose().catch(() => undefined);
    if (hasErrorCode(error) && UNAVAILABLE_CODES.has(error.code)) absent(firstLine(error));
    throw error;
  }
  if (engine.info.backend !== target.backend) {
    const started = engine.info.backend;
    await engine.dispose();
    absent(`asked for ${target.backend}, the trainer started ${started}`);
  }
  return engine;
}

/** ONNX Runtime inference the way users run it: the exported `model.onnx` in an inference session. */
async function onnxInference(target: EngineTarget, work: Workload): Promise<{ run: () => unknown; detail: string; cleanup: () => unknown }> {
  let session: trainer.OnnxInferenceSession;
  try {
    session = await trainer.createInferenceSession(
      { description: work.description, weights: trainer.initialWeights(work.description) },
      { executionProviders: [target.backend as trainer.OnnxExecutionProvider], intraOpNumThreads: THREADS, batchSize: work.batchSize },
    );
  } catch (error) {
    if (hasErrorCode(error) && UNAVAILABLE_CODES.has(error.code)) absent(firstLine(error));
    throw error;
  }
  if (session.provider !== target.backend) {
    const started = session.provider;
    await session.release();
    absent(`asked for ${target.backend}, ONNX Runtime started ${started}`);
  }
  return {
    run: () => session.predict(work.batch.inputs, work.batch.count),
    detail: `createInferenceSession on the exported model.onnx, ${session.provider}, ${session.intraOpNumThreads} threads`,
    cleanup: () => session.release(),
  };
}

async function runModelSuite(context: SuiteContext, mode: "train" | "infer"): Promise<SuiteResult> {
  const started = performance.now();
  const work = workload(context);
  const plan = modelPlan(context, mode);
  const parameters = trainer.countParameters(work.description);
  const group = new GroupBuilder({
    id: `${mode}-reference-model`,
    title: `${mode === "train" ? "Training step (forward, backward, Adam)" : "Inference"} of the reference model, ${work.size}×${work.size}×1, batch ${work.batchSize}, ${THREADS} threads`,
    kind: "time",
    work: { amount: work.batchSize, unit: "samples" },
    log: context.log,
  });

  for (const target of ENGINE_TARGETS) {
    const spec = { id: `${target.engine}-${target.backend}`, label: target.label, role: "ours" as const };
    let targetPlan = plan;
    let targetWork = work;
    if (target.engine === "tfjs" && target.backend === "cpu") {
      // Pure-JS TF.js needs many CPU-seconds per sample of the reference model (a training batch of 32
      // takes many minutes on a busy 2-core machine), so it is timed on a small batch, once, without a
      // warm-up (this back end compiles nothing, so a first step costs what later ones do). Samples/s is
      // what is compared, and its per-sample cost does not shrink with the batch. The smoke run skips it.
      if (mode === "train" && context.quick) {
        group.addUnavailable(spec, "absent", "not run with --quick: pure-JS TF.js cpu needs tens of seconds per training step; run without --quick");
        continue;
      }
      if (!context.quick) {
        const small = mode === "train" ? 1 : 4;
        targetWork = subsetWorkload(work, small);
        targetPlan = { warmup: 0, repetitions: 1, minRepetitions: 1, budgetSeconds: 0 };
        group.note(`TF.js cpu is timed on one ${mode === "train" ? "training step" : "prediction"} of a batch of ${small}, not ${work.batchSize}, without warm-up: at its speed a full batch would take many minutes. Its samples/s and ratios use ${small} sample${small > 1 ? "s" : ""} per run.`);
      }
    }
    const runWork = targetWork;
    const measuredSpec = runWork === work ? spec : { ...spec, work: { amount: runWork.batchSize, unit: "samples" as const } };
    await group.time(measuredSpec, targetPlan, async () => {
      if (mode === "infer" && target.engine === "onnxruntime") return onnxInference(target, runWork);
      const engine = await createEngine(target, runWork);
      const run = mode === "train" ? () => engine.trainStep(runWork.batch, 1e-3) : () => engine.predict(runWork.batch.inputs, runWork.batch.count);
      return { run, detail: `${engine.info.backend}, ${engine.info.threads} threads`, cleanup: () => engine.dispose() };
    });
  }

  await group.run({ id: "pytorch-cpu", label: "PyTorch CPU", role: "peer" }, async () => {
    const python = await findPythonWith("torch");
    const args = [...planArguments(plan), "--mode", mode, "--batch", String(work.batchSize), "--size", String(work.size), "--channels", "1", "--threads", String(THREADS)];
    const answer = await runPythonScript(python, "torch_peer.py", args, 900_000);
    if (answer.parameters !== parameters) throw new Error(`PyTorch model has ${String(answer.parameters)} parameters, ours ${parameters}: architectures differ`);
    return { samples: numbersField(answer, "samples"), detail: `torch ${String(answer.torch)}, ${String(answer.threads)} threads` };
  });

  const goals =
    mode === "train"
      ? [
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: "pytorch-cpu", atLeast: 1.0 },
          { kind: "ratio" as const, ours: "tfjs-wasm", peer: "pytorch-cpu", atLeast: 0.25 },
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: "tfjs-wasm", atLeast: 10 },
        ]
      : [
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: "pytorch-cpu", atLeast: 1.2 },
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: "tfjs-wasm", atLeast: 5 },
        ];
  const notes = [
    `Same weights initialisation (model seed 7), same batch for every contender; loss: supervised MSE on amplitude and phase; Adam lr 1e-3. PyTorch runs the same layers channels-first with the same heads (sigmoid amplitude, π·tanh phase).`,
  ];
  return {
    suite: mode,
    wallSeconds: (performance.now() - started) / 1000,
    groups: [group.finish(goals)],
    notes,
  };
}

export function runTrainSuite(context: SuiteContext): Promise<SuiteResult> {
  return runModelSuite(context, "train");
}

export function runInferSuite(context: SuiteContext): Promise<SuiteResult> {
  return runModelSuite(context, "infer");
}
