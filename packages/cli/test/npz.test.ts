/**
 * `studykit npz inspect|validate`, run as a real process against numpy-written fixtures from
 * `@studykit/data`'s corpus (expected values recorded by numpy in expected.json).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const fixtures = fileURLToPath(new URL("../../data/test/fixtures/", import.meta.url));
const corpus = JSON.parse(readFileSync(join(fixtures, "expected.json"), "utf8")) as {
  files: Record<string, { snapshot: string; array?: { dtype: string; shape: number[]; sha256: string }; arrays?: Record<string, { dtype: string; shape: number[]; sha256: string; fortranOrder: boolean; compressed: boolean }> }>;
};
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: fixtures, env: { ...process.env, STUDYKIT_DEBUG: "" } });

// Each test spawns the CLI, whose start-up takes seconds on a busy shared machine.
describe("studykit npz inspect", { timeout: 60_000 }, () => {
  it("prints the documented JSON for an npz, matching numpy's dtypes, shapes and content hashes", () => {
    const result = run("npz", "inspect", "savez-compressed.npz", "--json");
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { path: string; format: string; arrays: Record<string, unknown>[]; snapshotSha256: string };
    expect(Object.keys(report)).toEqual(["path", "format", "arrays", "snapshotSha256"]);
    expect(report.path).toBe("savez-compressed.npz");
    expect(report.format).toBe("npz");
    const expected = corpus.files["savez-compressed.npz"]!;
    expect(report.snapshotSha256).toBe(expected.snapshot);
    expect(report.arrays.map((array) => array.name).sort()).toEqual(Object.keys(expected.arrays!).sort());
    for (const array of report.arrays) {
      expect(Object.keys(array)).toEqual(["name", "canonicalName", "dtype", "shape", "fortranOrder", "compressed", "sha256"]);
      const numpy = expected.arrays![array.name as string]!;
      expect(array).toEqual({ name: array.name, canonicalName: array.name, dtype: numpy.dtype, shape: numpy.shape, fortranOrder: numpy.fortranOrder, compressed: true, sha256: numpy.sha256 });
    }
  });

  it("inspects an .npy with an empty name and the stored big-endian descr", () => {
    const result = run("npz", "inspect", "c16-be.npy", "--json");
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { format: string; arrays: { name: string; dtype: string; sha256: string; compressed: boolean }[]; snapshotSha256: string };
    expect(report.format).toBe("npy");
    expect(report.arrays).toHaveLength(1);
    expect(report.arrays[0]).toMatchObject({ name: "", dtype: ">c16", compressed: false, sha256: corpus.files["c16-be.npy"]!.array!.sha256 });
    expect(report.snapshotSha256).toBe(corpus.files["c16-be.npy"]!.snapshot);
  });

  it("shows canonical names for aliased keys and a readable table without --json", () => {
    const json = JSON.parse(run("npz", "inspect", "ptycho-alias.npz", "--json").stdout) as { arrays: { name: string; canonicalName: string }[] };
    expect(json.arrays.find((array) => array.name === "diffraction")!.canonicalName).toBe("diff3d");
    const text = run("npz", "inspect", "ptycho-alias.npz");
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/diffraction\s+diff3d\s+<f4\s+\(5, 4, 4\)/);
    expect(text.stdout).toContain(`snapshot  ${corpus.files["ptycho-alias.npz"]!.snapshot}`);
  });

  it.each([
    ["hostile-eval-header.npy", "E_NPY_HEADER"],
    ["hostile-huge-shape.npy", "E_NPY_SIZE"],
    ["hostile-object.npy", "E_NPY_OBJECT"],
    ["hostile-truncated.npz", "E_ZIP_CORRUPT"],
    ["hostile-bad-crc.npz", "E_ZIP_CRC"],
    ["hostile-bomb-ratio.npz", "E_ZIP_SIZE"],
    ["does-not-exist.npz", "E_DATA_IO"],
  ])("refuses %s with exit 2 and error[%s], no stack trace", (file, code) => {
    const result = run("npz", "inspect", file, "--json");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error\\[${code}\\]: .*${file.replace(".", "\\.")}`));
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe("");
  });
});

describe("studykit npz validate", { timeout: 60_000 }, () => {
  it("accepts a valid ptycho dataset and reports the alias warning-free mapping", () => {
    const result = run("npz", "validate", "ptycho-legacy.npz", "--schema", "ptycho", "--json");
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { valid: boolean; violations: unknown[]; warnings: string[] };
    expect(report.valid).toBe(true);
    expect(report.violations).toEqual([]);
    expect(report.warnings.join("\n")).toMatch(/legacy \(H, W, n\)/);
  });

  it("reports every violation, then exits 2 with the schema error code", () => {
    const result = run("npz", "validate", "ptycho-invalid.npz", "--schema", "ptycho", "--json");
    expect(result.status).toBe(2);
    const report = JSON.parse(result.stdout) as { valid: boolean; violations: { key: string; code: string }[] };
    expect(report.valid).toBe(false);
    expect(report.violations.map((violation) => violation.key).sort()).toEqual(["diff3d", "objectGuess", "probeGuess", "ycoords"]);
    expect(result.stderr).toMatch(/^error\[E_SCHEMA_MISSING_KEY\]: ptycho-invalid\.npz does not match schema 'ptycho': 4 problems/);
    const text = run("npz", "validate", "ptycho-invalid.npz", "--schema", "ptycho");
    expect(text.status).toBe(2);
    expect(text.stdout).toMatch(/probeGuess: required key 'probeGuess' is missing/);
  });

  it("refuses an unknown schema", () => {
    const result = run("npz", "validate", "ptycho-alias.npz", "--schema", "nope");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_SCHEMA_UNKNOWN\]: no schema named 'nope'/);
  });
});
