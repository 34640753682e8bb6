/**
 * The ONNX Runtime training engine: implements `TrainingEngine` by compiling the model, its loss, the
 * reverse-mode gradients and the optimizer update into one ONNX graph, so each training step is a single
 * `session.run`. Weights and optimizer slots live in two sets of Float32Arrays that ORT writes into
 * directly (pre-allocated outputs) and that swap roles every step, so a step allocates no weight memory.
 */
import { StudykitError } from "@studykit/native";
import * as ort from "onnxruntime-node";
import { type ModelDescription, type NamedWeight, weightSpecs } from "../model-description.js";
import type { EngineHyperparameters, EngineInfo, OptimizerState, TrainingBatch, TrainingEngine } from "../training-engine.js";
import type { FilterGradientStrategy } from "../internal/onnx/autodiff.js";
import { checkWeights, hwioToOihw, oihwToHwio, onnxWeightShape } from "../internal/onnx/model-compiler.js";
import { compileTrainingGraph, GRAPH_NAMES, type GraphMode, type GraphOptimizer, optimizerSlots, type SgdMomentumOptimizer } from "../internal/onnx/training-graph.js";
import { ONNX_EXECUTION_PROVIDERS, type OnnxExecutionProvider, type ProviderAttempt } from "./inference-session.js";
import { nchwcBlockSize, providerUnavailableReason, spinningOption } from "./provider-check.js";

export type { FilterGradientStrategy, SgdMomentumOptimizer };

export interface OnnxTrainingEngineOptions {
  /** Providers to try in order (default `["cpu"]`). */
  readonly executionProviders?: readonly OnnxExecutionProvider[];
  /** Intra-op threads (default 2). Fixed per engine so that results are bit-identical across sessions. */
  readonly intraOpNumThreads?: number;
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

/** Misuse of the engine (calls before `init`, batches that do not fit the model). */
export class OnnxEngineError extends StudykitError {}

interface State {
  weights: Float32Array[];
  slots: Float32Array[][];
}

/** Intra-op threads of an engine created without `intraOpNumThreads`. */
const DEFAULT_THREADS = 2;

/**
 * What an ONNX Runtime training engine created with `options` computes with on this machine, known before
 * any model is compiled: record it in a run's identity, since each field changes the bits of the result.
 */
export interface OnnxTrainingSetup {
  readonly engine: "onnxruntime";
  /** The first configured execution provider whose library is installed (the one that will run). */
  readonly provider: OnnxExecutionProvider;
  readonly threads: number;
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
  const threads = checkedOptions(options);
  const providers = options.executionProviders ?? ["cpu"];
  const provider = providerThatRuns(providers);
  if (provider === undefined) {
    const reasons = providers.map((p) => `${p}: ${providerUnavailableReason(p) ?? "not installed"}`).join("; ");
    throw new OnnxEngineError("E_ONNX_NO_PROVIDER", `no ONNX Runtime execution provider can start: ${reasons} (use "cpu", or install onnxruntime-node's CUDA provider)`, { userFacing: true });
  }
  const block = await blockFor(provider, options.layout);
  return { engine: "onnxruntime", provider, threads, layout: block > 0 ? `nchwc(${block})` : "nchw", onnxruntime: ort.env.versions.common ?? "unknown" };
}

/** Checks the options both the engine and {@link onnxTrainingSetup} read; returns the thread count. */
function checkedOptions(options: OnnxTrainingEngineOptions): number {
  const threads = options.intraOpNumThreads ?? DEFAULT_THREADS;
  if (!Number.isSafeInteger(threads) || threads < 1) throw new OnnxEngineError("E_ONNX_OPTIONS", `intraOpNumThreads must be a positive integer, got ${String(threads)}`);
  if (options.layout !== undefined && options.layout !== "nchwc" && options.layout !== "nchw") throw new OnnxEngineError("E_ONNX_OPTIONS", `layout must be "nchwc" or "nchw", got ${JSON.stringify(options.layout)}`);
  return threads;
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
  private graphLayout: string | undefined;

  constructor(private readonly options: OnnxTrainingEngineOptions = {}) {
    this.threads = checkedOptions(options);
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
      ...(this.graphLayout !== undefined ? { layout: this.graphLayout } : {}),
      fallbacks: fallbacks.map((f) => ({ backend: f.provider, reason: f.error })),
    };
  }

