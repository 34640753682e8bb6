import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { allocateLargeBuffer, readFileRange, readFileRangeAsync } from "./index.js";
import { loadNativeBinding, withBinding } from "./internal/loader.js";
import type { NativeBinding } from "./internal/binding.js";
import { runPackageScript } from "../test/unprivileged-copy.js";

const native = loadNativeBinding().binding;
const implementations: [string, NativeBinding | null][] = [["fallback", null]];
if (native) implementations.push(["native", native]);

const directory = mkdtempSync(join(tmpdir(), "studykit-file-buffer-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

// Over 2 MiB, so native reads of most of it land in huge-page-backed memory.
const data = randomBytes((3 << 20) + 4099);
const dataPath = join(directory, "data.bin");
writeFileSync(dataPath, data);

function expectBytes(buffer: ArrayBuffer, offset: number, length: number): void {
  expect(buffer).toBeInstanceOf(ArrayBuffer);
  expect(buffer.byteLength).toBe(length);
  expect(Buffer.from(buffer).equals(readFileSync(dataPath).subarray(offset, offset + length))).toBe(true);
}

describe.each(implementations)("readFileRange (%s)", (_name, binding) => {
  const run = <T>(body: () => T): T => withBinding(binding, body);

  it("returns exactly the file's bytes for empty, unaligned, whole-file and huge-page-sized ranges", async () => {
    const cases: [number, number][] = [
      [0, 0],
      [data.length, 0],
      [0, data.length],
      [1, (2 << 20) + 3],
      [4093, 1],
      [7, 1 << 20],
    ];
    for (const [offset, length] of cases) {
      expectBytes(run(() => readFileRange(dataPath, offset, length)), offset, length);
      expectBytes(await run(() => readFileRangeAsync(dataPath, offset, length)), offset, length);
    }
  });

  it("matches fs.readFileSync at random offsets and lengths", () => {
    const range = fc.integer({ min: 0, max: data.length }).chain((offset) => fc.tuple(fc.constant(offset), fc.integer({ min: 0, max: data.length - offset })));
    fc.assert(
      fc.property(range, ([offset, length]) => {
        expectBytes(run(() => readFileRange(dataPath, offset, length)), offset, length);
      }),
      { numRuns: 40 },
    );
  });

  it("typed views of a large read see the file's values", () => {
    const buffer = run(() => readFileRange(dataPath, 64, 2 << 20));
    const floats = new Float64Array(buffer);
    const expected = new Float64Array(new Uint8Array(data.subarray(64, 64 + (2 << 20))).buffer);
    expect(floats[0]).toEqual(expected[0]);
    expect(floats[floats.length - 1]).toEqual(expected[expected.length - 1]);
  });

  it("missing files, directories and ranges past the end fail with typed I/O errors naming the file", async () => {
    const missing = join(directory, "missing.npz");
    expect(() => run(() => readFileRange(missing, 0, 1))).toThrow(expect.objectContaining({ code: "E_IO_NOT_FOUND", path: missing }));
    await expect(run(() => readFileRangeAsync(missing, 0, 1))).rejects.toMatchObject({ code: "E_IO_NOT_FOUND", path: missing });
    expect(() => run(() => readFileRange(directory, 0, 1))).toThrow(expect.objectContaining({ code: "E_IO_IS_DIRECTORY" }));
    await expect(run(() => readFileRangeAsync(directory, 0, 1))).rejects.toMatchObject({ code: "E_IO_IS_DIRECTORY" });
    const message = `cannot read bytes ${data.length - 1}..${data.length + 1} of ${dataPath}: the file holds only ${data.length} bytes; check the offset and length`;
    expect(() => run(() => readFileRange(dataPath, data.length - 1, 2))).toThrow(expect.objectContaining({ code: "E_IO", message }));
    await expect(run(() => readFileRangeAsync(dataPath, data.length - 1, 2))).rejects.toMatchObject({ code: "E_IO", message });
    expect(() => run(() => readFileRange(dataPath, -1, 2))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => run(() => readFileRange(dataPath, 0, 1.5))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
    expect(() => run(() => readFileRange("", 0, 1))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });

  it("an unreadable file fails with E_IO_PERMISSION", () => {
    const locked = join(directory, `locked-${_name}.bin`);
    writeFileSync(locked, "x");
    chmodSync(locked, 0o000);
    chmodSync(directory, 0o755);
    // In a child process (under an unprivileged uid when this one is root, since root reads anything).
    const child = runPackageScript(
      (entry) => `const m = await import(${JSON.stringify(entry)});
      const code = (f) => { try { f(); return "read"; } catch (e) { return e.code; } };
      let asyncCode; try { await m.readFileRangeAsync(${JSON.stringify(locked)}, 0, 1); asyncCode = "read"; } catch (e) { asyncCode = e.code; }
      console.log(JSON.stringify({ sync: code(() => m.readFileRange(${JSON.stringify(locked)}, 0, 1)), async: asyncCode, implementation: m.nativeStatus().implementation }));`,
      { ...process.env, STUDYKIT_NATIVE_DISABLE: binding ? "" : "1", STUDYKIT_REQUIRE_NATIVE: "" },
    );
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout.trim().split("\n").at(-1)!)).toEqual({ sync: "E_IO_PERMISSION", async: "E_IO_PERMISSION", implementation: binding ? "native" : "fallback" });
  });

  it("allocateLargeBuffer gives zero-filled, writable ArrayBuffers of any size", () => {
    for (const size of [0, 5, (2 << 20) + 1]) {
      const buffer = run(() => allocateLargeBuffer(size));
      expect(buffer.byteLength).toBe(size);
      const bytes = new Uint8Array(buffer);
      expect(bytes.every((byte) => byte === 0)).toBe(true);
      if (size > 0) {
        bytes[size - 1] = 7;
        expect(bytes[size - 1]).toBe(7);
      }
    }
    expect(() => run(() => allocateLargeBuffer(-1))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });

  it("large buffers dropped in a synchronous loop are reclaimed by the garbage collector as they go", () => {
    // Regression: buffers freed only by finalizers that Node runs from the event loop piled up (a sync
    // loop of 200 MB loads reached 8 GB). 48 × 64 MiB written in full must not keep them all resident.
    const start = process.memoryUsage().rss;
    let peak = start;
    for (let round = 0; round < 48; round++) {
      new Uint8Array(run(() => allocateLargeBuffer(64 << 20))).fill(1);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(peak - start).toBeLessThan(1.5 * 2 ** 30);
  });
});
