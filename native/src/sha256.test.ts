import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Sha256, sha256File, sha256FileSync, sha256Files, type HashProgress } from "./index.js";
import { loadNativeBinding, withBinding } from "./internal/loader.js";
import type { NativeBinding } from "./internal/binding.js";
import { runPackageScript } from "../test/unprivileged-copy.js";
import { skipWithout } from "../../tools/test-dependencies.js";

const reference = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const native = loadNativeBinding().binding;
const implementations: [string, NativeBinding | null][] = [["fallback", null]];
if (native) implementations.push(["native", native]);
const noNative = skipWithout({ name: "the native addon", available: native !== null, install: "build it with `npm run build` (needs Rust/cargo)" });

const directory = mkdtempSync(join(tmpdir(), "studykit-hash-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let fileCounter = 0;
function writeTemp(data: Uint8Array): string {
  const path = join(directory, `file-${fileCounter++}.bin`);
  writeFileSync(path, data);
  return path;
}

describe.each(implementations)("hashing (%s)", (_name, binding) => {
  const run = <T>(body: () => T): T => withBinding(binding, body);

  it("Sha256 streaming agrees with node:crypto for random splits", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(2000), { maxLength: 8 }), (data, cuts) => {
        const points = [...new Set(cuts.map((cut) => Math.min(cut, data.length)))].sort((a, b) => a - b);
        const hasher = run(() => new Sha256());
        let start = 0;
        for (const point of [...points, data.length]) {
          hasher.update(data.subarray(start, point));
          start = point;
        }
        expect(hasher.digest("hex")).toBe(reference(data));
      }),
    );
  });

  it("Sha256 across the 64 KiB and 1 MiB boundaries, copy(), and refuses reuse after digest", () => {
    const data = randomBytes(1024 * 1024 + 1);
    for (const length of [65535, 65536, 65537, 1048575, 1048576, 1048577]) {
      const hasher = run(() => new Sha256()).update(data.subarray(0, 1000));
      const fork = hasher.copy();
      hasher.update(data.subarray(1000, length));
      expect(hasher.digest().toString("hex")).toBe(reference(data.subarray(0, length)));
      expect(fork.update(new Uint8Array([1, 2, 3])).digest("hex")).toBe(reference(Buffer.concat([data.subarray(0, 1000), Buffer.from([1, 2, 3])])));
      expect(() => hasher.update(data)).toThrow(expect.objectContaining({ code: "E_HASH_FINALIZED" }));
      expect(() => hasher.digest()).toThrow(expect.objectContaining({ code: "E_HASH_FINALIZED" }));
    }
    expect(() => run(() => new Sha256()).update("text" as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });

  it("sha256Files agrees with node:crypto for every file length 0..300", async () => {
    const data = randomBytes(300);
    const paths = Array.from({ length: 301 }, (_, length) => writeTemp(data.subarray(0, length)));
    const results = await run(() => sha256Files(paths, { concurrency: 3 }));
    results.forEach((result, length) => {
      expect(result).toEqual({ ok: true, path: paths[length], bytes: length, sha256: reference(data.subarray(0, length)) });
    });
  });

  it("sha256File / sha256FileSync around the 64 KiB and 1 MiB boundaries, for several chunk sizes", async () => {
    const data = randomBytes(1024 * 1024 + 1);
    for (const length of [65535, 65536, 65537, 1048575, 1048576, 1048577]) {
      const path = writeTemp(data.subarray(0, length));
      const expected = reference(data.subarray(0, length));
      for (const chunkSize of [65536, 65536 * 3 + 1024, undefined]) {
        const result = await run(() => sha256File(path, { chunkSize }));
        expect(result).toEqual({ path, bytes: length, sha256: expected });
      }
      expect(run(() => sha256FileSync(path))).toEqual({ path, bytes: length, sha256: expected });
    }
  });

  it("sha256File reports monotonic progress on the main thread, ending at the file size", async () => {
    const data = randomBytes(70 * 1024 * 1024 + 5);
    const path = writeTemp(data);
    const seen: HashProgress[] = [];
    const result = await run(() => sha256File(path, { onProgress: (progress) => seen.push(progress) }));
    expect(result.sha256).toBe(reference(data));
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (let index = 1; index < seen.length; index++) expect(seen[index]!.bytesHashed).toBeGreaterThan(seen[index - 1]!.bytesHashed);
    expect(seen.at(-1)).toEqual({ path, bytesHashed: data.length, totalBytes: data.length });
  });

  it("sha256File is cancelled by an AbortSignal (before and during), with code E_CANCELLED", async () => {
    const path = writeTemp(randomBytes(8 * 1024 * 1024));
    const aborted = AbortSignal.abort(new Error("stop"));
    await expect(run(() => sha256File(path, { signal: aborted }))).rejects.toMatchObject({ code: "E_CANCELLED", name: "AbortError" });
    const controller = new AbortController();
    const pending = run(() => sha256File(path, { chunkSize: 65536, signal: controller.signal, onProgress: () => controller.abort() }));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "E_CANCELLED", name: "AbortError" });
    await expect(run(() => sha256Files([path, path], { signal: aborted }))).rejects.toMatchObject({ code: "E_CANCELLED" });
  });

  it("missing files and directories give typed errors naming the path; sha256Files still reports the rest", async () => {
    const good = writeTemp(new Uint8Array([1, 2, 3]));
    const missing = join(directory, "does-not-exist.bin");
    await expect(run(() => sha256File(missing))).rejects.toMatchObject({ code: "E_IO_NOT_FOUND", path: missing, message: expect.stringContaining(missing) });
    await expect(run(() => sha256File(directory))).rejects.toMatchObject({ code: "E_IO_IS_DIRECTORY", path: directory });
    expect(() => run(() => sha256FileSync(missing))).toThrow(expect.objectContaining({ code: "E_IO_NOT_FOUND" }));
    const results = await run(() => sha256Files([missing, good, directory]));
    expect(results[0]).toMatchObject({ ok: false, path: missing, error: { code: "E_IO_NOT_FOUND", path: missing } });
    expect(results[1]).toEqual({ ok: true, path: good, bytes: 3, sha256: reference(new Uint8Array([1, 2, 3])) });
    expect(results[2]).toMatchObject({ ok: false, error: { code: "E_IO_IS_DIRECTORY" } });
    await expect(run(() => sha256File(good, { chunkSize: 1000 }))).rejects.toMatchObject({ code: "E_NATIVE_ARGUMENT" });
    await expect(run(() => sha256Files([good], { concurrency: 0 }))).rejects.toMatchObject({ code: "E_NATIVE_ARGUMENT" });
  });

  it("an unreadable file gives E_IO_PERMISSION", () => {
    const path = writeTemp(new Uint8Array([1]));
    chmodSync(path, 0o000);
    chmodSync(directory, 0o755);
    const child = runPackageScript(
      (entry) => `const m = await import(${JSON.stringify(entry)});
      const r = await m.sha256Files([${JSON.stringify(path)}]);
      let single; try { await m.sha256File(${JSON.stringify(path)}); } catch (e) { single = e.code; }
      console.log(JSON.stringify({ files: r[0].error?.code, single, implementation: m.nativeStatus().implementation }));`,
      { ...process.env, STUDYKIT_NATIVE_DISABLE: binding ? "" : "1", STUDYKIT_REQUIRE_NATIVE: "" },
    );
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout.trim().split("\n").at(-1)!)).toEqual({ files: "E_IO_PERMISSION", single: "E_IO_PERMISSION", implementation: binding ? "native" : "fallback" });
  });
});

describe("sha256File keeps the main thread responsive", () => {
  // The contract: native hashing runs on a worker thread, so the main thread's event loop stays idle while a
  // large file is hashed. Measured as the event loop's utilisation (the share of the time it spent running
  // JS rather than waiting for events), which does not depend on how fast or busy the machine is: hashing
  // on the main thread would put it near 1, off-thread near 0. Stall times in ms are measured in the bench.
  it.skipIf(noNative)("the event loop is idle while a 256 MiB file is hashed natively", async () => {
    const path = writeTemp(randomBytes(16 * 1024 * 1024));
    // Grow the file cheaply to 256 MiB by repetition (the content does not matter here).
    const block = randomBytes(16 * 1024 * 1024);
    for (let index = 0; index < 15; index++) appendFileSync(path, block);
    const before = performance.eventLoopUtilization();
    const result = await withBinding(native, () => sha256File(path));
    const during = performance.eventLoopUtilization(before);
    expect(result.bytes).toBe(256 * 1024 * 1024);
    expect(result.sha256).toBe(createHash("sha256").update(readFileSync(path)).digest("hex"));
    expect(during.utilization).toBeLessThan(0.5);
  }, 60_000);
});
