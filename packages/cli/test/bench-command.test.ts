import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "studykit-cli-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("studykit bench", () => {
  it("runs one quick suite and writes the JSON where --json says, the table and chart under --out", () => {
    const json = join(dir, "nested", "result.json");
    const out = join(dir, "out");
    const result = spawnSync(process.execPath, [bin, "bench", "--quick", "--suite", "hash", "--json", json, "--out", out], { encoding: "utf8", timeout: 60_000 });
    expect(result.status, result.stderr).toBe(0);
    const parsed = JSON.parse(readFileSync(json, "utf8")) as { quick: boolean; command: string; suites: Array<{ suite: string }> };
    expect(parsed.quick).toBe(true);
    expect(parsed.suites.map((s) => s.suite)).toEqual(["hash"]);
    expect(parsed.command).toBe(`studykit bench --suite hash --quick --json ${json}`);
    const files = readdirSync(out).sort();
    expect(files.some((f) => f.endsWith(".md"))).toBe(true);
    expect(files.some((f) => f.endsWith("-hash.svg"))).toBe(true);
    expect(result.stdout.trim()).toBe(join(out, files.find((f) => f.endsWith(".md"))!));
    expect(existsSync(join(out, "result.json"))).toBe(false);
  });

  it("refuses an unknown suite with error[E_BENCH_USAGE] and exit 2", () => {
    const result = spawnSync(process.execPath, [bin, "bench", "--suite", "gpu-magic"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('error[E_BENCH_USAGE]: unknown bench suite "gpu-magic": use one of hash, npz, train, infer, study\n');
  });
});
