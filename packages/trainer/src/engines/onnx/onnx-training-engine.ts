/**
 * The ONNX Runtime training engine: implements `TrainingEngine` by compiling the model, its loss, the
 * reverse-mode gradients and the optimizer update into one ONNX graph, so each training step is a single
 * `session.run`. Weights and optimizer slots live in two sets of Float32Arrays that ORT writes into
 * directly (pre-allocated outputs) and that swap roles every step, so a step allocates no weight memory.
 */
import * as ort from "onnxruntime-node";
import { OnnxEngineError, TrainerErrorCode } from "../../errors.js";
import { type ModelDescription, type NamedWeight, weightSpecs } from "../../model-description.js";
import type { EngineHyperparameters, EngineInfo, OptimizerState, TrainingBatch, TrainingEngine } from "../training-engine.js";
import type { FilterGradientStrategy } from "./internal/autodiff.js";
import { checkWeights, hwioToOihw, oihwToHwio, onnxWeightShape } from "./internal/model-compiler.js";
import { microBatches, ownBuffer, type PlainTensor, replicaLayout, type ReplicaSessionOptions, ReplicaThread, shareWork } from "./internal/replica-pool.js";
import { compileTrainingGraph, compileUpdateGraph, FLAT, GRAPH_NAMES, layerShapes, type GraphMode, type GraphOptimizer, optimizerSlots, type SgdMomentumOptimizer } from "./internal/training-graph.js";
import { ONNX_EXECUTION_PROVIDERS, type OnnxExecutionProvider, type ProviderAttempt } from "./inference-session.js";
import { nchwcBlockSize, providerUnavailableReason, spinningOption } from "./provider-check.js";

export type { FilterGradientStrategy, SgdMomentumOptimizer };

export interface OnnxTrainingEngineOptions {
  /** Providers to try in order (default `["cpu"]`). */
  readonly executionProviders?: readonly OnnxExecutionProvider[];
  /**
   * Intra-op threads of each session (default: 1 per replica with the CPU provider's default 2 replicas,
   * else 2). Fixed per engine so that results are bit-identical across sessions.
   */
  readonly intraOpNumThreads?: number;
  /**
   * Data-parallel replicas of each training step. Default: 2 (of 1 thread each) when the providers are CPU
   * only and `intraOpNumThreads` is not given, else 1. The batch is cut into 2 near-equal micro-batches
   * per replica, the replicas (one on the calling thread, the rest in worker threads) take them one at a
   * time from a shared counter and compute their gradients, and one small update graph sums them,
   * weighted by size, and applies the optimizer. The result is the same step up to float summation order,
   * and bit-identical from run to run whichever replica took which micro-batch. On a 2-core CPU, 2
   * replicas of 1 thread train 7–20% faster than 1 session of 2 threads (the reference model in the
   * bench's train suite; the tiny test model too): the copies ORT runs single-threaded then overlap with
   * the other replica's work. Batches smaller than `replicas` run in one session.
   */
  readonly replicas?: number;
  /** How Conv filter gradients are formed (default `chunked-matmul`, the fastest measured). */
  readonly filterGradient?: FilterGradientStrategy;
  /** MaxPool gradient: `scatter` through argmax indices (default) or `mask` by the upsampled maximum. */
  readonly maxPoolGradient?: "scatter" | "mask";
  /** Overrides `hyper.optimizer`, e.g. SGD with momentum (not yet part of the shared hyperparameters). */
  readonly optimizer?: GraphOptimizer;
  /**
   * Whether ORT's intra-op threads spin while waiting for work (ORT's default, true): lowest latency on
   * an idle machine; false gives the cores back at once, kinder where many processes share few cores.
   */
  readonly intraOpSpinning?: boolean;
  /** ORT graph optimisation level (default `all`). */
  readonly graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /**
   * Activation layout of the CPU graphs: `nchwc` (default) writes them in ORT's blocked layout, whose
   * convolution kernels are ~25–45% faster than the im2col path, where this machine's ORT has them and
   * the model allows it (stride-1 convs, non-overlapping pools), else NCHW; `nchw` always NCHW.
   * Other providers always use NCHW.
   */
  readonly layout?: "nchwc" | "nchw";
}

/**
 * Weights and optimizer slots. Each set is one buffer (`flatWeights`, `flatSlots[k]`, weights in
 * description order) and the per-weight arrays are views on it: the sessions take one tensor per weight,
 * the data-parallel update graph one flat vector.
 */
