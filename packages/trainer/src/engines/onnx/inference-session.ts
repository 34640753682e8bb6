/**
 * ONNX Runtime inference on exported studykit models: CPU by default, CUDA when onnxruntime-node's CUDA
 * provider is installed, with the provider actually used (and why each one before it failed) reported.
 * On the CPU a batch is shared by data-parallel replicas of the session, as in the training engine.
 */
import * as ort from "onnxruntime-node";
import { OnnxInferenceError, TrainerErrorCode } from "../../errors.js";
import type { ModelDescription, NamedWeight } from "../../model-description.js";
import { providerUnavailableReason, spinningOption } from "./provider-check.js";
import { exportOnnx, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, readOnnxModelDescription } from "./onnx-export.js";
import { microBatches, ownBuffer, replicaLayout, type ReplicaSessionOptions, ReplicaThread, shareWork } from "./internal/replica-pool.js";

/** Execution providers studykit knows how to ask onnxruntime-node for, in the default priority order. */
export const ONNX_EXECUTION_PROVIDERS = ["cuda", "cpu"] as const;
export type OnnxExecutionProvider = (typeof ONNX_EXECUTION_PROVIDERS)[number];

/**
 * What a session can be built from: `model.onnx` bytes, or a bundle-like object (a loaded bundle fits):
 * its `modelOnnx` bytes when present, else its `description` and `weights`, compiled here.
 */
export type OnnxModelSource =
  | Uint8Array
  | { readonly modelOnnx?: Uint8Array | null; readonly description?: ModelDescription; readonly weights?: readonly NamedWeight[] };

export interface OnnxInferenceOptions {
  /** Providers to try, in order (default `["cpu"]`). The first that starts is used. */
  readonly executionProviders?: readonly OnnxExecutionProvider[];
  /**
   * Intra-op threads of each replica (default: 1 per replica with the CPU provider's default 2 replicas,
   * else 2); fixed so results are reproducible across sessions.
   */
  readonly intraOpNumThreads?: number;
  /**
   * Data-parallel replicas of the session. Default: 2 (of 1 thread each) when the providers are CPU only
   * and `intraOpNumThreads` is not given, else 1. Each batch is cut into micro-batches that the replicas
   * (one on the calling thread, the rest in worker threads) take one at a time. On the reference model this
   * ran batch-32 inference 8% faster than one session of 2 threads on an idle 2-core machine, and it keeps
   * a core taken away by the OS from stalling every operator of the other.
   */
  readonly replicas?: number;
  /** Whether ORT's intra-op threads spin while idle (ORT's default, true); see the training engine. */
  readonly intraOpSpinning?: boolean;
  /** Samples per `session.run` in `predict` (default 32). */
  readonly batchSize?: number;
}

export interface ProviderAttempt {
  readonly provider: OnnxExecutionProvider;
  readonly error: string;
}

/** A loaded model ready for batched prediction. */
export interface OnnxInferenceSession {
  /** The provider the session runs on. */
  readonly provider: OnnxExecutionProvider;
  /** Providers tried before it, with the reason each failed. */
  readonly failedProviders: readonly ProviderAttempt[];
  readonly description: ModelDescription;
  /** Intra-op threads of each replica. */
  readonly intraOpNumThreads: number;
  /** Data-parallel replicas that share each batch (1: one session). */
  readonly replicas: number;
  readonly batchSize: number;
  /**
   * Predicts `count` samples given channels-last (`[count, H, W, C]`, row-major); returns
   * `[count, H, W, 2C]` (amplitude channels, then phase channels), run in batches of `batchSize`.
   */
  predict(input: Float32Array, count: number): Promise<Float32Array>;
  /** Predicts every batch an iterable yields (e.g. the dataset bridge's batches), in order. */
  predictBatches(batches: AsyncIterable<{ readonly x: Float32Array; readonly count: number }> | Iterable<{ readonly x: Float32Array; readonly count: number }>): AsyncGenerator<Float32Array>;
  release(): Promise<void>;
}

