import { afterEach, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { nativeStatus } from "@studykit/native";
import { parseBackendChoice, selectBackend } from "./backend-selection.js";

const require = createRequire(import.meta.url);
const installed = (name: string) => {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
};

describe("selectBackend", () => {
  const saved = process.env["STUDYKIT_BACKEND"];
  afterEach(() => {
    if (saved === undefined) delete process.env["STUDYKIT_BACKEND"];
    else process.env["STUDYKIT_BACKEND"] = saved;
  });

  it.skipIf(installed("@tensorflow/tfjs-node") || installed("@tensorflow/tfjs-node-gpu"))(
    "auto falls through the absent tfjs-node packages to wasm and says why each failed",
    async () => {
      delete process.env["STUDYKIT_BACKEND"];
      const selection = await selectBackend();
      // With the addon loaded, wasm's convolutions run on its kernels, which split work over up to two threads.
      const native = nativeStatus().implementation === "native";
      expect(selection).toMatchObject({ requested: "auto", source: "default", backend: "wasm", tfjsBackend: "wasm", threads: native ? Math.min(2, availableParallelism()) : 1, convolutions: native ? "studykit-native" : "xnnpack" });
      expect(selection.fallbacks).toEqual([
        { backend: "tensorflow-gpu", reason: "package @tensorflow/tfjs-node-gpu is not installed" },
        { backend: "tensorflow", reason: "package @tensorflow/tfjs-node is not installed" },
      ]);
    },
  );

  it.skipIf(installed("@tensorflow/tfjs-node"))("refuses an explicit back end that cannot start, with the install command", async () => {
    await expect(selectBackend("tensorflow")).rejects.toMatchObject({
      code: "E_BACKEND_UNAVAILABLE",
      message: expect.stringContaining("npm install @tensorflow/tfjs-node"),
    });
  });

  it("reads STUDYKIT_BACKEND when no argument is given", async () => {
    process.env["STUDYKIT_BACKEND"] = "cpu";
    expect(await selectBackend()).toMatchObject({ requested: "cpu", source: "STUDYKIT_BACKEND", backend: "cpu", fallbacks: [] });
    expect(await selectBackend("wasm")).toMatchObject({ source: "argument", backend: "wasm" });
  });

  it("rejects unknown names with the valid list", () => {
    expect(() => parseBackendChoice("gpu")).toThrow(expect.objectContaining({ code: "E_BACKEND_UNKNOWN", message: expect.stringContaining("auto, tensorflow-gpu, tensorflow, wasm, cpu") }));
  });
});