interface State {
  weights: Float32Array[];
  slots: Float32Array[][];
  flatWeights: Float32Array;
  flatSlots: Float32Array[];
}

/**
 * What an ONNX Runtime training engine created with `options` computes with on this machine, known before
 * any model is compiled: record it in a run's identity, since each field changes the bits of the result.
 */
export interface OnnxTrainingSetup {
  readonly engine: "onnxruntime";
  /** The first configured execution provider whose library is installed (the one that will run). */
  readonly provider: OnnxExecutionProvider;
  /** Intra-op threads per replica. */
  readonly threads: number;
  /** Data-parallel replicas of a training step (see the `replicas` option), when more than 1. */
  readonly replicas?: number;
  /**
   * Activation layout of the training graphs for models that allow the blocked layout: `nchwc(B)` (B is
   * 8 with AVX2, 16 with AVX-512, so float sums differ between such machines) or `nchw`. A model that
   * does not allow it (see the `layout` option) runs NCHW; the engine's `layout` says what a model got.
   */
  readonly layout: string;
  /** onnxruntime-node's version. */
  readonly onnxruntime: string;
}

/** The provider that will run a graph: the first of `providers` whose library is installed. */
function providerThatRuns(providers: readonly OnnxExecutionProvider[]): OnnxExecutionProvider | undefined {
  return providers.find((p) => providerUnavailableReason(p) === undefined);
}

/** NCHWc block size the graphs of `provider` use under `layout` (0: NCHW). */
async function blockFor(provider: OnnxExecutionProvider | undefined, layout: OnnxTrainingEngineOptions["layout"]): Promise<number> {
  // Blocked layout only where the CPU provider runs the graph (the CUDA provider has no NCHWc kernels).
  return provider === "cpu" && (layout ?? "nchwc") === "nchwc" ? nchwcBlockSize() : 0;
}

/**
 * The {@link OnnxTrainingSetup} of an engine created with `options` (checked as `createOnnxTrainingEngine`
 * checks them). `E_ONNX_NO_PROVIDER` when none of the providers is installed.
 */
export async function onnxTrainingSetup(options: OnnxTrainingEngineOptions = {}): Promise<OnnxTrainingSetup> {
  const { threads, replicas } = checkedOptions(options);
  const providers = options.executionProviders ?? ["cpu"];
  const provider = providerThatRuns(providers);
  if (provider === undefined) {
    const reasons = providers.map((p) => `${p}: ${providerUnavailableReason(p) ?? "not installed"}`).join("; ");
    throw new OnnxEngineError(TrainerErrorCode.OnnxNoProvider, `no ONNX Runtime execution provider can start: ${reasons} (use "cpu", or install onnxruntime-node's CUDA provider)`, { userFacing: true });
  }
  const block = await blockFor(provider, options.layout);
  const layout = block > 0 ? `nchwc(${block})` : "nchw";
  return { engine: "onnxruntime", provider, threads, ...(replicas > 1 ? { replicas } : {}), layout, onnxruntime: ort.env.versions.common ?? "unknown" };
}

/** Checks the options both the engine and {@link onnxTrainingSetup} read; returns the thread and replica counts. */
function checkedOptions(options: OnnxTrainingEngineOptions): { threads: number; replicas: number } {
  const { replicas, threads } = replicaLayout(options, (message) => new OnnxEngineError(TrainerErrorCode.OnnxOptions, message));
  if (options.layout !== undefined && options.layout !== "nchwc" && options.layout !== "nchw") throw new OnnxEngineError(TrainerErrorCode.OnnxOptions, `layout must be "nchwc" or "nchw", got ${JSON.stringify(options.layout)}`);
  return { threads, replicas };
}

/** Creates an ONNX Runtime training engine (call `init` before anything else). */
export function createOnnxTrainingEngine(options: OnnxTrainingEngineOptions = {}): OnnxTrainingEngine {
  return new OnnxTrainingEngine(options);
}

export class OnnxTrainingEngine implements TrainingEngine {
  private description?: ModelDescription;
  private hyper?: EngineHyperparameters;
  private optimizer?: GraphOptimizer;
  private specs: Array<{ name: string; shape: number[] }> = [];
  private onnxShapes: number[][] = [];
  private current?: State;
  private spare?: State;
  private step = 0;
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private provider: OnnxExecutionProvider | undefined;
  private readonly failed: ProviderAttempt[] = [];
  private readonly threads: number;
  private readonly replicas: number;
  /** Worker threads of replicas 1…R−1 (replica 0 runs on the calling thread), started at the first split step. */
  private replicaThreads: ReplicaThread[] = [];
  /** `thread index|session key` of the sessions the replica threads hold. */
  private readonly replicaKeys = new Set<string>();
  private graphLayout: string | undefined;

