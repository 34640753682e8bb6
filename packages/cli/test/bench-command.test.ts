import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
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

  it("exits 1 with error[E_BENCH_CONTENDER] naming a peer that failed, after writing the results", () => {
    // A sha256sum that is installed but broken (it exits 1, as a corrupt install would): its rows are
    // "failed", which the run must not pass as it passes an absent peer.
    const fakeBin = join(dir, "broken-sha256sum");
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, "sha256sum"), "#!/bin/sh\necho 'sha256sum: broken on purpose' >&2\nexit 1\n");
    chmodSync(join(fakeBin, "sha256sum"), 0o755);
    const json = join(dir, "broken.json");
    const env = { ...process.env, PATH: `${fakeBin}${delimiter}${process.env.PATH ?? ""}`, STUDYKIT_DEBUG: "" };
    const result = spawnSync(process.execPath, [bin, "bench", "--quick", "--suite", "hash", "--json", json, "--out", join(dir, "broken-out")], { encoding: "utf8", timeout: 60_000, env });
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^error\[E_BENCH_CONTENDER\]: \d+ problem\(s\) in this run:\n {2}hash\/[^\n]*\/sha256sum[^\n]* failed: [^\n]*broken on purpose/m);
    const written = JSON.parse(readFileSync(json, "utf8")) as { suites: Array<{ groups: Array<{ contenders: Array<{ id: string; status: string }> }> }> };
    const sha256sumRows = written.suites[0]!.groups.flatMap((group) => group.contenders).filter((contender) => contender.id.startsWith("sha256sum"));
    expect(sha256sumRows.length).toBeGreaterThan(0);
    expect(sha256sumRows.every((row) => row.status === "failed")).toBe(true);
  });

  it("runs the whole bench K times with --runs K and records every run", () => {
    const json = join(dir, "runs.json");
    const result = spawnSync(process.execPath, [bin, "bench", "--quick", "--suite", "hash", "--runs", "2", "--json", json, "--out", join(dir, "runs-out")], { encoding: "utf8", timeout: 120_000 });
    expect(result.status, result.stderr).toBe(0);
    const parsed = JSON.parse(readFileSync(json, "utf8")) as { runs: number; command: string; perRun: unknown[][]; code: { commit: string | null } };
    expect(parsed.runs).toBe(2);
    expect(parsed.perRun).toHaveLength(2);
    expect(parsed.command).toBe(`studykit bench --suite hash --quick --runs 2 --json ${json}`);
    expect(parsed.code.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it("refuses --runs that is not a whole number from 1 to 20 with error[E_BENCH_USAGE] and exit 2", () => {
    const result = spawnSync(process.execPath, [bin, "bench", "--quick", "--suite", "hash", "--runs", "many"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('error[E_BENCH_USAGE]: --runs must be a whole number from 1 to 20, got "many"\n');
  });

  it("refuses an unknown suite with error[E_BENCH_USAGE] and exit 2", () => {
    const result = spawnSync(process.execPath, [bin, "bench", "--suite", "gpu-magic"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('error[E_BENCH_USAGE]: unknown bench suite "gpu-magic": use one of hash, npz, train, infer, study, fft, epie, pinn, queue\n');
  });
});
