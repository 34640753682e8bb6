/**
 * The loader keeps each failed attempt's Error as thrown (class, code, stack), and the error it throws
 * when native is required carries them all as the causes of one AggregateError. Real files on disk: a
 * missing path, a file that is not an addon, and CommonJS modules standing in for addons built from
 * other sources (one missing functions, one of another version).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BINDING_FUNCTIONS } from "./binding.js";
import { loadNativeBinding, unavailableError } from "./loader.js";

const directory = mkdtempSync(join(tmpdir(), "studykit-loader-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function attemptWith(path: string) {
  const outcome = loadNativeBinding({ STUDYKIT_NATIVE_PATH: path, STUDYKIT_NATIVE_DISABLE: "1" });
  expect(outcome.binding).toBeNull();
  expect(outcome.attempts).toHaveLength(1);
  expect(outcome.attempts[0]).toMatchObject({ source: "STUDYKIT_NATIVE_PATH", path });
  return outcome.attempts[0]!;
}

describe("native loader: failed attempts keep their Error objects", () => {
  it("a missing file is an IoError with E_IO_NOT_FOUND and a stack", () => {
    const path = join(directory, "missing.node");
    const { error } = attemptWith(path);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: "IoError", code: "E_IO_NOT_FOUND", path, message: expect.stringContaining(path) });
    expect(error.stack).toContain("tryLoad");
  });

  it("a file that is not an addon keeps Node's dlopen error and its code", () => {
    const path = join(directory, "garbage.node");
    writeFileSync(path, "this is not a shared library");
    const { error } = attemptWith(path);
    expect(error).toMatchObject({ code: "ERR_DLOPEN_FAILED" });
    expect(error.stack).toBeTypeOf("string");
  });

  it("an addon missing a function, or of another version, is E_NATIVE_MISMATCH naming the path", () => {
    const partial = join(directory, "partial.cjs");
    writeFileSync(partial, 'module.exports = { version: () => "0.1.0" };\n');
    expect(attemptWith(partial).error).toMatchObject({ name: "NativeError", code: "E_NATIVE_MISMATCH", message: expect.stringMatching(/partial\.cjs does not export nativeInfo\(\)/) });

    const stale = join(directory, "stale.cjs");
    const functions = BINDING_FUNCTIONS.map((name) => `${JSON.stringify(name)}: () => "9.9.9"`).join(", ");
    writeFileSync(stale, `module.exports = { ${functions} };\n`);
    expect(attemptWith(stale).error).toMatchObject({ code: "E_NATIVE_MISMATCH", message: expect.stringContaining("version 9.9.9") });
  });

  it("the error for a required addon holds every attempt's Error, codes intact, as its causes", () => {
    const garbage = join(directory, "also-garbage.node");
    writeFileSync(garbage, "nope");
    const attempts = [attemptWith(join(directory, "absent.node")), attemptWith(garbage)];
    const error = unavailableError(attempts);
    expect(error.code).toBe("E_NATIVE_UNAVAILABLE");
    expect(error.cause).toBeInstanceOf(AggregateError);
    const causes = (error.cause as AggregateError).errors as Error[];
    expect(causes).toEqual([attempts[0]!.error, attempts[1]!.error]);
    expect(causes.map((cause) => (cause as Error & { code?: string }).code)).toEqual(["E_IO_NOT_FOUND", "ERR_DLOPEN_FAILED"]);
    expect(causes[0]).toBe(attempts[0]!.error);
    expect(error.message).toContain(join(directory, "absent.node"));
  });
});