  constructor(private readonly options: OnnxTrainingEngineOptions = {}) {
    ({ threads: this.threads, replicas: this.replicas } = checkedOptions(options));
  }

  /**
   * The activation layout of the graphs this engine runs, known once `init` started its first session:
   * `nchwc(B)` (ORT's blocked layout, B channels per block) or `nchw`.
   */
  get layout(): string | undefined {
    return this.graphLayout;
  }

  get info(): EngineInfo {
    // Before the first session starts, the provider is the first configured one whose library is present.
    const expected = providerThatRuns(this.options.executionProviders ?? ["cpu"]) ?? "cpu";
    const fallbacks = this.provider !== undefined ? this.failed : (this.options.executionProviders ?? []).slice(0, (this.options.executionProviders ?? []).indexOf(expected)).map((p) => ({ provider: p, error: providerUnavailableReason(p) ?? "not started" }));
    return {
      engine: "onnxruntime",
      backend: this.provider ?? expected,
      threads: this.threads,
      ...(this.replicas > 1 ? { replicas: this.replicas } : {}),
      ...(this.graphLayout !== undefined ? { layout: this.graphLayout } : {}),
      fallbacks: fallbacks.map((f) => ({ backend: f.provider, reason: f.error })),
    };
  }

  async init(description: ModelDescription, weights: readonly NamedWeight[], hyper: EngineHyperparameters): Promise<void> {
    const specs = weightSpecs(description);
    const problems = checkWeights(description, weights, specs);
    if (problems.length > 0) throw new OnnxEngineError(TrainerErrorCode.OnnxWeights, `cannot initialise the ONNX Runtime engine for ${JSON.stringify(description.name)}: ${problems.slice(0, 20).join("; ")}`);
    if (hyper.loss.kind === "physics" && hyper.loss.overlap) {
      const padding = hyper.loss.overlap.canvasPadding;
      if (!(Number.isSafeInteger(padding) && padding >= 0)) throw new OnnxEngineError(TrainerErrorCode.LossConfig, `overlap.canvasPadding must be a whole number of pixels ≥ 0 (the canvas is N + 2·padding pixels wide), got ${padding}`);
      const weighting = hyper.loss.overlap.weighting;
      if (weighting !== undefined && weighting !== "uniform" && weighting !== "probeIntensity") throw new OnnxEngineError(TrainerErrorCode.LossConfig, `overlap.weighting must be "uniform" or "probeIntensity", got ${JSON.stringify(weighting)}`);
    }
    await this.releaseSessions();
    this.description = description;
    this.hyper = hyper;
    this.optimizer = this.options.optimizer ?? hyper.optimizer;
    this.specs = specs;
    this.onnxShapes = specs.map(onnxWeightShape);
    const slotCount = optimizerSlots(this.optimizer).length;
    const sizes = specs.map((s) => s.shape.reduce((a, b) => a * b, 1));
    const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const total = sizes.reduce((a, b) => a + b, 0);
    const views = (flat: Float32Array): Float32Array[] => sizes.map((size, i) => flat.subarray(offsets[i]!, offsets[i]! + size));
    const fresh = (): State => {
      const flatWeights = new Float32Array(total);
      const flatSlots = Array.from({ length: slotCount }, () => new Float32Array(total));
      return { weights: views(flatWeights), slots: flatSlots.map(views), flatWeights, flatSlots };
    };
    this.current = fresh();
    this.spare = fresh();
    this.step = 0;
    await this.setWeights(weights);
    // Start the provider now so that `info` reports it before the first step.
    await this.session("predict", -1, false);
  }

  private ready(): { description: ModelDescription; hyper: EngineHyperparameters; optimizer: GraphOptimizer; current: State; spare: State } {
    if (!this.description || !this.hyper || !this.optimizer || !this.current || !this.spare) throw new OnnxEngineError(TrainerErrorCode.EngineNotInitialised, "the ONNX Runtime engine was used before init(description, weights, hyper): call init first");
    return { description: this.description, hyper: this.hyper, optimizer: this.optimizer, current: this.current, spare: this.spare };
  }

