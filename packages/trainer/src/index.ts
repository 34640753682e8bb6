/**
 * `@studykit/trainer`: model descriptions, the TF.js and ONNX Runtime engines, the training loop and
 * checksummed bundles.
 */
export { ENGINE_NAMES, parseEngineName } from "./engine-name.js";
export type { EngineName } from "./engine-name.js";
