/**
 * Export of a model description and its weights to an ONNX model (`model.onnx` in a bundle).
 *
 * The exported graph takes `input` `[batch, H, W, C]` (channels-last, like the description and the
 * dataset bridge) and returns `output` `[batch, H, W, 2C]`: amplitude channels then phase channels.
 * The description travels in the model's metadata (`studykit.model_description`), so a session built
 * from the bytes alone knows the model's shapes.
 */
import { OnnxExportError, TrainerErrorCode } from "../../errors.js";
import { type ModelDescription, type NamedWeight, weightSpecs } from "../../model-description.js";
import { GraphBuilder } from "./internal/graph-builder.js";
import { checkWeights, compileForward, hwioToOihw, onnxWeightShape } from "./internal/model-compiler.js";
import { decodeOnnxModel } from "./internal/onnx-proto.js";

/** Graph input and output names of exported models. */
export const ONNX_INPUT_NAME = "input";
export const ONNX_OUTPUT_NAME = "output";
/** Metadata key holding the model description JSON. */
export const ONNX_DESCRIPTION_METADATA_KEY = "studykit.model_description";

/**
 * Compiles `description` with `weights` (HWIO kernels, as `initialWeights` and the TF.js engine give them)
 * into ONNX protobuf bytes (opset 17, IR 8). Deterministic: the same inputs give the same bytes.
 */
export function exportOnnx(description: ModelDescription, weights: readonly NamedWeight[]): Uint8Array {
  const specs = weightSpecs(description);
  const problems = checkWeights(description, weights, specs);
  if (problems.length > 0) {
    throw new OnnxExportError(`cannot export model ${JSON.stringify(description.name)} to ONNX: ${problems.slice(0, 20).join("; ")} (pass the weights of this model, e.g. initialWeights(description) or a trained engine's getWeights())`);
  }
  const b = new GraphBuilder(description.name, "float32");
  const { height, width, channels } = description.input;
  const input = b.addInput(ONNX_INPUT_NAME, "float32", [-1, height, width, channels], ["batch"]);
  const weightValues = new Map<string, string>();
  for (const spec of specs) {
    const w = weights.find((x) => x.name === spec.name)!;
    const values = spec.name.endsWith("/kernel") ? hwioToOihw(w.values, w.shape) : Float32Array.from(w.values);
    weightValues.set(spec.name, b.addInitializer(spec.name, "float32", onnxWeightShape(spec), values));
  }
  const nchw = b.op("Transpose", [input], { perm: [0, 3, 1, 2] });
  const out = compileForward(b, description, nchw, { weights: weightValues, subpixelUpsampleConv: true });
  b.op("Transpose", [out], { perm: [0, 2, 3, 1] }, ONNX_OUTPUT_NAME);
  b.addOutput(ONNX_OUTPUT_NAME);
  return b.toModelBytes({
    docString: `studykit model ${description.name}: input [batch, ${height}, ${width}, ${channels}] NHWC → output [batch, ${height}, ${width}, ${2 * description.heads.channels}] (amplitude, phase)`,
    metadata: { [ONNX_DESCRIPTION_METADATA_KEY]: JSON.stringify(description) },
  });
}

/** Reads the model description stored in an exported model's metadata. */
export function readOnnxModelDescription(modelBytes: Uint8Array): ModelDescription {
  let model;
  try {
    model = decodeOnnxModel(modelBytes);
  } catch (cause) {
    throw new OnnxExportError(`not a readable ONNX model (${(cause as Error).message}): pass the bytes of a model.onnx written by exportOnnx`, { code: TrainerErrorCode.OnnxModel, cause });
  }
  const entry = model.metadataProps?.find((p) => p.key === ONNX_DESCRIPTION_METADATA_KEY);
  if (!entry) throw new OnnxExportError(`the ONNX model has no ${ONNX_DESCRIPTION_METADATA_KEY} metadata: it was not written by studykit's exportOnnx; re-export it`, { code: TrainerErrorCode.OnnxModel });
  return JSON.parse(entry.value) as ModelDescription;
}