  private session(mode: GraphMode | "update", batch: number, dropout: boolean): Promise<ort.InferenceSession> {
    const key = `${mode}|${batch}|${dropout}`;
    let pending = this.sessions.get(key);
    if (!pending) {
      pending = this.createSession(mode, batch, dropout);
      this.sessions.set(key, pending);
      pending.catch(() => this.sessions.delete(key));
    }
    return pending;
  }

  /** The graph of `mode` for the provider that runs (or will run) this engine's sessions. */
  private async compile(mode: GraphMode, batch: number, dropout: boolean): Promise<Uint8Array> {
    const { description, hyper, optimizer } = this.ready();
    const providers = this.provider ? [this.provider] : (this.options.executionProviders ?? ["cpu"]);
    const nchwcBlock = await blockFor(providerThatRuns(providers), this.options.layout);
    const graph = compileTrainingGraph({
      description,
      loss: hyper.loss,
      optimizer,
      mode,
      batch,
      dropout,
      ...(this.options.filterGradient ? { filterGradient: this.options.filterGradient } : {}),
      ...(this.options.maxPoolGradient ? { maxPoolGradient: this.options.maxPoolGradient } : {}),
      nchwcBlock,
    });
    this.graphLayout = graph.layout === "nchwc" ? `nchwc(${nchwcBlock})` : "nchw";
    return graph.bytes;
  }

  /**
   * Session options for `mode`: a replica's micro-batch of a split step (`gradients`) runs `threads`
   * intra-op threads; everything else runs once for all replicas (the update, prediction, evaluation, a
   * batch too small to split), on all their threads. With replicas, those wider sessions do not spin by
   * default: ORT's idle threads spin on after a run, and took a core from the next step's replicas
   * (measured: the worker replica's first micro-batch 200 instead of 150 ms after a spinning update).
   */
  private sessionOptions(provider: OnnxExecutionProvider, mode: GraphMode | "update"): ReplicaSessionOptions {
    const perReplica = mode === "gradients";
    const spinning = this.options.intraOpSpinning ?? (this.replicas > 1 && !perReplica ? false : undefined);
    return {
      executionProviders: [provider],
      intraOpNumThreads: perReplica ? this.threads : this.threads * this.replicas,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: this.options.graphOptimizationLevel ?? "all",
      logSeverityLevel: 3,
      ...spinningOption(spinning),
    };
  }

  private async createSession(mode: GraphMode | "update", batch: number, dropout: boolean): Promise<ort.InferenceSession> {
    const { description, optimizer } = this.ready();
    const providers = this.provider ? [this.provider] : (this.options.executionProviders ?? ["cpu"]);
    const bytes = mode === "update" ? compileUpdateGraph(description, optimizer, batch) : await this.compile(mode, batch, dropout);
    for (const provider of providers) {
      if (!(ONNX_EXECUTION_PROVIDERS as readonly string[]).includes(provider)) throw new OnnxEngineError(TrainerErrorCode.OnnxOptions, `unknown execution provider ${JSON.stringify(provider)}: use one of ${ONNX_EXECUTION_PROVIDERS.join(", ")}`);
      const unavailable = providerUnavailableReason(provider);
      if (unavailable !== undefined) {
        this.failed.push({ provider, error: unavailable });
        continue;
      }
      try {
        const session = await ort.InferenceSession.create(bytes, this.sessionOptions(provider, mode) as ort.InferenceSession.SessionOptions);
        this.provider = provider;
        return session;
      } catch (cause) {
        if (this.provider !== undefined) throw cause;
        this.failed.push({ provider, error: (cause as Error).message.split("\n")[0] ?? String(cause) });
      }
    }
    throw new OnnxEngineError(TrainerErrorCode.OnnxNoProvider, `no ONNX Runtime execution provider could start: ${this.failed.map((f) => `${f.provider}: ${f.error}`).join("; ")} (use "cpu", or install onnxruntime-node's CUDA provider)`, { userFacing: true });
  }

  private checkBatch(batch: TrainingBatch, needTargets: boolean): void {
    const { description, hyper } = this.ready();
    const { height, width, channels } = description.input;
    const sample = height * width * channels;
    const problems: string[] = [];
    if (!Number.isSafeInteger(batch.count) || batch.count < 1) problems.push(`count must be a positive integer, got ${String(batch.count)}`);
    else {
      if (batch.inputs.length !== batch.count * sample) problems.push(`inputs has ${batch.inputs.length} values, needs ${batch.count}×${height}×${width}×${channels}`);
      if (needTargets && hyper.loss.kind === "supervised") {
        const targetSize = batch.count * height * width * description.heads.channels;
        for (const key of ["amplitude", "phase"] as const) {
          const t = batch[key];
          if (!t) problems.push(`${key} targets are missing (the supervised loss needs them)`);
          else if (t.length !== targetSize) problems.push(`${key} has ${t.length} values, needs ${targetSize}`);
        }
      }
      if (needTargets && hyper.loss.kind === "physics" && hyper.loss.overlap) problems.push(...offsetProblems(batch, description.heads.channels, hyper.loss.overlap.canvasPadding));
    }
    if (problems.length > 0) throw new OnnxEngineError(TrainerErrorCode.BatchShape, `batch does not fit model ${JSON.stringify(description.name)}: ${problems.join("; ")}`);
  }

