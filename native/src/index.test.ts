import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { nativeStatus, sha256, sha256Bytes } from "./index.js";
import { fallbackSha256, fallbackSha256Hex } from "./internal/fallback.js";
import { loadNativeBinding, localBuildPath, unavailableError } from "./internal/loader.js";
import { isCI } from "../../tools/test-dependencies.js";

const reference = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

const native = loadNativeBinding();
// CI requires the addon even where STUDYKIT_REQUIRE_NATIVE is not exported with CI.
const requireNative = process.env.STUDYKIT_REQUIRE_NATIVE === "1" || isCI();

describe("native addon loading", () => {
  it("loads the local build (required in CI)", () => {
    if (requireNative) expect(native.binding, native.attempts.map((attempt) => `${attempt.source} ${attempt.path}: ${attempt.error.message}`).join("; ")).not.toBeNull();
    if (native.binding) {
      expect(nativeStatus().implementation).toBe("native");
      expect(native.binding.version()).toBe("0.1.0");
    }
  });

  it("lists every attempt when nothing loads", () => {
    const outcome = loadNativeBinding({ STUDYKIT_NATIVE_PATH: "/nonexistent/studykit.node" });
    // The override fails; the local build may still load, but the failed override is recorded.
    expect(outcome.attempts[0]).toMatchObject({ source: "STUDYKIT_NATIVE_PATH", path: "/nonexistent/studykit.node" });
    const error = unavailableError([
      { source: "STUDYKIT_NATIVE_PATH", path: "/x.node", error: new Error("no file") },
      { source: "local-build", path: localBuildPath(), error: new Error("no file") },
    ]);
    expect(error.code).toBe("E_NATIVE_UNAVAILABLE");
    expect(error.message).toContain("/x.node");
    expect(error.message).toContain("npm run build");
    expect((error.cause as AggregateError).errors).toHaveLength(2);
  });

  it("refuses to fall back when STUDYKIT_REQUIRE_NATIVE=1 and the addon is missing", () => {
    // A fresh process whose override points nowhere and whose local build is hidden by a bogus platform path
    // cannot load the addon: it must fail loudly, with every attempt in the message.
    const entry = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const run = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `const m = await import(${JSON.stringify(entry)}); m.sha256(new Uint8Array(1));`],
      { env: { ...process.env, STUDYKIT_REQUIRE_NATIVE: "1", STUDYKIT_NATIVE_PATH: "/nonexistent/a.node", STUDYKIT_NATIVE_DISABLE: "1" }, encoding: "utf8" },
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("E_NATIVE_UNAVAILABLE");
    expect(run.stderr).toContain("/nonexistent/a.node");
  });

  it("falls back with a one-time warning when native is not required", () => {
    const entry = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const run = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `const m = await import(${JSON.stringify(entry)}); m.sha256(new Uint8Array(1)); console.log(m.sha256(new Uint8Array([97,98,99])), m.nativeStatus().implementation);`],
      { env: { ...process.env, STUDYKIT_REQUIRE_NATIVE: "", STUDYKIT_NATIVE_DISABLE: "1" }, encoding: "utf8" },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad fallback");
    expect(run.stderr.match(/STUDYKIT_NATIVE_FALLBACK/g)).toHaveLength(1);
  });
});

describe("sha256: addon and fallback agree with node:crypto", () => {
  const implementations: [string, (data: Uint8Array) => string][] = [
    ["fallback", (data) => fallbackSha256Hex(data)],
    ["public api", (data) => sha256(data)],
  ];
  if (native.binding) {
    const binding = native.binding;
    implementations.push(["native", (data) => binding.sha256Hex(data)]);
  }

  it.each(implementations)("%s: every length 0..300", (_name, hash) => {
    const data = randomBytes(300);
    for (let length = 0; length <= 300; length++) {
      const slice = data.subarray(0, length);
      expect(hash(slice)).toBe(reference(slice));
    }
  });

  it.each(implementations)("%s: around 64 KiB and 1 MiB boundaries", (_name, hash) => {
    for (const boundary of [64 * 1024, 1024 * 1024]) {
      const data = randomBytes(boundary + 1);
      for (const length of [boundary - 1, boundary, boundary + 1]) {
        const slice = data.subarray(0, length);
        expect(hash(slice)).toBe(reference(slice));
      }
    }
  });

  it("hashes views at unaligned offsets, typed arrays of any element size, and ArrayBuffers", () => {
    const backing = randomBytes(4096);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 3, 1001);
    expect(sha256(view)).toBe(reference(view));
    const floats = new Float64Array([1.5, -2, Number.MAX_VALUE]);
    expect(sha256(floats)).toBe(reference(new Uint8Array(floats.buffer)));
    expect(sha256(floats.buffer)).toBe(reference(new Uint8Array(floats.buffer)));
    expect(sha256Bytes(view).equals(fallbackSha256(view))).toBe(true);
  });

  it("rejects non-byte input with a coded error", () => {
    for (const bad of ["abc", 42, null, [1, 2]]) {
      expect(() => sha256(bad as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    }
    if (native.binding) {
      expect(() => native.binding!.sha256Hex(42 as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    }
  });
});
