/**
 * One engine contender of the `train` / `infer` suites, shared by the suite (parent) and the process
 * that measures it (model-contender-process.ts): the workload, engine start-up and the timed loop.
 * Each contender runs in a fresh process so that TF.js's one-back-end-per-process state and a back end
 * that runs for minutes cannot affect the others, and so that a time limit can stop it.
 */
import { hasErrorCode } from "@studykit/native";
import * as trainer from "@studykit/trainer";
import type { EngineHyperparameters, ModelDescription, TrainingBatch, TrainingEngine } from "@studykit/trainer";
import { absent, timeRepeated, type RepeatPlan } from "../measure.js";

/** Every engine / back end pair the trainer issues name, in priority order. */
export const ENGINE_TARGETS = [
  { engine: "tfjs", backend: "tensorflow-gpu", label: "TF.js node-gpu" },
  { engine: "tfjs", backend: "tensorflow", label: "TF.js node" },
  { engine: "tfjs", backend: "wasm", label: "TF.js wasm" },
  { engine: "tfjs", backend: "cpu", label: "TF.js cpu" },
  { engine: "onnxruntime", backend: "cuda", label: "ONNX Runtime CUDA" },
  { engine: "onnxruntime", backend: "cpu", label: "ONNX Runtime CPU" },
] as const;
export type EngineTarget = (typeof ENGINE_TARGETS)[number];

/** Threads given to every contender (PyTorch's `set_num_threads`, ORT's intra-op pool). */
export const THREADS = 2;

/** Error codes meaning "this back end cannot start on this machine" rather than "it broke". */
const UNAVAILABLE_CODES = new Set(["E_ONNX_NO_PROVIDER", "E_BACKEND_UNAVAILABLE"]);

function firstLine(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

export interface Workload {
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

/** The reference model and one deterministic batch (the same in every process). */
export function buildWorkload(size: number, batchSize: number): Workload {
  const channels = 1;
  const description = trainer.referencePtychoModel({ size, channels, seed: 7 });
  const values = batchSize * size * size * channels;
  const phase = uniform(values, 3).map((v) => (v - 0.5) * 2 * Math.PI);
  return { description, size, batchSize, batch: { count: batchSize, inputs: uniform(values, 1), amplitude: uniform(values, 2), phase } };
}

const HYPERPARAMETERS: EngineHyperparameters = {
  loss: { kind: "supervised", metric: "mse", amplitudeWeight: 1, phaseWeight: 1 },
  optimizer: { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
};

/**
 * ONNX Runtime's parallelism for `target`, the same cores as the other contenders either way: on the CPU
 * THREADS data-parallel replicas of one thread (the CPU default of the engine and of inference sessions),
 * or with `oneSession` one session of THREADS threads; other providers one session of THREADS threads.
 */
function ortParallelism(target: EngineTarget, oneSession: boolean): { replicas: number; intraOpNumThreads: number } {
  return oneSession || target.backend !== "cpu" ? { intraOpNumThreads: THREADS, replicas: 1 } : { replicas: THREADS, intraOpNumThreads: 1 };
}

/** "2 replicas × 1 thread", or "2 threads" for one session. */
function parallelismLabel(replicas: number, threads: number): string {
  const perReplica = `${threads} thread${threads === 1 ? "" : "s"}`;
  return replicas > 1 ? `${replicas} replicas × ${perReplica}` : perReplica;
}

/**
 * Starts `target`'s engine on the reference model (ONNX Runtime with {@link ortParallelism}).
 */
export async function createEngine(target: EngineTarget, work: Workload, oneSession = false): Promise<TrainingEngine> {
  let engine: TrainingEngine;
  if (target.engine === "onnxruntime") {
    engine = trainer.createOnnxTrainingEngine({ executionProviders: [target.backend], ...ortParallelism(target, oneSession) });
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

/** ONNX Runtime inference the way users run it: the exported `model.onnx` in an inference session ({@link ortParallelism}). */
export async function onnxInference(target: EngineTarget, work: Workload, oneSession = false): Promise<{ run: () => unknown; detail: string; cleanup: () => unknown }> {
  let session: trainer.OnnxInferenceSession;
  try {
    session = await trainer.createInferenceSession(
      { description: work.description, weights: trainer.initialWeights(work.description) },
      { executionProviders: [target.backend as trainer.OnnxExecutionProvider], ...ortParallelism(target, oneSession), batchSize: work.batchSize },
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
    detail: `createInferenceSession on the exported model.onnx, ${session.provider}, ${parallelismLabel(session.replicas, session.intraOpNumThreads)}`,
    cleanup: () => session.release(),
  };
}

/** Marks the contender process's protocol lines on stdout (TF.js writes its own notices there too). */
export const PROTOCOL_PREFIX = "@@studykit-bench ";

/** What the parent asks a contender process to measure. */
export interface ContenderRequest {
  readonly mode: "train" | "infer";
  readonly engine: EngineTarget["engine"];
  readonly backend: EngineTarget["backend"];
  readonly size: number;
  readonly batchSize: number;
  readonly plan: RepeatPlan;
  /** ONNX Runtime in one session of THREADS threads instead of the CPU default (replicas). */
  readonly oneSession?: boolean;
}

/**
 * Starts the engine and times it per `request.plan`, calling `onSample` after every timed repetition
 * (so that a parent that stops the process at a time limit keeps what was measured).
 */
export async function measureEngineContender(request: ContenderRequest, onSample: (seconds: number) => void): Promise<{ detail: string }> {
  const target = ENGINE_TARGETS.find((t) => t.engine === request.engine && t.backend === request.backend);
  if (!target) throw new Error(`unknown engine target ${request.engine}/${request.backend}`);
  const work = buildWorkload(request.size, request.batchSize);
  let prepared: { run: () => unknown; detail: string; cleanup: () => unknown };
  if (request.mode === "infer" && target.engine === "onnxruntime") prepared = await onnxInference(target, work, request.oneSession);
  else {
    const engine = await createEngine(target, work, request.oneSession);
    prepared = {
      run: request.mode === "train" ? () => engine.trainStep(work.batch, 1e-3) : () => engine.predict(work.batch.inputs, work.batch.count),
      detail: `${engine.info.backend}, ${parallelismLabel(engine.info.replicas ?? 1, engine.info.threads)}${engine instanceof trainer.OnnxTrainingEngine && engine.layout ? `, ${engine.layout} layout` : ""}${engine.info.convolutions ? `, ${engine.info.convolutions} convolutions` : ""}`,
      cleanup: () => engine.dispose(),
    };
  }
  try {
    let reported = 0;
    await timeRepeated(prepared.run, request.plan, (samples) => {
      while (reported < samples.length) onSample(samples[reported++]!);
    });
  } finally {
    await prepared.cleanup();
  }
  return { detail: prepared.detail };
}