  /** The loss graphs' feeds: the batch's inputs and targets (no dropout masks) and `state`'s weights. */
  private lossFeeds(batch: TrainingBatch, state: State): Record<string, ort.Tensor> {
    return { ...this.sampleFeeds(batch), ...this.weightFeeds(state) };
  }

  /** The batch's inputs and, with a supervised loss, its targets. */
  private sampleFeeds(batch: TrainingBatch): Record<string, ort.Tensor> {
    const { description } = this.ready();
    const { height, width, channels } = description.input;
    const feeds: Record<string, ort.Tensor> = { [GRAPH_NAMES.input]: new ort.Tensor("float32", batch.inputs, [batch.count, height, width, channels]) };
    const c = description.heads.channels;
    if (this.hyper!.loss.kind === "supervised") {
      feeds[GRAPH_NAMES.amplitude] = new ort.Tensor("float32", batch.amplitude!, [batch.count, height, width, c]);
      feeds[GRAPH_NAMES.phase] = new ort.Tensor("float32", batch.phase!, [batch.count, height, width, c]);
    }
    const loss = this.hyper!.loss;
    if (loss.kind === "physics" && loss.overlap) feeds[GRAPH_NAMES.offsets] = new ort.Tensor("float32", batch.offsets!, [batch.count, c, 2]);
    return feeds;
  }

  /** One tensor per weight, on `state`'s arrays. */
  private weightFeeds(state: State): Record<string, ort.Tensor> {
    return Object.fromEntries(this.specs.map((s, i) => [GRAPH_NAMES.weight(s.name), new ort.Tensor("float32", state.weights[i]!, this.onnxShapes[i]!)]));
  }

  async trainStep(batch: TrainingBatch, learningRate: number): Promise<number> {
    const { description } = this.ready();
    this.checkBatch(batch, true);
    if (!Number.isFinite(learningRate) || learningRate < 0) throw new OnnxEngineError(TrainerErrorCode.OnnxOptions, `learning rate must be a finite non-negative number, got ${String(learningRate)}`);
    const dropoutLayers = description.layers.filter((l) => l.kind === "dropout");
    const dropout = batch.dropoutMasks !== undefined && dropoutLayers.length > 0;
    if (dropout) {
      const shapes = layerShapes(description);
      for (const layer of dropoutLayers) {
        const mask = batch.dropoutMasks![layer.name];
        const size = batch.count * shapes.get(layer.name)!.reduce((a, b) => a * b, 1);
        if (!mask) throw new OnnxEngineError(TrainerErrorCode.BatchShape, `batch has no dropout mask for layer ${layer.name}: pass a mask for every dropout layer, or none`);
        if (mask.length !== size) throw new OnnxEngineError(TrainerErrorCode.BatchShape, `dropout mask for layer ${layer.name} has ${mask.length} values, needs ${batch.count}×${shapes.get(layer.name)!.join("×")}`);
      }
    }
    if (this.replicas > 1 && batch.count >= this.replicas) return this.replicatedStep(batch, learningRate, dropout);
    const session = await this.session("train", batch.count, dropout);
    // addUpdateIo adds the weights (and the slots and their outputs).
    const feeds = this.shardFeeds(dropout ? batch : { ...batch, dropoutMasks: undefined });
    const fetches: Record<string, ort.Tensor | null> = { [GRAPH_NAMES.loss]: null };
    this.addUpdateIo(feeds, fetches, learningRate);
    const result = await session.run(feeds, fetches);
    this.swapState();
    return Number(result[GRAPH_NAMES.loss]!.data[0]);
  }

