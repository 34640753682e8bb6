/** Named study presets: `quick` (the README's main job, minutes on a laptop) and `full` (publishable). */
import { StudyPresetError } from "./errors.js";

export const PRESET_NAMES = ["quick", "full"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** Parses a preset name; `E_STUDY_PRESET` lists the valid ones otherwise. */
export function parsePresetName(value: string): PresetName {
  if ((PRESET_NAMES as readonly string[]).includes(value)) return value as PresetName;
  throw new StudyPresetError(`unknown preset ${JSON.stringify(value)}: use one of ${PRESET_NAMES.join(", ")}`);
}
