/**
 * Which engine and back end the study's jobs train on, resolved once in the parent so that the choice is
 * recorded in every job's identity (a job trained on TF.js `wasm` is not silently "the same" as one
 * trained on ONNX Runtime).
 *
 * `auto` prefers ONNX Runtime (its CPU kernels train these models several times faster than TF.js `wasm`)
 * — on its CUDA provider when a probe session runs there, else on the CPU, recording the fallback — and
 * falls back to TF.js, whose own `auto` picks tfjs-node-gpu → tfjs-node → wasm → cpu.
 */
import { availableParallelism } from "node:os";
import type { JsonObject } from "@studykit/core";
import { BACKEND_CHOICES, onnxTrainingSetup, parseEngineName, probeExecutionProvider, selectBackend, type OnnxThreadLayout } from "@studykit/trainer";
import { RuntimeSelectionError, RuntimeSelectionErrorCode } from "./errors.js";

/** The resolved runtime. */
export interface ResolvedRuntime {
  readonly engine: "onnxruntime" | "tfjs";
  /** ONNX Runtime execution provider (`cpu`, `cuda`) or TF.js back end (`wasm`, `cpu`, …). */
  readonly backend: string;
  /**
   * What goes into every job's run identity: the engine and back end, the engine library's version, the
   * thread count and the ONNX Runtime graphs' layout or TF.js's convolution kernels, each of which changes
   * a job's bits. Two
   * machines whose CPUs give ORT different NCHWc blocks (AVX2: 8, AVX-512: 16) get different identities.
   */
  readonly identity: JsonObject;
  /** The ONNX Runtime thread layout every job uses (see {@link RuntimeOptions.jobsAtOnce}); absent: the engine's default. */
  readonly onnxThreads?: Required<OnnxThreadLayout>;
  /** Why each preferred option was passed over. */
  readonly fallbacks: readonly { readonly name: string; readonly reason: string }[];
}

const ORT_PROVIDERS = ["auto", "cpu", "cuda"];

async function onnxRuntimeLoads(): Promise<string | null> {
  try {
    await import("onnxruntime-node");
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The ONNX Runtime provider for `--backend`: `auto` is CUDA when a session really runs on it (see
 * `probeExecutionProvider`), else CPU with the reason in `fallbacks`; `cuda` that cannot run is an error
 * now (`E_ONNX_NO_PROVIDER`), not a failure in every job later.
 */
async function onnxProvider(backend: "auto" | "cpu" | "cuda", fallbacks: { name: string; reason: string }[]): Promise<"cpu" | "cuda"> {
  if (backend === "cpu") return "cpu";
  const problem = await probeExecutionProvider("cuda");
  if (problem === undefined) return "cuda";
  if (backend === "cuda") throw new RuntimeSelectionError(RuntimeSelectionErrorCode.OnnxNoProvider, `--backend cuda: ONNX Runtime's CUDA provider cannot run here (${problem}); use --backend cpu, or auto to fall back to the CPU`);
  fallbacks.push({ name: "onnxruntime/cuda", reason: problem });
  return "cpu";
}

/** Options of {@link resolveRuntime}. */
export interface RuntimeOptions {
  /**
   * Training jobs run at once on this machine (default 1). Above 1, ONNX Runtime on the CPU gives each job
   * one session of ⌊cores / jobs⌋ threads instead of its default 2 data-parallel replicas of 1 thread:
   * independent jobs need no per-step synchronisation (the quick preset's Phase E: 175 s with 2 jobs of 1
   * thread against 217 s one at a time, 2 cores). The layout changes a job's bits, so it is recorded in
   * every identity.
   */
  readonly jobsAtOnce?: number;
  /** Cores to share out (default `os.availableParallelism()`). */
  readonly cores?: number;
}

/** Resolves `--engine` / `--backend` (both default `auto`). */
export async function resolveRuntime(engine: string, backend: string, options: RuntimeOptions = {}): Promise<ResolvedRuntime> {
  const fallbacks: { name: string; reason: string }[] = [];
  const wanted = engine === "auto" ? "auto" : parseEngineName(engine);
  if (wanted === "auto" && !ORT_PROVIDERS.includes(backend) && !(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    // Checked before loading either engine, and named against both of them.
    const tfjs = BACKEND_CHOICES.filter((choice) => choice !== "auto");
    throw new RuntimeSelectionError(RuntimeSelectionErrorCode.BackendUnknown, `unknown back end ${JSON.stringify(backend)}: use auto, an ONNX Runtime execution provider (${ORT_PROVIDERS.filter((name) => name !== "auto").join(", ")}) or a TF.js back end (${tfjs.join(", ")})`);
  }
  if (wanted === "auto" || wanted === "onnxruntime") {
    const failure = await onnxRuntimeLoads();
    if (failure === null) {
      if (!ORT_PROVIDERS.includes(backend)) {
        if (wanted === "onnxruntime") {
          throw new RuntimeSelectionError(RuntimeSelectionErrorCode.BackendUnknown, `back end ${JSON.stringify(backend)} is not an ONNX Runtime execution provider: use one of ${ORT_PROVIDERS.join(", ")}`);
        }
        // `--backend wasm` (a TF.js back end) with `--engine auto` means TF.js.
        fallbacks.push({ name: "onnxruntime", reason: `back end ${backend} is a TF.js back end` });
      } else {
        const provider = await onnxProvider(backend as "auto" | "cpu" | "cuda", fallbacks);
        const jobsAtOnce = options.jobsAtOnce ?? 1;
        const onnxThreads = provider === "cpu" && jobsAtOnce > 1 ? { replicas: 1, intraOpNumThreads: Math.max(1, Math.floor((options.cores ?? availableParallelism()) / jobsAtOnce)) } : undefined;
        // The same options the study's jobs create their engines with (train() with this back end).
        const setup = await onnxTrainingSetup({ executionProviders: [provider], ...onnxThreads });
        // A fallback is part of what ran; its reason (a driver's message) is not, so it stays in `fallbacks`.
        const fellBack = backend === "auto" && provider === "cpu" ? { providerFallback: { from: "cuda", to: "cpu" } } : {};
        return { engine: "onnxruntime", backend: provider, identity: { ...setup, ...fellBack }, fallbacks, ...(onnxThreads ? { onnxThreads } : {}) };
      }
    } else if (wanted === "onnxruntime") {
      throw new RuntimeSelectionError(RuntimeSelectionErrorCode.EngineUnavailable, `ONNX Runtime does not load (${failure}): reinstall onnxruntime-node, or use --engine tfjs`);
    } else {
      fallbacks.push({ name: "onnxruntime", reason: failure });
    }
  }
  const selection = await selectBackend(backend);
  for (const entry of selection.fallbacks) fallbacks.push({ name: `tfjs/${entry.backend}`, reason: entry.reason });
  const identity = { engine: "tfjs", backend: selection.backend, tfjs: selection.tfjsVersion, threads: selection.threads, convolutions: selection.convolutions };
  return { engine: "tfjs", backend: selection.backend, identity, fallbacks };
}
