/** `probeExecutionProvider` on this machine's real ONNX Runtime. */
import { describe, expect, it } from "vitest";
import { probeExecutionProvider, providerUnavailableReason } from "./provider-check.js";

describe("probeExecutionProvider", () => {
  it("runs a session on the CPU provider", async () => {
    expect(await probeExecutionProvider("cpu")).toBeUndefined();
  });

  it("says why CUDA cannot run: the missing library, or the session that did not start", async () => {
    const missing = providerUnavailableReason("cuda");
    const reason = await probeExecutionProvider("cuda");
    if (missing !== undefined) expect(reason).toBe(missing);
    // With the library installed, either a session ran on the device or the reason names the failed start.
    else if (reason !== undefined) expect(reason).toMatch(/^a cuda session (does not start|computed)/);
  });
});
