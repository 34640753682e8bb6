/**
 * `studykit runs compare A B` on real tiny studies: two runs of the same configuration are comparable with
 * every metric delta 0; a run with another dose is refused in strict mode (exit 2, `E_RUNS_INCOMPARABLE`
 * naming `config.doses`), reported with warnings and its deltas in warn mode, and silently in off mode.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_STUDY_CONFIG } from "../../study/test/tiny-study-config.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-compare-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" }, timeout: 240_000 });

const tiny = TINY_STUDY_CONFIG;

function study(name: string, config: object): string {
  const file = path.join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const out = path.join(work, name);
  const result = run("study", "run", "--config", file, "--out", out);
  expect(result.status, result.stderr).toBe(0);
  return out;
}

interface Comparison {
  comparability: { comparable: boolean; level: string; reasons: string[] };
  warnings: string[];
  differences: Record<string, string[]>;
  metrics: { deltas: { section: string; id: string; metric: string; a: number | null; b: number | null; delta: number | null }[]; onlyInA: string[]; onlyInB: string[] } | null;
}

describe("studykit runs compare", { timeout: 240_000 }, () => {
  let a: string;
  let again: string;
  let otherDose: string;
  beforeAll(() => {
    a = study("a", tiny);
    again = study("again", tiny);
    otherDose = study("other-dose", { ...tiny, doses: [2000] });
  }, 240_000);

  it("finds two runs of one configuration comparable, with every metric delta 0 (jobs and iterative)", () => {
    const result = run("runs", "compare", a, again, "--mode", "warn", "--json");
    expect(result.status, result.stderr).toBe(0);
    const comparison = JSON.parse(result.stdout) as Comparison;
    expect(comparison.comparability.comparable).toBe(true);
    // The only caveat allowed: a checkout with uncommitted changes cannot prove equal code.
    for (const reason of comparison.comparability.reasons) expect(reason).toMatch(/^codeVersion\.git\.dirty/);
    expect(comparison.differences["config"]).toEqual([]);
    expect(comparison.differences["datasetSnapshot"]).toEqual([]);
    expect(comparison.differences["runtime"]).toEqual([]);
    const deltas = comparison.metrics!.deltas;
    expect(new Set(deltas.map((delta) => delta.section))).toEqual(new Set(["jobs", "iterative"]));
    // 3 jobs (supervised baseline, pinn baseline and dense) or more, plus 2 test-split reconstructions, 10 metrics each.
    expect(deltas.length).toBeGreaterThanOrEqual(5 * 10);
    expect(new Set(deltas.map((delta) => delta.metric))).toEqual(new Set(["amplitudeMae", "phaseMae", "amplitudePsnr", "phasePsnr", "amplitudeSsim", "amplitudeMsSsim", "phaseSsim", "phaseMsSsim", "frcHalfBitResolutionPx", "frc50ResolutionPx"]));
    for (const delta of deltas) {
      expect(delta.a).toBe(delta.b);
      // An FRC not reached in both runs has no delta (null), never a number.
      expect(delta.delta).toBe(delta.a === null ? null : 0);
    }
    const text = run("runs", "compare", a, again, "--mode", "warn");
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/config: same\n/);
    expect(text.stdout).toMatch(/iterative: dose_1000\/dense\/test\n\s+amplitudeMae .*Δ \+0\.0000/);
  });

  it("strict mode accepts the same configuration unless the code was dirty, and then names only that", () => {
    const dirty = (JSON.parse(readFileSync(path.join(a, "study_manifest.json"), "utf8")) as { identity: { fields: { codeVersion: { git: { dirty: boolean } | null } } } }).identity.fields.codeVersion.git?.dirty ?? false;
    const result = run("runs", "compare", a, again);
    if (dirty) {
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/^error\[E_RUNS_INCOMPARABLE\]/);
      expect(result.stderr.split("\n").filter((line) => line.startsWith("  - "))).toEqual([expect.stringMatching(/^ {2}- codeVersion\.git\.dirty/)]);
    } else {
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/comparability \(strict\): stable/);
    }
  });

  it("strict mode refuses a run with another dose, naming the differing field (exit 2)", () => {
    const result = run("runs", "compare", a, otherDose, "--mode", "strict");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_RUNS_INCOMPARABLE\]: runs run-[0-9a-f]{32} and run-[0-9a-f]{32} are not comparable/);
    expect(result.stderr).toContain("config.doses[0] differs: 1000 vs 2000");
    expect(result.stderr).toContain("datasetSnapshotHash differs");
    expect(result.stdout).toBe("");
  });

  it("warn mode prints the reasons as warnings and goes on; off mode goes on silently", () => {
    const warned = run("runs", "compare", a, otherDose, "--mode", "warn");
    expect(warned.status, warned.stderr).toBe(0);
    expect(warned.stderr).toContain("warning: config.doses[0] differs: 1000 vs 2000");
    expect(warned.stdout).toMatch(/NOT comparable/);
    expect(warned.stdout).toMatch(/config: differs\n\s+config\.doses\[0\] differs: 1000 vs 2000/);
    // Different doses give different job ids: nothing to subtract, each run's jobs listed on its own.
    expect(warned.stdout).toContain("only in A: jobs: dose_1000/baseline/gs1");
    expect(warned.stdout).toContain("only in B: jobs: dose_2000/baseline/gs1");
    const silent = run("runs", "compare", a, otherDose, "--mode", "off");
    expect(silent.status, silent.stderr).toBe(0);
    expect(silent.stderr).toBe("");
  });

  it("rejects a bad mode and a path that holds no run (exit 2)", () => {
    const badMode = run("runs", "compare", a, again, "--mode", "lenient");
    expect(badMode.status).toBe(2);
    expect(badMode.stderr).toMatch(/--mode must be strict, warn or off/);
    const notRun = run("runs", "compare", a, path.join(work, "nowhere"));
    expect(notRun.status).toBe(2);
    expect(notRun.stderr).toMatch(/^error\[E_RUN_NOT_FOUND\]: .*nowhere does not exist/);
  });
});