  /**
   * The optimizer's inputs (learning rate, Adam's corrections for the next step, weights and slots) and its
   * outputs, written straight into the spare state.
   */
  private addUpdateIo(feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null>, learningRate: number): void {
    const { optimizer, current, spare } = this.ready();
    this.addStepScalars(feeds, learningRate);
    const slotNames = optimizerSlots(optimizer);
    Object.assign(feeds, this.weightFeeds(current));
    this.specs.forEach((s, i) => {
      const shape = this.onnxShapes[i]!;
      fetches[GRAPH_NAMES.weightOut(s.name)] = new ort.Tensor("float32", spare.weights[i]!, shape);
      slotNames.forEach((slot, k) => {
        feeds[GRAPH_NAMES.slot(slot, s.name)] = new ort.Tensor("float32", current.slots[k]![i]!, shape);
        fetches[GRAPH_NAMES.slotOut(slot, s.name)] = new ort.Tensor("float32", spare.slots[k]![i]!, shape);
      });
    });
  }

  /** {@link addUpdateIo} for the data-parallel update graph: flat vectors of all weights and slots. */
  private addFlatUpdateIo(feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null>, learningRate: number): void {
    const { optimizer, current, spare } = this.ready();
    this.addStepScalars(feeds, learningRate);
    const size = [current.flatWeights.length];
    feeds[GRAPH_NAMES.weight(FLAT)] = new ort.Tensor("float32", current.flatWeights, size);
    fetches[GRAPH_NAMES.weightOut(FLAT)] = new ort.Tensor("float32", spare.flatWeights, size);
    optimizerSlots(optimizer).forEach((slot, k) => {
      feeds[GRAPH_NAMES.slot(slot, FLAT)] = new ort.Tensor("float32", current.flatSlots[k]!, size);
      fetches[GRAPH_NAMES.slotOut(slot, FLAT)] = new ort.Tensor("float32", spare.flatSlots[k]!, size);
    });
  }

  /** The learning rate and, for Adam, the bias corrections of the coming step. */
  private addStepScalars(feeds: Record<string, ort.Tensor>, learningRate: number): void {
    const { optimizer } = this.ready();
    const step = this.step + 1;
    feeds[GRAPH_NAMES.learningRate] = new ort.Tensor("float32", Float32Array.of(learningRate), []);
    if (optimizer.kind === "adam") {
      feeds[GRAPH_NAMES.correction1] = new ort.Tensor("float32", Float32Array.of(1 / (1 - optimizer.beta1 ** step)), []);
      feeds[GRAPH_NAMES.correction2] = new ort.Tensor("float32", Float32Array.of(1 / (1 - optimizer.beta2 ** step)), []);
    }
  }

  /** ORT wrote the new weights and slots into `spare`: swap the two sets. */
  private swapState(): void {
    const { current, spare } = this.ready();
    this.current = spare;
    this.spare = current;
    this.step += 1;
  }

