/**
 * `studykit study run|plan`, run as a real process: flags, the error contract for bad input, planning
 * with skip summaries, dry runs, strict mode, and `--object-from` with a real reconstruction.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { skipWithout } from "../../../tools/test-dependencies.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-study-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" }, timeout: 240_000 });

// A small study: the sparse view (S = 12.8 px on 16×16 patterns) keeps too few of the 160 positions.
const tinyConfig = path.join(work, "tiny.json");
writeFileSync(
  tinyConfig,
  JSON.stringify({
    object: { source: "procedural", height: 96, width: 96 },
    probe: { size: 16 },
    scan: { count: 160 },
    doses: [1000, 100000],
    overlap: { minCount: 20 },
    training: { epochs: 1, batchSize: 16 },
    compare: { stitchWindow: 8 },
  }),
);
const realObject = path.resolve(fileURLToPath(new URL("../../../../shared/data/Run1084_recon3_postPC.npz", import.meta.url)));
const noRealObject = skipWithout({ name: `the real reconstruction ${realObject}`, available: existsSync(realObject), install: "the repository's ../shared/data/ holds it (a checkout with shared/ beside it)" });

describe("studykit study", { timeout: 240_000 }, () => {
  it("run --help lists the study flags", () => {
    const result = run("study", "run", "--help");
    expect(result.status, result.stderr).toBe(0);
    for (const flag of ["--preset", "--config", "--out", "--artifact-root", "--object-from", "--replicates", "--engine", "--backend", "--concurrency", "--dry-run", "--dose", "--view", "--gridsize", "--method", "--strict", "--force", "--fail-fast", "--json"]) {
      expect(result.stdout).toContain(flag);
    }
  });

  it("an unknown preset exits 2 with E_STUDY_PRESET naming the valid ones", () => {
    const result = run("study", "run", "--preset", "huge");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_STUDY_PRESET\]: .*quick, full/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("a bad --config exits 2 with E_STUDY_CONFIG listing every problem", () => {
    const bad = path.join(work, "bad.json");
    writeFileSync(bad, JSON.stringify({ doses: [-1], probe: { size: 12 }, views: ["diagonal"] }));
    const result = run("study", "run", "--config", bad);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_STUDY_CONFIG\]/);
    for (const field of ["doses", "probe.size", "views"]) expect(result.stderr).toContain(field);
    const notJson = path.join(work, "not.json");
    writeFileSync(notJson, "{ doses: ");
    const second = run("study", "run", "--config", notJson);
    expect(second.status).toBe(2);
    expect(second.stderr).toMatch(/E_STUDY_CONFIG.*not valid JSON/s);
  });

  it("--object-from a missing file exits 2 with E_STUDY_OBJECT_FILE", () => {
    const result = run("study", "plan", "--object-from", path.join(work, "nope.npz"), "--out", path.join(work, "nope"));
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_STUDY_OBJECT_FILE\]: .*nope\.npz/);
  });

  it("plan prepares the data and prints the plan and the skip summary", () => {
    const out = path.join(work, "plan");
    const result = run("study", "plan", "--config", tinyConfig, "--out", out);
    expect(result.status, result.stderr).toBe(0);
    // Per dose: supervised baseline, PINN baseline, PINN dense and PINN sparse (rejected).
    expect(result.stdout).toMatch(/8 jobs: 6 to run, 0 reused, 2 skipped/);
    expect(result.stdout).toMatch(/2 jobs skipped:/);
    expect(result.stdout).toMatch(/dose_1000\/sparse\/pinn-gs2 .*spacing threshold/);
    expect(existsSync(path.join(out, "phaseC/dose_1000/patched_train.npz"))).toBe(true);
    const json = run("study", "plan", "--config", tinyConfig, "--out", out, "--view", "baseline", "--json");
    expect(json.status, json.stderr).toBe(0);
    const plan = JSON.parse(json.stdout) as { counts: { run: number; skip: number }; jobs: { id: string; action: string }[] };
    expect(plan.jobs.map((job) => job.id).sort()).toEqual(["dose_1000/baseline/gs1", "dose_1000/baseline/pinn-gs1", "dose_100000/baseline/gs1", "dose_100000/baseline/pinn-gs1"]);
    expect(plan.counts.run).toBe(4);
    const pinn = run("study", "plan", "--config", tinyConfig, "--out", out, "--method", "pinn", "--gridsize", "2", "--json");
    expect(pinn.status, pinn.stderr).toBe(0);
    const pinnPlan = JSON.parse(pinn.stdout) as { jobs: { id: string; action: string }[] };
    expect(pinnPlan.jobs.filter((job) => job.action === "run").map((job) => job.id).sort()).toEqual(["dose_1000/dense/pinn-gs2", "dose_100000/dense/pinn-gs2"]);
    const supervised = run("study", "plan", "--config", tinyConfig, "--out", out, "--method", "supervised", "--json");
    expect(supervised.status, supervised.stderr).toBe(0);
    expect((JSON.parse(supervised.stdout) as { jobs: { id: string }[] }).jobs.map((job) => job.id).sort()).toEqual(["dose_1000/baseline/gs1", "dose_100000/baseline/gs1"]);
  });

  it("--strict turns the rejected view into E_MISSING_INPUT (exit 2)", () => {
    const result = run("study", "plan", "--config", tinyConfig, "--out", path.join(work, "strict"), "--strict");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_MISSING_INPUT\]: (.|\n)*sparse_train\.npz/m);
  });

  it("run --dry-run plans every job, trains nothing and writes no report", () => {
    const out = path.join(work, "dry");
    const result = run("study", "run", "--config", tinyConfig, "--out", out, "--dry-run", "--dose", "1e3");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("report: none (dry run)");
    const manifest = JSON.parse(readFileSync(path.join(out, "study_manifest.json"), "utf8")) as { dryRun: boolean; report: unknown; jobs: { id: string; bundleSha256: string | null }[] };
    expect(manifest.dryRun).toBe(true);
    expect(manifest.report).toBeNull();
    expect(manifest.jobs.every((job) => job.id.startsWith("dose_1000/") && job.bundleSha256 === null)).toBe(true);
    expect(existsSync(path.join(out, "report"))).toBe(false);
    expect(readFileSync(path.join(out, "phaseE/logs/dose_1000/baseline/gs1.log"), "utf8")).toContain("DRY RUN");
  });

  it.skipIf(noRealObject)("--object-from a real reconstruction uses its 64×64 probe, object and scan coordinates", () => {
    const out = path.join(work, "real");
    const small = path.join(work, "small.json");
    writeFileSync(small, JSON.stringify({ doses: [1000], views: ["baseline"] }));
    const result = run("study", "plan", "--config", small, "--object-from", realObject, "--reuse-coordinates", "--out", out, "--json");
    expect(result.status, result.stderr).toBe(0);
    const phaseC = JSON.parse(readFileSync(path.join(out, "phaseC/phase_manifest.json"), "utf8")) as {
      object: { source: string; height: number; width: number; fileSha256: string };
      probe: { size: number };
      positions: { total: number; fromFile: boolean };
      doses: { meanPhotonCount: number }[];
    };
    expect(phaseC.object).toMatchObject({ source: "file", height: 227, width: 226 });
    expect(phaseC.probe.size).toBe(64);
    expect(phaseC.positions.fromFile).toBe(true);
    // Every one of the file's 1087 positions lies at least 32 px inside the object.
    expect(phaseC.positions.total).toBe(1087);
    expect(Math.abs(phaseC.doses[0]!.meanPhotonCount / 1000 - 1)).toBeLessThan(0.05);
  });
});
