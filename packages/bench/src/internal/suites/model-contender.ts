/**
 * One engine contender of the `train` / `infer` suites, shared by the suite (parent) and the process
 * that measures it (model-contender-process.ts): the workload, engine start-up and the timed loop.
 * Each contender runs in a fresh process so that TF.js's one-back-end-per-process state and a back end
 * that runs for minutes cannot affect the others, and so that a time limit can stop it.
 */
import { hasErrorCode } from "@studykit/native";
import * as trainer from "@studykit/trainer";
import { ptychoModelPreset, type PtychoModelName } from "@studykit/study";
import type { Conv2dLayer, EngineHyperparameters, ModelDescription, TrainingBatch, TrainingEngine } from "@studykit/trainer";
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
const UNAVAILABLE_CODES = new Set<string>([trainer.TrainerErrorCode.OnnxNoProvider, trainer.TrainerErrorCode.BackendUnavailable]);

function firstLine(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

export interface Workload {
  readonly description: ModelDescription;
  readonly batch: TrainingBatch;
  readonly size: number;
  readonly batchSize: number;
}

/** The model presets a suite group can time (the study's: reference, compact, compactStrided, tiny). */
export type ModelName = PtychoModelName;

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

/** The model (seed 7) and one deterministic batch: the same in every process, and exported to the PyTorch peer. */
export function buildWorkload(size: number, batchSize: number, model: ModelName = "reference", channels = 1): Workload {
  const description = ptychoModelPreset(model)({ size, channels, seed: 7 });
  const values = batchSize * size * size * channels;
  const phase = uniform(values, 3).map((v) => (v - 0.5) * 2 * Math.PI);
  return { description, size, batchSize, batch: { count: batchSize, inputs: uniform(values, 1), amplitude: uniform(values, 2), phase } };
}

/** Loss and optimizer of every training contender; python/torch_peer.py is given the same (lr, ε). */
export const HYPERPARAMETERS = {
  loss: { kind: "supervised", metric: "mse", amplitudeWeight: 1, phaseWeight: 1 },
  optimizer: { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
} as const satisfies EngineHyperparameters;

/** Learning rate of every timed training step. */
export const LEARNING_RATE = 1e-3;

/**
 * The ×2 upsample + 3×3 conv pairs an ONNX Runtime graph computes as sub-pixel convolutions at the low
 * resolution, and the training multiply-adds that leaves, by the rule of the trainer's ONNX compiler:
 * the exported inference model rewrites every pair `fusesAsSubpixel` accepts; a training graph rewrites
 * them only in the blocked NCHWc layout (`nchwc(B)`), where the conv's filters fill whole blocks of B or
 * only activations follow it (the output conv). `layout` "all" rewrites every pair. Null when no pair is
 * rewritten.
 */
export function subpixelRewrite(description: ModelDescription, mode: "train" | "infer", layout: string | undefined): { convs: string[]; fraction: number } | null {
  // `all`: every pair (what python/torch_peer.py --subpixel rewrites), as a block of one channel would.
  const block = layout === "all" ? "1" : /^nchwc\((\d+)\)$/.exec(layout ?? "")?.[1];
  if (mode === "train" && block === undefined) return null;
  const shapes = trainer.validateModelDescription(description);
  const layers = description.layers;
  const convs: string[] = [];
  let described = 0;
  let computed = 0;
  let inChannels = description.input.channels;
  let seenConv = false;
  layers.forEach((layer, i) => {
    const [h, w, c] = shapes[i]!;
    if (layer.kind === "conv2d") {
      const previous = layers[i - 1];
      const onlyActivationsAfter = layers.slice(i + 1).every((l) => l.kind === "activation");
      const rewritten =
        previous?.kind === "upsample2d" &&
        isSubpixelPair(previous, layer) &&
        (mode === "infer" || layer.filters % Number(block) === 0 || onlyActivationsAfter);
      // One pass's multiply-adds; a training step runs it (forward), its filter gradient, and its input
      // gradient except for the first conv (see countMultiplyAdds).
      const passes = seenConv && mode === "train" ? 3 : mode === "train" ? 2 : 1;
      const direct = h * w * c * layer.kernelSize[0] * layer.kernelSize[1] * inChannels * passes;
      described += direct;
      computed += rewritten ? (direct * 16) / 36 : direct;
      if (rewritten) convs.push(layer.name);
      seenConv = true;
    }
    inChannels = c;
  });
  return convs.length === 0 ? null : { convs, fraction: computed / described };
}

/** The pair shape the trainer's compiler rewrites (its `fusesAsSubpixel`, which the trainer does not export). */
function isSubpixelPair(upsample: { size: readonly number[] }, conv: Conv2dLayer): boolean {
  const is = (pair: readonly number[], a: number, b: number) => pair[0] === a && pair[1] === b;
  return is(upsample.size, 2, 2) && is(conv.kernelSize, 3, 3) && is(conv.strides, 1, 1) && is(conv.dilation, 1, 1) && conv.padding === "same";
}

/** The `computes` line of a contender that rewrites: which convs, and the share of the described work left. */
export function describeRewrite(rewrite: { convs: string[]; fraction: number }): string {
  return `each ×2 upsample + 3×3 conv (${rewrite.convs.join(", ")}) as four 2×2 sub-pixel convolutions at the low resolution: ${(100 * rewrite.fraction).toFixed(0)}% of the described multiply-adds`;
}

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
export async function onnxInference(target: EngineTarget, work: Workload, oneSession = false): Promise<{ run: () => unknown; detail: string; cleanup: () => unknown; parallelism: ContenderReport["parallelism"] }> {
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
    parallelism: parallelismOf(session.replicas, session.intraOpNumThreads),
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
  /** Model builder (default `reference`) and its channels C (default 1). */
  readonly model?: ModelName;
  readonly channels?: number;
  readonly size: number;
  readonly batchSize: number;
  /** Report the losses of the first this-many training steps (warm-up included), for the peer check. */
  readonly lossSteps?: number;
  readonly plan: RepeatPlan;
  /** ONNX Runtime in one session of THREADS threads instead of the CPU default (replicas). */
  readonly oneSession?: boolean;
}

/** What a contender process reports besides its samples. */
export interface ContenderReport {
  readonly detail: string;
  /** Losses of the first `lossSteps` training steps. */
  readonly losses: readonly number[];
  /** What an ONNX Runtime contender computes instead of the described convolutions (see subpixelRewrite). */
  readonly computes?: string;
  /** The threads it ran on, as the engine or session reports them (replicas × threads each). */
  readonly parallelism: { threads: number; processes: number; detail?: string };
}

/** Replicas of `threads` threads each in one process, as a contender's parallelism. */
function parallelismOf(replicas: number, threads: number): ContenderReport["parallelism"] {
  return { threads: replicas * threads, processes: 1, ...(replicas > 1 ? { detail: `${parallelismLabel(replicas, threads)} in one process` } : {}) };
}

/**
 * Starts the engine and times it per `request.plan`, calling `onSample` after every timed repetition
 * (so that a parent that stops the process at a time limit keeps what was measured).
 */
export async function measureEngineContender(request: ContenderRequest, onSample: (seconds: number) => void): Promise<ContenderReport> {
  const target = ENGINE_TARGETS.find((t) => t.engine === request.engine && t.backend === request.backend);
  if (!target) throw new Error(`unknown engine target ${request.engine}/${request.backend}`);
  const work = buildWorkload(request.size, request.batchSize, request.model ?? "reference", request.channels ?? 1);
  const losses: number[] = [];
  let prepared: { run: () => unknown; detail: string; cleanup: () => unknown; parallelism: ContenderReport["parallelism"] };
  let computes: string | undefined;
  if (request.mode === "infer" && target.engine === "onnxruntime") {
    prepared = await onnxInference(target, work, request.oneSession);
    const rewrite = subpixelRewrite(work.description, "infer", undefined);
    if (rewrite) computes = describeRewrite(rewrite);
  } else {
    const engine = await createEngine(target, work, request.oneSession);
    const layout = engine instanceof trainer.OnnxTrainingEngine ? engine.layout : undefined;
    const rewrite = target.engine === "onnxruntime" ? subpixelRewrite(work.description, request.mode, layout) : null;
    if (rewrite) computes = describeRewrite(rewrite);
    const lossSteps = request.lossSteps ?? 0;
    prepared = {
      run:
        request.mode === "train"
          ? async () => {
              const loss = await engine.trainStep(work.batch, LEARNING_RATE);
              if (losses.length < lossSteps) losses.push(loss);
            }
          : () => engine.predict(work.batch.inputs, work.batch.count),
      detail: `${engine.info.backend}, ${parallelismLabel(engine.info.replicas ?? 1, engine.info.threads)}${layout ? `, ${layout} layout` : ""}${engine.info.convolutions ? `, ${engine.info.convolutions} convolutions` : ""}`,
      parallelism: parallelismOf(engine.info.replicas ?? 1, engine.info.threads),
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
  return { detail: prepared.detail, losses, parallelism: prepared.parallelism, ...(computes ? { computes } : {}) };
}
