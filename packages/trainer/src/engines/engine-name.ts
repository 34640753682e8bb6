/** The training engines studykit offers, and parsing of user-given engine names. */
import { EngineError, TrainerErrorCode } from "../errors.js";

/** Engines a job can train on. */
export const ENGINE_NAMES = ["tfjs", "onnxruntime"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** Parses an engine name from a flag or config; `E_ENGINE_UNKNOWN` lists the valid names otherwise. */
export function parseEngineName(value: string): EngineName {
  if ((ENGINE_NAMES as readonly string[]).includes(value)) return value as EngineName;
  throw new EngineError(TrainerErrorCode.EngineUnknown, `unknown engine ${JSON.stringify(value)}: use one of ${ENGINE_NAMES.join(", ")}`);
}
