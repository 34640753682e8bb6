import { expect, it } from "vitest";
import { parseEngineName } from "./engine-name.js";

it("accepts known engines and rejects others with the valid list", () => {
  expect(parseEngineName("onnxruntime")).toBe("onnxruntime");
  expect(() => parseEngineName("torch")).toThrow(expect.objectContaining({ code: "E_ENGINE_UNKNOWN", message: expect.stringContaining("tfjs, onnxruntime") }));
});
