/**
 * ONNX Runtime inference on exported studykit models: CPU by default, CUDA when onnxruntime-node's CUDA
 * provider is installed, with the provider actually used (and why each one before it failed) reported.
 */
import { StudykitError } from "@studykit/native";
import * as ort from "onnxruntime-node";
import type { ModelDescription, NamedWeight } from "../model-description.js";
import { providerUnavailableReason, spinningOption } from "./provider-check.js";
import { exportOnnx, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, readOnnxModelDescription } from "./onnx-export.js";

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
  /** Intra-op threads (default 2); fixed so results are reproducible across sessions. */
  readonly intraOpNumThreads?: number;
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
  readonly intraOpNumThreads: number;
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

/** Bad inference input or no usable provider. */
export class OnnxInferenceError extends StudykitError {}

function modelOf(source: OnnxModelSource): { bytes: Uint8Array; description: ModelDescription } {
  if (source instanceof Uint8Array) return { bytes: source, description: readOnnxModelDescription(source) };
  if (source.modelOnnx instanceof Uint8Array) return { bytes: source.modelOnnx, description: source.description ?? readOnnxModelDescription(source.modelOnnx) };
  if (source.description !== undefined && source.weights !== undefined) return { bytes: exportOnnx(source.description, source.weights), description: source.description };
  throw new OnnxInferenceError("E_ONNX_MODEL", "no model to run: pass model.onnx bytes, or a bundle with modelOnnx or with description and weights");
}

/**
 * Opens an inference session on ONNX Runtime. Providers are tried in order; a provider whose shared
 * library is missing (CUDA without `--onnxruntime-node-install=cuda12`) is recorded in `failedProviders`
 * and the next one is tried; `E_ONNX_NO_PROVIDER` if none starts.
 */
export async function createInferenceSession(source: OnnxModelSource, options: OnnxInferenceOptions = {}): Promise<OnnxInferenceSession> {
  const { bytes, description } = modelOf(source);
  const providers = options.executionProviders ?? ["cpu"];
  const threads = options.intraOpNumThreads ?? 2;
  const batchSize = options.batchSize ?? 32;
  if (!Number.isSafeInteger(threads) || threads < 1) throw new OnnxInferenceError("E_ONNX_OPTIONS", `intraOpNumThreads must be a positive integer, got ${String(threads)}`);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new OnnxInferenceError("E_ONNX_OPTIONS", `batchSize must be a positive integer, got ${String(batchSize)}`);
  const failed: ProviderAttempt[] = [];
  for (const provider of providers) {
    if (!(ONNX_EXECUTION_PROVIDERS as readonly string[]).includes(provider)) {
      throw new OnnxInferenceError("E_ONNX_OPTIONS", `unknown execution provider ${JSON.stringify(provider)}: use one of ${ONNX_EXECUTION_PROVIDERS.join(", ")}`);
    }
    const unavailable = providerUnavailableReason(provider);
    if (unavailable !== undefined) {
      failed.push({ provider, error: unavailable });
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: [provider],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: "all",
        logSeverityLevel: 3,
        ...spinningOption(options.intraOpSpinning),
      });
      return new Session(session, provider, failed, description, threads, batchSize);
    } catch (cause) {
      failed.push({ provider, error: (cause as Error).message.split("\n")[0] ?? String(cause) });
    }
  }
  throw new OnnxInferenceError(
    "E_ONNX_NO_PROVIDER",
    `no ONNX Runtime execution provider could start: ${failed.map((f) => `${f.provider}: ${f.error}`).join("; ")} (install onnxruntime-node's CUDA provider with \`npm install onnxruntime-node --onnxruntime-node-install=cuda12\`, or use "cpu")`,
  );
}

class Session implements OnnxInferenceSession {
  constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: OnnxExecutionProvider,
    readonly failedProviders: readonly ProviderAttempt[],
    readonly description: ModelDescription,
    readonly intraOpNumThreads: number,
    readonly batchSize: number,
  ) {}

  private get sampleSize(): number {
    const { height, width, channels } = this.description.input;
    return height * width * channels;
  }

  async predict(input: Float32Array, count: number): Promise<Float32Array> {
    const { height, width, channels } = this.description.input;
    if (!Number.isSafeInteger(count) || count < 0 || input.length !== count * this.sampleSize) {
      throw new OnnxInferenceError("E_ONNX_INPUT", `input has ${input.length} values, model ${JSON.stringify(this.description.name)} needs count × ${height}×${width}×${channels} = ${count} × ${this.sampleSize}`);
    }
    const outSize = height * width * 2 * this.description.heads.channels;
    const output = new Float32Array(count * outSize);
    for (let start = 0; start < count; start += this.batchSize) {
      const n = Math.min(this.batchSize, count - start);
      const x = new ort.Tensor("float32", input.subarray(start * this.sampleSize, (start + n) * this.sampleSize), [n, height, width, channels]);
      // Pre-allocated output: ORT writes straight into our result buffer, no copy.
      const y = new ort.Tensor("float32", output.subarray(start * outSize, (start + n) * outSize), [n, height, width, 2 * this.description.heads.channels]);
      await this.session.run({ [ONNX_INPUT_NAME]: x }, { [ONNX_OUTPUT_NAME]: y });
    }
    return output;
  }

  async *predictBatches(batches: AsyncIterable<{ readonly x: Float32Array; readonly count: number }> | Iterable<{ readonly x: Float32Array; readonly count: number }>): AsyncGenerator<Float32Array> {
    for await (const batch of batches) yield await this.predict(batch.x, batch.count);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
