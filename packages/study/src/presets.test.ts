import { expect, it } from "vitest";
import { parsePresetName } from "./presets.js";

it("accepts quick/full and rejects others", () => {
  expect(parsePresetName("quick")).toBe("quick");
  expect(() => parsePresetName("huge")).toThrow(expect.objectContaining({ code: "E_STUDY_PRESET" }));
});