function modelOf(source: OnnxModelSource): { bytes: Uint8Array; description: ModelDescription } {
  if (source instanceof Uint8Array) return { bytes: source, description: readOnnxModelDescription(source) };
  if (source.modelOnnx instanceof Uint8Array) return { bytes: source.modelOnnx, description: source.description ?? readOnnxModelDescription(source.modelOnnx) };
  if (source.description !== undefined && source.weights !== undefined) return { bytes: exportOnnx(source.description, source.weights), description: source.description };
  throw new OnnxInferenceError(TrainerErrorCode.OnnxModel, "no model to run: pass model.onnx bytes, or a bundle with modelOnnx or with description and weights");
}

/**
 * Opens an inference session on ONNX Runtime. Providers are tried in order; a provider whose shared
 * library is missing (CUDA whose provider library was never installed) is recorded in `failedProviders`
 * and the next one is tried; `E_ONNX_NO_PROVIDER` if none starts.
 */
export async function createInferenceSession(source: OnnxModelSource, options: OnnxInferenceOptions = {}): Promise<OnnxInferenceSession> {
  const { bytes, description } = modelOf(source);
  const providers = options.executionProviders ?? ["cpu"];
  const { replicas, threads } = replicaLayout(options, (message) => new OnnxInferenceError(TrainerErrorCode.OnnxOptions, message));
  const batchSize = options.batchSize ?? 32;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new OnnxInferenceError(TrainerErrorCode.OnnxOptions, `batchSize must be a positive integer, got ${String(batchSize)}`);
  const failed: ProviderAttempt[] = [];
  for (const provider of providers) {
    if (!(ONNX_EXECUTION_PROVIDERS as readonly string[]).includes(provider)) {
      throw new OnnxInferenceError(TrainerErrorCode.OnnxOptions, `unknown execution provider ${JSON.stringify(provider)}: use one of ${ONNX_EXECUTION_PROVIDERS.join(", ")}`);
    }
    const unavailable = providerUnavailableReason(provider);
    if (unavailable !== undefined) {
      failed.push({ provider, error: unavailable });
      continue;
    }
    const sessionOptions: ReplicaSessionOptions = {
      executionProviders: [provider],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      logSeverityLevel: 3,
      ...spinningOption(options.intraOpSpinning),
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions as ort.InferenceSession.SessionOptions);
    } catch (cause) {
      failed.push({ provider, error: (cause as Error).message.split("\n")[0] ?? String(cause) });
      continue;
    }
    const threadsOfReplicas = Array.from({ length: replicas - 1 }, () => new ReplicaThread());
    try {
      await Promise.all(threadsOfReplicas.map((thread) => thread.ensureSession(REPLICA_SESSION, bytes, sessionOptions)));
    } catch (cause) {
      await Promise.all(threadsOfReplicas.map((thread) => thread.close()));
      await session.release();
      throw new OnnxInferenceError(TrainerErrorCode.OnnxReplica, `a replica of the ${provider} session did not start: ${(cause as Error).message.split("\n")[0]} (pass replicas: 1 to run one session)`);
    }
    return new Session(session, provider, failed, description, threads, batchSize, threadsOfReplicas);
  }
  throw new OnnxInferenceError(
    TrainerErrorCode.OnnxNoProvider,
    `no ONNX Runtime execution provider could start: ${failed.map((f) => `${f.provider}: ${f.error}`).join("; ")} (install onnxruntime-node's CUDA provider with \`cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install\`, or use "cpu")`,
  );
}

/** The key of the one session each replica thread holds. */
const REPLICA_SESSION = "model";

