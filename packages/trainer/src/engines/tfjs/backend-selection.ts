/**
 * TF.js back-end selection by priority: `@tensorflow/tfjs-node-gpu` (CUDA) → `@tensorflow/tfjs-node`
 * (libtensorflow on CPU) → `@tensorflow/tfjs-backend-wasm` (XNNPACK, with studykit's gradient kernels)
 * → pure-JS `cpu`. The first two are optional packages that are not installed by default (their install
 * scripts download libtensorflow); a GPU user installs them with `npm install @tensorflow/tfjs-node-gpu`.
 * Each failure above the chosen back end is recorded with its reason, and the selection lands in the
 * run identity's runtime fields and in the bundle.
 */
import * as tf from "@tensorflow/tfjs-core";
import { EngineError, TrainerErrorCode } from "../../errors.js";
import { availableParallelism } from "node:os";
import { registerConvGradientKernels } from "./internal/conv-gradients.js";
import { nativeConvKernelsRegistered } from "./internal/native-conv-kernels.js";

/** What a user may ask for (`--backend`, `STUDYKIT_BACKEND`, or an argument). */
export const BACKEND_CHOICES = ["auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu"] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
/** A concrete back end. */
export type BackendName = Exclude<BackendChoice, "auto">;

/** Priority order of `auto`. */
export const BACKEND_PRIORITY: readonly BackendName[] = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"];

/** The outcome of `selectBackend`. */
export interface BackendSelection {
  readonly requested: BackendChoice;
  /** Where the request came from. */
  readonly source: "argument" | "STUDYKIT_BACKEND" | "default";
  readonly backend: BackendName;
  /** TF.js's own name of the registered back end (`tensorflow`, `wasm`, `cpu`). */
  readonly tfjsBackend: string;
  readonly tfjsVersion: string;
  /** Compute threads the back end uses (at most; small ops may run on fewer). */
  readonly threads: number;
  /**
   * What runs the convolutions: `libtensorflow`, `tfjs-cpu`, and for `wasm` either `studykit-native`
   * (the addon's AVX2 kernels, up to two threads, when it is loaded) or `xnnpack` (tfjs-backend-wasm's
   * own, one thread). Recorded in identities: the two give different float sums.
   */
  readonly convolutions: string;
  /** Why each back end tried before the chosen one failed, in order. */
  readonly fallbacks: ReadonlyArray<{ readonly backend: BackendName; readonly reason: string }>;
}

/** Parses a back-end choice; `E_BACKEND_UNKNOWN` lists the valid names otherwise. */
export function parseBackendChoice(value: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new EngineError(TrainerErrorCode.BackendUnknown, `unknown back end ${JSON.stringify(value)}: use one of ${BACKEND_CHOICES.join(", ")}`);
}

/** Optional packages, by back end; imported by name at run time so that their absence is a normal outcome. */
const OPTIONAL_PACKAGES: Partial<Record<BackendName, string>> = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  tensorflow: "@tensorflow/tfjs-node",
};

let gradientsLoaded: Promise<void> | null = null;

/**
 * TF.js registers its op gradients only from `@tensorflow/tfjs-layers` (or the `@tensorflow/tfjs` union
 * package); tfjs-core's own `register_all_gradients` is not loadable from Node ESM (extension-less
 * imports). Loading tfjs-layers once registers every gradient into tfjs-core's global registry.
 */
export function ensureGradientsRegistered(): Promise<void> {
  gradientsLoaded ??= import("@tensorflow/tfjs-layers").then(() => undefined);
  return gradientsLoaded;
}

function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    // An absent optional package is the expected failure; say so without machine-specific paths
    // (the reason is recorded in bundles, which must not hold absolute paths).
    const missing = /Cannot find (?:package|module) '([^']+)'/.exec(error.message);
    if (missing) return `package ${missing[1]!.replace(/^.*node_modules\//, "")} is not installed`;
    const code = (error as { code?: unknown }).code;
    const first = error.message.split("\n")[0] ?? "";
    return typeof code === "string" ? `${code}: ${first}` : first;
  }
  return String(error);
}

async function activate(backend: BackendName): Promise<{ tfjsBackend: string; threads: number; convolutions: string }> {
  const optional = OPTIONAL_PACKAGES[backend];
  if (optional) {
    // A variable specifier keeps TypeScript and bundlers from resolving the optional package.
    const specifier: string = optional;
    await import(specifier);
    if (!(await tf.setBackend("tensorflow"))) throw new Error(`${optional} loaded but the "tensorflow" back end failed to initialise`);
    if (backend === "tensorflow-gpu") {
      const gpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
      if (gpu === false) throw new Error(`${optional} loaded but found no usable CUDA device`);
    }
    return { tfjsBackend: "tensorflow", threads: availableParallelism(), convolutions: "libtensorflow" };
  }
  if (backend === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    registerConvGradientKernels("wasm");
    if (!(await tf.setBackend("wasm"))) throw new Error("the wasm back end failed to initialise (its .wasm binaries could not be loaded)");
    // tfjs-backend-wasm disables its threaded build under Node (tensorflow/tfjs#3830): one thread, except
    // in the addon's convolutions, which split their work over up to two.
    const native = nativeConvKernelsRegistered();
    return { tfjsBackend: "wasm", threads: native ? Math.min(2, availableParallelism()) : 1, convolutions: native ? "studykit-native" : "xnnpack" };
  }
  await import("@tensorflow/tfjs-backend-cpu");
  if (!(await tf.setBackend("cpu"))) throw new Error("the cpu back end failed to initialise");
  return { tfjsBackend: "cpu", threads: 1, convolutions: "tfjs-cpu" };
}

/**
 * Activates a TF.js back end. `choice` defaults to `STUDYKIT_BACKEND`, then `auto`. `auto` tries
 * `tensorflow-gpu`, `tensorflow`, `wasm`, `cpu` in order and records why each earlier one failed; an
 * explicit choice that cannot start throws `E_BACKEND_UNAVAILABLE` with the reason and the fix.
 */
export async function selectBackend(choice?: BackendChoice | string): Promise<BackendSelection> {
  const fromEnv = process.env["STUDYKIT_BACKEND"];
  const source: BackendSelection["source"] = choice !== undefined ? "argument" : fromEnv ? "STUDYKIT_BACKEND" : "default";
  const requested = parseBackendChoice(choice ?? (fromEnv || "auto"));
  await ensureGradientsRegistered();
  const candidates = requested === "auto" ? BACKEND_PRIORITY : [requested];
  const fallbacks: Array<{ backend: BackendName; reason: string }> = [];
  for (const backend of candidates) {
    try {
      const { tfjsBackend, threads, convolutions } = await activate(backend);
      registerConvGradientKernels(tfjsBackend);
      return { requested, source, backend, tfjsBackend, tfjsVersion: tf.version_core, threads, convolutions, fallbacks };
    } catch (error) {
      fallbacks.push({ backend, reason: reasonOf(error) });
    }
  }
  const optional = OPTIONAL_PACKAGES[requested as BackendName];
  const fix = optional ? `install it with \`npm install ${optional}\` (needs internet for libtensorflow), or use --backend auto` : "use --backend auto";
  throw new EngineError(
    TrainerErrorCode.BackendUnavailable,
    `back end ${JSON.stringify(requested)} (from ${source}) is unavailable: ${fallbacks.map((f) => `${f.backend}: ${f.reason}`).join("; ")}; ${fix}`,
  );
}
