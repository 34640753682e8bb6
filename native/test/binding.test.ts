/**
 * Tests of the addon's N-API boundary itself: panics and bad handles become coded JS errors (never an
 * abort), and the status report keeps working.
 */
import { describe, expect, it } from "vitest";
import { nativeStatus } from "../src/index.js";
import { loadNativeBinding } from "../src/internal/loader.js";
import type { NativeHandle } from "../src/internal/binding.js";
import { skipWithout } from "../../tools/test-dependencies.js";

const native = loadNativeBinding().binding;
const noNative = skipWithout({ name: "the native addon", available: native !== null, install: "build it with `npm run build` (needs Rust/cargo)" });

describe.skipIf(noNative)("native binding boundary", () => {
  const binding = native!;

  it("a Rust panic on the main thread becomes a JS error with code E_NATIVE_PANIC", () => {
    expect(() => binding.debugPanic(false)).toThrow(expect.objectContaining({ code: "E_NATIVE_PANIC", message: expect.stringContaining("debugPanic") }));
    // The process is still healthy afterwards.
    expect(binding.sha256Hex(new Uint8Array(0))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("a Rust panic on a worker thread rejects the promise with E_NATIVE_PANIC", async () => {
    await expect(binding.debugPanic(true) as Promise<unknown>).rejects.toMatchObject({ code: "E_NATIVE_PANIC" });
  });

  it("handles of the wrong kind, or plain values, are refused with E_NATIVE_ARGUMENT", () => {
    const token = binding.cancelTokenCreate();
    expect(() => binding.hasherUpdate(token, new Uint8Array(1))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => binding.hasherDigest({} as NativeHandle)).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => binding.mmapClose(token, new ArrayBuffer(8))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => binding.byteSwap(new Uint8Array(4), new Uint8Array(3), 2)).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    const shared = new Uint8Array(8);
    expect(() => binding.byteSwap(shared.subarray(0, 4), shared.subarray(2, 6), 2)).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => binding.fortranToC(new Uint8Array(4), new Uint8Array(4), [2, 2.5], 1)).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });

  it("mmapClose refuses an ArrayBuffer that is not the mapping", () => {
    const mapped = binding.mmapFile(new URL(import.meta.url).pathname);
    expect(() => binding.mmapClose(mapped.handle, new ArrayBuffer(mapped.buffer.byteLength))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    binding.mmapClose(mapped.handle, mapped.buffer);
    expect(mapped.buffer.byteLength).toBe(0);
  });

  it("nativeStatus reports the native implementation and its SHA-256 kernel", () => {
    const status = nativeStatus();
    expect(status.implementation).toBe("native");
    expect(["x86-sha-ni", "armv8-crypto", "portable"]).toContain(status.sha256Backend);
    expect(status.version).toBe(binding.version());
  });
});