  /**
   * One step split over the replicas: the batch is cut into near-equal micro-batches (`microBatches`) that
   * the replicas share through one atomic counter (`shareWork`): each takes the next unclaimed micro-batch
   * and computes its mean loss's gradients, so a replica whose core the OS takes away leaves its remaining
   * micro-batches to the others instead of holding up the step. Replica 0 runs on this thread. The update graph then sums
   * the micro-batches' gradients, weighted by share, in micro-batch order; every replica runs the same
   * single-threaded graph, so the step is bit-identical whichever replica ran which micro-batch.
   */
  private async replicatedStep(batch: TrainingBatch, learningRate: number, dropout: boolean): Promise<number> {
    const { current } = this.ready();
    const parts = microBatches(batch.count, this.replicas);
    const counts = parts.map((part) => part.count);
    const outputs = [GRAPH_NAMES.loss, GRAPH_NAMES.flatGradient];
    const keyOf = (count: number): string => `gradients|${count}|${dropout}`;
    if (this.replicaThreads.length === 0) this.replicaThreads = Array.from({ length: this.replicas - 1 }, () => new ReplicaThread());
    // Every replica needs a session for each micro-batch size before any of them starts.
    const sizes = [...new Set(counts)];
    await Promise.all([
      ...sizes.map((count) => this.session("gradients", count, dropout)),
      ...this.replicaThreads.flatMap((thread, j) =>
        sizes.map(async (count) => {
          if (this.replicaKeys.has(`${j}|${keyOf(count)}`)) return;
          await thread.ensureSession(keyOf(count), await this.compile("gradients", count, dropout), this.sessionOptions(this.provider ?? "cpu", "gradients"));
          this.replicaKeys.add(`${j}|${keyOf(count)}`);
        }),
      ),
    ]);
    // The weights are views on one buffer, which a message clones once; a batch's views are copied out first.
    const plain = (tensors: Record<string, ort.Tensor>, copy = false): Record<string, PlainTensor> =>
      Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, { data: copy ? ownBuffer(t.data as Float32Array) : (t.data as Float32Array), dims: t.dims }]));
    const weightFeeds = this.weightFeeds(current);
    const itemFeeds = parts.map((part) => this.shardFeeds(this.shardOf(batch, part.start, part.count, dropout)));
    const work = {
      counter: new Int32Array(new SharedArrayBuffer(4)),
      common: plain(weightFeeds),
      items: itemFeeds.map((feeds, k) => ({ key: keyOf(counts[k]!), feeds: plain(feeds, true) })),
      outputs,
    };
    const results = await shareWork(
      work,
      this.replicaThreads,
      async (k) => plain(await (await this.session("gradients", counts[k]!, dropout)).run({ ...weightFeeds, ...itemFeeds[k]! }, outputs)),
      (message) => new OnnxEngineError(TrainerErrorCode.OnnxReplica, `training ${message}`),
    );
    const update = await this.session("update", parts.length, false);
    const feeds: Record<string, ort.Tensor> = {};
    const fetches: Record<string, ort.Tensor | null> = {};
    let loss = 0;
    counts.forEach((count, k) => {
      const result = results.get(k)!;
      const share = count / batch.count;
      loss += share * result[GRAPH_NAMES.loss]!.data[0]!;
      feeds[GRAPH_NAMES.replicaShare(k)] = new ort.Tensor("float32", Float32Array.of(share), []);
      const gradient = result[GRAPH_NAMES.flatGradient]!;
      feeds[GRAPH_NAMES.replicaGradient(k)] = new ort.Tensor("float32", gradient.data, gradient.dims);
    });
    this.addFlatUpdateIo(feeds, fetches, learningRate);
    await update.run(feeds, fetches);
    this.swapState();
    return loss;
  }

  /** Samples `start … start + count − 1` of a batch (views, no copies), dropout masks included. */
  private shardOf(batch: TrainingBatch, start: number, count: number, dropout: boolean): TrainingBatch {
    const per = (values: Float32Array): Float32Array => {
      const size = values.length / batch.count;
      return values.subarray(start * size, (start + count) * size);
    };
    const masks = dropout && batch.dropoutMasks ? Object.fromEntries(Object.entries(batch.dropoutMasks).map(([name, mask]) => [name, per(mask)])) : undefined;
    return {
      count,
      inputs: per(batch.inputs),
      ...(batch.amplitude ? { amplitude: per(batch.amplitude) } : {}),
      ...(batch.phase ? { phase: per(batch.phase) } : {}),
      ...(batch.offsets ? { offsets: per(batch.offsets) } : {}),
      ...(masks ? { dropoutMasks: masks } : {}),
    };
  }

  /** The sample feeds of a training batch or one micro-batch of it, dropout masks shaped for its graph. */
  private shardFeeds(shard: TrainingBatch): Record<string, ort.Tensor> {
    const { description } = this.ready();
    const feeds = this.sampleFeeds(shard);
    if (shard.dropoutMasks) {
      const shapes = layerShapes(description);
      for (const [name, mask] of Object.entries(shard.dropoutMasks)) feeds[GRAPH_NAMES.dropout(name)] = new ort.Tensor("float32", mask, [shard.count, ...shapes.get(name)!]);
    }
    return feeds;
  }

  async evaluate(batch: TrainingBatch): Promise<number> {
    const { current } = this.ready();
    this.checkBatch(batch, true);
    const session = await this.session("evaluate", -1, false);
    const result = await session.run(this.lossFeeds(batch, current), [GRAPH_NAMES.loss]);
    return Number(result[GRAPH_NAMES.loss]!.data[0]);
  }

  async predict(inputs: Float32Array, count: number): Promise<Float32Array> {
    const { description, current } = this.ready();
    const { height, width, channels } = description.input;
    this.checkBatch({ count, inputs }, false);
    const session = await this.session("predict", -1, false);
    const feeds = { [GRAPH_NAMES.input]: new ort.Tensor("float32", inputs, [count, height, width, channels]), ...this.weightFeeds(current) };
    const output = new Float32Array(count * height * width * 2 * description.heads.channels);
    await session.run(feeds, { [GRAPH_NAMES.output]: new ort.Tensor("float32", output, [count, height, width, 2 * description.heads.channels]) });
    return output;
  }

  private toDescriptionLayout(index: number, values: Float32Array): Float32Array {
    const spec = this.specs[index]!;
    return spec.name.endsWith("/kernel") ? oihwToHwio(values, spec.shape) : values.slice();
  }

  private fromDescriptionLayout(index: number, values: Float32Array, into: Float32Array): void {
    const spec = this.specs[index]!;
    into.set(spec.name.endsWith("/kernel") ? hwioToOihw(values, spec.shape) : values);
  }

  async getWeights(): Promise<NamedWeight[]> {
    const { current } = this.ready();
    return this.specs.map((s, i) => ({ name: s.name, shape: [...s.shape], values: this.toDescriptionLayout(i, current.weights[i]!) }));
  }

  async setWeights(weights: readonly NamedWeight[]): Promise<void> {
    const { description, current } = this.ready();
    const problems = checkWeights(description, weights, this.specs);
    if (problems.length > 0) throw new OnnxEngineError(TrainerErrorCode.OnnxWeights, `weights do not fit model ${JSON.stringify(description.name)}: ${problems.slice(0, 20).join("; ")}`);
    const byName = new Map(weights.map((w) => [w.name, w]));
    this.specs.forEach((s, i) => this.fromDescriptionLayout(i, byName.get(s.name)!.values, current.weights[i]!));
  }

  async getOptimizerState(): Promise<OptimizerState> {
    const { optimizer, current } = this.ready();
    const slots = optimizerSlots(optimizer).flatMap((slot, k) => this.specs.map((s, i) => ({ name: `${s.name}/${slot}`, shape: [...s.shape], values: this.toDescriptionLayout(i, current.slots[k]![i]!) })));
    return { step: this.step, slots };
  }

  async setOptimizerState(state: OptimizerState): Promise<void> {
    const { description, optimizer, current } = this.ready();
    const names = optimizerSlots(optimizer);
    const byName = new Map(state.slots.map((s) => [s.name, s]));
    const problems: string[] = [];
    if (!Number.isSafeInteger(state.step) || state.step < 0) problems.push(`step must be a non-negative integer, got ${String(state.step)}`);
    names.forEach((slot) =>
      this.specs.forEach((s) => {
        const v = byName.get(`${s.name}/${slot}`);
        if (!v) problems.push(`missing slot ${s.name}/${slot}`);
        else if (v.values.length !== s.shape.reduce((a, b) => a * b, 1)) problems.push(`slot ${s.name}/${slot} has ${v.values.length} values for shape [${s.shape.join(",")}]`);
      }),
    );
    if (problems.length > 0) throw new OnnxEngineError(TrainerErrorCode.OptimizerState, `optimizer state does not fit model ${JSON.stringify(description.name)}: ${problems.slice(0, 20).join("; ")}`);
    names.forEach((slot, k) => this.specs.forEach((s, i) => this.fromDescriptionLayout(i, byName.get(`${s.name}/${slot}`)!.values, current.slots[k]![i]!)));
    this.step = state.step;
  }

  private async releaseSessions(): Promise<void> {
    const threads = this.replicaThreads;
    this.replicaThreads = [];
    this.replicaKeys.clear();
    await Promise.all(threads.map((t) => t.close()));
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    for (const p of pending) await (await p.catch(() => undefined))?.release();
  }

  async dispose(): Promise<void> {
    await this.releaseSessions();
    this.current = undefined;
    this.spare = undefined;
  }
}

/**
 * What is wrong with a batch's `offsets` for the physics loss's overlap constraint: missing, the wrong
 * size, not finite, or farther from the canvas centre than its padding (the patch would leave the canvas).
 */
function offsetProblems(batch: TrainingBatch, channels: number, padding: number): string[] {
  const offsets = batch.offsets;
  if (!offsets) return ["offsets are missing (the physics loss with overlap needs each sample's channel offsets, [count, C, 2] pixels)"];
  if (offsets.length !== batch.count * channels * 2) return [`offsets has ${offsets.length} values, needs ${batch.count}×${channels}×2`];
  for (let i = 0; i < offsets.length; i++) {
    const v = offsets[i]!;
    if (!Number.isFinite(v) || Math.abs(v) > padding) {
      const sample = Math.floor(i / (2 * channels));
      const channel = Math.floor(i / 2) % channels;
      return [`offsets[${sample}, ${channel}, ${i % 2}] = ${v} is ${Number.isFinite(v) ? `beyond the canvas padding ${padding}` : "not finite"}; raise overlap.canvasPadding to at least the largest |offset| or drop the group`];
    }
  }
  return [];
}