  async init(description: ModelDescription, weights: readonly NamedWeight[], hyper: EngineHyperparameters): Promise<void> {
    const specs = weightSpecs(description);
    const problems = checkWeights(description, weights, specs);
    if (problems.length > 0) throw new OnnxEngineError("E_ONNX_WEIGHTS", `cannot initialise the ONNX Runtime engine for ${JSON.stringify(description.name)}: ${problems.slice(0, 20).join("; ")}`);
    await this.releaseSessions();
    this.description = description;
    this.hyper = hyper;
    this.optimizer = this.options.optimizer ?? hyper.optimizer;
    this.specs = specs;
    this.onnxShapes = specs.map(onnxWeightShape);
    const slotCount = optimizerSlots(this.optimizer).length;
    const fresh = (): State => ({
      weights: specs.map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1))),
      slots: Array.from({ length: slotCount }, () => specs.map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)))),
    });
    this.current = fresh();
    this.spare = fresh();
    this.step = 0;
    await this.setWeights(weights);
    // Start the provider now so that `info` reports it before the first step.
    await this.session("predict", -1, false);
  }

  private ready(): { description: ModelDescription; hyper: EngineHyperparameters; optimizer: GraphOptimizer; current: State; spare: State } {
    if (!this.description || !this.hyper || !this.optimizer || !this.current || !this.spare) throw new OnnxEngineError("E_ENGINE_NOT_INITIALISED", "the ONNX Runtime engine was used before init(description, weights, hyper): call init first");
    return { description: this.description, hyper: this.hyper, optimizer: this.optimizer, current: this.current, spare: this.spare };
  }

  private session(mode: GraphMode, batch: number, dropout: boolean): Promise<ort.InferenceSession> {
    const key = `${mode}|${batch}|${dropout}`;
    let pending = this.sessions.get(key);
    if (!pending) {
      pending = this.createSession(mode, batch, dropout);
      this.sessions.set(key, pending);
      pending.catch(() => this.sessions.delete(key));
    }
    return pending;
  }

  private async createSession(mode: GraphMode, batch: number, dropout: boolean): Promise<ort.InferenceSession> {
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
    for (const provider of providers) {
      if (!(ONNX_EXECUTION_PROVIDERS as readonly string[]).includes(provider)) throw new OnnxEngineError("E_ONNX_OPTIONS", `unknown execution provider ${JSON.stringify(provider)}: use one of ${ONNX_EXECUTION_PROVIDERS.join(", ")}`);
      const unavailable = providerUnavailableReason(provider);
      if (unavailable !== undefined) {
        this.failed.push({ provider, error: unavailable });
        continue;
      }
      try {
        const session = await ort.InferenceSession.create(graph.bytes, {
          executionProviders: [provider],
          intraOpNumThreads: this.threads,
          interOpNumThreads: 1,
          executionMode: "sequential",
          graphOptimizationLevel: this.options.graphOptimizationLevel ?? "all",
          logSeverityLevel: 3,
          ...spinningOption(this.options.intraOpSpinning),
        });
        this.provider = provider;
        return session;
      } catch (cause) {
        if (this.provider !== undefined) throw cause;
        this.failed.push({ provider, error: (cause as Error).message.split("\n")[0] ?? String(cause) });
      }
    }
    throw new OnnxEngineError("E_ONNX_NO_PROVIDER", `no ONNX Runtime execution provider could start: ${this.failed.map((f) => `${f.provider}: ${f.error}`).join("; ")} (use "cpu", or install onnxruntime-node's CUDA provider)`, { userFacing: true });
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
    }
    if (problems.length > 0) throw new OnnxEngineError("E_BATCH_SHAPE", `batch does not fit model ${JSON.stringify(description.name)}: ${problems.join("; ")}`);
  }

  private lossFeeds(batch: TrainingBatch, state: State): Record<string, ort.Tensor> {
    const { description } = this.ready();
    const { height, width, channels } = description.input;
    const feeds: Record<string, ort.Tensor> = { [GRAPH_NAMES.input]: new ort.Tensor("float32", batch.inputs, [batch.count, height, width, channels]) };
    const c = description.heads.channels;
    if (this.hyper!.loss.kind === "supervised") {
      feeds[GRAPH_NAMES.amplitude] = new ort.Tensor("float32", batch.amplitude!, [batch.count, height, width, c]);
      feeds[GRAPH_NAMES.phase] = new ort.Tensor("float32", batch.phase!, [batch.count, height, width, c]);
    }
    this.specs.forEach((s, i) => (feeds[GRAPH_NAMES.weight(s.name)] = new ort.Tensor("float32", state.weights[i]!, this.onnxShapes[i]!)));
    return feeds;
  }

  async trainStep(batch: TrainingBatch, learningRate: number): Promise<number> {
    const { description, optimizer, current, spare } = this.ready();
    this.checkBatch(batch, true);
    if (!Number.isFinite(learningRate) || learningRate < 0) throw new OnnxEngineError("E_ONNX_OPTIONS", `learning rate must be a finite non-negative number, got ${String(learningRate)}`);
    const dropoutLayers = description.layers.filter((l) => l.kind === "dropout");
    const dropout = batch.dropoutMasks !== undefined && dropoutLayers.length > 0;
    const session = await this.session("train", batch.count, dropout);
    const feeds = this.lossFeeds(batch, current);
    if (dropout) {
      for (const layer of dropoutLayers) {
        const mask = batch.dropoutMasks![layer.name];
        const input = session.inputNames.includes(GRAPH_NAMES.dropout(layer.name));
        if (!mask || !input) throw new OnnxEngineError("E_BATCH_SHAPE", `batch has no dropout mask for layer ${layer.name}: pass a mask for every dropout layer, or none`);
        const dims = session.inputMetadata.find((m) => m.name === GRAPH_NAMES.dropout(layer.name));
        const shape = dims && "shape" in dims ? (dims.shape as number[]) : [];
        feeds[GRAPH_NAMES.dropout(layer.name)] = new ort.Tensor("float32", mask, shape);
      }
    }
    const step = this.step + 1;
    feeds[GRAPH_NAMES.learningRate] = new ort.Tensor("float32", Float32Array.of(learningRate), []);
    const slotNames = optimizerSlots(optimizer);
    if (optimizer.kind === "adam") {
      feeds[GRAPH_NAMES.correction1] = new ort.Tensor("float32", Float32Array.of(1 / (1 - optimizer.beta1 ** step)), []);
      feeds[GRAPH_NAMES.correction2] = new ort.Tensor("float32", Float32Array.of(1 / (1 - optimizer.beta2 ** step)), []);
    }
    const fetches: Record<string, ort.Tensor | null> = { [GRAPH_NAMES.loss]: null };
    this.specs.forEach((s, i) => {
      const shape = this.onnxShapes[i]!;
      feeds[GRAPH_NAMES.weight(s.name)] = new ort.Tensor("float32", current.weights[i]!, shape);
      fetches[GRAPH_NAMES.weightOut(s.name)] = new ort.Tensor("float32", spare.weights[i]!, shape);
      slotNames.forEach((slot, k) => {
        feeds[GRAPH_NAMES.slot(slot, s.name)] = new ort.Tensor("float32", current.slots[k]![i]!, shape);
        fetches[GRAPH_NAMES.slotOut(slot, s.name)] = new ort.Tensor("float32", spare.slots[k]![i]!, shape);
      });
    });
    const result = await session.run(feeds, fetches);
    // ORT wrote the new weights and slots into `spare`: swap the two sets.
    this.current = spare;
    this.spare = current;
    this.step = step;
    return Number(result[GRAPH_NAMES.loss]!.data[0]);
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
    const feeds: Record<string, ort.Tensor> = { [GRAPH_NAMES.input]: new ort.Tensor("float32", inputs, [count, height, width, channels]) };
    this.specs.forEach((s, i) => (feeds[GRAPH_NAMES.weight(s.name)] = new ort.Tensor("float32", current.weights[i]!, this.onnxShapes[i]!)));
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
    if (problems.length > 0) throw new OnnxEngineError("E_ONNX_WEIGHTS", `weights do not fit model ${JSON.stringify(description.name)}: ${problems.slice(0, 20).join("; ")}`);
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
    if (problems.length > 0) throw new OnnxEngineError("E_OPTIMIZER_STATE", `optimizer state does not fit model ${JSON.stringify(description.name)}: ${problems.slice(0, 20).join("; ")}`);
    names.forEach((slot, k) => this.specs.forEach((s, i) => this.fromDescriptionLayout(i, byName.get(`${s.name}/${slot}`)!.values, current.slots[k]![i]!)));
    this.step = state.step;
  }

  private async releaseSessions(): Promise<void> {
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
