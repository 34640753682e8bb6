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
 * `choice` (default `"tfjs"`) as an engine; an engine instance is returned as it is. `backend` is the TF.js
 * back end, or with `"onnxruntime"` the execution provider (`auto` or none means `cpu`); a TF.js back end
 * named for the ONNX engine is refused (`E_BACKEND_UNKNOWN`).
 */
export async function createEngine(choice: EngineName | TrainingEngine | undefined, backend: BackendChoice | string | undefined): Promise<TrainingEngine> {
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
  return createOnnxTrainingEngine({ executionProviders: [provider as OnnxExecutionProvider] });
}
