/** `@studykit/study`: the ptychography dose/overlap study — simulate, overlap, train, compare, report. */
export { PRESET_NAMES, parsePresetName } from "./presets.js";
export type { PresetName } from "./presets.js";
