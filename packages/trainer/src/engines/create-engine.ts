/**
 * The training engine for an engine name and a back end: the TF.js engine on a TF.js back end, or the
 * ONNX Runtime engine on an execution provider. The ONNX engine is loaded on demand, so TF.js-only users
 * never load onnxruntime-node.
 */
import { TrainerErrorCode, TrainingError } from "../errors.js";
import { parseEngineName, type EngineName } from "./engine-name.js";
import type { OnnxExecutionProvider } from "./onnx/inference-session.js";
import type { BackendChoice } from "./tfjs/backend-selection.js";
import { createTfjsEngine } from "./tfjs/tfjs-engine.js";
import type { TrainingEngine } from "./training-engine.js";

/**
 * ONNX Runtime's thread layout for a training engine: data-parallel `replicas` of `intraOpNumThreads`
 * each (the engine's defaults when absent: 2 replicas of 1 thread on the CPU). The layout changes a
 * step's summation order, so it is part of what ran.
 */
export interface OnnxThreadLayout {
  readonly replicas?: number;
  readonly intraOpNumThreads?: number;
}

/**
 * `choice` (default `"tfjs"`) as an engine; an engine instance is returned as it is. `backend` is the TF.js
 * back end, or with `"onnxruntime"` the execution provider (`auto` or none means `cpu`); a TF.js back end
 * named for the ONNX engine is refused (`E_BACKEND_UNKNOWN`). `onnxThreads` sets the ONNX engine's thread
 * layout (TF.js ignores it).
 */
export async function createEngine(choice: EngineName | TrainingEngine | undefined, backend: BackendChoice | string | undefined, onnxThreads?: OnnxThreadLayout): Promise<TrainingEngine> {
  const engine = choice ?? "tfjs";
  if (typeof engine !== "string") return engine;
  const name = parseEngineName(engine);
  if (name === "tfjs") return createTfjsEngine(backend);
  const { createOnnxTrainingEngine } = await import("./onnx/onnx-training-engine.js");
  const { ONNX_EXECUTION_PROVIDERS } = await import("./onnx/inference-session.js");
  const provider = backend === undefined || backend === "auto" ? "cpu" : backend;
  if (!(ONNX_EXECUTION_PROVIDERS as readonly string[]).includes(provider)) {
    throw new TrainingError(TrainerErrorCode.BackendUnknown, `backend ${JSON.stringify(backend)} is not an ONNX Runtime execution provider: use one of ${ONNX_EXECUTION_PROVIDERS.join(", ")} with engine "onnxruntime", or engine "tfjs" for TF.js back ends`);
  }
  return createOnnxTrainingEngine({ executionProviders: [provider as OnnxExecutionProvider], ...onnxThreads });
}