class Session implements OnnxInferenceSession {
  constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: OnnxExecutionProvider,
    readonly failedProviders: readonly ProviderAttempt[],
    readonly description: ModelDescription,
    readonly intraOpNumThreads: number,
    readonly batchSize: number,
    /** Worker threads of replicas 1…R−1 (replica 0 is this thread's session). */
    private readonly replicaThreads: readonly ReplicaThread[],
  ) {}

  get replicas(): number {
    return this.replicaThreads.length + 1;
  }

  private get sampleSize(): number {
    const { height, width, channels } = this.description.input;
    return height * width * channels;
  }

  async predict(input: Float32Array, count: number): Promise<Float32Array> {
    const { height, width, channels } = this.description.input;
    if (!Number.isSafeInteger(count) || count < 0 || input.length !== count * this.sampleSize) {
      throw new OnnxInferenceError(TrainerErrorCode.OnnxInput, `input has ${input.length} values, model ${JSON.stringify(this.description.name)} needs count × ${height}×${width}×${channels} = ${count} × ${this.sampleSize}`);
    }
    const outSize = height * width * 2 * this.description.heads.channels;
    const output = new Float32Array(count * outSize);
    for (let start = 0; start < count; start += this.batchSize) {
      const n = Math.min(this.batchSize, count - start);
      const x = input.subarray(start * this.sampleSize, (start + n) * this.sampleSize);
      const y = output.subarray(start * outSize, (start + n) * outSize);
      if (this.replicaThreads.length > 0 && n > 1) await this.replicatedRun(x, y, n);
      else await this.run(x, y, n);
    }
    return output;
  }

  /** Predicts the `n` samples of `x` into `y` with this thread's session. */
  private async run(x: Float32Array, y: Float32Array, n: number): Promise<void> {
    const { height, width, channels } = this.description.input;
    const feeds = { [ONNX_INPUT_NAME]: new ort.Tensor("float32", x, [n, height, width, channels]) };
    // Pre-allocated output: ORT writes straight into our result buffer, no copy.
    await this.session.run(feeds, { [ONNX_OUTPUT_NAME]: new ort.Tensor("float32", y, [n, height, width, 2 * this.description.heads.channels]) });
  }

  /**
   * Predicts the `n` samples of `x` into `y` on all replicas: micro-batches taken one at a time from a
   * shared counter; this thread's are written in place, the others' copied in as they come back.
   */
  private async replicatedRun(x: Float32Array, y: Float32Array, n: number): Promise<void> {
    const { height, width, channels } = this.description.input;
    const inSize = this.sampleSize;
    const outSize = y.length / n;
    const parts = microBatches(n, this.replicas);
    const work = {
      counter: new Int32Array(new SharedArrayBuffer(4)),
      common: {},
      items: parts.map((part) => ({ key: REPLICA_SESSION, feeds: { [ONNX_INPUT_NAME]: { data: ownBuffer(x.subarray(part.start * inSize, (part.start + part.count) * inSize)), dims: [part.count, height, width, channels] } } })),
      outputs: [ONNX_OUTPUT_NAME],
    };
    const results = await shareWork(
      work,
      this.replicaThreads,
      async (k) => {
        const part = parts[k]!;
        await this.run(work.items[k]!.feeds[ONNX_INPUT_NAME]!.data, y.subarray(part.start * outSize, (part.start + part.count) * outSize), part.count);
        return {}; // already in place
      },
      (message) => new OnnxInferenceError(TrainerErrorCode.OnnxReplica, `inference ${message}`),
    );
    for (const [k, result] of results) {
      const remote = result[ONNX_OUTPUT_NAME];
      if (remote !== undefined) y.set(remote.data, parts[k]!.start * outSize);
    }
  }

  async *predictBatches(batches: AsyncIterable<{ readonly x: Float32Array; readonly count: number }> | Iterable<{ readonly x: Float32Array; readonly count: number }>): AsyncGenerator<Float32Array> {
    for await (const batch of batches) yield await this.predict(batch.x, batch.count);
  }

  async release(): Promise<void> {
    await Promise.all(this.replicaThreads.map((thread) => thread.close()));
    await this.session.release();
  }
}
