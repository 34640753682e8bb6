import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { mmapFile } from "./index.js";
import { loadNativeBinding, withBinding } from "./internal/loader.js";
import type { NativeBinding } from "./internal/binding.js";

const native = loadNativeBinding().binding;
const implementations: [string, NativeBinding | null][] = [["fallback", null]];
if (native) implementations.push(["native", native]);

const directory = mkdtempSync(join(tmpdir(), "studykit-mmap-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe.each(implementations)("mmapFile (%s)", (_name, binding) => {
  const run = <T>(body: () => T): T => withBinding(binding, body);

  it("exposes the file's bytes; close() detaches every view and is idempotent", () => {
    const data = randomBytes(3 * 4096 + 17);
    const path = join(directory, `data-${_name}.bin`);
    writeFileSync(path, data);
    const mapped = run(() => mmapFile(path));
    expect(mapped.byteLength).toBe(data.length);
    expect(mapped.buffer).toBeInstanceOf(ArrayBuffer);
    const view = new Uint8Array(mapped.buffer);
    expect(Buffer.from(view).equals(data)).toBe(true);
    // A typed view at an offset, as a memmapped npy reader makes one.
    const floats = new Float64Array(mapped.buffer, 64, 100);
    expect(Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).equals(data.subarray(64, 864))).toBe(true);
    mapped.close();
    expect(mapped.buffer.byteLength).toBe(0);
    expect(view.length).toBe(0);
    expect(floats.length).toBe(0);
    mapped.close();
  });

  it("writes through the buffer never reach the file", () => {
    const data = randomBytes(5000);
    const path = join(directory, `write-${_name}.bin`);
    writeFileSync(path, data);
    const mapped = run(() => mmapFile(path));
    new Uint8Array(mapped.buffer).fill(0);
    mapped.close();
    expect(readFileSync(path).equals(data)).toBe(true);
  });

  it("maps zero-length files", () => {
    const path = join(directory, `empty-${_name}.bin`);
    writeFileSync(path, new Uint8Array(0));
    const mapped = run(() => mmapFile(path));
    expect(mapped.byteLength).toBe(0);
    expect(mapped.buffer.byteLength).toBe(0);
    mapped.close();
  });

  it("fails with typed errors naming the path", () => {
    const missing = join(directory, "missing.npy");
    expect(() => run(() => mmapFile(missing))).toThrow(expect.objectContaining({ code: "E_IO_NOT_FOUND", path: missing }));
    expect(() => run(() => mmapFile(directory))).toThrow(expect.objectContaining({ code: "E_IO_IS_DIRECTORY" }));
    expect(() => run(() => mmapFile("" as string))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT" }));
  });
});
